"""What grading produced, for people: grades.csv, report.html with its PNGs, a terminal summary."""

import csv
import html
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CSV_FIELDS = ("student", "lab", "status", "score", "max_score", "auto_score", "auto_max", "manual_max",
              "seconds", "peak_mb", "sandbox", "reason",
              "timestamp", "seconds_late")  # submitted at (UTC, nbgrader's timestamp.txt); seconds past the due date


def write_grades_csv(rows: list[dict], parts: dict[str, list[str]], path: Path) -> None:
    """One row per (student, lab): totals, status and reason, then one column per graded part."""
    part_columns = [part for lab in sorted(parts) for part in parts[lab]]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*CSV_FIELDS, *part_columns])
        for row in rows:
            cells = row.get("cells", {})
            writer.writerow([_fmt(row.get(name)) for name in CSV_FIELDS]
                            + [_fmt(cells[part][0]) if part in cells else "" for part in part_columns])


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def plot_histograms(rows: list[dict], labs: list[str], folder: Path) -> list[str]:
    names = []
    for lab in labs:
        scores = [r["auto_score"] for r in rows if r["lab"] == lab]
        auto_max = max([r["auto_max"] for r in rows if r["lab"] == lab] or [1])
        figure, axes = plt.subplots(figsize=(6, 3.5))
        axes.hist(scores, bins=np.linspace(0, auto_max, 14), color="tab:blue", edgecolor="white")
        axes.set(title=f"{lab}: auto-graded scores ({len(scores)} submissions)",
                 xlabel=f"score (of {auto_max:g} auto-graded points)", ylabel="submissions")
        figure.tight_layout()
        name = f"histogram_{lab}.png"
        figure.savefig(folder / name, dpi=100)
        plt.close(figure)
        names.append(name)
    return names


def plot_pass_rates(rows: list[dict], parts: dict[str, list[str]], max_points: dict, folder: Path) -> str:
    labels, rates = [], []
    for lab in sorted(parts):
        lab_rows = [r for r in rows if r["lab"] == lab]
        for part in parts[lab]:
            full = [r["cells"].get(part, (0, 0))[0] or 0 for r in lab_rows]
            rates.append(100 * np.mean([score >= max_points[part] - 1e-9 for score in full]) if full else 0)
            labels.append(part)
    figure, axes = plt.subplots(figsize=(7, 0.35 * len(labels) + 1.2))
    axes.barh(labels[::-1], rates[::-1], color="tab:green")
    axes.set(title="Share of submissions with full marks, per graded part", xlabel="full marks (%)",
             ylabel="graded part", xlim=(0, 100))
    figure.tight_layout()
    figure.savefig(folder / "pass_rates.png", dpi=100)
    plt.close(figure)
    return "pass_rates.png"


def plot_resources(rows: list[dict], folder: Path) -> str:
    timed = [r for r in rows if r.get("seconds") is not None]
    labels = [f"{r['student']} / {r['lab']}" for r in timed]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 0.3 * len(labels) + 1.5), sharey=True)
    left.barh(labels[::-1], [r["seconds"] for r in timed][::-1], color="tab:orange")
    left.set(title="Wall time per submission", xlabel="seconds", ylabel="submission")
    right.barh(labels[::-1], [r["peak_mb"] or 0 for r in timed][::-1], color="tab:purple")
    right.set(title="Peak memory per submission", xlabel="MB (nbgrader and kernel)")
    figure.tight_layout()
    figure.savefig(folder / "resources.png", dpi=100)
    plt.close(figure)
    return "resources.png"


