"""python -m hub.course_root DIR: an instructor's nbgrader course root on the hub (make hub runs
it as each instructor, for ~/rnn-labs).

DIR gets what the grading command uses for a course root (autograder/course.py: the labs'
source and a config that loads the course settings), then each lab is generated into release/
with its gradebook entry, so that `nbgrader release_assignment lab5` can run in DIR. The
grading command writes its results into the same root (--out DIR), where `nbgrader collect`
put the submissions and `nbgrader release_feedback` looks for the feedback. A course root that
has a gradebook is left as it is.
"""

import sys
from pathlib import Path

from autograder.course import generate_release, make_course_copy

LABS = ["lab5", "lab6"]


def prepare(folder: Path) -> None:
    if (folder / "gradebook.db").exists():
        print(f"course root {folder}: kept as it is")
        return
    make_course_copy(folder, LABS)
    for lab in LABS:
        generate_release(lab, folder)
    print(f"course root {folder}: {', '.join(LABS)} generated, ready to release")


if __name__ == "__main__":
    prepare(Path(sys.argv[1]).resolve())
