"""Grading the class subset of tests/conftest.py into a PostgreSQL gradebook (`--db postgresql://...`).

A real server (initdb and pg_ctl in a temporary folder, 127.0.0.1 and a free port, stopped by
its PID). grades.csv must equal the SQLite run's (tests/conftest.py's serial one) but for each
run's own time and memory measurements, and nbgrader's own readers of the gradebook, pointed at
PostgreSQL by the course root's nbgrader_config.py, must see the same grades: `nbgrader export`
and the formgrader's API (nbgrader.apps.api.NbGraderAPI, configured as the formgrader is).
"""

import csv
import json
import subprocess
import sys

import pytest

from autograder import grade
from autograder.testbed import PostgresServer, pg_binary

MEASURED = ("seconds", "peak_mb")
FORMGRADER_VIEW = """
import json
from nbgrader.apps import NbGraderApp
from nbgrader.apps.api import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
app = NbGraderApp()
app.load_config_file()                 # the course root's nbgrader_config.py, as the formgrader reads it
coursedir = CourseDirectory(config=app.config)
api = NbGraderAPI(coursedir=coursedir, config=app.config)
rows = [(s["student"], lab, s["score"]) for lab in ("lab5", "lab6") for s in api.get_submissions(lab)]
print(json.dumps({"db_url": coursedir.db_url, "rows": sorted(rows)}))
"""

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not pg_binary("initdb"), reason="PostgreSQL is not installed "
                                                   "(apt-get install postgresql; .ci/run does)")]


def without_measurements(path):
    with open(path, newline="") as handle:
        return [{k: v for k, v in row.items() if k not in MEASURED} for row in csv.DictReader(handle)]


def sorted_rows(export: str) -> list[str]:
    """An `nbgrader export` CSV as its header followed by its rows, sorted."""
    header, *rows = export.splitlines()
    return [header, *sorted(rows)]


def nbgrader(course, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=course, capture_output=True, text=True, check=True)


def test_the_class_graded_into_postgresql_gets_the_sqlite_grades(subset_submitted, serial_subset, tmp_path_factory):
    server = PostgresServer(durable=False)
    tmp_path = tmp_path_factory.mktemp("pg")     # short: the jobs' Unix socket paths start here
    try:
        url = server.create_database("gradebook")
        course = tmp_path / "course"
        exit_code = grade.main(["--submitted", str(subset_submitted), "--out", str(course), "--db", url])
        assert exit_code == serial_subset["exit_code"]
        assert not (course / "gradebook.db").exists()
        assert without_measurements(course / "grades.csv") == without_measurements(serial_subset["out"] / "grades.csv")

        exports = {}
        for name, root in (("postgresql", course), ("sqlite", serial_subset["out"])):
            nbgrader(root, "-m", "nbgrader", "export", "--to", str(tmp_path / f"{name}.csv"))
            exports[name] = (tmp_path / f"{name}.csv").read_text()
            views = json.loads(nbgrader(root, "-c", FORMGRADER_VIEW).stdout.splitlines()[-1])
            exports[f"{name} formgrader"] = views["rows"]
            assert views["db_url"].startswith("postgresql://" if name == "postgresql" else "sqlite:///")
        # rows in gradebook order: students are added as their jobs finish, which differs between runs
        assert sorted_rows(exports["postgresql"]) == sorted_rows(exports["sqlite"])
        assert exports["postgresql formgrader"] == exports["sqlite formgrader"]
        graded = {key: row["score"] for key, row in serial_subset["rows"].items() if row["status"] == "graded"}
        assert {(student, lab): score for student, lab, score in exports["postgresql formgrader"]} == graded
        exported = {(row["student_id"], row["assignment"]): float(row["score"])
                    for row in csv.DictReader(exports["postgresql"].splitlines())}
        assert len(graded) == 5 and {key: exported[key] for key in graded} == graded
    finally:
        server.stop()
