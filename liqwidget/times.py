"""The one rule for times that come into liqwidget, and the conversions to and from epoch ms.

**Every time must say that it is UTC, or carry a zone that can be converted to UTC.** Accepted:

* timezone-aware ``pandas.Timestamp``, ``datetime``, ``DatetimeIndex`` or datetime columns
  (any zone; converted to UTC);
* ISO 8601 text with an offset: ``"2026-06-07T12:00Z"``, ``"2026-06-07 14:00+02:00"``;
* numbers (or numbers written as text), read as **milliseconds** since the Unix epoch
  (UTC), the unit exchanges and ccxt use. A number below 1e11 (it looks like seconds) or
  above 1e14 (microseconds) is refused.

A time with no zone (a naive ``datetime``, ``"2026-06-07 12:00"``, a ``datetime64`` column)
is refused with an error that says where it was and how to mark it as UTC: liqwidget cannot
know whether it was written in UTC or in someone's local time, and guessing would move every
bar and liquidation by hours without a word. Command-line flags are the one place text
without an offset is read as UTC (:func:`utc_flag`), because their help says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

#: Epoch milliseconds between 1973-03-03 and 5138: outside it, a number is seconds or µs.
MS_RANGE = (1e11, 1e14)


class TimeError(ValueError):
    """A time liqwidget cannot place: no zone, not a time, or a number in the wrong unit."""


def _row(i: int) -> str:
    return f"row {i}"


def _ms_check(values: np.ndarray, what: str, error: type[Exception], where) -> None:
    bad = np.flatnonzero((values < MS_RANGE[0]) | (values > MS_RANGE[1]))
    if bad.size:
        i = int(bad[0])
        unit = "seconds" if values[i] < MS_RANGE[0] else "microseconds"
        raise error(
            f"{what} is {values[i]:.0f} at {where(i)}, which is not milliseconds since the "
            f"epoch (it looks like {unit}); numbers are read as UTC epoch milliseconds"
        )


def _ns(ms: np.ndarray) -> np.ndarray:
    """Float epoch ms as int ns, exact for whole ms (the fraction is split off first)."""
    whole = np.floor(ms)
    return whole.astype("int64") * 1_000_000 + np.round((ms - whole) * 1e6).astype("int64")


def utc(value: Any, what: str = "time", error: type[Exception] = TimeError) -> pd.Timestamp:
    """One time as a UTC ``Timestamp`` (ns), by the module's rule; ``error`` is raised if not."""
    if isinstance(value, bool):
        raise error(f"{what} is {value!r}, not a time")
    if isinstance(value, int | float | np.integer | np.floating):
        if not np.isfinite(value):
            raise error(f"{what} is {value!r}, not a time")
        _ms_check(np.array([float(value)]), what, error, lambda _: "value")
        return pd.Timestamp(int(_ns(np.array([float(value)]))[0]), tz="UTC")
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise error(f"{what} is not a time: {value!r} ({exc})") from None
    if ts is pd.NaT:
        raise error(f"{what} is missing (NaT)")
    if ts.tzinfo is None:
        raise error(
            f"{what} {value!r} has no time zone; liqwidget takes UTC times: write "
            f"'{ts.isoformat()}Z' or pd.Timestamp(..., tz='UTC')"
        )
    return ts.tz_convert("UTC").as_unit("ns")