CAUSES = (  # the attention list's groups, in order: (title, does this row belong to it?)
    ("killed at a limit", lambda r: r["status"] in ("timed out", "out of memory", "too many processes")),
    ("not graded by nbgrader", lambda r: r["status"] == "not graded"),
    ("refused, missing or corrupted at intake", lambda r: r["status"] in ("refused", "missing", "corrupted")),
    ("tampered with test cells", lambda r: "edited cell" in r["reason"] or "deleted cell" in r["reason"]),
    ("flagged code (a hint for review)", lambda r: "suspicious code" in r["reason"]),
    ("graded without a sandbox", lambda r: r.get("sandbox") == "off"),
    ("other notes", lambda r: r["status"] == "graded" and bool(r["reason"])),
)
SORT_AND_FILTER = """
document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => {
  const column = th.cellIndex, body = th.closest("table").tBodies[0], rows = [...body.rows];
  const descending = th.dataset.order === "ascending";
  th.closest("tr").querySelectorAll("th").forEach(other => delete other.dataset.order);
  th.dataset.order = descending ? "descending" : "ascending";
  const key = row => { const text = row.cells[column].dataset.value ?? row.cells[column].textContent.trim();
                       const number = parseFloat(text); return isNaN(number) ? text.toLowerCase() : number; };
  rows.sort((a, b) => { const x = key(a), y = key(b);
    const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : (typeof x === "number" ? -1 : 1);
    return descending ? -order : order; });
  rows.forEach(row => body.appendChild(row));
}));
function applyFilters() {
  const text = document.getElementById("filter").value.toLowerCase();
  const lab = document.getElementById("lab-filter").value, status = document.getElementById("status-filter").value;
  let shown = 0;
  document.querySelectorAll("#submissions tbody tr").forEach(row => {
    const visible = row.textContent.toLowerCase().includes(text) && (!lab || row.dataset.lab === lab)
                    && (!status || row.dataset.status === status);
    row.hidden = !visible; shown += visible;
  });
  document.getElementById("shown").textContent = shown;
}
["filter", "lab-filter", "status-filter"].forEach(
  id => document.getElementById(id).addEventListener("input", applyFilters));
"""
STYLE = """body{font-family:sans-serif;max-width:1200px;margin:auto;padding:0 1em}
td,th{padding:2px 8px;text-align:left;vertical-align:top} tr:nth-child(even){background:#f3f3f3}
th{cursor:pointer;white-space:nowrap}
th[data-order=ascending]::after{content:" \\25B2"} th[data-order=descending]::after{content:" \\25BC"}
td.num{text-align:right} .zero{color:#b00} .full{color:#070} small{color:#555}
@media print{.interactive,img{display:none} body{max-width:none}}"""


def _part_statistics(rows: list[dict], lab: str, part: str, points: float) -> dict:
    """Score distribution (full / partial / zero), pass rate and the most common failure message of one part."""
    graded = [r for r in rows if r["lab"] == lab and r["status"] == "graded"]
    scores = [(r["cells"].get(part, (0, 0))[0] or 0) for r in graded]
    failures = Counter(r.get("verdicts", {}).get(part, {}).get("message", "") for r in graded
                       if (r["cells"].get(part, (0, 0))[0] or 0) < points)
    failures.pop("", None)
    common = failures.most_common(1)
    return {"full": sum(s >= points - 1e-9 for s in scores), "partial": sum(0 < s < points - 1e-9 for s in scores),
            "zero": sum(s <= 0 for s in scores), "pass_rate": (np.mean([s >= points - 1e-9 for s in scores])
                                                              if scores else 0.0),
            "mean": float(np.mean(scores)) if scores else 0.0,
            "failure": f"{common[0][0]} ({common[0][1]}x)" if common else ""}


def _summary_section(rows: list[dict], parts: dict, max_points: dict, labs: list[str], manual: dict) -> str:
    """The printable summary: counts, mean and median per lab, pass rate per part."""
    escape = html.escape
    statuses = Counter(r["status"] for r in rows)
    lines = [f"<p>{len(rows)} submissions: " + ", ".join(f"{n} {escape(s)}" for s, n in sorted(statuses.items()))
             + "</p><table><tr><th>lab</th><th>submissions</th><th>graded</th><th>mean</th><th>median</th>"
             "<th>of</th></tr>"]
    for lab in labs:
        lab_rows = [r for r in rows if r["lab"] == lab]
        scores = [r["auto_score"] for r in lab_rows if r["status"] == "graded"]
        auto_max = max([r["auto_max"] for r in lab_rows] or [0])
        mean, median = (f"{np.mean(scores):.2f}", f"{np.median(scores):.2f}") if scores else ("-", "-")
        lines.append(f"<tr><td>{lab}</td><td>{len(lab_rows)}</td><td>{len(scores)}</td><td>{mean}</td>"
                     f"<td>{median}</td><td>{auto_max:g}</td></tr>")
    lines.append("</table><h3>Per graded part</h3><table class='sortable' id='parts'><thead><tr><th>lab</th>"
                 "<th>part</th><th>points</th><th>full marks</th><th>partial</th><th>zero</th><th>mean</th>"
                 "<th>most common failure</th></tr></thead><tbody>")
    for lab in labs:
        for part in parts.get(lab, []):
            if part in manual:
                lines.append(f"<tr><td>{lab}</td><td>{escape(part)}</td><td class='num'>{max_points[part]:g}</td>"
                             "<td colspan='5'>graded by hand in the formgrader</td></tr>")
                continue
            stats = _part_statistics(rows, lab, part, max_points[part])
            lines.append(f"<tr><td>{lab}</td><td>{escape(part)}</td><td class='num'>{max_points[part]:g}</td>"
                         f"<td class='num' data-value='{stats['pass_rate']:.4f}'>{stats['pass_rate']:.0%} "
                         f"({stats['full']})</td><td class='num'>{stats['partial']}</td><td class='num'>"
                         f"{stats['zero']}</td><td class='num'>{stats['mean']:.2f}</td>"
                         f"<td>{escape(stats['failure'][:160])}</td></tr>")
    return "\n".join(lines) + "</tbody></table>"


