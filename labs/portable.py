"""Models as data: export a trained model to a program that holds no Python code, and run it.

The grader never runs a student's Python. A test cell exports the student's model with
`torch.export` and turns the graph into a `Program`: a list of ATen operations (by name),
their arguments and the weights, as JSON and arrays (labs.wire). `Program.from_bytes` reads
that data back, resolves each operation only among PyTorch's own `aten` operators (never one
that reads or writes a file, prints, or takes a storage) and refuses anything else, so loading
and running a program executes nothing from the file. The grader runs programs in a separate,
sandboxed process (`python -m labs.portable serve`) that never holds the hidden answers.

`run(..., permutation=p)` is the grader's test of "the network does the work": every
recurrent operation (nn.RNN, nn.LSTM, nn.GRU and their cells) hands on its outputs permuted
along the batch, so each row continues with another row's hidden state. A model whose
predictions survive that does not compute them with its recurrent layers.

Students call the same functions in their visible checks (labs.rules).
"""

import contextlib
import copy
import operator
import re
import sys
import warnings

import numpy as np
import torch
from torch import nn

from labs import wire

VERSION = 1
MAX_NODES = 200_000
MAX_TENSOR_BYTES = 128 * 2**20
TENSOR_DTYPES = {"float32": torch.float32, "float64": torch.float64, "int64": torch.int64,
                 "int32": torch.int32, "bool": torch.bool}
# String arguments that select a variant of an operator (never a path or code).
SAFE_STRING_ARGUMENTS = {"rounding_mode", "reduce", "approximate", "equation", "padding", "mode", "padding_mode",
                         "side", "interpolation", "indexing", "reduction", "UPLO", "driver"}
DENIED_OPERATORS = {"from_file", "save", "_print", "warn", "set_", "record_stream"}
NAME = re.compile(r"^_?[A-Za-z][A-Za-z0-9_]*$")
# Recurrent operators: where their outputs' batch dimension is (None: given by `batch_first`).
RECURRENT = {"rnn_tanh.input": None, "rnn_relu.input": None, "lstm.input": None, "gru.input": None,
             "rnn_tanh_cell.default": 0, "rnn_relu_cell.default": 0, "lstm_cell.default": 0, "gru_cell.default": 0}
GATED = {"lstm.input", "gru.input", "lstm_cell.default", "gru_cell.default"}


class ProgramError(ValueError):
    """A model that cannot be exported, or data that is not a valid program."""


# ---------------------------------------------------------------- exporting (the kernel's side)

def _encode(value, names):
    if isinstance(value, torch.fx.Node):
        return {"node": names[value]}
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else {"float": repr(value)}
    if isinstance(value, list):
        return [_encode(v, names) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, names) for v in value]}
    if isinstance(value, torch.dtype):
        return {"dtype": str(value).removeprefix("torch.")}
    if isinstance(value, torch.device):
        return {"device": "cpu"}
    if isinstance(value, torch.layout):
        return {"layout": str(value).removeprefix("torch.")}
    if isinstance(value, torch.memory_format):
        return {"memory_format": str(value).removeprefix("torch.")}
    raise ProgramError(f"cannot export an argument of type {type(value).__name__}")


def _target_name(target) -> str:
    if target is operator.getitem:
        return "getitem"
    if isinstance(target, torch._ops.OpOverload) and target.namespace == "aten":
        return str(target)          # "aten.<name>.<overload>"
    raise ProgramError(f"the model uses {target}, which a program cannot hold; use plain PyTorch layers and "
                       "tensor operations (no numpy, no .item(), no Python control flow on tensor values)")


def _as_array(tensor: torch.Tensor) -> np.ndarray:
    tensor = tensor.detach().cpu()
    if str(tensor.dtype).removeprefix("torch.") not in TENSOR_DTYPES:
        tensor = tensor.float() if tensor.is_floating_point() else tensor.long()
    return tensor.contiguous().numpy()


