import sys
import time
import types

import numpy as np
import pandas as pd
import pytest

from labs import stocks


def test_snapshot_loads_verified_and_ends_in_2020():
    for ticker in ("TSLA", "GOOG", "DJI"):
        prices = stocks.load_prices(ticker)
        assert len(prices) == 1511
        assert prices.index.min() == pd.Timestamp("2015-01-02") and prices.index.max() == pd.Timestamp("2020-12-31")
        assert prices.index.is_monotonic_increasing and not prices.isna().any().any()
    assert stocks.load_closes("TSLA").loc["2020-12-31"] == pytest.approx(705.669983)


def test_ticker_names_and_date_range():
    assert stocks.load_closes("^dji").name == "DJI"
    closes = stocks.load_closes("GOOG", start="2020-01-01", end="2020-01-31")
    assert closes.index.min() >= pd.Timestamp("2020-01-01") and len(closes) == 21
    with pytest.raises(ValueError, match="unknown ticker 'AAPL'"):
        stocks.load_prices("AAPL")
    with pytest.raises(ValueError, match="unknown source"):
        stocks.load_prices("TSLA", source="csv")
    with pytest.raises(LookupError):
        stocks.load_prices("TSLA", start="2030-01-01")


def test_corrupted_snapshot_is_refused(tmp_path, monkeypatch):
    for path in stocks.DATA_DIR.iterdir():
        (tmp_path / path.name).write_bytes(path.read_bytes())
    with open(tmp_path / "GOOG.csv", "a") as handle:
        handle.write("2020-12-31,1,1,1,1,1,1\n")
    monkeypatch.setattr(stocks, "DATA_DIR", tmp_path)
    with pytest.raises(OSError, match="corrupted"):
        stocks.load_prices("TSLA")


def test_offline_mode_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("LABS_OFFLINE", "1")
    started = time.time()
    with pytest.raises(stocks.OfflineError, match="snapshot"):
        stocks.load_prices("TSLA", source="yfinance", cache_dir=tmp_path)
    assert time.time() - started < 1


