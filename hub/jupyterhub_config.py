"""JupyterHub configuration of the course hub; `make hub` (hub/launch.py) starts JupyterHub with it.

Everything listens on 127.0.0.1 only: the public port (RNN_LABS_HUB_PORT), the hub's own API
and the proxy's API (free ports picked at start). Users are the roster's (DIR/roster.csv),
logging in with their own password (hub/auth.py). Each server runs as that user's Unix
account (LocalProcessSpawner, the default) in their home, with their role's environment
(hub/roster.py): instructors get the formgrader and course management, students the
Assignment List and Validate. No user is a hub admin (an admin could open a student's server).
"""

import os
import socket
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from hub.auth import RosterAuthenticator  # noqa: E402
from hub.launch import PROXY  # noqa: E402
from hub.roster import PYTHON_ENV, ROSTER_COPY, STATE, environment, read_roster  # noqa: E402

c = get_config()  # noqa: F821  (provided by traitlets when JupyterHub loads this file)
hub_dir = Path(os.environ["RNN_LABS_HUB_DIR"])
state = hub_dir / STATE
members = {member.name: member for member in read_roster(hub_dir / ROSTER_COPY)}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


c.JupyterHub.bind_url = f"http://127.0.0.1:{os.environ['RNN_LABS_HUB_PORT']}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.command = [str(PROXY)]
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")

c.JupyterHub.authenticator_class = RosterAuthenticator
c.RosterAuthenticator.passwords_file = str(state / "passwords.json")
c.Authenticator.allowed_users = set(members)

c.Spawner.cmd = [str(hub_dir / PYTHON_ENV / "bin" / "jupyterhub-singleuser")]  # hub/python_env.py
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120   # a single-user server starts in about 5 s; 2 busy cores can take longer
c.Spawner.http_timeout = 120


def role_environment(spawner) -> None:
    spawner.environment = {**spawner.environment, **environment(members[spawner.user.name], hub_dir)}


c.Spawner.pre_spawn_hook = role_environment
