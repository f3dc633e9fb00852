"""Small experiments the lab runs on any model: a learning curve (how much data is enough?)."""

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from labs.evaluation import generation_mse, model_device


@torch.no_grad()
def one_step_mse(model: nn.Module, waves, n_warmup: int = 100) -> float:
    """Teacher-forced error: mean squared error of predicting each next value of `waves`
    (n_waves, n_steps) from the true values before it, after the first `n_warmup` steps."""
    waves = torch.as_tensor(np.asarray(waves), dtype=torch.float32)
    was_training = model.training
    model.eval()
    try:
        predictions, _ = model(waves[:, :-1, None].to(model_device(model)), None)
    finally:
        model.train(was_training)
    errors = (predictions[..., 0].cpu() - waves[:, 1:]) ** 2
    return float(errors[:, n_warmup:].mean())


def learning_curve(train: Callable, make_waves: Callable, sizes: Sequence[int], val_waves,
                   n_steps: int = 101, n_warmup: int = 100, seed: int = 1000) -> dict:
    """Train one model per training-set size and measure it on `val_waves` (n_val, T > n_warmup).

    train(train_waves) -> a trained model, for train_waves a float tensor (n_waves, n_steps);
    make_waves(n_waves, n_steps, seed=...) makes them (the i-th size uses seed + i). Returns
    {"sizes": [...], "one_step_mse": [...], "closed_loop_mse": [...]}: the teacher-forced
    error and the mean MSE of closed-loop generation after n_warmup true steps.
    """
    curve = {"sizes": [int(n) for n in sizes], "one_step_mse": [], "closed_loop_mse": []}
    for index, n_waves in enumerate(curve["sizes"]):
        train_waves = torch.as_tensor(np.asarray(make_waves(n_waves, n_steps, seed=seed + index)), dtype=torch.float32)
        model = train(train_waves)
        curve["one_step_mse"].append(one_step_mse(model, val_waves, n_warmup))
        curve["closed_loop_mse"].append(float(generation_mse(model, val_waves, n_warmup).mean()))
    return curve
