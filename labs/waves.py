"""Sine and cosine waves on the course's time grid.

The grid is the one the slides use, `np.linspace(0, 10, 100)`: step k is at
time `k * TIME_STEP` with `TIME_STEP = 10 / 99`.
"""

import numpy as np

TIME_STEP = 10 / 99


def time_grid(n_steps: int) -> np.ndarray:
    """Times of `n_steps` consecutive steps, shape (n_steps,): 0, TIME_STEP, 2*TIME_STEP, ..."""
    if n_steps < 1:
        raise ValueError(f"n_steps must be >= 1, got {n_steps}")
    return np.arange(n_steps) * TIME_STEP


def make_sines(n_waves: int, n_steps: int, seed: int | None = None) -> np.ndarray:
    """Unit sines with a random shift: `sin(t_k + phi)`, phi ~ U(0, 2*pi).

    Returns float32 array of shape (n_waves, n_steps). The same seed gives the same waves.
    """
    if n_waves < 1:
        raise ValueError(f"n_waves must be >= 1, got {n_waves}")
    rng = np.random.default_rng(seed)
    shifts = rng.uniform(0, 2 * np.pi, size=(n_waves, 1))
    return np.sin(time_grid(n_steps) + shifts).astype(np.float32)


def fit_sinusoid(waves: np.ndarray, time_step: float = TIME_STEP):
    """Least-squares fit of `A * cos(t_k + phi)` to each row of `waves`, shape (n_waves, n_steps).

    Returns `(amplitude, phase, residual_rms)`, each of shape (n_waves,), with phase in
    [0, 2*pi). A wave on another time step leaves a large residual.
    """
    waves = np.asarray(waves, dtype=np.float64)
    if waves.ndim != 2 or waves.shape[1] < 3:
        raise ValueError(f"waves must have shape (n_waves, n_steps >= 3), got {waves.shape}")
    t = np.arange(waves.shape[1]) * time_step
    basis = np.stack([np.cos(t), -np.sin(t)], axis=1)  # A cos(t + phi) = a cos t - b sin t
    coef, *_ = np.linalg.lstsq(basis, waves.T, rcond=None)
    a, b = coef
    residual = waves - (basis @ coef).T
    amplitude = np.hypot(a, b)
    phase = np.mod(np.arctan2(b, a), 2 * np.pi)
    return amplitude, phase, np.sqrt(np.mean(residual**2, axis=1))
