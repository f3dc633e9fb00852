"""The sandbox (bubblewrap): an allowlist of files, no network, sized tmpfs, bounded processes, nothing left.

These tests need bubblewrap (`apt-get install bubblewrap`; .ci/run installs it): grading refuses
to run without it, so a machine without it fails here with that message.
"""

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from autograder import sandbox
from autograder.limits import Limits, run_limited

REPO = Path(__file__).resolve().parent.parent


def sandboxed(code: str, *extra: str, timeout: float = 60, **args) -> subprocess.CompletedProcess:
    command = [*sandbox.base_args(**args), *extra, sys.executable, "-I", "-c", textwrap.dedent(code)]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def test_bubblewrap_builds_a_sandbox_here():
    sandbox.probe()


def test_a_missing_bubblewrap_stops_grading_with_the_fix(monkeypatch):
    monkeypatch.setattr(sandbox.shutil, "which", lambda name: None)
    with pytest.raises(sandbox.SandboxUnavailable, match="apt-get install bubblewrap"):
        sandbox.probe()


def test_only_the_allowlist_is_visible_and_nothing_is_writable():
    result = sandboxed(f"""
        import os, labs
        repo = {str(REPO)!r}
        for hidden in ("autograder", "source", ".git", "autograder/hidden/closes_2021.csv", "nbgrader_config.py",
                       "/root/.bashrc", "/etc/shadow", "/work/main/autograder"):
            assert not os.path.exists(os.path.join(repo, hidden)), hidden
        assert os.path.dirname(labs.__file__).startswith(repo)          # labs is there, read-only
        for target in (labs.__file__, "/usr/lib/os-release", os.path.join(os.path.dirname(labs.__file__), "x.py")):
            try:
                open(target, "a").close()
                raise SystemExit("wrote " + target)
            except OSError:
                pass
        open("/tmp/scratch", "w").write("private tmpfs")
        assert sorted(set(os.environ) - {{"PATH", "LANG", "TMPDIR", "PWD"}}) == [], dict(os.environ)
        assert len([p for p in os.listdir("/proc") if p.isdigit()]) <= 3     # only this sandbox's processes
        print("ok")
    """)
    assert result.stdout.strip() == "ok", result.stderr[-2000:]


def test_the_network_is_cut_even_to_this_machine():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    try:
        result = sandboxed(f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                print("reached the host")
            except OSError as error:
                print("refused", type(error).__name__)
        """)
    finally:
        server.close()
    assert result.stdout.startswith("refused"), result.stdout + result.stderr


def test_tmpfs_mounts_are_sized():
    result = sandboxed("""
        try:
            open("/dev/shm/ballast", "wb").write(b"0" * (80 * 2**20))
            print("wrote 80 MB")
        except OSError as error:
            print("stopped:", error.strerror)
    """, shm_mb=64)
    assert "No space left" in result.stdout, result.stdout + result.stderr


def test_tmpfs_files_count_as_memory_for_the_watchdog():
    command = [*sandbox.base_args(shm_mb=1024), sys.executable, "-I", "-c", textwrap.dedent("""
        import time
        with open("/dev/shm/ballast", "wb") as handle:
            for _ in range(10):
                handle.write(b"0" * (50 * 2**20)); handle.flush(); time.sleep(0.2)
        print("survived")
    """)]
    outcome = run_limited(command, Limits(seconds=60, memory_mb=300))
    assert outcome.status == "out of memory" and "survived" not in outcome.output


def test_every_process_dies_with_the_sandbox():
    marker = f"rnn-labs-sandbox-test-{os.getpid()}"
    result = sandboxed(f"""
        import os, sys
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", {marker!r}])
            os._exit(0)
        print("daemon started")
    """)
    assert "daemon started" in result.stdout
    time.sleep(0.5)
    assert not [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]


def test_forks_stop_at_the_process_limit():
    """RLIMIT_NPROC inside the sandbox's user namespace (an ordinary user), a pids cgroup (root)."""
    code = textwrap.dedent("""
        import os
        n = 0
        try:
            while n < 200:
                if os.fork() == 0:
                    os.execv("/bin/sleep", ["sleep", "30"])
                n += 1
        except OSError:
            pass
        print(n)
    """)
    group = sandbox.PidsCgroup(f"test-{os.getpid()}", 40) if os.geteuid() == 0 else None
    if group is not None:
        assert group.path is not None, "root, but no pids cgroup could be made"
        join = ["bash", "-c", f'echo $$ > {group.path}/cgroup.procs && exec "$@"', "-"]
        command = [*join, *sandbox.base_args(), sys.executable, "-c", code]
    else:
        command = [*sandbox.base_args(), *sandbox.limited([sys.executable, "-c", code], 40)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    finally:
        if group is not None:
            time.sleep(0.5)                 # the sandbox's processes are gone with it
            group.remove()
    assert result.stdout.strip().isdigit() and int(result.stdout) < 40, result.stdout + result.stderr
