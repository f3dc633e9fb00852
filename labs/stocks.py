"""Daily stock prices: a vendored snapshot (default) or yfinance for users who are online.

The snapshot covers TSLA, GOOG and DJI (Dow Jones, Yahoo's ^DJI) from 2015-01-02 to
2020-12-31; see data/PROVENANCE.md. Series helpers work on 1-D arrays of prices.
"""

import hashlib
import os
import socket
import threading
from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"
TICKERS = {"TSLA": "TSLA", "GOOG": "GOOG", "DJI": "^DJI"}  # our name -> Yahoo symbol
SNAPSHOT_START, SNAPSHOT_END = "2015-01-02", "2020-12-31"
YAHOO_HOST = ("query1.finance.yahoo.com", 443)
DEFAULT_CACHE = Path(os.environ.get("LABS_CACHE", Path.home() / ".cache" / "rnn-labs"))


class OfflineError(ConnectionError):
    """Yahoo Finance cannot be reached (or LABS_OFFLINE is set)."""


def _ticker(ticker: str) -> str:
    key = ticker.upper().lstrip("^")
    if key not in TICKERS:
        raise ValueError(f"unknown ticker {ticker!r}: choose one of {', '.join(TICKERS)}")
    return key


def verify_snapshot() -> None:
    """Raise if a snapshot CSV does not match data/SHA256SUMS."""
    for line in (DATA_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        actual = hashlib.sha256((DATA_DIR / name).read_bytes()).hexdigest()
        if actual != digest:
            raise OSError(f"{DATA_DIR / name} is corrupted (checksum {actual[:12]}..., expected {digest[:12]}...)")


def _read_csv(path: Path) -> pd.DataFrame:
    frame = pd.read_csv(path, parse_dates=["Date"], index_col="Date")
    return frame.sort_index()


def load_prices(ticker: str, source: str = "snapshot", start: str | None = None, end: str | None = None,
                cache_dir: Path | None = None, timeout: float = 30.0) -> pd.DataFrame:
    """Daily OHLCV prices of `ticker` (TSLA, GOOG or DJI), indexed by date, from start to end inclusive.

    source="snapshot" reads the vendored, checksummed CSVs (no network). source="yfinance"
    downloads from Yahoo Finance, caches the result in `cache_dir` and reuses it; offline it
    raises OfflineError within seconds instead of hanging.
    """
    key = _ticker(ticker)
    if source == "snapshot":
        verify_snapshot()
        frame = _read_csv(DATA_DIR / f"{key}.csv")
    elif source == "yfinance":
        frame = _download_cached(key, start or SNAPSHOT_START, end or SNAPSHOT_END, cache_dir or DEFAULT_CACHE, timeout)
    else:
        raise ValueError(f"unknown source {source!r}: use 'snapshot' or 'yfinance'")
    frame = frame.loc[start:end] if (start or end) else frame
    if frame.empty:
        raise LookupError(f"no {key} prices between {start} and {end}")
    return frame


def load_closes(ticker: str, **kwargs) -> pd.Series:
    """The daily closing prices of `ticker`, shape (n_days,), indexed by date. See load_prices."""
    return load_prices(ticker, **kwargs)["Close"].rename(_ticker(ticker))


def check_online(timeout: float = 2.0) -> None:
    """Raise OfflineError unless a TCP connection to Yahoo Finance opens within `timeout` seconds."""
    if os.environ.get("LABS_OFFLINE"):
        raise OfflineError("LABS_OFFLINE is set: use source='snapshot'")
    try:
        socket.create_connection(YAHOO_HOST, timeout=timeout).close()
    except OSError as error:
        raise OfflineError(f"cannot reach Yahoo Finance ({error}); use source='snapshot'") from error


def _download_cached(key: str, start: str, end: str, cache_dir: Path, timeout: float) -> pd.DataFrame:
    cache = Path(cache_dir) / f"{key}_{start}_{end}.csv"
    if cache.exists():
        return _read_csv(cache)
    check_online()
    frame = _download_with_deadline(TICKERS[key], start, end, timeout)
    cache.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(cache)
    return frame


def _download_with_deadline(symbol: str, start: str, end: str, timeout: float) -> pd.DataFrame:
    """yf.download in a worker thread: its own timeouts do not cover every request it makes."""
    import yfinance as yf

    result = {}

    def work():
        end_exclusive = (pd.Timestamp(end) + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        result["frame"] = yf.download(symbol, start=start, end=end_exclusive, auto_adjust=False,
                                      progress=False, multi_level_index=False)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise OfflineError(f"Yahoo Finance did not answer within {timeout:.0f} s; use source='snapshot'")
    frame = result.get("frame")
    if frame is None or frame.empty:
        raise OfflineError(f"Yahoo Finance returned no prices for {symbol}; use source='snapshot'")
    frame.index.name = "Date"
    return frame[["Open", "High", "Low", "Close", "Adj Close", "Volume"]]


def sliding_windows(prices, window: int) -> np.ndarray:
    """Every run of `window` consecutive values of `prices` (n,): shape (n - window + 1, window)."""
    prices = np.asarray(prices, dtype=float)
    if prices.ndim != 1:
        raise ValueError(f"prices must be 1-D, got shape {prices.shape}")
    if not 1 <= window <= len(prices):
        raise ValueError(f"window must be in [1, {len(prices)}], got {window}")
    return np.lib.stride_tricks.sliding_window_view(prices, window).copy()


def persistence(windows) -> np.ndarray:
    """The baseline 'tomorrow = today': the last price of each window (n, window) -> (n,)."""
    return np.asarray(windows, dtype=float)[:, -1]


def rmse(predictions, truth) -> float:
    """Root mean squared error of two arrays of the same shape; inf if a prediction is not finite."""
    predictions, truth = np.asarray(predictions, dtype=float), np.asarray(truth, dtype=float)
    if predictions.shape != truth.shape:
        raise ValueError(f"shapes differ: {predictions.shape} vs {truth.shape}")
    value = float(np.sqrt(np.mean((predictions - truth) ** 2)))
    return value if np.isfinite(value) else float("inf")


def forecast_windows(history, future, window: int) -> np.ndarray:
    """For each day of `future` (m,), the `window` true prices before it: shape (m, window).

    history: the prices before future[0], at least `window` of them.
    """
    history, future = np.asarray(history, dtype=float), np.asarray(future, dtype=float)
    if len(history) < window:
        raise ValueError(f"need at least {window} days of history, got {len(history)}")
    series = np.concatenate([history[-window:], future])
    return sliding_windows(series, window)[: len(future)]


def daily_move(windows) -> float:
    """The RMS day-to-day change inside `windows` (n, window): the scale of one day's news."""
    return float(np.sqrt(np.mean(np.diff(np.asarray(windows, dtype=float), axis=1) ** 2))) or 1e-12


def forecast_report(predictions, windows, truth) -> dict:
    """How good one-step forecasts are next to persistence.

    predictions, truth: (n,) prices; windows: (n, window) the prices each forecast saw.
    Returns rmse, persistence_rmse, ratio (= rmse / persistence_rmse, lower is better) and
    deviation (RMS distance from persistence in units of the typical daily move).
    """
    windows = np.asarray(windows, dtype=float)
    baseline = persistence(windows)
    persistence_rmse = rmse(baseline, truth)
    model_rmse = rmse(predictions, truth)
    return {
        "rmse": model_rmse,
        "persistence_rmse": persistence_rmse,
        "ratio": model_rmse / persistence_rmse if persistence_rmse > 0 else float("inf"),
        "deviation": rmse(predictions, baseline) / daily_move(windows),
    }


def log_return_rmse(predictions, windows, truth) -> float:
    """RMSE of the predicted next-day log returns, log(prediction / last) against log(truth / last).

    Scale-free: the same in dollars or cents, for a $20 or a $700 stock, so it compares tickers
    and price levels. predictions, truth: (n,) prices; windows: (n, window) the prices each forecast saw.
    For small moves it is about the RMSE in percent of the price divided by 100.
    """
    predictions, truth = np.asarray(predictions, dtype=float), np.asarray(truth, dtype=float)
    last = persistence(windows)
    return rmse(np.log(predictions / last), np.log(truth / last))


def bootstrap_ratio(predictions, windows, truth, n_resamples: int = 2000, block: int = 5,
                    level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """A bootstrap interval for RMSE / persistence RMSE over the days of `truth` (n,).

    Days are resampled in blocks of `block` consecutive days (a circular block bootstrap: big
    moves come in runs), the model's and persistence's errors always from the same days.
    Returns the (1 - level) / 2 and (1 + level) / 2 percentiles of the resampled ratios.
    """
    predictions, truth = np.asarray(predictions, dtype=float), np.asarray(truth, dtype=float)
    model_sq = (predictions - truth) ** 2
    baseline_sq = (persistence(windows) - truth) ** 2
    n = len(truth)
    if not 1 <= block <= n:
        raise ValueError(f"block must be in [1, {n}], got {block}")
    rng = np.random.default_rng(seed)
    n_blocks = -(-n // block)
    starts = rng.integers(0, n, size=(n_resamples, n_blocks))
    days = ((starts[:, :, None] + np.arange(block)) % n).reshape(n_resamples, -1)[:, :n]
    ratios = np.sqrt(model_sq[days].mean(axis=1) / baseline_sq[days].mean(axis=1))
    low, high = np.percentile(ratios, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)
