"""Measure grading on a Dask cluster: against the local engine, and the coordinator's ceiling.

    python -m autograder.benchmark_cluster                      # about 15 minutes on 2 cores
    python -m autograder.benchmark_cluster --skip-throughput    # the ceiling only (a few minutes)

1. Throughput. The full-notebook submissions of autograder/benchmark.py, graded from scratch by
   `python -m autograder.grade` with `--jobs 2` and with `--scheduler` on two single-threaded
   Dask workers on this machine (autograder/testbed.py; started before the clock, as a
   cluster's workers are). Submissions per hour, their ratio, and identical scores.
2. The coordinator's ceiling. `--stubs` (2,000) instant jobs go through the real engine
   (engine.run_dask: scheduler, bundle transfer, two workers) and the coordinator's real
   `store_output` and merge, into SQLite and into a PostgreSQL server of its own. The stub
   (`stub_job`, used by nothing else) returns a real job's output, recomputed in a few
   milliseconds for each student: the same gradebook with that student and fresh row ids, the
   same autograded notebook and feedback. Wall time per submission is the coordinator's cost
   (scheduling, transfer, merge); the time in `on_done` is its merge-and-write part.
3. On paper: the wall time of 10,000 submissions on 100 workers, from the measured time a
   worker spends per submission and the measured ceiling.

Writes autograder/runs/benchmark/cluster.json.
"""

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from autograder import engine, grade, gradebook_db
from autograder.benchmark import STUDENTS
from autograder.bundle import make_bundle
from autograder.course import REPO, generate_release, make_course_copy
from autograder.job import JobOutput, JobResult, JobSpec, run_job
from autograder.limits import Limits
from autograder.report import read_grades_csv
from autograder.scorer import HIDDEN
from autograder.submissions import build_submission, load_manifest
from autograder.testbed import DaskCluster, PostgresServer

OUT = REPO / "autograder" / "runs" / "benchmark"
STUB_FILES = ("gradebook.db", "autograded.ipynb", "feedback.html")
# Rows of one submission whose ids a stub makes anew, and the columns that refer to them.
ID_REFERENCES = {"submitted_assignment": [("submitted_notebook", "assignment_id")],
                 "submitted_notebook": [("grade", "notebook_id"), ("comment", "notebook_id")],
                 "grade": [], "comment": []}


def grade_run(name: str, engine_args: list[str]) -> tuple[dict, dict]:
    """The benchmark's students graded from scratch by the grading command; (timings, grades).
    The course root is a short temporary folder: local jobs' Unix socket paths start there."""
    course = Path(tempfile.mkdtemp(prefix=f"rnn-labs-{name}-"))
    start = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "autograder.grade", "--students", *STUDENTS, "--out", str(course),
                          *engine_args], cwd=REPO, capture_output=True, text=True)
    wall = time.monotonic() - start
    if run.returncode:
        raise RuntimeError(f"grading failed ({run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}")
    run = json.loads((course / "run.json").read_text())
    grades = read_grades_csv(course / "grades.csv")
    shutil.rmtree(course)
    return {"wall_s": wall, "grading_s": run["grading_s"], "per_hour": 3600 * len(grades) / wall,
            "per_hour_grading": 3600 * len(grades) / run["grading_s"]}, grades


# Roomier limits than the sample class's 90 s per cell, the same for both engines: a busy machine
# must slow a run down, not change its scores.
LIMITS = ["--cell-timeout", "300", "--time-limit", "900"]


def throughput(cluster: DaskCluster) -> dict:
    local, local_grades = grade_run("local", ["--jobs", "2", *LIMITS])
    dask, dask_grades = grade_run("dask", ["--scheduler", cluster.address, *LIMITS])
    scores = {key: (row["score"], row["cells"]) for key, row in local_grades.items()}
    n = len(local_grades)
    return {"submissions": n, "local_jobs2": local, "dask_2_workers": dask,
            "ratio": dask["per_hour"] / local["per_hour"], "ratio_grading": dask["per_hour_grading"]
            / local["per_hour_grading"],
            "scores_identical": scores == {key: (row["score"], row["cells"]) for key, row in dask_grades.items()},
            "coordinator_s_per_submission": (dask["grading_s"] - local["grading_s"]) / n,
            "worker_s_per_submission": 2 * dask["grading_s"] / n}


