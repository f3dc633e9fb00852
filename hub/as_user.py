"""python -m hub.as_user --hub-dir DIR USER -- COMMAND...: run COMMAND as a roster user (as root),
with the environment the hub gives that user's server and terminals (hub/roster.py).

It runs in the user's course root (~/rnn-labs) when they have one, else in their home. The hub
tests run the instructor's nbgrader commands this way; on the hub, the instructor types the
same commands in a terminal of their own server.
"""

import argparse
import os
import pwd
import subprocess
import sys
from pathlib import Path

from hub.roster import COURSE_ROOT, ROSTER_COPY, Member, environment, read_roster


def user_env(member: Member, hub_dir: Path) -> dict[str, str]:
    account = pwd.getpwnam(member.name)
    return {"HOME": account.pw_dir, "USER": member.name, "LOGNAME": member.name, "SHELL": account.pw_shell,
            "LANG": os.environ.get("LANG", "C.UTF-8"), **environment(member, hub_dir)}


def run(member: Member, command: list[str], hub_dir: Path, **options) -> subprocess.CompletedProcess:
    """subprocess.run(command) as `member` (uid, gid and groups), in their course root or home."""
    account = pwd.getpwnam(member.name)
    folder = Path(account.pw_dir) / COURSE_ROOT
    return subprocess.run(command, user=account.pw_uid, group=account.pw_gid,
                          extra_groups=os.getgrouplist(member.name, account.pw_gid),
                          env=user_env(member, hub_dir), cwd=folder if folder.is_dir() else account.pw_dir,
                          **options)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hub-dir", type=Path, required=True, help="the hub's folder (make hub's HUB_DIR)")
    parser.add_argument("user")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    members = {m.name: m for m in read_roster(args.hub_dir / ROSTER_COPY)}
    if args.user not in members:
        parser.error(f"{args.user} is not on the hub's roster ({args.hub_dir / ROSTER_COPY})")
    return run(members[args.user], command, args.hub_dir.resolve()).returncode


if __name__ == "__main__":
    sys.exit(main())
