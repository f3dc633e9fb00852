"""Grade a class in one command: intake, sandboxed jobs, trusted scores, feedback, grades.csv, a report.

    python -m autograder.grade                                # the bundled sample class (README's main job)
    python -m autograder.grade --submitted DIR                # DIR/<student>/<lab>/<lab>.ipynb (nbgrader layout)
    python -m autograder.grade --submitted C/submitted --out C  # what `nbgrader collect` left in course root C
    python -m autograder.grade --lms DOWNLOAD --labs lab5     # a folder or .zip of <student>_<anything>.ipynb
    ... --scheduler tcp://HOST:8786 (or --scheduler-file F)   # the jobs as tasks on a Dask cluster
    ... --db postgresql://USER@HOST/DB                         # the course gradebook in PostgreSQL

The flow, one module each: intake (autograder/intake.py) -> job: a sandboxed kernel and the
trusted scorer (job.py, sandbox.py, scorer.py) -> engine (engine.py) -> merge into the course
gradebook (merge.py) -> feedback, grades.csv and the report (report.py). Every submission runs
in its own throwaway folder and process tree with limits of time, memory and processes, one
torch thread per job. A re-run grades only new or changed submissions (--force: all of them,
after backing up the gradebook). Output in --out (a course root): gradebook.db, autograded/,
feedback/, grades.csv, report/report.html, jobs/<lab>/<student>/ (log and the scorer's verdicts).
Collected submissions (--submitted C/submitted --out C) stay as `nbgrader collect` left them, and
their receipts go next to their feedback, where `nbgrader release_feedback` reads them.

Grading needs bubblewrap: without it (or with user namespaces disabled) the command stops before
the first submission and says how to fix it; --no-sandbox grades anyway (trusted code only),
and then every row of grades.csv and of the report says "sandbox off".

Exit status: 0 graded and nothing needs attention (sample class: every outcome as the manifest
says), 3 graded but some submissions need attention (listed), 1 the grader itself failed
(sample class: an outcome differs from the manifest), 2 no sandbox can be built here.
"""

import argparse
import hashlib
import json
import shutil
import sys
import time
import traceback
import zipfile
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from autograder import canaries, engine, gradebook_db, report, sandbox
from autograder import intake as intake_module
from autograder.bundle import grader_version, make_bundle
from autograder.course import REPO, generate_release, make_course_copy, run_nbgrader
from autograder.job import JobOutput, JobResult, JobSpec
from autograder.limits import Limits
from autograder.merge import forget, merge_bytes
from autograder.scorer import HIDDEN
from autograder.submissions import SAMPLES, build_submission, load_manifest

RUNS = REPO / "autograder" / "runs"
EXIT_OK, EXIT_FAILED, EXIT_NO_SANDBOX, EXIT_ATTENTION = 0, 1, 2, 3


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
    parser.add_argument("--no-sandbox", action="store_true",
                        help="grade without bubblewrap (trusted code only: every row then says 'sandbox off')")
    cluster = parser.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="grade on the Dask cluster of this scheduler "
                         "(tcp://host:8786); --jobs is then the cluster's workers")
    cluster.add_argument("--scheduler-file", metavar="PATH", help="the same, with the scheduler's JSON file")
    parser.add_argument("--db", metavar="URL", help="the course gradebook's nbgrader db_url, e.g. "
                        "postgresql://user@host/gradebook (default: sqlite:///<out>/gradebook.db)")
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
    args.db_url = args.db or gradebook_db.sqlite_url(args.out / "gradebook.db")
    return args


def raw_submissions(args, labs: list[str], fixtures: dict) -> tuple[dict, dict]:
    """{(student, lab): raw folder or None} and, for the sample class, the manifest's expectations."""
    inbox = args.out / "inbox"
    if args.sample_class:
        manifest = load_manifest(SAMPLES)
        if args.students:
            manifest = {s: manifest[s] for s in args.students}
        if inbox.exists():
            shutil.rmtree(inbox)
        for student, specs in manifest.items():
            for lab, spec in specs.items():
                if lab in labs:
                    build_submission(student, lab, spec, inbox, REPO, fixtures=fixtures)
        manifest = {intake_module.safe_id(student): specs for student, specs in manifest.items()}
        found = intake_module.find_raw_submissions(inbox / "submitted", labs)
        return {key: raw for key, raw in found.items() if key[1] in manifest.get(key[0], {})}, manifest
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


