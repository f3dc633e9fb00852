"""Throwaway servers on this machine for the tests and the cluster benchmark: 127.0.0.1 only,
files in a temporary folder, every process stopped by its PID.

    PostgresServer()            a PostgreSQL server made with initdb and started with pg_ctl (as
                                the `postgres` user when this is root: initdb refuses root)
    DaskCluster(workers=2)      a `dask scheduler` and `dask worker --nthreads 1 --no-nanny`
                                processes (no nanny: a killed worker stays dead)
    WorkerInstall(folder)       what a worker on another machine has: its own copy of the code
                                (labs/ and autograder/ without hidden data or samples) and an
                                interpreter that an unprivileged user can run, for workers that
                                must not see the coordinator's files
"""

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import distributed
import psutil

from autograder.limits import kill_tree

REPO = Path(__file__).resolve().parent.parent
WORKER_USER = "rnnlabs-worker"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_tree(pid: int) -> list[psutil.Process]:
    """Process `pid` and its descendants (none if it is gone)."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_tree(pid: int, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Send `sig` to process `pid`, wait for it and its descendants to end, SIGKILL whatever is left."""
    processes = process_tree(pid)
    if not processes:
        return
    try:
        processes[0].send_signal(sig)
    except psutil.NoSuchProcess:
        pass
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    kill_tree(alive)
    psutil.wait_procs(alive, timeout=5)


def ensure_user(name: str) -> pwd.struct_passwd:
    """The account `name`, created (with a home folder) when missing; needs root."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
        return pwd.getpwnam(name)


def as_user(account: pwd.struct_passwd | None) -> dict:
    """Popen arguments that run a command as `account` (none: as this process's user)."""
    if account is None:
        return {}
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def chown_tree(folder: Path, account: pwd.struct_passwd) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid, follow_symlinks=False)


