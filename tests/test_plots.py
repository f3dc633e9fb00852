import matplotlib.pyplot as plt
import numpy as np
import pytest

from labs import plots


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plots_require_title_and_labels():
    with pytest.raises(ValueError):
        plots.plot_lines({"a": [1, 2]}, title="", xlabel="x", ylabel="y")
    with pytest.raises(ValueError):
        plots.labelled_axes("t", "x", " ")


def test_plot_lines_labels_and_legend():
    ax = plots.plot_lines({"a": [1, 2], "b": [2, 3]}, title="T", xlabel="X", ylabel="Y", logy=True)
    assert (ax.get_title(), ax.get_xlabel(), ax.get_ylabel()) == ("T", "X", "Y")
    assert ax.get_yscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]


def test_truth_vs_prediction_places_prediction_after_warmup():
    ax = plots.plot_truth_vs_prediction(np.zeros(10), np.ones(4), n_warmup=6, title="T")
    truth_line, prediction_line = ax.get_lines()[:2]
    assert list(prediction_line.get_xdata()) == [6, 7, 8, 9]
    assert ax.get_xlabel() and ax.get_ylabel()


def test_best_worst_picks_extremes():
    waves = np.zeros((3, 10))
    fig = plots.plot_best_worst(waves, np.zeros((3, 5)), [0.3, 0.1, 0.9], n_warmup=5, title="B/W")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("best: wave 1") and titles[1].startswith("worst: wave 2")
    assert fig.get_suptitle() == "B/W"


def test_plot_loss_is_labelled():
    ax = plots.plot_loss([1.0, 0.5, 0.1])
    assert ax.get_title() and ax.get_xlabel() == "training step" and ax.get_yscale() == "log"


def test_trajectories_and_eigenvalues_are_labelled():
    ax = plots.plot_trajectories({"a": ([0, 1], [1, 0]), "b": ([1, 2], [0, 1])}, title="T", xlabel="X", ylabel="Y")
    assert ax.get_title() == "T" and [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
    with pytest.raises(ValueError):
        plots.plot_trajectories({}, title="T", xlabel="X", ylabel="Y")
    ax = plots.plot_eigenvalues(np.array([0.5 + 0.5j, 0.5 - 0.5j]), title="E", marked_angle=0.1)
    assert ax.get_xlabel() == "real part" and ax.get_aspect() == 1.0
    assert len(ax.get_legend().get_texts()) == 3