def _attention_section(rows: list[dict]) -> str:
    escape, groups = html.escape, []
    for title, belongs in CAUSES:
        members = [r for r in rows if r["attention"] and belongs(r)]
        if members:
            items = "".join(f"<li><b>{escape(r['student'])} / {r['lab']}</b> ({escape(r['status'])}): "
                            f"{escape(r['reason'])}</li>" for r in members)
            groups.append(f"<h3>{escape(title)} ({len(members)})</h3><ul>{items}</ul>")
    return "".join(groups) or "<p>none</p>"


def _submissions_table(rows: list[dict], parts: dict, labs: list[str]) -> str:
    escape = html.escape
    columns = [part for lab in labs for part in parts.get(lab, [])]
    header = "".join(f"<th>{escape(name)}</th>" for name in
                     ("student", "lab", "status", "auto", "of", "seconds", "peak MB", "sandbox", *columns, "notes"))
    body = []
    for r in rows:
        cells = "".join(_score_cell(r["cells"].get(part)) if part in parts.get(r["lab"], []) else "<td></td>"
                        for part in columns)
        body.append(f"<tr data-lab='{r['lab']}' data-status='{escape(r['status'])}'><td>{escape(r['student'])}</td>"
                    f"<td>{r['lab']}</td><td>{escape(r['status'])}</td><td class='num'>{_fmt(r['auto_score'])}</td>"
                    f"<td class='num'>{_fmt(r['auto_max'])}</td><td class='num'>{_fmt(r.get('seconds'))}</td>"
                    f"<td class='num'>{_fmt(r.get('peak_mb'))}</td><td>{escape(r.get('sandbox', ''))}</td>{cells}"
                    f"<td><small>{escape(r['reason'])}</small></td></tr>")
    return (f"<table class='sortable' id='submissions'><thead><tr>{header}</tr></thead><tbody>"
            + "".join(body) + "</tbody></table>")


def _score_cell(cell) -> str:
    if not cell or cell[0] is None:
        return "<td class='num' data-value='-1'>-</td>"
    score, points = cell
    kind = "full" if points and score >= points - 1e-9 else "zero" if score <= 0 else ""
    return f"<td class='num {kind}'>{_fmt(float(score))}</td>"


def write_report(rows: list[dict], parts: dict, max_points: dict, labs: list[str], folder: Path,
                 summary: str, settings: str, manual: dict) -> Path:
    """report.html and its PNGs in `folder`: a printable summary, the attention list by cause, the
    graded parts, a sortable and filterable table of every submission, time and memory."""
    images = [*plot_histograms(rows, labs, folder), plot_pass_rates(rows, parts, max_points, folder),
              plot_resources(rows, folder)]
    escape = html.escape
    attention = [r for r in rows if r["attention"]]
    statuses = "".join(f"<option>{escape(s)}</option>" for s in sorted({r["status"] for r in rows}))
    lab_options = "".join(f"<option>{lab}</option>" for lab in labs)
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Grade report</title>
<style>{STYLE}</style></head><body>
<h1>Grade report</h1><p>{escape(summary)}</p><p><small>{escape(settings)}</small></p>
<p class="interactive"><a href="javascript:window.print()">Print the summary</a></p>
<h2>Summary</h2>{_summary_section(rows, parts, max_points, labs, manual)}
<h2>Needs attention ({len(attention)})</h2>{_attention_section(rows)}
<div class="interactive"><h2>Scores</h2>{''.join(f'<img src="{name}" alt="{name}">' for name in images[:len(labs)])}
<img src="{images[-2]}" alt="pass rates"></div>
<div class="interactive"><h2>Submissions (<span id="shown">{len(rows)}</span> shown)</h2>
<p><input id="filter" placeholder="filter: student, status, note..." size="40">
<select id="lab-filter"><option value="">every lab</option>{lab_options}</select>
<select id="status-filter"><option value="">every status</option>{statuses}</select>
<small>click a column to sort</small></p>
{_submissions_table(rows, parts, labs)}
<h2>Time and memory</h2><img src="{images[-1]}" alt="time and memory"></div>
<script>{SORT_AND_FILTER}</script>
</body></html>"""
    path = folder / "report.html"
    path.write_text(page)
    return path


def read_grades_csv(path: Path) -> dict[tuple[str, str], dict]:
    """grades.csv back as {(student, lab): row}, with floats and a {part: (score, None)} map of cells."""
    rows = {}
    with open(path, newline="") as handle:
        for raw in csv.DictReader(handle):
            number = {name: float(raw[name]) if raw[name] else None
                      for name in ("score", "max_score", "auto_score", "auto_max", "seconds", "peak_mb",
                                   "seconds_late")}
            cells = {name: (float(value), None) for name, value in raw.items()
                     if name not in CSV_FIELDS and value != ""}
            rows[(raw["student"], raw["lab"])] = {**raw, **number, "cells": cells}
    return rows
