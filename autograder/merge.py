"""The coordinator's side of a job: merge its private gradebook into the course's, exactly once.

A job returns a private SQLite gradebook that holds one submission. `merge` replaces that
student's submission of the lab in the course gradebook by the job's rows, in one transaction:
running it twice for the same job output leaves the same gradebook (a retried job merges once).
`merge_bytes` and `forget` take the course gradebook's db_url: a SQLite file is merged here,
a PostgreSQL gradebook by autograder/gradebook_db.py.
"""

import sqlite3
import tempfile
from pathlib import Path

from autograder import gradebook_db
from autograder.bundle import empty_gradebook


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
    connection.close()


def merge_bytes(db_url: str, job_gradebook: bytes, lab: str, student: str) -> None:
    """Merge a job gradebook that arrived as bytes into the course gradebook at `db_url`."""
    course_db = gradebook_db.sqlite_file(db_url)
    with tempfile.TemporaryDirectory(dir=course_db.parent if course_db else None) as folder:
        path = Path(folder) / "job.db"
        path.write_bytes(job_gradebook)
        if course_db:
            merge(course_db, path, lab, student)
        else:
            gradebook_db.merge(db_url, path, lab, student)


def forget(db_url: str, lab: str, student: str) -> None:
    """Remove the student's submission of `lab` from the course gradebook (it could not be graded now)."""
    course_db = gradebook_db.sqlite_file(db_url)
    if course_db is None:
        gradebook_db.forget(db_url, lab, student)
        return
    with tempfile.TemporaryDirectory(dir=course_db.parent) as folder:
        empty = Path(folder) / "empty.db"
        empty_gradebook(course_db, empty)
        merge(course_db, empty, lab, student)