def from_exported(exported) -> "Program":
    """A Program from a torch.export.ExportedProgram (static shapes)."""
    from torch.export.graph_signature import InputKind, OutputKind

    names, inputs, tensors = {}, [], {}
    specs = {spec.arg.name: spec for spec in exported.graph_signature.input_specs}
    nodes = []
    for node in exported.graph.nodes:
        names[node] = f"v{len(names)}"
        if node.op == "placeholder":
            spec = specs[node.name]
            if spec.kind == InputKind.USER_INPUT:
                inputs.append({"name": names[node], "kind": "user"})
                continue
            if spec.kind not in (InputKind.PARAMETER, InputKind.BUFFER, InputKind.CONSTANT_TENSOR):
                raise ProgramError(f"the model has an input of kind {spec.kind.name}, which a program cannot hold")
            value = exported.state_dict.get(spec.target)
            if value is None:
                value = exported.constants[spec.target]
            tensors[names[node]] = _as_array(value)
            inputs.append({"name": names[node], "kind": "tensor"})
        elif node.op == "call_function":
            nodes.append({"name": names[node], "target": _target_name(node.target),
                          "args": _encode(list(node.args), names),
                          "kwargs": [[key, _encode(value, names)] for key, value in node.kwargs.items()]})
        elif node.op == "output":
            kinds = [spec.kind for spec in exported.graph_signature.output_specs]
            user = [value for value, kind in zip(node.args[0], kinds, strict=True) if kind == OutputKind.USER_OUTPUT]
            output = _encode(user, names)
        else:
            raise ProgramError(f"the model's graph has a {node.op} node (a submodule or a higher-order "
                               "operation such as torch.cond), which a program cannot hold")
    return Program({"version": VERSION, "inputs": inputs, "nodes": nodes, "output": output}, tensors)


@contextlib.contextmanager
def _exporting():
    """No gradients, no warnings on stderr, and the random streams left as they were."""
    with torch.no_grad(), warnings.catch_warnings(), torch.random.fork_rng(devices=[]):
        warnings.simplefilter("ignore")
        yield


def export(module: nn.Module, example_inputs: tuple) -> "Program":
    """Export `module(*example_inputs)` (tensors of fixed shapes) as a Program; moves `module` to the
    CPU in eval mode (callers pass a copy)."""
    example_inputs = tuple(x.detach().cpu() for x in example_inputs)
    try:
        with _exporting():
            exported = torch.export.export(module.cpu().eval(), example_inputs)
    except Exception as error:  # noqa: BLE001  (torch.export raises many kinds; the message is what helps)
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ProgramError(f"torch.export could not export the model: {type(error).__name__}: {first_line[:300]}. "
                           "Use only PyTorch operations on tensors in forward (no numpy, no .item(), no "
                           "Python branches on tensor values).") from None
    return from_exported(exported)


class _Start(nn.Module):
    """x (batch, n_warmup, 1) -> (y, *state tensors): the model from a zero state (None)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        y, state = self.model(x, None)
        return (y, *_tensors(state))


class _Step(nn.Module):
    """(x (batch, 1, 1), *state tensors) -> (y, *state tensors): one step from a given state.
    `template` is the state's structure, its non-tensor leaves (such as None) kept as they are."""

    def __init__(self, model, template):
        super().__init__()
        self.model = model
        self.leaves, self.spec = torch.utils._pytree.tree_flatten(template)

    def forward(self, x, *tensors):
        supply = iter(tensors)
        leaves = [next(supply) if isinstance(leaf, torch.Tensor) else leaf for leaf in self.leaves]
        y, state = self.model(x, torch.utils._pytree.tree_unflatten(leaves, self.spec))
        return (y, *_tensors(state))


def _tensors(state) -> list:
    return [leaf for leaf in torch.utils._pytree.tree_leaves(state) if isinstance(leaf, torch.Tensor)]


