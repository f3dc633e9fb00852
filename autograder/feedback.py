"""Feedback preprocessor: a failed test cell shows its error message, never the traceback.

IPython tracebacks quote the source lines around the failing statement, so a failing hidden
assertion would print hidden test code into the student's feedback even after
ClearHiddenTests removed it from the cell. Our assertion messages say what was wrong without
hidden data; the traceback adds nothing a student may see.
"""

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade


class ShortenTracebacks(NbGraderPreprocessor):
    """Replace the traceback of every error output of a graded test cell by 'ErrorName: message'."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources
