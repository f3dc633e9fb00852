"""Take submissions in: find them, refuse what cannot be trusted, note what an instructor must know.

Raw submissions (never modified) come from
    - a folder in nbgrader's layout: DIR/<student>/<lab>/<files> (also what `nbgrader collect`
      leaves: then timestamp.txt says when it was submitted)
    - an LMS download (a folder or a .zip of files named <student>_<anything>.ipynb), which
      nbgrader's zip_collect sorts into that layout
For each (student, lab) `prepare` reads only the lab's notebook, and refuses it (a "refused"
status with its reason) when it is a symbolic link, a hard link, not a regular file (a FIFO, a
device), larger than MAX_NOTEBOOK_MB, or not a notebook that nbformat can read within bounded
time and memory (parsed in a separate, limited process). Student ids and file names are made
safe before they reach the terminal, the file system or the report. It notes: a renamed
notebook, extra files (never graded: a stray labs/ or numpy.py would shadow the real package),
edited or deleted test cells (nbgrader restores them), and code, in any cell including added
ones, that replaces library functions or reaches outside its folder (a hint for review, never
a grade). Not extra: nbgrader's receipts (EXCHANGE_RECEIPTS) and unchanged copies of the
release's own files (nbgrader submit sends the whole fetched folder, checkpoints included).
"""

import ast
import hashlib
import json
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

from autograder.limits import Limits, run_limited

LMS_PATTERN = r".*/(?P<student_id>[^/_]+)_(?P<file_id>[^/]+\.ipynb)$"
MAX_NOTEBOOK_MB = 20
PARSE_LIMITS = Limits(seconds=30, memory_mb=1500, cell_timeout=30, max_processes=4)
SAFE_ID = re.compile(r"[^A-Za-z0-9._-]")
GUARDED_ROOTS = {"np", "numpy", "torch", "nn", "F", "labs", "builtins", "sys", "math", "os", "subprocess", "IPython"}
SUSPICIOUS_NAMES = {"__code__", "sys.modules", "builtins", "get_ipython", "setattr", "importlib", "ctypes", "gc",
                    "sys.displayhook", "sys.excepthook", "object.__setattr__"}
EXCHANGE_RECEIPTS = ("timestamp.txt", "submission_secret.txt")   # what nbgrader submit adds to a submission
SUSPICIOUS_TEXT = re.compile(r"gradebook|autograder|/source/|\.\./|/proc/|hidden/|hidden\.json|closes_2021|LABS_SCORER",
                             re.I)


@dataclass
class Intake:
    student: str
    lab: str
    notebook: bytes | None = None          # the accepted notebook's bytes
    fatal: str = ""                        # why it cannot be graded ("" when it can)
    notes: list[str] = field(default_factory=list)
    digest: str = ""                       # of the raw submission, for re-running only what changed
    timestamp: str | None = None           # nbgrader's timestamp.txt, when there is one


def safe_text(text: str, limit: int = 80) -> str:
    """`text` with control characters and escape sequences shown as escapes, at most `limit` chars."""
    shown = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in str(text))
    return shown[:limit] + ("..." if len(shown) > limit else "")


def safe_id(raw: str) -> str:
    """A student id that is safe as a folder name and in a terminal: [A-Za-z0-9._-], no leading dot."""
    cleaned = SAFE_ID.sub("_", raw).lstrip(".")[:64] or "student"
    if cleaned != raw:
        cleaned = f"{cleaned}-{hashlib.sha256(raw.encode(errors='surrogateescape')).hexdigest()[:6]}"
    return cleaned