def export_generator(model: nn.Module, batch_size: int, n_warmup: int) -> dict[str, "Program"]:
    """Lab 5's model contract `y, state = model(x, state)` as two programs: "start" reads a
    warm-up (batch, n_warmup, 1) from a zero state, "step" continues one step from a state."""
    if not isinstance(model, nn.Module):
        raise ProgramError(f"the model must be an nn.Module, got {type(model).__name__}")
    warmup = torch.zeros(batch_size, n_warmup, 1)
    with _exporting():
        model = copy.deepcopy(model).cpu().float().eval()
        outputs = model(warmup, None)
    if not (isinstance(outputs, tuple) and len(outputs) == 2 and isinstance(outputs[0], torch.Tensor)):
        raise ProgramError("model(x, None) must return (y, state)")
    step_inputs = (torch.zeros(batch_size, 1, 1), *(t.detach() for t in _tensors(outputs[1])))
    return {"start": export(_Start(model), (warmup,)), "step": export(_Step(model, outputs[1]), step_inputs)}


class _Forecast(nn.Module):
    """windows (batch, window) float64 raw prices -> (batch,) float64 next-day prices."""

    def __init__(self, forecaster, predict_next):
        super().__init__()
        self.forecaster, self.predict_next = forecaster, predict_next

    def forward(self, windows):
        return torch.as_tensor(self.predict_next(self.forecaster, windows)).double().reshape(-1)


def export_forecaster(forecaster: nn.Module, predict_next, example_windows) -> dict[str, "Program"]:
    """Lab 6's `predict_next(forecaster, windows)` as one program "forecast" for windows of the
    example's shape (batch, window); `forecaster` must be an nn.Module."""
    if not isinstance(forecaster, nn.Module):
        raise ProgramError(f"a forecaster must be an nn.Module, got {type(forecaster).__name__}")
    windows = torch.as_tensor(np.asarray(example_windows, dtype=np.float64))
    with _exporting():
        forecaster = copy.deepcopy(forecaster)
    return {"forecast": export(_Forecast(forecaster, predict_next), (windows,))}


def pack(programs: dict[str, "Program"]) -> bytes:
    """The bytes of named programs (one labs.wire message)."""
    header, arrays = {"programs": {}}, []
    for name, program in programs.items():
        header["programs"][name] = {**program.spec, "tensors": list(program.tensors)}
        arrays += list(program.tensors.values())
    return wire.encode(header, arrays)


# ---------------------------------------------------------------- reading and running (the grader's side)

def _operator(target: str):
    if target == "getitem":
        return operator.getitem
    parts = target.split(".")
    if len(parts) != 3 or parts[0] != "aten" or not all(NAME.match(p) for p in parts[1:]):
        raise ProgramError(f"operation {target[:80]!r} is not an aten operator")
    if parts[1] in DENIED_OPERATORS:
        raise ProgramError(f"operation {target!r} is not allowed")
    try:
        op = getattr(getattr(torch.ops.aten, parts[1]), parts[2])
    except (AttributeError, RuntimeError):
        raise ProgramError(f"unknown operation {target!r}") from None
    if not isinstance(op, torch._ops.OpOverload) or op.namespace != "aten":
        raise ProgramError(f"operation {target!r} is not an aten operator")
    for argument in op._schema.arguments:
        kind = str(argument.type)
        if "Storage" in kind or ("str" in kind and argument.name not in SAFE_STRING_ARGUMENTS):
            raise ProgramError(f"operation {target!r} takes a {kind} argument {argument.name!r}: not allowed")
    return op


def _check_encoded(value, known: set, depth: int = 0):
    """Raise unless `value` is a well-formed encoded argument referring only to `known` nodes."""
    if depth > 20:
        raise ProgramError("arguments nested too deeply")
    if isinstance(value, list):
        for item in value:
            _check_encoded(item, known, depth + 1)
    elif isinstance(value, dict):
        if len(value) != 1:
            raise ProgramError("malformed argument")
        (key, item), = value.items()
        if key == "node":
            if item not in known:
                raise ProgramError(f"argument refers to an unknown value {str(item)[:40]!r}")
        elif key == "tuple":
            _check_encoded(item, known, depth + 1)
        elif key == "float":
            if item not in ("inf", "-inf", "nan"):
                raise ProgramError("malformed float")
        elif key in ("dtype", "layout", "memory_format"):
            if not isinstance(getattr(torch, str(item), None), (torch.dtype, torch.layout, torch.memory_format)):
                raise ProgramError(f"unknown {key} {str(item)[:40]!r}")
        elif key != "device":
            raise ProgramError(f"malformed argument {key[:40]!r}")
    elif not (value is None or isinstance(value, bool | int | float | str)):
        raise ProgramError("malformed argument")


