# ATTACK: garbage for the trusted scorer: broken headers, a 4 GB length, arrays past the limit,
# requests for cells of another lab or none, connections dropped half-way. The scorer must
# refuse them and still serve this notebook's real test cells (the solution keeps full marks).
import os
import socket
import struct

from labs import wire

path = os.environ.get("LABS_SCORER_SOCKET", "/run/labs/scorer.sock")
messages = [b"\xff" * 64, struct.pack(">I", 2**32 - 1) + b"{", struct.pack(">I", 5) + b"[1,2]",
            wire.encode({"kind": "cell", "cell": "lab6_forecast_TSLA"}),
            wire.encode({"kind": "cell", "cell": "nothing_to_score"}),
            struct.pack(">I", 40) + b'{"kind": "cell", "cell": 1, "arrays": [9]}' + b"\0" * 10]
refused = 0
for message in messages:
    try:
        connection = socket.socket(socket.AF_UNIX)
        connection.settimeout(5)
        connection.connect(path)
        connection.sendall(message)
        refused += connection.recv(4096) == b"" or True
        connection.close()
    except OSError:
        refused += 1
print("messages sent to the scorer:", len(messages))
