"""The checks of every graded cell: what the trusted scorer asks and how it judges the answers.

`Scorer` holds one submission's state (its pinned programs, its gates); each method checks one
graded cell and returns what it measured, or raises Fail with what to fix. `CELLS` maps every
graded cell to its points, its rule in words and its check. Rules and thresholds come from
labs.rules (the notebooks' self-checks use the same), the seeds and shapes of the questions
from autograder/hidden/, which no kernel can read.
"""

import csv
import json
import math
from pathlib import Path

import numpy as np
import torch

from autograder.questions import Evaluator, EvaluatorError, Fail, Frame, Kernel, KernelError, Runner, Tensor, as_array
from labs import portable, rules, stocks, waves
from labs.evaluation import TinyGRU, closed_loop_generate, generation_mse, hidden_gradients_autograd, seeded_layer

HIDDEN = Path(__file__).resolve().parent / "hidden"
TICKERS = ("TSLA", "GOOG", "DJI")


# ---------------------------------------------------------------- hidden data

class Hidden:
    """The hidden data of the labs (autograder/hidden/ or a job bundle's copy)."""

    def __init__(self, folder: Path = HIDDEN):
        self.folder = Path(folder)

    def spec(self, lab: str) -> dict:
        return json.loads((self.folder / f"{lab}.json").read_text())

    def cosines(self) -> np.ndarray:
        """Lab 5's hidden cosines A cos(t_k + phi), shape (n_waves, n_steps), float32."""
        spec = self.spec("lab5")["cosines"]
        rng = np.random.default_rng(spec["seed"])
        shape = (spec["n_waves"], 1)
        amplitudes, shifts = rng.uniform(0.5, 1.5, shape), rng.uniform(0, 2 * np.pi, shape)
        return (amplitudes * np.cos(waves.time_grid(spec["n_steps"]) + shifts)).astype(np.float32)

    def future(self, ticker: str) -> np.ndarray:
        with open(self.folder / "closes_2021.csv", newline="") as handle:
            return np.array([float(row[ticker]) for row in csv.DictReader(handle)])


def public_closes(ticker: str) -> np.ndarray:
    return stocks.load_closes(ticker).to_numpy()


# ---------------------------------------------------------------- checks shared by several cells

def check_cosines(array: np.ndarray, low: float, high: float, what: str) -> None:
    amplitude, phase, residual = waves.fit_sinusoid(array)
    if residual.max() >= 1e-4:
        raise Fail(f"{what}: rows are not A*cos(t_k + phi) on the grid t_k = k * waves.TIME_STEP "
                   f"(largest fit residual {residual.max():.1e})")
    if amplitude.min() < low - 1e-4 or amplitude.max() > high + 1e-4:
        raise Fail(f"{what}: amplitudes {amplitude.min():.3f}..{amplitude.max():.3f} leave amp_range ({low}, {high})")
    if amplitude.max() - amplitude.min() <= 0.8 * (high - low):
        raise Fail(f"{what}: amplitudes {amplitude.min():.3f}..{amplitude.max():.3f} do not spread over amp_range "
                   "(draw one amplitude per wave from U(amp_range))")
    gaps = np.diff(np.sort(np.concatenate([phase, [phase.min() + 2 * np.pi]])))
    if abs(np.mean(np.exp(1j * phase))) >= 0.15 or gaps.max() >= 0.5:
        raise Fail(f"{what}: the shifts are not uniform on (0, 2 pi) (largest gap {gaps.max():.2f} rad)")


# ---------------------------------------------------------------- the cells

