"""Can one student read another's work? Try it, as that student, and say what worked.

    python -m hub.audit --hub-dir DIR STUDENT OTHER      # as root, on a running or stopped hub

Root lists what of OTHER's work exists (`targets`): their home and labs, their nbgrader cache
(which holds each submission's secret), their fetched feedback, their submissions in the
exchange's inbound folder, their released feedback in the exchange (named after those
secrets), what the instructors collected and graded of them, and the environment of their
running processes (their server's API token). STUDENT then tries every operation in a process
of their own (`PROBE`, the same code the hub test runs in a student's kernel): list, read,
write into, rename. Each prints "allowed" or "denied"; the exit status is 1 when any was allowed.
A write or a rename that succeeds is undone at once.
"""

import argparse
import json
import pwd
import sys
from pathlib import Path

import psutil
from nbgrader.utils import notebook_hash

from hub import as_user
from hub.exchange import course_id
from hub.roster import COURSE_ROOT, EXCHANGE, PYTHON_ENV, ROSTER_COPY, read_roster

PROBE = r'''
import json, os, sys

def attempt(operation, path):
    try:
        if operation == "list":
            os.listdir(path)
        elif operation == "read":
            with open(path, "rb") as handle:
                handle.read(1)
        elif operation == "write":
            name = os.path.join(path, ".audit-probe")
            open(name, "x").close()
            os.remove(name)
        elif operation == "rename":
            os.rename(path, path + ".audit-probe")
            os.rename(path + ".audit-probe", path)
        return "allowed"
    except OSError as error:
        return f"denied ({error.strerror})"

def probe(operations):
    return [[operation, path, attempt(operation, path)] for operation, path in operations]
'''


def _submissions_in_cache(home: Path, course: str) -> list[Path]:
    return sorted((home / ".local" / "share" / "jupyter" / "nbgrader_cache" / course).glob("*+*+*"))


def targets(other: str, members: list, hub_dir: Path) -> list[tuple[str, str]]:
    """(operation, path) pairs on `other`'s work that exist now (root looks; nothing is touched)."""
    course = course_id()
    home = Path(pwd.getpwnam(other).pw_dir)
    exchange = hub_dir / EXCHANGE / course
    found = [("list", home)]
    labs = [p for p in home.iterdir() if (p / f"{p.name}.ipynb").exists()] if home.is_dir() else []
    found += [("read", p) for lab in labs for p in [lab / f"{lab.name}.ipynb", *lab.glob("feedback/*/*.html")]]
    cached = _submissions_in_cache(home, course)
    found += [("read", p / "submission_secret.txt") for p in cached]
    found += [("list", exchange / "inbound"), ("list", exchange / "feedback"), ("rename", exchange)]
    for submission in sorted((exchange / "inbound").glob(f"{other}+*")):
        found += [("list", submission), ("read", submission / "submission_secret.txt"), ("write", submission),
                  ("rename", submission)]
        found += [("read", p) for p in submission.glob("*.ipynb")]
    for submission in cached:
        secret = (submission / "submission_secret.txt").read_text()
        for notebook in submission.glob("*.ipynb"):
            released = exchange / "feedback" / f"{notebook_hash(secret=secret, notebook_id=notebook.stem)}.html"
            found += [("read", released)] if released.exists() else []
    for member in members:
        if member.role == "instructor":
            root = member.home / COURSE_ROOT
            found += [("list", member.home), ("read", root / "gradebook.db")]
            found += [("read", p) for step in ("submitted", "autograded", "feedback")
                      for p in sorted((root / step / other).glob("*/*")) if p.is_file()]
    found += [("read", Path(f"/proc/{process.pid}/environ")) for process in psutil.process_iter(["username"])
              if process.info["username"] == other]
    return [(operation, str(path)) for operation, path in found if path.exists()]


def run_probe(student, operations: list, hub_dir: Path) -> list[list[str]]:
    """PROBE's answers for `operations`, tried in a process of `student`'s."""
    code = PROBE + "\nprint(json.dumps(probe(json.loads(sys.stdin.read()))))\n"
    python = hub_dir / PYTHON_ENV / "bin" / "python"
    result = as_user.run(student, [str(python), "-I", "-c", code], hub_dir, input=json.dumps(operations),
                         capture_output=True, text=True, check=True)
    return json.loads(result.stdout)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hub-dir", type=Path, required=True, help="the hub's folder (make hub's HUB_DIR)")
    parser.add_argument("student", help="who tries")
    parser.add_argument("other", help="whose work they try to reach")
    args = parser.parse_args(argv)
    hub_dir = args.hub_dir.resolve()
    members = {m.name: m for m in read_roster(hub_dir / ROSTER_COPY)}
    answers = run_probe(members[args.student], targets(args.other, members.values(), hub_dir), hub_dir)
    for operation, path, answer in answers:
        print(f"{answer:28} {operation:6} {path}")
    allowed = [a for a in answers if a[2] == "allowed"]
    print(f"{args.student} could reach {len(allowed)} of {len(answers)} things of {args.other}'s")
    return 1 if allowed else 0


if __name__ == "__main__":
    sys.exit(main())
