"""The sandbox of every graded kernel and of every program evaluator: bubblewrap (bwrap).

bwrap builds each sandbox on an empty root, so what a student's code can see is an allowlist:
    read-only   /usr (and the /bin, /lib links), a few files of /etc, the Python installation,
                the virtual environment and the `labs` package
    private     sized tmpfs mounts for /tmp, /dev/shm and the home folder /home/student, where
                the kernel works on /home/student/<lab>: its lab's files (checkpoints) are bound
                there read-only, everything it writes dies with the sandbox
    the kernel  its own connection folder (ipc sockets, bound at the same path) and the trusted
                scorer's socket at /run/labs/scorer.sock; nothing else of the course, the
                repository, the hidden data, other students, the gradebook or any config
Namespaces: user (all capabilities dropped, no nested user namespaces), PID, network
(loopback only), IPC, UTS and cgroup; a new session; the sandbox dies with its parent, and
every process in it dies when its first process ends. The environment is cleared and rebuilt
from an allowlist. Processes are limited by RLIMIT_NPROC inside the user namespace (an
ordinary user) or a pids cgroup (root, where RLIMIT_NPROC does not apply).

Used as a kernel launcher (the kernelspec's argv, see write_kernelspec):
    python -I autograder/sandbox.py kernel CONFIG.json CONNECTION_FILE [KERNEL ARGUMENTS]
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HOME = "/home/student"
SCORER_SOCKET = "/run/labs/scorer.sock"
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd", "group",
             "fonts", "mime.types")
PASSED_ENV = ("NBGRADER_EXECUTION", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
              "TORCH_NUM_THREADS", "LABS_QUIET", "MPLBACKEND", "PYTHONHASHSEED", "LABS_OFFLINE")
EVALUATOR = [sys.executable, "-I", "-m", "labs.portable", "serve"]
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))


class SandboxUnavailable(RuntimeError):
    """bubblewrap cannot build a sandbox here; the message says how to fix it."""


def _python_paths() -> list[str]:
    """What Python needs, bound read-only: the installation, the venv, the labs package and
    every other directory on sys.path (site-packages of another environment), but never a
    folder that holds the repository's autograder/ (the hidden data and the grader)."""
    labs_dir = Path(importlib.util.find_spec("labs").submodule_search_locations[0]).resolve()   # not imported
    grader = labs_dir.parent / "autograder"
    candidates = [sys.base_prefix, sys.prefix, str(labs_dir), *sys.path]
    paths = []
    for candidate in candidates:
        path = Path(candidate or ".").resolve()
        if (path.is_dir() and str(path) not in paths and not str(path).startswith("/usr/")
                and path not in grader.parents and path != grader and grader not in path.parents):
            paths.append(str(path))
    return paths


def base_args(tmp_mb: int = 256, shm_mb: int = 64) -> list[str]:
    """bwrap arguments common to every sandbox: namespaces, the read-only system, sized tmpfs."""
    args = ["bwrap", "--unshare-all", "--unshare-user", "--disable-userns", "--cap-drop", "ALL",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", "--uid", "1000", "--gid", "1000",
            "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / name
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmp_mb << 20), "--tmpfs", "/tmp",
             "--size", str(shm_mb << 20), "--tmpfs", "/dev/shm"]
    for path in _python_paths():         # after the tmpfs mounts: a venv may live under /tmp
        args += ["--ro-bind", path, path]
    args += ["--clearenv",
             "--setenv", "PATH", f"{Path(sys.executable).parent}:/usr/bin:/bin", "--setenv", "LANG", "C.UTF-8",
             "--setenv", "TMPDIR", "/tmp"]
    return args


def limited(command: list[str], nproc: int | None, address_space_mb: int | None = None) -> list[str]:
    """`command` started through a Python preamble that lowers RLIMIT_NPROC (counted inside the
    sandbox's user namespace), RLIMIT_CORE and optionally RLIMIT_AS, then execs it."""
    limits = [("RLIMIT_CORE", 0)] + ([("RLIMIT_NPROC", nproc)] if nproc else [])
    if address_space_mb:
        limits.append(("RLIMIT_AS", address_space_mb << 20))
    code = ("import os, resource, sys\n"
            + "".join(f"resource.setrlimit(resource.{name}, ({value}, {value}))\n" for name, value in limits)
            + "os.execv(sys.argv[1], sys.argv[1:])")
    return [sys.executable, "-I", "-c", code, *command]


