"""Grade a class in one command: autograde, feedback without hidden tests, grades.csv, a report.

    python -m autograder.grade                                # the bundled sample class (README's main job)
    python -m autograder.grade --submitted DIR                # DIR/<student>/<lab>/<lab>.ipynb (nbgrader layout)
    python -m autograder.grade --lms DOWNLOAD --labs lab5     # a folder or .zip of <student>_<anything>.ipynb

Every submission runs in its own process tree with a wall-clock and a memory limit, in
parallel (--jobs), with one torch thread per worker and a private gradebook merged afterwards.
A re-run grades only new or changed submissions (--force: all of them, after backing up the
gradebook). Output in --out (a course root): gradebook.db, autograded/, feedback/, grades.csv
(one row per student and lab, one column per graded part, a status and a reason),
report/report.html with PNGs.

Exit status: 0 graded and nothing needs attention (sample class: every outcome as the manifest
says), 3 graded but some submissions need attention (listed), 1 the grader itself failed
(sample class: an outcome differs from the manifest).
"""

import argparse
import hashlib
import json
import shutil
import sys
import time
import traceback
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder import intake as intake_module
from autograder import jobs, report
from autograder.course import REPO, SETTINGS, generate_release, make_course_copy, run_nbgrader
from autograder.limits import Limits
from autograder.scorer import HIDDEN, ScoringServer
from autograder.submissions import SAMPLES, build_submission, load_manifest

RUNS = REPO / "autograder" / "runs"
EXIT_OK, EXIT_FAILED, EXIT_ATTENTION = 0, 1, 3


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--submitted", type=Path, help="submissions in nbgrader's layout: DIR/<student>/<lab>/")
    source.add_argument("--lms", type=Path, help="an LMS download: a folder or a .zip of <student>_<anything>.ipynb")
    parser.add_argument("--labs", nargs="+", default=None,
                        help="labs to grade (default: lab5 lab6; one lab with --lms)")
    parser.add_argument("--out", type=Path, default=None, help="course root to grade in "
                        "(default: autograder/runs/samples or autograder/runs/class)")
    parser.add_argument("--students", nargs="+", default=None, help="sample class only: grade only these students")
    parser.add_argument("--jobs", type=int, default=2, help="submissions graded at once (default 2)")
    defaults = Limits()
    parser.add_argument("--time-limit", type=float, help=f"seconds per submission (default {defaults.seconds:g})")
    parser.add_argument("--memory-limit", type=float, help=f"MB per submission (default {defaults.memory_mb:g})")
    parser.add_argument("--cell-timeout", type=int,
                        help=f"seconds per cell, nbgrader's (default {defaults.cell_timeout})")
    parser.add_argument("--force", action="store_true", help="regrade everything (the gradebook is backed up first)")
    args = parser.parse_args(argv)
    if args.lms and (not args.labs or len(args.labs) != 1):
        parser.error("--lms needs exactly one lab: --labs lab5")
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    args.sample_class = not (args.submitted or args.lms)
    chosen = {"seconds": args.time_limit, "memory_mb": args.memory_limit, "cell_timeout": args.cell_timeout}
    preset = json.loads((SAMPLES / "manifest.json").read_text()).get("limits", {}) if args.sample_class else {}
    args.limits = Limits(**{**vars(defaults), **preset, **{k: v for k, v in chosen.items() if v is not None}})
    args.out = (args.out or RUNS / ("samples" if args.sample_class else "class")).resolve()
    return args


def raw_submissions(args, labs: list[str]) -> tuple[dict, dict]:
    """{(student, lab): raw folder or None} and, for the sample class, the manifest's expectations."""
    inbox = args.out / "inbox"
    if args.sample_class:
        manifest = load_manifest(SAMPLES)
        if args.students:
            manifest = {s: manifest[s] for s in args.students}
        pairs = {}
        for student, specs in manifest.items():
            for lab, spec in specs.items():
                if lab in labs:
                    pairs[(student, lab)] = build_submission(student, lab, spec, inbox, REPO)
        return pairs, manifest
    if args.submitted:
        return intake_module.find_raw_submissions(args.submitted.resolve(), labs), {}
    return collect_lms(args.lms.resolve(), labs[0], args.out), {}