def _decode(value, env):
    if isinstance(value, list):
        return [_decode(v, env) for v in value]
    if isinstance(value, dict):
        (key, item), = value.items()
        if key == "node":
            return env[item]
        if key == "tuple":
            return tuple(_decode(v, env) for v in item)
        if key == "float":
            return float(item)
        if key == "device":
            return torch.device("cpu")
        return getattr(torch, item)
    return value


class Program:
    """A model as data: `spec` (inputs, ATen nodes, output) and its `tensors` {name: ndarray}."""

    def __init__(self, spec: dict, tensors: dict[str, np.ndarray]):
        self.spec, self.tensors = spec, tensors
        self._checked = False

    def check(self) -> "Program":
        """Validate the program (structure, operators, sizes); raise ProgramError if it is not one."""
        spec = self.spec
        if not isinstance(spec, dict) or spec.get("version") != VERSION:
            raise ProgramError("not a program of this version")
        inputs, nodes = spec.get("inputs"), spec.get("nodes")
        if not isinstance(inputs, list) or not isinstance(nodes, list) or len(nodes) > MAX_NODES:
            raise ProgramError("malformed program")
        known = set()
        for item in inputs:
            if not isinstance(item, dict) or item.get("kind") not in ("user", "tensor"):
                raise ProgramError("malformed input")
            if item["kind"] == "tensor" and item.get("name") not in self.tensors:
                raise ProgramError("an input tensor is missing")
            known.add(item.get("name"))
        self._ops = []
        for node in nodes:
            if not isinstance(node, dict) or not isinstance(node.get("target"), str):
                raise ProgramError("malformed node")
            self._ops.append(_operator(node["target"]))
            _check_encoded(node.get("args"), known)
            kwargs = node.get("kwargs") or []
            if not isinstance(kwargs, list) or not all(isinstance(k, list) and len(k) == 2 and
                                                       isinstance(k[0], str) for k in kwargs):
                raise ProgramError("malformed keyword arguments")
            _check_encoded([value for _, value in kwargs], known)
            known.add(node.get("name"))
        _check_encoded(spec.get("output"), known)
        if sum(a.nbytes for a in self.tensors.values()) > MAX_TENSOR_BYTES:
            raise ProgramError("the program's weights are too large")
        self._weights = {}
        for name, array in self.tensors.items():
            if str(array.dtype) not in TENSOR_DTYPES:
                raise ProgramError(f"weights of dtype {array.dtype} are not allowed")
            self._weights[name] = torch.from_numpy(np.array(array))
        self._checked = True
        return self

    @property
    def n_inputs(self) -> int:
        return sum(item["kind"] == "user" for item in self.spec["inputs"])

    def recurrent_operations(self) -> list[str]:
        """The recurrent operators the program calls, e.g. ['aten.gru.input'], in order."""
        return [n["target"] for n in self.spec["nodes"] if n["target"].removeprefix("aten.") in RECURRENT]

    def run(self, *inputs: torch.Tensor, permutation: torch.Tensor | None = None) -> list[torch.Tensor]:
        """The program's outputs for `inputs`. With `permutation` (a LongTensor over the batch),
        every recurrent operation's outputs are reordered along the batch by it."""
        if not self._checked:
            self.check()
        if len(inputs) != self.n_inputs:
            raise ProgramError(f"the program takes {self.n_inputs} inputs, got {len(inputs)}")
        env, user = {}, iter(inputs)
        for item in self.spec["inputs"]:      # fresh copies: a program keeps no state between runs
            value = next(user) if item["kind"] == "user" else self._weights[item["name"]]
            env[item["name"]] = value.clone()
        for node, op in zip(self.spec["nodes"], self._ops, strict=True):
            args = _decode(node["args"], env)
            kwargs = {key: _decode(value, env) for key, value in node.get("kwargs") or []}
            result = op(*args, **kwargs)
            short = node["target"].removeprefix("aten.")
            if permutation is not None and short in RECURRENT:
                result = _permuted(result, RECURRENT[short], args, permutation)
            env[node["name"]] = result
        outputs = _decode(self.spec["output"], env)
        return list(outputs) if isinstance(outputs, list | tuple) else [outputs]


