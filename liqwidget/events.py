"""Real liquidation events: the one event-frame format, its validation, and binning on a grid.

An event frame has one row per liquidation with columns ``time`` (UTC), ``side`` (``"long"``
or ``"short"``: the side of the position that was closed; a long liquidation is a forced
sell), ``price`` and ``notional`` (quote currency, e.g. USD), and optionally ``exchange``,
``symbol``, ``leverage`` and ``amount`` (base currency). Times follow :mod:`liqwidget.times`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .feeds import FEEDS
from .heatmap import Heatmap, bin_index
from .sides import SIDES
from .times import utc_index

REQUIRED = ("time", "side", "price", "notional")
#: Enough for per-bar timing scores (``validate_events(..., prices=False)``).
TIMING = ("time", "side", "notional")
OPTIONAL = ("exchange", "symbol", "leverage", "amount")
UNITS = {"notional": " (quote currency, e.g. USD)", "amount": " (base currency, e.g. BTC)"}


class LiquidationDataError(ValueError):
    """Bad liquidation events; the message names the column and the first offending row."""


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


def validate_events(
    events: pd.DataFrame, *, prices: bool = True, keep: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Check an event frame and return a clean copy sorted by time: the one event contract.

    Raises :class:`LiquidationDataError` naming the column and row of the first problem:
    missing columns, missing times or times without a zone (see :mod:`liqwidget.times`),
    sides other than ``long``/``short``, prices that are not positive and finite, notionals
    that are negative or not finite, leverage below 1, amounts that are not positive.
    ``prices=False`` accepts frames without a ``price`` column (per-bar timing needs none);
    columns named in ``keep`` are carried along unchecked (e.g. the store's ``seq``).
    """
    if not isinstance(events, pd.DataFrame):
        raise LiquidationDataError(
            f"expected a pandas DataFrame of liquidation events, got {type(events).__name__}"
        )
    required = REQUIRED if prices or "price" in events.columns else TIMING
    missing = [c for c in required if c not in events.columns]
    if missing:
        totals = {"long", "short"} <= {str(c) for c in events.columns}
        hint = (
            ". These look like per-bar totals (long, short): they carry no prices, so the "
            "map cannot draw them at a price; score them with liqwidget.calibrate(estimate, "
            "totals), which takes totals"
            if totals
            else ""
        )
        raise LiquidationDataError(
            f"missing column(s) {missing}; liquidation events need {list(required)} "
            f"(got {[str(c) for c in events.columns]}){hint}"
        )
    frame = events[[c for c in (*REQUIRED, *OPTIONAL, *keep) if c in events.columns]].copy()
    frame = frame.reset_index(drop=True)
    labels = events.index

    def where(pos: int) -> str:
        label = labels[pos]
        return f"row {pos}" + (f" (index {label})" if str(label) != str(pos) else "")

    frame["time"] = utc_index(events["time"], "column 'time'", LiquidationDataError, where)

    side = events["side"].to_numpy(dtype=object)
    bad = _first(~np.isin(side, SIDES))
    if bad is not None:
        raise LiquidationDataError(
            f"column 'side' is {side[bad]!r} at {where(bad)}; it must be 'long' or 'short' "
            "(the side of the liquidated position: a forced sell closes a long)"
        )
    frame["side"] = side.astype(str)

    checks = (("price", "positive"), ("notional", "nonnegative"), ("amount", "positive"))
    for col, rule in checks:
        if col not in events.columns:
            continue
        try:
            v = pd.to_numeric(events[col], errors="raise").to_numpy(dtype="float64")
        except (ValueError, TypeError) as exc:
            raise LiquidationDataError(f"column '{col}' is not numeric: {exc}") from exc
        bad = _first(~np.isfinite(v))
        if bad is not None:
            raise LiquidationDataError(f"column '{col}' is NaN or infinite at {where(bad)}")
        bad = _first(v < 0 if rule == "nonnegative" else v <= 0)
        if bad is not None:
            need = "negative" if rule == "nonnegative" else "not positive"
            unit = UNITS.get(col, "")
            raise LiquidationDataError(f"column '{col}' is {need} ({v[bad]}) at {where(bad)}{unit}")
        frame[col] = v

    if "leverage" in frame.columns:
        lev = pd.to_numeric(events["leverage"], errors="coerce").to_numpy(dtype="float64")
        bad = _first(~np.isnan(lev) & (lev < 1))
        if bad is not None:
            raise LiquidationDataError(f"column 'leverage' is below 1 ({lev[bad]}) at {where(bad)}")
        frame["leverage"] = lev
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def empty_events() -> pd.DataFrame:
    """An event frame with no rows."""
    return pd.DataFrame(
        {
            "time": pd.Series([], dtype="datetime64[ns, UTC]"),
            "side": pd.Series([], dtype=object),
            "price": pd.Series([], dtype="float64"),
            "notional": pd.Series([], dtype="float64"),
        }
    )


def events_in(
    events: pd.DataFrame, time_edges: pd.DatetimeIndex, price_edges: np.ndarray
) -> np.ndarray:
    """Boolean mask of the (validated) events that fall inside the grid."""
    t = events["time"].to_numpy(dtype="datetime64[ns]").astype("int64")
    e = _ns(time_edges)
    p = events["price"].to_numpy(dtype="float64")
    return (t >= e[0]) & (t < e[-1]) & (p >= price_edges[0]) & (p < price_edges[-1])


def _ns(times: pd.DatetimeIndex) -> np.ndarray:
    return np.asarray(pd.DatetimeIndex(times).as_unit("ns").asi8)


def realized_grid(
    events: pd.DataFrame, time_edges: pd.DatetimeIndex, price_edges: np.ndarray
) -> Heatmap:
    """Sum of real liquidation notional per time × price cell, long and short apart.

    A cell covers ``[time_edges[j], time_edges[j+1])`` and ``[price_edges[i],
    price_edges[i+1])``. The grid is a window: events outside it are not in any cell (use
    :func:`events_in` to count them).
    """
    return bin_events(validate_events(events), time_edges, price_edges)


def bin_events(ev: pd.DataFrame, time_edges: pd.DatetimeIndex, price_edges: np.ndarray) -> Heatmap:
    """:func:`realized_grid` for a frame :func:`validate_events` already returned."""
    time_edges = utc_index(time_edges, "time_edges", LiquidationDataError)
    price_edges = np.asarray(price_edges, dtype="float64")
    width, height = len(time_edges) - 1, len(price_edges) - 1
    if width < 1 or height < 1:
        raise ValueError("a grid needs at least 2 time edges and 2 price edges")
    t = ev["time"].to_numpy(dtype="datetime64[ns]").astype("int64")
    col = bin_index(t, _ns(time_edges))
    row = bin_index(ev["price"].to_numpy(dtype="float64"), price_edges)
    inside = (col >= 0) & (row >= 0)
    is_short = (ev["side"].to_numpy() == "short")[inside]
    flat = (is_short * height + row[inside]) * width + col[inside]
    sums = np.bincount(
        flat, weights=ev["notional"].to_numpy()[inside], minlength=2 * height * width
    )
    sums = sums.reshape(2, height, width)
    return Heatmap(time_edges=time_edges, price_edges=price_edges, long=sums[0], short=sums[1])


def undercount_notes(events: pd.DataFrame) -> list[str]:
    """Plain-language notes on feeds in ``events`` known to undercount liquidations."""
    if "exchange" not in events.columns or events.empty:
        return []
    names = sorted({str(x).lower() for x in events["exchange"].dropna().unique()})
    return [f"{n}: {FEEDS[n].note}" for n in names if n in FEEDS and FEEDS[n].undercounts]