def collect_lms(download: Path, lab: str, course: Path) -> dict:
    """nbgrader zip_collect: downloaded/<lab>/archive -> inbox/<student>/<lab>/."""
    archive = course / "downloaded" / lab / "archive"
    if archive.parent.exists():
        shutil.rmtree(archive.parent)
    archive.mkdir(parents=True)
    if download.is_file() and zipfile.is_zipfile(download):
        shutil.copy2(download, archive)
    elif download.is_dir():
        shutil.copytree(download, archive, dirs_exist_ok=True)
    else:
        raise SystemExit(f"--lms {download}: not a folder or a .zip file")
    inbox = course / "inbox"
    if inbox.exists():
        shutil.rmtree(inbox)
    run_nbgrader(["zip_collect", lab, "--force", f"--FileNameCollectorPlugin.named_regexp={intake_module.LMS_PATTERN}",
                  f"--CourseDirectory.submitted_directory={inbox.name}"], course)
    return intake_module.find_raw_submissions(inbox, [lab]) if inbox.exists() else {}


def fingerprint(lab: str, limits: Limits) -> str:
    """Everything besides the submission that decides its grade: a change regrades the lab."""
    digest = hashlib.sha256(repr(limits).encode())
    for path in [REPO / "source" / lab / f"{lab}.ipynb", SETTINGS, *(REPO / "autograder").glob("*.py"),
                 *sorted(HIDDEN.iterdir())]:
        digest.update(path.read_bytes())
    return digest.hexdigest()


def collect_scores(database: Path, lab: str, student: str) -> dict | None:
    """Totals and per-cell scores of one submission in the course gradebook, or None."""
    with Gradebook(f"sqlite:///{database}") as gradebook:
        try:
            submission = gradebook.find_submission(lab, student)
        except MissingEntry:
            return None
        cells = {grade.name: (grade.score, grade.max_score)
                 for notebook in submission.notebooks for grade in notebook.grades}
        return {"score": submission.score, "max_score": submission.max_score, "cells": cells,
                "needs_manual": submission.needs_manual_grade}


def lab_parts(database: Path, labs: list[str]) -> tuple[dict, dict, dict]:
    """Graded parts per lab (in notebook order), their points, and the manual (markdown) ones."""
    parts, points, manual = {}, {}, {}
    with Gradebook(f"sqlite:///{database}") as gradebook:
        for lab in labs:
            parts[lab] = []
            for notebook in gradebook.find_assignment(lab).notebooks:
                for cell in notebook.grade_cells:
                    parts[lab].append(cell.name)
                    points[cell.name] = cell.max_score
                    if cell.cell_type == "markdown":
                        manual[cell.name] = cell.max_score
    return parts, points, manual


def build_rows(results: dict, database: Path, points: dict, manual: dict, parts: dict) -> list[dict]:
    rows = []
    for (student, lab), result in sorted(results.items()):
        scores = collect_scores(database, lab, student) if result["graded"] else None
        lab_max = sum(points[p] for p in parts[lab])
        manual_max = sum(points[p] for p in parts[lab] if p in manual)
        cells = scores["cells"] if scores else {}
        auto = sum(score or 0 for name, (score, _) in cells.items() if name not in manual)
        status = result["status"] if result["status"] != "ok" else "graded"
        rows.append({"student": student, "lab": lab, "status": status, "cells": cells,
                     "score": scores["score"] if scores else 0.0, "max_score": lab_max,
                     "auto_score": auto, "auto_max": lab_max - manual_max, "manual_max": manual_max,
                     "seconds": result["seconds"], "peak_mb": result["peak_mb"],
                     "reason": "; ".join(result["notes"]), "attention": status != "graded" or bool(result["notes"])})
    return rows


