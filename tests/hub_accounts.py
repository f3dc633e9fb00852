"""The hub tests' Unix accounts (tests/hub_roster.csv) and folders: made fresh, removed afterwards.

make hub (or hub.launch.prepare) creates the accounts; `remove_accounts` stops every process
of theirs (by PID: what their servers and kernels left) and deletes them with their homes,
instructors first (they are members of the students' private groups). A hub folder lives in
/tmp, which every user can enter (pytest's own temporary folders are private to root).
"""

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psutil

from hub.roster import INSTRUCTORS, read_roster

ROSTER = Path(__file__).resolve().parent / "hub_roster.csv"
MEMBERS = read_roster(ROSTER)


def stop_processes(uid: int) -> None:
    processes = [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid]
    for process in processes:
        process.kill()
    psutil.wait_procs(processes, timeout=10)


def remove_accounts() -> None:
    for member in sorted(MEMBERS, key=lambda m: m.role != "instructor"):
        try:
            account = pwd.getpwnam(member.name)
        except KeyError:
            continue
        stop_processes(account.pw_uid)
        subprocess.run(["userdel", "--remove", member.name], check=True, capture_output=True)
    try:
        group = grp.getgrnam(INSTRUCTORS)
    except KeyError:
        return
    if not group.gr_mem and not any(a.pw_gid == group.gr_gid for a in pwd.getpwall()):
        subprocess.run(["groupdel", INSTRUCTORS], check=True)


def new_hub_dir() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="rnn-labs-hub-", dir="/tmp"))
    folder.chmod(0o755)
    return folder


def remove_hub_dir(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)


def is_root() -> bool:
    return os.geteuid() == 0
