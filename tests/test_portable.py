"""Programs hold no code: export, reading back (and refusing what is not a program), running, swapping."""

import io
import math

import numpy as np
import pytest
import torch
from torch import nn

from labs import portable, waves, wire
from labs.evaluation import TinyGRU, closed_loop_generate


class CellModel(nn.Module):
    """The lab's contract with an LSTMCell loop: x (batch, seq_len, 1) -> y, (h, c)."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(1)
        self.cell, self.out = nn.LSTMCell(1, 6), nn.Linear(6, 1)

    def forward(self, x, state=None):
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(self.out(state[0]))
        return torch.stack(outputs, 1), state


class Formula(nn.Module):
    """The exact cosine recurrence x(t+1) = 2 cos(D) x(t) - x(t-1), plus a tiny term from an RNN."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.rnn, self.out = nn.RNN(1, 4, batch_first=True), nn.Linear(4, 1)

    def forward(self, x, state=None):
        rnn_state, previous = (None, x[:, :1] * 0) if state is None else state
        output, rnn_state = self.rnn(x, rnn_state)
        before = torch.cat([previous, x[:, :-1]], dim=1)
        y = 2 * math.cos(waves.TIME_STEP) * x - before + 1e-4 * self.out(output)
        return y, (rnn_state, x[:, -1:])


def roundtrip(programs):
    return portable.unpack(portable.pack(programs))


@pytest.mark.parametrize("make", [TinyGRU, CellModel])
def test_exported_generator_runs_like_the_model(make):
    model = make()
    warmup = torch.from_numpy(waves.make_sines(5, 12, seed=0))
    programs = roundtrip(portable.export_generator(model, 5, 12))
    generated = portable.closed_loop(programs, warmup, 20)
    assert torch.allclose(generated.float(), closed_loop_generate(model, warmup, 20), atol=1e-5)
    assert programs["start"].recurrent_operations()


def test_swapping_states_changes_an_rnn_not_a_formula():
    waves_ = torch.from_numpy(waves.make_sines(6, 60, seed=1))
    swap = torch.roll(torch.arange(6), 3)
    rnn = TinyGRU()
    with torch.no_grad():
        for parameter in rnn.parameters():
            parameter.mul_(4)                     # an untrained GRU whose output follows its state
    for model, changes in ((rnn, True), (Formula(), False)):
        programs = roundtrip(portable.export_generator(model, 6, 40))
        plain = portable.closed_loop(programs, waves_[:, :40], 20)
        swapped = portable.closed_loop(programs, waves_[:, :40], 20, permutation=swap)
        relative = ((swapped - plain).abs().mean() / plain.abs().mean()).item()
        assert (relative > 0.05) if changes else (relative < 1e-3), relative


def test_forecaster_program_matches_predict_next():
    torch.manual_seed(0)
    gru, out = nn.GRU(1, 4, batch_first=True), nn.Linear(4, 1)
    forecaster = nn.ModuleDict({"gru": gru, "out": out})

    def predict_next(f, windows):
        x = torch.log(windows / windows[:, -1:]).float().unsqueeze(-1)
        return windows[:, -1] * torch.exp(f["out"](f["gru"](x)[0][:, -1]).squeeze(-1).double() / 10)

    windows = np.random.default_rng(0).lognormal(size=(8, 5)) + 1
    (program,) = roundtrip(portable.export_forecaster(forecaster, predict_next, windows)).values()
    with torch.no_grad():
        expected = predict_next(forecaster, torch.from_numpy(windows))
    assert torch.allclose(program.run(torch.from_numpy(windows))[0], expected)


def test_numpy_in_forward_gives_a_clear_error():
    class Numpy(nn.Module):
        def forward(self, x, state=None):
            return torch.from_numpy(np.asarray(x) * 2), x[:, -1]

    with pytest.raises(portable.ProgramError, match="PyTorch operations"):
        portable.export_generator(Numpy(), 2, 3)


def tampered(programs, change):
    header, arrays = wire.decode(portable.pack(programs))
    change(header)
    return wire.encode(header, arrays)


def first_node(header):
    return next(iter(header["programs"].values()))["nodes"][0]


@pytest.mark.parametrize("target", ["builtins.eval.default", "aten.from_file.default", "aten._print.default",
                                    "aten.__class__.__init__", "os.system", "aten.save.default"])
def test_reading_refuses_operations_outside_aten_or_with_side_effects(target):
    data = tampered(portable.export_generator(TinyGRU(), 2, 3), lambda h: first_node(h).update(target=target))
    with pytest.raises(portable.ProgramError):
        portable.unpack(data)


def test_reading_refuses_malformed_data():
    programs = portable.export_generator(TinyGRU(), 2, 3)
    for change in (lambda h: first_node(h).update(args=[{"node": "nowhere"}]),
                   lambda h: first_node(h).update(args=[{"dtype": "__class__"}]),
                   lambda h: first_node(h).update(args=[{"eval": "1"}]),
                   lambda h: h.update(programs={})):
        with pytest.raises(portable.ProgramError):
            portable.unpack(tampered(programs, change))
    with pytest.raises(portable.ProgramError):
        portable.unpack(portable.pack(programs) + b"trailing")
    with pytest.raises(portable.ProgramError):
        portable.unpack(b"\x00\x00\x00\x05hello")


def test_a_program_keeps_no_state_between_runs():
    class Accumulates(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("total", torch.zeros(1))

        def forward(self, x):
            self.total.add_(x.sum())
            return self.total * 1

    (program,) = roundtrip({"p": portable.export(Accumulates(), (torch.ones(3),))}).values()
    assert program.run(torch.ones(3))[0].item() == program.run(torch.ones(3))[0].item() == 3.0


def test_the_evaluator_answers_requests_and_errors():
    data = portable.pack(portable.export_generator(TinyGRU(), 2, 4))
    requests = io.BytesIO()
    wire.send(requests, {"kind": "run", "name": "m", "entry": "start"}, [np.zeros((2, 4, 1), np.float32)])
    wire.send(requests, {"kind": "load", "name": "m"}, [np.frombuffer(data, np.uint8)])
    wire.send(requests, {"kind": "closed_loop", "name": "m", "n_steps": 3}, [np.zeros((2, 4), np.float32)])
    requests.seek(0)
    replies = io.BytesIO()
    portable.serve(requests, replies)
    replies.seek(0)
    assert "no program loaded" in wire.receive(replies)[0]["error"]
    assert set(wire.receive(replies)[0]["entries"]) == {"start", "step"}
    header, (generated,) = wire.receive(replies)
    assert header["ok"] and generated.shape == (2, 3)
