"""Take submissions in: find them, fix what can be fixed, note what an instructor must know.

Raw submissions (never modified) come from
    - a folder in nbgrader's layout: DIR/<student>/<lab>/<files>
    - an LMS download (a folder or a .zip of files named <student>_<anything>.ipynb), which
      nbgrader's zip_collect sorts into that layout
For each (student, lab) `prepare` writes only the lab's notebook into the course's
submitted/<student>/<lab>/ and returns what it noticed: a missing or corrupted notebook (the
submission is not executed), a renamed notebook (graded under the right name), extra files
(left out of grading: a stray labs/ or numpy.py next to the notebook would shadow the real
package), edited or deleted test cells (nbgrader restores them), and code that replaces library
functions or reaches outside the submission's folder.
"""

import ast
import hashlib
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

LMS_PATTERN = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+\.ipynb)$"
GUARDED_ROOTS = {"np", "numpy", "torch", "nn", "F", "labs", "builtins", "sys", "math", "os", "subprocess", "IPython"}
SUSPICIOUS_NAMES = {"__code__", "sys.modules", "builtins", "get_ipython", "setattr", "importlib", "ctypes", "gc"}
SUSPICIOUS_TEXT = re.compile(r"gradebook|autograder|/source/|\.\./|/proc/|hidden|closes_2021", re.IGNORECASE)


@dataclass
class Intake:
    student: str
    lab: str
    notebook: Path | None = None          # the graded copy, under the course's submitted/
    fatal: str = ""                        # why it cannot be graded ("" when it can)
    notes: list[str] = field(default_factory=list)
    digest: str = ""                       # of the raw submission, for re-running only what changed


def digest_folder(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def graded_cells(nb) -> dict:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade_id")}


def changed_test_cells(nb, release_nb) -> list[str]:
    """Notes on locked or test cells of the release that the submission edited or deleted."""
    mine, notes = graded_cells(nb), []
    for grade_id, cell in graded_cells(release_nb).items():
        meta = cell.metadata["nbgrader"]
        if meta.get("solution") or not (meta.get("locked") or meta.get("grade")):
            continue
        if grade_id not in mine:
            notes.append(f"deleted cell {grade_id} (restored)")
        elif mine[grade_id].source.strip() != cell.source.strip():
            notes.append(f"edited cell {grade_id} (restored)")
    return notes


def _dotted(node) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):
        return _dotted(node.value)
    return ""


def suspicious_code(nb) -> list[str]:
    """Student code that replaces library functions or reads outside its folder (for review)."""
    found = set()
    for cell in nb.cells:
        if cell.cell_type != "code" or not cell.metadata.get("nbgrader", {}).get("solution"):
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)) else []:
                name = _dotted(target)
                if "." in name and name.split(".")[0] in GUARDED_ROOTS or name.endswith("__code__"):
                    found.add(f"replaces {name}")
            if isinstance(node, (ast.Name, ast.Attribute)) and _dotted(node) in SUSPICIOUS_NAMES:
                found.add(f"uses {_dotted(node)}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SUSPICIOUS_TEXT.search(node.value):
                found.add(f"mentions {node.value[:40]!r}")
    return [f"suspicious code: {item}" for item in sorted(found)]


def prepare(student: str, lab: str, raw: Path | None, course: Path, release_nb: Path) -> Intake:
    """Write the gradable notebook of one raw submission folder into course/submitted/."""
    intake = Intake(student, lab)
    target = course / "submitted" / student / lab
    if target.exists():
        shutil.rmtree(target)
    if raw is None or not raw.is_dir():
        intake.fatal = "missing: nothing submitted"
        return intake
    intake.digest = digest_folder(raw)
    expected = raw / release_nb.name
    notebooks = sorted(p for p in raw.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    if not expected.exists():
        if len(notebooks) != 1:
            intake.fatal = f"missing: no {release_nb.name}" + (
                f" (found {', '.join(p.name for p in notebooks)})" if notebooks else "")
            return intake
        expected = notebooks[0]
        intake.notes.append(f"renamed {expected.relative_to(raw)} to {release_nb.name}")
    extra = sorted(str(p.relative_to(raw)) for p in raw.rglob("*")
                   if p.is_file() and p != expected and ".ipynb_checkpoints" not in p.parts)
    if extra:
        shown = ", ".join(extra[:5]) + (f" and {len(extra) - 5} more" if len(extra) > 5 else "")
        intake.notes.append(f"extra files not graded: {shown}")
    try:
        nb = nbformat.read(expected, as_version=4)
        nbformat.validate(nb)
    except Exception as error:  # noqa: BLE001  (whatever is wrong with the file, it is not gradable)
        intake.fatal = f"corrupted: {expected.name} is not a valid notebook ({type(error).__name__})"
        return intake
    release = nbformat.read(release_nb, as_version=4)
    intake.notes += changed_test_cells(nb, release) + suspicious_code(nb)
    target.mkdir(parents=True)
    intake.notebook = target / release_nb.name
    shutil.copyfile(expected, intake.notebook)
    return intake


def find_raw_submissions(folder: Path, labs: list[str]) -> dict[tuple[str, str], Path | None]:
    """{(student, lab): folder} for a folder in nbgrader's layout; students lacking a lab get None."""
    students = sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return {(student, lab): (folder / student / lab if (folder / student / lab).is_dir() else None)
            for student in students for lab in labs}
