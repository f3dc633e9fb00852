"""The course's people: the roster file, their Unix accounts, and the environment of each role.

A roster is a CSV file (`username,role`, role `instructor` or `student`; `#` starts a comment).
As root, `ensure_accounts` makes every roster user a real Unix account (useradd with a private
group), idempotently:
    - every home folder is 0700: Debian's useradd makes it 0755, where any other user could read
      a student's labs, their fetched feedback and the nbgrader cache that holds their
      submission secrets;
    - instructors join the course group (INSTRUCTORS), which owns the exchange's inbound folder
      and so every submission in it, and each student's private group, which owns that
      student's released feedback (hub/plugins.py).
Accounts that exist already are kept as they are apart from those two rules; system accounts
(uid < 1000) are refused.
"""

import csv
import grp
import os
import pwd
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "hub" / "config"
COURSE_ROOT = "rnn-labs"        # the instructor's nbgrader course root, in their home
# A hub's folder (HUB_DIR) holds:
ROSTER_COPY = "roster.csv"      # the roster it started with
EXCHANGE = "exchange"           # nbgrader's exchange (hub/exchange.py)
PYTHON_ENV = "python"           # the users' Python (hub/python_env.py): a venv on PYTHON_BASE,
PYTHON_BASE = "python-base"     # a copy of the project's interpreter
STATE = "state"                 # JupyterHub's database, cookie secret and the passwords (root only)
INSTRUCTORS = "rnn-labs-instructors"
ROLES = ("instructor", "student")
USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
FIRST_REGULAR_UID = 1000


@dataclass(frozen=True)
class Member:
    name: str
    role: str

    @property
    def home(self) -> Path:
        return Path(pwd.getpwnam(self.name).pw_dir)


def read_roster(path: Path) -> list[Member]:
    """The roster's members, in file order; ValueError on a bad line, a duplicate or no instructor."""
    lines = [line for line in Path(path).read_text().splitlines() if line.strip() and not line.startswith("#")]
    members = []
    for row in csv.DictReader(lines):
        name, role = (row.get("username") or "").strip(), (row.get("role") or "").strip()
        if not USERNAME.match(name) or role not in ROLES:
            raise ValueError(f"{path}: bad roster line {row}: need a Unix user name and a role in {ROLES}")
        if name in {m.name for m in members}:
            raise ValueError(f"{path}: {name} is listed twice")
        members.append(Member(name, role))
    if not any(m.role == "instructor" for m in members):
        raise ValueError(f"{path}: the roster has no instructor")
    return members


def _run(*command: str) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)


def ensure_accounts(members: list[Member]) -> None:
    """Create the missing accounts and groups, close every home folder, set instructors' groups (root only)."""
    try:
        grp.getgrnam(INSTRUCTORS)
    except KeyError:
        _run("groupadd", INSTRUCTORS)
    for member in members:
        try:
            account = pwd.getpwnam(member.name)
        except KeyError:
            _run("useradd", "--create-home", "--user-group", "--shell", "/bin/bash",
                 "--comment", f"rnn-labs {member.role}", member.name)
            account = pwd.getpwnam(member.name)
        if account.pw_uid < FIRST_REGULAR_UID:
            raise ValueError(f"{member.name} is a system account (uid {account.pw_uid}): not a course user")
        os.chmod(account.pw_dir, 0o700)
    students = [m.name for m in members if m.role == "student"]
    for member in members:
        if member.role == "instructor":
            _run("usermod", "--append", "--groups", ",".join([INSTRUCTORS, *students]), member.name)


def environment(member: Member, hub_dir: Path) -> dict[str, str]:
    """What a member's processes need besides the usual: their role's Jupyter config folders (the
    nbgrader extensions of that role, the exchange settings), the exchange's location, the users'
    Python first on PATH, and for instructors the repository on PYTHONPATH (for
    `python -m autograder.grade` in their course root)."""
    env = {"JUPYTER_CONFIG_PATH": os.pathsep.join([str(CONFIG / member.role), str(CONFIG / "common")]),
           "RNN_LABS_EXCHANGE": str(hub_dir / EXCHANGE),
           "PATH": os.pathsep.join([str(hub_dir / PYTHON_ENV / "bin"), "/usr/local/bin", "/usr/bin", "/bin"])}
    if member.role == "instructor":
        env["PYTHONPATH"] = str(REPO)
    return env
