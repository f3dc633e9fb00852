"""The student's Validate (nbgrader validate): success on a finished lab, failure on the untouched release."""

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.course import nbgrader_env
from autograder.submissions import solution_notebook

REPO = Path(__file__).resolve().parent.parent
LABS = ["lab5", "lab6"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

# With chromium, tests/test_browser.py clicks the same Validate (nbgrader's server extension, same
# course settings) on the same two notebooks per lab; this CLI version covers machines without it.
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(Path(CHROMIUM).exists(), reason="covered in the browser by tests/test_browser.py")]


def validate(notebook: Path) -> str:
    """`nbgrader validate` always exits 0: the verdict is in its output."""
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(notebook)], cwd=REPO,
                            env=nbgrader_env(), capture_output=True, text=True)
    return result.stdout + result.stderr


@pytest.mark.parametrize("lab", LABS)
def test_validate_passes_the_finished_lab_and_fails_the_blank_release(lab, tmp_path):
    finished, blank = tmp_path / "finished", tmp_path / "blank"
    shutil.copytree(REPO / "release" / lab, finished)
    shutil.copytree(REPO / "release" / lab, blank)
    nbformat.write(solution_notebook(REPO / "source" / lab / f"{lab}.ipynb", REPO / "release" / lab / f"{lab}.ipynb"),
                   finished / f"{lab}.ipynb")
    verdict = validate(finished / f"{lab}.ipynb")
    assert "Success! Your notebook passes all the tests." in verdict, verdict[-3000:]
    assert "VALIDATION FAILED" in validate(blank / f"{lab}.ipynb")
