"""What `make hub` runs: the course on a local JupyterHub.

    python -m hub.launch --hub-dir DIR --roster FILE --port PORT

As root, idempotently (a second run keeps everyone's work):
  1. the roster's Unix accounts (hub/roster.py) and a copy of the roster in DIR/roster.csv;
  2. the exchange in DIR/exchange with the permissions of hub/exchange.py;
  3. the users' Python in DIR/python on a copy of this interpreter (hub/python_env.py);
  4. each instructor's course root ~/rnn-labs, prepared as that instructor (hub/course_root.py);
  5. a password per user in DIR/state/passwords.json (root only, kept across runs);
then JupyterHub replaces this process, on http://127.0.0.1:PORT only, with its proxy from
hub/node_modules and its state in DIR/state. Not root: it says why and exits with status 2.
"""

import argparse
import json
import os
import secrets
import shutil
import sys
from pathlib import Path

from hub import as_user, exchange, python_env
from hub.roster import (
    COURSE_ROOT,
    EXCHANGE,
    PYTHON_BASE,
    PYTHON_ENV,
    REPO,
    ROSTER_COPY,
    STATE,
    ensure_accounts,
    read_roster,
)

PROXY = REPO / "hub" / "node_modules" / ".bin" / "configurable-http-proxy"
NOT_ROOT = """make hub must run as root: it creates a Unix account for each user of the roster and
JupyterHub starts each user's server as that user. Run: sudo make hub
(A single-user JupyterLab needs no root: make lab.)"""


def reachable_by_everyone(folder: Path) -> bool:
    """Can every user traverse down to `folder` (the exchange lives in it)?"""
    return all(os.stat(path).st_mode & 0o001 for path in [folder, *folder.parents])


def passwords(state: Path, names: list[str]) -> Path:
    """DIR/state/passwords.json with a password for every name (existing ones are kept)."""
    path = state / "passwords.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    known.update({name: secrets.token_urlsafe(12) for name in names if name not in known})
    path.touch(mode=0o600)
    path.write_text(json.dumps(known, indent=1))
    return path


class HubError(RuntimeError):
    """The hub cannot be set up here; the message says why."""


def prepare(hub_dir: Path, roster: Path) -> Path:
    """Steps 1-5 of the module docstring (as root); returns the passwords file."""
    if not PROXY.exists():
        raise HubError(f"{PROXY} is missing: run make hub-deps (npm ci in hub/)")
    members = read_roster(roster)
    hub_dir.mkdir(parents=True, exist_ok=True)
    hub_dir.chmod(0o755)
    if not reachable_by_everyone(hub_dir):
        raise HubError(f"{hub_dir} is inside a folder that other users cannot enter: choose another HUB_DIR")
    ensure_accounts(members)
    shutil.copyfile(roster, hub_dir / ROSTER_COPY)
    instructors = [m for m in members if m.role == "instructor"]
    exchange.prepare(hub_dir / EXCHANGE, exchange.course_id(), instructors[0].name)
    python = python_env.build(hub_dir / PYTHON_ENV, hub_dir / PYTHON_BASE)
    for member in instructors:
        as_user.run(member, [str(python), "-m", "hub.course_root", str(member.home / COURSE_ROOT)], hub_dir,
                    check=True)
    state = hub_dir / STATE
    state.mkdir(mode=0o700, exist_ok=True)
    return passwords(state, [m.name for m in members])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hub-dir", type=Path, required=True, help="the hub's folder: exchange, state, roster")
    parser.add_argument("--roster", type=Path, required=True, help="CSV file: username,role")
    parser.add_argument("--port", type=int, default=8000, help="the hub's port on 127.0.0.1 (default 8000)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(NOT_ROOT, file=sys.stderr)
        return 2
    hub_dir = args.hub_dir.resolve()
    try:
        logins = prepare(hub_dir, args.roster)
    except (HubError, ValueError) as error:   # ValueError: a bad roster
        print(error, file=sys.stderr)
        return 1
    print(f"JupyterHub on http://127.0.0.1:{args.port} for the roster {args.roster}; "
          f"passwords in {logins} (root only)", flush=True)
    os.chdir(hub_dir / STATE)
    env = {**os.environ, "RNN_LABS_HUB_DIR": str(hub_dir), "RNN_LABS_HUB_PORT": str(args.port)}
    hub = str(Path(sys.executable).parent / "jupyterhub")
    os.execve(hub, [hub, "--config", str(REPO / "hub" / "jupyterhub_config.py")], env)


if __name__ == "__main__":
    sys.exit(main())
