"""The grading rules of both labs, in one place, with their thresholds.

The grader's trusted scorer (autograder/scorer.py) applies these functions to the hidden data;
the visible checks in your notebook apply the very same functions to your own data, so what
Validate tells you is what the grader will decide (only the data differ). Every rule runs
on an exported program (labs.portable), never on Python code: `runner` is anything with
    runner.run(entry, *inputs, permutation=None) -> list of arrays
    runner.closed_loop(warmup, n_steps, permutation=None) -> array (batch, n_steps)
(`Local` below runs programs in this process; the grader runs them in a sandboxed process).

Lab 5, Part C ("the network does the work", then quality)
    gate     with every recurrent layer's states swapped between waves (each wave continues
             with another wave's hidden state), closed-loop generation over 200 steps must
             change (RMS change >= 10 % of the RMS output) and be far off: mean MSE >= 0.1
             (predicting 0 scores about 0.54). A formula computed outside the recurrent layers
             survives the swap and fails the gate; so does an RNN the output never uses.
    quality  6 points at mean MSE <= 0.01 over 900 generated steps, 0 at >= 0.5,
             log-linear between; only if the gate passes.
Lab 6, Part B/C ("the LSTM/GRU does the work", then out-of-sample accuracy)
    gate     on the days before your last 100, forecast again with the LSTM/GRU states swapped
             between windows of unrelated dates (LAB6_SWAPS times). The swapped forecasts must
             differ from yours by at least LAB6_MIN_CONTRIBUTION of a typical daily move (RMS,
             relative to the price) and be worse: the paired z statistic of the squared relative
             errors (swapped minus yours) must reach LAB6_MIN_Z; and your forecasts must beat
             persistence on those days. Persistence, persistence nudged by an untrained network,
             and drift formulas with a fitted nudge fail it; see the README for the measurements.
    accuracy per ticker, RMSE / persistence RMSE on the 100 days forecast one step ahead:
             full marks at <= LAB6_FULL_AT, none at >= LAB6_ZERO_AT, linear between; only
             if the gate passes for that ticker.
"""

import numpy as np
import torch

from labs import portable
from labs.evaluation import overlap_mse
from labs.grading import linear_score, log_linear_score

LAB5_QUALITY_POINTS, LAB5_FULL_AT, LAB5_ZERO_AT = 6, 0.01, 0.5
LAB5_GATE_STEPS, LAB5_GATE_MIN_MSE, LAB5_GATE_MIN_CHANGE = 200, 0.1, 0.1
LAB6_FORECAST_POINTS, LAB6_FULL_AT, LAB6_ZERO_AT = 3, 1.05, 1.5
LAB6_MIN_Z, LAB6_MIN_CONTRIBUTION, LAB6_SWAPS = 3.0, 0.1, 16
LAB6_BATCH = 64


