"""The kernel's side of the hidden tests: answer the trusted scorer's questions, decide nothing.

A hidden test cell is one line,

    labs.hidden.respond("lab5_make_cosines", globals())

The trusted scorer (autograder/scorer.py, outside this kernel) then asks for what the cell
needs: it calls your functions by name on inputs it chooses (`call`), reads your variables
(`value`), or has your model exported to a program that holds no Python code (`export`, see
labs.portable), which it runs itself, in a sandbox, on the hidden data. It judges every answer
on its own side and keeps the score; this kernel never sees hidden data and never computes a
score. What `respond` prints and returns is only a copy of the scorer's verdict, for you.

Under the grader the scorer listens on the socket named by LABS_SCORER_SOCKET, which only this
kernel's sandbox can see. Outside it (an instructor running a source notebook) `respond` starts
the scorer as a separate process on this machine.
"""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from labs import wire
from labs.grading import preserved_rng, quiet

SOCKET_VARIABLE = "LABS_SCORER_SOCKET"


def encode_value(value, arrays: list, depth: int = 0):
    """A JSON-able description of `value`; tensors and arrays go into `arrays` by index."""
    if depth > 6:
        return {"unsupported": "nested too deeply"}
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return {"unsupported": "an object array"}
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else {"float": repr(value)}
    if isinstance(value, list | tuple):
        return {"sequence": [encode_value(v, arrays, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"dict": {str(k): encode_value(v, arrays, depth + 1) for k, v in value.items()}}
    if type(value).__name__ == "DataFrame":
        arrays.append(np.asarray(value.to_numpy(dtype=float, na_value=np.nan)))
        return {"frame": {"index": [str(i) for i in value.index], "columns": [str(c) for c in value.columns],
                          "array": len(arrays) - 1}}
    return {"unsupported": type(value).__name__}


def decode_argument(value, arrays):
    """Arguments the scorer sends: JSON, {"array": i} (an ndarray), {"tensor": i}, {"tuple": [...]},
    {"tiny_gru": {...}} or {"layer": {...}}: a reference model or layer built here from its seed."""
    if isinstance(value, list):
        return [decode_argument(v, arrays) for v in value]
    if isinstance(value, dict):
        (kind, item), = value.items()
        if kind == "array":
            return arrays[item].copy()
        if kind == "tensor":
            return torch.from_numpy(arrays[item].copy())
        if kind == "tuple":
            return tuple(decode_argument(v, arrays) for v in item)
        if kind == "tiny_gru":
            from labs.evaluation import TinyGRU

            return TinyGRU(**item)
        if kind == "layer":
            from labs.evaluation import seeded_layer

            return seeded_layer(**item)
        raise ValueError(f"unknown argument kind {kind!r}")
    return value


def _answer(request, arrays, namespace) -> tuple[dict, list]:
    """This kernel's reply to one question of the scorer."""
    from labs import portable

    kind, name = request.get("kind"), str(request.get("name"))
    if name not in namespace:
        return {"kind": "missing", "name": name}, []
    target = namespace[name]
    out = []
    if kind == "call":
        args = decode_argument(request.get("args", []), arrays)
        kwargs = {k: decode_argument(v, arrays) for k, v in request.get("kwargs", {}).items()}
        return {"kind": "result", "value": encode_value(target(*args, **kwargs), out)}, out
    if kind == "value":
        return {"kind": "result", "value": encode_value(target, out)}, out
    if kind == "export_generator":
        programs = portable.export_generator(target, request["batch"], request["n_warmup"])
    elif kind == "export_forecaster":
        forecaster = target[request["key"]] if isinstance(target, dict) else target
        programs = portable.export_forecaster(forecaster, namespace["predict_next"], arrays[0])
    else:
        return {"kind": "raised", "error": f"unknown question {kind!r}"}, []
    return {"kind": "program"}, [np.frombuffer(portable.pack(programs), dtype=np.uint8)]


_local = None


def _local_scorer() -> subprocess.Popen:
    """Outside the grader (an instructor running a source notebook): the scorer as a process
    here, one per kernel, kept for the next cells (their exported models stay pinned)."""
    global _local
    if _local is not None and _local.poll() is None:
        return _local
    repo = Path(__file__).resolve().parent.parent
    if not (repo / "autograder" / "scorer.py").exists():
        raise RuntimeError("hidden tests run only under the course's grader (python -m autograder.grade)")
    code = f"import sys; sys.path.insert(0, {str(repo)!r}); import autograder.scorer as s; s.serve_stdio()"
    _local = subprocess.Popen([sys.executable, "-I", "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    return _local


def respond(cell: str, namespace: dict) -> dict:
    """Answer the scorer's questions for graded cell `cell` with the names in `namespace`
    (pass globals()); return and print the scorer's verdict (a copy: the grader keeps its own)."""
    path, connection = os.environ.get(SOCKET_VARIABLE), None
    if path:
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.connect(path)
        reader, writer = connection.makefile("rb"), connection.makefile("wb")
    else:
        local = _local_scorer()
        reader, writer = local.stdout, local.stdin
    try:
        wire.send(writer, {"kind": "cell", "cell": cell})
        while True:
            request, arrays = wire.receive(reader)
            if request.get("kind") == "verdict":
                break
            try:
                with preserved_rng(), quiet():
                    reply = _answer(request, arrays, namespace)
            except Exception as error:  # noqa: BLE001  (the scorer decides what a failure costs)
                reply = {"kind": "raised", "error": f"{type(error).__name__}: {str(error)[:500]}"}, []
            wire.send(writer, *reply)
    finally:
        if connection is not None:
            connection.close()
    print(f"hidden tests: {request['points']:.2f} of {request['max_points']:g} points. {request['message']}")
    return request
