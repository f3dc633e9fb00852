"""Run one grading command under a wall-clock limit and a memory limit, and measure it.

The command runs in a session of its own. A watchdog thread sums the resident memory of the
whole process tree (nbgrader and the kernel it starts, which jupyter_client puts in yet another
session) every `poll` seconds. Past either limit every process of the tree is killed with
SIGKILL: a cell that ignores SIGINT cannot survive it, and the machine and the other workers
are left alone.
"""

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass
class Limits:
    """Per-submission limits. Defaults suit Lab 5 and Lab 6 (a reference runs in about a minute
    and peaks near 1 GB); `cell_timeout` is nbgrader's own per-cell limit, which interrupts a
    cell and goes on with the next one."""

    seconds: float = 600.0
    memory_mb: float = 3000.0
    cell_timeout: int = 180


@dataclass
class Outcome:
    returncode: int | None   # None when the command was killed
    status: str              # "ok", "failed" (nonzero exit), "timed out" or "out of memory"
    seconds: float
    peak_mb: float
    output: str


def tree_processes(root: psutil.Process) -> list[psutil.Process]:
    """`root` and all its descendants that still exist."""
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total / 2**20


def kill_tree(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.send_signal(signal.SIGKILL)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def run_limited(command: list[str], limits: Limits, poll: float = 0.1, **popen_kwargs) -> Outcome:
    """Run `command` (stdout and stderr captured together) and kill its whole tree past a limit."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True, **popen_kwargs)
    root = psutil.Process(process.pid)
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.append(process.stdout.read()), daemon=True)
    reader.start()
    peak, status, known = 0.0, None, {root.pid: root}
    while process.poll() is None:
        for child in tree_processes(root):      # remember children: a killed parent orphans them
            known.setdefault(child.pid, child)
        live = [p for p in known.values() if p.is_running()]
        peak = max(peak, tree_rss_mb(live))
        if peak > limits.memory_mb:
            status = "out of memory"
        elif time.monotonic() - started > limits.seconds:
            status = "timed out"
        if status:
            kill_tree(live)
            break
        time.sleep(poll)
    kill_tree([p for p in known.values() if p.pid != root.pid and p.is_running()])  # stray kernels
    process.wait()
    reader.join(timeout=5)
    if status is None:
        status = "ok" if process.returncode == 0 else "failed"
    return Outcome(returncode=None if status in ("timed out", "out of memory") else process.returncode,
                   status=status, seconds=round(time.monotonic() - started, 1), peak_mb=round(peak, 1),
                   output="".join(chunks))


def one_thread_env(env: dict | None = None) -> dict:
    """An environment whose numeric libraries use one thread: two workers on two cores, no oversubscription."""
    env = dict(os.environ if env is None else env)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCH_NUM_THREADS"):
        env[name] = "1"
    return env
