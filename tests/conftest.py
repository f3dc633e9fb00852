import os
import shutil

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("LABS_QUIET", "1")

# Browser tests (pytest-playwright) drive Debian's chromium with these flags (shared/BROWSER_TEST_NOTES.md).
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}}


# The part of the sample class that the cluster and PostgreSQL tests grade (tests/test_dask_cluster.py,
# tests/test_postgres_class.py): the fast-failing submissions and one full notebook. Five jobs;
# corrupted-json is turned away by the intake, and every other (student, lab) pair is "missing".
CLASS_SUBSET = {"blank-release": ["lab5", "lab6"], "syntax-error": ["lab5"], "corrupted-json": ["lab6"],
                "constant-generator": ["lab5"], "reference-solution": ["lab5"]}


@pytest.fixture(scope="session")
def subset_submitted(tmp_path_factory):
    """CLASS_SUBSET built from the manifest into a folder in nbgrader's layout (<student>/<lab>/)."""
    from autograder.course import REPO
    from autograder.submissions import build_submission, load_manifest

    inbox, manifest = tmp_path_factory.mktemp("subset"), load_manifest()
    for student, labs in CLASS_SUBSET.items():
        for lab in labs:
            build_submission(student, lab, manifest[student][lab], inbox, REPO)
    return inbox / "submitted"


@pytest.fixture(scope="session")
def serial_subset(subset_submitted, tmp_path_factory):
    """CLASS_SUBSET graded on this machine, one job at a time, into SQLite: the reference."""
    from autograder import grade
    from autograder.report import read_grades_csv

    out = tmp_path_factory.mktemp("serial")
    exit_code = grade.main(["--submitted", str(subset_submitted), "--out", str(out), "--jobs", "1"])
    return {"out": out, "exit_code": exit_code, "rows": read_grades_csv(out / "grades.csv")}
