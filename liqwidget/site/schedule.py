"""Which moments get a snapshot post: a regular cadence over a look-back window."""

from __future__ import annotations

import pandas as pd

from ..market import MarketData


def snapshot_times(
    market: MarketData,
    cadence: str | pd.Timedelta = "6h",
    lookback: str | pd.Timedelta = "7D",
    count: int | None = None,
    warmup: str | pd.Timedelta = "1D",
) -> list[pd.Timestamp]:
    """Snapshot moments, oldest first, on multiples of ``cadence`` (UTC).

    A snapshot at ``t`` sees the bars that closed by ``t``. The times cover the last
    ``lookback`` of data (ending at the last cadence mark at or before the last bar's close),
    skip the first ``warmup`` (the model needs some history) and keep at most the ``count``
    most recent.
    """
    step = _positive(cadence, "cadence")
    span = _positive(lookback, "lookback")
    if len(market) == 0:
        raise ValueError("no bars: nothing to take snapshots of")
    if count is not None and count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    first_close = market.index[0] + market.timeframe
    last_close = market.index[-1] + market.timeframe
    last = last_close.floor(step)
    earliest = max(last - span, first_close + pd.Timedelta(warmup))
    if last < earliest:
        raise ValueError(
            f"the data ({market.index[0]} → {last_close}) is too short for a snapshot after a "
            f"{pd.Timedelta(warmup)} warm-up; use more data or a shorter --cadence"
        )
    times = pd.date_range(earliest.ceil(step), last, freq=step, tz="UTC")
    out = list(times)
    if count is not None:
        out = out[-count:]
    return out


def _positive(value, what: str) -> pd.Timedelta:
    try:
        td = pd.Timedelta(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what} {value!r} is not a duration (try '6h' or '7D')") from exc
    if td <= pd.Timedelta(0):
        raise ValueError(f"{what} must be positive, got {value!r}")
    return td
