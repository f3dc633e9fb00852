"""The trusted scorer: it holds the hidden data and turns a model's answers into points.

It runs outside the student's kernel, as the grader's own thread (`ScoringServer`) or, when an
instructor executes a source notebook by hand, as a fresh `python -I` process on stdin/stdout
(`serve_stdio`). Nothing a submission patches in its kernel reaches it. Protocol and client:
labs/hidden.py. Hidden data: autograder/hidden/ (never released).

Cells it scores (grade id -> what it asks for):
    lab5_model_quality    closed-loop generation of 900 steps after 100 true ones, for 1000
                          hidden cosines; 6 points at mean MSE <= 0.01, 0 at >= 0.5, log-linear
    lab6_forecast_<T>     one forecast per hidden day of ticker T, each asked with the window of
                          true prices before that day only; 3 points at RMSE / persistence RMSE
                          <= 1.10, 0 at >= 2.0, linear
"""

import csv
import json
import secrets
import socketserver
import sys
import threading
from pathlib import Path

import numpy as np

from labs import stocks, waves
from labs.evaluation import overlap_mse
from labs.grading import clamp_points, linear_score, log_linear_score
from labs.hidden import receive, send

HIDDEN = Path(__file__).resolve().parent / "hidden"
SNAPSHOT = Path(__file__).resolve().parent.parent / "labs" / "data"
TICKERS = ("TSLA", "GOOG", "DJI")


class ScoringError(Exception):
    """The answers cannot be scored (wrong shape, unknown cell, asked twice); the message is for the student."""


def hidden_cosines() -> np.ndarray:
    """Lab 5's hidden cosines A cos(t_k + phi), shape (n_waves, n_steps), float32."""
    spec = json.loads((HIDDEN / "lab5.json").read_text())
    rng = np.random.default_rng(spec["cosine_seed"])
    shape = (spec["n_waves"], 1)
    amplitudes, shifts = rng.uniform(0.5, 1.5, shape), rng.uniform(0, 2 * np.pi, shape)
    return (amplitudes * np.cos(waves.time_grid(spec["n_steps"]) + shifts)).astype(np.float32)


def closes(path: Path, column: str) -> np.ndarray:
    with open(path, newline="") as handle:
        return np.array([float(row[column]) for row in csv.DictReader(handle)])


def score_generation(ask) -> dict:
    hidden = hidden_cosines()
    n_warmup = json.loads((HIDDEN / "lab5.json").read_text())["n_warmup"]
    n_steps = hidden.shape[1] - n_warmup
    generated = ask({"n_steps": n_steps}, hidden[:, :n_warmup])
    if generated is None or generated.shape != (len(hidden), n_steps):
        raise ScoringError(f"expected generated waves of shape {(len(hidden), n_steps)}, "
                           f"got {None if generated is None else generated.shape}")
    mse = float(overlap_mse(generated, hidden[:, n_warmup:]).mean())
    return {"mse": mse, "score": log_linear_score(mse, 6, full_at=0.01, zero_at=0.5)}


def score_forecasts(ticker: str, window, ask) -> dict:
    if ticker not in TICKERS:
        raise ScoringError(f"unknown ticker {ticker!r}")
    if not isinstance(window, int) or not 2 <= window <= 250:
        raise ScoringError("WINDOW must be an int between 2 and 250")
    history, future = closes(SNAPSHOT / f"{ticker}.csv", "Close"), closes(HIDDEN / "closes_2021.csv", ticker)
    series = np.concatenate([history, future])
    start = len(history)
    forecasts = np.empty(len(future))
    for day in range(len(future)):             # day `day` is revealed only after its forecast
        seen = series[start + day - window: start + day]
        answer = ask({"day": day}, seen[None, :])
        if answer is None or answer.shape != (1,):
            raise ScoringError(f"predict_next must return one price per window, shape (1,), got "
                               f"{None if answer is None else answer.shape}")
        forecasts[day] = answer[0]
    report = stocks.forecast_report(forecasts, stocks.forecast_windows(history, future, window), future)
    return {**report, "score": linear_score(report["ratio"], 3, full_at=1.10, zero_at=2.0)}


POINTS = {"lab5_model_quality": 6, **{f"lab6_forecast_{t}": 3 for t in TICKERS}}


def score_cell(cell: str, params: dict, ask) -> dict:
    """Score graded cell `cell`; `ask(header, inputs) -> outputs` talks to the student's kernel."""
    if cell == "lab5_model_quality":
        result = score_generation(ask)
    elif cell.startswith("lab6_forecast_"):
        result = score_forecasts(cell.removeprefix("lab6_forecast_"), params.get("window"), ask)
    else:
        raise ScoringError(f"the scorer does not score {cell!r}")
    result["score"] = clamp_points(result["score"], POINTS[cell])
    return result


def converse(reader, writer, record=None) -> None:
    """Serve one request: read it, ask the kernel, score, reply. `record(token, cell, None)`
    claims the cell for the submission and returns why not, if it cannot; `record(token, cell,
    result)` stores the result."""
    request, _ = receive(reader)
    cell, token = str(request.get("cell")), str(request.get("token"))

    def ask(header, inputs):
        send(writer, {"kind": "ask", **header}, inputs)
        reply, answer = receive(reader)
        return answer

    try:
        refusal = record(token, cell, None) if record is not None else None
        if refusal:
            raise ScoringError(refusal)
        result = score_cell(cell, request.get("params") or {}, ask)
    except ScoringError as error:
        send(writer, {"kind": "error", "message": str(error)})
        return
    if record is not None:
        record(token, cell, result)
    send(writer, {"kind": "done", "result": result})


def serve_stdio() -> None:
    converse(sys.stdin.buffer, sys.stdout.buffer)


class ScoringServer:
    """A loopback TCP server in the grader. Each submission gets a token; `scores(token)` gives
    {cell: result} as the scorer computed it. Anything else a kernel sends is refused."""

    def __init__(self):
        self._lock = threading.Lock()
        self._claims: dict[str, dict] = {}
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            timeout = 900

            def handle(self):
                try:
                    converse(self.rfile, self.wfile, outer._record)
                except Exception:   # a broken kernel or a hostile client: nothing to score
                    pass

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def _record(self, token, cell, result) -> str | None:
        with self._lock:
            if token not in self._claims:
                return "unknown submission token"
            cells = self._claims[token]
            if result is None:                  # claim: one scoring per cell and submission
                if cell in cells:
                    return f"{cell} was scored already for this submission"
                cells[cell] = {"score": 0.0, "error": "no answer"}
                return None
            cells[cell] = result
            return None

    def new_token(self) -> str:
        token = secrets.token_hex(16)
        with self._lock:
            self._claims[token] = {}
        return token

    def address(self, token: str) -> str:
        host, port = self._server.server_address
        return f"{host}:{port}:{token}"

    def scores(self, token: str) -> dict:
        with self._lock:
            return dict(self._claims.get(token, {}))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
