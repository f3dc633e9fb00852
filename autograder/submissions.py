"""Build the sample class: one nbgrader submission folder per (student, lab) of the manifest.

manifest.json maps student ids to labs and says how to build each submission:
    "solution"  the release notebook with every answer cell taken from the source solution;
                "replace": {grade_id: code} then swaps some answer cells for other code,
                "tamper": {grade_id: code} overwrites locked or test cells (a student's edit),
                "delete": [grade_id, ...] removes cells
    "release"   the untouched release notebook (a blank submission)
    "file"      a notebook or folder committed under samples/<student>/<lab>/
Options of any build: "filename" saves the notebook under another name, "extra_files":
{path: text} adds files next to it, "truncate": n keeps only its first n bytes (invalid JSON),
"add_cells": [{"after": grade_id, "file": "attacks/x.py"}] inserts code cells a student added
(no nbgrader metadata; "{price_server}" in the file becomes the sample class's loopback
price server), "pad_mb": n pads the notebook's metadata to n MB, "link": {"kind": "symlink" or
"hardlink", "to": student} makes the notebook a symbolic link to that student's notebook, or a
hard link to a copy of it outside the class, "fifo": true makes it a
named pipe. Builds run in manifest order (a link's target is built before it).
What the outcome must be: "expect": {"score": x} or {"min": a, "max": b}, optionally
"cells": {grade_id: score} for single test cells, "status" (default "graded") and
"attention": [text, ...] that the submission's notes must contain.
"""

import hashlib
import json
import os
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


def edit_cells(nb: nbformat.NotebookNode, edits: dict, deletions: list = (), answers_only: bool = True,
               samples: Path = SAMPLES) -> None:
    """Set the source of the cells named in `edits` ({grade_id: code, a list of lines, or
    {"file": path under samples/}}) and delete the cells in `deletions`. With answers_only, only
    answer cells may be edited (a student's normal work); without it any graded or locked cell
    may be (a student tampering)."""
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in nb.cells}
    for grade_id in [*edits, *deletions]:
        if grade_id not in cells or (answers_only and not cells[grade_id].metadata["nbgrader"].get("solution")):
            raise KeyError(f"no {'answer ' if answers_only else ''}cell {grade_id!r} to edit")
    for grade_id, code in edits.items():
        if isinstance(code, dict):
            code = fill((samples / code["file"]).read_text().rstrip("\n"), code.get("values", {}))
        cells[grade_id].source = "\n".join(code) if isinstance(code, list) else code
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in deletions]


def fill(code: str, values: dict) -> str:
    """`code` with each "{name}" of `values` replaced by its value."""
    for name, value in values.items():
        code = code.replace("{" + name + "}", str(value))
    return code


def add_cells(nb: nbformat.NotebookNode, additions: list, samples: Path, fixtures: dict) -> None:
    """Insert code cells a student added (no nbgrader metadata) after the cell `after` names."""
    for addition in additions:
        code = fill((samples / addition["file"]).read_text(), {**fixtures, **addition.get("values", {})})
        index = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") ==
                     addition["after"])
        cell = nbformat.v4.new_code_cell(code)
        cell.id = f"added-{hashlib.sha256(code.encode()).hexdigest()[:12]}"   # not random: same build, same bytes
        nb.cells.insert(index + 1, cell)


def build_submission(student: str, lab: str, spec: dict, course: Path, repo: Path,
                     samples: Path = SAMPLES, fixtures: dict | None = None) -> Path:
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
        edit_cells(nb, spec.get("replace", {}), samples=samples)
        edit_cells(nb, spec.get("tamper", {}), spec.get("delete", []), answers_only=False, samples=samples)
        add_cells(nb, spec.get("add_cells", []), samples, fixtures or {})
        nbformat.write(nb, notebook)
    elif build == "release":
        nb = nbformat.read(release_nb, as_version=4)
        add_cells(nb, spec.get("add_cells", []), samples, fixtures or {})
        nbformat.write(nb, notebook)
    elif build == "file":
        shutil.copytree(samples / student / lab, target, dirs_exist_ok=True)
    else:
        raise ValueError(f"unknown build {build!r} for {student}/{lab}")
    if "truncate" in spec:
        notebook.write_bytes(notebook.read_bytes()[: spec["truncate"]])
    if "pad_mb" in spec:
        nb = nbformat.read(notebook, as_version=4)
        nb.metadata["padding"] = "x" * int(spec["pad_mb"] * 2**20)
        nbformat.write(nb, notebook)
    if "link" in spec:
        notebook.unlink()
        if spec["link"]["kind"] == "symlink":
            notebook.symlink_to(course / "submitted" / spec["link"]["to"] / lab / release_nb.name)
        else:                          # a hard link to a file outside the class (a copy of a solution)
            outside = course / "outside" / f"{student}-{release_nb.name}"
            outside.parent.mkdir(exist_ok=True)
            shutil.copyfile(course / "submitted" / spec["link"]["to"] / lab / release_nb.name, outside)
            os.link(outside, notebook)
    if spec.get("fifo"):
        notebook.unlink()
        os.mkfifo(notebook)
    for name, text in spec.get("extra_files", {}).items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text("\n".join(text) if isinstance(text, list) else text)
    return target