def fingerprint(lab: str, limits: Limits, sandboxed: bool) -> str:
    """Everything besides the submission that decides its grade: the grading code (labs/ and
    autograder/), the hidden data, the lab's source and release, the limits and the sandbox
    mode. A change regrades the lab."""
    digest = hashlib.sha256(f"{limits!r}:{sandboxed}:{grader_version()}".encode())
    for path in [*sorted((REPO / "source" / lab).iterdir()), *sorted((REPO / "release" / lab).iterdir()),
                 *sorted(HIDDEN.iterdir())]:
        if path.is_file():
            digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


def collect_scores(gradebook: Gradebook, lab: str, student: str) -> dict | None:
    """Totals and per-cell scores of one submission in the course gradebook, or None."""
    try:
        submission = gradebook.find_submission(lab, student)
    except MissingEntry:
        return None
    cells = {grade.name: (grade.score, grade.max_score)
             for notebook in submission.notebooks for grade in notebook.grades}
    return {"score": submission.score, "max_score": submission.max_score, "cells": cells,
            "needs_manual": submission.needs_manual_grade, "seconds_late": submission.total_seconds_late,
            "timestamp": f"{submission.timestamp} UTC" if submission.timestamp else None}


def lab_parts(db_url: str, labs: list[str]) -> tuple[dict, dict, dict]:
    """Graded parts per lab (in notebook order), their points, and the manual (markdown) ones."""
    parts, points, manual = {}, {}, {}
    with Gradebook(db_url) as gradebook:
        for lab in labs:
            parts[lab] = []
            for notebook in gradebook.find_assignment(lab).notebooks:
                for cell in notebook.grade_cells:
                    parts[lab].append(cell.name)
                    points[cell.name] = cell.max_score
                    if cell.cell_type == "markdown":
                        manual[cell.name] = cell.max_score
    return parts, points, manual


def build_rows(results: dict, db_url: str, points: dict, manual: dict, parts: dict) -> list[dict]:
    rows = []
    with Gradebook(db_url) as gradebook:
        all_scores = {key: collect_scores(gradebook, key[1], key[0])
                      for key, result in results.items() if result["graded"]}
    for (student, lab), result in sorted(results.items()):
        scores = all_scores.get((student, lab))
        lab_max = sum(points[p] for p in parts[lab])
        manual_max = sum(points[p] for p in parts[lab] if p in manual)
        cells = scores["cells"] if scores else {}
        auto = sum(score or 0 for name, (score, _) in cells.items() if name not in manual)
        status = result["status"] if result["status"] != "ok" else "graded"
        rows.append({"student": student, "lab": lab, "status": status, "cells": cells,
                     "score": scores["score"] if scores else 0.0, "max_score": lab_max,
                     "auto_score": auto, "auto_max": lab_max - manual_max, "manual_max": manual_max,
                     "seconds": result["seconds"], "peak_mb": result["peak_mb"],
                     "timestamp": scores["timestamp"] if scores else None,
                     "seconds_late": scores["seconds_late"] if scores else None,
                     "sandbox": "on" if result.get("sandboxed", True) else "off",
                     "reason": "; ".join(result["notes"]), "verdicts": result.get("verdicts", {}),
                     "attention": status != "graded" or bool(result["notes"])})
    return rows


def check_expectation(row: dict, expect: dict) -> str:
    """'' when a sample's outcome meets the manifest (score, min/max, cells, status, attention, and
    "measured": {cell: {measurement: [low, high]}} of the scorer's verdicts), else what differs."""
    score = row["auto_score"]
    if "score" in expect and abs(score - expect["score"]) > 1e-6:
        return f"expected {expect['score']}"
    if "min" in expect and score < expect["min"] - 1e-6:
        return f"expected >= {expect['min']}"
    if "max" in expect and score > expect["max"] + 1e-6:
        return f"expected <= {expect['max']}"
    if "max_peak_mb" in expect and (row["peak_mb"] or 0) > expect["max_peak_mb"]:
        return f"expected a peak below {expect['max_peak_mb']} MB"
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
    for cell, bounds in expect.get("measured", {}).items():
        measured = row.get("verdicts", {}).get(cell, {}).get("measurements", {})
        for name, (low, high) in bounds.items():
            value = measured.get(name)
            if not isinstance(value, int | float) or not low <= value <= high:
                return f"{cell}: the scorer measured {name} = {value}, expected in [{low}, {high}]"
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


def backup(db_url: str, course: Path) -> Path | None:
    """A copy of the course gradebook in backups/ (of a PostgreSQL one: a SQLite copy); None
    while there is no gradebook yet."""
    target = course / "backups" / f"gradebook-{time.strftime('%Y%m%d-%H%M%S')}.db"
    database = gradebook_db.sqlite_file(db_url)
    if database and not database.exists():
        return None
    target.parent.mkdir(exist_ok=True)
    if database:
        shutil.copy2(database, target)
    else:
        gradebook_db.sqlite_copy(db_url, target, submissions=True)
    return target


