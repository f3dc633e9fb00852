import numpy as np
import pytest
import torch
from torch import nn

import labs
from labs import progress
from labs.checkpoints import train_or_load


def test_setup_lab_fixes_every_stream_and_picks_a_device(capsys):
    device = labs.setup_lab(seed=3)
    first = (np.random.rand(), torch.rand(1).item())
    assert labs.setup_lab(seed=3, verbose=False) == device
    assert (np.random.rand(), torch.rand(1).item()) == first
    assert "seed 3" in capsys.readouterr().out
    assert device.type in ("cpu", "cuda")


def test_is_grading_follows_nbgrader(monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    assert not labs.is_grading()
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert labs.is_grading()


def test_train_or_load_trains_saves_then_loads(tmp_path, monkeypatch):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    path = tmp_path / "m.pt"
    model = nn.Linear(2, 1)

    def train():
        with torch.no_grad():
            model.weight.add_(torch.rand(1, 2))          # draws random numbers
        return [1.0]

    torch.manual_seed(0)
    assert train_or_load(model, path, train) == [1.0]
    after_training = torch.rand(1)
    torch.manual_seed(0)
    expected = torch.rand(1)
    assert torch.equal(after_training, expected), "training must not shift the caller's random stream"

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    loaded = nn.Linear(2, 1)
    assert train_or_load(loaded, path, lambda: 1 / 0) is None
    assert torch.equal(loaded.weight, model.weight)


def test_progress_is_quiet_under_nbgrader(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert list(progress.progress(range(3))) == [0, 1, 2]
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_writes_to_stdout_only(monkeypatch, capsys):
    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    monkeypatch.delenv("LABS_QUIET", raising=False)
    list(progress.progress(range(3), desc="train"))
    assert capsys.readouterr().err == ""


def test_compute_or_load_computes_saves_then_loads(tmp_path, monkeypatch):
    from labs.checkpoints import compute_or_load

    monkeypatch.delenv("NBGRADER_EXECUTION", raising=False)
    path = tmp_path / "results.pt"
    torch.manual_seed(0)
    results = compute_or_load(path, lambda: {"draw": torch.rand(1).item(), "losses": [1.0, 0.5]})
    assert results["losses"] == [1.0, 0.5] and path.exists()
    after = torch.rand(1)
    torch.manual_seed(0)
    assert torch.equal(after, torch.rand(1)), "computing must not shift the caller's random stream"
    with pytest.raises(TypeError):
        compute_or_load(tmp_path / "bad.pt", lambda: [1.0])

    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert compute_or_load(path, lambda: 1 / 0) == results
    with pytest.raises(FileNotFoundError):
        compute_or_load(tmp_path / "missing.pt", dict)
def test_own_seed_is_reproducible_and_leaves_the_outer_streams_alone():
    labs.setup_lab(seed=5, verbose=False)
    expected = (np.random.rand(), torch.rand(1).item())
    labs.setup_lab(seed=5, verbose=False)
    with labs.own_seed(1):
        inside = (np.random.rand(), torch.rand(1).item(), nn.Linear(2, 1).weight.detach().clone())
    assert (np.random.rand(), torch.rand(1).item()) == expected, "the outer streams continue unchanged"
    torch.rand(3)
    with labs.own_seed(1):
        again = (np.random.rand(), torch.rand(1).item(), nn.Linear(2, 1).weight.detach().clone())
    assert inside[:2] == again[:2] and torch.equal(inside[2], again[2])