def check_expectation(row: dict, expect: dict) -> str:
    """'' when a sample's outcome meets the manifest (score, min/max, cells, status, attention), else what differs."""
    score = row["auto_score"]
    if "score" in expect and abs(score - expect["score"]) > 1e-6:
        return f"expected {expect['score']}"
    if "min" in expect and score < expect["min"] - 1e-6:
        return f"expected >= {expect['min']}"
    if "max" in expect and score > expect["max"] + 1e-6:
        return f"expected <= {expect['max']}"
    if row["status"] != expect.get("status", "graded"):
        return f"expected status {expect.get('status', 'graded')!r}"
    for needle in expect.get("attention", []):
        if needle not in row["reason"]:
            return f"expected a note about {needle!r}"
    if not expect.get("attention") and row["status"] == "graded" and row["reason"]:
        return "unexpected note"
    for cell, expected in expect.get("cells", {}).items():
        got = row["cells"].get(cell, (None, None))[0]
        if got is None or abs(got - expected) > 1e-6:
            return f"{cell}: expected {expected}, got {got}"
    return ""


def print_table(rows: list[dict]) -> None:
    header = f"{'student':26} {'lab':5} {'auto':>6} {'of':>3} {'seconds':>7} {'MB':>5}  {'status':14} notes"
    print(header + "\n" + "-" * len(header))
    for row in rows:
        seconds = "-" if row["seconds"] is None else f"{row['seconds']:.0f}"
        peak = "-" if not row["peak_mb"] else f"{row['peak_mb']:.0f}"
        note = row["reason"][:90] + ("..." if len(row["reason"]) > 90 else "")
        print(f"{row['student']:26} {row['lab']:5} {row['auto_score']:6.2f} {row['auto_max']:3g} {seconds:>7} "
              f"{peak:>5}  {row['status']:14} {note}{'  <- ' + row['check'] if row.get('check') else ''}")


def backup(database: Path) -> Path:
    target = database.parent / "backups" / f"gradebook-{time.strftime('%Y%m%d-%H%M%S')}.db"
    target.parent.mkdir(exist_ok=True)
    shutil.copy2(database, target)
    return target


