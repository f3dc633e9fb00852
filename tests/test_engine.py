"""The Dask engine on an in-process cluster (fast): what travels, what comes back, how often.

Two single-threaded workers of a `distributed.LocalCluster`; the job functions here stand in
for autograder.job.run_job where grading itself is not the point. The real grading on real
worker processes, a killed worker and a killed coordinator are in tests/test_dask_cluster.py.
"""

import os
import signal
import threading
from pathlib import Path

import dask
import distributed
import pytest

from autograder import engine
from autograder.bundle import grader_version
from autograder.job import JobOutput, JobResult, JobSpec
from autograder.limits import Limits


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c:
        yield c


def spec(student: str, lab: str = "lab5", grader: str = "") -> JobSpec:
    return JobSpec(student, lab, notebook=f"notebook of {student}".encode(), limits=Limits(), grader=grader,
                   digest=f"digest-{student}-{lab}")


def echo_job(spec: JobSpec, bundle: Path, scratch) -> JobOutput:
    """What the worker saw: the bundle's file and where it was unpacked, and the notebook bytes."""
    worker = distributed.get_worker()
    notes = [(bundle / "marker.txt").read_text(), str(bundle), worker.address, spec.notebook.decode()]
    return JobOutput(JobResult(spec.student, spec.lab, notes=notes))


@pytest.fixture
def bundles(tmp_path):
    folders = {}
    for lab in ("lab5", "lab6"):
        folder = tmp_path / "bundles" / f"digest-of-{lab}"
        folder.mkdir(parents=True)
        (folder / "marker.txt").write_text(f"bundle of {lab}")
        folders[lab] = folder
    return folders


def test_every_submission_reaches_on_done_once_with_its_bundle_unpacked_once_per_worker(cluster, bundles, monkeypatch):
    unpacked = []
    original_unpack = engine.unpack
    monkeypatch.setattr(engine, "unpack", lambda data, cache: unpacked.append(original_unpack(data, cache))
                        or unpacked[-1])
    specs = [spec(f"student-{i}", lab) for i in range(6) for lab in ("lab5", "lab6")]
    specs.append(spec("student-0", "lab5"))                 # the same submission twice: one task
    delivered = []

    def on_done(job_spec, output):
        assert threading.current_thread() is threading.main_thread()
        delivered.append((job_spec.student, job_spec.lab, output))

    engine.run_dask(specs, bundles, on_done, cluster.scheduler_address, job=echo_job)
    assert sorted((s, lab) for s, lab, _ in delivered) == sorted({(s.student, s.lab) for s in specs})
    workers = set()
    for student, lab, output in delivered:
        marker, folder, worker, notebook = output.result.notes
        assert marker == f"bundle of {lab}" and notebook == f"notebook of {student}"
        assert Path(folder).name == f"digest-of-{lab}" and not Path(folder).is_relative_to(bundles[lab].parent)
        workers.add(worker)
    assert len(workers) == 2
    assert len(unpacked) == len(set(unpacked)) <= 4         # each bundle at most once per worker
    assert {folder.name for folder in unpacked} == {"digest-of-lab5", "digest-of-lab6"}


def test_a_worker_with_another_grader_version_refuses_the_job(cluster, bundles):
    delivered = []
    engine.run_dask([spec("student-x", grader="0123456789abcdef")], bundles, lambda s, o: delivered.append(o),
                    cluster.scheduler_address)
    (output,) = delivered
    assert output.result.status == "refused" and output.gradebook is None
    assert grader_version() in output.result.notes[0] and "0123456789abcdef" in output.result.notes[0]


def die(spec: JobSpec, bundle: Path, scratch) -> JobOutput:
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_submission_whose_workers_all_die_is_reported_not_graded(bundles):
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1",
                                           dashboard_address=":0") as local:
        delivered = []
        engine.run_dask([spec("crasher")], bundles, lambda s, o: delivered.append(o), local.scheduler_address,
                        job=die)
    (output,) = delivered
    assert output.result.status == "not graded" and "every worker that graded it died" in output.result.notes[0]
