"""Grade a class: regenerate the release, autograde, write feedback and grades, print a table.

    python -m autograder.grade                 # the bundled sample class (README's main job)
    python -m autograder.grade --labs lab5     # only some labs

The sample class is built from autograder/samples/manifest.json into a scratch course root
(autograder/runs/samples/ by default), so the repository's own nbgrader state is untouched.
"""

import argparse
import csv
import json
import sys
import time
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder.course import REPO, generate_release, make_course_copy, run_nbgrader
from autograder.submissions import SAMPLES, build_submission, load_manifest

DEFAULT_OUT = REPO / "autograder" / "runs" / "samples"


def collect_scores(course: Path, labs: list[str]) -> list[dict]:
    """One row per (student, lab) from the course's gradebook: total, max and per-cell scores."""
    rows = []
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for student in sorted(s.id for s in gradebook.students):
            for lab in labs:
                try:
                    submission = gradebook.find_submission(lab, student)
                except MissingEntry:
                    rows.append({"student": student, "lab": lab, "score": None, "max_score": None,
                                 "cells": {}, "status": "missing"})
                    continue
                cells = {}
                for notebook in submission.notebooks:
                    for grade in notebook.grades:
                        cells[grade.name] = (grade.score, grade.max_score)
                status = "needs manual grade" if submission.needs_manual_grade else "graded"
                rows.append({"student": student, "lab": lab, "score": submission.score,
                             "max_score": submission.max_score, "cells": cells, "status": status})
    return rows


def check_expectation(row: dict, expect: dict) -> str:
    """'' when the row's auto-graded score meets the manifest's expectation, else what differs."""
    score = row["auto_score"]
    if score is None:
        return "no grade"
    if "score" in expect and abs(score - expect["score"]) > 1e-6:
        return f"expected {expect['score']}"
    if "min" in expect and score < expect["min"] - 1e-6:
        return f"expected >= {expect['min']}"
    if "max" in expect and score > expect["max"] + 1e-6:
        return f"expected <= {expect['max']}"
    for cell, expected in expect.get("cells", {}).items():
        got = row["cells"].get(cell, (None, None))[0]
        if got is None or abs(got - expected) > 1e-6:
            return f"{cell}: expected {expected}, got {got}"
    return ""


def print_table(rows: list[dict]) -> None:
    header = f"{'student':24} {'lab':6} {'auto':>6} {'of':>5} {'manual':>7} {'seconds':>8} {'status':20} check"
    print(header)
    print("-" * len(header))
    for row in rows:
        auto = "-" if row["auto_score"] is None else f"{row['auto_score']:.2f}"
        seconds = "-" if row.get("seconds") is None else f"{row['seconds']:.0f}"
        print(f"{row['student']:24} {row['lab']:6} {auto:>6} {row['auto_max']:>5g} "
              f"{row['manual_max']:>7g} {seconds:>8} {row['status']:20} {row['check'] or 'ok'}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--labs", nargs="+", default=None, help="labs to grade (default: all in the manifest)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="scratch course root for the sample class")
    parser.add_argument("--students", nargs="+", default=None, help="only these sample students")
    args = parser.parse_args(argv)

    manifest = load_manifest(SAMPLES)
    if args.students:
        manifest = {s: manifest[s] for s in args.students}
    labs = args.labs or sorted({lab for spec in manifest.values() for lab in spec})
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    runs = {}
    with open(args.out / "grading.log", "w") as log:
        for lab in labs:
            print(f"[{lab}] regenerating release/{lab}", flush=True)
            generate_release(lab, REPO, log)
        course = make_course_copy(args.out, labs)
        for lab in labs:
            generate_release(lab, course, log)
            students = [s for s, spec in manifest.items() if lab in spec]
            for student in students:
                build_submission(student, lab, manifest[student][lab], course, REPO)
            for number, student in enumerate(students, 1):
                print(f"[{lab}] autograding {number}/{len(students)}: {student}", flush=True)
                timer = time.time()
                result = run_nbgrader(["autograde", lab, "--force", f"--student={student}"], course, log, check=False)
                runs[(student, lab)] = {"seconds": round(time.time() - timer, 1), "exit_code": result.returncode}
            run_nbgrader(["generate_feedback", lab, "--force"], course, log, check=False)
        run_nbgrader(["export", "--to", str(course / "grades.csv")], course, log)

    rows = grade_rows(course, labs, manifest)
    for row in rows:
        row.update(runs.get((row["student"], row["lab"]), {"seconds": None, "exit_code": None}))
    (course / "runs.json").write_text(json.dumps(
        [{k: row[k] for k in ("student", "lab", "auto_score", "auto_max", "status", "seconds", "exit_code")}
         for row in rows], indent=1))
    print()
    print_table(rows)
    write_cell_scores(rows, course / "cell_scores.csv")
    mismatches = [r for r in rows if r["check"]]
    print(f"\n{len(rows)} submissions graded in {time.time() - started:.0f} s; "
          f"grades: {course / 'grades.csv'}, feedback: {course / 'feedback'}")
    if mismatches:
        print(f"{len(mismatches)} grades differ from the manifest", file=sys.stderr)
        return 1
    return 0


def grade_rows(course: Path, labs: list[str], manifest: dict) -> list[dict]:
    """Scores from the gradebook, split into auto-graded and manual points, checked against the manifest."""
    manual_cells = manual_cell_points(course, labs)
    rows = []
    for row in collect_scores(course, labs):
        if row["lab"] not in manifest.get(row["student"], {}):
            continue
        manual = manual_cells.get(row["lab"], {})
        row["manual_max"] = sum(manual.values())
        row["auto_max"] = (row["max_score"] or 0) - row["manual_max"]
        row["auto_score"] = None if row["score"] is None else sum(
            score for name, (score, _) in row["cells"].items() if name not in manual)
        row["check"] = check_expectation(row, manifest[row["student"]][row["lab"]]["expect"])
        rows.append(row)
    return rows


def manual_cell_points(course: Path, labs: list[str]) -> dict:
    """{lab: {grade_id: points}} of the cells graded by hand (markdown answers)."""
    result = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for lab in labs:
            cells = {}
            for notebook in gradebook.find_assignment(lab).notebooks:
                for cell in notebook.grade_cells:
                    if cell.cell_type == "markdown":
                        cells[cell.name] = cell.max_score
            result[lab] = cells
    return result


def write_cell_scores(rows: list[dict], path: Path) -> None:
    """One row per (student, lab, graded cell)."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "lab", "cell", "score", "max_score"])
        for row in rows:
            for cell, (score, max_score) in sorted(row["cells"].items()):
                writer.writerow([row["student"], row["lab"], cell, score, max_score])


if __name__ == "__main__":
    sys.exit(main())
