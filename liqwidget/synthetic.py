"""Synthetic one-minute markets for benchmarks and tests of scale (no network, no files).

A BTC-like random walk with volatility clustering and fat tails, candles with wicks, open
interest in USD that drifts with price and unwinds, and taker net volume. Deterministic for a
given seed, and importable on Dask workers, so ``functools.partial(synthetic_market, n,
seed=s)`` builds a market where it is used instead of shipping its arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .market import MarketData


def synthetic_market(
    n: int, seed: int = 7, *, symbol: str | None = None, exchange: str | None = None
) -> MarketData:
    """``n`` one-minute bars from 2025-01-01 UTC with open interest in USD."""
    rng = np.random.default_rng(seed)
    vol = 0.0007 * np.exp(np.cumsum(rng.normal(0, 0.02, n)).clip(-1.5, 1.5))
    ret = rng.standard_t(4, n) * vol / np.sqrt(2)
    close = 60_000 * np.exp(np.cumsum(ret))
    open_ = np.concatenate([[60_000.0], close[:-1]])
    wick = np.abs(rng.normal(0, 1, (2, n))) * vol * close
    high = np.maximum(open_, close) + wick[0]
    low = np.minimum(open_, close) - wick[1]
    d_oi = rng.normal(0, 0.0008, n) + 0.6 * ret
    oi = 5e9 * np.exp(np.cumsum(d_oi - d_oi.mean()))
    idx = pd.date_range("2025-01-01", periods=n, freq="1min", tz="UTC")
    net = rng.normal(0, 50, n) + ret * 2e5
    frame = pd.DataFrame(
        {
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "open_interest": oi,
            "taker_net": net,
        },
        index=idx,
    )
    return MarketData.from_frame(frame, symbol=symbol, exchange=exchange)
