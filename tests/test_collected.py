"""Grading what `nbgrader collect` left in a course root, in that same root (the hub's loop
without the hub): `python -m autograder.grade --submitted C/submitted --out C`.

Two blank Lab 5 submissions in collect's layout (the lab's notebook and checkpoint, nbgrader's
timestamp.txt and submission_secret.txt), one before and one after the due date set with
`nbgrader db assignment add`. Grading keeps the collected folders as they were, flags nothing
(the checkpoint came with the release, the receipts are nbgrader's), writes each submission's
timestamp and lateness into grades.csv, puts the receipts next to the feedback so that
`nbgrader release_feedback` releases it under the name the student's Assignment List looks for,
and a re-run grades nothing.
"""

import shutil

import pytest
from nbgrader.utils import notebook_hash

from autograder import grade
from autograder.course import REPO, generate_release, make_course_copy, run_nbgrader
from autograder.report import read_grades_csv

pytestmark = pytest.mark.slow
DUE = "2026-01-10 12:00:00 UTC"
SUBMITTED = {"early-student": ("2026-01-10 11:00:00.000000 UTC", 0.0),
             "late-student": ("2026-01-10 12:30:00.000000 UTC", 1800.0)}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("course")
    make_course_copy(root, ["lab5"])
    generate_release("lab5", root)
    run_nbgrader(["db", "assignment", "add", "lab5", f"--duedate={DUE}"], root)
    for student, (timestamp, _) in SUBMITTED.items():
        folder = root / "submitted" / student / "lab5"
        shutil.copytree(REPO / "release" / "lab5", folder)
        (folder / "timestamp.txt").write_text(timestamp)
        (folder / "submission_secret.txt").write_text(f"secret-of-{student}")
    before = {p: p.read_bytes() for p in (root / "submitted").rglob("*") if p.is_file()}
    exit_code = grade.main(["--submitted", str(root / "submitted"), "--out", str(root), "--labs", "lab5"])
    return root, exit_code, before


def test_collected_submissions_are_graded_in_place_and_flag_nothing(course):
    root, exit_code, before = course
    assert exit_code == grade.EXIT_OK
    assert {p: p.read_bytes() for p in (root / "submitted").rglob("*") if p.is_file()} == before
    rows = read_grades_csv(root / "grades.csv")
    assert {key: (row["status"], row["reason"]) for key, row in rows.items()} == \
        {(student, "lab5"): ("graded", "") for student in SUBMITTED}


def test_timestamps_and_lateness_reach_grades_csv(course):
    rows = read_grades_csv(course[0] / "grades.csv")
    for student, (timestamp, seconds_late) in SUBMITTED.items():
        assert rows[(student, "lab5")]["timestamp"] == timestamp.replace(".000000", "")
        assert rows[(student, "lab5")]["seconds_late"] == seconds_late


def test_release_feedback_finds_the_feedback_and_names_it_for_the_student(course, tmp_path):
    root = course[0]
    exchange = tmp_path / "exchange"
    exchange.mkdir(mode=0o777)
    run_nbgrader(["release_feedback", "lab5", f"--Exchange.root={exchange}"], root)
    for student in SUBMITTED:
        name = notebook_hash(secret=f"secret-of-{student}", notebook_id="lab5")
        released = exchange / "rnn-labs" / "feedback" / f"{name}.html"
        assert released.read_bytes() == (root / "feedback" / student / "lab5" / "lab5.html").read_bytes()


def test_a_rerun_on_the_collected_folders_grades_nothing(course, capsys):
    root = course[0]
    assert grade.main(["--submitted", str(root / "submitted"), "--out", str(root), "--labs", "lab5"]) == grade.EXIT_OK
    assert "0 to grade" in capsys.readouterr().out
