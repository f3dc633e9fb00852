"""release/ is what nbgrader generates from source/, and it gives nothing away."""

import csv
import filecmp
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.course import generate_release, make_course_copy

REPO = Path(__file__).resolve().parent.parent
LABS = sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir())
FORBIDDEN = re.compile(r"BEGIN SOLUTION|END SOLUTION|BEGIN HIDDEN TESTS|END HIDDEN TESTS|_hidden")


def comparable(path: Path) -> list:
    nb = nbformat.read(path, as_version=4)
    return [(c.cell_type, c.source, c.metadata.get("nbgrader")) for c in nb.cells]


@pytest.mark.parametrize("lab", LABS)
def test_committed_release_is_current(lab, tmp_path):
    course = make_course_copy(tmp_path / "course", [lab])
    fresh = generate_release(lab, course)
    committed = REPO / "release" / lab
    fresh_files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    committed_files = sorted(p.relative_to(committed) for p in committed.rglob("*") if p.is_file())
    assert fresh_files == committed_files, "run `make release` and commit release/"
    for name in fresh_files:
        if name.suffix == ".ipynb":
            assert comparable(fresh / name) == comparable(committed / name), f"{name} is stale: run `make release`"
        else:
            assert filecmp.cmp(fresh / name, committed / name, shallow=False), f"{name} is stale"
    shutil.rmtree(tmp_path / "course")


@pytest.mark.parametrize("lab", LABS)
def test_release_has_no_solutions_or_hidden_tests(lab):
    for path in (REPO / "release" / lab).glob("*.ipynb"):
        text = path.read_text()
        assert not FORBIDDEN.search(text), f"{path} leaks solution or hidden-test text"
        nb = nbformat.read(path, as_version=4)
        answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"]
        assert answers and all("raise NotImplementedError()" in c.source for c in answers)


HIDDEN_BLOCK = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
NUMBER = re.compile(r"\d+\.\d+")


def hidden_forecast_prices() -> list[float]:
    """The 2021 closes that Lab 6 is scored on (autograder/hidden/, instructor side only)."""
    with open(REPO / "autograder" / "hidden" / "closes_2021.csv", newline="") as handle:
        return [float(row[t]) for row in csv.DictReader(handle) for t in ("TSLA", "GOOG", "DJI")]


def test_no_source_notebook_holds_hidden_data():
    """Hidden data lives with the trusted scorer only: a kernel that reads source/ finds none of it."""
    hidden = {round(v, 6) for v in hidden_forecast_prices() if v != int(v)}
    for lab in ("lab5", "lab6"):
        text = (REPO / "source" / lab / f"{lab}.ipynb").read_text()
        assert not {round(float(v), 6) for v in NUMBER.findall(text)} & hidden
        assert "5050" not in text and "_future" not in text


def student_files():
    for root in (REPO / "release", REPO / "labs"):
        for path in root.rglob("*"):
            if path.is_file() and path.suffix not in (".pt", ".pyc"):
                yield path


def test_no_hidden_day_reaches_students():
    hidden_list = hidden_forecast_prices()
    assert len(hidden_list) == 300, "100 hidden closes per ticker"
    hidden = {round(v, 6) for v in hidden_list if v != int(v)}   # whole numbers would match any text
    for path in student_files():
        text = path.read_text(errors="ignore")
        assert not re.search(r"2021-\d\d-\d\d", text), f"{path} mentions a 2021 date"
        if path.suffix == ".csv":
            # price files are checked by date: old prices can equal a 2021 close to the cent
            dates = [line.split(",")[0] for line in text.strip().splitlines()[1:]]
            assert max(dates) <= "2020-12-31", f"{path} runs past 2020"
            continue
        leaked = {round(float(v), 6) for v in NUMBER.findall(text)} & hidden
        assert not leaked, f"{path} contains hidden 2021 prices: {sorted(leaked)[:3]}"