def utc_index(
    values: Any,
    what: str = "time",
    error: type[Exception] = TimeError,
    where: Callable[[int], str] = _row,
) -> pd.DatetimeIndex:
    """Many times (index, column, list) as a UTC ``DatetimeIndex`` (ns), by the module's rule.

    Missing times are refused too; ``where(i)`` names position ``i`` in errors.
    """
    kind = "index" if isinstance(values, pd.Index) else "column"
    series = values if isinstance(values, pd.Series | pd.Index) else pd.Series(values)
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        # Numbers written as text ("1780272000000", from a CSV or JSON) are still numbers.
        given = pd.Series(series)
        numbers = pd.to_numeric(given, errors="coerce")
        if numbers.notna().sum() == given.notna().sum() > 0:
            series = numbers
    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        idx = pd.DatetimeIndex(series)
    elif pd.api.types.is_datetime64_dtype(dtype):
        fix = ".tz_localize('UTC')" if kind == "index" else ".dt.tz_localize('UTC')"
        raise error(f"{what} has no time zone; times must be UTC (use {fix} if they are UTC)")
    elif pd.api.types.is_bool_dtype(dtype):
        raise error(f"{what} is boolean, not times")
    elif pd.api.types.is_numeric_dtype(dtype):
        v = np.asarray(series, dtype="float64")
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise error(f"{what} is missing or not finite at {where(int(bad[0]))}")
        _ms_check(v, what, error, where)
        idx = pd.DatetimeIndex(_ns(v).astype("datetime64[ns]")).tz_localize("UTC")
    else:
        try:
            parsed = pd.to_datetime(series, utc=True, format="ISO8601")
        except (ValueError, TypeError) as exc:
            raise error(f"{what} is not datetimes: {exc}") from None
        naive = [pd.Timestamp(x).tzinfo is None for x in series if x is not None and x == x]
        if any(naive):
            raise error(
                f"{what} has no time zone; times must be UTC "
                "(write them with a 'Z' or '+00:00' suffix, or tz_localize('UTC'))"
            )
        idx = pd.DatetimeIndex(parsed)
    bad = np.flatnonzero(idx.isna())
    if bad.size:
        raise error(f"{what} is missing (NaT) at {where(int(bad[0]))}")
    return idx.tz_convert("UTC").as_unit("ns")


def utc_ms(value: Any, what: str = "time", error: type[Exception] = TimeError) -> int:
    """One time as integer UTC epoch milliseconds, by the module's rule."""
    return int(utc(value, what, error).value // 1_000_000)


def utc_flag(text: str) -> pd.Timestamp:
    """A command-line time: ISO text, read as UTC when it has no offset (flags say so)."""
    ts = pd.Timestamp(text)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def epoch_ms(t: pd.Timestamp | None) -> float | None:
    """A UTC ``Timestamp`` as (fractional) epoch milliseconds, as the front end plots it."""
    return None if t is None else pd.Timestamp(t).value / 1e6


def from_ms(ms: Any) -> pd.DatetimeIndex:
    """Epoch milliseconds (stored or from an exchange) as a UTC ``DatetimeIndex`` (ns)."""
    arr = np.asarray(ms, dtype="int64") * 1_000_000
    return pd.DatetimeIndex(arr.astype("datetime64[ns]")).tz_localize("UTC")


# ---------------------------------------------------------------------- timeframes
#: Milliseconds per unit of a ccxt timeframe name ("5m", "1h", "1d"; ccxt's month is 30 days).
_UNIT_MS = {
    "s": 1_000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 604_800_000,
    "M": 2_592_000_000,
    "y": 31_536_000_000,
}


def timeframe_ms(timeframe: str, error: type[Exception] = TimeError) -> int:
    """A ccxt timeframe name (``"5m"``, ``"1h"``, ``"1d"``) in milliseconds."""
    try:
        count = int(timeframe[:-1])
        unit = _UNIT_MS[timeframe[-1]]
    except (KeyError, ValueError, IndexError, TypeError):
        raise error(
            f"unknown timeframe {timeframe!r}; use ccxt style like '1m', '5m', '1h', '1d'"
        ) from None
    if count <= 0:
        raise error(f"timeframe {timeframe!r} is not positive")
    return count * unit


def timeframe_name(step: pd.Timedelta) -> str:
    """A bar length as the store names it: ``1s``, ``1m``, ``5m``, ``1h``, ``1d`` (the inverse
    of :func:`timeframe_ms`)."""
    seconds = int(step.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise ValueError(f"bars of {step} have no store name")


def periods_for(periods: Iterable[str], timeframe: str) -> list[str]:
    """Open-interest periods for bars of ``timeframe``, best first: the periods that fit in
    a bar, longest first, then the coarser ones, shortest first. The one rule for which
    open-interest series to fetch (the first) and which stored series to read (in order)."""
    bar = timeframe_ms(timeframe)
    ranked = sorted(set(periods), key=timeframe_ms)
    fitting = [p for p in ranked if timeframe_ms(p) <= bar]
    return fitting[::-1] + [p for p in ranked if timeframe_ms(p) > bar]
