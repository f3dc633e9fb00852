"""Helpers for the RNN Labs course notebooks.

Modules:
    seeding     one setup call per lab: seeds and device
    waves       seeded sine waves on the course's time grid, sinusoid fitting
    evaluation  the trusted closed-loop evaluator used by the hidden tests
    grading     helpers for nbgrader test cells (quiet execution, scoring)
    plots       plotting helpers that always title and label their axes
    progress    quiet tqdm progress bars on stdout
"""

from labs.seeding import is_grading, setup_lab

__all__ = ["is_grading", "setup_lab"]
