import threading

import numpy as np
import pytest
import torch
from torch import nn

from labs import evaluation, waves


class Doubler(nn.Module):
    """Predicts twice its input and counts calls in its state; contains an unused RNN."""

    def __init__(self):
        super().__init__()
        self.rnn = nn.RNN(1, 2, batch_first=True)

    def forward(self, x, state=None):
        return 2 * x, (0 if state is None else state) + 1


def test_closed_loop_feeds_back_predictions():
    warmup = torch.tensor([[1.0, 3.0], [0.5, -1.0]])
    generated = evaluation.closed_loop_generate(Doubler(), warmup, 4)
    assert torch.equal(generated, torch.tensor([[6.0, 12, 24, 48], [-2, -4, -8, -16]]))


def test_closed_loop_matches_step_by_step_and_restores_training_mode():
    model = evaluation.TinyGRU().train()
    warmup = torch.randn(3, 10)
    generated = evaluation.closed_loop_generate(model, warmup, 5)
    assert model.training
    y, state = model(warmup.unsqueeze(-1))
    step, expected = y[:, -1:], []
    for _ in range(5):
        expected.append(step)
        step, state = model(step, state)
    assert torch.allclose(generated, torch.cat(expected, 1).squeeze(-1).detach())


def test_overlap_mse_uses_common_steps_and_flags_non_finite():
    pred = np.array([[1.0, 1.0, 9.0], [np.nan, 0.0, 0.0]])
    truth = np.array([[0.0, 2.0], [0.0, 0.0]])
    assert np.allclose(evaluation.overlap_mse(pred[:1], truth[:1]), [1.0])
    assert np.isinf(evaluation.overlap_mse(pred, truth)[1])


def test_generation_mse_is_per_wave():
    sines = waves.make_sines(6, 40, seed=0)
    mse = evaluation.generation_mse(evaluation.TinyGRU(), sines, n_warmup=10)
    assert mse.shape == (6,) and np.all(mse >= 0)


def test_zero_predictor_scores_about_half_on_unit_waves():
    class Zero(nn.Module):
        def forward(self, x, state=None):
            return torch.zeros_like(x), None
    mse = evaluation.generation_mse(Zero(), waves.make_sines(200, 300, seed=0), n_warmup=100)
    assert mse.mean() == pytest.approx(0.5, abs=0.05)


def test_recurrent_modules_finds_cells():
    model = nn.Sequential(nn.Linear(2, 2), nn.GRUCell(2, 2))
    assert [type(m) for m in evaluation.recurrent_modules(model)] == [nn.GRUCell]


def test_bad_shapes_raise():
    with pytest.raises(ValueError):
        evaluation.closed_loop_generate(evaluation.TinyGRU(), torch.zeros(3), 5)
    with pytest.raises(ValueError):
        evaluation.generation_mse(evaluation.TinyGRU(), np.zeros((2, 10)), n_warmup=10)
    with pytest.raises(TypeError):
        evaluation.overlap_mse([[1.0]], [[1.0]])


def test_seeded_layers_built_in_threads_side_by_side_get_the_same_weights():
    """The grader's scorer threads (one per job) build reference layers at the same time; without
    labs.evaluation.SEEDED they mix torch's one global stream (hundreds of wrong layers here)."""
    expected = evaluation.seeded_layer("LSTM", 3, 16, seed=5).weight_hh_l0.detach().clone()
    wrong = []

    def build_many():
        for _ in range(200):
            if not torch.equal(evaluation.seeded_layer("LSTM", 3, 16, seed=5).weight_hh_l0, expected):
                wrong.append(1)

    threads = [threading.Thread(target=build_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not wrong
