"""Where liquidations happen: two scores of a book's price profile, each with its baselines.

* **Given that price went there** — :func:`touched_scores`. For each window (every bar, or
  every hour on finer bars), take the price range the window traded through on each side of
  its open (long: open down to the low; short: open up to the high), cut into (at most) ten
  equal bands. Among those bands, does the book's density at the window's start (spread
  over the book's own price uncertainty) rank the real notional liquidated per band?
  Scores: Spearman rank correlation per window (weighted by the window's real notional) and
  the share of real notional in the densest band. Baselines: uniform over the touched range,
  and distance from the open (the farther band first: levels near price have mostly been
  swept already, so this naive guess is strong).
* **Forecast over a horizon** — :func:`forecast_scores`. From each origin, expected
  liquidation notional per price bin = the book's density × the chance that price reaches
  the bin within the horizon (:mod:`liqwidget.forecast`; the density spread over the
  book's own price uncertainty, :func:`~liqwidget.forecast.entry_spreads`: a model's
  levels are known to within a share of their own bar's range, the truth's exactly), each
  level counted only as far as its positions are still open when price gets there
  (:func:`~liqwidget.forecast.surviving_reach`), plus what opens during the horizon.
  Scored on what happened in the
  horizon: the share of real notional in the forecast's top-decile bins, and the log score
  (a proper scoring rule) of the forecast read as a distribution over the bins, in bits per
  dollar above a uniform forecast. Baselines: reach probability alone (a flat book), the
  nearest tenth of the bins to price (as a forecast: even over those bins), and random bins
  (a uniform forecast).

Both take a :class:`~liqwidget.ClusterEstimate` — a model's, or the simulator's true book
(:meth:`~liqwidget.Simulation.truth_estimate`) — so the truth is scored exactly as the model
is: a measure where the truth does not clearly beat every baseline is not a measure of map
quality (:func:`scorecard` and :func:`oracle_check` put every score side by side and say
which ones the oracle validates).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .calibration import calibrate, event_bars, held_out, slice_estimate
from .estimate import ClusterEstimate
from .events import validate_events
from .forecast import (
    MIN_VOL_BARS,
    Reach,
    closing_rate,
    horizon_bars,
    new_liquidations,
    opening_rates,
    spread_out,
    surviving_reach,
)
from .sides import SIDES

#: Share of the bins each top-decile score picks.
DECILE = 0.1
#: Most bands a window's touched range is split into for "given that price went there".
BANDS = 10
#: Weight of the uniform floor mixed into every forecast before the log score.
FLOOR = 0.2


#: A liquidation priced more than this factor beyond its bar's high or low is not of these
#: bars: another symbol, or prices in other units (cents, a quote in the base currency).
#: Fills of a cascade land within a few per cent of the range, never a factor of two.
PRICE_SLACK = 2.0


def _events(estimate: ClusterEstimate, events: pd.DataFrame):
    ev = validate_events(events)
    m = estimate.market
    bar = event_bars(ev, m)
    price = ev["price"].to_numpy(float)
    lo, hi = m.column("low")[bar], m.column("high")[bar]
    odd = (price > hi * PRICE_SLACK) | (price < lo / PRICE_SLACK)
    if odd.any():
        i = int(np.flatnonzero(odd)[0])
        raise ValueError(
            f"{int(odd.sum())} of {odd.size} liquidation events are priced far outside their "
            f"bar; the first, at {ev['time'].iloc[i]}, is at {price[i]:g} against a bar "
            f"from {lo[i]:g} to {hi[i]:g}. Are they of another symbol, or in other units "
            "(cents, inverse quotes)? Score only this market's events, priced in its quote "
            "currency."
        )
    side = (ev["side"].to_numpy() == "short").astype("int64")
    t = ev["time"].to_numpy(dtype="datetime64[ns]").astype("int64")
    return price, ev["notional"].to_numpy(float), side, bar, t


def _top_share(score: np.ndarray, real: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Per row: real amount in the ``k`` highest-scoring columns (``-inf`` = not a candidate).

    Ties at the cut are shared out evenly (the expectation under random tie-breaking), so a
    constant score picks ``k / n`` of the real amount.
    """
    order = -np.sort(-score, axis=1)
    cut = np.take_along_axis(order, np.maximum(k - 1, 0)[:, None], axis=1)
    above = score > cut
    at = score == cut
    n_above = above.sum(axis=1)
    n_at = np.maximum(at.sum(axis=1), 1)
    frac = np.clip(k - n_above, 0, None) / n_at
    return (real * above).sum(axis=1) + frac * (real * at).sum(axis=1)


