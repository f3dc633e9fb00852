"""The trusted scorer's questions: to a submission's kernel, and to the evaluator of its programs.

    Kernel      asks one kernel over one connection (labs.hidden answers): call a function by
                name on inputs the scorer chooses, read a variable, export the model; every
                answer is data (labs.wire), decoded and shape-checked here, never trusted
    Evaluator   a sandboxed `python -m labs.portable serve` process: it runs the submission's
                exported programs and never holds hidden answers (only inputs it must see)
    Runner      one loaded program set, with the interface labs.rules expects
    Verdict     the decision on one graded cell; Fail and KernelError say why points were lost
"""

import subprocess
import threading
from dataclasses import asdict, dataclass, field

import numpy as np

from autograder import sandbox
from labs import wire
from labs.evaluation import TinyGRU

MAX_ANSWER_BYTES = 64 * 2**20


@dataclass
class Verdict:
    """The scorer's decision on one graded cell, and what it measured (never hidden data)."""

    cell: str
    points: float
    max_points: float
    message: str
    measurements: dict = field(default_factory=dict)
    rule: str = ""

    def to_json(self) -> dict:
        return asdict(self)


class KernelError(Exception):
    """The kernel's answer is missing, malformed or an exception; the message is for the student."""


class Fail(Exception):
    """A check failed: `message` says what to fix, `measurements` what was measured."""

    def __init__(self, message: str, **measurements):
        super().__init__(message)
        self.measurements = measurements


# ---------------------------------------------------------------- talking to the kernel

@dataclass
class Frame:
    index: list
    columns: list
    values: np.ndarray


def _decode(value, arrays, depth=0):
    if depth > 8:
        raise KernelError("the answer is nested too deeply")
    if isinstance(value, dict) and len(value) == 1:
        (kind, item), = value.items()
        if kind == "array" and isinstance(item, int) and 0 <= item < len(arrays):
            return arrays[item]
        if kind == "sequence" and isinstance(item, list):
            return [_decode(v, arrays, depth + 1) for v in item]
        if kind == "dict" and isinstance(item, dict):
            return {str(k): _decode(v, arrays, depth + 1) for k, v in item.items()}
        if kind == "frame" and isinstance(item, dict):
            values = _decode({"array": item.get("array")}, arrays, depth + 1)
            return Frame([str(i) for i in item.get("index", [])], [str(c) for c in item.get("columns", [])], values)
        if kind == "float" and item in ("inf", "-inf", "nan"):
            return float(item)
        if kind == "unsupported":
            return f"<{str(item)[:60]}>"
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise KernelError("the kernel sent a malformed answer")


class Tensor:
    """An argument the kernel receives as a torch tensor (plain arrays arrive as np.ndarray)."""

    def __init__(self, array):
        self.array = np.asarray(array)


def _encode(value, arrays):
    if isinstance(value, Tensor):
        arrays.append(value.array)
        return {"tensor": len(arrays) - 1}
    if isinstance(value, np.ndarray):
        arrays.append(value)
        return {"array": len(arrays) - 1}
    if isinstance(value, TinyGRU):
        raise TypeError("send a tiny_gru spec, not a model")
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, arrays) for v in value]}
    if isinstance(value, dict):
        return value                  # {"tiny_gru": {...}}
    return value


class Kernel:
    """The scorer's questions to one kernel over one connection."""

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    def _ask(self, header: dict, arrays=()) -> tuple[dict, list]:
        wire.send(self.writer, header, arrays)
        try:
            reply, answer = wire.receive(self.reader, MAX_ANSWER_BYTES)
        except (wire.WireError, ConnectionError, OSError, ValueError) as error:
            raise KernelError(f"no valid answer from the notebook ({error})") from None
        if reply.get("kind") == "missing":
            raise KernelError(f"`{header['name']}` is not defined in the notebook")
        if reply.get("kind") == "raised":
            raise KernelError(f"`{header['name']}` raised {str(reply.get('error'))[:400]}")
        return reply, answer

    def call(self, name: str, *args, **kwargs):
        arrays = []
        header = {"kind": "call", "name": name, "args": [_encode(a, arrays) for a in args],
                  "kwargs": {k: _encode(v, arrays) for k, v in kwargs.items()}}
        reply, answer = self._ask(header, arrays)
        return _decode(reply.get("value"), answer)

    def value(self, name: str):
        reply, answer = self._ask({"kind": "value", "name": name})
        return _decode(reply.get("value"), answer)

    def program(self, header: dict, arrays=()) -> bytes:
        reply, answer = self._ask(header, arrays)
        if reply.get("kind") != "program" or len(answer) != 1 or answer[0].dtype != np.uint8:
            raise KernelError("the notebook did not send a program")
        return answer[0].tobytes()


# ---------------------------------------------------------------- running programs

class EvaluatorError(Exception):
    pass


class Evaluator:
    """A `python -m labs.portable serve` process, in the sandbox when `sandboxed`: it runs the
    submission's programs and never holds hidden answers (only the inputs it must see)."""

    def __init__(self, sandboxed: bool, timeout: float = 300.0):
        command = sandbox.evaluator_args() if sandboxed else sandbox.limited(sandbox.EVALUATOR, None, 6000)
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        self.timeout = timeout
        self.lock = threading.Lock()

    def request(self, header: dict, arrays=()) -> tuple[dict, list[np.ndarray]]:
        with self.lock:
            timer = threading.Timer(self.timeout, self.process.kill)
            timer.start()
            try:
                wire.send(self.process.stdin, header, arrays)
                reply, outputs = wire.receive(self.process.stdout)
            except (ConnectionError, OSError, wire.WireError) as error:
                raise EvaluatorError(f"the program could not be run ({error}; time or memory limit?)") from None
            finally:
                timer.cancel()
        if "error" in reply:
            raise EvaluatorError(f"the exported model failed: {reply['error']}")
        return reply, outputs

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


class Runner:
    """One loaded program set in an Evaluator, with the interface labs.rules expects."""

    def __init__(self, evaluator: Evaluator, key: str, data: bytes):
        self.evaluator, self.key = evaluator, key
        reply, _ = evaluator.request({"kind": "load", "name": key}, [np.frombuffer(data, dtype=np.uint8)])
        self.entries = reply["entries"]

    def recurrent(self, entry: str) -> list[str]:
        """The recurrent operators that program `entry` calls, e.g. ['aten.gru.input']."""
        return self.entries.get(entry, {}).get("recurrent", [])

    def run(self, entry, *inputs, permutation=None):
        arrays = [np.asarray(x) for x in inputs] + ([np.asarray(permutation)] if permutation is not None else [])
        return self.evaluator.request({"kind": "run", "name": self.key, "entry": entry,
                                       "permute": permutation is not None}, arrays)[1]

    def closed_loop(self, warmup, n_steps, permutation=None):
        arrays = [np.asarray(warmup, dtype=np.float32)] + ([np.asarray(permutation)] if permutation is not None else [])
        _, (generated,) = self.evaluator.request({"kind": "closed_loop", "name": self.key, "n_steps": int(n_steps),
                                                  "permute": permutation is not None}, arrays)
        return generated


def as_array(value, what: str, shape: tuple | None = None) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Fail(f"{what} must be an array of numbers, got {str(value)[:60]}") from None
    if shape is not None and array.shape != shape:
        raise Fail(f"{what} has shape {array.shape}, expected {shape}")
    return array