def read_regular_file(path: Path, max_mb: float) -> bytes:
    """The bytes of `path`, or ValueError why not: no links, no special files, bounded size."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise ValueError(f"{safe_text(path.name)} is a symbolic link")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"{safe_text(path.name)} is not a regular file")
    if info.st_nlink > 1:
        raise ValueError(f"{safe_text(path.name)} is a hard link to another file")
    if info.st_size > max_mb * 2**20:
        raise ValueError(f"{safe_text(path.name)} is {info.st_size / 2**20:.1f} MB, over the {max_mb:g} MB limit")
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        opened = os.fstat(descriptor)
        if (opened.st_ino, opened.st_dev) != (info.st_ino, info.st_dev) or not stat.S_ISREG(opened.st_mode):
            raise ValueError(f"{safe_text(path.name)} changed while it was read")
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(int(max_mb * 2**20) + 1)
    finally:
        os.close(descriptor)
    if len(data) > max_mb * 2**20:
        raise ValueError(f"{safe_text(path.name)} is over the {max_mb:g} MB limit")
    return data


PARSER = """
import json, sys
import nbformat
nb = nbformat.reads(sys.stdin.buffer.read().decode("utf-8"), as_version=4)
nbformat.validate(nb)
cells = [{"type": c.cell_type, "source": c.source, "nbgrader": c.metadata.get("nbgrader", {})} for c in nb.cells]
sys.stdout.write(json.dumps(cells))
"""


def parse_notebook(data: bytes) -> list[dict]:
    """The cells of a notebook (type, source, nbgrader metadata), parsed by nbformat in a separate
    process under time and memory limits; ValueError when it is not a valid notebook."""
    import tempfile

    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        handle.seek(0)
        outcome = run_limited([sys.executable, "-I", "-c", PARSER], PARSE_LIMITS, stdin=handle)
    if outcome.status != "ok":
        reason = outcome.status if outcome.status != "failed" else (outcome.output.strip().splitlines() or ["?"])[-1]
        raise ValueError(safe_text(reason, 120))
    try:
        return json.loads(outcome.output)
    except json.JSONDecodeError:
        raise ValueError("the parser's output is not readable") from None


def changed_test_cells(cells: list[dict], release_cells: list[dict]) -> list[str]:
    """Notes on locked or test cells of the release that the submission edited or deleted."""
    mine = {c["nbgrader"].get("grade_id"): c for c in cells if c["nbgrader"].get("grade_id")}
    notes = []
    for cell in release_cells:
        meta, grade_id = cell["nbgrader"], cell["nbgrader"].get("grade_id")
        if not grade_id or meta.get("solution") or not (meta.get("locked") or meta.get("grade")):
            continue
        if grade_id not in mine:
            notes.append(f"deleted cell {grade_id} (restored)")
        elif mine[grade_id]["source"].strip() != cell["source"].strip():
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


def suspicious_code(cells: list[dict], release_cells: list[dict] = ()) -> list[str]:
    """Code in any cell the student wrote or added (not the release's own cells, not locked
    cells: nbgrader restores those) that replaces library functions, hooks into IPython or
    reads outside its folder: a hint for review."""
    found, released = set(), {c["source"].strip() for c in release_cells}
    for cell in cells:
        meta = cell["nbgrader"]
        if (cell["type"] != "code" or (meta.get("locked") and not meta.get("solution"))
                or cell["source"].strip() in released):
            continue
        try:
            tree = ast.parse(cell["source"])
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) else []:
                name = _dotted(target)
                if "." in name and name.split(".")[0] in GUARDED_ROOTS or name.endswith("__code__"):
                    found.add(f"replaces {name}")
            if isinstance(node, ast.Name | ast.Attribute) and _dotted(node) in SUSPICIOUS_NAMES:
                found.add(f"uses {_dotted(node)}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SUSPICIOUS_TEXT.search(node.value):
                found.add(f"mentions {safe_text(node.value, 40)!r}")
    return [f"suspicious code: {item}" for item in sorted(found)]


def _walk(folder: Path):
    """Every entry under `folder`, without following symbolic links."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = [d for d in dirs if d != ".ipynb_checkpoints"]
        for name in sorted(dirs + files):
            yield Path(root) / name