# ------------------------------------------------------------------ given price went there
def _windows(market, every: pd.Timedelta) -> np.ndarray:
    """Start bar of each window: every bar, or the first bar of each ``every`` on finer bars."""
    n = len(market)
    if market.timeframe >= every:
        return np.arange(n)
    key = market.index.floor(every).asi8
    return np.flatnonzero(np.diff(key, prepend=key[0] - 1) != 0)


def touched_scores(
    estimate: ClusterEstimate,
    events: pd.DataFrame,
    *,
    bin_width: float = 0.0005,
    every: str | pd.Timedelta = "1h",
    bands: int = BANDS,
) -> pd.DataFrame:
    """ "Given that price went there": rank and top-decile scores of the book against real
    liquidations among the price bands each window traded through (see the module doc).

    Prices are binned ``bin_width`` (a fraction of price) wide on a log scale; each window's
    touched bins on a side are grouped, nearest to the open first, into at most ``bands``
    equal bands (a real liquidation is recorded at its fill price, which jumps in a
    cascade, so single bins are mostly noise). The book's density is first spread over its
    own price uncertainty (each level by its own bar's:
    :func:`~liqwidget.forecast.spread_out`; the truth's is exact). Returns one row per side
    and scorer (``book``, ``uniform``, ``distance from open``): ``spearman``
    (notional-weighted over windows with at least three bands), ``top_share`` (real notional
    in the top tenth of the bands), and ``windows`` / ``notional`` scored. Real liquidations
    outside their window's touched range on their side (positions opened inside the window)
    count in no band and are reported as ``outside_share``.
    """
    if bands < 3:
        raise ValueError(f"bands must be at least 3 to rank anything, got {bands}")
    m = estimate.market
    price, notional, side, bar, _ = _events(estimate, events)
    starts = _windows(m, pd.Timedelta(every))
    win = np.searchsorted(starts, bar, side="right") - 1
    step = np.log1p(bin_width)
    o = np.log(m.column("open")[starts])
    lo = np.log(np.minimum.reduceat(m.column("low"), starts))
    hi = np.log(np.maximum.reduceat(m.column("high"), starts))
    g0 = math.floor(lo.min() / step)
    nb = math.floor(hi.max() / step) - g0 + 1
    lv = estimate.raw
    pbin = np.floor(np.log(lv.price) / step).astype("int64") - g0
    pbin = np.where((pbin >= 0) & (pbin < nb), pbin, -1)
    book = spread_out(lv, m, pbin, nb, starts, step)  # (side, window, bin)
    x_ev = np.log(price) / step - g0  # positions in bin units
    x_open, x_lo, x_hi = o / step - g0, lo / step - g0, hi / step - g0
    b_open = np.floor(x_open).astype("int64")
    width = int(np.ceil(max((x_open - x_lo).max(initial=0), (x_hi - x_open).max(initial=0)))) + 2
    nw = len(starts)
    rows = []
    for s, name in enumerate(SIDES):
        sign = -1 if s == 0 else 1
        reach = (x_open - x_lo) if s == 0 else (x_hi - x_open)  # the range traded, in bins
        n_bands = np.minimum(np.ceil(reach - 1e-9).astype("int64"), bands)
        n_bands = np.maximum(n_bands, 0)
        # Bins from the open outwards; bin j covers distances [j + c, j + 1 + c) from the
        # open, and the book's density is taken as even inside a bin.
        cand = np.clip(b_open[:, None] + sign * np.arange(width)[None, :], 0, nb - 1)
        dens = np.take_along_axis(book[s], cand, axis=1)
        c = (x_open - b_open - 1.0) if s == 0 else (b_open - x_open)
        cum = np.concatenate([np.zeros((nw, 1)), np.cumsum(dens, axis=1)], axis=1)
        # Equal bands over the exact range: edges at reach * b / n_bands (all at reach past
        # the window's own bands), and the book's mass between them.
        b_idx = np.arange(bands + 1)[None, :]
        per = np.divide(reach, n_bands, out=np.zeros(nw), where=n_bands > 0)
        edges = np.minimum(b_idx, n_bands[:, None]) * per[:, None]
        t = np.clip(edges - c[:, None], 0.0, width - 1e-9)
        i = np.floor(t).astype("int64")
        mass = np.take_along_axis(cum, i, axis=1) + (t - i) * np.take_along_axis(dens, i, axis=1)
        density = np.diff(mass, axis=1)
        real = np.zeros((nw, bands))
        sel = side == s
        w = win[sel]
        dist = sign * (x_ev[sel] - x_open[w])
        inside = (dist >= 0) & (dist <= reach[w]) & (n_bands[w] > 0)
        band = np.floor(dist[inside] / np.where(per[w][inside] > 0, per[w][inside], 1.0))
        band = np.minimum(band.astype("int64"), n_bands[w][inside] - 1)
        np.add.at(real, (w[inside], band), notional[sel][inside])
        total_side = notional[sel].sum()
        ok_band = np.arange(bands)[None, :] < n_bands[:, None]
        scores = {
            "book": density,
            "uniform": np.zeros_like(density),
            "distance from open": np.broadcast_to(np.arange(bands, dtype=float), density.shape),
        }
        k = np.maximum(np.ceil(DECILE * n_bands).astype("int64"), 1)
        w_real = real.sum(axis=1)
        for scorer, sc in scores.items():
            sc = np.where(ok_band, sc, -np.inf)
            top = _top_share(sc, real, k)
            rho = _window_spearman(sc, real, ok_band, n_bands)
            ok = np.isfinite(rho) & (w_real > 0)
            rows.append(
                {
                    "side": name,
                    "scorer": scorer,
                    "spearman": float((rho[ok] * w_real[ok]).sum() / w_real[ok].sum())
                    if ok.any()
                    else float("nan"),
                    "top_share": float(top.sum() / w_real.sum()) if w_real.sum() > 0 else np.nan,
                    "windows": int((w_real > 0).sum()),
                    "notional": float(w_real.sum()),
                    "outside_share": float(1 - w_real.sum() / total_side)
                    if total_side > 0
                    else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _window_spearman(score, real, valid, n_bins) -> np.ndarray:
    """Spearman ρ per row over its valid columns; a constant score has ρ = 0; rows with
    fewer than three bins or constant real notional get NaN."""
    ra = rankdata(np.where(valid, score, np.nan), axis=1, nan_policy="omit")
    rb = rankdata(np.where(valid, real, np.nan), axis=1, nan_policy="omit")
    with warnings.catch_warnings():  # rows without a valid column: NaN, dropped below
        warnings.simplefilter("ignore", RuntimeWarning)
        ra -= np.nanmean(ra, axis=1, keepdims=True)
        rb -= np.nanmean(rb, axis=1, keepdims=True)
    va, vb = np.nansum(ra**2, axis=1), np.nansum(rb**2, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.nansum(ra * rb, axis=1) / np.sqrt(va * vb)
    rho = np.where(va == 0, 0.0, rho)
    return np.where((n_bins >= 3) & (vb > 0), rho, np.nan)


# ------------------------------------------------------------------ forecast over a horizon
def forecast_scores(
    estimate: ClusterEstimate,
    events: pd.DataFrame,
    horizon: str | pd.Timedelta,
    *,
    bins: int = 40,
    reach: float = 5.0,
    every: str | pd.Timedelta | None = None,
) -> pd.DataFrame:
    """The forecast of expected liquidations over ``horizon`` against what happened in it.

    Origins are every ``every`` (default: the horizon, at most one hour), from the first bar
    with enough history for a volatility estimate to the last one whose horizon ends inside
    the bars. Each side gets ``bins`` log-price bins from the origin's price outwards,
    together ``reach`` typical horizon moves wide (the median volatility of the data times
    √horizon: a scoring grid, the same for every scorer). Returns one row per side and
    scorer: ``top_share`` (real notional in the top tenth of bins; random = 10 %),
    ``log_score`` (bits per dollar above a uniform forecast; higher is better, random = 0),
    ``origins`` and ``coverage`` (share of the horizons' real notional inside the bins).
    """
    m = estimate.market
    n = len(m)
    h = horizon_bars(horizon, m.timeframe)
    h_ns = pd.Timedelta(horizon).value
    every = (
        pd.Timedelta(every) if every is not None else min(pd.Timedelta(horizon), pd.Timedelta("1h"))
    )
    stride = max(int(round(every / m.timeframe)), 1)
    t_bar = m.index.asi8
    end = t_bar[-1] + m.timeframe.value
    origins = np.arange(MIN_VOL_BARS, n, stride)
    origins = origins[t_bar[origins] + h_ns <= end]
    if origins.size == 0:
        raise ValueError(
            f"no forecast origin: {n} bars of {m.timeframe} are too few for a {horizon} horizon"
        )
    chance = Reach(m, horizon)
    p0 = np.log(m.column("open")[origins])
    step = reach * float(np.median(chance.sigma)) * math.sqrt(h) / bins
    g0 = math.floor(p0.min() / step) - bins - 1
    nb = math.floor(p0.max() / step) + bins + 2 - g0
    lv = estimate.raw
    pbin = np.floor(np.log(lv.price) / step).astype("int64") - g0
    pbin = np.where((pbin >= 0) & (pbin < nb), pbin, -1)
    book = spread_out(lv, m, pbin, nb, origins, step)  # (side, origin, bin)
    centre = np.floor(p0 / step).astype("int64") - g0
    closing = closing_rate(lv, m, origins)

    price, notional, side, _, t = _events(estimate, events)
    ot = t_bar[origins]
    first = np.searchsorted(ot, t - h_ns, side="right")
    last = np.searchsorted(ot, t, side="right")
    count = np.maximum(last - first, 0)
    ev = np.repeat(np.arange(t.size), count)
    org = np.repeat(first, count) + (
        np.arange(ev.size) - np.repeat(np.cumsum(count) - count, count)
    )
    ev_bin = np.floor(np.log(price[ev]) / step).astype("int64") - g0

    j = np.arange(bins)
    k = max(1, math.ceil(DECILE * bins))
    cols = np.arange(origins.size)[:, None]
    rows = []
    for s, name in enumerate(SIDES):
        sign = -1 if s == 0 else 1
        cand = centre[:, None] + sign * j[None, :]
        dist = np.abs((cand + g0 + 0.5) * step - p0[:, None])
        dist[:, 0] = 0.0  # the bin price is in
        r = chance(dist, origins[:, None])
        dens = book[s][cols, cand]
        real = np.zeros((origins.size, bins))
        sel = side[ev] == s
        off = sign * (ev_bin[sel] - centre[org[sel]])
        inside = (off >= 0) & (off < bins)
        np.add.at(real, (org[sel][inside], off[inside]), notional[ev][sel][inside])
        total = float(notional[ev][sel].sum())
        near = np.broadcast_to((j < k).astype(float), real.shape)
        near_edge = sign * ((cand + g0 + (s == 0)) * step - p0[:, None])  # bin j's, away
        edges = np.concatenate([near_edge, near_edge[:, -1:] + step], axis=1)
        new = new_liquidations(
            opening_rates(lv, m, s, origins), chance.sigma[origins], h, edges, closing
        )
        kept = surviving_reach(dist, chance.sigma[origins][:, None], h, closing[:, None])
        forecasts = {
            "book": dens * r * kept + new,
            "reach only": r,
            "nearest": near,
            "random": np.ones_like(real),
        }
        got = real.sum()
        for scorer, f in forecasts.items():
            top = _top_share(f, real, np.full(origins.size, k)).sum()
            rows.append(
                {
                    "side": name,
                    "scorer": scorer,
                    "top_share": float(top / got) if got > 0 else float("nan"),
                    "log_score": _log_score(f, real),
                    "origins": int(origins.size),
                    "coverage": float(got / total) if total > 0 else float("nan"),
                    "notional": float(got),
                }
            )
    return pd.DataFrame(rows)


def _log_score(forecast: np.ndarray, real: np.ndarray) -> float:
    """Notional-weighted log score in bits above uniform of forecasts read as distributions
    over their row's bins (an all-zero row is uniform), each mixed with a :data:`FLOOR`."""
    n = forecast.shape[1]
    tot = forecast.sum(axis=1, keepdims=True)
    q = np.where(tot > 0, forecast / np.where(tot > 0, tot, 1.0), 1.0 / n)
    q = (1.0 - FLOOR) * q + FLOOR / n
    got = real.sum()
    return float((real * np.log2(q * n)).sum() / got) if got > 0 else float("nan")


# ------------------------------------------------------------------ every score, oracle first
#: The scores of :func:`scorecard`: (measure, metric) pairs, higher is better for all.
MEASURES = {
    "timing": ("spearman", "top_decile_precision"),
    "given price": ("spearman", "top_share"),
    "forecast": ("top_share", "log_score"),
}
#: How far the oracle must clear the best baseline for a score to count as map quality.
ORACLE_MARGIN = 0.02


def scorecard(
    estimate: ClusterEstimate,
    events: pd.DataFrame,
    *,
    truth: ClusterEstimate | None = None,
    horizons: tuple[str, ...] = ("1h", "4h"),
    since=None,
) -> pd.DataFrame:
    """Every score of the ``estimate``, each baseline and (given) the oracle ``truth``.

    ``truth`` is a simulation's true book (:meth:`~liqwidget.Simulation.truth_estimate`),
    scored exactly as the estimate: timing by :func:`~liqwidget.calibrate`, where by
    :func:`touched_scores` and :func:`forecast_scores` (horizons too long for the bars are
    left out). With ``since`` (a UTC time) only what happened from then on is scored: timing
    over the bars from ``since``, where over the liquidations from ``since`` (forecasts
    made before it still count for what they said about later) — for a model fitted to the
    liquidations before ``since``. Returns a tidy frame: ``measure`` (``timing``, ``given price``,
    ``forecast``), ``horizon`` (forecast only), ``metric``, ``side``, ``scorer``
    (``oracle``, ``model`` or a baseline's name) and ``value``.
    """
    rows = []

    def add(measure, horizon, frame, own):
        for r in frame.to_dict("records"):
            name = r["scorer"]
            if name == "book":
                name = own
            elif own == "oracle":
                continue  # baselines ignore the book: taken once, from the model's run
            for metric in MEASURES[measure]:
                rows.append((measure, horizon, metric, r["side"], name, float(r[metric])))

    books = [("model", estimate)] + ([("oracle", truth)] if truth is not None else [])
    m = estimate.market
    first = 0
    if since is not None:
        first, events = held_out(m, events, since)
        if not 0 < first < len(m):
            raise ValueError(f"since={since} leaves no bars to score (or is the first bar)")
    fits = [h for h in horizons if pd.Timedelta(h) <= (len(m) - MIN_VOL_BARS) * m.timeframe]
    for own, book in books:
        t = calibrate(slice_estimate(book, first), events).timing.reset_index()
        t["scorer"] = t["score"].replace({"model": "book"})
        add("timing", "", t, own)
        add("given price", "", touched_scores(book, events), own)
        for h in fits:
            add("forecast", h, forecast_scores(book, events, h), own)
    cols = ["measure", "horizon", "metric", "side", "scorer", "value"]
    return pd.DataFrame(rows, columns=cols)


def oracle_check(card: pd.DataFrame, margin: float = ORACLE_MARGIN) -> pd.DataFrame:
    """Per score (measure, horizon, metric, side): the oracle, the model, the best baseline,
    whether the oracle clears every baseline by ``margin`` (``valid``: only then does the
    score measure map quality), whether the model beats every baseline, and the model's
    share of the oracle's score."""
    keys = ["measure", "horizon", "metric", "side"]
    wide = card.pivot_table(index=keys, columns="scorer", values="value", sort=False)
    if "oracle" not in wide:
        raise ValueError("the scorecard has no oracle rows; pass truth= to scorecard()")
    base = wide.drop(columns=["oracle", "model"])
    out = pd.DataFrame(
        {
            "oracle": wide["oracle"],
            "model": wide["model"],
            "best baseline": base.idxmax(axis=1),
            "baseline": base.max(axis=1),
        }
    )
    out["valid"] = out["oracle"] > out["baseline"] + margin
    out["model wins"] = out["model"] > out["baseline"]
    out["of oracle"] = out["model"] / out["oracle"]
    return out