def take_in(args, labs: list[str], course: Path, state: dict, sandboxed: bool,
            fixtures: dict) -> tuple[dict, list, dict]:
    """Intake of every raw submission: (results of those not to grade, specs to grade, manifest)."""
    pairs, manifest = raw_submissions(args, labs, fixtures)
    release = {lab: intake_module.release_cells(course / "release" / lab / f"{lab}.ipynb") for lab in labs}
    release_files = {lab: intake_module.file_digests(course / "release" / lab) for lab in labs}
    fingerprints = {lab: fingerprint(lab, args.limits, sandboxed) for lab in labs}
    results, to_grade = {}, []
    for (student, lab), raw in sorted(pairs.items()):
        taken = intake_module.prepare(student, lab, raw, release[lab], release_files[lab])
        raw_name = raw.name if raw is not None and raw.name != lab else raw.parent.name if raw is not None else student
        if raw_name != student:
            taken.notes.insert(0, f"student id made safe: {intake_module.safe_text(raw_name)}")
        digest = f"{taken.digest}:{fingerprints[lab]}"
        previous = state.get(f"{lab}/{student}")
        target = course / "submitted" / student / lab
        collected = raw == target       # nbgrader collect put it in this course root: keep it as it is
        if target.exists() and not collected:
            shutil.rmtree(target)
        if taken.fatal:
            forget(args.db_url, lab, student)
            results[(student, lab)] = JobResult(student, lab, status=taken.fatal.split(":")[0], sandboxed=sandboxed,
                                                notes=[taken.fatal, *taken.notes], digest=digest).to_json()
            continue
        if not collected:
            target.mkdir(parents=True)
            (target / f"{lab}.ipynb").write_bytes(taken.notebook)
        if previous and previous["digest"] == digest and previous["status"] != "refused":   # refused: by a worker
            results[(student, lab)] = previous
        else:
            to_grade.append(JobSpec(student, lab, taken.notebook, args.limits, sandboxed, taken.timestamp,
                                    grader_version(), taken.notes, digest))
    return results, to_grade, manifest


