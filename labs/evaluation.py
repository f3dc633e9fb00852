"""The trusted evaluator: closed-loop generation and its MSE.

The hidden tests call these functions, never the student's own versions.

The model contract (the same in the worked example and the assignment):
    y, state = model(x, state)       # state=None starts from zeros
    x: float tensor (batch, seq_len, 1), batch first
    y: float tensor (batch, seq_len, 1), y[:, k] is the prediction of x[:, k + 1]
"""

import threading

import numpy as np
import torch
from torch import nn

RECURRENT_TYPES = (nn.RNN, nn.LSTM, nn.GRU, nn.RNNCell, nn.LSTMCell, nn.GRUCell)


def _as_tensor(values) -> torch.Tensor:
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(values)
    if not isinstance(values, torch.Tensor):
        raise TypeError(f"expected a tensor or an ndarray, got {type(values).__name__}")
    return values.float()


def model_device(model: nn.Module) -> torch.device:
    """The device of the first parameter of `model` (the CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


@torch.no_grad()
def closed_loop_generate(model: nn.Module, warmup, n_steps: int) -> torch.Tensor:
    """Feed `warmup` (batch, n_warmup) of true values, then feed the model its own outputs.

    Returns the `n_steps` values that follow the warm-up, shape (batch, n_steps), on the CPU.
    The first generated value is the model's prediction after the last warm-up value.
    """
    warmup = _as_tensor(warmup)
    if warmup.ndim != 2 or warmup.shape[1] < 1:
        raise ValueError(f"warmup must have shape (batch, n_warmup >= 1), got {tuple(warmup.shape)}")
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    was_training = model.training
    model.eval()
    try:
        x = warmup.to(model_device(model)).unsqueeze(-1)
        y, state = model(x, None)
        step = y[:, -1:, :]
        generated = [step]
        for _ in range(n_steps - 1):
            step, state = model(step, state)
            generated.append(step)
    finally:
        model.train(was_training)
    return torch.cat(generated, dim=1).squeeze(-1).float().cpu()


def overlap_mse(predictions, truth) -> np.ndarray:
    """Per-row MSE over the steps both have: shapes (n, T1) and (n, T2) give shape (n,).

    Non-finite predictions give an infinite MSE for their row.
    """
    predictions = _as_tensor(predictions).double().cpu().numpy()
    truth = _as_tensor(truth).double().cpu().numpy()
    if predictions.ndim != 2 or truth.ndim != 2 or predictions.shape[0] != truth.shape[0]:
        raise ValueError(
            f"need two 2-D arrays with the same number of rows, got {predictions.shape} and {truth.shape}"
        )
    overlap = min(predictions.shape[1], truth.shape[1])
    if overlap == 0:
        raise ValueError("predictions and truth do not overlap")
    with np.errstate(over="ignore", invalid="ignore"):
        errors = np.mean((predictions[:, :overlap] - truth[:, :overlap]) ** 2, axis=1)
    return np.where(np.isfinite(errors), errors, np.inf)


def generation_mse(model: nn.Module, waves, n_warmup: int = 100) -> np.ndarray:
    """Seed with the first `n_warmup` steps of each wave (n_waves, n_steps), generate the rest.

    Returns the per-wave MSE of the generated steps against the truth, shape (n_waves,).
    """
    waves = _as_tensor(waves)
    if waves.ndim != 2 or not 0 < n_warmup < waves.shape[1]:
        raise ValueError(f"need waves (n_waves, n_steps > n_warmup={n_warmup}), got {tuple(waves.shape)}")
    generated = closed_loop_generate(model, waves[:, :n_warmup], waves.shape[1] - n_warmup)
    return overlap_mse(generated, waves[:, n_warmup:])


# torch.manual_seed seeds the one global generator: the grader's scorer threads (one per job)
# build their reference layers under this lock, so that two jobs never mix their draws.
SEEDED = threading.Lock()


class TinyGRU(nn.Module):
    """A small GRU with the lab's model contract and seeded random weights: a reference model
    for checking generation code. x (batch, seq_len, 1) -> y (batch, seq_len, 1), state."""

    def __init__(self, hidden_size: int = 8, seed: int = 0):
        super().__init__()
        with SEEDED, torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.gru = nn.GRU(1, hidden_size, batch_first=True)
            self.readout = nn.Linear(hidden_size, 1)

    def forward(self, x, state=None):
        output, state = self.gru(x, state)
        return self.readout(output), state


def seeded_layer(kind: str, input_size: int, hidden_size: int, seed: int) -> nn.Module:
    """nn.RNN, nn.LSTM or nn.GRU (`kind`), batch first, with weights drawn from `seed`: the
    reference layers the graders ask your step functions about."""
    layers = {"RNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}
    if kind not in layers:
        raise ValueError(f"kind must be one of {sorted(layers)}, got {kind!r}")
    with SEEDED, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return layers[kind](int(input_size), int(hidden_size), batch_first=True)


def hidden_gradients_autograd(rnn: nn.RNN, x: torch.Tensor) -> torch.Tensor:
    """d(sum of h_T) / d(h_t) for every step t of a one-layer tanh nn.RNN from h_0 = 0, by autograd:
    x (batch, T, input_size) -> (batch, T, hidden_size). The trusted answer to Lab 5's BPTT part."""
    W_ih, W_hh = rnn.weight_ih_l0, rnn.weight_hh_l0
    bias = rnn.bias_ih_l0 + rnn.bias_hh_l0 if rnn.bias else 0
    h, states = torch.zeros(x.shape[0], rnn.hidden_size, dtype=x.dtype), []
    for t in range(x.shape[1]):
        h = torch.tanh(x[:, t] @ W_ih.T + h @ W_hh.T + bias)
        h.retain_grad()
        states.append(h)
    states[-1].sum().backward()
    return torch.stack([state.grad for state in states], dim=1).detach()


def recurrent_modules(model: nn.Module) -> list[nn.Module]:
    """The nn.RNN, nn.LSTM, nn.GRU modules and their cells inside `model`."""
    return [m for m in model.modules() if isinstance(m, RECURRENT_TYPES)]


def find_recurrent_modules(obj, depth: int = 4) -> list[nn.Module]:
    """Recurrent modules anywhere inside `obj`: an nn.Module, a dict, list or tuple of them, or an
    object holding them as attributes (searched `depth` levels deep). Each module is listed once."""
    found, seen = [], set()

    def visit(item, level):
        if id(item) in seen or level > depth:
            return
        seen.add(id(item))
        if isinstance(item, nn.Module):
            found.extend(m for m in recurrent_modules(item) if all(m is not f for f in found))
        elif isinstance(item, dict):
            for value in item.values():
                visit(value, level + 1)
        elif isinstance(item, list | tuple):
            for value in item:
                visit(value, level + 1)
        elif hasattr(item, "__dict__") and not isinstance(item, type):
            for value in vars(item).values():
                visit(value, level + 1)

    visit(obj, 0)
    return found
