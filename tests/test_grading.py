import math
import os
import random
import sys
import warnings

import numpy as np
import pytest
import torch

from labs import grading


def test_log_linear_score():
    assert grading.log_linear_score(1e-4, 6, 0.01, 0.5) == 6
    assert grading.log_linear_score(0.5, 6, 0.01, 0.5) == 0
    assert grading.log_linear_score(0.54, 6, 0.01, 0.5) == 0
    middle = math.sqrt(0.01 * 0.5)
    assert grading.log_linear_score(middle, 6, 0.01, 0.5) == pytest.approx(3)
    assert grading.log_linear_score(float("nan"), 6, 0.01, 0.5) == 0
    assert grading.log_linear_score(float("inf"), 6, 0.01, 0.5) == 0


def test_linear_score_and_clamp():
    assert grading.linear_score(1.0, 2, 1.1, 2.0) == 2
    assert grading.linear_score(1.55, 2, 1.1, 2.0) == pytest.approx(1)
    assert grading.linear_score(5, 2, 1.1, 2.0) == 0
    assert grading.clamp_points(7, 3) == 3 and grading.clamp_points(-1, 3) == 0
    assert grading.clamp_points(float("nan"), 3) == 0


def test_quiet_swallows_python_and_fd_level_stderr(capfd):
    with grading.quiet():
        warnings.warn("student warning", stacklevel=1)
        print("to stderr", file=sys.stderr)
        os.write(2, b"raw fd 2\n")
        print("to stdout")
    captured = capfd.readouterr()
    assert captured.err == ""
    assert "to stdout" in captured.out


def test_checks_leave_random_streams_untouched():
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(1), np.random.seed(1), torch.manual_seed(1)
    with grading.checks():
        random.random(), np.random.rand(5), torch.rand(5)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_checks_let_assertions_through():
    with pytest.raises(AssertionError), grading.checks():
        raise AssertionError("wrong shape")
