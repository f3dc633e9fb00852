"""Build the sample class: one nbgrader submission folder per (student, lab) of the manifest.

manifest.json maps student ids to labs and says how to build each submission:
    "solution"  the release notebook with every answer cell taken from the source solution;
                "replace": {grade_id: code} then swaps some answer cells for other code,
                "tamper": {grade_id: code} overwrites locked or test cells (a student's edit),
                "delete": [grade_id, ...] removes cells
    "release"   the untouched release notebook (a blank submission)
    "file"      a notebook or folder committed under samples/<student>/<lab>/
Options of any build: "filename" saves the notebook under another name, "extra_files":
{path: text} adds files next to it, "truncate": n keeps only its first n bytes (invalid JSON).
What the outcome must be: "expect": {"score": x} or {"min": a, "max": b}, optionally
"cells": {grade_id: score} for single test cells, "status" (default "graded") and
"attention": [text, ...] that the submission's notes must contain.
"""

import json
import re
import shutil
from pathlib import Path

import nbformat

SAMPLES = Path(__file__).resolve().parent / "samples"
MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")


def load_manifest(samples: Path = SAMPLES) -> dict:
    """The manifest as {student_id: {lab: {"build": ..., "expect": {...}}}}."""
    return json.loads((samples / "manifest.json").read_text())["students"]


def strip_solution_markers(source: str) -> str:
    """A solution cell's text without its BEGIN/END SOLUTION lines."""
    return "\n".join(line for line in source.splitlines() if not MARKER.match(line))


def solution_notebook(source_nb: Path, release_nb: Path) -> nbformat.NotebookNode:
    """The release notebook whose answer cells hold the source's solutions, as a student would submit it."""
    source = nbformat.read(source_nb, as_version=4)
    solutions = {
        cell.metadata["nbgrader"]["grade_id"]: strip_solution_markers(cell.source)
        for cell in source.cells
        if cell.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(release_nb, as_version=4)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("solution") and grade_id in solutions:
            cell.source = solutions[grade_id]
    return nb


def edit_cells(nb: nbformat.NotebookNode, edits: dict, deletions: list = (), answers_only: bool = True) -> None:
    """Set the source of the cells named in `edits` ({grade_id: code or list of lines}) and delete
    the cells in `deletions`. With answers_only, only answer cells may be edited (a student's
    normal work); without it any graded or locked cell may be (a student tampering)."""
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    for grade_id in [*edits, *deletions]:
        if grade_id not in cells or (answers_only and not cells[grade_id].metadata["nbgrader"].get("solution")):
            raise KeyError(f"no {'answer ' if answers_only else ''}cell {grade_id!r} to edit")
    for grade_id, code in edits.items():
        cells[grade_id].source = "\n".join(code) if isinstance(code, list) else code
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in deletions]


def build_submission(student: str, lab: str, spec: dict, course: Path, repo: Path,
                     samples: Path = SAMPLES) -> Path:
    """Write submitted/<student>/<lab>/ under `course` and return that folder."""
    target = course / "submitted" / student / lab
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    release_nb = repo / "release" / lab / f"{lab}.ipynb"
    build = spec["build"]
    notebook = target / spec.get("filename", release_nb.name)
    if build == "solution":
        nb = solution_notebook(repo / "source" / lab / f"{lab}.ipynb", release_nb)
        edit_cells(nb, spec.get("replace", {}))
        edit_cells(nb, spec.get("tamper", {}), spec.get("delete", []), answers_only=False)
        nbformat.write(nb, notebook)
    elif build == "release":
        shutil.copyfile(release_nb, notebook)
    elif build == "file":
        shutil.copytree(samples / student / lab, target, dirs_exist_ok=True)
    else:
        raise ValueError(f"unknown build {build!r} for {student}/{lab}")
    if "truncate" in spec:
        notebook.write_bytes(notebook.read_bytes()[: spec["truncate"]])
    for name, text in spec.get("extra_files", {}).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text("\n".join(text) if isinstance(text, list) else text)
    return target
