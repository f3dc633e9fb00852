"""Grade one submission in its own process tree and gradebook; merge the result into the course.

Each job runs `nbgrader autograde LAB --student=S` with
    - a private copy of the course's gradebook (no other student's rows): workers never share
      an SQLite file, so there is nothing to lock; `merge` copies the student's rows into the
      course gradebook afterwards, one job at a time
    - one thread for torch and BLAS (two workers on two cores do not oversubscribe)
    - the wall-clock and memory limits of autograder/limits.py
    - a token for the trusted scorer, whose scores then replace the kernel's for the cells it
      scores (the lower of the two counts: a cell that failed in the kernel stays at 0)
    - when the grader is root, a kernel that cannot see hidden data, gradebooks or other
      students' folders (autograder/sandbox.py)
"""

import json
import os
import shutil
import sqlite3
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.course import REPO, nbgrader_env
from autograder.limits import Limits, one_thread_env, run_limited
from autograder.scorer import POINTS as TRUSTED_CELLS

SUBMISSION_TABLES = ("grade", "comment", "submitted_notebook", "submitted_assignment")


@dataclass
class JobResult:
    student: str
    lab: str
    status: str = "ok"            # ok, timed out, out of memory, not graded, or the intake's fatal reason
    seconds: float | None = None
    peak_mb: float | None = None
    notes: list[str] = field(default_factory=list)
    digest: str = ""
    graded: bool = False          # the course gradebook holds this job's scores

    def to_json(self) -> dict:
        return asdict(self)


def sandbox_available() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def write_sandbox_kernelspec(folder: Path) -> Path:
    """A `python3` kernelspec that starts kernels through autograder/sandbox.py; returns the JUPYTER_PATH entry."""
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, str(REPO / "autograder" / "sandbox.py"), "{connection_file}"],
        "display_name": "Python 3 (grading sandbox)", "language": "python"}, indent=1))
    return folder


def paths_to_hide(course: Path, student: str, hidden: Path) -> list[Path]:
    """What one student's kernel must not read: hidden data, gradebooks, sources, other submissions.

    Never an ancestor of the kernel's folder (a cover there would not stop `..` from it)."""
    paths = [hidden, REPO / "gradebook.db", *[course / name for name in (
        "gradebook.db", "source", "jobs", "inbox", "submitted", "feedback", "backups", "downloaded", "state.json")]]
    runs = REPO / "autograder" / "runs"
    if runs.exists():
        paths += [run for run in runs.iterdir() if run != course and run not in course.parents]
    if (course / "autograded").exists():
        paths += [folder for folder in (course / "autograded").iterdir() if folder.name != student]
    return [path for path in paths if path.exists()]


def empty_gradebook(course_db: Path, target: Path) -> None:
    """A copy of the course gradebook without any submission (assignments, cells and students only)."""
    shutil.copyfile(course_db, target)
    with sqlite3.connect(target) as connection:
        for table in SUBMISSION_TABLES:
            connection.execute(f"DELETE FROM {table}")


def run_job(course: Path, lab: str, student: str, limits: Limits, template_db: Path, job_dir: Path,
            scorer, sandbox_path: Path | None, hidden: Path) -> tuple[JobResult, Path]:
    """Autograde one submission under limits; returns its result and its private gradebook."""
    if job_dir.exists():
        shutil.rmtree(job_dir)
    job_dir.mkdir(parents=True)
    database = job_dir / "gradebook.db"
    shutil.copyfile(template_db, database)
    token = scorer.new_token()
    env = one_thread_env(nbgrader_env())
    env["LABS_SCORER"] = scorer.address(token)
    if sandbox_path is not None:
        env["JUPYTER_PATH"] = str(sandbox_path)
        env["LABS_SANDBOX_HIDE"] = os.pathsep.join(map(str, paths_to_hide(course, student, hidden)))
    command = [sys.executable, "-m", "nbgrader", "autograde", lab, "--force", f"--student={student}",
               f"--db=sqlite:///{database}", f"--Execute.timeout={limits.cell_timeout}",
               f"--ExecutePreprocessor.timeout={limits.cell_timeout}"]
    outcome = run_limited(command, limits, cwd=course, env=env)
    (job_dir / "autograde.log").write_text(outcome.output)
    result = JobResult(student, lab, seconds=outcome.seconds, peak_mb=outcome.peak_mb)
    autograded = course / "autograded" / student / lab
    if outcome.status in ("timed out", "out of memory"):
        limit = f"{limits.seconds:.0f} s" if outcome.status == "timed out" else f"{limits.memory_mb:.0f} MB"
        result.status = outcome.status
        result.notes.append(f"{outcome.status}: killed at the {limit} limit")
        return result, database
    if "There was an error processing assignment" in outcome.output or not has_submission(database, lab, student):
        result.status = "not graded"
        result.notes.append("nbgrader could not grade it: " + last_error(outcome.output))
        return result, database
    result.notes += notebook_notes(autograded / f"{lab}.ipynb", limits)
    result.notes += apply_trusted_scores(database, lab, student, scorer.scores(token))
    return result, database


