"""What grading produced, for people: grades.csv, report.html with its PNGs, a terminal summary."""

import csv
import html
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


def write_report(rows: list[dict], parts: dict, max_points: dict, labs: list[str], folder: Path,
                 summary: str, settings: str) -> Path:
    """report.html and its PNGs in `folder`."""
    images = [*plot_histograms(rows, labs, folder), plot_pass_rates(rows, parts, max_points, folder),
              plot_resources(rows, folder)]
    attention = [r for r in rows if r["attention"]]
    escape = html.escape
    table = "".join(
        f"<tr><td>{escape(r['student'])}</td><td>{r['lab']}</td><td>{escape(r['status'])}</td>"
        f"<td>{_fmt(r['auto_score'])} / {_fmt(r['auto_max'])}</td><td>{_fmt(r.get('seconds'))}</td>"
        f"<td>{_fmt(r.get('peak_mb'))}</td><td>{escape(r['reason'])}</td></tr>" for r in rows)
    todo = "".join(f"<li><b>{escape(r['student'])} / {r['lab']}</b> ({escape(r['status'])}): "
                   f"{escape(r['reason'])}</li>" for r in attention) or "<li>none</li>"
    page = f"""<!DOCTYPE html><html><head><meta charset="utf-8"><title>Grade report</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:auto}} td,th{{padding:2px 8px;text-align:left}}
tr:nth-child(even){{background:#f3f3f3}}</style></head><body>
<h1>Grade report</h1><p>{escape(summary)}</p><p><small>{escape(settings)}</small></p>
<h2>Needs attention ({len(attention)})</h2><ul>{todo}</ul>
<h2>Scores</h2>{''.join(f'<img src="{name}" alt="{name}">' for name in images[:len(labs)])}
<h2>Graded parts</h2><img src="{images[-2]}" alt="pass rates">
<h2>Submissions</h2><table><tr><th>student</th><th>lab</th><th>status</th><th>auto-graded</th>
<th>seconds</th><th>peak MB</th><th>notes</th></tr>{table}</table>
<h2>Time and memory</h2><img src="{images[-1]}" alt="time and memory">
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