def digest_folder(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in _walk(folder):
        digest.update(str(path.relative_to(folder)).encode(errors="surrogateescape"))
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            digest.update(b"link:" + os.readlink(path).encode(errors="surrogateescape"))
        elif stat.S_ISREG(info.st_mode) and info.st_size <= MAX_NOTEBOOK_MB * 2**20:
            digest.update(path.read_bytes())
        else:
            digest.update(f"{info.st_mode}:{info.st_size}".encode())
    return digest.hexdigest()


def file_digests(folder: Path) -> dict[str, str]:
    """{path relative to `folder`: SHA-256} of the regular files under a (trusted) folder."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in _walk(folder) if p.is_file() and not p.is_symlink()}


def _unchanged_release_file(path: Path, raw: Path, release_files: dict[str, str]) -> bool:
    expected = release_files.get(str(path.relative_to(raw)))
    try:
        return expected is not None and hashlib.sha256(read_regular_file(path, MAX_NOTEBOOK_MB)).hexdigest() == expected
    except (OSError, ValueError):
        return False


def prepare(student: str, lab: str, raw: Path | None, release_cells: list[dict],
            release_files: dict[str, str] | None = None) -> Intake:
    """Read the gradable notebook of one raw submission folder (nothing is written). `release_files`
    (file_digests of the lab's release) names the files a student fetched with the lab."""
    intake = Intake(student, lab)
    if raw is not None and raw.is_symlink():
        intake.fatal = "refused: the submission folder is a symbolic link"
        return intake
    if raw is None or not raw.is_dir():
        intake.fatal = "missing: nothing submitted"
        return intake
    intake.digest = digest_folder(raw)
    expected = raw / f"{lab}.ipynb"
    notebooks = [p for p in _walk(raw) if p.suffix == ".ipynb"]
    if not os.path.lexists(expected):
        if len(notebooks) != 1:
            shown = ", ".join(safe_text(p.name, 40) for p in notebooks[:5])
            intake.fatal = f"missing: no {lab}.ipynb" + (f" (found {shown})" if notebooks else "")
            return intake
        expected = notebooks[0]
        intake.notes.append(f"renamed {safe_text(str(expected.relative_to(raw)))} to {lab}.ipynb")
    extra = sorted((p for p in _walk(raw) if p != expected and not p.is_dir() and p.name not in EXCHANGE_RECEIPTS
                    and not _unchanged_release_file(p, raw, release_files or {})),
                   key=lambda p: str(p.relative_to(raw)))
    if extra:
        shown = ", ".join(safe_text(str(p.relative_to(raw)), 40) for p in extra[:5])
        more = f" and {len(extra) - 5} more" if len(extra) > 5 else ""
        intake.notes.append(f"extra files not graded: {shown}{more}")
    try:
        data = read_regular_file(expected, MAX_NOTEBOOK_MB)
    except (OSError, ValueError) as error:
        intake.fatal = f"refused: {error}"
        return intake
    try:
        cells = parse_notebook(data)
    except ValueError as error:
        intake.fatal = f"corrupted: {safe_text(expected.name, 40)} is not a valid notebook ({error})"
        return intake
    stamp = raw / "timestamp.txt"
    if stamp.exists():
        try:
            intake.timestamp = safe_text(read_regular_file(stamp, 0.001).decode(errors="replace").strip(), 60)
        except (OSError, ValueError) as error:
            intake.notes.append(f"timestamp ignored: {error}")
    intake.notes += changed_test_cells(cells, release_cells) + suspicious_code(cells, release_cells)
    intake.notebook = data
    return intake


def release_cells(release_nb: Path) -> list[dict]:
    """The cells of a (trusted) release notebook, in the form parse_notebook returns."""
    return parse_notebook(release_nb.read_bytes())


def find_raw_submissions(folder: Path, labs: list[str]) -> dict[tuple[str, str], Path | None]:
    """{(student, lab): folder} for a folder in nbgrader's layout; students lacking a lab get None.
    Student ids are made safe (safe_id); a folder that is a symbolic link stays one (prepare refuses it)."""
    pairs = {}
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if entry.name.startswith(".") or not (entry.is_dir(follow_symlinks=False) or entry.is_symlink()):
            continue
        student = safe_id(entry.name)
        for lab in labs:
            path = Path(entry.path) / lab
            pairs[(student, lab)] = Path(entry.path) if entry.is_symlink() else path if os.path.lexists(path) else None
    return pairs
