"""Engines run jobs (autograder/job.py) and hand each output to the coordinator as it finishes.

    run_local(specs, bundles, workers, on_done)          a thread pool on this machine (the default)
    run_dask(specs, bundles, on_done, scheduler=ADDRESS)  tasks on a Dask distributed cluster

Every engine calls the same `job.run_job`; the coordinator's `on_done(spec, output)` is called
in the coordinator's thread, one output at a time, so that only it writes the gradebook.

On a Dask cluster nothing is shared but the network. Each lab's bundle (autograder/bundle.py)
travels packed, as the result of a task keyed by its digest, `bundle-<digest>`: a worker fetches
it once from the scheduler or a peer and unpacks it once into its own local folder, and because
the scheduler keeps the bytes, a worker that dies holding the only copy costs a recomputation,
not the bundle. Each submission is a task keyed by what it is, `grade-<lab>-<student>-<digest>`,
that carries the submission's bytes and returns the job's output as data. The scheduler reruns a
task whose worker died on another worker; each (student, lab, digest) reaches `on_done` once.
"""

import hashlib
import tempfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import distributed
from distributed.scheduler import KilledWorker

from autograder.bundle import pack, unpack
from autograder.job import JobOutput, JobResult, JobSpec, run_job

# Submissions handed to the scheduler at once: enough to keep a few hundred workers busy, few
# enough that the scheduler never holds a whole class of notebooks.
IN_FLIGHT_PER_WORKER, MIN_IN_FLIGHT = 4, 256


def run_local(specs: list[JobSpec], bundles: dict[str, Path], workers: int,
              on_done: Callable[[JobSpec, JobOutput], None], scratch: Path | None = None) -> None:
    """Grade `specs` with `workers` threads, each job in its own throwaway folder."""
    with tempfile.TemporaryDirectory(prefix="rnn-labs-jobs-", dir=scratch) as folder, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_job, spec, bundles[spec.lab], Path(folder)): spec for spec in specs}
        for future in as_completed(futures):
            on_done(futures[future], future.result())


def task_key(spec: JobSpec) -> str:
    """The task of one submission: the same (student, lab, digest) is the same task."""
    return f"grade-{spec.lab}-{spec.student}-{hashlib.sha256(spec.digest.encode()).hexdigest()[:16]}"


def hold(data: bytes) -> bytes:
    """A bundle's bytes as a task result (kept by the scheduler, unlike scattered data)."""
    return data


def run_on_worker(job: Callable, spec: JobSpec, bundle_name: str, bundle_data: bytes) -> JobOutput:
    """A grading task on a Dask worker: unpack the bundle into the worker's local folder unless it
    is there already (once per digest), then run `job` in a throwaway folder of the system's
    temporary folder (short paths: the job's Unix sockets live there)."""
    bundles = Path(distributed.get_worker().local_directory) / "bundles"
    if not (bundles / bundle_name).exists():
        unpack(bundle_data, bundles)
    return job(spec, bundles / bundle_name, None)


def run_dask(specs: list[JobSpec], bundles: dict[str, Path], on_done: Callable[[JobSpec, JobOutput], None],
             scheduler: str | None = None, scheduler_file: str | None = None, job: Callable = run_job) -> None:
    """Grade `specs` as tasks on the Dask cluster at `scheduler` (an address) or `scheduler_file`.
    `job` is `run_job` (the benchmark alone passes a stub); see the module docstring. Nothing to
    grade, no connection (a re-run that grades nothing needs no cluster)."""
    if not specs:
        return
    with distributed.Client(scheduler, scheduler_file=scheduler_file, set_as_default=False) as client:
        workers = len(client.scheduler_info()["workers"])
        print(f"Dask scheduler {client.scheduler.address}: {workers} worker(s) now"
              + ("; waiting for one to join" if not workers else ""), flush=True)
        held = {lab: client.submit(hold, pack(folder), key=f"bundle-{folder.name}") for lab, folder in bundles.items()}
        unique: dict[str, JobSpec] = {}
        for spec in specs:
            unique.setdefault(task_key(spec), spec)
        waiting, running, finished = deque(unique.items()), {}, distributed.as_completed(loop=client.loop)

        def submit_more() -> None:
            while waiting and len(running) < max(MIN_IN_FLIGHT, IN_FLIGHT_PER_WORKER * workers):
                key, spec = waiting.popleft()
                future = client.submit(run_on_worker, job, spec, bundles[spec.lab].name, held[spec.lab], key=key)
                running[future] = spec
                finished.add(future)

        submit_more()
        for future in finished:
            spec = running.pop(future)
            try:
                output = future.result()
            except KilledWorker as error:
                output = JobOutput(JobResult(spec.student, spec.lab, status="not graded", sandboxed=spec.sandboxed,
                                             notes=[f"every worker that graded it died ({error})"]))
            on_done(spec, output)
            submit_more()