def save_state(path: Path, state: dict) -> None:
    """Write state.json whole or not at all (a coordinator killed mid-write resumes from the last
    one), compact: it is rewritten after every result (indented, 2,000 entries took 190 ms)."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(state, separators=(",", ":")))
    partial.replace(path)


def copy_receipts(submission: Path, feedback: Path) -> None:
    """nbgrader's receipts of a collected submission (its timestamp and secret) next to its
    feedback, where `nbgrader release_feedback` reads them (one that is not a small regular file is left out)."""
    for name in intake_module.EXCHANGE_RECEIPTS if feedback.is_dir() else ():
        try:
            (feedback / name).write_bytes(intake_module.read_regular_file(submission / name, 0.01))
        except (OSError, ValueError):
            pass


def store_output(course: Path, spec: JobSpec, output: JobOutput, db_url: str) -> dict:
    """Write one job's output into the course root and its gradebook at `db_url` (the coordinator
    alone does); returns its result."""
    result = output.result
    result.notes = spec.notes + result.notes
    result.digest = spec.digest
    if result.status == "ok":
        merge_bytes(db_url, output.gradebook, spec.lab, spec.student)
        result.graded = True
    else:
        forget(db_url, spec.lab, spec.student)
    for kind, data, name in (("autograded", output.autograded, f"{spec.lab}.ipynb"),
                             ("feedback", output.feedback, f"{spec.lab}.html")):
        folder = course / kind / spec.student / spec.lab
        if folder.exists():
            shutil.rmtree(folder)
        if data is not None and result.status == "ok":
            folder.mkdir(parents=True)
            (folder / name).write_bytes(data)
    copy_receipts(course / "submitted" / spec.student / spec.lab, course / "feedback" / spec.student / spec.lab)
    logs = course / "jobs" / spec.lab / spec.student
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "autograde.log").write_text(output.log)
    (logs / "verdicts.json").write_text(json.dumps(result.verdicts, indent=1))
    return result.to_json()


def grade(args) -> int:
    started = time.time()
    sandboxed = not args.no_sandbox
    if sandboxed:
        try:
            sandbox.probe()
        except sandbox.SandboxUnavailable as error:
            print(f"cannot grade: no sandbox can be built here. {error}", file=sys.stderr)
            return EXIT_NO_SANDBOX
    limits = args.limits
    labs = args.labs or ["lab5", "lab6"]
    course = args.out
    course.mkdir(parents=True, exist_ok=True)
    make_course_copy(course, labs, args.db)
    with open(course / "grading.log", "a") as log:
        for lab in labs:
            print(f"[{lab}] generating the assignment in {course}", flush=True)
            generate_release(lab, course, log)
    db_url = args.db_url
    state_path = course / "state.json"
    state = json.loads(state_path.read_text()) if state_path.exists() and not args.force else {}
    if args.force and (saved := backup(db_url, course)):
        print(f"backed up the gradebook to {saved}")
    server = canaries.PriceServer(HIDDEN / "closes_2021.csv", course) if args.sample_class else None
    fixtures = {"price_server": server.port} if server else {}
    results, to_grade, manifest = take_in(args, labs, course, state, sandboxed, fixtures)
    guard = canaries.Canaries(REPO, course) if args.sample_class else None
    before = guard.snapshot() if guard else {}
    workers = "a Dask cluster" if args.scheduler or args.scheduler_file else f"{args.jobs} worker(s)"
    print(f"{len(results) + len(to_grade)} submissions: {len(to_grade)} to grade, {len(results)} unchanged or "
          f"not gradable; {workers}; limits {limits.seconds:.0f} s, {limits.memory_mb:.0f} MB, "
          f"{limits.cell_timeout} s per cell, {limits.max_processes} processes; sandbox "
          f"{'on (bubblewrap)' if sandboxed else 'OFF (--no-sandbox)'}", flush=True)
    if to_grade and not args.force and state:
        backup(db_url, course)
    bundles = {lab: make_bundle(course, lab, HIDDEN, course / "jobs" / "bundles", db_url)
               for lab in sorted({spec.lab for spec in to_grade})}
    grading_started, done = time.time(), []

    def on_done(spec: JobSpec, output: JobOutput) -> None:
        result = store_output(course, spec, output, db_url)
        results[(spec.student, spec.lab)] = state[f"{spec.lab}/{spec.student}"] = result
        save_state(state_path, state)
        done.append(spec)
        print(f"  [{len(done)}/{len(to_grade)}] {spec.student}/{spec.lab}: {result['status']} in "
              f"{result['seconds'] or 0:.0f} s, peak {result['peak_mb'] or 0:.0f} MB", flush=True)

    try:
        if args.scheduler or args.scheduler_file:
            engine.run_dask(to_grade, bundles, on_done, args.scheduler, args.scheduler_file)
        else:
            engine.run_local(to_grade, bundles, args.jobs, on_done, scratch=course / "jobs")
    finally:
        if server:
            server.close()
    grading_seconds = time.time() - grading_started
    harness = []
    if guard:
        harness = [f"changed outside the submissions: {path}" for path in guard.changed(before)]
        harness += [f"written outside the sandbox: {path}" for path in canaries.marked_files(course)]
        harness += [f"left running: {process}" for process in canaries.leftovers(course)]
        guard.remove()
    for key, result in results.items():
        state[f"{key[1]}/{key[0]}"] = result
    save_state(state_path, state)

    parts, points, manual = lab_parts(db_url, labs)
    rows = build_rows(results, db_url, points, manual, parts)
    mismatches = 0
    for row in rows:
        if manifest:
            row["check"] = check_expectation(row, manifest[row["student"]][row["lab"]]["expect"])
            mismatches += bool(row["check"])
    report.write_grades_csv(rows, parts, course / "grades.csv")
    attention = [r for r in rows if r["attention"]]
    summary = (f"{len(rows)} submissions ({len(to_grade)} graded now) in {time.time() - started:.0f} s with "
               f"{workers}; {len(attention)} need attention")
    settings = (f"limits: {limits.seconds:.0f} s, {limits.memory_mb:.0f} MB and {limits.max_processes} processes "
                f"per submission, {limits.cell_timeout} s per cell; sandbox {'on' if sandboxed else 'OFF'}")
    (course / "run.json").write_text(json.dumps({
        "submissions": len(rows), "graded_now": len(to_grade), "jobs": args.jobs, "sandbox": sandboxed,
        "grading_s": round(grading_seconds, 1), "total_s": round(time.time() - started, 1)}))
    folder = course / "report"
    folder.mkdir(exist_ok=True)
    page = report.write_report(rows, parts, points, labs, folder, summary, settings, manual)
    print()
    print_table(rows)
    print(f"\n{summary}\ngrades: {course / 'grades.csv'}\nreport: {page}\nfeedback: {course / 'feedback'}")
    if manifest:
        for problem in harness:
            print(problem, file=sys.stderr)
        if mismatches or harness:
            print(f"{mismatches} outcomes differ from the manifest; {len(harness)} problems outside the "
                  "submissions", file=sys.stderr)
            return EXIT_FAILED
        print("every outcome matches autograder/samples/manifest.json; no file outside the submissions changed, "
              "no process of the batch is left")
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
