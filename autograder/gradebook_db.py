"""The course gradebook behind any nbgrader db_url, for a course whose gradebook is in PostgreSQL.

SQLite is the default and merge.py handles it as files. Where `--db postgresql://...` puts the
course gradebook in a server, jobs still keep private SQLite gradebooks, and this module moves
rows between the two with SQLAlchemy Core and nbgrader's own table definitions (types such as
times, booleans and enums convert on the way):

    merge(db_url, job_db, lab, student)   replace one submission by the job's, in one transaction
    forget(db_url, lab, student)          remove one submission, in one transaction
    sqlite_copy(db_url, target)           a SQLite copy with the same ids: a job's template
                                          gradebook (no submissions) or a backup (everything)
"""

import functools
from pathlib import Path

import sqlalchemy
from nbgrader.api import Base

SQLITE_PREFIX = "sqlite:///"
# One submission's rows, parents first (insert in this order, delete in the reverse one).
SUBMISSION_TABLES = ("submitted_assignment", "submitted_notebook", "grade", "comment")


def sqlite_url(path: Path) -> str:
    return f"{SQLITE_PREFIX}{path}"


def sqlite_file(db_url: str) -> Path | None:
    """The file of a `sqlite:///` URL, None for a server's URL."""
    return Path(db_url[len(SQLITE_PREFIX):]) if db_url.startswith(SQLITE_PREFIX) else None


@functools.cache
def engine(db_url: str) -> sqlalchemy.Engine:
    """One connection pool per course gradebook for the coordinator's lifetime."""
    return sqlalchemy.create_engine(db_url)


def _table(name: str) -> sqlalchemy.Table:
    return Base.metadata.tables[name]


def _submission_selects(lab: str, student: str) -> dict[str, sqlalchemy.Select]:
    """{table: SELECT of the ids of its rows} for the student's submission of `lab`."""
    assignment, submitted = _table("assignment"), _table("submitted_assignment")
    notebooks = _table("submitted_notebook")
    assignments = (sqlalchemy.select(submitted.c.id).join(assignment, assignment.c.id == submitted.c.assignment_id)
                   .where(assignment.c.name == lab, submitted.c.student_id == student).correlate(None))
    notebook_ids = sqlalchemy.select(notebooks.c.id).where(notebooks.c.assignment_id.in_(assignments)).correlate(None)
    selects = {"submitted_assignment": assignments, "submitted_notebook": notebook_ids}
    for name in ("grade", "comment"):
        table = _table(name)
        selects[name] = sqlalchemy.select(table.c.id).where(table.c.notebook_id.in_(notebook_ids)).correlate(None)
    return selects


def _submission_rows(connection, lab: str, student: str) -> dict[str, list[dict]]:
    """{table: rows} of the student's submission of `lab`."""
    rows = {}
    for name, ids in _submission_selects(lab, student).items():
        table = _table(name)
        query = sqlalchemy.select(table).where(table.c.id.in_(ids)).order_by(table.c.id)
        rows[name] = [dict(row._mapping) for row in connection.execute(query)]
    return rows


def _delete_submission(connection, lab: str, student: str) -> None:
    """Delete the student's submission of `lab`, children first (one statement per table)."""
    selects = _submission_selects(lab, student)
    for name in reversed(SUBMISSION_TABLES):
        table = _table(name)
        connection.execute(sqlalchemy.delete(table).where(table.c.id.in_(selects[name])))


def merge(db_url: str, job_db: Path, lab: str, student: str) -> None:
    """Replace the student's submission of `lab` in the gradebook at `db_url` by the one in the job's
    SQLite gradebook, in one transaction: merging the same job twice leaves the same gradebook."""
    students = _table("student")
    source_engine = sqlalchemy.create_engine(sqlite_url(job_db))
    try:
        with source_engine.connect() as source:
            rows = _submission_rows(source, lab, student)
            student_rows = [dict(row._mapping) for row in source.execute(
                sqlalchemy.select(students).where(students.c.id == student))]
    finally:
        source_engine.dispose()
    with engine(db_url).begin() as target:
        if student_rows and target.execute(
                sqlalchemy.select(students.c.id).where(students.c.id == student)).first() is None:
            target.execute(sqlalchemy.insert(students), student_rows)
        _delete_submission(target, lab, student)
        for name in SUBMISSION_TABLES:
            if rows[name]:
                target.execute(sqlalchemy.insert(_table(name)), rows[name])


def forget(db_url: str, lab: str, student: str) -> None:
    """Remove the student's submission of `lab` from the gradebook at `db_url` (it could not be graded now)."""
    with engine(db_url).begin() as target:
        _delete_submission(target, lab, student)


def sqlite_copy(db_url: str, target: Path, submissions: bool = False) -> None:
    """Copy the gradebook at `db_url` into a new SQLite file `target`, ids included. Without
    `submissions`: assignments, notebooks and cells only (a job's template, like
    bundle.empty_gradebook); with them: everything, students and grades too (a backup)."""
    left_out = () if submissions else ("student", *SUBMISSION_TABLES)
    copy = sqlalchemy.create_engine(sqlite_url(target))
    try:
        Base.metadata.create_all(copy)
        with engine(db_url).connect() as source, copy.begin() as destination:
            for table in Base.metadata.sorted_tables:
                if table.name not in left_out:
                    rows = [dict(row._mapping) for row in source.execute(
                        sqlalchemy.select(table).order_by(*table.primary_key.columns))]
                    if rows:
                        destination.execute(sqlalchemy.insert(table), rows)
            versions = source.execute(sqlalchemy.text("SELECT version_num FROM alembic_version")).scalars().all()
            destination.execute(sqlalchemy.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            for version in versions:
                destination.execute(sqlalchemy.text("INSERT INTO alembic_version VALUES (:v)"), {"v": version})
    finally:
        copy.dispose()