def pg_binary(name: str) -> str | None:
    """A PostgreSQL program: on PATH, or in Debian's /usr/lib/postgresql/<version>/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    return str(candidates[-1]) if candidates else None


class PostgresServer:
    """A PostgreSQL server of its own, with trust authentication on 127.0.0.1:`port` only.
    `durable=False` turns fsync off (a test's throwaway data; benchmarks keep it on)."""

    def __init__(self, durable: bool = True):
        if not (pg_binary("initdb") and pg_binary("pg_ctl")):
            raise RuntimeError("PostgreSQL is not installed: `apt-get install postgresql`")
        self.account = ensure_user("postgres") if os.geteuid() == 0 else None
        self.folder = Path(tempfile.mkdtemp(prefix="rnn-labs-postgres-"))
        if self.account:
            chown_tree(self.folder, self.account)
        self.port, data = free_port(), self.folder / "data"
        self._run([pg_binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
        options += "" if durable else " -c fsync=off"
        self._run([pg_binary("pg_ctl"), "-D", str(data), "-l", str(self.folder / "server.log"), "-o", options,
                   "-w", "start"])
        self.pid = int((data / "postmaster.pid").read_text().split()[0])

    def _run(self, command: list[str]) -> None:
        result = subprocess.run(command, cwd=self.folder, capture_output=True, text=True, **as_user(self.account))
        if result.returncode:
            raise RuntimeError(f"{command[0]} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """Create database `name` (a copy of database `template` if given); returns its db_url."""
        self._run([pg_binary("createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                   *(["-T", template] if template else []), name])
        return self.url(name)

    def stop(self) -> None:
        """A fast shutdown (SIGINT to the postmaster, by its PID), then the folder goes."""
        stop_tree(self.pid, signal.SIGINT)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class WorkerInstall:
    """A worker's own installation in `folder`: a copy of labs/ and autograder/ (no runs, samples or
    hidden data: the bundle brings those) put on sys.path by a .pth file of a venv built on the
    system's Python 3.11, which reads this project's installed packages as a plain path (the
    project's own venv interpreter may live where another user cannot run it). Owned by
    `account` when one is given."""

    folder: Path
    account: pwd.struct_passwd | None = None
    python: Path = field(init=False)

    def __post_init__(self):
        code = self.folder / "code"
        for package in ("labs", "autograder"):
            shutil.copytree(REPO / package, code / package,
                            ignore=shutil.ignore_patterns("__pycache__", "runs", "samples", "hidden"))
        system_python = shutil.which("python3.11", path="/usr/bin:/usr/local/bin") or sys.executable
        venv = self.folder / "venv"
        subprocess.run([system_python, "-m", "venv", "--without-pip", str(venv)], check=True)
        where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        site = Path(subprocess.check_output([venv / "bin" / "python", "-c", where], text=True).strip())
        (site / "rnn-labs.pth").write_text(f"{code}\n{sysconfig.get_paths()['purelib']}\n")
        alembic = venv / "bin" / "alembic"
        alembic.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom alembic.config import main\n"
                           "sys.exit(main())\n")
        alembic.chmod(0o755)
        self.python = venv / "bin" / "python"
        if self.account:
            self.folder.chmod(0o755)
            chown_tree(self.folder, self.account)

    def env(self) -> dict:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.python.parent}:/usr/bin:/bin"
        if self.account:
            env.update(HOME=self.account.pw_dir, USER=self.account.pw_name, LOGNAME=self.account.pw_name)
        return env


class DaskCluster:
    """A scheduler and `workers` single-threaded workers on 127.0.0.1, files under a temporary
    folder. Workers run `install`'s interpreter and code as its user (default: this process's
    interpreter and user, and this repository's code), with the job module imported at start."""

    def __init__(self, workers: int = 2, install: WorkerInstall | None = None):
        self.folder = Path(tempfile.mkdtemp(prefix="rnn-labs-dask-"))
        self.folder.chmod(0o755)
        self.scheduler_file = self.folder / "scheduler.json"
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", str(free_port()),
             "--no-dashboard", "--scheduler-file", str(self.scheduler_file)],
            stdout=open(self.folder / "scheduler.log", "w"), stderr=subprocess.STDOUT)
        self.workers: list[subprocess.Popen] = []
        try:
            with distributed.Client(scheduler_file=str(self._wait_for_scheduler_file()), timeout=60) as client:
                self.address = client.scheduler.address
                for index in range(workers):
                    self.workers.append(self._start_worker(index, install))
                client.wait_for_workers(workers, timeout=120)
        except BaseException:
            self.stop()
            raise

    def _wait_for_scheduler_file(self) -> Path:
        deadline = time.monotonic() + 60
        while not self.scheduler_file.exists():
            if self.scheduler.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the scheduler did not start: {(self.folder / 'scheduler.log').read_text()}")
            time.sleep(0.2)
        return self.scheduler_file

    def _start_worker(self, index: int, install: WorkerInstall | None) -> subprocess.Popen:
        local = self.folder / f"worker-{index}"
        local.mkdir()
        account = install.account if install else None
        if account:
            chown_tree(local, account)
        python = str(install.python) if install else sys.executable
        return subprocess.Popen(
            [python, "-m", "dask", "worker", self.address, "--nthreads", "1", "--no-nanny", "--no-dashboard",
             "--preload", "autograder.job",
             "--host", "127.0.0.1", "--name", f"worker-{index}", "--local-directory", str(local)],
            cwd=local, env=install.env() if install else {**os.environ, "PYTHONPATH": str(REPO)},
            stdout=open(local.with_suffix(".log"), "w"),
            stderr=subprocess.STDOUT, **as_user(account))

    def kill_worker(self, index: int) -> None:
        """SIGKILL worker `index` and every process it started, as when its machine dies."""
        processes = process_tree(self.workers[index].pid)
        kill_tree(processes)
        psutil.wait_procs(processes, timeout=10)
        self.workers[index].wait()

    def stop(self) -> None:
        for worker in self.workers:
            stop_tree(worker.pid)
            worker.wait()
        stop_tree(self.scheduler.pid)
        self.scheduler.wait()
        shutil.rmtree(self.folder, ignore_errors=True)
