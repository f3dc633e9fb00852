"""nbgrader settings of an instructor on the hub: the formgrader works on their course root."""

import os

c = get_config()  # noqa: F821
c.CourseDirectory.root = os.path.expanduser("~/rnn-labs")  # hub/roster.py's COURSE_ROOT, made by make hub