class Scorer:
    """The checks of every graded cell, for one submission. Programs a cell exports are pinned:
    the first export of `model` (Lab 5) or of each forecaster (Lab 6) is the one every later
    cell judges."""

    def __init__(self, lab: str, hidden: Hidden, sandboxed: bool):
        self.lab, self.hidden, self.sandboxed = lab, hidden, sandboxed
        self.spec = hidden.spec(lab)
        # Started here, by the thread that owns the job: bwrap's --die-with-parent follows the
        # thread that started it, and a connection's handler thread ends with its cell.
        self.evaluator = Evaluator(sandboxed)
        self.runners: dict[str, Runner | Exception] = {}
        self.gates: dict[str, dict] = {}

    def close(self) -> None:
        self.evaluator.close()

    def _runner(self, key: str, export) -> Runner:
        if key not in self.runners:
            try:
                self.runners[key] = Runner(self.evaluator, key, export())
            except (KernelError, EvaluatorError) as error:
                self.runners[key] = error
        runner = self.runners[key]
        if isinstance(runner, Exception):
            raise Fail(f"the model could not be exported and run: {runner}")
        return runner

    # ---- Lab 5
    def generator(self, kernel: Kernel) -> Runner:
        spec = self.spec["cosines"]
        return self._runner("model", lambda: kernel.program(
            {"kind": "export_generator", "name": "model", "batch": spec["n_waves"], "n_warmup": spec["n_warmup"]}))

    def lab5_make_cosines(self, kernel: Kernel) -> dict:
        first = None
        for case in self.spec["make_cosines"]:
            low, high = case["amp_range"]
            shape = (case["n_waves"], case["n_steps"])
            result = as_array(kernel.call("make_cosines", case["n_waves"], case["n_steps"], amp_range=(low, high),
                                          seed=case["seed"]), "make_cosines(...)", shape)
            check_cosines(result, low, high, f"make_cosines({shape[0]}, {shape[1]}, amp_range=({low}, {high}))")
            again = as_array(kernel.call("make_cosines", case["n_waves"], case["n_steps"], amp_range=(low, high),
                                         seed=case["seed"]), "make_cosines(...)", shape)
            if not np.array_equal(result, again):
                raise Fail("the same seed gave different waves")
            if first is None:
                first = result
            elif first.shape == result.shape and np.allclose(first[:5], result[:5]):
                raise Fail("different seeds gave the same waves: is `seed` used?")
        return {"cases": len(self.spec["make_cosines"])}

    def lab5_generate(self, kernel: Kernel) -> dict:
        spec = self.spec["generate"]
        reference = TinyGRU(spec["hidden_size"], spec["model_seed"])
        warmup = np.random.default_rng(spec["warmup_seed"]).normal(size=(spec["batch"], spec["n_warmup"]))
        warmup = warmup.astype(np.float32)
        for n_steps in spec["n_steps"]:
            model = {"tiny_gru": {"hidden_size": spec["hidden_size"], "seed": spec["model_seed"]}}
            mine = as_array(kernel.call("generate", model, Tensor(warmup), n_steps), "generate(...)",
                            (spec["batch"], n_steps))
            trusted = closed_loop_generate(reference, torch.from_numpy(warmup), n_steps).double().numpy()
            error = float(np.max(np.abs(mine - trusted)))
            if not error <= 1e-5:
                raise Fail(f"generate differs from closed-loop generation for another model (TinyGRU), batch "
                           f"{spec['batch']}, {n_steps} steps, by up to {error:.2e}: is the model in eval() "
                           "mode? is the first value the prediction after the last warm-up step? "
                           "is each prediction fed back?", max_error=error)
        return {"max_error": error}

    def lab5_model_is_recurrent(self, kernel: Kernel) -> dict:
        runner = self.generator(kernel)
        if not runner.recurrent("start"):
            raise Fail("`model` must contain nn.RNN, nn.LSTM, nn.GRU or one of their cells, and use it in forward")
        gate = rules.lab5_gate(runner, self.hidden.cosines())
        self.gates["model"] = gate
        if not gate["passed"]:
            raise Fail(f"the recurrent layers do not do the generating: with their states swapped between waves "
                       f"the output changes by {gate['change']:.1%} (needs >= {rules.LAB5_GATE_MIN_CHANGE:.0%}) "
                       f"and scores MSE {gate['swapped_mse']:.2e} (needs >= {rules.LAB5_GATE_MIN_MSE})", **gate)
        return gate

    def lab5_model_quality(self, kernel: Kernel) -> dict:
        runner = self.generator(kernel)
        cosines = self.hidden.cosines()
        gate = self.gates.get("model") or rules.lab5_gate(runner, cosines)
        if not gate["passed"]:
            raise Fail(f"no quality points: the recurrent layers do not do the generating (with their states "
                       f"swapped: output change {gate['change']:.1%}, needs >= {rules.LAB5_GATE_MIN_CHANGE:.0%}; "
                       f"MSE {gate['swapped_mse']:.2e}, needs >= {rules.LAB5_GATE_MIN_MSE})", **gate)
        quality = rules.lab5_quality(runner, cosines, self.spec["cosines"]["n_warmup"])
        return {"points": quality["points"], "mse": quality["mse"], "swapped_mse": gate["swapped_mse"],
                "waves": len(cosines)}

    def lab5_validation_mse(self, kernel: Kernel) -> dict:
        spec = self.spec["validation_mse"]
        reference = TinyGRU(spec["hidden_size"], spec["model_seed"])
        data = np.random.default_rng(spec["waves_seed"]).normal(size=(spec["n_waves"], spec["n_steps"]))
        data = data.astype(np.float32)
        for n_warmup in spec["n_warmup"]:
            model = {"tiny_gru": {"hidden_size": spec["hidden_size"], "seed": spec["model_seed"]}}
            mine = as_array(kernel.call("validation_mse", model, data, n_warmup=n_warmup), "validation_mse(...)",
                            (spec["n_waves"],))
            trusted = generation_mse(reference, data, n_warmup=n_warmup)
            if not np.allclose(mine, trusted, rtol=1e-4, atol=1e-7):
                raise Fail(f"validation_mse differs from the trusted evaluator for another model and "
                           f"n_warmup={n_warmup}: does it generate len - n_warmup steps and average only "
                           "where generated and true values overlap?")
        return {"n_warmup": spec["n_warmup"]}

    def lab5_validation_set(self, kernel: Kernel) -> dict:
        val_waves = as_array(kernel.value("val_waves"), "val_waves", (1000, 1000))
        check_cosines(val_waves, 0.5, 1.5, "val_waves")
        val_mse = as_array(kernel.value("val_mse"), "val_mse", (1000,))
        val_mean_mse = float(as_array(kernel.value("val_mean_mse"), "val_mean_mse").reshape(-1)[0])
        trusted = rules.lab5_quality(self.generator(kernel), val_waves)["mse"]
        if not math.isclose(val_mean_mse, trusted, rel_tol=1e-3, abs_tol=1e-7):
            raise Fail(f"val_mean_mse is {val_mean_mse:.3e}, your model's closed-loop MSE on val_waves is "
                       f"{trusted:.3e}", trusted_mse=trusted)
        if not math.isclose(float(np.mean(val_mse)), trusted, rel_tol=1e-3, abs_tol=1e-7):
            raise Fail("val_mse does not hold the per-wave MSE of val_waves")
        return {"val_mean_mse": trusted}

    def lab5_bptt(self, kernel: Kernel) -> dict:
        worst = 0.0
        for case in self.spec["hidden_gradients"]:
            spec = {"kind": "RNN", "input_size": case["input_size"], "hidden_size": case["hidden_size"],
                    "seed": case["seed"]}
            x = np.random.default_rng(case["seed"]).normal(size=(case["batch"], case["steps"], case["input_size"]))
            mine = as_array(kernel.call("hidden_gradients", {"layer": spec}, Tensor(x.astype(np.float32))),
                            "hidden_gradients(...)", (case["batch"], case["steps"], case["hidden_size"]))
            trusted = hidden_gradients_autograd(seeded_layer(**spec), torch.from_numpy(x.astype(np.float32)))
            error = float(np.max(np.abs(mine - trusted.double().numpy())))
            worst = max(worst, error)
            if not error <= 1e-5:
                raise Fail(f"hidden_gradients differs from autograd by up to {error:.2e} for an RNN of hidden size "
                           f"{case['hidden_size']} over {case['steps']} steps: is delta_T all ones, and "
                           "delta_(t-1) = W_hh^T (delta_t * (1 - h_t^2))?", max_error=error)
        return {"max_error": worst}

    # ---- Lab 6
    def _cell_step(self, kernel: Kernel, kind: str) -> dict:
        """lstm_step / gru_step against the layer's own step, for the spec's cases."""
        worst = 0.0
        for case in self.spec[f"{kind.lower()}_step"]:
            spec = {"kind": kind, "input_size": case["input_size"], "hidden_size": case["hidden_size"],
                    "seed": case["seed"]}
            rng = np.random.default_rng(case["seed"])
            x, h, c = (rng.normal(size=(case["batch"], n)).astype(np.float32)
                       for n in (case["input_size"], case["hidden_size"], case["hidden_size"]))
            layer = seeded_layer(**spec)
            with torch.no_grad():
                if kind == "LSTM":
                    answer = kernel.call("lstm_step", Tensor(x), Tensor(h), Tensor(c), {"layer": spec})
                    _, (h_next, c_next) = layer(torch.from_numpy(x)[:, None], (torch.from_numpy(h)[None],
                                                                               torch.from_numpy(c)[None]))
                    trusted = [h_next[0].numpy(), c_next[0].numpy()]
                    if not isinstance(answer, list) or len(answer) != 2:
                        raise Fail("lstm_step must return (h, c)")
                else:
                    answer = [kernel.call("gru_step", Tensor(x), Tensor(h), {"layer": spec})]
                    _, h_next = layer(torch.from_numpy(x)[:, None], torch.from_numpy(h)[None])
                    trusted = [h_next[0].numpy()]
            for mine, expected in zip(answer, trusted, strict=True):
                error = float(np.max(np.abs(as_array(mine, f"{kind.lower()}_step(...)", expected.shape) - expected)))
                worst = max(worst, error)
                if not error <= 1e-5:
                    hint = ("the gate order in PyTorch's weights is i, f, g, o" if kind == "LSTM" else
                            "PyTorch's gate order is r, z, n, it resets after the product r * (W_hn h + b_hn), "
                            "and keeps z of the old state: h' = (1 - z) * n + z * h")
                    raise Fail(f"{kind.lower()}_step differs from nn.{kind} by up to {error:.2e} for another layer: "
                               f"{hint}", max_error=error)
        return {"max_error": worst}

    def lab6_lstm_step(self, kernel: Kernel) -> dict:
        return self._cell_step(kernel, "LSTM")

    def lab6_gru_step(self, kernel: Kernel) -> dict:
        return self._cell_step(kernel, "GRU")

    def forecaster(self, kernel: Kernel, ticker: str) -> Runner:
        prices = public_closes(ticker)

        def export():
            window = self.window(kernel)
            example = np.lib.stride_tricks.sliding_window_view(prices[:-1], window)[-rules.LAB6_BATCH:]
            return kernel.program({"kind": "export_forecaster", "name": "forecasters", "key": ticker},
                                  [np.ascontiguousarray(example)])

        return self._runner(f"forecaster:{ticker}", export)

    def window(self, kernel: Kernel) -> int:
        window = kernel.value("WINDOW")
        if not isinstance(window, int) or isinstance(window, bool) or not 2 <= window <= 250:
            raise Fail(f"WINDOW must be an int between 2 and 250, got {str(window)[:40]}")
        return window

    def lab6_make_windows(self, kernel: Kernel) -> dict:
        self.window(kernel)
        spec = self.spec["make_windows"]
        prices = np.random.default_rng(spec["seed"]).lognormal(size=spec["n_prices"]).cumsum()
        for window in spec["windows"]:
            answer = kernel.call("make_windows", [float(p) for p in prices], window)
            if not isinstance(answer, list) or len(answer) != 2:
                raise Fail("make_windows must return (X, y)")
            n = len(prices) - window
            X = as_array(answer[0], "X", (n, window, 1))
            y = as_array(answer[1], "y", (n,))
            for i in (0, 13 % n, n - 1):
                if not np.allclose(X[i, :, 0], prices[i:i + window]):
                    raise Fail(f"for window={window}, X[{i}] is not the prices of days {i}..{i + window - 1}")
                if not np.isclose(y[i], prices[i + window]):
                    raise Fail(f"for window={window}, y[{i}] is not the price right after X[{i}]")
        return {"windows": spec["windows"]}

    def lab6_predict_next(self, kernel: Kernel) -> dict:
        spec = self.spec["independence"]
        window = self.window(kernel)
        rng = np.random.default_rng(spec["seed"])
        for ticker in TICKERS:
            runner = self.forecaster(kernel, ticker)
            prices = public_closes(ticker)
            windows = np.lib.stride_tricks.sliding_window_view(prices[:-1], window)
            batch = windows[-rules.LAB6_BATCH:]
            (forecast,) = runner.run("forecast", batch)
            forecast = as_array(forecast, f"{ticker}: predict_next(...)", (rules.LAB6_BATCH,))
            if not (np.all(np.isfinite(forecast)) and np.all(forecast > 0)):
                raise Fail(f"{ticker}: forecasts must be finite, positive prices")
            for row in spec["rows"]:
                others = windows[rng.choice(len(windows) - rules.LAB6_BATCH, rules.LAB6_BATCH)]
                others[row] = batch[row]
                (again,) = runner.run("forecast", others)
                if not np.isclose(again[row], forecast[row], rtol=1e-6):
                    raise Fail(f"{ticker}: a forecast changed when the other rows of the batch changed: each "
                               "forecast may use only its own window")
        return {"tickers": len(TICKERS)}

    def gate(self, kernel: Kernel, ticker: str) -> dict:
        if ticker not in self.gates:
            runner = self.forecaster(kernel, ticker)
            self.gates[ticker] = rules.lab6_gate(runner, public_closes(ticker), self.window(kernel))
        return self.gates[ticker]

    def lab6_forecasters_are_rnns(self, kernel: Kernel) -> dict:
        measured = {}
        for ticker in TICKERS:
            runner = self.forecaster(kernel, ticker)
            if not set(runner.recurrent("forecast")) & {f"aten.{op}" for op in portable.GATED}:
                raise Fail(f"{ticker}: the forecaster must contain an nn.LSTM or nn.GRU (or their cells) and use it")
            gate = self.gate(kernel, ticker)
            measured[ticker] = {"z": gate["z"], "contribution": gate["contribution"]}
            if not gate["passed"]:
                raise Fail(f"{ticker}: the LSTM/GRU does not do the work: with its states swapped between windows "
                           f"the forecasts change by {gate['contribution']:.2f} of a daily move (needs >= "
                           f"{rules.LAB6_MIN_CONTRIBUTION}) and get worse with z = {gate['z']:.2f} (needs >= "
                           f"{rules.LAB6_MIN_Z}); persistence, or persistence nudged by an untrained network, "
                           "is the baseline, not a solution", **measured)
        return measured

    def lab6_forecast(self, kernel: Kernel, ticker: str) -> dict:
        runner = self.forecaster(kernel, ticker)
        window = self.window(kernel)
        gate = self.gate(kernel, ticker)
        if not gate["passed"]:
            raise Fail(f"no points: the LSTM/GRU does not do the work (change {gate['contribution']:.2f} of a daily "
                       f"move, needs >= {rules.LAB6_MIN_CONTRIBUTION}; z = {gate['z']:.2f}, needs >= "
                       f"{rules.LAB6_MIN_Z})", z=gate["z"], contribution=gate["contribution"])
        history, future = public_closes(ticker), self.hidden.future(ticker)
        series = np.concatenate([history, future])
        filler = np.lib.stride_tricks.sliding_window_view(history[:-1], window)[-rules.LAB6_BATCH:].copy()
        forecasts = np.empty(len(future))
        for day in range(len(future)):             # day `day` is revealed only after its forecast
            filler[0] = series[len(history) + day - window: len(history) + day]
            (answer,) = runner.run("forecast", filler)
            forecasts[day] = float(np.asarray(answer, dtype=np.float64).reshape(-1)[0])
        report = stocks.forecast_report(forecasts, stocks.forecast_windows(history, future, window), future)
        return {"points": rules.lab6_points(report["ratio"]), "ratio": report["ratio"], "days": len(future),
                "z": gate["z"]}

    def lab6_results(self, kernel: Kernel) -> dict:
        window = self.window(kernel)
        predictions, results = kernel.value("predictions"), kernel.value("results")
        if not isinstance(predictions, dict) or not isinstance(results, Frame):
            raise Fail("predictions must be a dict of arrays and results a pandas DataFrame")
        for ticker in TICKERS:
            history = public_closes(ticker)
            windows = stocks.forecast_windows(history[:-100], history[-100:], window)
            trusted = rules.forecast(self.forecaster(kernel, ticker), windows)
            mine = as_array(predictions.get(ticker), f"predictions[{ticker!r}]", (100,))
            if not np.allclose(mine, trusted, rtol=1e-4):
                raise Fail(f"predictions[{ticker!r}] are not your forecaster's one-step forecasts of your last "
                           "100 days")
            expected = stocks.forecast_report(trusted, windows, history[-100:])
            for column in ("rmse", "persistence_rmse"):
                if ticker not in results.index or column not in results.columns:
                    raise Fail(f"results needs a row {ticker!r} and a column {column!r}")
                value = results.values[results.index.index(ticker), results.columns.index(column)]
                if not np.isclose(value, expected[column], rtol=1e-3):
                    raise Fail(f"results.loc[{ticker!r}, {column!r}] should be {expected[column]:.3f}")
        return {"tickers": len(TICKERS)}


