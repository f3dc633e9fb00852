"""The trusted scorer decides every point itself: from its own checks of the kernel's answers."""

import numpy as np
import pytest
import torch

import labs.hidden
from autograder.scorer import Hidden, Session
from labs import waves
from labs.evaluation import closed_loop_generate


def make_cosines(n_waves, n_steps, amp_range=(0.5, 1.5), seed=None):
    rng = np.random.default_rng(seed)
    shifts = rng.uniform(0, 2 * np.pi, size=(n_waves, 1))
    amplitudes = rng.uniform(*amp_range, size=(n_waves, 1))
    return (amplitudes * np.cos(waves.time_grid(n_steps) + shifts)).astype(np.float32)


@pytest.fixture
def session(tmp_path, monkeypatch):
    """A Lab 5 scorer on a Unix socket, as a job runs it (its evaluator unsandboxed: no student code)."""
    socket_path = tmp_path / "scorer.sock"
    scorer = Session("lab5", Hidden(), socket_path, sandboxed=False, timeout=60)
    monkeypatch.setenv(labs.hidden.SOCKET_VARIABLE, str(socket_path))
    yield scorer
    scorer.close()


def test_a_correct_answer_scores_and_the_first_request_counts(session):
    verdict = labs.hidden.respond("lab5_make_cosines", {"make_cosines": make_cosines})
    assert verdict["points"] == 2 == session.verdict("lab5_make_cosines").points
    constant = {"make_cosines": lambda n, t, amp_range=(0.5, 1.5), seed=None: np.ones((n, t), np.float32)}
    again = labs.hidden.respond("lab5_make_cosines", constant)
    assert "scored already" in again["message"] and session.verdict("lab5_make_cosines").points == 2


def test_wrong_answers_and_failures_score_zero_with_a_reason(session):
    def constant_amplitude(n, t, amp_range=(0.5, 1.5), seed=None):
        return make_cosines(n, t, (1.0, 1.0), seed)

    assert labs.hidden.respond("lab5_make_cosines", {"make_cosines": constant_amplitude})["points"] == 0
    assert "spread" in session.verdict("lab5_make_cosines").message
    assert labs.hidden.respond("lab5_generate", {})["points"] == 0
    assert "not defined" in session.verdict("lab5_generate").message

    def crashes(model, warmup, n_steps):
        raise ValueError("boom")

    assert labs.hidden.respond("lab5_validation_mse", {"validation_mse": crashes})["points"] == 0


def test_a_cell_the_scorer_never_heard_from_scores_zero(session):
    verdict = session.verdict("lab5_model_quality")
    assert verdict.points == 0 and "did not run" in verdict.message
    assert labs.hidden.respond("lab6_make_windows", {})["max_points"] == 0       # another lab's cell


def test_generate_is_checked_against_the_trusted_generator(session):
    def generate(model, warmup, n_steps):
        return closed_loop_generate(model, warmup, n_steps)

    def off_by_one(model, warmup, n_steps):
        return closed_loop_generate(model, warmup[:, :-1], n_steps)

    assert labs.hidden.respond("lab5_generate", {"generate": generate})["points"] == 2
    session.verdicts.clear()
    assert labs.hidden.respond("lab5_generate", {"generate": off_by_one})["points"] == 0
    assert "warm-up" in session.verdict("lab5_generate").message


class Formula(torch.nn.Module):
    """The exact cosine recurrence, with an unused RNN inside: no model points."""

    def __init__(self):
        super().__init__()
        self.rnn = torch.nn.RNN(1, 2, batch_first=True)

    def forward(self, x, state=None):
        output, h = self.rnn(x, None if state is None else state[0])
        before = torch.cat([x[:, :1] * 0 if state is None else state[1], x[:, :-1]], dim=1)
        return 2 * np.cos(waves.TIME_STEP) * x - before + 0 * output[..., :1], (h, x[:, -1:])


def test_a_formula_that_generates_perfectly_earns_no_model_points(session):
    namespace = {"model": Formula()}
    assert labs.hidden.respond("lab5_model_is_recurrent", namespace)["points"] == 0
    assert labs.hidden.respond("lab5_model_quality", namespace)["points"] == 0
    assert "recurrent layers" in session.verdict("lab5_model_quality").message
