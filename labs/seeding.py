"""One setup call per lab: fix every seed and pick the device."""

import contextlib
import os
import random

import numpy as np
import torch


def is_grading() -> bool:
    """True while nbgrader executes the notebook (autograde or validate)."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def pick_device() -> torch.device:
    """The first CUDA GPU when one is there, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def setup_lab(seed: int = 0, verbose: bool = True, threads: int = 1) -> torch.device:
    """Seed `random`, NumPy and PyTorch, make cuDNN deterministic, return the device.

    Call it once, in the lab's setup cell. Calling it again with the same seed restarts every
    random stream from the same point. It also runs torch on `threads` CPU threads (one, as
    the grader does: your timings are the grader's, see labs.budget) and times every cell.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(threads)
    device = pick_device()
    from labs import budget
    from labs.grading import remember_library

    remember_library()  # numpy, torch and labs as they are before any student code
    budget.track()
    if verbose:
        print(f"seed {seed}, device {device.type}, torch {torch.__version__.split('+')[0]}")
    return device


@contextlib.contextmanager
def own_seed(seed: int):
    """Run a block on its own random streams (random, NumPy, PyTorch), all seeded with `seed`.

    On exit the streams outside continue exactly where they were, so a lecture experiment draws
    the same numbers wherever it runs, and the cells after it draw what they drew without it.
    """
    from labs.grading import preserved_rng

    with preserved_rng():
        random.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        yield
