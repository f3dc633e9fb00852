"""Plotting helpers. Every plot gets a title and labelled axes; several series get a legend."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def _require_labels(title: str, xlabel: str, ylabel: str) -> None:
    for name, value in (("title", title), ("xlabel", xlabel), ("ylabel", ylabel)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"a plot needs a non-empty {name}")


def _legend_outside(ax) -> None:
    """A legend to the right of the axes, where it hides no data."""
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)


def labelled_axes(title: str, xlabel: str, ylabel: str, ax=None, figsize=(7, 3.5)):
    """An axes (new, or `ax`) with its title and axis labels set."""
    _require_labels(title, xlabel, ylabel)
    if ax is None:
        _, ax = plt.subplots(figsize=figsize, layout="constrained")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    return ax


def plot_lines(series: dict, *, title: str, xlabel: str, ylabel: str, x=None, logy=False, ax=None):
    """One line per entry of `series` ({label: values of shape (n,)}), over `x`.

    Without `x`, a pandas Series is drawn over its index (dates, say) and an array over 0..n-1.
    """
    if not series:
        raise ValueError("series is empty")
    ax = labelled_axes(title, xlabel, ylabel, ax)
    for label, values in series.items():
        if x is not None:
            positions = x
        elif isinstance(values, pd.Series):
            positions = values.index
        else:
            positions = np.arange(len(values))
        ax.plot(positions, np.asarray(values, dtype=float), label=label)
    if logy:
        ax.set_yscale("log")
    if len(series) > 1:
        _legend_outside(ax)
    return ax


def plot_loss(losses, *, title: str = "Training loss", ylabel: str = "MSE loss", ax=None):
    """Loss per training step, shape (n_steps,), on a log scale."""
    return plot_lines(
        {"training": losses}, title=title, xlabel="training step", ylabel=ylabel, logy=True, ax=ax
    )


def plot_truth_vs_prediction(truth, prediction, *, n_warmup: int, title: str, ax=None,
                             xlabel: str = "time step", ylabel: str = "value"):
    """The true series (n_steps,) and the prediction that follows its first `n_warmup` steps."""
    truth = np.asarray(truth, dtype=float)
    prediction = np.asarray(prediction, dtype=float)
    ax = labelled_axes(title, xlabel, ylabel, ax)
    ax.plot(np.arange(len(truth)), truth, label="truth", color="tab:blue")
    steps = n_warmup + np.arange(len(prediction))
    ax.plot(steps, prediction, label="prediction", color="tab:orange", linestyle="--")
    ax.axvline(n_warmup - 0.5, color="gray", linewidth=0.8, label="end of warm-up")
    _legend_outside(ax)
    return ax


def plot_best_worst(waves, generated, mse, *, n_warmup: int, title: str):
    """Two panels: the wave with the lowest and the one with the highest MSE.

    waves: (n_waves, n_steps) truth; generated: (n_waves, n_steps - n_warmup); mse: (n_waves,).
    """
    mse = np.asarray(mse, dtype=float)
    best, worst = int(np.argmin(mse)), int(np.argmax(mse))
    fig, axes = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, layout="constrained")
    for ax, index, name in ((axes[0], best, "best"), (axes[1], worst, "worst")):
        plot_truth_vs_prediction(
            waves[index], generated[index], n_warmup=n_warmup, ax=ax,
            title=f"{name}: wave {index}, MSE {mse[index]:.2e}",
        )
    fig.suptitle(title)
    return fig


def plot_trajectories(series: dict, *, title: str, xlabel: str, ylabel: str, ax=None):
    """One curve per entry of `series` ({label: (xs, ys)}, each of shape (n,)), drawn in the plane."""
    if not series:
        raise ValueError("series is empty")
    ax = labelled_axes(title, xlabel, ylabel, ax)
    for label, (xs, ys) in series.items():
        ax.plot(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float), label=label, linewidth=0.9)
    if len(series) > 1:
        _legend_outside(ax)
    return ax


def plot_eigenvalues(eigenvalues, *, title: str, marked_angle: float | None = None, ax=None):
    """Complex eigenvalues (n,) in the complex plane, with the unit circle; `marked_angle`
    (radians) draws the two points exp(+-i angle) on the circle for comparison."""
    eigenvalues = np.asarray(eigenvalues, dtype=complex)
    ax = labelled_axes(title, "real part", "imaginary part", ax)
    circle = np.exp(1j * np.linspace(0, 2 * np.pi, 400))
    ax.plot(circle.real, circle.imag, color="gray", linewidth=0.8, label="unit circle")
    ax.scatter(eigenvalues.real, eigenvalues.imag, s=14, color="tab:blue", label="eigenvalues", zorder=3)
    if marked_angle is not None:
        marks = np.exp(1j * np.array([marked_angle, -marked_angle]))
        ax.scatter(marks.real, marks.imag, s=60, facecolors="none", edgecolors="tab:red",
                   label=f"exp(+-i {marked_angle:.3f})", zorder=4)
    ax.set_aspect("equal")
    _legend_outside(ax)
    return ax
