"""Grade the whole sample class once, in one parallel batch (as `make grade` does), and check it.

Every outcome must match autograder/samples/manifest.json (score, status, notes, single cells,
the scorer's measurements), with the attack submissions among them; the command's own harness
checks that no file outside the submissions changed and no process of the batch is left (its
exit status says so). Then: every autograded point is the trusted scorer's, a re-run grades
nothing and changes nothing, and a forced serial regrade of a few submissions backs up the
gradebook and gives the parallel run's scores exactly.
"""

import csv
import html
import json
import re
from pathlib import Path

import nbformat
import pytest

from autograder import grade, intake, sandbox
from autograder.report import read_grades_csv
from autograder.submissions import load_manifest

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "tests" / "artifacts"
LABS = ["lab5", "lab6"]
HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)

pytestmark = pytest.mark.slow


def hidden_prices() -> list[float]:
    with open(REPO / "autograder" / "hidden" / "closes_2021.csv", newline="") as handle:
        return [float(row[t]) for row in csv.DictReader(handle) for t in ("TSLA", "GOOG", "DJI")]


@pytest.fixture(scope="session")   # not "module": the browser tests here are grouped with other modules'
def graded(tmp_path_factory):      # tests (one session-scoped browser), which would tear it down and grade twice
    ARTIFACTS.mkdir(exist_ok=True)
    out = tmp_path_factory.mktemp("course")
    exit_code = grade.main(["--out", str(out), "--jobs", "2"])
    return {"out": out, "exit_code": exit_code, "rows": read_grades_csv(out / "grades.csv")}


def test_every_outcome_matches_the_manifest(graded):
    manifest = {intake.safe_id(student): specs for student, specs in load_manifest().items()}
    assert set(graded["rows"]) == {(s, lab) for s, specs in manifest.items() for lab in specs}
    for (student, lab), row in graded["rows"].items():
        row["reason"] = row["reason"] or ""
        verdicts = graded["out"] / "jobs" / lab / student / "verdicts.json"        # what the scorer measured
        row["verdicts"] = json.loads(verdicts.read_text()) if verdicts.exists() else {}
        problem = grade.check_expectation(row, manifest[student][lab]["expect"])
        assert problem == "", f"{student}/{lab}: {problem} (got {row['auto_score']}, {row['status']}: {row['reason']})"
    assert graded["exit_code"] == 0


@pytest.mark.parametrize("lab", LABS)
def test_solution_scores_full_marks_on_every_autograded_part(graded, lab):
    row = graded["rows"][("reference-solution", lab)]
    assert row["auto_score"] == row["auto_max"] and len(row["cells"]) >= 6


@pytest.mark.parametrize("lab", LABS)
def test_solution_notebook_runs_without_errors_or_stderr_when_graded(graded, lab):
    nb = nbformat.read(graded["out"] / "autograded" / "reference-solution" / lab / f"{lab}.ipynb", as_version=4)
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.output_type != "error", f"error in cell:\n{cell.source[:300]}"
            assert output.get("name") != "stderr", f"stderr in cell:\n{cell.source[:300]}\n{output.text[:300]}"


@pytest.mark.parametrize("lab", LABS)
def test_feedback_exists_and_shows_no_hidden_test(graded, lab):
    source = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
    visible = {line.strip() for cell in source.cells for line in HIDDEN_BLOCK.sub("", cell.source).splitlines()}
    hidden_lines = {line.strip() for cell in source.cells for block in HIDDEN_BLOCK.findall(cell.source)
                    for line in block.splitlines() if len(line.strip()) > 15 and line.strip() not in visible}
    assert hidden_lines
    pages = list((graded["out"] / "feedback").rglob(f"{lab}/*.html"))
    assert len(pages) >= 5
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", "", page.read_text()))
        leaked = [line for line in hidden_lines if line in text]
        assert not leaked, f"{page} shows hidden test lines: {leaked[:3]}"


def test_every_autograded_point_is_the_trusted_scorers(graded):
    for (student, lab), row in graded["rows"].items():
        if row["status"] != "graded":
            continue
        verdicts = json.loads((graded["out"] / "jobs" / lab / student / "verdicts.json").read_text())
        assert verdicts, f"{student}/{lab}: no verdicts"
        for cell, verdict in verdicts.items():
            points = pytest.approx(verdict["points"], abs=5e-4)      # grades.csv: 4 digits, a cell has < 10 points
            assert row["cells"][cell][0] == points, f"{student}/{lab} {cell}"


def test_no_escape_code_reaches_the_grades_or_the_report(graded):
    for path in (graded["out"] / "grades.csv", graded["out"] / "report" / "report.html"):
        text = path.read_text()
        assert "\x1b" not in text and "attack-\\x1b[31mescape" in text, path


def test_grades_csv_has_every_part_a_status_and_a_reason_for_each_zero(graded):
    header = (graded["out"] / "grades.csv").read_text().splitlines()[0].split(",")
    expected = {"lab5_model_quality", "lab6_forecast_DJI", "status", "reason", "seconds", "peak_mb", "sandbox"}
    assert expected <= set(header)
    for row in graded["rows"].values():
        assert row["status"]
        if row["status"] != "graded":
            assert row["reason"] and row["auto_score"] == 0