def test_unreachable_yahoo_is_an_offline_error(monkeypatch):
    monkeypatch.delenv("LABS_OFFLINE", raising=False)

    def refuse(*args, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(stocks.socket, "create_connection", refuse)
    with pytest.raises(stocks.OfflineError, match="cannot reach"):
        stocks.check_online()


def test_yfinance_path_uses_its_cache_without_network(monkeypatch, tmp_path):
    monkeypatch.setattr(stocks, "check_online", lambda: pytest.fail("the cache must be used"))
    frame = stocks.load_prices("GOOG").loc["2020-06-01":"2020-06-30"]
    frame.to_csv(tmp_path / "GOOG_2020-06-01_2020-06-30.csv")
    cached = stocks.load_prices("GOOG", source="yfinance", start="2020-06-01", end="2020-06-30", cache_dir=tmp_path)
    assert np.allclose(cached["Close"], frame["Close"])


def fake_yfinance(monkeypatch, download):
    monkeypatch.setitem(sys.modules, "yfinance", types.SimpleNamespace(download=download))


def test_download_that_hangs_is_cut_off(monkeypatch):
    fake_yfinance(monkeypatch, lambda *a, **k: time.sleep(5))
    started = time.time()
    with pytest.raises(stocks.OfflineError, match="did not answer"):
        stocks._download_with_deadline("TSLA", "2020-01-01", "2020-02-01", timeout=0.2)
    assert time.time() - started < 2


def test_empty_download_is_an_error(monkeypatch):
    fake_yfinance(monkeypatch, lambda *a, **k: pd.DataFrame())
    with pytest.raises(stocks.OfflineError, match="no prices"):
        stocks._download_with_deadline("TSLA", "2020-01-01", "2020-02-01", timeout=5)


def test_download_result_is_cached(monkeypatch, tmp_path):
    index = pd.date_range("2020-01-02", periods=3, name="Date")
    frame = pd.DataFrame({c: [1.0, 2.0, 3.0] for c in ["Open", "High", "Low", "Close", "Adj Close", "Volume"]}, index)
    fake_yfinance(monkeypatch, lambda *a, **k: frame)
    monkeypatch.setattr(stocks, "check_online", lambda: None)
    got = stocks.load_prices("TSLA", source="yfinance", start="2020-01-02", end="2020-01-04", cache_dir=tmp_path)
    assert list(got["Close"]) == [1.0, 2.0, 3.0]
    assert (tmp_path / "TSLA_2020-01-02_2020-01-04.csv").exists()


def test_windows_baseline_and_rmse():
    prices = np.arange(10.0)
    windows = stocks.sliding_windows(prices, 3)
    assert windows.shape == (8, 3) and list(windows[2]) == [2, 3, 4]
    assert list(stocks.persistence(windows)) == list(range(2, 10))
    future = stocks.forecast_windows(prices[:6], prices[6:], 3)
    assert future.shape == (4, 3) and list(future[0]) == [3, 4, 5] and list(future[-1]) == [6, 7, 8]
    assert stocks.rmse([1, 2], [1, 4]) == pytest.approx(np.sqrt(2))
    assert stocks.rmse([np.nan], [1]) == float("inf")
    for call in (lambda: stocks.sliding_windows(prices, 11), lambda: stocks.sliding_windows(windows, 2),
                 lambda: stocks.forecast_windows(prices[:2], prices, 3), lambda: stocks.rmse([1], [1, 2])):
        with pytest.raises(ValueError):
            call()


def test_forecast_report_against_persistence():
    windows = np.array([[1.0, 2.0], [2.0, 3.0]])
    truth = np.array([3.0, 4.0])
    report = stocks.forecast_report(truth, windows, truth)
    assert report["rmse"] == 0 and report["persistence_rmse"] == 1 and report["ratio"] == 0
    assert report["deviation"] == pytest.approx(1.0)


def test_log_return_rmse_is_scale_free():
    rng = np.random.default_rng(0)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, size=60)))
    windows = stocks.forecast_windows(prices[:20], prices[20:], 5)
    forecasts = stocks.persistence(windows) * 1.01
    error = stocks.log_return_rmse(forecasts, windows, prices[20:])
    assert error == pytest.approx(stocks.log_return_rmse(100 * forecasts, 100 * windows, 100 * prices[20:]))
    assert stocks.log_return_rmse(prices[20:], windows, prices[20:]) == 0
    returns = np.log(prices[20:] / windows[:, -1])
    assert stocks.log_return_rmse(stocks.persistence(windows), windows, prices[20:]) == pytest.approx(
        np.sqrt(np.mean(returns ** 2)))
    assert error == pytest.approx(np.sqrt(np.mean((returns - np.log(1.01)) ** 2)))


def test_bootstrap_ratio_brackets_the_ratio_and_is_reproducible():
    rng = np.random.default_rng(1)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.02, size=230)))
    windows = stocks.forecast_windows(prices[:130], prices[130:], 10)
    noisy = prices[130:] + rng.normal(0, 1.0, size=100)
    ratio = stocks.forecast_report(noisy, windows, prices[130:])["ratio"]
    low, high = stocks.bootstrap_ratio(noisy, windows, prices[130:], seed=3)
    assert low < ratio < high and (low, high) == stocks.bootstrap_ratio(noisy, windows, prices[130:], seed=3)
    narrow = stocks.bootstrap_ratio(noisy, windows, prices[130:], level=0.5, seed=3)
    assert low < narrow[0] < narrow[1] < high
    same = stocks.bootstrap_ratio(stocks.persistence(windows), windows, prices[130:])
    assert same == pytest.approx((1.0, 1.0))
    with pytest.raises(ValueError):
        stocks.bootstrap_ratio(noisy, windows, prices[130:], block=0)
