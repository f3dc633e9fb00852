"""The source notebooks: committed clean, and still printing what they printed (nbval)."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parent.parent
SOURCE_NOTEBOOKS = sorted((REPO / "source").glob("*/*.ipynb"))
RELEASE_NOTEBOOKS = sorted((REPO / "release").glob("*/*.ipynb"))
ALL_NOTEBOOKS = SOURCE_NOTEBOOKS + RELEASE_NOTEBOOKS
MAX_CELL_LINES = 20  # lecture and answer cells stay near 15 lines
MAX_TEST_CELL_LINES = 40  # instructor test cells also carry hidden tests (and Lab 6's hidden prices)


def ids(paths):
    return [str(p.relative_to(REPO)) for p in paths]


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=ids(ALL_NOTEBOOKS))
def test_notebook_is_committed_clean(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code_cells = 0
    for cell in nb.cells:
        assert "execution" not in cell.metadata
        if cell.cell_type != "code":
            continue
        code_cells += 1
        expected_count = code_cells if cell.outputs else None
        assert cell.execution_count == expected_count, "execution counts are positions (make refresh)"
        for output in cell.outputs:
            assert "image/png" not in output.get("data", {}), "images are not stored (nbval does not compare them)"
            assert output.get("name") != "stderr", "no stderr in stored outputs"
            assert output.output_type != "error"
        is_test = cell.metadata.get("nbgrader", {}).get("grade", False)
        limit = MAX_TEST_CELL_LINES if is_test else MAX_CELL_LINES
        assert len(cell.source.splitlines()) <= limit, f"cell too long:\n{cell.source[:200]}"


@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=ids(SOURCE_NOTEBOOKS))
def test_every_plot_has_a_title_and_axis_labels(path):
    """Plots go through labs.plots, which refuses an untitled or unlabelled plot."""
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    for raw_call in ("plt.plot(", "ax.plot(", "plt.figure("):
        assert raw_call not in source, f"{raw_call} bypasses labs.plots"


@pytest.mark.slow
@pytest.mark.parametrize("path", SOURCE_NOTEBOOKS, ids=ids(SOURCE_NOTEBOOKS))
def test_source_notebook_runs_and_prints_what_it_printed(path, tmp_path, record_property):
    """pytest --nbval on a copy of the lab folder (training writes checkpoints next to the notebook)."""
    workdir = tmp_path / path.parent.name
    shutil.copytree(path.parent, workdir)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
        "--nbval-sanitize-with", str(REPO / "tests" / "nbval_sanitize.cfg"),
        "--nbval-cell-timeout", "600", "-c", str(tmp_path / "pytest.ini"), str(workdir / path.name),
    ]
    started = time.time()
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)
    elapsed = time.time() - started
    record_property("seconds", round(elapsed, 1))
    (REPO / "tests" / "artifacts").mkdir(exist_ok=True)
    (REPO / "tests" / "artifacts" / f"nbval_{path.stem}.json").write_text(
        json.dumps({"notebook": str(path.relative_to(REPO)), "seconds": round(elapsed, 1)})
    )
    print(f"{path.name}: nbval run took {elapsed:.0f} s")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
