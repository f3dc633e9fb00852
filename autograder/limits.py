"""Run one grading command under limits of time, memory and processes, and measure it.

The command runs in a session of its own. Every `poll` seconds a watchdog adds up the memory
of the whole process tree (nbgrader, bwrap and the sandboxed kernel): the proportional set
size of every process (shared pages split between the processes that share them), plus what
the sandboxes hold in their private tmpfs mounts (/tmp, /dev/shm, the home folder: files
there are memory, but no process's), plus the bytes written into the
job's host folders that a sandbox may write to (its connection folder). Past the memory, time
or process limit every process of the tree is killed with SIGKILL: a cell that ignores SIGINT
cannot survive it, and the machine and the other workers are left alone.
"""

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

import psutil

from labs.budget import CELL_LIMIT_S


@dataclass
class Limits:
    """Per-submission limits. Defaults suit Lab 5 and Lab 6 (a reference runs in about a minute
    and peaks near 1 GB); `cell_timeout` is nbgrader's own per-cell limit, which interrupts a
    cell and goes on with the next one: the budget the notebooks state (labs.budget)."""

    seconds: float = 900.0
    memory_mb: float = 3000.0
    cell_timeout: int = CELL_LIMIT_S
    max_processes: int = 256


KILLED = ("timed out", "out of memory", "too many processes")


@dataclass
class Outcome:
    returncode: int | None   # None when the command was killed
    status: str              # "ok", "failed" (nonzero exit), "timed out", "out of memory", "too many processes"
    seconds: float
    peak_mb: float
    output: str


def tree_processes(root: psutil.Process) -> list[psutil.Process]:
    """`root` and all its descendants that still exist."""
    try:
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def tree_memory_mb(processes: list[psutil.Process]) -> float:
    """The proportional set size (PSS) of `processes` in MB: a page shared by n of them counts
    1/n for each, so forked children are not counted many times (RSS where PSS is unreadable)."""
    total = 0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except psutil.AccessDenied:
            try:
                total += process.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


SANDBOX_MOUNTS = ("/tmp", "/dev/shm", "/home/student")


def sandbox_tmpfs_mb(processes: list[psutil.Process], mounts=SANDBOX_MOUNTS) -> float:
    """MB used in the tmpfs mounts of every mount namespace (a sandbox) other than ours."""
    own, seen, total = os.readlink("/proc/self/ns/mnt"), set(), 0
    for process in processes:
        try:
            namespace = os.readlink(f"/proc/{process.pid}/ns/mnt")
        except OSError:
            continue
        if namespace == own or namespace in seen:
            continue
        seen.add(namespace)
        for mount in mounts:
            try:
                stats = os.statvfs(f"/proc/{process.pid}/root{mount}")
            except OSError:
                continue
            total += (stats.f_blocks - stats.f_bfree) * stats.f_frsize
    return total / 2**20


def folder_mb(folder) -> float:
    """MB of the files under `folder` (not following links); 0 if it does not exist."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total / 2**20


def kill_tree(processes: list[psutil.Process]) -> None:
    for process in processes:
        try:
            process.send_signal(signal.SIGKILL)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass


def run_limited(command: list[str], limits: Limits, poll: float = 0.1, watched=(), **popen_kwargs) -> Outcome:
    """Run `command` (stdout and stderr captured together) and kill its whole tree past a limit.
    `watched`: host folders that a sandbox of the tree may write to; their size counts as memory."""
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
        used = tree_memory_mb(live) + sandbox_tmpfs_mb(live) + sum(folder_mb(f) for f in watched)
        peak = max(peak, used)
        if peak > limits.memory_mb:
            status = "out of memory"
        elif time.monotonic() - started > limits.seconds:
            status = "timed out"
        elif len(live) > limits.max_processes:
            status = "too many processes"
        if status:
            kill_tree(live)
            break
        time.sleep(poll)
    kill_tree([p for p in known.values() if p.pid != root.pid and p.is_running()])  # stray kernels
    process.wait()
    reader.join(timeout=5)
    if status is None:
        status = "ok" if process.returncode == 0 else "failed"
    return Outcome(returncode=None if status in KILLED else process.returncode,
                   status=status, seconds=round(time.monotonic() - started, 1), peak_mb=round(peak, 1),
                   output="".join(chunks))


def one_thread_env(env: dict | None = None) -> dict:
    """An environment whose numeric libraries use one thread: two workers on two cores, no oversubscription."""
    env = dict(os.environ if env is None else env)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TORCH_NUM_THREADS"):
        env[name] = "1"
    return env
