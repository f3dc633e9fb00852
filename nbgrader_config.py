"""nbgrader configuration of the course root (this repository). Run nbgrader from here."""

import os

c = get_config()  # noqa: F821
load_subconfig(os.path.join(os.path.dirname(os.path.abspath(__file__)), "autograder", "nbgrader_settings.py"))  # noqa: F821
