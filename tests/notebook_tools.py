"""Maintainer tools for the course notebooks: execute, clean, refresh stored outputs.

    python -m tests.notebook_tools refresh source/lab5/lab5.ipynb
        executes a copy of the notebook's folder, writes the cleaned outputs back into the
        notebook and copies back the checkpoints it trained (*.pt)
    python -m tests.notebook_tools clean source/lab5/lab5.ipynb
        renumbers execution counts by position, strips images and run metadata in place
    python -m tests.notebook_tools time source/lab5/lab5.ipynb
        executes a copy and prints the cells that took longer than a second (a benchmark)
"""

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from datetime import datetime
from pathlib import Path

import nbformat
from nbclient import NotebookClient

DROPPED_MIME_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "application/vnd.jupyter.widget-view+json")


def quiet_env() -> dict:
    """Environment for executing notebooks in tests: no progress bars, no GUI backend."""
    return {**os.environ, "LABS_QUIET": "1", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}


def clean(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Keep only what nbval compares: text outputs, numbered by position; no images or run metadata."""
    code_cells = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        cell.metadata.pop("collapsed", None)
        cell.metadata.pop("scrolled", None)
        if cell.cell_type != "code":
            continue
        code_cells += 1
        outputs = []
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.execution_count = code_cells
            if "data" in output:
                for mime in DROPPED_MIME_TYPES:
                    output.data.pop(mime, None)
                if not output.data:
                    continue
                output.metadata = {}
            outputs.append(output)
        cell.outputs = outputs
        # nbval compares only cells with an execution count; number them 1, 2, ... by position
        cell.execution_count = code_cells if outputs else None
    nb.metadata.pop("widgets", None)
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def execute(path: Path, workdir: Path, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute the notebook `path` with `workdir` as its working directory; raise on the first error."""
    nb = nbformat.read(path, as_version=4)
    old_env = dict(os.environ)
    os.environ.update(quiet_env())
    try:
        resources = {"metadata": {"path": str(workdir)}}
        NotebookClient(nb, timeout=timeout, kernel_name="python3", resources=resources).execute()
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    return nb


@contextlib.contextmanager
def executed_copy(path: Path):
    """Execute a copy of the notebook's folder in a temporary directory; yield (notebook, folder)."""
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp) / path.parent.name
        shutil.copytree(path.parent, workdir)
        yield execute(workdir / path.name, workdir), workdir


def refresh(path: Path) -> None:
    """Execute a copy of the notebook's folder, store cleaned outputs and trained checkpoints."""
    path = path.resolve()
    with executed_copy(path) as (nb, workdir):
        for checkpoint in workdir.glob("*.pt"):
            shutil.copy2(checkpoint, path.parent / checkpoint.name)
    nbformat.write(clean(nb), path)
    print(f"refreshed {path}")


def cell_seconds(cell) -> float:
    """Wall time of an executed cell, from the timestamps nbclient records."""
    timing = cell.metadata.get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return 0.0
    return (datetime.fromisoformat(end.rstrip("Z")) - datetime.fromisoformat(start.rstrip("Z"))).total_seconds()


def report_times(path: Path) -> None:
    """Execute a copy of the notebook's folder and print its slow cells and its total."""
    with executed_copy(path.resolve()) as (nb, _):
        pass
    code_cells = [c for c in nb.cells if c.cell_type == "code"]
    seconds = [(cell_seconds(c), (c.source.splitlines() or [""])[0]) for c in code_cells]
    for index, (duration, first_line) in enumerate(seconds):
        if duration >= 1.0:
            print(f"{path.name} code cell {index:2d}: {duration:6.1f} s  {first_line[:70]}")
    print(f"{path.name}: {sum(d for d, _ in seconds):.1f} s in code cells")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("action", choices=["refresh", "clean", "time"])
    parser.add_argument("notebooks", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for path in args.notebooks:
        if args.action == "refresh":
            refresh(path)
        elif args.action == "time":
            report_times(path)
        else:
            nbformat.write(clean(nbformat.read(path, as_version=4)), path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