def stub_gradebook(template: bytes, student: str) -> bytes:
    """The job gradebook `template` (one submission) as `student`'s, with new ids for its rows."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "job.db"
        path.write_bytes(template)
        with sqlite3.connect(path) as db:
            db.execute("UPDATE student SET id = ?", (student,))
            db.execute("UPDATE submitted_assignment SET student_id = ?", (student,))
            for table, references in ID_REFERENCES.items():
                for (old,) in db.execute(f"SELECT id FROM {table}").fetchall():
                    new = uuid.uuid4().hex
                    db.execute(f"UPDATE {table} SET id = ? WHERE id = ?", (new, old))
                    for other, column in references:
                        db.execute(f"UPDATE {other} SET {column} = ? WHERE {column} = ?", (new, old))
        db.close()
        return path.read_bytes()


def stub_job(spec: JobSpec, bundle: Path, scratch=None) -> JobOutput:
    """The benchmark's instant job: the real output stored in its bundle, made `spec.student`'s."""
    result = JobResult(**json.loads((bundle / "result.json").read_text()))
    result.student, result.lab = spec.student, spec.lab
    data = {name: (bundle / name).read_bytes() for name in STUB_FILES}
    return JobOutput(result, stub_gradebook(data["gradebook.db"], spec.student), data["autograded.ipynb"],
                     data["feedback.html"], (bundle / "log.txt").read_text())


def stub_bundle(course: Path, db_url: str, folder: Path) -> tuple[Path, bytes]:
    """Grade one real submission (the reference solution of lab5) in `course`; store its output
    as the stub's bundle under `folder`. Returns the bundle and the submitted notebook."""
    spec = load_manifest()["reference-solution"]["lab5"]
    notebook = build_submission("reference-solution", "lab5", spec, folder / "inbox", REPO) / "lab5.ipynb"
    bundle = make_bundle(course, "lab5", HIDDEN, folder / "bundles", db_url)
    output = run_job(JobSpec("reference-solution", "lab5", notebook.read_bytes(), Limits()), bundle)
    assert output.result.status == "ok", output.log[-2000:]
    stub = folder / "stub" / f"stub-{uuid.uuid4().hex}"
    stub.mkdir(parents=True)
    for name, data in zip(STUB_FILES, (output.gradebook, output.autograded, output.feedback), strict=True):
        (stub / name).write_bytes(data)
    (stub / "result.json").write_text(json.dumps(output.result.to_json()))
    (stub / "log.txt").write_text(output.log)
    return stub, notebook.read_bytes()


def ceiling(cluster: DaskCluster, db_url: str | None, stubs: int, name: str) -> dict:
    """`stubs` instant jobs through the real engine and store_output into the gradebook at `db_url`
    (None: the course root's SQLite file)."""
    course = OUT / f"ceiling-{name}"
    shutil.rmtree(course, ignore_errors=True)
    make_course_copy(course, ["lab5"], db_url)
    db_url = db_url or gradebook_db.sqlite_url(course / "gradebook.db")
    generate_release("lab5", course)
    bundle, notebook = stub_bundle(course, db_url, course / "stub-work")
    specs = [JobSpec(f"stub-{i:05d}", "lab5", notebook, Limits(), digest=f"stub-{i}") for i in range(stubs)]
    state, state_path, in_on_done = {}, course / "state.json", [0.0]

    def on_done(spec: JobSpec, output: JobOutput) -> None:      # what grade.py's on_done does
        started = time.perf_counter()
        state[f"{spec.lab}/{spec.student}"] = grade.store_output(course, spec, output, db_url)
        grade.save_state(state_path, state)
        in_on_done[0] += time.perf_counter() - started

    start = time.perf_counter()
    engine.run_dask(specs, {"lab5": bundle}, on_done, cluster.address, job=stub_job)
    wall = time.perf_counter() - start
    graded = [key for key, result in state.items() if result["graded"]]
    start = time.perf_counter()
    parts, points, manual = grade.lab_parts(db_url, ["lab5"])
    rows = grade.build_rows({tuple(key.split("/")[::-1]): result for key, result in state.items()}, db_url,
                            points, manual, parts)
    rows_s = time.perf_counter() - start
    assert len(graded) == stubs and all(row["cells"] for row in rows), "a stub submission was not merged"
    return {"gradebook": name, "submissions": stubs, "wall_s": wall, "per_hour": 3600 * stubs / wall,
            "s_per_submission": wall / stubs, "on_done_s_per_submission": in_on_done[0] / stubs,
            "grades_rows_s": rows_s}


