"""Course roots for nbgrader: the repository itself, or a scratch copy for grading a class."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SETTINGS = REPO / "autograder" / "nbgrader_settings.py"


def nbgrader_env() -> dict:
    """Environment for nbgrader and its kernels: this venv first on PATH, no progress bars."""
    bin_dir = str(Path(sys.executable).parent)
    return {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "LABS_QUIET": "1"}


def run_nbgrader(args: list[str], course: Path, log=None, check: bool = True,
                 env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `nbgrader ARGS` with `course` as the working directory (its course root)."""
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(command, cwd=course, env=env or nbgrader_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if log is not None:
        log.write(f"$ nbgrader {' '.join(args)}\n{result.stdout}\n")
        log.flush()
    if check and result.returncode != 0:
        tail = "\n".join(result.stdout.splitlines()[-30:])
        raise RuntimeError(f"nbgrader {' '.join(args)} failed with exit code {result.returncode}:\n{tail}")
    return result


def make_course_copy(course: Path, labs: list[str], db_url: str | None = None) -> Path:
    """A course root at `course` with the labs' source folders and a config that loads our settings
    (and points nbgrader, the formgrader included, at the gradebook `db_url` when one is given)."""
    course.mkdir(parents=True, exist_ok=True)
    for lab in labs:
        target = course / "source" / lab
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(REPO / "source" / lab, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"load_subconfig({str(SETTINGS)!r})  # noqa: F821\n"
        f"c.CourseDirectory.root = {str(course)!r}\n"
        + (f"c.CourseDirectory.db_url = {db_url!r}\n" if db_url else "")
    )
    return course


def generate_release(lab: str, course: Path = REPO, log=None) -> Path:
    """`nbgrader generate_assignment LAB --force` in `course`; returns release/LAB."""
    run_nbgrader(["generate_assignment", lab, "--force"], course, log)
    return course / "release" / lab
