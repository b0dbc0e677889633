"""Expected liquidations over a horizon: the book's density times the chance price gets there.

A level only turns into a liquidation if price reaches it. Over a horizon ``H`` the chance
that price touches a level a log distance ``x`` away is read in units of the data's own
recent volatility ``σ`` per bar, ``z = x / (σ √(H/bar))``. For a driftless random walk it
would be ``erfc(z / √2)`` (the reflection principle: twice the chance of ending beyond
``x``); real prices move in quiet and wild spells, so :class:`Reach` learns the chance from
the data's own record: the share of earlier horizons whose furthest move, in the same
units, got at least ``z`` from where they started, pulled towards the random walk's
answer while that record is short. It never uses a move that had not finished by the
origin. The forecast per price bin is the outstanding notional there (spread over
the book's own price uncertainty) times that chance, plus what the positions that will
open during the horizon liquidate there: how many open, and how far from their entry they
liquidate, is read from the book's own recent openings (:func:`opening_rates`); where they
liquidate follows a random walk's path from the origin (:func:`new_liquidations`). That
sum is what the Forecast layer draws and what :mod:`liqwidget.location` scores.

Positions also close before price gets to them. The book says how fast
(:func:`closing_rate`, over the last day), and a level counts only as much of itself as is
still open when price first reaches it: far levels are reached late, so they keep less
(:func:`surviving_reach`; the same for the positions that open during the horizon).
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from scipy.special import erfc, erfcx, ndtr

from .book import Book
from .heatmap import Heatmap, bin_index
from .market import MarketData

#: Trailing window of the volatility estimate, and the fewest bars it needs.
VOL_LOOKBACK = pd.Timedelta("1D")
MIN_VOL_BARS = 12
#: The horizons the map offers (the widget's ``forecast_horizon`` takes any positive one).
HORIZONS = ("1h", "4h", "24h")
DEFAULT_HORIZON = "4h"


def horizon_bars(horizon: str | pd.Timedelta, timeframe: pd.Timedelta) -> float:
    """The horizon in bars (a positive number, not necessarily whole)."""
    h = pd.Timedelta(horizon)
    if h <= pd.Timedelta(0):
        raise ValueError(f"the forecast horizon must be positive, got {horizon!r}")
    return h / timeframe


def recent_volatility(market: MarketData, lookback: pd.Timedelta = VOL_LOOKBACK) -> np.ndarray:
    """Per state ``k`` (book after bar ``k - 1``): std of log close-to-close returns per bar
    over the ``lookback`` before it, using no later bar.

    States with fewer than :data:`MIN_VOL_BARS` returns behind them take the first value
    that has enough (or, on very short data, the std of all returns).
    """
    close = market.column("close")
    ret = np.diff(np.log(close), prepend=np.log(market.column("open")[0]))
    bars = max(int(pd.Timedelta(lookback) / market.timeframe), MIN_VOL_BARS)
    roll = pd.Series(ret).rolling(bars, min_periods=MIN_VOL_BARS).std(ddof=0).to_numpy()
    state = np.concatenate([[np.nan], roll])  # state k sees returns of bars < k
    ok = np.isfinite(state) & (state > 0)
    fallback = float(np.std(ret)) if ret.size > 1 else 0.0
    if ok.any():
        state[: int(np.argmax(ok))] = state[int(np.argmax(ok))]
        state[~np.isfinite(state) | (state <= 0)] = state[ok].min()
    else:
        state[:] = fallback
    return np.maximum(state, 1e-6)


#: Volatility is itself uncertain (quiet and wild spells, cascades): the reach probability
#: averages the first passage over these multiples of the recent volatility, with weights.
#: Fitted (least squares in log chance, 0.25 to 5 horizon moves) to how far real BTC moved:
#: a year of hourly bars over 1, 4 and 24 hours and a month of Binance 5-minute bars over 1
#: and 4 hours. The trailing volatility overstates a typical move (a few wild returns
#: inflate it), so most of the weight sits a little below it; the wider part keeps the
#: tail. The earlier guess (1.0 at 0.7, 2.5 at 0.3) gave about 0.43 for a one-move reach
#: where the record shows 0.24 to 0.34, which only :class:`Reach`'s learned record
#: corrected, and only once it was long.
VOL_MIX = ((0.9, 0.88), (2.5, 0.12))


#: How far, in ranges of its own bar, a position really entered from where the model placed
#: it, for bars walked in ``s`` steps: ``ENTRY_SPREAD[0] * s ** ENTRY_SPREAD[1]``. For a
#: random-walk price with positions opening evenly in time, Gaussians of this width (each
#: bar's own range times the factor) around the placed entries (each step's open) give the
#: real entries their highest likelihood: 0.41 ranges at the bar's open alone, 0.077 along
#: an eight-step walk, whose steps already spread the bar's openings over its path. The
#: power law is within 2 % of that optimum for 1 to 16 steps (``tests/test_bar_path.py``
#: measures it again). Scaling by each bar's own range, not one width for all, fits better
#: even on a steady random walk, and far better where quiet and wild bars mix.
ENTRY_SPREAD = (0.413, -0.807)


def entry_spread(market: MarketData, steps: int = 1) -> float:
    """Log-price spread of where positions entered around where a model walking each bar
    in ``steps`` steps placed them, for the median bar (:data:`ENTRY_SPREAD` times its
    range). A book built from bars knows its levels only to about this width (its
    ``spread``; :func:`entry_spreads` scales it to each level's own bar), so the forecast
    and the "given price" score spread its density over it."""
    rng = np.log(market.column("high") / market.column("low"))
    if not rng.size:
        return 0.0
    scale, power = ENTRY_SPREAD
    return float(np.median(rng)) * scale * float(steps) ** power


def entry_spreads(levels: Book, market: MarketData) -> np.ndarray:
    """Per item of ``levels``: how well its price is known, a log-price std. The book's
    ``spread`` is :func:`entry_spread` of the median bar; an item opened in a bar twice as
    wide entered twice as far from where it was placed, so each item's is the book's times
    its own bar's range over the median bar's. A book with no spread (the truth's) gives
    zeros."""
    if levels.spread <= 0 or not len(levels):
        return np.zeros(len(levels))
    rng = np.log(market.column("high") / market.column("low"))
    ratio = rng[np.minimum(levels.opened_bar(), len(market) - 1)] / np.median(rng)
    return levels.spread * ratio


def spread_out(
    levels: Book, market: MarketData, bins: np.ndarray, n_bins: int, states, step: float
) -> np.ndarray:
    """Outstanding amount per side, state and price bin, each item spread over its own
    price uncertainty (:func:`entry_spreads`) along the bins, ``step`` log price wide.

    ``bins`` is each item's bin (``-1``: left out); returns ``(2, len(states), n_bins)``.
    Each item is spread once, by its own width (:meth:`Book.outstanding`), so a wild bar's
    levels are blurred more than a quiet bar's at the cost of a single pass over the book.
    """
    keys = np.where(bins >= 0, levels.side.astype("int64") * n_bins + bins, -1)
    width = entry_spreads(levels, market) / step
    spread = width if (width > 0).any() else None
    cells = levels.outstanding(keys, 2 * n_bins, states, spread=spread, block=n_bins)
    return cells.reshape(2, n_bins, -1).transpose(0, 2, 1)


def reach_probability(distance: np.ndarray, sigma, bars: float) -> np.ndarray:
    """Chance that price touches a level ``distance`` (absolute log price) away within
    ``bars`` bars, for per-bar volatility ``sigma`` (broadcast), averaged over
    :data:`VOL_MIX`."""
    scale = np.asarray(sigma, dtype="float64") * np.sqrt(2.0 * bars)
    d = np.abs(distance)
    out = sum(w * erfc(d / (k * scale)) for k, w in VOL_MIX)
    return np.minimum(out, 1.0)


def _passage(d: np.ndarray, s, t, rate) -> tuple[np.ndarray, np.ndarray]:
    """For a driftless walk of volatility ``s`` per unit time: the chance of first reaching
    ``d`` (>= 0) within ``t`` units of time, and the same chance counting each passage at
    ``time`` by ``exp(-rate * time)`` (a position closing at ``rate`` is still open)."""
    c = np.sqrt(2.0 * np.maximum(np.asarray(rate, dtype="float64"), 0.0))
    root = s * np.sqrt(2.0 * t)
    # The Laplace transform of the first passage time, cut at ``t``, written with erfcx so
    # that no factor overflows far out.
    y1 = (d - c * s * t) / root
    y2 = (d + c * s * t) / root
    gauss = np.exp(-((d / root) ** 2) - c**2 * t / 2.0)
    early = np.where(
        y1 > 0,
        gauss * erfcx(np.maximum(y1, 0.0)),
        np.exp(-d * c / s) * erfc(np.minimum(y1, 0.0)),
    )
    return erfc(d / root), 0.5 * (early + gauss * erfcx(y2))


#: Closing rates, in closings per horizon, at which :func:`surviving_reach` and
#: :func:`new_liquidations` are tabulated (read linearly in between; beyond the last, the
#: last): a fixed set, so a market whose closing rate wanders costs a fixed set of tables,
#: each made once. And the distances, in horizon moves, of :func:`surviving_reach`'s table.
CLOSINGS = np.concatenate([[0.0], 0.025 * 2.0 ** (np.arange(23) / 2)])
SURVIVING_Z = np.linspace(0.0, 16.0, 321)


def _closing_bracket(closings: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For closings per horizon: the index in :data:`CLOSINGS` of the tabulated rate at or
    below each (beyond the last: the last pair) and the share of the way to the next."""
    c = np.clip(closings, 0.0, CLOSINGS[-1])
    below = np.clip(np.searchsorted(CLOSINGS, c, side="right"), 1, CLOSINGS.size - 1) - 1
    return below, (c - CLOSINGS[below]) / (CLOSINGS[below + 1] - CLOSINGS[below])


def _surviving_exact(distance: np.ndarray, sigma, bars: float, rate) -> np.ndarray:
    """:func:`surviving_reach` computed in full (what its table holds)."""
    d = np.abs(np.asarray(distance, dtype="float64"))
    sigma = np.asarray(sigma, dtype="float64")
    hit, kept = 0.0, 0.0
    for k, w in VOL_MIX:
        h, kk = _passage(d, k * sigma, bars, rate)
        hit, kept = hit + w * h, kept + w * kk
    return np.where(hit > 1e-300, kept / np.maximum(hit, 1e-300), 0.0)


@functools.cache
def _surviving_table() -> np.ndarray:
    # It depends on distance and rate only through z = distance / (σ √bars) and
    # rate × bars: one horizon of one bar at unit volatility covers every case.
    return _surviving_exact(SURVIVING_Z[:, None], 1.0, 1.0, CLOSINGS[None, :])


def surviving_reach(distance: np.ndarray, sigma, bars: float, rate) -> np.ndarray:
    """Of the chance that price reaches ``distance`` within ``bars`` bars, the share that
    comes while a position closing at ``rate`` per bar (a constant hazard, broadcast) is
    still open: ``E[exp(-rate τ); τ <= bars] / P(τ <= bars)`` for the first passage time
    ``τ`` of the random walk of :data:`VOL_MIX` (1 at ``rate`` 0; a far level is reached
    late, when more of its positions have closed, so it keeps less than a near one). Read
    from a table over distance in horizon moves (:data:`SURVIVING_Z`) and closings per
    horizon (:data:`CLOSINGS`), linearly in both."""
    z = np.abs(np.asarray(distance, dtype="float64")) / (
        np.asarray(sigma, dtype="float64") * np.sqrt(bars)
    )
    # Per distinct rate (few: one per origin at most), the table's column at that rate.
    rates, which = np.unique(np.asarray(rate, dtype="float64"), return_inverse=True)
    j, share = _closing_bracket(rates * bars)
    t = _surviving_table()
    column = t[:, j] + share * (t[:, j + 1] - t[:, j])
    which = which.reshape(np.shape(rate))
    z, which = np.broadcast_arrays(z, which)
    pos = np.minimum(z * (1.0 / (SURVIVING_Z[1] - SURVIVING_Z[0])), SURVIVING_Z.size - 1.0)
    i = np.minimum(pos.astype("int64"), SURVIVING_Z.size - 2)
    near = column[i, which]
    return near + (pos - i) * (column[i + 1, which] - near)


def closing_rate(levels: Book, market: MarketData, states) -> np.ndarray:
    """Per origin in ``states``: the share of the book's outstanding notional that closed
    per bar other than by liquidation over the :data:`VOL_LOOKBACK` before it, a hazard.

    A model's book says it through its proportional shrinking (``log_level``: turnover and
    closing when open interest falls); the simulator's true book through the positions
    that closed normally (``liquidated`` false). A book with neither closes nothing.
    """
    states = np.asarray(states, dtype="int64")
    lookback = max(int(VOL_LOOKBACK / market.timeframe), 1)
    start = np.maximum(states - lookback, 0)
    span = np.maximum(states - start, 1)
    rate = np.zeros(states.shape)
    if levels.log_level is not None:
        rate += (levels.log_level[start] - levels.log_level[states]) / span
    if levels.liquidated is not None and len(levels):
        top = len(market) + 2
        born = np.bincount(np.minimum(levels.birth, top - 1), levels.weight, top)
        died = np.bincount(np.minimum(levels.death, top - 1), levels.weight, top)
        closed = np.bincount(
            np.minimum(levels.death[~levels.liquidated], top - 1),
            levels.weight[~levels.liquidated],
            top,
        )
        held = np.cumsum(born - died)  # outstanding at each state
        held_upto = np.concatenate([[0.0], np.cumsum(held)])
        closed_upto = np.cumsum(closed)
        exposure = held_upto[states] - held_upto[start]  # states start .. states - 1
        gone = closed_upto[states] - closed_upto[start]  # closed entering start+1 .. states
        rate += np.where(exposure > 0, gone / np.where(exposure > 0, exposure, 1.0), 0.0)
    return rate


#: Standardised distances ``z`` the learned reach is tabulated on (linear in between), and
#: the weight, in horizons' worth of record, of the random walk's reach next to the data's
#: (tried 5, 10 and 20 on the simulator: 5 forecast best on hourly bars, all three alike on
#: 5-minute bars).
Z_GRID = np.linspace(0.0, 8.0, 81)
PRIOR_HORIZONS = 5


class Reach:
    """Chance that price touches a level within ``horizon`` of an origin, learned from how
    far price really went over earlier horizons of ``market`` (see the module doc).

    Call it with log ``distance`` to the level and the origin ``states`` (broadcast
    together; state ``k`` is the book after bar ``k - 1``, the horizon starting at bar
    ``k``'s open). Each origin uses only the horizons that ended by it: windows of the
    horizon's length (in whole bars), one starting at every earlier bar, and both sides'
    furthest moves in each, in units of the volatility at the window's start (a horizon of
    a fractional number of bars is read from moves over its whole bars, scaled to its
    length as a random walk's would be; a window that spans a gap in the bars is left
    out). Windows overlap, so ``u`` of them hold about
    ``u / span`` horizons' worth of independent evidence; with both sides counted, the
    chance is ``(2u · learned + P · random walk) / (2u + P)`` with ``P`` = 2 ×
    :data:`PRIOR_HORIZONS` × ``span`` samples. Horizons shorter than a bar use the random
    walk alone.
    """

    def __init__(self, market: MarketData, horizon: str | pd.Timedelta):
        self.bars = horizon_bars(horizon, market.timeframe)
        self.sigma = recent_volatility(market)
        n = len(market)
        self.span = max(int(np.floor(self.bars + 0.5)), 1)
        #: Per window (in start order), the grid cell of each side's furthest move.
        self.cells = None
        if self.bars < 1 or n < self.span:
            return
        o = np.log(market.column("open"))[: n - self.span + 1]
        win = np.lib.stride_tricks.sliding_window_view
        low = win(np.log(market.column("low")), self.span).min(axis=1)
        high = win(np.log(market.column("high")), self.span).max(axis=1)
        unit = self.sigma[: o.size] * np.sqrt(self.span)  # a move over ``span`` bars
        z = np.stack([o - low, high - o], axis=1) / unit[:, None]
        cell = np.searchsorted(Z_GRID, np.maximum(z, 0.0), side="right") - 1
        self.cells = np.clip(cell, 0, None).astype("int16")
        # A window that spans a gap in the bars covers more time than the horizon: its
        # moves are not a horizon's, so it is left out of the record.
        t = market.index.asi8
        self.whole = (t[self.span - 1 :] - t[: o.size]) == (self.span - 1) * market.timeframe.value
        #: How many whole windows are among the first ``u`` (index ``u``).
        self.whole_upto = np.concatenate([[0], np.cumsum(self.whole)])

    def _exceed(self, used: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For the distinct window counts in ``used``: per count, how many of the first
        ``u`` windows' moves reached each grid point ``(counts, grid)``; and where each
        element of ``used`` is among them. Built at those counts only (a long market asks
        for few of them), never as a table over every window."""
        points, where = np.unique(used, return_inverse=True)
        # Window w counts for every point u > w: it belongs to the first point above it.
        first = np.searchsorted(points, np.arange(self.cells.shape[0]), side="right")
        first = np.where(self.whole, first, points.size)  # a window across a gap: never
        cells = self.cells.astype("int64")
        ones = np.ones(first.size)
        upto = sum(cumulated(first, cells[:, k], ones, points.size, Z_GRID.size) for k in (0, 1))
        return upto[:, ::-1].cumsum(axis=1)[:, ::-1], where.reshape(used.shape)

    def __call__(self, distance: np.ndarray, states: np.ndarray) -> np.ndarray:
        distance = np.asarray(distance, dtype="float64")
        if not np.isfinite(distance).all():
            raise ValueError("reach: distances must be finite log-price distances")
        states = np.asarray(states, dtype="int64")
        sigma = self.sigma[states]
        walk = reach_probability(distance, sigma, self.bars)
        if self.cells is None:
            return walk
        distance, states, sigma, walk = np.broadcast_arrays(distance, states, sigma, walk)
        used = np.clip(states - self.span + 1, 0, self.cells.shape[0])
        exceed, row = self._exceed(used)
        pos = np.abs(distance) / (sigma * np.sqrt(self.bars)) / (Z_GRID[1] - Z_GRID[0])
        j = np.minimum(np.floor(pos).astype("int64"), Z_GRID.size - 1)
        nxt = np.minimum(j + 1, Z_GRID.size - 1)
        frac = np.clip(pos - j, 0.0, 1.0)
        learned = (1.0 - frac) * exceed[row, j] + frac * exceed[row, nxt]
        learned = np.where(pos > Z_GRID.size - 1, 0.0, learned)
        prior = 2.0 * PRIOR_HORIZONS * self.span
        return (learned + prior * walk) / (2.0 * self.whole_upto[used] + prior)


def cumulated(first, cells, weights, points: int, n_cells: int) -> np.ndarray:
    """Per point (rows) and cell: the summed ``weights`` of the items that count from that
    point on. ``first`` is each item's first point (``points`` or more: it never counts);
    ``cells`` its cell. A table at the points asked for only, never one row per item."""
    keep = first < points
    hist = np.bincount(
        first[keep] * n_cells + cells[keep], weights=weights[keep], minlength=points * n_cells
    )
    return np.cumsum(hist.reshape(points, n_cells), axis=0)


#: Log distances from entry to liquidation that :func:`opening_rates` sorts new positions
#: into (each position's notional split between its two neighbours, linearly in log
#: distance).
OPENING_DISTANCES = np.geomspace(1e-4, 1.0, 61)


def opening_rates(levels: Book, market: MarketData, side: int, states) -> np.ndarray:
    """Notional of ``side`` (0 long, 1 short) that opened per bar, by log distance from its
    entry to its liquidation (:data:`OPENING_DISTANCES`), over the :data:`VOL_LOOKBACK`
    worth of bars before each origin in ``states``: ``(len(states), distances)``.

    Items born inside the bars count at their own entry price where the book knows it,
    else at their bar's open. No book knows the positions that will open after an origin,
    but its recent openings say how fast they arrive and how far from their entry they
    liquidate (:func:`new_liquidations` turns that into where they liquidate).
    """
    states = np.asarray(states, dtype="int64")
    n = len(market)
    mine = np.flatnonzero((levels.side == side) & (levels.birth >= 1) & (levels.birth <= n))
    birth = levels.birth[mine]
    entry = levels.entry_price(market)[mine]
    with np.errstate(divide="ignore", invalid="ignore"):
        far = np.abs(np.log(levels.price[mine] / entry))
    far = np.where(np.isfinite(far), far, OPENING_DISTANCES[-1])  # no price: out of reach
    g = np.log(np.maximum(far, OPENING_DISTANCES[0]) / OPENING_DISTANCES[0])
    g = np.minimum(
        g / np.log(OPENING_DISTANCES[1] / OPENING_DISTANCES[0]), OPENING_DISTANCES.size - 1
    )
    lo = np.minimum(np.floor(g).astype("int64"), OPENING_DISTANCES.size - 2)
    frac = g - lo
    lookback = max(int(VOL_LOOKBACK / market.timeframe), 1)
    start = np.maximum(states - lookback, 0)
    # Opened notional per distance, cumulated over births, read only at the states asked for.
    points, where = np.unique(np.concatenate([start, states]), return_inverse=True)
    first = np.searchsorted(points, birth, side="left")  # the first point counting the item
    weight, size = levels.weight[mine], OPENING_DISTANCES.size
    upto = cumulated(first, lo, weight * (1.0 - frac), points.size, size)
    upto += cumulated(first, lo + 1, weight * frac, points.size, size)
    recent = upto[where[states.size :]] - upto[where[: states.size]]
    return recent / np.maximum(states - start, 1)[:, None]


#: Grids of :func:`opening_profile`: a position's distance from entry to liquidation and a
#: liquidation's distance from the origin, both in horizon moves (σ √horizon), and the
#: times, as shares of the horizon, at which positions open (midpoints).
PROFILE_DELTA = np.linspace(0.0, 16.0, 161)
PROFILE_Z = np.linspace(-16.0, 32.0, 481)
PROFILE_TIMES = (np.arange(64) + 0.5) / 64


@functools.lru_cache(maxsize=32)
def opening_profile(closing: float = 0.0) -> np.ndarray:
    """``C[i, j]``: of a unit of notional opened evenly over a horizon, in positions that
    liquidate ``PROFILE_DELTA[i]`` horizon moves from their entry, the share liquidated
    within the horizon at most ``PROFILE_Z[j]`` moves from the origin (in the positions'
    liquidation direction).

    For a random walk the price where a position opens at time ``u`` (a share of the
    horizon) lies ``N(0, u)`` moves from the origin; it liquidates ``δ`` further on if
    price climbs ``δ`` in the ``1 - u`` left (twice the chance of ending there, as in
    :func:`reach_probability`, and independent of where it opened). So a position liquidates
    at ``z`` with density ``φ((z - δ)/√u)/√u · erfc(δ/√(2(1-u)))``, averaged over ``u``
    and over the volatility multiples of :data:`VOL_MIX`. New high-leverage positions
    therefore liquidate around their own distance beyond the price they opened at, not at
    the origin itself. With ``closing`` (positions closing at that rate per horizon) each
    counts only if still open when price gets there (as in :func:`surviving_reach`).
    """
    d = PROFILE_DELTA[:, None]
    z = PROFILE_Z[None, :]
    out = np.zeros((PROFILE_DELTA.size, PROFILE_Z.size))
    for u in PROFILE_TIMES:
        for k, w in VOL_MIX:
            hit, kept = _passage(d, k, 1.0 - u, closing)
            out += w * ndtr((z - d) / (k * np.sqrt(u))) * (kept if closing > 0 else hit)
    return out / PROFILE_TIMES.size


def new_liquidations(rates: np.ndarray, sigma, bars: float, edges, closing=0.0) -> np.ndarray:
    """Expected notional liquidated within a horizon of ``bars`` bars, per origin (rows)
    and bin, from positions not open at the origin: ``rates`` from :func:`opening_rates`,
    ``sigma`` the origins' per-bar volatility, and ``edges`` (per origin, increasing) the
    bins' edges in log price away from the origin in the side's liquidation direction (up
    for shorts, down for longs; negative: the other way). Bins are independent, so what a
    bin gets does not depend on which other bins are drawn (see :func:`opening_profile`).
    ``closing`` (per bar, per origin or one for all: :func:`closing_rate`) leaves out the
    positions that close before price reaches their level (tabulated at
    :data:`CLOSINGS`).
    """
    rates = np.asarray(rates, dtype="float64")
    unit = np.asarray(sigma, dtype="float64") * np.sqrt(bars)  # one horizon move, per origin
    step = PROFILE_DELTA[1] - PROFILE_DELTA[0]
    pos = OPENING_DISTANCES[None, :] / unit[:, None] / step
    i = np.floor(pos).astype("int64")
    frac = pos - i
    on = i < PROFILE_DELTA.size - 1  # further out: never reached within the horizon
    cell = (np.arange(rates.shape[0])[:, None] * PROFILE_DELTA.size + i)[on]
    size = rates.shape[0] * PROFILE_DELTA.size
    grid = np.bincount(cell, (rates * (1.0 - frac))[on], minlength=size)
    grid += np.bincount(cell + 1, (rates * frac)[on], minlength=size)
    grid = grid.reshape(rates.shape[0], PROFILE_DELTA.size)
    # (origins, z): liquidated at most z moves out, between the two tabulated closing
    # rates around each origin's
    below, frac_c = _closing_bracket(np.broadcast_to(np.asarray(closing, float) * bars, unit.shape))
    above = below + 1
    upto = np.zeros((rates.shape[0], PROFILE_Z.size))
    for q in np.unique(np.concatenate([below, above])):
        w = np.where(below == q, 1.0 - frac_c, 0.0) + np.where(above == q, frac_c, 0.0)
        rows = w > 0
        if rows.any():
            upto[rows] += (w[rows, None] * grid[rows]) @ opening_profile(float(CLOSINGS[q]))
    upto *= bars
    # Read at each edge, linearly between grid points (beyond the grid: its ends).
    q = np.asarray(edges, dtype="float64") / unit[:, None]
    q = (q - PROFILE_Z[0]) / (PROFILE_Z[1] - PROFILE_Z[0])
    j = np.clip(np.floor(q).astype("int64"), 0, PROFILE_Z.size - 2)
    lo = np.take_along_axis(upto, j, axis=1)
    at = lo + np.clip(q - j, 0.0, 1.0) * (np.take_along_axis(upto, j + 1, axis=1) - lo)
    return np.diff(at, axis=1)


def forecast_grid(
    book: Heatmap,
    market: MarketData,
    states: np.ndarray,
    horizon: str | pd.Timedelta,
    levels: Book,
) -> Heatmap:
    """Expected liquidation notional over ``horizon`` per cell of a book grid.

    ``book`` is the grid of ``levels`` (the estimate's book) and ``states`` the book states
    its columns show (as :func:`~liqwidget.heatmap.time_columns` returns them); each
    column's reference price is the last close at that state, the chance of reaching a
    price :class:`Reach` (times :func:`surviving_reach` at the book's
    :func:`closing_rate`). Each side is its ``density × reach`` (each level of ``levels``
    spread over its own price uncertainty: :func:`spread_out`; an exact book, the truth's,
    is drawn from ``book`` as it is) plus what the positions still to open liquidate in
    each band (:func:`new_liquidations`; long ones below the reference price, short ones
    above): the forecast :func:`~liqwidget.location.forecast_scores` scores.
    """
    states = np.asarray(states, dtype="int64")
    close = market.column("close")
    ref = np.where(states > 0, close[np.maximum(states - 1, 0)], market.column("open")[0])
    dist = np.log(book.prices)[:, None] - np.log(ref)[None, :]
    chance = Reach(market, horizon)
    reach = chance(dist, states[None, :])
    closing = closing_rate(levels, market, states)
    reached = reach * surviving_reach(dist, chance.sigma[states][None, :], chance.bars, closing)
    edges = book.price_edges
    if levels.spread > 0 and edges[0] > 0:
        spread = spread_out(
            levels,
            market,
            bin_index(levels.price, edges),
            edges.size - 1,
            states,
            float(np.log(edges[-1] / edges[-2])),
        )
        dens_of = {"long": spread[0].T, "short": spread[1].T}
    else:
        dens_of = {"long": book.long, "short": book.short}
    # (states, edges): log price above the reference (an edge at or below zero: far below)
    up = np.log(np.maximum(edges, 1e-300))[None, :] - np.log(ref)[:, None]
    out = {}
    for s, (name, where) in enumerate((("long", dist <= 0), ("short", dist >= 0))):
        rates = opening_rates(levels, market, s, states)
        away = -up[:, ::-1] if s == 0 else up  # longs: rows from the top, distance down
        new = new_liquidations(rates, chance.sigma[states], chance.bars, away, closing)
        new = new[:, ::-1] if s == 0 else new
        out[name] = dens_of[name] * reached + new.T * where
    return Heatmap(book.time_edges, book.price_edges, out["long"], out["short"])