def _permuted(result, batch_dim, args, permutation):
    """Outputs of a recurrent operator with the batch reordered: for nn.RNN/LSTM/GRU the output
    sequence (batch dim 0 if batch_first else 1) and the final states (dim 1); for cells, dim 0."""
    def reorder(tensor, dim):
        return tensor.index_select(dim, permutation) if tensor.shape[dim] == len(permutation) else tensor

    if batch_dim == 0:
        return tuple(reorder(t, 0) for t in result) if isinstance(result, tuple) else reorder(result, 0)
    batch_first = bool(args[-1])
    output, *states = result
    return (reorder(output, 0 if batch_first else 1), *(reorder(s, 1) for s in states))


def unpack(data: bytes) -> dict[str, Program]:
    """Read and check the programs that `pack` wrote."""
    try:
        header, arrays = wire.decode(data)
    except (wire.WireError, ConnectionError) as error:
        raise ProgramError(f"not a program: {error}") from None
    programs = header.get("programs")
    if not isinstance(programs, dict) or not programs:
        raise ProgramError("no programs in the data")
    result, arrays = {}, iter(arrays)
    for name, spec in programs.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("tensors"), list):
            raise ProgramError("malformed program")
        try:
            tensors = {str(key): next(arrays) for key in spec.pop("tensors")}
        except StopIteration:
            raise ProgramError("the program's weights are missing") from None
        result[str(name)] = Program(spec, tensors).check()
    return result


def closed_loop(programs: dict[str, Program], warmup, n_steps: int, permutation=None) -> torch.Tensor:
    """Lab 5's closed-loop generation with exported programs: warmup (batch, n_warmup) -> (batch, n_steps)."""
    warmup = torch.as_tensor(warmup, dtype=torch.float32)
    y, *state = programs["start"].run(warmup.unsqueeze(-1), permutation=permutation)
    step, generated = y[:, -1:, :], []
    for _ in range(n_steps):
        generated.append(step)
        if len(generated) == n_steps:
            break
        step, *state = programs["step"].run(step, *state, permutation=permutation)
    return torch.cat(generated, dim=1).reshape(len(warmup), n_steps).double()


# ---------------------------------------------------------------- the evaluator process

def serve(reader, writer) -> None:
    """Answer requests on a stream pair until it closes: "load" (packed programs, as a uint8
    array, kept under `name`), then "run" (name, entry, inputs) or "closed_loop" (name, warm-up,
    n_steps), each optionally with a permutation as the last array. Errors are answered, never
    raised."""
    torch.set_num_threads(1)
    loaded = {}
    while True:
        try:
            request, arrays = wire.receive(reader)
        except ConnectionError:
            return
        try:
            kind, name = request.get("kind"), str(request.get("name"))
            permutation = torch.from_numpy(arrays.pop()).long() if request.get("permute") else None
            if kind == "load":
                loaded[name] = unpack(arrays[0].tobytes())
                reply = {"entries": {entry: {"inputs": p.n_inputs, "recurrent": p.recurrent_operations()}
                                     for entry, p in loaded[name].items()}}, []
            elif name not in loaded:
                raise ProgramError("no program loaded under that name")
            elif kind == "run":
                program = loaded[name][str(request["entry"])]
                outputs = program.run(*map(torch.from_numpy, arrays), permutation=permutation)
                reply = {"ok": True}, [o.detach().numpy() for o in outputs]
            elif kind == "closed_loop":
                generated = closed_loop(loaded[name], torch.from_numpy(arrays[0]), int(request["n_steps"]),
                                        permutation)
                reply = {"ok": True}, [generated.numpy()]
            else:
                raise ProgramError(f"unknown request {str(kind)[:40]!r}")
        except Exception as error:  # noqa: BLE001  (a bad program fails its own request only)
            reply = {"error": f"{type(error).__name__}: {str(error)[:500]}"}, []
        wire.send(writer, *reply)


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    serve(sys.stdin.buffer, sys.stdout.buffer)