def swap(n: int) -> torch.Tensor:
    """The permutation that pairs row i with row i + n/2 (mod n): no row keeps its own state."""
    return torch.roll(torch.arange(n), n // 2)


class Local:
    """Run exported programs in this process (your visible checks; the grader uses a sandbox)."""

    def __init__(self, programs: dict):
        self.programs = programs

    def run(self, entry, *inputs, permutation=None):
        tensors = [torch.as_tensor(np.asarray(x)) for x in inputs]
        return [o.detach().numpy() for o in self.programs[entry].run(*tensors, permutation=permutation)]

    def closed_loop(self, warmup, n_steps, permutation=None):
        return portable.closed_loop(self.programs, np.asarray(warmup), n_steps, permutation).numpy()


def lab5_gate(runner, waves, n_warmup: int = 100) -> dict:
    """Closed-loop generation over LAB5_GATE_STEPS steps of `waves` (n, >= n_warmup +
    LAB5_GATE_STEPS), as is and with the recurrent states swapped between rows: the swap must
    change the output (relative RMS change >= LAB5_GATE_MIN_CHANGE) and ruin it (MSE >=
    LAB5_GATE_MIN_MSE)."""
    waves = np.asarray(waves, dtype=np.float32)
    plain = runner.closed_loop(waves[:, :n_warmup], LAB5_GATE_STEPS)
    swapped = runner.closed_loop(waves[:, :n_warmup], LAB5_GATE_STEPS, permutation=swap(len(waves)))
    mse = float(overlap_mse(swapped, waves[:, n_warmup:n_warmup + LAB5_GATE_STEPS]).mean())
    with np.errstate(invalid="ignore", over="ignore"):
        change = float(np.sqrt(np.mean((swapped - plain) ** 2)) / max(np.sqrt(np.mean(plain**2)), 1e-12))
    change = change if np.isfinite(change) else float("inf")
    return {"swapped_mse": mse, "change": change,
            "passed": bool(mse >= LAB5_GATE_MIN_MSE and change >= LAB5_GATE_MIN_CHANGE)}


def lab5_quality(runner, waves, n_warmup: int = 100) -> dict:
    """Mean closed-loop MSE on `waves` (n, n_steps) after `n_warmup` true steps, and its points."""
    waves = np.asarray(waves, dtype=np.float32)
    generated = runner.closed_loop(waves[:, :n_warmup], waves.shape[1] - n_warmup)
    mse = float(overlap_mse(generated, waves[:, n_warmup:]).mean())
    return {"mse": mse, "points": log_linear_score(mse, LAB5_QUALITY_POINTS, LAB5_FULL_AT, LAB5_ZERO_AT)}


def forecast(runner, windows, permutation=False) -> np.ndarray:
    """Forecasts (n,) for windows (n, window) with a program of batch LAB6_BATCH: rows go in
    batches (the last one padded with repeats); with `permutation`, swapped within each batch."""
    windows = np.asarray(windows, dtype=np.float64)
    out = []
    for start in range(0, len(windows), LAB6_BATCH):
        batch = windows[start:start + LAB6_BATCH]
        padded = np.concatenate([batch, np.repeat(batch[-1:], LAB6_BATCH - len(batch), axis=0)])
        (result,) = runner.run("forecast", padded, permutation=swap(LAB6_BATCH) if permutation else None)
        out.append(np.asarray(result, dtype=np.float64).reshape(-1)[: len(batch)])
    return np.concatenate(out)


def lab6_gate(runner, prices, window: int, n_test: int = 100) -> dict:
    """Does the LSTM/GRU do the work? On the days of `prices` (public closes) before the last
    `n_test` (the most recent multiple of LAB6_BATCH windows), forecast as is and LAB6_SWAPS times
    with the recurrent states swapped between windows (shuffled first, so that swapped windows
    come from unrelated dates). With relative errors e = (forecast - truth) / last:
        z             paired z statistic of d = mean over swaps of e_swapped^2, minus e^2
        contribution  RMS(e - e_swapped) / RMS(daily returns), for the first swap
        beats         mean(e^2) < mean(returns^2): better than persistence on these days
    Passes at z >= LAB6_MIN_Z, contribution >= LAB6_MIN_CONTRIBUTION and beats."""
    prices = np.asarray(prices, dtype=np.float64)
    train = prices[:-n_test]
    windows = np.lib.stride_tricks.sliding_window_view(train[:-1], window)
    truth = train[window:]
    kept = LAB6_BATCH * (len(windows) // LAB6_BATCH)       # whole batches: every row swaps with another
    windows, truth = windows[-kept:], truth[-kept:]
    last = windows[:, -1]
    returns = (truth - last) / last
    mine = (forecast(runner, windows) - truth) / last
    swapped_squares = np.zeros(kept)
    for k in range(LAB6_SWAPS):
        order = np.random.default_rng(k).permutation(kept)
        swapped = np.empty(kept)
        swapped[order] = forecast(runner, windows[order], permutation=True)
        error = (swapped - truth) / last
        if k == 0:
            contribution = float(np.sqrt(np.mean((mine - error) ** 2)) / np.sqrt(np.mean(returns**2)))
        swapped_squares += error**2 / LAB6_SWAPS
    difference = swapped_squares - mine**2
    spread = float(np.std(difference, ddof=1))
    finite = bool(np.all(np.isfinite(difference)))
    z = float(np.mean(difference) / (spread / np.sqrt(kept))) if finite and spread > 0 else float("nan")
    beats = bool(np.mean(mine**2) < np.mean(returns**2))
    passed = bool(np.isfinite(z) and z >= LAB6_MIN_Z and contribution >= LAB6_MIN_CONTRIBUTION and beats)
    return {"z": z, "contribution": contribution, "beats_persistence": beats, "passed": passed}


def lab6_points(ratio: float) -> float:
    """Points for one ticker's RMSE / persistence RMSE (gate passed)."""
    return linear_score(ratio, LAB6_FORECAST_POINTS, LAB6_FULL_AT, LAB6_ZERO_AT)


def lab5_estimate(model, waves, n_warmup: int = 100) -> dict:
    """Your model judged as the grader judges it, on cosines of your own (n, n_steps): exported
    (labs.portable), the gate, the quality, and the points (0 unless the gate passes)."""
    runner = Local(portable.export_generator(model, len(waves), n_warmup))
    gate, quality = lab5_gate(runner, waves, n_warmup), lab5_quality(runner, waves, n_warmup)
    return {**gate, **quality, "points": quality["points"] if gate["passed"] else 0.0}


def lab6_estimate(forecaster, predict_next, prices, window: int, n_test: int = 100) -> dict:
    """Your forecaster judged as the grader judges it, on your own data: exported (labs.portable),
    the gate on the days before your last `n_test`, the ratio on those `n_test` days, the points."""
    prices = np.asarray(prices, dtype=np.float64)
    example = np.lib.stride_tricks.sliding_window_view(prices[:-1], window)[-LAB6_BATCH:]
    runner = Local(portable.export_forecaster(forecaster, predict_next, example))
    gate = lab6_gate(runner, prices, window, n_test)
    history, test = prices[:-n_test], prices[-n_test:]
    windows = np.lib.stride_tricks.sliding_window_view(np.concatenate([history[-window:], test]), window)[:n_test]
    forecasts = forecast(runner, windows)
    ratio = float(np.sqrt(np.mean((forecasts - test) ** 2)) / np.sqrt(np.mean((windows[:, -1] - test) ** 2)))
    return {**gate, "ratio": ratio, "points": lab6_points(ratio) if gate["passed"] else 0.0,
            "forecasts": forecasts, "runner": runner}