def kernel_args(config: dict, connection_file: str, workdir: Path, extra: list[str] = ()) -> list[str]:
    """The bwrap command line of one graded kernel. `workdir` is the folder nbgrader runs the
    notebook in: its regular files other than notebooks (the lab's checkpoints) are bound
    read-only into the kernel's private /home/student/<lab>."""
    lab_dir = f"{HOME}/{config['lab']}"
    args = base_args(config["tmp_mb"], config["shm_mb"])
    args += ["--size", str(config["home_mb"] << 20), "--tmpfs", HOME, "--dir", lab_dir]
    for entry in sorted(os.scandir(workdir), key=lambda e: e.name):
        if entry.is_file(follow_symlinks=False) and not entry.name.endswith(".ipynb"):
            args += ["--ro-bind", entry.path, f"{lab_dir}/{entry.name}"]
    args += ["--bind", config["ipc"], config["ipc"], "--dir", "/run/labs",
             "--ro-bind", config["scorer_socket"], SCORER_SOCKET, "--chdir", lab_dir,
             "--setenv", "HOME", HOME, "--setenv", "LABS_SCORER_SOCKET", SCORER_SOCKET,
             "--setenv", "MPLCONFIGDIR", f"{HOME}/.matplotlib"]
    for name in PASSED_ENV:
        if name in config["env"]:
            args += ["--setenv", name, config["env"][name]]
    kernel = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file, *extra]
    return args + limited(kernel, config["nproc"])


def evaluator_args(nproc: int = 16, address_space_mb: int = 6000) -> list[str]:
    """The command of a program evaluator (`python -I -m labs.portable serve` on stdin/stdout)."""
    return base_args(tmp_mb=64, shm_mb=16) + ["--chdir", "/tmp"] + limited(EVALUATOR, nproc, address_space_mb)


def probe() -> None:
    """Raise SandboxUnavailable, with the fix, unless bwrap can build a sandbox on this machine."""
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable("bubblewrap is not installed: `sudo apt-get install bubblewrap` (Debian, "
                                 "Ubuntu), `dnf install bubblewrap` (Fedora), then grade again")
    result = subprocess.run([*base_args(), sys.executable, "-I", "-c", "print('ok')"], capture_output=True,
                            text=True, timeout=60)
    if result.returncode == 0 and result.stdout.strip() == "ok":
        return
    reasons = [f"bwrap failed: {result.stderr.strip()[:300]}"]
    settings = {"/proc/sys/user/max_user_namespaces": ("0", "sudo sysctl -w user.max_user_namespaces=15000"),
                "/proc/sys/kernel/unprivileged_userns_clone": ("0",
                                                               "sudo sysctl -w kernel.unprivileged_userns_clone=1"),
                "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": (
                    "1", "AppArmor blocks unprivileged user namespaces (Ubuntu 23.10 and later): add an AppArmor "
                         "profile for /usr/bin/bwrap that allows `userns`, or `sudo sysctl -w "
                         "kernel.apparmor_restrict_unprivileged_userns=0`")}
    for path, (blocked, fix) in settings.items():
        if Path(path).exists() and Path(path).read_text().strip() == blocked:
            reasons.append(f"{path} is {blocked}: {fix}")
    raise SandboxUnavailable("; ".join(reasons) + ". To grade without a sandbox anyway (trusted code "
                             "only), pass --no-sandbox.")


class PidsCgroup:
    """A pids cgroup for one job, where the grader may make one (root): a process limit that
    also binds root, for whom RLIMIT_NPROC does not count. `path` is None where it cannot."""

    def __init__(self, name: str, max_pids: int):
        self.path = None
        if os.geteuid() != 0:
            return
        for root in CGROUP_ROOTS:
            if (root / "cgroup.procs").exists() and (root == CGROUP_ROOTS[0] or "pids" in _read(
                    root / "cgroup.controllers")):
                try:
                    path = root / "rnn-labs" / name
                    path.mkdir(parents=True, exist_ok=True)
                    (path / "pids.max").write_text(str(max_pids))
                    self.path = path
                    return
                except OSError:
                    continue

    def remove(self) -> None:
        if self.path is not None:
            try:
                self.path.rmdir()
            except OSError:
                pass


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def write_kernelspec(folder: Path, config: dict) -> Path:
    """A `python3` kernelspec under `folder` that starts kernels in the sandbox; returns the
    JUPYTER_PATH entry. Interrupts are kernel messages: a signal would hit bwrap, not the kernel."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (folder / "sandbox.json").write_text(json.dumps(config, indent=1))
    argv = [sys.executable, "-I", str(Path(__file__).resolve()), "kernel", str(folder / "sandbox.json"),
            "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3 (grading sandbox)",
                                                  "language": "python", "interrupt_mode": "message"}, indent=1))
    return folder


def write_plain_kernelspec(folder: Path) -> Path:
    """A `python3` kernelspec under `folder` without the sandbox (--no-sandbox; benchmarks)."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (no sandbox)", "language": "python"}, indent=1))
    return folder


def launch_kernel(config_path: str, connection_file: str, extra: list[str]) -> None:
    """The kernelspec's entry point: join the job's pids cgroup, then become bwrap. `extra`:
    arguments for the kernel (nbgrader adds --HistoryManager.hist_file=:memory:)."""
    config = json.loads(Path(config_path).read_text())
    if config.get("cgroup"):
        Path(config["cgroup"], "cgroup.procs").write_text(str(os.getpid()))
    os.execvp("bwrap", kernel_args(config, connection_file, Path.cwd(), extra))


if __name__ == "__main__" and len(sys.argv) >= 4 and sys.argv[1] == "kernel":
    launch_kernel(sys.argv[2], sys.argv[3], sys.argv[4:])
