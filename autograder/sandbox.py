"""Kernel launcher for grading as root: the student's kernel cannot see what it must not read.

The grader points nbgrader at a `python3` kernelspec whose argv is
    python autograder/sandbox.py {connection_file}
and lists in LABS_SANDBOX_HIDE the paths a kernel must not read: autograder/hidden/, the
course's gradebooks, source/, the other submissions. This script (still root) moves into a
mount namespace of its own, covers each of those paths with an empty tmpfs (a file with
/dev/null), and then becomes ipykernel with an empty capability bounding set, so the kernel
cannot unmount the covers. The grader and the other workers see the real files.

What it does not do: the kernel still runs as uid 0 without capabilities, so it can write
files that root owns; grade untrusted classes in a container or VM as well (README, "Trust").
"""

import ctypes
import os
import subprocess
import sys

CLONE_NEWNS = 0x00020000


def main() -> None:
    connection_file = sys.argv[1]
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS) failed")
    subprocess.run(["mount", "--make-rprivate", "/"], check=True)
    for path in filter(None, os.environ.pop("LABS_SANDBOX_HIDE", "").split(os.pathsep)):
        if os.path.isdir(path):
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,mode=000", "hidden", path], check=True)
        elif os.path.exists(path):
            subprocess.run(["mount", "--bind", "/dev/null", path], check=True)
    os.execvp("setpriv", ["setpriv", "--bounding-set", "-all", "--inh-caps", "-all", "--no-new-privs",
                          sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])


if __name__ == "__main__":
    main()
