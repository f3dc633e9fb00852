"""nbgrader exchange plugins of the course hub (selected in hub/config/common/nbgrader_config.py).

They run in the users' own processes (a student's Assignment List, the instructor's commands)
and change only the permissions that nbgrader 0.9.6 gives what they write:
    PrivateSubmit          a submission folder in the inbound folder is 0770 instead of 0777:
                           its group is the course's instructors (the inbound folder is setgid),
                           so they can collect and remove it, and no student can enter it, let
                           alone read or change a file in it, even knowing its name (#978).
    PrivateReleaseFeedback each released feedback file gets its student's private group and
                           mode 0640 instead of 0644: only that student (and the instructors,
                           members of every student's group) can read it, name known or not.
"""

import glob
import grp
import os
import pwd
from pathlib import Path

from nbgrader.exchange.default.release_feedback import ExchangeReleaseFeedback
from nbgrader.exchange.default.submit import ExchangeSubmit
from nbgrader.utils import notebook_hash


class PrivateSubmit(ExchangeSubmit):
    def copy_files(self):
        super().copy_files()
        (Path(self.inbound_path) / self.assignment_filename).chmod(0o770)


class PrivateReleaseFeedback(ExchangeReleaseFeedback):
    def copy_files(self):
        super().copy_files()
        for html in map(Path, glob.glob(os.path.join(self.src_path, "*.html"))):   # as nbgrader finds them
            secret = (html.parent / "submission_secret.txt").read_text()
            released = Path(self.dest_path) / f"{notebook_hash(secret=secret, notebook_id=html.stem)}.html"
            if released.exists():
                self.restrict(released, student=html.parent.parent.name)

    def restrict(self, released: Path, student: str) -> None:
        """Give `released` to `student`'s private group, readable by that group only."""
        try:
            group = grp.getgrgid(pwd.getpwnam(student).pw_gid)
            if group.gr_name != student:
                raise KeyError(student)
            os.chown(released, -1, group.gr_gid)
        except (KeyError, PermissionError):
            self.log.warning("%s has no private group of which you are a member: their feedback stays readable "
                             "to whoever knows its name (run make hub again, then log in again)", student)
            return
        released.chmod(0o640)
