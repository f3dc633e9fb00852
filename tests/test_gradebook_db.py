"""The course gradebook in PostgreSQL (autograder/gradebook_db.py) on a real server (fast).

The server is made with initdb and started with pg_ctl in a temporary folder, on 127.0.0.1
and a free port, and stopped by its PID (autograder/testbed.py). A small assignment is made
with nbgrader's own Gradebook API; a "job" gradebook is the SQLite template copied from
PostgreSQL with one submission added, as a job's is. Grading the sample class into PostgreSQL
is tests/test_postgres_class.py.
"""

import itertools
import shutil

import pytest
import sqlalchemy
from nbgrader.api import Gradebook

from autograder import gradebook_db, merge
from autograder.testbed import PostgresServer, pg_binary

pytestmark = pytest.mark.skipif(not pg_binary("initdb"), reason="PostgreSQL is not installed "
                                "(apt-get install postgresql; .ci/run does)")
CELLS = {"lab5_make_cosines": ("code", 2.0), "lab5_generate": ("code", 3.0), "lab5_explain": ("markdown", 2.0)}
numbers = itertools.count()


@pytest.fixture(scope="module")
def server():
    """The server, with a database `course` that holds lab5 and three graded cells, as
    generate_assignment makes them."""
    server = PostgresServer(durable=False)
    try:
        with Gradebook(server.create_database("course")) as gradebook:
            gradebook.add_assignment("lab5")
            gradebook.add_notebook("lab5", "lab5")
            for name, (kind, points) in CELLS.items():
                gradebook.add_grade_cell(name, "lab5", "lab5", max_score=points, cell_type=kind)
                if kind == "markdown":
                    gradebook.add_solution_cell(name, "lab5", "lab5")
        yield server
    finally:
        server.stop()


@pytest.fixture
def course_url(server):
    """A fresh copy of the `course` database for one test."""
    return server.create_database(f"course_{next(numbers)}", template="course")


def job_gradebook(course_url: str, folder, student: str, scores: dict):
    """A job's private gradebook: the template from PostgreSQL plus `student`'s graded submission."""
    path = folder / f"job-{student}-{next(numbers)}.db"
    gradebook_db.sqlite_copy(course_url, path)
    with Gradebook(gradebook_db.sqlite_url(path)) as gradebook:
        gradebook.add_student(student, first_name=student.title())
        submission = gradebook.add_submission("lab5", student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = scores.get(grade.name)
        gradebook.db.commit()
    return path


def scores_of(db_url: str, student: str) -> dict:
    with Gradebook(db_url) as gradebook:
        submission = gradebook.find_submission("lab5", student)
        return {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades}


def row_counts(db_url: str) -> dict:
    with gradebook_db.engine(db_url).connect() as connection:
        return {table: connection.execute(sqlalchemy.text(f"SELECT count(*) FROM {table}")).scalar()
                for table in ("student", *gradebook_db.SUBMISSION_TABLES)}


def test_the_template_keeps_the_ids_and_leaves_out_every_submission(course_url, tmp_path):
    merge.merge_bytes(course_url, job_gradebook(course_url, tmp_path, "alice", {}).read_bytes(), "lab5", "alice")
    template = tmp_path / "template.db"
    gradebook_db.sqlite_copy(course_url, template)
    with Gradebook(course_url) as server, Gradebook(gradebook_db.sqlite_url(template)) as copy:
        assert copy.find_assignment("lab5").id == server.find_assignment("lab5").id
        for name in CELLS:
            assert copy.find_grade_cell(name, "lab5", "lab5").id == server.find_grade_cell(name, "lab5", "lab5").id
        assert copy.students == [] and copy.find_assignment("lab5").submissions == []


def test_merging_a_job_twice_leaves_what_merging_it_once_does(course_url, tmp_path):
    job = job_gradebook(course_url, tmp_path, "alice", {"lab5_make_cosines": 2.0, "lab5_generate": 1.5})
    merge.merge_bytes(course_url, job.read_bytes(), "lab5", "alice")
    once = row_counts(course_url), scores_of(course_url, "alice")
    merge.merge_bytes(course_url, job.read_bytes(), "lab5", "alice")
    assert (row_counts(course_url), scores_of(course_url, "alice")) == once
    assert once[1] == {"lab5_make_cosines": 2.0, "lab5_generate": 1.5, "lab5_explain": 0}
    assert once[0] == {"student": 1, "submitted_assignment": 1, "submitted_notebook": 1, "grade": 3, "comment": 1}


def test_a_regrade_replaces_the_submission_and_forget_removes_only_that_one(course_url, tmp_path):
    for student, score in (("alice", 1.0), ("bob", 2.0)):
        merge.merge_bytes(course_url, job_gradebook(course_url, tmp_path, student, {"lab5_generate": score})
                          .read_bytes(), "lab5", student)
    merge.merge_bytes(course_url, job_gradebook(course_url, tmp_path, "alice", {"lab5_generate": 3.0})
                      .read_bytes(), "lab5", "alice")
    assert scores_of(course_url, "alice")["lab5_generate"] == 3.0
    assert row_counts(course_url)["grade"] == 6
    merge.forget(course_url, "lab5", "alice")
    assert row_counts(course_url)["submitted_assignment"] == 1
    assert scores_of(course_url, "bob")["lab5_generate"] == 2.0


def test_sqlite_and_postgresql_course_gradebooks_get_the_same_scores(course_url, tmp_path):
    sqlite_course = tmp_path / "course.db"
    gradebook_db.sqlite_copy(course_url, sqlite_course)
    job = job_gradebook(course_url, tmp_path, "carol", {"lab5_make_cosines": 0.5, "lab5_generate": 3.0})
    for url in (course_url, gradebook_db.sqlite_url(sqlite_course)):
        merge.merge_bytes(url, job.read_bytes(), "lab5", "carol")
    assert scores_of(course_url, "carol") == scores_of(gradebook_db.sqlite_url(sqlite_course), "carol")


def test_a_backup_copy_holds_students_and_grades(course_url, tmp_path):
    job = job_gradebook(course_url, tmp_path, "dave", {"lab5_generate": 2.5})
    merge.merge_bytes(course_url, job.read_bytes(), "lab5", "dave")
    backup = tmp_path / "backup.db"
    gradebook_db.sqlite_copy(course_url, backup, submissions=True)
    restored = tmp_path / "restored.db"
    shutil.copyfile(backup, restored)
    assert scores_of(gradebook_db.sqlite_url(restored), "dave") == scores_of(course_url, "dave")
    with Gradebook(gradebook_db.sqlite_url(restored)) as gradebook:
        assert gradebook.find_student("dave").first_name == "Dave"
