"""The local demo's authenticator: each roster user logs in with the password `make hub`
generated for them (DIR/state/passwords.json, readable by root only).

A single shared password (DummyAuthenticator's) would let any student log in as any other;
on a real server swap this for PAMAuthenticator, LDAP or OAuthenticator (see the README).
"""

import hmac
import json
from pathlib import Path

from jupyterhub.auth import Authenticator
from traitlets import Unicode


class RosterAuthenticator(Authenticator):
    passwords_file = Unicode(help="JSON file {username: password}").tag(config=True)

    async def authenticate(self, handler, data):
        expected = json.loads(Path(self.passwords_file).read_text()).get(data["username"])
        if expected and hmac.compare_digest(expected.encode(), data["password"].encode()):
            return data["username"]
        return None
