"""Helpers for nbgrader test cells: run student code quietly, turn a metric into points."""

import contextlib
import importlib
import math
import os
import random
import sys
import warnings

import numpy as np
import torch


@contextlib.contextmanager
def quiet():
    """Silence warnings and everything written to stderr, at the Python and the file-descriptor level.

    nbgrader gives 0 to a test cell with any stderr output, so hidden tests call student code
    inside this block: a correct answer that warns must not lose points.
    """
    sys.stderr.flush()
    saved_fd = os.dup(2)
    with open(os.devnull, "w") as devnull, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(devnull.fileno(), 2)
        try:
            with contextlib.redirect_stderr(devnull):
                yield
        finally:
            sys.stderr.flush()
            os.dup2(saved_fd, 2)
            os.close(saved_fd)


@contextlib.contextmanager
def preserved_rng():
    """Restore the random streams of Python, NumPy and PyTorch (CPU and CUDA) on exit."""
    python_state, numpy_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        try:
            yield
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)


# Libraries whose functions the checks rely on. setup_lab() remembers them before any student
# code runs; checks() puts back whatever a submission replaced (np.allclose = lambda *a: True).
GUARDED = ("builtins", "math", "numpy", "numpy.linalg", "torch", "torch.nn.functional",
           "labs.evaluation", "labs.grading", "labs.hidden", "labs.stocks", "labs.waves")
_pristine: dict[str, tuple[object, dict]] = {}


def _namespace(name: str):
    return torch.Tensor if name == "torch.Tensor" else importlib.import_module(name)


def remember_library() -> None:
    """Record the modules in GUARDED (and torch.Tensor's methods) as they are now."""
    for name in (*GUARDED, "torch.Tensor"):
        space = _namespace(name)
        _pristine[name] = (space, {attr: (value, getattr(value, "__code__", None))
                                   for attr, value in vars(space).items() if callable(value)})


def restore_library() -> list[str]:
    """Undo replaced modules, functions and function code since remember_library(); returns what was undone."""
    restored = []
    for name, (space, attributes) in _pristine.items():
        if name in sys.modules and sys.modules[name] is not space:
            sys.modules[name] = space
            restored.append(name)
        for attr, (value, code) in attributes.items():
            if vars(space).get(attr) is not value:
                setattr(space, attr, value)
                restored.append(f"{name}.{attr}")
            elif code is not None and value.__code__ is not code:
                value.__code__ = code
                restored.append(f"{name}.{attr}.__code__")
        if isinstance(space, type):             # a method added to torch.Tensor shadows the C one
            for attr in [a for a, v in vars(space).items() if callable(v) and a not in attributes]:
                delattr(space, attr)
                restored.append(f"{name}.{attr}")
    return restored


@contextlib.contextmanager
def checks():
    """The block every test cell runs its checks in: quiet, invisible to the random streams, and
    with the libraries as setup_lab() found them.

    Student code called here may warn without losing points, and the checks draw no random
    numbers that the student's later cells would miss: a notebook trains the same model
    whether the hidden tests ran before it (grading) or not (the student's own run). A
    submission that replaced numpy, torch or labs functions gets the originals back first.
    """
    restore_library()
    with preserved_rng(), quiet():
        yield


def clamp_points(value: float, points: float) -> float:
    """`value` clipped to [0, points]; NaN gives 0. nbgrader fails a cell whose score exceeds its points."""
    value = float(value)
    if math.isnan(value):
        return 0.0
    return float(min(max(value, 0.0), points))


def log_linear_score(error: float, points: float, full_at: float, zero_at: float) -> float:
    """Full points at `error <= full_at`, none at `error >= zero_at`, linear in log(error) between."""
    if not 0 < full_at < zero_at:
        raise ValueError("need 0 < full_at < zero_at")
    error = float(error)
    if not math.isfinite(error) or error >= zero_at:
        return 0.0
    if error <= full_at:
        return float(points)
    fraction = math.log(zero_at / error) / math.log(zero_at / full_at)
    return clamp_points(points * fraction, points)


def linear_score(error: float, points: float, full_at: float, zero_at: float) -> float:
    """Full points at `error <= full_at`, none at `error >= zero_at`, linear between."""
    if not full_at < zero_at:
        raise ValueError("need full_at < zero_at")
    error = float(error)
    if not math.isfinite(error):
        return 0.0
    return clamp_points(points * (zero_at - error) / (zero_at - full_at), points)
