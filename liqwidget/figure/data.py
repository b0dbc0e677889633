"""The arrays a liquidation map shows, at display resolution, ready for Bokeh or a wire.

:func:`figure_data` turns a cluster estimate and real liquidations into :class:`FigureData`:
the columns of every named Bokeh ``ColumnDataSource`` in the figure plus a few scalar model
properties. :func:`~liqwidget.figure.build_figure` puts them into the document; the widget
sends the same arrays to an open figure as binary buffers. Both faces therefore show exactly
the same numbers.

Heat layers are compact: one ``uint8`` image per layer. Code 0 is empty, codes 1–127 are
long notional and 129–255 short notional, each on a log scale from ``vmin`` to ``vmax``
(both stored in the layer's source, so hover can turn a code back into notional).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..calibration import MIN_EVENTS, calibrate, events_within
from ..escape import html_text
from ..estimate import ClusterEstimate
from ..events import bin_events, empty_events, events_in, undercount_notes, validate_events
from ..feeds import completeness_line
from ..fmt import money
from ..forecast import DEFAULT_HORIZON, forecast_grid, horizon_bars
from ..heatmap import Heatmap, bin_index, time_columns
from ..times import epoch_ms as _ms
from ..times import utc
from .callbacks import LAYER_LABELS, LAYERS

#: Codes per side in a heat layer (1..LEVELS for long, SHORT_OFFSET + 1.. for short).
LEVELS = 127
SHORT_OFFSET = 128
#: Default display resolution (time columns, price rows): small enough for static pages.
DEFAULT_RESOLUTION = (600, 240)


@dataclass(eq=False)
class FigureData:
    """Columns of each named data source and scalar properties of named models."""

    sources: dict[str, dict[str, Any]]
    props: dict[str, dict[str, Any]] = field(default_factory=dict)
    tiers: tuple[float, ...] = ()
    heatmap: Heatmap | None = None
    realized: Heatmap | None = None
    forecast: Heatmap | None = None
    horizon: str = DEFAULT_HORIZON

    def placeholder(self) -> FigureData:
        """The same structure with one-cell arrays: a document skeleton to fill in later."""
        small = {}
        for name, cols in self.sources.items():
            small[name] = {k: _tiny(v) for k, v in cols.items()}
        return FigureData(small, self.props, self.tiers)

    def nbytes(self) -> int:
        """Bytes of array data (what travels as binary buffers)."""
        total = 0
        for cols in self.sources.values():
            for v in cols.values():
                total += (
                    sum(a.nbytes for a in v) if isinstance(v, list) else getattr(v, "nbytes", 0)
                )
        return total


def _tiny(v):
    if isinstance(v, list) and v and isinstance(v[0], np.ndarray):
        return [np.zeros((1,) * v[0].ndim, dtype=v[0].dtype)]
    if isinstance(v, np.ndarray):
        return v[:1]
    return v[:1]


# ---------------------------------------------------------------------------- heat layers
def encode_layer(long: np.ndarray, short: np.ndarray, dynamic_range: float = 1e3):
    """Both sides of a layer as one ``uint8`` log-coded image plus its ``(vmin, vmax)``.

    Where both sides have notional in the same cell, the larger one is shown. Values below
    ``vmax / dynamic_range`` are left empty.
    """
    vmax = float(max(long.max(initial=0.0), short.max(initial=0.0)))
    if not vmax > 0:
        return np.zeros(long.shape, dtype="uint8"), 1.0, 1.0
    vmin = vmax / dynamic_range
    larger = np.maximum(long, short)
    shown = np.flatnonzero(larger >= vmin)  # only these cells need a logarithm
    values = larger.ravel()[shown]
    steps = np.log(values / vmin) * ((LEVELS - 1) / np.log(dynamic_range))
    codes = (np.minimum(np.rint(steps), LEVELS - 1) + 1).astype("uint8")
    codes[short.ravel()[shown] > long.ravel()[shown]] += SHORT_OFFSET
    code = np.zeros(long.size, dtype="uint8")
    code[shown] = codes
    return code.reshape(long.shape), vmin, vmax


def decode_layer(code: np.ndarray, vmin: float, vmax: float) -> tuple[np.ndarray, np.ndarray]:
    """Approximate ``(long, short)`` notional back from a coded image (inverse of encoding)."""
    c = code.astype("int64")
    is_short = c > SHORT_OFFSET
    k = np.where(is_short, c - SHORT_OFFSET, c)
    value = np.where(k > 0, vmin * (vmax / vmin) ** ((k - 1) / (LEVELS - 1)), 0.0)
    return np.where(is_short, 0.0, value), np.where(is_short, value, 0.0)


def _image_columns(grid: Heatmap, dynamic_range: float) -> dict[str, Any]:
    code, vmin, vmax = encode_layer(grid.long, grid.short, dynamic_range)
    if not code.any():
        code = np.zeros((1, 1), dtype="uint8")  # an empty layer: one transparent cell
    t0, t1 = grid.time_edges[0], grid.time_edges[-1]
    return {
        "image": [code],
        "x": np.array([_ms(t0)]),
        "y": np.array([grid.price_edges[0]]),
        "dw": np.array([_ms(t1) - _ms(t0)]),
        "dh": np.array([grid.price_edges[-1] - grid.price_edges[0]]),
        "vmin": np.array([vmin]),
        "vmax": np.array([vmax]),
    }


# ---------------------------------------------------------------------------- price
def price_columns(estimate: ClusterEstimate, time_edges: pd.DatetimeIndex) -> dict[str, np.ndarray]:
    """Per time column: bar high, low and last close (NaN where a column has no bar)."""
    m = estimate.market
    edges = np.asarray(time_edges.as_unit("ns").asi8)
    col = np.searchsorted(edges, m.index.as_unit("ns").asi8, side="right") - 1
    ok = (col >= 0) & (col < edges.size - 1)
    col = col[ok]
    n = edges.size - 1
    high = np.full(n, -np.inf)
    low = np.full(n, np.inf)
    np.maximum.at(high, col, m.column("high")[ok])
    np.minimum.at(low, col, m.column("low")[ok])
    close = np.full(n, np.nan)
    close[col] = m.column("close")[ok]  # later bars overwrite earlier ones: the last close
    empty = ~np.isfinite(high)
    high[empty], low[empty] = np.nan, np.nan
    centre = (edges[:-1] + edges[1:]) / 2e6
    return {
        "time": centre,
        "high": high.astype("float32"),
        "low": low.astype("float32"),
        "close": close.astype("float32"),
    }


# ---------------------------------------------------------------------------- real events
def marker_columns(events: pd.DataFrame, max_markers: int) -> dict[str, Any]:
    """The largest ``max_markers`` events (by notional) as marker columns, in time order."""
    if len(events) > max_markers:
        keep = np.argsort(-events["notional"].to_numpy(), kind="stable")[:max_markers]
        events = events.iloc[np.sort(keep)]
    notional = events["notional"].to_numpy(dtype="float64")
    top = float(notional.max(initial=0.0)) or 1.0
    size = 3.0 + 12.0 * np.sqrt(notional / top)
    exchange = (
        events["exchange"].astype(str).tolist() if "exchange" in events else [""] * len(events)
    )
    return {
        "time": events["time"].to_numpy(dtype="datetime64[ns]").astype("int64") / 1e6,
        "price": events["price"].to_numpy(dtype="float32"),
        "notional": notional.astype("float32"),
        "size": size.astype("float32"),
        "short": (events["side"].to_numpy() == "short").astype("uint8"),
        "exchange": exchange,
    }


# ---------------------------------------------------------------------------- levels bars
def level_frames(
    estimate: ClusterEstimate,
    price_edges: np.ndarray,
    steps: int,
    bins: int,
    span: tuple[int, int] | None = None,
    forecast_horizon: str = DEFAULT_HORIZON,
) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray, dict[str, np.ndarray]]:
    """Outstanding notional per price bin and (side, tier) at ``steps`` cursor times, and
    the Forecast profile beside it.

    The times are spread evenly over ``span`` (epoch ns; default: all bars) and end at it.
    The same numbers as ``estimate.levels_at(t, bins, price_range)`` at each time, computed
    in one pass. Returns the frames source (``time``, ``scale`` and ``uint16`` ``values``
    per frame, each flattened bins × columns; ``forecast_scale`` and ``uint8`` ``forecast``,
    flattened bins × (long, short): the liquidations expected per bin over ``forecast_horizon`` from
    that time, as the Forecast layer draws them), the bars source at the last frame, the
    leverage tiers, and the forecast profile source at the last frame.
    """
    m, lv = estimate.market, estimate.raw
    if span is None:
        start, end = m.index[0].value, m.index[-1].value + m.timeframe.value
    else:
        start, end = span
    times = np.linspace(start, end, steps + 1)[1:].round().astype("int64")
    bar_end = m.index.as_unit("ns").asi8 + m.timeframe.value
    states = np.searchsorted(bar_end, times, side="right")
    edges = np.linspace(float(price_edges[0]), float(price_edges[-1]), bins + 1)
    n_cols = 2 * lv.leverage.size
    pbin = bin_index(lv.price, edges)
    col = lv.side.astype("int64") * lv.leverage.size + lv.tier
    key = np.where(pbin >= 0, pbin * n_cols + col, -1)
    cells = lv.outstanding(key, bins * n_cols, states)
    stack = np.maximum(cells.T.reshape(steps, bins, n_cols), 0.0)  # steps × bins × cols
    q, scale = _codes(stack)
    columns = [(side, lev) for side in ("long", "short") for lev in lv.leverage]
    centres = 0.5 * (edges[:-1] + edges[1:])
    bars = bar_columns(stack[-1], centres, columns)
    n_t = lv.leverage.size
    book = Heatmap(
        pd.DatetimeIndex(np.concatenate([times[:1] - 1, times]), tz="UTC"),
        edges,
        stack[:, :, :n_t].sum(axis=2).T,
        stack[:, :, n_t:].sum(axis=2).T,
    )
    expected = forecast_grid(book, m, states, forecast_horizon, lv)
    profile = np.stack([expected.long.T, expected.short.T], axis=2)  # steps × bins × 2
    f_q, f_scale = _codes(np.maximum(profile, 0.0), "uint8")  # a line: 256 steps will do
    src = {
        "time": times / 1e6,
        "scale": scale,
        "values": [q[k].ravel() for k in range(steps)],
        "forecast_scale": f_scale,
        "forecast": [f_q[k].ravel() for k in range(steps)],
    }
    last = {"price": centres, "long": profile[-1, :, 0], "short": profile[-1, :, 1]}
    return src, bars, np.asarray(lv.leverage, dtype="float64"), last


def _codes(stack: np.ndarray, dtype: str = "uint16") -> tuple[np.ndarray, np.ndarray]:
    """Each frame (first axis) as codes of ``dtype`` (0 to its maximum: the frame's own
    maximum), and those maxima."""
    top = np.iinfo(dtype).max
    scale = stack.reshape(stack.shape[0], -1).max(axis=1)
    safe = np.where(scale > 0, scale, 1.0)
    q = np.rint(stack / safe.reshape((-1,) + (1,) * (stack.ndim - 1)) * top).astype(dtype)
    return q, scale


def bar_column_names(columns) -> list[str]:
    return [f"{side}_{lev:g}" for side, lev in columns]


def bar_columns(values: np.ndarray, prices: np.ndarray, columns) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {"price": prices.astype("float64")}
    for j, name in enumerate(bar_column_names(columns)):
        out[name] = values[:, j].astype("float32")
    return out


# ---------------------------------------------------------------------------- all together
def figure_data(
    estimate: ClusterEstimate,
    liquidations: pd.DataFrame | None = None,
    *,
    resolution: tuple[int, int] = DEFAULT_RESOLUTION,
    price_range: tuple[float, float] | None = None,
    time_range: tuple | None = None,
    dynamic_range: float = 1e3,
    cursor_steps: int = 96,
    level_bins: int = 120,
    max_markers: int = 400,
    cursor_range: tuple | None = None,
    forecast_horizon: str = DEFAULT_HORIZON,
) -> FigureData:
    """Everything the figure draws, at ``resolution = (time columns, price rows)``.

    The time cursor (and its stored levels frames) covers ``cursor_range`` — by default the
    drawn time window. The Forecast layer shows the liquidations expected over the
    ``forecast_horizon`` after each column (see :mod:`liqwidget.forecast`).
    """
    width, height = (int(x) for x in resolution)
    horizon_bars(forecast_horizon, estimate.market.timeframe)  # a clear error if not positive
    grid = estimate.grid(width, height, price_range=price_range, time_range=time_range)
    m = estimate.market
    _, states = time_columns(m.index, m.timeframe, width, time_range)
    forecast = forecast_grid(grid, m, states, forecast_horizon, estimate.raw)
    events = empty_events() if liquidations is None else validate_events(liquidations)
    real = bin_events(events, grid.time_edges, grid.price_edges)
    inside = events_in(events, grid.time_edges, grid.price_edges)
    if cursor_range is None:
        c0, c1 = grid.time_edges[0].value, grid.time_edges[-1].value
    else:
        c0, c1 = (utc(t, "cursor_range").value for t in cursor_range)
    frames, bars, tiers, profile = level_frames(
        estimate,
        grid.price_edges,
        max(int(cursor_steps), 1),
        level_bins,
        span=(c0, c1),
        forecast_horizon=forecast_horizon,
    )
    markers = marker_columns(events[inside], max_markers)

    t0, t1 = _ms(grid.time_edges[0]), _ms(grid.time_edges[-1])
    step = estimate.market.timeframe.value / 1e6
    shown = len(markers["time"])
    notes = notes_html(estimate, events, int(inside.sum()), shown, forecast_horizon)
    return FigureData(
        sources={
            "clusters-source": _image_columns(grid, dynamic_range),
            "real-source": _image_columns(real, dynamic_range),
            "forecast-source": _image_columns(forecast, dynamic_range),
            "price-source": price_columns(estimate, grid.time_edges),
            "events-source": markers,
            "levels-source": bars,
            "levels-frames": frames,
            "forecast-profile": profile,
        },
        props={
            "cursor-slider": {
                "start": c0 / 1e6,
                "end": c1 / 1e6,
                "step": step,
                "value": float(frames["time"][-1]),
            },
            "cursor-span": {"location": float(frames["time"][-1])},
            "notes": {"text": notes},
            "layer-toggle": {"labels": layer_labels(forecast_horizon)},
            "time-range": {"start": t0, "end": t1},
            "price-range": {
                "start": float(grid.price_edges[0]),
                "end": float(grid.price_edges[-1]),
            },
        },
        tiers=tuple(float(t) for t in tiers),
        heatmap=grid,
        realized=real,
        forecast=forecast,
        horizon=str(forecast_horizon),
    )


def layer_labels(horizon: str) -> list[str]:
    """The layer toggle's labels, the Forecast one naming its horizon."""
    names = dict(zip(LAYERS, LAYER_LABELS, strict=True))
    names["forecast"] = f"Forecast (next {horizon})"
    return [names[layer] for layer in LAYERS]


