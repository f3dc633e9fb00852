"""nbgrader's exchange folder for the course, with permissions that keep students apart.

    <root>/                  root:root           1777  nbgrader checks that every user can write here;
                                                       the sticky bit stops a student from renaming or
                                                       replacing the course folder (nbgrader #1225)
    <root>/<course>/         instructor:INSTR    0755
        outbound/            instructor:INSTR    0755  released labs, readable by everyone
        inbound/             instructor:INSTR    3733  students can add a submission but not list the
                                                       folder; sticky: nor rename or delete another's;
                                                       setgid: each submission belongs to INSTR
        feedback/            instructor:INSTR    0711  not listable; each file is readable by its
                                                       student's private group only (hub/plugins.py)

nbgrader's own defaults differ where it matters: a 0777 root, submissions 0777 with files 0644
(nbgrader #978), feedback files 0644. With them, whoever learns a submission's or a feedback
file's name can read it, and a student can rename the course folder and put a fake one in its
place that receives the others' submissions. hub/plugins.py closes the submissions and the
feedback; `prepare` sets up (and repairs) the folders above on every `make hub`.
"""

import grp
import os
import pwd
from pathlib import Path

from traitlets.config.loader import PyFileConfigLoader

from hub.roster import INSTRUCTORS, REPO

MODES = {"outbound": 0o755, "inbound": 0o3733, "feedback": 0o711}


def course_id() -> str:
    """The course id of the course settings (autograder/nbgrader_settings.py): the exchange's course folder."""
    settings = PyFileConfigLoader("nbgrader_settings.py", path=str(REPO / "autograder")).load_config()
    return settings.CourseDirectory.course_id


def _own(path: Path, user: str, mode: int) -> None:
    path.mkdir(exist_ok=True)
    os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(INSTRUCTORS).gr_gid)
    os.chmod(path, mode)


def prepare(root: Path, course: str, instructor: str) -> Path:
    """Create or repair the exchange of `course` under `root` (as root); return the course folder."""
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, 0, 0)
    os.chmod(root, 0o1777)
    folder = root / course
    _own(folder, instructor, 0o755)
    for name, mode in MODES.items():
        _own(folder / name, instructor, mode)
    return folder