# Each graded cell: (points, the rule in words, how the scorer checks it).
CELLS = {
    "lab5_make_cosines": (2, "all or nothing: 3 fresh seeds, shapes and amplitude ranges", Scorer.lab5_make_cosines),
    "lab5_generate": (2, "all or nothing: matches closed-loop generation of a reference GRU to 1e-5",
                      Scorer.lab5_generate),
    "lab5_model_is_recurrent": (1, f"recurrent states swapped between waves: the output changes by >= "
                                   f"{rules.LAB5_GATE_MIN_CHANGE:.0%} and scores MSE >= {rules.LAB5_GATE_MIN_MSE}",
                                Scorer.lab5_model_is_recurrent),
    "lab5_model_quality": (6, f"6 points at mean MSE <= {rules.LAB5_FULL_AT}, 0 at >= {rules.LAB5_ZERO_AT}, "
                              "log-linear between, on 1000 fresh cosines (900 generated steps); 0 unless the "
                              "recurrent layers do the generating",
                           Scorer.lab5_model_quality),
    "lab5_bptt": (1, "all or nothing: matches autograd to 1e-5 for other RNNs and sequences", Scorer.lab5_bptt),
    "lab5_validation_mse": (1, "matches the trusted evaluator for a reference GRU", Scorer.lab5_validation_mse),
    "lab5_validation_set": (1, "1000 cosines of 1000 steps; val_mean_mse matches your model's MSE",
                            Scorer.lab5_validation_set),
    "lab6_lstm_step": (1, "all or nothing: matches nn.LSTM to 1e-5 for other layers", Scorer.lab6_lstm_step),
    "lab6_gru_step": (1, "all or nothing: matches nn.GRU to 1e-5 for other layers", Scorer.lab6_gru_step),
    "lab6_make_windows": (2, "all or nothing: other prices and windows", Scorer.lab6_make_windows),
    "lab6_predict_next": (1, "finite prices; each forecast uses only its own window", Scorer.lab6_predict_next),
    "lab6_forecasters_are_rnns": (1, f"LSTM/GRU states swapped between windows: change >= "
                                     f"{rules.LAB6_MIN_CONTRIBUTION} of a daily move and z >= {rules.LAB6_MIN_Z}, "
                                     "every ticker", Scorer.lab6_forecasters_are_rnns),
    **{f"lab6_forecast_{t}": (3, f"3 points at RMSE/persistence <= {rules.LAB6_FULL_AT}, 0 at >= {rules.LAB6_ZERO_AT}, "
                                 "linear between, on the 100 hidden days; 0 unless the LSTM/GRU does the work",
                              lambda self, kernel, t=t: self.lab6_forecast(kernel, t)) for t in TICKERS},
    "lab6_results": (1, "predictions and results match your forecaster on your last 100 days", Scorer.lab6_results),
}
POINTS = {cell: points for cell, (points, _, _) in CELLS.items()}
