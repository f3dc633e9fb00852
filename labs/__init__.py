"""Helpers for the RNN Labs course notebooks.

Modules:
    seeding     one setup call per lab: seeds and device; own_seed() for an experiment's own streams
    waves       seeded sine waves on the course's time grid, sinusoid fitting
    evaluation  the trusted closed-loop evaluator used by the hidden tests
    grading     helpers for nbgrader test cells (quiet execution, scoring)
    plots       plotting helpers that always title and label their axes
    progress    quiet tqdm progress bars on stdout
    checkpoints train_or_load, compute_or_load: ungraded training and experiments are loaded when nbgrader grades
    training    fit(): Adam, clipping, optional cosine learning rate, progress
    dynamics    a generator's closed loop: fixed point, linearisation and eigenvalues, states, principal components
    experiments learning curves and one-step errors of any wave model
    toy_tasks   seeded toy data for Lab 6's problem shapes
    stocks      the price snapshot, the yfinance loader, windows, persistence, forecast scoring
    portable    models as data: torch.export to a program without Python code, and its runner
    rules       the grading rules of both labs (the grader and your self-checks use them)
    budget      the time budget: one thread, 300 s per cell, and a warning
    hidden      the kernel's side of the hidden tests (answers the trusted scorer)
    wire        the message format between kernel, grader and evaluator
"""

from labs import hidden  # noqa: F401  (labs.hidden.respond: the hidden tests' one line)
from labs.seeding import is_grading, own_seed, setup_lab

__all__ = ["is_grading", "own_seed", "setup_lab"]
