"""Engines run jobs (autograder/job.py) and hand each output to the coordinator as it finishes.

    run_local(specs, bundles, workers, on_done)   a thread pool on this machine (the default)

Every engine calls the same `job.run_job`; the coordinator's `on_done(spec, output)` is called
in the coordinator's thread, one output at a time, so that only it writes the gradebook.
"""

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from autograder.job import JobOutput, JobSpec, run_job


def run_local(specs: list[JobSpec], bundles: dict[str, Path], workers: int,
              on_done: Callable[[JobSpec, JobOutput], None], scratch: Path | None = None) -> None:
    """Grade `specs` with `workers` threads, each job in its own throwaway folder."""
    with tempfile.TemporaryDirectory(prefix="rnn-labs-jobs-", dir=scratch) as folder, \
            ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(run_job, spec, bundles[spec.lab], Path(folder)): spec for spec in specs}
        for future in as_completed(futures):
            on_done(futures[future], future.result())
