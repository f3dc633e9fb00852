"""One time budget, the grader's: each cell may run CELL_LIMIT_S seconds, on one CPU thread.

The grader runs every notebook with one torch thread and stops a cell after CELL_LIMIT_S
seconds (nbgrader's per-cell limit, the same for Validate). setup_lab() gives your notebook the
same single thread and starts timing every cell, so what you measure is what the grader will
see (on a machine about as fast as yours); warn_if_slow() tells you when a cell came close.
"""

import time

CELL_LIMIT_S = 300
WARN_AT = 0.8
_cells: list[tuple[float, str]] = []          # (seconds, first line) of every finished cell
_started: dict = {}


def _pre_run(info) -> None:
    _started["cell"] = (time.monotonic(), (info.raw_cell.strip().splitlines() or [""])[0][:80])


def _post_run(result) -> None:
    if "cell" in _started:
        start, line = _started.pop("cell")
        _cells.append((time.monotonic() - start, line))


def track() -> None:
    """Time every later cell of this IPython session (once; outside IPython, nothing)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None and _post_run not in shell.events.callbacks["post_run_cell"]:
        shell.events.register("pre_run_cell", _pre_run)
        shell.events.register("post_run_cell", _post_run)


def slowest() -> tuple[float, str]:
    """(seconds, first line) of the slowest cell so far, or (0, "")."""
    return max(_cells, default=(0.0, ""))


def warn_if_slow() -> None:
    """Print a warning (stdout) when a cell took more than WARN_AT of the grader's per-cell limit."""
    seconds, line = slowest()
    if seconds > WARN_AT * CELL_LIMIT_S:
        print(f"WARNING: a cell took {seconds:.0f} s ({line!r}); the grader stops any cell at {CELL_LIMIT_S} s "
              "on one CPU thread. Train for less time, or save the trained weights and load them.")
