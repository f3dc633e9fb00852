"""Autograde the whole sample class once (as `make grade` does) and check every outcome against the manifest."""

import html
import json
import re
from pathlib import Path

import nbformat
import pytest

from autograder import grade
from autograder.submissions import load_manifest

REPO = Path(__file__).resolve().parent.parent
LABS = ["lab5", "lab6"]
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("course")
    exit_code = grade.main(["--out", str(out)])
    rows = grade.grade_rows(out, LABS, load_manifest())
    return {"out": out, "exit_code": exit_code, "rows": {(r["student"], r["lab"]): r for r in rows}}


def test_grades_match_the_manifest(graded):
    assert graded["exit_code"] == 0
    for row in graded["rows"].values():
        assert row["check"] == "", f"{row['student']}/{row['lab']}: {row['check']}, got {row['auto_score']}"


@pytest.mark.parametrize("lab", LABS)
def test_solution_scores_full_marks_on_every_autograded_cell(graded, lab):
    row = graded["rows"][("reference-solution", lab)]
    manual = grade.manual_cell_points(graded["out"], [lab])[lab]
    autograded = {name: value for name, value in row["cells"].items() if name not in manual}
    assert len(autograded) >= 6
    for name, (score, max_score) in autograded.items():
        assert score == max_score, f"{name}: {score} of {max_score}"


@pytest.mark.parametrize("lab", LABS)
def test_blank_release_scores_zero_without_crashing(graded, lab):
    row = graded["rows"][("blank-release", lab)]
    assert row["status"] == "graded" and row["score"] == 0
    assert (graded["out"] / "autograded" / "blank-release" / lab / f"{lab}.ipynb").exists()


@pytest.mark.parametrize("lab", LABS)
def test_solution_notebook_runs_without_errors_when_graded(graded, lab):
    nb = nbformat.read(graded["out"] / "autograded" / "reference-solution" / lab / f"{lab}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"error in cell:\n{cell.source[:300]}"
            assert output.get("name") != "stderr", f"stderr in cell:\n{cell.source[:300]}\n{output.text[:300]}"


@pytest.mark.parametrize("lab", LABS)
def test_feedback_shows_no_hidden_test(graded, lab):
    source = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
    visible = {line.strip() for cell in source.cells for line in HIDDEN_BLOCK.sub("", cell.source).splitlines()}
    hidden_lines = {
        line.strip()
        for cell in source.cells
        for block in HIDDEN_BLOCK.findall(cell.source)
        for line in block.splitlines()
        if len(line.strip()) > 15 and line.strip() not in visible
    }
    assert hidden_lines
    for page in (graded["out"] / "feedback").rglob(f"{lab}/*.html"):
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        leaked = [line for line in hidden_lines if line in text]
        assert not leaked, f"{page} shows hidden test lines: {leaked[:3]}"


def test_every_student_is_in_grades_csv(graded):
    text = (graded["out"] / "grades.csv").read_text()
    for student in load_manifest():
        assert student in text


def test_each_submission_is_timed(graded):
    """The measured time per submission is a benchmark (README), not an assertion."""
    runs = json.loads((graded["out"] / "runs.json").read_text())
    assert {(r["student"], r["lab"]) for r in runs} == set(graded["rows"])
    assert all(r["seconds"] > 0 for r in runs)


def test_regrading_a_partial_score_gives_identical_cell_scores(graded, tmp_path):
    """Grading is reproducible: a submission with partial credit gets the same score twice."""
    student = "undertrained-generator"
    first = graded["rows"][(student, "lab5")]
    assert 0 < first["cells"]["lab5_model_quality"][0] < 6, "the sample must earn partial quality credit"
    grade.main(["--out", str(tmp_path), "--students", student, "--labs", "lab5"])
    again = {(r["student"], r["lab"]): r for r in grade.grade_rows(tmp_path, ["lab5"], load_manifest())}
    assert again[(student, "lab5")]["cells"] == first["cells"]
