"""nbgrader settings shared by every course root of this project.

Loaded by the repository's nbgrader_config.py and by the grading driver's course copies.
See ../shared/NBGRADER_NOTES.md for why each line is here.
"""

import os
import sys

c = get_config()  # noqa: F821  (provided by traitlets when nbgrader loads this file)
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
from autograder.feedback import PartSummary  # noqa: E402
from autograder.preprocessors import DropKernelResults, ShortenTracebacks, StripTestMarkers  # noqa: E402
from labs.budget import CELL_LIMIT_S  # noqa: E402

c.CourseDirectory.course_id = "rnn-labs"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# Every notebook runs on the python3 kernelspec, whatever the submission's metadata says.
c.ExecutePreprocessor.kernel_name = "python3"
c.Execute.kernel_name = "python3"

# One time budget (labs.budget): a cell may run 300 s, for Validate as for the grader; the
# default 30 s would stop any training.
c.Execute.timeout = CELL_LIMIT_S
c.ExecutePreprocessor.timeout = CELL_LIMIT_S

# Student stubs.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# The student version carries no maintainer markers (# NBVAL_IGNORE_OUTPUT for nbval).
c.GenerateAssignment.preprocessors = [
    "nbgrader.preprocessors.IncludeHeaderFooter",
    "nbgrader.preprocessors.InstantiateTests",
    "nbgrader.preprocessors.LockCells",
    "nbgrader.preprocessors.ClearSolutions",
    "nbgrader.preprocessors.ClearOutput",
    StripTestMarkers,
    "nbgrader.preprocessors.CheckCellMetadata",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.SaveCells",
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbgrader.preprocessors.ClearMarkScheme",
    "nbgrader.preprocessors.ComputeChecksums",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# A deleted graded cell is put back and graded instead of staying "needs manual grade".
c.OverwriteCells.add_missing_cells = True

# Autograde: nbgrader never reads a score from the kernel (the trusted scorer decides them).
c.Autograde.autograde_preprocessors = [
    "nbgrader.preprocessors.Execute",
    DropKernelResults,
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Feedback keeps scores but never shows hidden tests, not even quoted in a traceback; it opens
# with a summary of every graded part (autograder/feedback.py), renders maths offline, and
# sanitizes the HTML that a kernel printed.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbgrader.preprocessors.ClearHiddenTests",
    ShortenTracebacks,
    PartSummary,
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
c.HTMLExporter.template_name = "labs_feedback"
c.HTMLExporter.extra_template_basedirs = [os.path.join(REPO, "autograder", "templates")]
c.HTMLExporter.sanitize_html = True
