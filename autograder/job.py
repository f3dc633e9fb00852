"""One job: grade one submission, self-contained, in a throwaway folder. Local and Dask engines
both call `run_job`; it needs no shared file system: the submission travels as bytes, the lab
as a bundle (autograder/bundle.py), and everything the coordinator needs comes back as data.

In the throwaway folder the job builds a one-student course root (source, release, the
submission, a private gradebook, a config written here) and runs `nbgrader autograde` in it,
trusted, under the limits of autograder/limits.py. nbgrader starts the kernel through the
sandbox kernelspec (autograder/sandbox.py): the kernel works in a private copy, talks to
nbgrader over ipc sockets in its own connection folder, and reaches this job's trusted scorer
(autograder/scorer.py) through a Unix socket that no other sandbox can see. Afterwards every
autograded cell gets the score the scorer decided (0 if it never asked), nbgrader writes the
student's feedback, and the job returns:
    result      status, notes, seconds, peak memory, whether the sandbox was on, the verdicts
    gradebook   the private SQLite gradebook (this submission only), as bytes
    autograded  the executed notebook; feedback: its HTML; log: nbgrader's output; verdicts
"""

import json
import os
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder import sandbox
from autograder.bundle import grader_version
from autograder.course import SETTINGS, nbgrader_env, run_nbgrader
from autograder.limits import KILLED, Limits, one_thread_env, run_limited
from autograder.scorer import Hidden, Session

SANDBOX_SIZES = {"tmp_mb": 256, "shm_mb": 64, "home_mb": 512}
# The longest Unix socket path (sun_path is 108 bytes with its NUL): the scorer's socket and the
# kernel's ipc sockets (ipc/kernel-<port>) live in the job's folder.
SOCKET_PATH_MAX = 107


@dataclass
class JobSpec:
    student: str
    lab: str
    notebook: bytes               # the submitted notebook, as the intake accepted it
    limits: Limits
    sandboxed: bool = True
    timestamp: str | None = None  # nbgrader's timestamp.txt of the submission, if any
    grader: str = ""              # the coordinator's grader_version(): a worker with another refuses
    notes: list[str] = field(default_factory=list)   # the intake's notes, for the coordinator
    digest: str = ""              # the intake's digest (submission + everything that decides its grade)


@dataclass
class JobResult:
    student: str
    lab: str
    status: str = "ok"            # ok, timed out, out of memory, too many processes, not graded, refused, ...
    seconds: float | None = None
    peak_mb: float | None = None
    notes: list[str] = field(default_factory=list)
    digest: str = ""
    graded: bool = False          # the course gradebook holds this job's scores
    sandboxed: bool = True
    verdicts: dict = field(default_factory=dict)   # the scorer's verdict on each autograded cell

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class JobOutput:
    result: JobResult
    gradebook: bytes | None = None
    autograded: bytes | None = None
    feedback: bytes | None = None
    log: str = ""


CONFIG = """c = get_config()  # noqa: F821  (written by autograder/job.py for one job)
load_subconfig({settings!r})  # noqa: F821
c.CourseDirectory.root = {course!r}
c.Execute.timeout = {timeout}
c.ExecutePreprocessor.timeout = {timeout}
c.KernelManager.transport = "ipc"
c.KernelManager.ip = {ipc_prefix!r}
c.KernelManager.connection_file = {connection_file!r}
"""


def write_course(folder: Path, spec: JobSpec, bundle: Path) -> Path:
    """The job's one-student course root under `folder`."""
    course = folder / "course"
    for kind in ("source", "release"):
        shutil.copytree(bundle / kind / spec.lab, course / kind / spec.lab)
    shutil.copyfile(bundle / "gradebook.db", course / "gradebook.db")
    submitted = course / "submitted" / spec.student / spec.lab
    submitted.mkdir(parents=True)
    (submitted / f"{spec.lab}.ipynb").write_bytes(spec.notebook)
    if spec.timestamp:
        (submitted / "timestamp.txt").write_text(spec.timestamp)
    ipc = folder / "ipc"
    ipc.mkdir(mode=0o700)
    (course / "nbgrader_config.py").write_text(CONFIG.format(
        settings=str(SETTINGS), course=str(course), timeout=spec.limits.cell_timeout,
        ipc_prefix=str(ipc / "kernel"), connection_file=str(ipc / "kernel.json")))
    return course


def kernel_environment(folder: Path, spec: JobSpec, socket_path: Path, cgroup: Path | None) -> dict:
    """nbgrader's environment: one thread, private Jupyter folders, and the sandbox kernelspec."""
    env = one_thread_env(nbgrader_env())
    for name, sub in (("JUPYTER_CONFIG_DIR", "jupyter-config"), ("JUPYTER_DATA_DIR", "jupyter-data"),
                      ("IPYTHONDIR", "ipython")):
        env[name] = str(folder / sub)
    env.pop("LABS_SCORER_SOCKET", None)
    if spec.sandboxed:
        config = {"lab": spec.lab, "ipc": str(folder / "ipc"), "scorer_socket": str(socket_path),
                  "nproc": spec.limits.max_processes // 2, "env": {**env, "NBGRADER_EXECUTION": "autograde"},
                  "cgroup": str(cgroup or ""), **SANDBOX_SIZES}
        env["JUPYTER_PATH"] = str(sandbox.write_kernelspec(folder / "kernelspec", config))
    else:
        env["JUPYTER_PATH"] = str(sandbox.write_plain_kernelspec(folder / "kernelspec"))
        env["LABS_SCORER_SOCKET"] = str(socket_path)
    return env


KNOWN_FAILURES = (("Timeout waiting for execute reply", "a cell ran past the cell limit and ignored the interrupt"),
                  ("Kernel died", "the kernel died"),
                  ("CellTimeoutError", "a cell ran past the cell limit"))