@pytest.mark.browser
@pytest.mark.parametrize("lab", LABS)
def test_feedback_renders_offline_names_every_part_and_shows_no_hidden_test(graded, lab, page):
    """The student's page in Chromium with every request but the file itself cut."""
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort())
    page.goto((graded["out"] / "feedback" / "undertrained-generator" / "lab5" / "lab5.html").as_uri() if lab == "lab5"
              else (graded["out"] / "feedback" / "reference-solution" / "lab6" / "lab6.html").as_uri())
    page.wait_for_selector("mjx-container", timeout=20000)
    assert page.locator(".text_cell_render mjx-container").count() >= 10
    source = nbformat.read(REPO / "source" / lab / f"{lab}.ipynb", as_version=4)
    graded_ids = [c.metadata["nbgrader"]["grade_id"] for c in source.cells
                  if c.metadata.get("nbgrader", {}).get("grade")]
    rows = page.locator("#summary tr.part")
    assert rows.count() == len(graded_ids)
    for index, grade_id in enumerate(graded_ids):
        row = rows.nth(index)
        assert row.get_attribute("data-cell") == grade_id
        name, checks = row.locator("td").nth(0).inner_text(), row.locator("td").nth(1).inner_text()
        assert "point" in name and name != grade_id and checks and "Test cell" not in name   # "Part C (7 points): …"
    text = page.inner_text("body")
    assert "pending" in page.locator("#summary").inner_text() and "still to be graded by hand" in text
    assert "labs.hidden.respond" not in text and "BEGIN HIDDEN" not in text
    hidden = {f"{v:.2f}" for v in hidden_prices()}
    assert not [number for number in re.findall(r"\d+\.\d\d", text) if number in hidden and float(number) > 1000]
    page.screenshot(path=str(ARTIFACTS / f"feedback_{lab}.png"), full_page=False)


@pytest.mark.browser
def test_the_report_sorts_and_filters_its_table(graded, page):
    page.goto((graded["out"] / "report" / "report.html").as_uri())
    table = page.locator("#submissions")
    students = lambda: table.locator("tbody tr:not([hidden]) td:first-child").all_inner_texts()  # noqa: E731
    header = table.locator("th").filter(has_text=re.compile("^auto$"))
    auto_scores = lambda: [float(x) for x in table.locator("tbody tr td:nth-child(4)").all_inner_texts()]  # noqa: E731
    header.click()
    scores = auto_scores()
    assert scores == sorted(scores) and len(set(scores)) > 3
    header.click()
    assert auto_scores() == sorted(scores, reverse=True)
    page.fill("#filter", "attack-")
    assert students() and all(s.startswith("attack-") for s in students())
    page.fill("#filter", "")
    page.select_option("#status-filter", "refused")
    assert set(table.locator("tbody tr:not([hidden]) td:nth-child(3)").all_inner_texts()) == {"refused"}
    assert page.locator("#shown").inner_text() == str(len(students()))
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)


def test_report_has_its_page_and_plots(graded):
    folder = graded["out"] / "report"
    page = (folder / "report.html").read_text()
    for name in ("histogram_lab5.png", "histogram_lab6.png", "pass_rates.png", "resources.png"):
        assert (folder / name).stat().st_size > 5000 and name in page
    attention = page.split("Needs attention")[1].split("<h2>")[0]
    assert "memory-hog" in attention.split("killed at a limit")[1] and "flagged code" in attention
    assert (folder / "report.html").stat().st_size < 2_000_000


def test_a_rerun_grades_nothing_and_changes_nothing(graded, capsys):
    before = (graded["out"] / "grades.csv").read_text()
    assert grade.main(["--out", str(graded["out"])]) == 0
    assert "0 to grade" in capsys.readouterr().out
    assert (graded["out"] / "grades.csv").read_text() == before


def test_forced_serial_regrade_backs_up_and_reproduces_the_parallel_scores(graded):
    """Serial equals parallel, and the same submission graded twice scores the same (one with partial credit)."""
    students = ["undertrained-generator", "syntax-error", "blank-release"]     # both labs; a partial credit
    first = {key: row for key, row in graded["rows"].items() if key[0] in students}
    assert 0 < first[("undertrained-generator", "lab5")]["cells"]["lab5_model_quality"][0] < 6
    grade.main(["--out", str(graded["out"]), "--students", *students, "--jobs", "1", "--force"])
    assert list((graded["out"] / "backups").glob("gradebook-*.db"))
    again = read_grades_csv(graded["out"] / "grades.csv")
    assert set(again) == set(first)
    for key in first:
        assert again[key]["cells"] == first[key]["cells"], key


def test_grading_stops_before_the_first_submission_without_a_sandbox(tmp_path, monkeypatch, capsys):
    def unavailable():
        raise sandbox.SandboxUnavailable("bubblewrap is not installed: `sudo apt-get install bubblewrap`")

    monkeypatch.setattr(sandbox, "probe", unavailable)
    assert grade.main(["--out", str(tmp_path), "--students", "blank-release"]) == grade.EXIT_NO_SANDBOX
    assert "apt-get install bubblewrap" in capsys.readouterr().err
    assert not (tmp_path / "grades.csv").exists() and not (tmp_path / "submitted").exists()


def test_grading_without_a_sandbox_takes_a_flag_and_every_row_says_so(tmp_path):
    assert grade.main(["--out", str(tmp_path), "--students", "blank-release", "--labs", "lab5", "--no-sandbox"]) == 0
    rows = read_grades_csv(tmp_path / "grades.csv")
    assert [row["sandbox"] for row in rows.values()] == ["off"]
    assert "sandbox OFF" in (tmp_path / "report" / "report.html").read_text()
