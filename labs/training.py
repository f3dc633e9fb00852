"""A small training loop shared by the Lab 6 examples: Adam, gradient clipping, a quiet progress bar."""

from collections.abc import Callable

import torch
from torch import nn

from labs.progress import progress


def fit(model: nn.Module, batch_loss: Callable[[int], torch.Tensor], n_steps: int, lr: float = 1e-2,
        max_grad_norm: float = 1.0, cosine_lr: bool = False, desc: str = "training") -> list[float]:
    """Run `n_steps` Adam steps on `batch_loss(step)`, a scalar loss for one mini-batch.

    Gradients are clipped to `max_grad_norm`; with `cosine_lr` the learning rate decays from
    `lr` to 0 along a cosine. Returns the loss of every step.
    """
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, n_steps) if cosine_lr else None
    losses = []
    for step in progress(range(n_steps), desc=desc):
        loss = batch_loss(step)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        if schedule is not None:
            schedule.step()
        losses.append(loss.item())
    model.eval()
    return losses


def sample_batch(n_items: int, batch_size: int, device=None) -> torch.Tensor:
    """Random indices (batch_size,) into a data set of `n_items` items."""
    return torch.randint(n_items, (min(batch_size, n_items),), device=device)
