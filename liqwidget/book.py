"""Outstanding amounts of a book of liquidation levels that each live for a span of bars.

Both the cluster model and the simulator's ground truth describe their book as *items*:
an amount at a price that appears after one bar and disappears in a later bar (swept or
closed). :class:`Book` is that one type; :func:`alive_sum` turns its items into
outstanding amounts at chosen moments, per price bin, without looping over bars or items
in Python.

States are numbered ``k = 0..n``: state 0 is the book before bar 0, state ``t + 1`` the book
after bar ``t``. An item with ``birth`` state ``b`` and ``death`` state ``d`` is in the book
for states ``b <= k < d`` (``d = n + 1`` for items still open at the end).

A book may also shrink proportionally (closing positions pro rata, decay): ``log_level[k]``
is the cumulative log factor at state ``k`` (non-increasing, ``log_level[0] == 0``), and an
item's amount at state ``k`` is ``weight * exp(log_level[k] - log_level[birth])``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .heatmap import Heatmap, bin_index, price_bins, time_columns
from .sides import SIDES

# exp(600) is far from float64 overflow (exp(709)); segments keep every exponent in range.
_MAX_LOG_SPAN = 600.0


def amount_at(weight, birth, state, log_level: np.ndarray | None) -> np.ndarray:
    """Amount of items at a given state (``state >= birth``), after proportional shrinking."""
    w = np.asarray(weight, dtype="float64")
    if log_level is None:
        return w.copy()
    return w * np.exp(log_level[np.asarray(state)] - log_level[np.asarray(birth)])


#: Items are processed in chunks of this many, so temporaries stay small and warm.
CHUNK = 1 << 18

BinsArg = np.ndarray | Callable[[slice], np.ndarray]


def alive_sum(
    birth: np.ndarray,
    death: np.ndarray,
    weight: np.ndarray,
    bins: BinsArg,
    n_bins: int,
    samples: np.ndarray,
    log_level: np.ndarray | None = None,
    spread: np.ndarray | None = None,
    block: int | None = None,
) -> np.ndarray:
    """Sum of the amounts of items alive at each sampled state, per bin.

    ``samples`` are sorted state indices; ``bins`` gives each item's bin (``-1`` leaves the
    item out, e.g. outside the visible price range), as an array or as a function that
    returns the bins of a slice of the items. Returns ``(n_bins, len(samples))``.

    With ``spread`` (per item, in bins) each item's amount is spread over the bins around
    its own by a Gaussian of that std (truncated at three, as :func:`scipy.ndimage.
    gaussian_filter1d` does), within its ``block`` of bins (e.g. one side's price bins):
    spreading along bins and summing along time commute, so it is done once per item, not
    once per grid.
    """
    samples = np.asarray(samples, dtype="int64")
    n_s = samples.size
    birth, death = np.asarray(birth), np.asarray(death)
    weight = np.asarray(weight, dtype="float64")
    # Index of the first sample at or after each state, through a lookup table over states.
    top = int(max(birth.max(initial=0), death.max(initial=0))) + 1
    first_sample = np.searchsorted(samples, np.arange(top + 1), side="left")
    row = n_s + 1
    if log_level is not None:
        level_s = log_level[samples]
        level_ext = np.append(level_s, level_s[-1] if n_s else 0.0)
    # One spare bin collects items outside every bin; items never alive at a sample add
    # and remove the same amount in the same cell.
    diff = np.zeros((n_bins + 1) * row)
    for a in range(0, birth.size, CHUNK):
        part = slice(a, a + CHUNK)
        b = np.asarray(bins(part) if callable(bins) else bins[part], dtype="int64")
        key = np.where(b >= 0, b, n_bins) * row
        first, stop = first_sample[birth[part]], first_sample[death[part]]
        w = weight[part]
        if log_level is None:
            add = sub = w
        else:
            # Each item's amount at its first and its stop sample (exponent <= 0).
            ref = log_level[birth[part]]
            add = np.exp(np.minimum(level_ext[first] - ref, 0.0)) * w
            sub = np.exp(np.minimum(level_ext[stop] - ref, 0.0)) * w
        if spread is None:
            np.add.at(diff, key + first, add)
            np.subtract.at(diff, key + stop, sub)
        else:
            keep = b >= 0
            item = (b[keep], first[keep], stop[keep], add[keep], sub[keep])
            _spread_into(diff, *item, spread[part][keep], block or n_bins, row)
    diff = diff.reshape(n_bins + 1, row)[:n_bins, :n_s]
    if log_level is None:
        return _clean(np.cumsum(diff, axis=1))

    # With shrinking, S_j = keep_j * S_(j-1) + diff_j: solve it per segment of bounded
    # log span so that no rescaling factor overflows.
    total = np.empty((n_bins, n_s))
    carry = np.zeros(n_bins)
    seg_start = _segments(level_s)
    for a, b in zip(seg_start, [*seg_start[1:], n_s], strict=True):
        base = level_s[a]
        scale = np.exp(base - level_s[a:b])  # >= 1, at most exp(_MAX_LOG_SPAN)
        # carry is the book just before sample a, expressed at sample a's level.
        carry_here = carry * np.exp(level_s[a] - (level_s[a - 1] if a else level_s[a]))
        part = np.cumsum(diff[:, a:b] * scale[None, :], axis=1)
        part += carry_here[:, None]
        part /= scale[None, :]
        total[:, a:b] = part
        carry = part[:, -1]
    return _clean(total)


#: Most (item, bin) pairs :func:`_spread_into` expands at once.
SPREAD_CHUNK = 1 << 22


def _spread_into(diff, b, first, stop, add, sub, width, block: int, row: int) -> None:
    """Add each item's ``add`` at its first sample and take ``sub`` off at its stop
    sample, both spread over the bins of its ``block`` around bin ``b`` by a Gaussian
    ``width`` bins wide (normalised over the bins it reaches, none past the block's ends)."""
    width = np.asarray(width, dtype="float64")
    radius = np.where(width >= 0.3, np.floor(3.0 * width + 0.5), 0).astype("int64")
    count = 2 * radius + 1
    ends = np.cumsum(count)
    start = 0
    while start < b.size:
        stop_at = int(np.searchsorted(ends, (ends[start - 1] if start else 0) + SPREAD_CHUNK))
        part = slice(start, max(stop_at, start + 1))
        k = count[part]
        idx = np.repeat(np.arange(k.size), k)
        off = np.arange(idx.size) - np.repeat(np.cumsum(k) - k, k) - np.repeat(radius[part], k)
        w = width[part][idx]
        g = np.where(w >= 0.3, np.exp(-0.5 * (off / np.where(w > 0, w, 1.0)) ** 2), 1.0)
        g /= np.bincount(idx, weights=g, minlength=k.size)[idx]
        local = b[part][idx] % block + off
        inside = (local >= 0) & (local < block)
        cell = ((b[part][idx] + off) * row)[inside]
        g, idx = g[inside], idx[inside]
        keys = np.concatenate([cell + first[part][idx], cell + stop[part][idx]])
        amounts = np.concatenate([g * add[part][idx], -g * sub[part][idx]])
        diff += np.bincount(keys, weights=amounts, minlength=diff.size)
        start = part.stop


def _clean(total: np.ndarray) -> np.ndarray:
    """Zero the rounding residue that adding and removing amounts leaves in empty cells.

    Running sums of large amounts leave residues of order 1e-16 of the largest value in a
    bin's row where the true sum is 0; values within 1e-12 of the row's largest (or below
    zero) are such residues, since amounts are never negative.
    """
    if total.size:
        tol = 1e-12 * np.abs(total).max(axis=1, keepdims=True)
        total[total <= tol] = 0.0
    return total


def _segments(level_s: np.ndarray) -> np.ndarray:
    """Start indices of runs of samples whose log level spans at most ``_MAX_LOG_SPAN``."""
    if level_s.size == 0 or level_s[0] - level_s[-1] <= _MAX_LOG_SPAN:
        return np.array([0], dtype="int64")
    starts = [0]
    neg = -level_s  # non-decreasing
    while True:
        nxt = int(np.searchsorted(neg, neg[starts[-1]] + _MAX_LOG_SPAN, side="right"))
        if nxt >= level_s.size:
            return np.array(starts, dtype="int64")
        starts.append(nxt)


@dataclass(eq=False)
class Book:
    """A book of liquidation levels: items alive from birth to death at a price, with a weight.

    The model's estimate and the simulator's truth are both books. ``side`` is 0 for long,
    1 for short; ``tier`` indexes ``leverage``; ``birth`` and ``death`` are states (see the
    module doc; death ``n + 1`` = still open at the end). ``log_level`` (optional) shrinks
    every item proportionally, as the model's closing does. ``liquidated`` (optional) says
    per item whether its death was a liquidation; without it every death is a sweep (the
    model's case), with it the other deaths are ordinary closes (the truth's case).
    ``spread`` says how well the prices are known, as a log-price std (a model built from
    bars knows where a bar's positions entered only to within a share of the bar's range:
    :func:`~liqwidget.forecast.entry_spread`). ``entry`` (optional) is each
    item's entry price; without it an item is taken to have entered at its bar's open.
    """

    price: np.ndarray
    weight: np.ndarray
    side: np.ndarray
    tier: np.ndarray
    birth: np.ndarray
    leverage: np.ndarray
    death: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="int64"))
    log_level: np.ndarray | None = None
    liquidated: np.ndarray | None = None
    entry: np.ndarray | None = None
    #: How well the levels' prices are known: a log-price std (0 = exact, as the truth's).
    spread: float = 0.0

    _ARRAYS = ("price", "weight", "side", "tier", "birth")
    _OPTIONAL = ("death", "liquidated", "entry")

    @classmethod
    def empty(cls, leverage: np.ndarray) -> Book:
        z = np.empty(0)
        return cls(z, z, z.astype("int8"), z.astype("int16"), z.astype("int64"), leverage, entry=z)

    def subset(self, mask: np.ndarray) -> Book:
        """The items where ``mask`` holds (or at the given indices), same leverage and shrink."""
        arrays = {k: getattr(self, k)[mask] for k in self._ARRAYS}
        for k in self._OPTIONAL:
            v = getattr(self, k)
            arrays[k] = v[mask] if v is not None and v.size else v
        return Book(**arrays, leverage=self.leverage, log_level=self.log_level, spread=self.spread)

    def __len__(self) -> int:
        return self.price.size

    def opened_bar(self) -> np.ndarray:
        """The bar in which each item opened (items there before the first bar: bar 0)."""
        return np.maximum(self.birth - 1, 0)

    def entry_price(self, market) -> np.ndarray:
        """Each item's entry price: ``entry`` where the book knows it, else its bar's open."""
        if self.entry is not None and self.entry.size == self.price.size:
            return self.entry
        return market.column("open")[np.minimum(self.opened_bar(), len(market) - 1)]

    def side_slices(self) -> tuple[slice, slice]:
        """Where the long and the short items are, for a book that holds longs first."""
        n_long = int(np.searchsorted(self.side, 1))
        if not ((self.side[:n_long] == 0).all() and (self.side[n_long:] == 1).all()):
            raise ValueError("levels must come longs first, then shorts")
        return slice(0, n_long), slice(n_long, len(self))

    def longs_first(self) -> Book:
        """The same items, longs first (stable), as :meth:`side_slices` needs."""
        if (np.diff(self.side.astype("int8")) >= 0).all():
            return self
        return self.subset(np.argsort(self.side, kind="stable"))

    def alive(self, state: int) -> np.ndarray:
        """Which items are in the book at ``state``."""
        return (self.birth <= state) & (state < self.death)

    def amount_at(self, state, index=slice(None)) -> np.ndarray:
        """Amount of the items (``index``: a subset) at ``state`` (per item or one for all)."""
        return amount_at(self.weight[index], self.birth[index], state, self.log_level)

    def outstanding(
        self,
        bins: BinsArg,
        n_bins: int,
        states: np.ndarray,
        spread: np.ndarray | None = None,
        block: int | None = None,
    ) -> np.ndarray:
        """Outstanding amount per bin at each of the sorted ``states``: ``(n_bins, states)``;
        with ``spread`` (per item, in bins) each item spread over its ``block`` of bins
        (see :func:`alive_sum`)."""
        return alive_sum(
            self.birth,
            self.death,
            self.weight,
            bins,
            n_bins,
            states,
            self.log_level,
            spread=spread,
            block=block,
        )

    def grid(
        self,
        market,
        *,
        width: int = 800,
        height: int = 400,
        price_range: tuple | None = None,
        time_range: tuple | None = None,
    ) -> Heatmap:
        """Outstanding long and short amounts over ``market``'s bars on a price × time grid.

        Each column shows the book at the end of its time bin; items outside
        ``price_range`` (default: traded range plus a margin) are not drawn.
        """
        time_edges, states = time_columns(market.index, market.timeframe, width, time_range)
        edges = price_bins(market.column("low"), market.column("high"), height, price_range)

        def bins(part: slice) -> np.ndarray:
            pbin = bin_index(self.price[part], edges)
            side = np.asarray(self.side[part], dtype="int64")
            return np.where(pbin >= 0, side * height + pbin, -1)

        cells = self.outstanding(bins, 2 * height, states)
        return Heatmap(time_edges, edges, cells[:height], cells[height:])

    def profile_at(
        self, market, state: int, *, bins: int = 200, price_range: tuple | None = None
    ) -> pd.DataFrame:
        """Outstanding amount per price bin at ``state``, by side and leverage tier.

        Rows are price-bin centres (bins over ``market``'s traded range plus a margin, or
        ``price_range``); columns a ``(side, leverage)`` MultiIndex — the liquidation-map bars.
        """
        idx = np.flatnonzero(self.alive(state))
        amount = self.amount_at(state, idx)
        edges = price_bins(market.column("low"), market.column("high"), bins, price_range)
        pbin = bin_index(self.price[idx], edges)
        n_t = self.leverage.size
        col = self.side[idx].astype("int64") * n_t + self.tier[idx]
        ok = pbin >= 0
        flat = np.bincount(
            pbin[ok] * 2 * n_t + col[ok], weights=amount[ok], minlength=bins * 2 * n_t
        )
        cols = pd.MultiIndex.from_product([SIDES, self.leverage], names=["side", "leverage"])
        index = pd.Index(0.5 * (edges[:-1] + edges[1:]), name="price")
        return pd.DataFrame(flat.reshape(bins, 2 * n_t), index=index, columns=cols)
