"""Measure grading throughput: serial (--jobs 1) against parallel (--jobs 2), and the overhead.

    python -m autograder.benchmark            # about 10 minutes on 2 cores

1. Grades the same submissions of the sample class twice, from scratch, with 1 and with 2
   workers (`python -m autograder.grade --students ... --jobs N`), and reports submissions per
   hour for each and the speed-up. The scores of the two runs must be identical.
2. For the reference solutions, splits one job's wall time into executing the student's
   notebook, executing the autograded notebook (hidden tests and trusted scoring added), and the
   rest (nbgrader, gradebook, limits, sandbox): the grading overhead.
3. Times a kernel start, one cell and shutdown with the sandbox kernelspec and without it.

Only submissions that execute their whole notebook are used (no deliberate endless loops,
whose time is set by the limits, not by the grader). Writes autograder/runs/benchmark/benchmark.json.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import numpy as np
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from autograder import sandbox
from autograder.course import nbgrader_env
from autograder.job import SANDBOX_SIZES
from autograder.limits import one_thread_env
from autograder.report import read_grades_csv
from autograder.scorer import Hidden, Session
from labs.hidden import SOCKET_VARIABLE

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "autograder" / "runs" / "benchmark"
STUDENTS = ["reference-solution", "constant-generator", "undertrained-generator", "wrong-name",
            "mean-forecaster", "extra-files"]   # 7 full-notebook submissions: 4 of Lab 5, 3 of Lab 6


def grade_from_scratch(jobs: int) -> tuple[dict, dict]:
    """Grade STUDENTS with `jobs` workers in a fresh course folder; returns (timings, grades).

    Timings: wall_s for the whole command (release, grading, feedback, report) and grading_s
    for the autograde jobs alone, as the command wrote them into run.json."""
    course = OUT / f"jobs{jobs}"
    shutil.rmtree(course, ignore_errors=True)
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "autograder.grade", "--students", *STUDENTS, "--jobs", str(jobs),
                    "--out", str(course)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    wall = time.monotonic() - start
    run = json.loads((course / "run.json").read_text())
    grades = read_grades_csv(course / "grades.csv")
    n = len(grades)
    return {"wall_s": wall, "grading_s": run["grading_s"], "per_hour": 3600 * n / wall,
            "per_hour_grading": 3600 * n / run["grading_s"],
            "job_s": sum(row["seconds"] for row in grades.values())}, grades


def execution_seconds(notebook: Path, env: dict) -> float:
    """Seconds to execute `notebook` next to the release's files (its checkpoints), as the grader's kernel would."""
    lab = notebook.parent.name
    folder = OUT / "execute" / lab
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(REPO / "release" / lab, folder)
    shutil.copy(notebook, folder / notebook.name)
    nb = nbformat.read(folder / notebook.name, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    start = time.monotonic()
    client.execute(env=env)  # the kernel's environment; this process's stays as it is
    return time.monotonic() - start


def overhead(course: Path, grades: dict, lab: str) -> dict:
    """One reference job split into: the student's notebook, the hidden tests (the scorer's
    questions, exports and evaluation), and the grading machinery (nbgrader, sandbox, limits)."""
    env = {**one_thread_env(nbgrader_env()), "NBGRADER_EXECUTION": "autograde"}
    submitted = execution_seconds(course / "submitted" / "reference-solution" / lab / f"{lab}.ipynb", env)
    with tempfile.TemporaryDirectory() as folder:
        session = Session(lab, Hidden(), Path(folder) / "scorer.sock", sandboxed=True)
        try:
            env[SOCKET_VARIABLE] = str(Path(folder) / "scorer.sock")
            autograded = execution_seconds(course / "autograded" / "reference-solution" / lab / f"{lab}.ipynb", env)
        finally:
            session.close()
    job = grades[("reference-solution", lab)]["seconds"]
    return {"job_s": job, "execute_submitted_s": submitted, "execute_autograded_s": autograded,
            "hidden_tests_s": autograded - submitted, "overhead_s": job - autograded}


def kernel_start_seconds(sandboxed: bool, repeats: int = 5) -> float:
    """Median seconds to start a kernel (ipc transport), run one cell and shut it down, with the
    sandbox kernelspec or a plain one."""
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as folder:
            folder = Path(folder)
            (folder / "ipc").mkdir()
            (folder / "scorer.sock").touch()
            config = {"lab": "lab5", "ipc": str(folder / "ipc"), "scorer_socket": str(folder / "scorer.sock"),
                      "nproc": 128, "env": {}, "cgroup": "", **SANDBOX_SIZES}
            path = (sandbox.write_kernelspec(folder / "spec", config) if sandboxed
                    else sandbox.write_plain_kernelspec(folder / "spec"))
            nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1 + 1)")])
            start = time.monotonic()
            manager = KernelManager(kernel_name="python3", transport="ipc", ip=str(folder / "ipc" / "k"),
                                    connection_file=str(folder / "ipc" / "k.json"))
            manager.kernel_spec_manager.kernel_dirs = [str(path / "kernels")]
            NotebookClient(nb, km=manager, timeout=60, resources={"metadata": {"path": str(folder)}}).execute()
            times.append(time.monotonic() - start)
    return float(np.median(times))


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    starts = {"plain_s": kernel_start_seconds(False), "sandboxed_s": kernel_start_seconds(True)}
    print(f"kernel start + one cell + shutdown: {starts['plain_s']:.2f} s plain, {starts['sandboxed_s']:.2f} s "
          f"sandboxed (+{starts['sandboxed_s'] - starts['plain_s']:.2f} s)", flush=True)
    serial, serial_grades = grade_from_scratch(1)
    parallel, parallel_grades = grade_from_scratch(2)
    identical = ({key: (row["score"], row["cells"]) for key, row in serial_grades.items()}
                 == {key: (row["score"], row["cells"]) for key, row in parallel_grades.items()})
    result = {
        "submissions": len(serial_grades), "students": STUDENTS, "cores": os.cpu_count(),
        "serial": serial, "parallel": parallel,
        "speedup": serial["wall_s"] / parallel["wall_s"],
        "speedup_grading": serial["grading_s"] / parallel["grading_s"],
        "scores_identical": identical,
        "overhead": {lab: overhead(OUT / "jobs1", serial_grades, lab) for lab in ("lab5", "lab6")},
        "kernel_start": starts,
    }
    (OUT / "benchmark.json").write_text(json.dumps(result, indent=1))
    print(f"{result['submissions']} submissions on {result['cores']} cores")
    for mode in ("serial", "parallel"):
        timing = result[mode]
        print(f"  {mode:8s}: {timing['wall_s']:4.0f} s in all ({timing['per_hour']:5.1f} submissions/hour), "
              f"{timing['grading_s']:4.0f} s grading ({timing['per_hour_grading']:5.1f}/hour)")
    print(f"  speed-up: {result['speedup']:.2f}x in all, {result['speedup_grading']:.2f}x grading; "
          f"scores identical: {identical}")
    for lab, split in result["overhead"].items():
        print(f"  {lab} reference job {split['job_s']:.0f} s = student's notebook {split['execute_submitted_s']:.0f} s"
              f" + hidden tests {split['hidden_tests_s']:.0f} s + overhead {split['overhead_s']:.0f} s")
    print(f"written: {OUT / 'benchmark.json'}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
