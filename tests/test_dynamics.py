import numpy as np
import pytest
import torch
from torch import nn

from labs import dynamics, evaluation, experiments, waves


class Rotation(nn.Module):
    """A linear oscillator with the lab's contract: the state turns by `angle` per step, y reads it."""

    def __init__(self, angle=waves.TIME_STEP):
        super().__init__()
        c, s = np.cos(angle), np.sin(angle)
        self.turn = nn.Parameter(torch.tensor([[c, -s], [s, c]], dtype=torch.float32))

    def forward(self, x, state=None):
        state = torch.zeros(1, x.shape[0], 2, dtype=x.dtype) if state is None else state
        outputs = []
        for _ in range(x.shape[1]):
            state = state @ self.turn.T            # the input is ignored: a free oscillator
            outputs.append(state[0, :, :1])
        return torch.stack(outputs, 1), state


class Generator(nn.Module):
    def __init__(self, kind=nn.RNN, hidden_size=6, num_layers=1):
        super().__init__()
        self.rnn = kind(1, hidden_size, num_layers=num_layers, batch_first=True)
        self.readout = nn.Linear(hidden_size, 1)

    def forward(self, x, state=None):
        output, state = self.rnn(x, state)
        return self.readout(output), state


def test_linear_oscillator_has_its_rotation_as_eigenvalues():
    loop = dynamics.linearise_closed_loop(Rotation())
    assert loop["residual"] < 1e-12 and np.allclose(loop["fixed_point"], 0)
    leading = loop["eigenvalues"][:2]
    assert np.allclose(np.abs(leading), 1)
    assert np.allclose(sorted(np.angle(leading)), [-waves.TIME_STEP, waves.TIME_STEP])
    assert np.allclose(loop["eigenvalues"][2:], 0)


def test_rnn_jacobian_is_the_chain_rule_at_the_fixed_point():
    torch.manual_seed(0)
    model = Generator()
    loop = dynamics.linearise_closed_loop(model)
    x, h = loop["fixed_point"][0], loop["fixed_point"][1:]
    W, U = model.rnn.weight_hh_l0.double().detach().numpy(), model.rnn.weight_ih_l0.double().detach().numpy()
    b = (model.rnn.bias_ih_l0 + model.rnn.bias_hh_l0).double().detach().numpy()
    V, c = model.readout.weight.double().detach().numpy(), model.readout.bias.double().detach().numpy()
    h_next = np.tanh(W @ h + U[:, 0] * x + b)
    assert np.allclose(h_next, h) and np.allclose(V @ h_next + c, x), "a fixed point of the closed loop"
    D = np.diag(1 - h_next**2)
    expected = np.block([[V @ D @ U, V @ D @ W], [D @ U, D @ W]])
    assert np.allclose(loop["jacobian"], expected)


def test_lstm_states_are_flattened_and_generation_matches_the_trusted_one():
    torch.manual_seed(1)
    model = Generator(nn.LSTM, hidden_size=4, num_layers=2)
    warmup = torch.from_numpy(waves.make_sines(3, 20, seed=0))
    outputs, states = dynamics.closed_loop_states(model, warmup, 7)
    assert outputs.shape == (3, 7) and states.shape == (3, 7, 2 * 2 * 4)
    assert np.allclose(outputs, evaluation.closed_loop_generate(model, warmup, 7).numpy(), atol=1e-6)
    assert dynamics.linearise_closed_loop(model)["jacobian"].shape == (17, 17)


class Counter(nn.Module):
    """Its state is a number of steps, not a tensor."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x, state=None):
        return self.scale * x, 1 if state is None else state + 1


def test_a_state_that_is_not_a_tensor_is_refused():
    with pytest.raises(TypeError):
        dynamics.linearise_closed_loop(Counter())


def test_principal_components_of_a_planar_circle_and_amplitude():
    angle = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    plane = np.linalg.qr(np.random.default_rng(0).normal(size=(5, 2)))[0]
    points = 3 + np.stack([np.cos(angle), np.sin(angle)], 1) @ plane.T
    projected, explained = dynamics.principal_components(points)
    assert projected.shape == (200, 2) and np.isclose(explained, 1)
    assert np.allclose(np.linalg.norm(projected, axis=1), 1)
    assert np.isclose(dynamics.amplitude(0.7 * np.sin(angle)), 0.7)


def test_learning_curve_measures_each_size_with_the_trusted_evaluator():
    model = evaluation.TinyGRU()
    val = waves.make_sines(4, 130, seed=1)
    seen = []

    def train(train_waves):
        seen.append(tuple(train_waves.shape))
        return model

    curve = experiments.learning_curve(train, waves.make_sines, (2, 5), val, n_steps=11, n_warmup=100)
    assert seen == [(2, 11), (5, 11)] and curve["sizes"] == [2, 5]
    assert np.isclose(curve["closed_loop_mse"][0], evaluation.generation_mse(model, val, 100).mean())
    with torch.no_grad():
        predictions = model(torch.from_numpy(val[:, :-1, None]))[0][..., 0].numpy()
    assert np.isclose(curve["one_step_mse"][1], np.mean((predictions - val[:, 1:])[:, 100:] ** 2), rtol=1e-5)


class Offset(nn.Module):
    """An RNN generator whose readout is amplified, like a model that scales its input down: it has a far
    fixed point with a saturated state besides the centre of its oscillation."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(3)
        self.inner = Generator(hidden_size=8)

    def forward(self, x, state=None):
        y, state = self.inner(0.01 * x, state)
        return y / 0.01, state


def test_newton_starts_at_the_centre_of_the_generated_oscillation():
    model = Offset()
    centre = dynamics.linearise_closed_loop(model)
    _, states = dynamics.closed_loop_states(model, waves.make_sines(1, 100, seed=0), 600)
    inside = states[0, 100:].min(axis=0) - 1e-6 <= centre["fixed_point"][1:]
    assert np.all(inside & (centre["fixed_point"][1:] <= states[0, 100:].max(axis=0) + 1e-6)), \
        "the fixed point found lies among the states the generation visits"
    zero_start = dynamics.linearise_closed_loop(model, start=np.zeros(9))
    assert zero_start["residual"] < 1e-9