def on_paper(worker_s: float, ceiling_per_hour: float, submissions: int = 10_000, workers: int = 100) -> dict:
    """The wall time of `submissions` on `workers`: bounded by the workers or by the coordinator."""
    by_workers = submissions * worker_s / workers
    by_coordinator = 3600 * submissions / ceiling_per_hour
    return {"submissions": submissions, "workers": workers, "worker_s_per_submission": worker_s,
            "bound_by_workers_s": by_workers, "bound_by_coordinator_s": by_coordinator,
            "wall_s": max(by_workers, by_coordinator)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stubs", type=int, default=2000, help="instant jobs for the ceiling (default 2000)")
    parser.add_argument("--skip-throughput", action="store_true", help="measure the ceiling only")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    result = {"cores": os.cpu_count(), "load_average_before": os.getloadavg()}   # others' work skews the timings
    cluster = DaskCluster(workers=2)
    try:
        if not args.skip_throughput:
            result["throughput"] = run = throughput(cluster)
            print(f"{run['submissions']} submissions: local --jobs 2 {run['local_jobs2']['per_hour']:.0f}/hour "
                  f"({run['local_jobs2']['wall_s']:.0f} s), 2 Dask workers {run['dask_2_workers']['per_hour']:.0f}"
                  f"/hour ({run['dask_2_workers']['wall_s']:.0f} s): {run['ratio']:.2f}x ({run['ratio_grading']:.2f}x "
                  f"in the grading phase); scores identical: {run['scores_identical']}", flush=True)
        server = PostgresServer()
        try:
            result["ceiling"] = [ceiling(cluster, None, args.stubs, "sqlite"),
                                 ceiling(cluster, server.create_database("ceiling"), args.stubs, "postgresql")]
        finally:
            server.stop()
    finally:
        cluster.stop()
    for run in result["ceiling"]:
        print(f"ceiling into {run['gradebook']}: {run['submissions']} stub jobs in {run['wall_s']:.0f} s = "
              f"{run['per_hour']:.0f} submissions/hour, {run['s_per_submission'] * 1000:.0f} ms each "
              f"({run['on_done_s_per_submission'] * 1000:.0f} ms merging and writing); grades of all rows "
              f"{run['grades_rows_s']:.1f} s")
    if "throughput" in result:
        slowest = min(run["per_hour"] for run in result["ceiling"])
        result["on_paper"] = plan = on_paper(result["throughput"]["worker_s_per_submission"], slowest)
        print(f"on paper: {plan['submissions']} submissions on {plan['workers']} workers: "
              f"{plan['bound_by_workers_s'] / 60:.0f} min of work per worker, {plan['bound_by_coordinator_s'] / 60:.0f}"
              f" min of coordinator: about {plan['wall_s'] / 60:.0f} min")
    result["load_average_after"] = os.getloadavg()
    (OUT / "cluster.json").write_text(json.dumps(result, indent=1))
    print(f"written: {OUT / 'cluster.json'}")
    return 0 if result.get("throughput", {}).get("scores_identical", True) else 1


if __name__ == "__main__":
    sys.exit(main())
