"""Progress bars that stay quiet: stdout only, and off under nbgrader or LABS_QUIET=1."""

import os
import sys

from tqdm import tqdm


def quiet_mode() -> bool:
    """True under nbgrader execution or when LABS_QUIET is set to a non-empty value."""
    return bool(os.environ.get("NBGRADER_EXECUTION") or os.environ.get("LABS_QUIET"))


def progress(iterable, desc: str = "", total: int | None = None):
    """Wrap `iterable` in a tqdm bar on stdout, never stderr, that clears itself when done."""
    return tqdm(
        iterable,
        desc=desc,
        total=total,
        file=sys.stdout,
        leave=False,
        mininterval=1.0,
        disable=quiet_mode(),
    )
