"""A wave generator in closed loop is a dynamical system: one step maps (x, state) to (y, state').

These helpers work for any model with the lab's contract, `y, state = model(x, state)` with x and
y of shape (batch, seq_len, 1), whose state is a tensor or a tuple of tensors (nn.RNN, nn.GRU,
nn.LSTM and their stacks). They find a fixed point of the closed loop, linearise it there, and
record the states along a generation.
"""

import copy

import numpy as np
import torch
from torch import nn

from labs import waves


def _parts(state) -> tuple:
    parts = state if isinstance(state, tuple) else (state,)
    if not all(isinstance(p, torch.Tensor) and p.dim() in (2, 3) for p in parts):
        raise TypeError("the model's state must be a tensor or a tuple of tensors, (layers, batch, n) or (batch, n)")
    return parts


def _flatten(state) -> torch.Tensor:
    """The states of a batch (a tensor or a tuple of tensors) as one vector per sequence: (batch, n)."""
    parts = _parts(state)
    return torch.cat([p.reshape(p.shape[0], -1) if p.dim() == 2 else p.transpose(0, 1).reshape(p.shape[1], -1)
                      for p in parts], dim=1)


def _shapes(state) -> list:
    return [p.shape for p in _parts(state)]


def _unflatten(vector: torch.Tensor, shapes: list, is_tuple: bool):
    """Inverse of _flatten for a batch of one: vector (n,) -> the model's state."""
    parts, start = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        parts.append(vector[start:start + size].reshape(shape))
        start += size
    return tuple(parts) if is_tuple else parts[0]


def _template(model: nn.Module):
    """One closed-loop step from a zero input: the shape and type of the model's state."""
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    _, state = model(torch.zeros(1, 1, 1, device=device, dtype=dtype), None)
    return _shapes(state), isinstance(state, tuple)


def closed_loop_step(model: nn.Module):
    """The closed loop as a map on vectors: z = (x, state) of one sequence -> (y, state').

    Returns (step, size): step(z) for z of shape (size,), differentiable with autograd.
    """
    shapes, is_tuple = _template(model)
    size = 1 + sum(int(np.prod(s)) for s in shapes)

    def step(z):
        y, state = model(z[:1].reshape(1, 1, 1), _unflatten(z[1:], shapes, is_tuple))
        return torch.cat([y.reshape(1), _flatten(state)[0]])

    return step, size


def linearise_closed_loop(model: nn.Module, warmup=None, start=None, max_iter: int = 50, tol: float = 1e-10) -> dict:
    """Fixed point z* of the closed loop (Newton's method, in float64) and the Jacobian there.

    Newton's method starts at `start` (size,) if given, else at the mean of (x, state) over 500
    closed-loop steps after `warmup` (n_warmup,), by default a unit sine of 100 steps: the centre
    of the oscillation, not some far fixed point where tanh saturates. Returns a dict with
    "fixed_point" (size,), "residual" |step(z*) - z*|, "jacobian" (size, size) and "eigenvalues"
    (complex, largest modulus first). Raises RuntimeError when Newton's method does not converge.
    """
    if start is None:
        warmup = waves.make_sines(1, 100, seed=0)[0] if warmup is None else np.asarray(warmup, dtype=np.float32)
        outputs, states = closed_loop_states(model, warmup[None], 600)
        start = np.concatenate([[outputs[0, 100:].mean()], states[0, 100:].mean(axis=0)])
    twin = copy.deepcopy(model).double().eval()
    step, size = closed_loop_step(twin)
    z = torch.as_tensor(start, dtype=torch.float64)
    identity = torch.eye(size, dtype=torch.float64)
    for _ in range(max_iter):
        jacobian = torch.autograd.functional.jacobian(step, z)
        residual = step(z).detach() - z
        if residual.norm() < tol:
            break
        z = z - torch.linalg.solve(jacobian - identity, residual)
    else:
        raise RuntimeError(f"no fixed point found: |step(z) - z| = {residual.norm():.1e} after {max_iter} steps")
    eigenvalues = torch.linalg.eigvals(jacobian).numpy()
    order = np.argsort(-np.abs(eigenvalues), kind="stable")
    return {"fixed_point": z.numpy(), "residual": float(residual.norm()), "jacobian": jacobian.numpy(),
            "eigenvalues": eigenvalues[order]}


@torch.no_grad()
def closed_loop_states(model: nn.Module, warmup, n_steps: int):
    """Generate like labs.evaluation.closed_loop_generate and record the state after every step.

    warmup (batch, n_warmup) -> outputs (batch, n_steps) and states (batch, n_steps, state size),
    as NumPy arrays.
    """
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        x = torch.as_tensor(np.asarray(warmup), dtype=torch.float32, device=device).unsqueeze(-1)
        y, state = model(x, None)
        step, outputs, states = y[:, -1:], [], []
        for _ in range(n_steps):
            outputs.append(step[:, 0, 0])
            states.append(_flatten(state))
            step, state = model(step, state)
    finally:
        model.train(was_training)
    return torch.stack(outputs, 1).cpu().numpy(), torch.stack(states, 1).cpu().numpy()


def principal_components(states, k: int = 2):
    """Project states (..., n_features) on their first k principal components.

    Returns (projected (..., k), fraction of the variance those k components explain).
    """
    states = np.asarray(states, dtype=np.float64)
    flat = states.reshape(-1, states.shape[-1])
    centred = flat - flat.mean(axis=0)
    _, singular, components = np.linalg.svd(centred, full_matrices=False)
    explained = float((singular[:k] ** 2).sum() / (singular**2).sum())
    return (centred @ components[:k].T).reshape(*states.shape[:-1], k), explained


def amplitude(values, axis: int = -1):
    """Amplitude of a sinusoid from its samples: sqrt(2) times the RMS along `axis`."""
    return np.sqrt(2 * np.mean(np.asarray(values, dtype=np.float64) ** 2, axis=axis))