def notes_html(
    estimate: ClusterEstimate,
    events: pd.DataFrame,
    inside: int,
    shown: int,
    horizon: str = DEFAULT_HORIZON,
) -> str:
    """What the reader must know: the clusters are modelled, what the forecast is, and how
    complete the real feed is."""
    m = estimate.market
    name = html_text(" · ".join(x for x in (m.exchange, m.symbol) if x) or "market")
    parts = [
        f"<b>{name}</b>, {len(m):,} bars of {_td(m.timeframe)}. "
        "<b>Clusters</b> are a <i>model estimate</i> of where forced-liquidation levels may be "
        "stacked, inferred from open-interest changes and an assumed leverage mix; they are "
        "not a list of real orders or stop losses. "
        f"<b>Forecast</b> (next {html_text(horizon)}): the liquidations those levels would "
        "produce if price reached them, weighted by the chance it does within the horizon "
        "(how often this market moved that far, in units of its recent volatility), plus "
        "positions yet to open, as many as the last day's openings suggest, each liquidating "
        "its own distance beyond wherever price has taken it by then. Positions that traders "
        "close before price gets there (as fast as the book closed them over the last day) "
        "are left out."
    ]
    if len(events) == 0:
        parts.append("<b>Real</b>: no recorded liquidations were given for this period.")
    else:
        total = money(float(events["notional"].sum()))
        line = f"<b>Real</b>: {len(events):,} recorded liquidations ({total})"
        if inside < len(events):
            line += f", {len(events) - inside:,} of them outside the drawn window"
        if shown < inside:
            line += f"; markers show the largest {shown:,}, the heat layer all of them"
        parts.append(line + ".")
        if len(m.venues) > 1:
            parts.append(html_text(completeness_line(v.exchange for v in m.venues)) + ".")
        for note in undercount_notes(events):
            parts.append(f"Feed caveat — {html_text(note.rstrip('.'))}.")
        scored = events_within(events, m)
        if len(scored) >= MIN_EVENTS:
            cal = calibrate(estimate, scored)
            parts.append(
                f"<b>Measured</b> on these {len(scored):,} liquidations — "
                + html_text(cal.headline())
            )
    return "<br>".join(parts)


def _td(td: pd.Timedelta) -> str:
    minutes = td / pd.Timedelta("1min")
    if minutes < 1:
        return f"{td / pd.Timedelta('1s'):g} s"
    return f"{minutes:g} min" if minutes < 60 else f"{minutes / 60:g} h"
