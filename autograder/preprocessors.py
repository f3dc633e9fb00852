"""nbgrader preprocessors of this course: what nbgrader may not read from the kernel, or show.

    DropKernelResults   (autograde, right after Execute) a graded test cell's execute_result
                        outputs are dropped: nbgrader would read the first one as partial credit,
                        and a value above the cell's points makes its autograde fail for that
                        student. Points come from the trusted scorer (autograder/scorer.py) only.
    ShortenTracebacks   (feedback) a failed test cell shows its error message, never the
                        traceback, which would quote the cell's hidden lines.
    StripTestMarkers    (generate_assignment) the maintainers' `# NBVAL_...` comments (nbval's
                        cell markers, see tests/test_notebooks.py) stay out of the student version.
"""

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution


class DropKernelResults(NbGraderPreprocessor):
    """Remove the execute_result outputs of every graded test cell (the kernel's claims)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_grade(cell) and not is_solution(cell):
            cell.outputs = [output for output in cell.get("outputs", []) if output.output_type != "execute_result"]
        return cell, resources


class ShortenTracebacks(NbGraderPreprocessor):
    """Replace the traceback of every error output of a graded test cell by 'ErrorName: message'."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and is_grade(cell):
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    output.traceback = [f"{output.ename}: {output.evalue}"]
        return cell, resources


class StripTestMarkers(NbGraderPreprocessor):
    """Remove the lines that are only an nbval marker comment (# NBVAL_IGNORE_OUTPUT and the like)."""

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code":
            cell.source = "\n".join(line for line in cell.source.splitlines() if not line.startswith("# NBVAL_"))
        return cell, resources