def last_error(output: str) -> str:
    """A one-line reason from nbgrader's log (the full text is in the job's autograde.log)."""
    for needle, reason in KNOWN_FAILURES:
        if needle in output:
            return reason
    lines = [line.strip() for line in output.splitlines()
             if "[AutogradeApp | ERROR]" in line and "Please see" not in line]
    return (lines[-1] if lines else "see autograde.log")[:200]


def has_submission(database: Path, lab: str, student: str) -> bool:
    with Gradebook(f"sqlite:///{database}") as gradebook:
        try:
            gradebook.find_submission(lab, student)
            return True
        except MissingEntry:
            return False


def apply_verdicts(database: Path, lab: str, student: str, session: Session) -> dict:
    """Every autograded cell gets the scorer's points (0 when it never asked); returns the verdicts."""
    verdicts = {}
    with Gradebook(f"sqlite:///{database}") as gradebook:
        submission = gradebook.find_submission(lab, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.cell.cell_type != "code":
                    continue                     # written answers are graded by hand
                verdict = session.verdict(grade.name)
                grade.auto_score = verdict.points
                verdicts[grade.name] = verdict.to_json()
        gradebook.db.commit()
    return verdicts


def cell_limit_notes(notebook: Path, limits: Limits) -> list[str]:
    """A note when nbgrader stopped a cell at its per-cell time limit."""
    if notebook.exists() and "CellTimeoutError" in notebook.read_text(errors="replace"):
        return [f"a cell was stopped at the {limits.cell_timeout} s cell limit"]
    return []


def run_job(spec: JobSpec, bundle: Path, scratch: Path | None = None) -> JobOutput:
    """Grade one submission in a throwaway folder under `scratch`; see the module docstring."""
    result = JobResult(spec.student, spec.lab, sandboxed=spec.sandboxed)
    if spec.grader and spec.grader != grader_version():
        result.status = "refused"
        result.notes.append(f"this worker's grader version {grader_version()} differs from the coordinator's "
                            f"{spec.grader}: install the same version of the course repository on every worker")
        return JobOutput(result)
    if spec.sandboxed:
        try:
            sandbox.probe()             # a cluster's worker may lack what the coordinator has
        except sandbox.SandboxUnavailable as error:
            result.status = "refused"
            result.notes.append(f"no sandbox on this worker, so it did not grade: {error}")
            return JobOutput(result)
    folder = Path(tempfile.mkdtemp(prefix=f"job-{spec.lab}-", dir=scratch))
    if len(str(folder / "scorer" / "scorer.sock")) > SOCKET_PATH_MAX:     # a course root with a long path
        folder.rmdir()
        folder = Path(tempfile.mkdtemp(prefix=f"job-{spec.lab}-"))       # the system's temporary folder
    socket_path = folder / "scorer" / "scorer.sock"
    socket_path.parent.mkdir(mode=0o700)
    session = Session(spec.lab, Hidden(bundle / "hidden"), socket_path, spec.sandboxed,
                      timeout=spec.limits.cell_timeout + 60)
    # The sandbox stops forks at half the watchdog's limit (tasks, threads included), so that a
    # fork loop fails inside the kernel and the watchdog's kill stays a backstop.
    cgroup = sandbox.PidsCgroup(folder.name, spec.limits.max_processes // 2) if spec.sandboxed else None
    try:
        course = write_course(folder, spec, bundle)
        env = kernel_environment(folder, spec, socket_path, cgroup.path if cgroup else None)
        database = course / "gradebook.db"
        command = [sys.executable, "-m", "nbgrader", "autograde", spec.lab, "--force", f"--student={spec.student}",
                   f"--db=sqlite:///{database}"]
        outcome = run_limited(command, spec.limits, cwd=course, env=env, watched=[folder / "ipc"])
        result.seconds, result.peak_mb = outcome.seconds, outcome.peak_mb
        output = JobOutput(result, log=outcome.output)
        autograded = course / "autograded" / spec.student / spec.lab / f"{spec.lab}.ipynb"
        if outcome.status in KILLED:
            limit = {"timed out": f"{spec.limits.seconds:.0f} s", "out of memory": f"{spec.limits.memory_mb:.0f} MB",
                     "too many processes": f"{spec.limits.max_processes} processes"}[outcome.status]
            result.status = outcome.status
            result.notes.append(f"{outcome.status}: killed at the {limit} limit")
            return output
        if "There was an error processing assignment" in outcome.output or not has_submission(
                database, spec.lab, spec.student):
            result.status = "not graded"
            result.notes.append("nbgrader could not grade it: " + last_error(outcome.output))
            return output
        result.notes += cell_limit_notes(autograded, spec.limits)
        result.verdicts = apply_verdicts(database, spec.lab, spec.student, session)
        verdicts = course / "jobs" / spec.lab / spec.student / "verdicts.json"    # where the feedback reads them
        verdicts.parent.mkdir(parents=True)
        verdicts.write_text(json.dumps(result.verdicts, indent=1))
        feedback_log = run_nbgrader(["generate_feedback", spec.lab, "--force", f"--student={spec.student}"],
                                    course, check=False, env=env)
        output.log += "\n$ nbgrader generate_feedback\n" + feedback_log.stdout
        feedback = course / "feedback" / spec.student / spec.lab / f"{spec.lab}.html"
        output.gradebook = database.read_bytes()
        output.autograded = autograded.read_bytes() if autograded.exists() else None
        output.feedback = feedback.read_bytes() if feedback.exists() else None
        return output
    finally:
        session.close()
        if cgroup is not None:
            cgroup.remove()
        if not os.environ.get("LABS_KEEP_JOBS"):
            shutil.rmtree(folder, ignore_errors=True)