def has_submission(database: Path, lab: str, student: str) -> bool:
    with Gradebook(f"sqlite:///{database}") as gradebook:
        try:
            gradebook.find_submission(lab, student)
            return True
        except MissingEntry:
            return False


KNOWN_FAILURES = (("Timeout waiting for execute reply", "a cell ran past the cell limit and ignored the interrupt"),
                  ("Kernel died", "the kernel died"),
                  ("CellTimeoutError", "a cell ran past the cell limit"))


def last_error(output: str) -> str:
    """A one-line reason from nbgrader's log (its full text is in jobs/<lab>/<student>/autograde.log)."""
    for needle, reason in KNOWN_FAILURES:
        if needle in output:
            return reason
    lines = [line.strip() for line in output.splitlines()
             if "[AutogradeApp | ERROR]" in line and "Please see" not in line]
    return (lines[-1] if lines else "see autograde.log")[:200]


def notebook_notes(notebook: Path, limits: Limits) -> list[str]:
    """Cells that hit nbgrader's per-cell time limit."""
    if not notebook.exists():
        return []
    text = notebook.read_text(errors="replace")
    if "CellTimeoutError" in text or "Cell execution timed out" in text or "KeyboardInterrupt" in text:
        return [f"a cell was stopped at the {limits.cell_timeout} s cell limit"]
    return []


def apply_trusted_scores(database: Path, lab: str, student: str, trusted: dict) -> list[str]:
    """Cells the trusted scorer scores get min(kernel's score, scorer's score); 0 if never scored."""
    notes = []
    with Gradebook(f"sqlite:///{database}") as gradebook:
        submission = gradebook.find_submission(lab, student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.name not in TRUSTED_CELLS:
                    continue
                kernel = grade.auto_score or 0.0
                scorer = float(trusted.get(grade.name, {}).get("score", 0.0))
                if kernel > scorer + 1e-9:
                    grade.auto_score = scorer
                    notes.append(f"{grade.name}: the notebook claimed {kernel:.2f}, "
                                 f"the trusted scorer gave {scorer:.2f}")
        gradebook.db.commit()
    return notes


def merge(course_db: Path, job_db: Path, lab: str, student: str) -> None:
    """Replace the student's submission of `lab` in the course gradebook by the job's."""
    with sqlite3.connect(course_db) as connection:
        connection.execute("ATTACH DATABASE ? AS job", (str(job_db),))
        connection.execute("INSERT OR IGNORE INTO student SELECT * FROM job.student WHERE id = ?", (student,))
        for schema in ("main", "job"):
            connection.execute(f"CREATE TEMP TABLE IF NOT EXISTS ids_{schema} (kind TEXT, id TEXT)")
            connection.execute(f"DELETE FROM ids_{schema}")
            connection.execute(
                f"INSERT INTO ids_{schema} SELECT 'assignment', s.id FROM {schema}.submitted_assignment s "
                f"JOIN {schema}.assignment a ON a.id = s.assignment_id WHERE a.name = ? AND s.student_id = ?",
                (lab, student))
            connection.execute(
                f"INSERT INTO ids_{schema} SELECT 'notebook', id FROM {schema}.submitted_notebook "
                f"WHERE assignment_id IN (SELECT id FROM ids_{schema} WHERE kind = 'assignment')")
        for table, key, kind in (("grade", "notebook_id", "notebook"), ("comment", "notebook_id", "notebook"),
                                 ("submitted_notebook", "assignment_id", "assignment"),
                                 ("submitted_assignment", "id", "assignment")):
            connection.execute(f"DELETE FROM main.{table} WHERE {key} IN "
                               f"(SELECT id FROM ids_main WHERE kind = '{kind}')")
        for table, key, kind in (("submitted_assignment", "id", "assignment"),
                                 ("submitted_notebook", "assignment_id", "assignment"),
                                 ("grade", "notebook_id", "notebook"), ("comment", "notebook_id", "notebook")):
            connection.execute(f"INSERT INTO main.{table} SELECT * FROM job.{table} WHERE {key} IN "
                               f"(SELECT id FROM ids_job WHERE kind = '{kind}')")
        connection.commit()
        connection.execute("DETACH DATABASE job")


def forget(course_db: Path, lab: str, student: str) -> None:
    """Remove the student's submission of `lab` from the course gradebook (it could not be graded now)."""
    empty = course_db.parent / f".empty-{lab}-{student}.db"
    empty_gradebook(course_db, empty)
    merge(course_db, empty, lab, student)
    empty.unlink()
