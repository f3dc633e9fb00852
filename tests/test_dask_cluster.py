"""Grading on a real Dask cluster on this machine, where the workers share no files with the coordinator.

A `dask scheduler` and two `dask worker --nthreads 1 --no-nanny` processes on 127.0.0.1
(autograder/testbed.py) run as another user, with their own copy of labs/ and autograder/
(no hidden data, no samples) and an interpreter that user can run: they cannot read the course
root, the submissions or the repository's hidden data, so everything a job needs has to travel
with its task. The coordinator (`python -m autograder.grade --scheduler ...`) grades the class
subset of tests/conftest.py; it is killed with SIGKILL after its first result and started
again, and then one worker is killed with SIGKILL in the middle of a job. Nothing may be lost or
graded twice, and every score must equal local serial grading's.
"""

import collections
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import distributed
import psutil
import pytest

from autograder import grade
from autograder.report import read_grades_csv
from autograder.submissions import load_manifest
from autograder.testbed import WORKER_USER, DaskCluster, WorkerInstall, as_user, ensure_user, process_tree
from tests.conftest import CLASS_SUBSET

REPO = Path(__file__).resolve().parent.parent
JOBS = {(student, lab) for student, labs in CLASS_SUBSET.items() for lab in labs if student != "corrupted-json"}
MEASURED = ("seconds", "peak_mb")     # each run's own measurements: everything else must be equal

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(os.geteuid() != 0, reason="runs the workers as another user (useradd): needs root")]


@pytest.fixture(scope="module")
def cluster():
    folder = Path(tempfile.mkdtemp(prefix="rnn-labs-worker-install-"))
    install = WorkerInstall(folder, ensure_user(WORKER_USER))
    cluster = DaskCluster(workers=2, install=install)
    yield cluster, install
    cluster.stop()
    subprocess.run(["rm", "-rf", str(folder)], check=True)


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def read_state(course: Path) -> dict:
    try:
        return json.loads((course / "state.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}


def start_coordinator(course: Path, submitted: Path, address: str, log: Path) -> subprocess.Popen:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    return subprocess.Popen([sys.executable, "-m", "autograder.grade", "--submitted", str(submitted),
                             "--out", str(course), "--scheduler", address], cwd=REPO, env=env,
                            stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)


def job_in_progress(cluster: DaskCluster, seconds: float):
    """(worker index, student, lab) of a job other than the long reference solution that a worker
    has been grading for `seconds`, or None."""
    for index, worker in enumerate(cluster.workers):
        if worker.poll() is not None:
            continue
        for process in process_tree(worker.pid):
            try:
                command, started = process.cmdline(), process.create_time()
            except psutil.NoSuchProcess:
                continue
            if "autograde" in command and "nbgrader" in command and time.time() - started > seconds:
                student = next(arg.split("=", 1)[1] for arg in command if arg.startswith("--student="))
                if student != "reference-solution":
                    return index, student, command[command.index("autograde") + 1]
    return None


def test_the_workers_cannot_read_the_course_or_the_hidden_data(cluster, subset_submitted):
    _, install = cluster
    probe = ("import sys, autograder.scorer as scorer\n"
             "print(scorer.HIDDEN.exists(), scorer.__file__)\n"
             "try:\n    open(sys.argv[1], 'rb')\nexcept PermissionError:\n    print('no access')\n")
    notebook = subset_submitted / "reference-solution" / "lab5" / "lab5.ipynb"
    result = subprocess.run([str(install.python), "-c", probe, str(notebook)], env=install.env(), cwd="/",
                            capture_output=True, text=True, **as_user(install.account))
    assert result.returncode == 0, result.stderr
    hidden, module = result.stdout.split()[:2]
    assert hidden == "False" and module.startswith(str(install.folder))
    assert "no access" in result.stdout


def test_killed_coordinator_and_killed_worker_lose_nothing_and_grade_nothing_twice(
        cluster, subset_submitted, serial_subset, tmp_path):
    dask, _ = cluster
    course = tmp_path / "course"
    first = start_coordinator(course, subset_submitted, dask.address, tmp_path / "first.log")
    try:
        wait_for(lambda: read_state(course), 300, "the first graded submission")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    graded_before = {tuple(key.split("/")[::-1]) for key in read_state(course)}
    assert graded_before and graded_before < JOBS

    second_log = tmp_path / "second.log"
    second = start_coordinator(course, subset_submitted, dask.address, second_log)
    try:
        wait_for(lambda: "Dask scheduler" in second_log.read_text(), 120, "the restarted coordinator's tasks")
        index, student, lab = wait_for(lambda: job_in_progress(dask, 4), 300, "a worker in the middle of a job")
        dask.kill_worker(index)
        second.wait(timeout=600)
    finally:
        if second.poll() is None:
            os.killpg(second.pid, signal.SIGKILL)
    output = second_log.read_text()
    print(output[-3000:])

    assert second.returncode == serial_subset["exit_code"] == grade.EXIT_ATTENTION
    assert f"{len(JOBS - graded_before)} to grade" in output
    delivered = collections.Counter(re.findall(r"\[\d+/\d+\] (\S+)/(lab\d): ", output))
    assert set(delivered) == JOBS - graded_before and set(delivered.values()) == {1}
    assert (student, lab) in delivered
    with distributed.Client(dask.address, timeout=30) as client:
        assert len(client.scheduler_info()["workers"]) == 1           # the job was finished by the other one

    rows, serial = read_grades_csv(course / "grades.csv"), serial_subset["rows"]
    assert set(rows) == set(serial)
    for key, row in rows.items():
        assert {k: v for k, v in row.items() if k not in MEASURED} == \
            {k: v for k, v in serial[key].items() if k not in MEASURED}, key
    manifest = load_manifest()
    for student_id, lab_id in JOBS:
        assert grade.check_expectation(rows[(student_id, lab_id)], manifest[student_id][lab_id]["expect"]) == ""

    with sqlite3.connect(course / "gradebook.db") as db:
        submissions = db.execute("SELECT a.name, s.student_id, count(*) FROM submitted_assignment s JOIN assignment a"
                                 " ON a.id = s.assignment_id GROUP BY a.name, s.student_id").fetchall()
        grades = dict(db.execute("SELECT sa.student_id || '/' || a.name, count(*) FROM grade g JOIN submitted_notebook"
                                 " n ON n.id = g.notebook_id JOIN submitted_assignment sa ON sa.id = n.assignment_id"
                                 " JOIN assignment a ON a.id = sa.assignment_id GROUP BY 1").fetchall())
        cells = dict(db.execute("SELECT a.name, count(*) FROM grade_cells c JOIN base_cell b ON b.id = c.id JOIN "
                                "notebook n ON n.id = b.notebook_id JOIN assignment a ON a.id = n.assignment_id "
                                "GROUP BY a.name").fetchall())
    db.close()
    assert {(student_id, lab_id) for lab_id, student_id, _ in submissions} == JOBS
    assert {count for _, _, count in submissions} == {1}
    assert grades == {f"{s}/{lab_id}": cells[lab_id] for s, lab_id in JOBS}
