"""A lab's bundle: everything grading one of its submissions needs besides the submission.

    <digest>/source/<lab>/      the lab's source folder (solutions, hidden tests, checkpoints)
    <digest>/release/<lab>/     the student release
    <digest>/hidden/            the hidden data of the lab (autograder/hidden/)
    <digest>/gradebook.db       the course gradebook's assignments and cells, no submissions (a
                                SQLite file with the same ids, also where the course's is in PostgreSQL)
    <digest>/bundle.json        lab, grader version

A bundle is addressed by the SHA-256 of its files, so a worker that already holds it (a Dask
worker, or the local engine's cache) never receives or unpacks it twice. `grader_version()`
fingerprints the code that decides a grade (labs/ and autograder/): a worker whose version
differs from the coordinator's refuses the job.
"""

import hashlib
import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
from pathlib import Path

from autograder import gradebook_db

REPO = Path(__file__).resolve().parent.parent
SUBMISSION_TABLES = ("grade", "comment", "submitted_notebook", "submitted_assignment")


def _digest_files(paths: list[tuple[str, Path]]) -> str:
    digest = hashlib.sha256()
    for name, path in sorted(paths):
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _code_files(root: Path):
    for folder in ("labs", "autograder"):
        for path in sorted((root / folder).rglob("*")):
            if (path.is_file() and "__pycache__" not in path.parts and "runs" not in path.parts
                    and "samples" not in path.parts and "hidden" not in path.parts):
                yield str(path.relative_to(root)), path


def grader_version(root: Path = REPO) -> str:
    """A fingerprint of the grading code (labs/ and autograder/, without runs, samples and hidden data)."""
    return _digest_files(list(_code_files(root)))[:16]


def empty_gradebook(course_db: Path, target: Path) -> None:
    """A copy of a gradebook without any submission (assignments, cells and students only)."""
    shutil.copyfile(course_db, target)
    with sqlite3.connect(target) as connection:
        for table in SUBMISSION_TABLES:
            connection.execute(f"DELETE FROM {table}")
        connection.execute("DELETE FROM student")
    connection.close()


def make_bundle(course: Path, lab: str, hidden: Path, cache: Path, db_url: str | None = None) -> Path:
    """Build the bundle of `lab` from the course root (its gradebook at `db_url`, by default
    the course root's gradebook.db) into `cache/<digest>/`; return that folder."""
    staging = cache / f".staging-{lab}"
    if staging.exists():
        shutil.rmtree(staging)
    for kind in ("source", "release"):
        shutil.copytree(course / kind / lab, staging / kind / lab,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    shutil.copytree(hidden, staging / "hidden", ignore=shutil.ignore_patterns("README.md"))
    course_db = gradebook_db.sqlite_file(db_url) if db_url else course / "gradebook.db"
    if course_db:
        empty_gradebook(course_db, staging / "gradebook.db")
    else:
        gradebook_db.sqlite_copy(db_url, staging / "gradebook.db")
    (staging / "bundle.json").write_text(json.dumps({"lab": lab, "grader": grader_version()}))
    digest = _digest_files([(str(p.relative_to(staging)), p) for p in staging.rglob("*") if p.is_file()])[:32]
    target = cache / digest
    if target.exists():
        shutil.rmtree(staging)
    else:
        staging.rename(target)
    return target


def pack(folder: Path) -> bytes:
    """The bundle folder as tar bytes (for a worker that has no shared file system)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(folder, arcname=folder.name)
    return buffer.getvalue()


def unpack(data: bytes, cache: Path) -> Path:
    """Unpack bundle tar bytes into `cache` (once); return the bundle folder. The bundle appears
    whole or not at all: it is unpacked beside its place and then renamed into it."""
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        name = archive.getnames()[0].split("/")[0]
        target = cache / name
        if not target.exists():
            cache.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".unpacking-", dir=cache) as staging:
                # The coordinator made the archive; the "data" filter (Python >= 3.11.4) is a second guard.
                archive.extractall(staging, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
                try:
                    Path(staging, name).rename(target)
                except OSError:
                    if not target.exists():   # else another thread of this worker unpacked it first
                        raise
    return target
