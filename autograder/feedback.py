"""The student's feedback page: one summary line per graded part, the scorer's measurements, offline maths.

`PartSummary` (a GenerateFeedback preprocessor, after GetGrades and ClearHiddenTests) gives the
template `resources["labs"]`:
    parts    per graded cell, in notebook order: the part ("Part C (7 points): your model"), what
             the cell checks (its docstring), the points or "pending" (a written answer nobody
             has graded yet), and for an autograded cell the trusted scorer's verdict: its
             message (the first failed check), what it measured, and the rule that made points
    pending  the parts still to be graded by hand, and the points they carry
The verdicts come from jobs/<lab>/<student>/verdicts.json in the course root (the grader writes
them; no kernel can). Measurements are aggregates (an MSE, a ratio): hidden data never appear.
`mathjax_script()` returns MathJax 3 (installed by `make setup` from npm) to inline into the
page, so that formulas render with no network.
"""

import json
import os
import re
import sys
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

REPO = Path(__file__).resolve().parent.parent
MATHJAX_FILE = Path("node", "node_modules", "mathjax", "es5", "tex-svg.js")   # under the venv: `make setup`
MATHJAX_CONFIG = ("window.MathJax = {tex: {inlineMath: [['$', '$'], ['\\\\(', '\\\\)']], processEscapes: true}, "
                  "svg: {fontCache: 'global'}, startup: {typeset: true}};")
POINTS = re.compile(r"\((\d+ points?)\)")
DOCSTRING = re.compile(r'^\s*(?:"""|\'\'\')(.*?)(?:"""|\'\'\')', re.S)

MEASUREMENTS = {                      # name -> how a student reads it
    "mse": "mean MSE {:.2e}", "swapped_mse": "with the recurrent states swapped: MSE {:.2e}",
    "change": "the swap changes the output by {:.1%}", "waves": "on {} fresh cosines",
    "val_mean_mse": "your model on val_waves: mean MSE {:.2e}", "trusted_mse": "your model on val_waves: MSE {:.2e}",
    "max_error": "largest difference {:.1e}", "ratio": "RMSE / persistence RMSE {:.3f}", "days": "on {} hidden days",
    "z": "z = {:.2f}", "contribution": "the states' contribution {:.2f} of a daily move",
}


def describe(measurements: dict) -> str:
    """The scorer's measurements as a short sentence (nested per-ticker ones included)."""
    parts = []
    for name, value in measurements.items():
        if isinstance(value, dict):
            inner = describe(value)
            parts.append(f"{name}: {inner}" if inner else "")
        elif name in MEASUREMENTS and isinstance(value, int | float) and not isinstance(value, bool):
            parts.append(MEASUREMENTS[name].format(value))
    return "; ".join(p for p in parts if p)


def docstring(source: str) -> str:
    match = DOCSTRING.match(source)
    return " ".join(match.group(1).split()) if match else ""


def mathjax_path() -> Path:
    """MathJax's tex-svg.js: $LABS_MATHJAX, else in this environment's venv or the repository's."""
    candidates = [Path(os.environ["LABS_MATHJAX"])] if os.environ.get("LABS_MATHJAX") else []
    candidates += [Path(sys.prefix) / MATHJAX_FILE, REPO / ".venv" / MATHJAX_FILE]
    for path in candidates:
        if path.exists():
            return path
    raise FileNotFoundError(f"MathJax is missing ({candidates[-1]}): run `make setup` (it installs it with npm)")


def mathjax_script() -> str:
    """<script> tags that load MathJax 3 from this page itself (no network)."""
    code = mathjax_path().read_text().replace("</script", "<\\/script")
    return f"<script>{MATHJAX_CONFIG}</script>\n<script>{code}</script>"


def part_name(markdown: str, heading: str, section: str) -> tuple[str, str]:
    """(the part's name, the latest heading) after a markdown cell: "## Part C (7 points): your
    model" names the cells below it; so does a heading or a "**Your turn (1 point).**" paragraph
    inside a lecture section ("The LSTM: your turn (1 point)")."""
    fenced, lines = False, []
    for line in markdown.splitlines():
        fenced ^= line.strip().startswith("```")
        if not fenced and line.startswith("#"):
            lines.append(line.strip())
    for line in lines:
        section = line.lstrip("# ").strip().replace("`", "")
        if line.startswith("## Part") or POINTS.search(line):
            heading = section
    first = markdown.strip().splitlines()[0] if markdown.strip() else ""
    if not first.startswith("#") and (points := POINTS.search(first)):
        heading = f"{section}: your turn ({points.group(1)})"
    return heading, section


class PartSummary(NbGraderPreprocessor):
    """Collect resources["labs"] = {"parts": [...], "pending": [...], "mathjax": <script>}."""

    verdicts_folder = Unicode("jobs", help="where the grader keeps <lab>/<student>/verdicts.json, "
                                           "relative to the course root").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        verdicts_path = Path.cwd() / self.verdicts_folder / info["assignment"] / info["student"] / "verdicts.json"
        verdicts = json.loads(verdicts_path.read_text()) if verdicts_path.exists() else {}
        parts, heading, section = [], "", ""
        with Gradebook(info["db_url"]) as gradebook:
            for cell in nb.cells:
                meta = cell.metadata.get("nbgrader", {})
                if cell.cell_type == "markdown" and not meta.get("solution"):     # the release's text only
                    heading, section = part_name(cell.source, heading, section)
                if not meta.get("grade"):
                    continue
                try:
                    grade = gradebook.find_grade(meta["grade_id"], info["notebook"], info["assignment"],
                                                 info["student"])
                except MissingEntry:
                    continue
                verdict = verdicts.get(meta["grade_id"], {})
                written = cell.cell_type == "markdown"
                parts.append({
                    "id": meta["grade_id"], "part": heading, "checks": "graded by hand" if written
                    else docstring(cell.source), "points": grade.max_score, "score": grade.score,
                    "pending": bool(grade.needs_manual_grade), "message": verdict.get("message", ""),
                    "measured": describe(verdict.get("measurements", {})), "rule": verdict.get("rule", "")})
        resources["labs"] = {"parts": parts, "pending": [p for p in parts if p["pending"]],
                             "mathjax": mathjax_script()}
        return nb, resources