def grade(args) -> int:
    started = time.time()
    limits = args.limits
    labs = args.labs or ["lab5", "lab6"]
    course = args.out
    course.mkdir(parents=True, exist_ok=True)
    make_course_copy(course, labs)
    with open(course / "grading.log", "a") as log:
        for lab in labs:
            print(f"[{lab}] generating the assignment in {course}", flush=True)
            generate_release(lab, course, log)
    pairs, manifest = raw_submissions(args, labs)
    database = course / "gradebook.db"
    state_path = course / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() and not args.force else {}
    if args.force and database.exists():
        print(f"backed up the gradebook to {backup(database)}")
    sandbox = jobs.sandbox_available()
    sandbox_path = None
    if sandbox:
        sandbox_path = jobs.write_sandbox_kernelspec(course / "jobs" / "sandbox")
    template = course / "jobs" / "template.db"
    template.parent.mkdir(parents=True, exist_ok=True)
    jobs.empty_gradebook(database, template)
    template.chmod(0o600)

    results, to_grade = {}, []
    fingerprints = {lab: fingerprint(lab, limits) for lab in labs}
    for (student, lab), raw in sorted(pairs.items()):
        taken = intake_module.prepare(student, lab, raw, course, REPO / "release" / lab / f"{lab}.ipynb")
        digest = f"{taken.digest}:{fingerprints[lab]}"
        previous = state.get(f"{lab}/{student}")
        if taken.fatal:
            jobs.forget(database, lab, student)
            results[(student, lab)] = jobs.JobResult(student, lab, status=taken.fatal.split(":")[0],
                                                     notes=[taken.fatal, *taken.notes], digest=digest).to_json()
        elif previous and previous["digest"] == digest:
            results[(student, lab)] = previous
        else:
            to_grade.append((student, lab, taken, digest))
    print(f"{len(pairs)} submissions: {len(to_grade)} to grade, {len(pairs) - len(to_grade)} unchanged or "
          f"not gradable; {args.jobs} worker(s); limits {limits.seconds:.0f} s, {limits.memory_mb:.0f} MB, "
          f"{limits.cell_timeout} s per cell; sandbox {'on' if sandbox else 'off (not root)'}", flush=True)
    if to_grade and database.exists() and not args.force and state:
        backup(database)
    for student in {student for student, _, _, _ in to_grade}:   # so that kernels can be kept out of each other's
        (course / "autograded" / student).mkdir(parents=True, exist_ok=True)

    grading_started = time.time()
    scorer = ScoringServer()
    try:
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {pool.submit(jobs.run_job, course, lab, student, limits, template,
                                   course / "jobs" / lab / student, scorer, sandbox_path, HIDDEN):
                       (student, lab, taken, digest)
                       for student, lab, taken, digest in to_grade}
            for done, future in enumerate(as_completed(futures), 1):
                student, lab, taken, digest = futures[future]
                result, job_db = future.result()
                result.notes = taken.notes + result.notes
                result.digest = digest
                if result.status == "ok":
                    jobs.merge(database, job_db, lab, student)
                    result.graded = True
                else:
                    jobs.forget(database, lab, student)
                results[(student, lab)] = result.to_json()
                state[f"{lab}/{student}"] = result.to_json()
                state_path.write_text(json.dumps(state, indent=1))
                print(f"  [{done}/{len(to_grade)}] {student}/{lab}: {result.status} in {result.seconds:.0f} s, "
                      f"peak {result.peak_mb:.0f} MB", flush=True)
    finally:
        scorer.close()
    grading_seconds = time.time() - grading_started
    for key, result in results.items():
        state[f"{key[1]}/{key[0]}"] = result
    state_path.write_text(json.dumps(state, indent=1))

    with open(course / "grading.log", "a") as log:
        for lab in sorted({lab for _, lab, _, _ in to_grade}):
            run_nbgrader(["generate_feedback", lab, "--force"], course, log, check=False)
    parts, points, manual = lab_parts(database, labs)
    rows = build_rows(results, database, points, manual, parts)
    mismatches = 0
    for row in rows:
        if manifest:
            row["check"] = check_expectation(row, manifest[row["student"]][row["lab"]]["expect"])
            mismatches += bool(row["check"])
    report.write_grades_csv(rows, parts, course / "grades.csv")
    attention = [r for r in rows if r["attention"]]
    summary = (f"{len(rows)} submissions ({len(to_grade)} graded now) in {time.time() - started:.0f} s with "
               f"{args.jobs} worker(s); {len(attention)} need attention")
    settings = (f"limits: {limits.seconds:.0f} s and {limits.memory_mb:.0f} MB per submission, "
                f"{limits.cell_timeout} s per cell; sandbox {'on' if sandbox else 'off'}")
    (course / "run.json").write_text(json.dumps({
        "submissions": len(rows), "graded_now": len(to_grade), "jobs": args.jobs,
        "grading_s": round(grading_seconds, 1), "total_s": round(time.time() - started, 1)}))
    folder = course / "report"
    folder.mkdir(exist_ok=True)
    page = report.write_report(rows, parts, points, labs, folder, summary, settings)
    print()
    print_table(rows)
    print(f"\n{summary}\ngrades: {course / 'grades.csv'}\nreport: {page}\nfeedback: {course / 'feedback'}")
    if manifest:
        if mismatches:
            print(f"{mismatches} outcomes differ from the manifest", file=sys.stderr)
            return EXIT_FAILED
        print("every outcome matches autograder/samples/manifest.json")
        return EXIT_OK
    return EXIT_ATTENTION if attention else EXIT_OK


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        return grade(args)
    except Exception:  # the grader itself failed: say so, distinctly from a bad submission
        traceback.print_exc()
        print("the grader failed (exit 1); no submission caused this", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
