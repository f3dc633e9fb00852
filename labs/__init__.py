"""Helpers for the RNN Labs course notebooks.

Modules:
    seeding     one setup call per lab: seeds and device
    waves       seeded sine waves on the course's time grid, sinusoid fitting
    evaluation  the trusted closed-loop evaluator used by the hidden tests
    grading     helpers for nbgrader test cells (quiet execution, scoring)
    plots       plotting helpers that always title and label their axes
    progress    quiet tqdm progress bars on stdout
    checkpoints train_or_load: ungraded training is loaded when nbgrader grades
    training    fit(): Adam, clipping, optional cosine learning rate, progress
    toy_tasks   seeded toy data for Lab 6's problem shapes
    stocks      the price snapshot, the yfinance loader, windows, persistence, forecast scoring
"""

from labs.seeding import is_grading, setup_lab

__all__ = ["is_grading", "setup_lab"]
