"""The student side of hidden scoring: answer the trusted scorer's questions with your model.

The hidden tests never see the hidden data, and never compute a score in the notebook's
kernel, where a submission could have replaced any function. Instead a hidden test calls

    result = request_score("lab5_model_quality", answer)

The trusted scorer (autograder/scorer.py, a separate process that the grader runs and this
package does not ship) sends inputs, `answer(inputs, header)` returns the model's outputs, and
the scorer compares them with the hidden truth itself: only it holds the hidden data, it
reveals a hidden day only after the forecast for that day came back, and it scores each
graded cell at most once per submission. The grader uses the scorer's own record of the score;
`result` (a dict with "score" and the scorer's measurements) is only for printing.

Wire format: a 4-byte big-endian length and a JSON header, then, if the header says
"array": n, n bytes of one .npy array (no pickles: np.load(..., allow_pickle=False)).
"""

import io
import json
import os
import socket
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np

ADDRESS_VARIABLE = "LABS_SCORER"  # "host:port:token", set by the grader for one submission


def send(stream, header: dict, array: np.ndarray | None = None) -> None:
    """Write one message (header and optional array) to a binary stream."""
    payload = b""
    if array is not None:
        buffer = io.BytesIO()
        np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
        payload = buffer.getvalue()
        header = {**header, "array": len(payload)}
    encoded = json.dumps(header).encode()
    stream.write(struct.pack(">I", len(encoded)) + encoded + payload)
    stream.flush()


def _read_exactly(stream, size: int) -> bytes:
    data = stream.read(size)
    if data is None or len(data) != size:
        raise ConnectionError("the scorer closed the connection")
    return data


def receive(stream, max_bytes: int = 64 * 2**20) -> tuple[dict, np.ndarray | None]:
    """Read one message; refuse headers or arrays larger than `max_bytes`."""
    (size,) = struct.unpack(">I", _read_exactly(stream, 4))
    if size > 2**20:
        raise ValueError("header too large")
    header = json.loads(_read_exactly(stream, size))
    if not isinstance(header, dict):
        raise ValueError("header must be a JSON object")
    array = None
    if header.get("array"):
        length = int(header["array"])
        if not 0 < length <= max_bytes:
            raise ValueError("array too large")
        array = np.load(io.BytesIO(_read_exactly(stream, length)), allow_pickle=False)
    return header, array


def _local_scorer() -> subprocess.Popen:
    """Outside the grader (an instructor running the source notebook), start the scorer here."""
    scorer = Path(__file__).resolve().parent.parent / "autograder" / "scorer.py"
    if not scorer.exists():
        raise RuntimeError("hidden tests run only under the course's grader (python -m autograder.grade)")
    code = (f"import sys; sys.path.insert(0, {str(scorer.parent.parent)!r}); "
            "import autograder.scorer as s; s.serve_stdio()")
    return subprocess.Popen([sys.executable, "-I", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)


def request_score(cell: str, answer, **params) -> dict:
    """Have the trusted scorer score graded cell `cell`; `answer(inputs, header) -> outputs`."""
    address = os.environ.get(ADDRESS_VARIABLE)
    if address:
        host, port, token = address.rsplit(":", 2)
        connection = socket.create_connection((host, int(port)), timeout=600)
        reader, writer, local = connection.makefile("rb"), connection.makefile("wb"), None
    else:
        token, local = "", _local_scorer()
        reader, writer = local.stdout, local.stdin
    try:
        send(writer, {"cell": cell, "token": token, "params": params})
        while True:
            header, inputs = receive(reader)
            if header["kind"] == "ask":
                send(writer, {"kind": "answer"}, np.asarray(answer(inputs, header), dtype=np.float64))
            elif header["kind"] == "error":
                raise AssertionError(header["message"])
            else:
                return header["result"]
    finally:
        if local is not None:
            local.stdin.close()
            local.wait(timeout=60)
        else:
            connection.close()
