"""Outstanding amounts of a book of liquidation levels that each live for a span of bars.

Both the cluster model and the simulator's ground truth describe their book as *items*:
an amount at a price that appears after one bar and disappears in a later bar (swept or
closed). This module turns such items into outstanding amounts at chosen moments, per
price bin, without looping over bars or items in Python.

States are numbered ``k = 0..n``: state 0 is the book before bar 0, state ``t + 1`` the book
after bar ``t``. An item with ``birth`` state ``b`` and ``death`` state ``d`` is in the book
for states ``b <= k < d`` (``d = n + 1`` for items still open at the end).

A book may also shrink proportionally (closing positions pro rata, decay): ``log_level[k]``
is the cumulative log factor at state ``k`` (non-increasing, ``log_level[0] == 0``), and an
item's amount at state ``k`` is ``weight * exp(log_level[k] - log_level[birth])``.
"""

from __future__ import annotations

import numpy as np

# exp(600) is far from float64 overflow (exp(709)); segments keep every exponent in range.
_MAX_LOG_SPAN = 600.0


def amount_at(weight, birth, state, log_level: np.ndarray | None) -> np.ndarray:
    """Amount of items at a given state (``state >= birth``), after proportional shrinking."""
    w = np.asarray(weight, dtype="float64")
    if log_level is None:
        return w.copy()
    return w * np.exp(log_level[np.asarray(state)] - log_level[np.asarray(birth)])


def alive_sum(
    birth: np.ndarray,
    death: np.ndarray,
    weight: np.ndarray,
    bins: np.ndarray,
    n_bins: int,
    samples: np.ndarray,
    log_level: np.ndarray | None = None,
) -> np.ndarray:
    """Sum of the amounts of items alive at each sampled state, per bin.

    ``samples`` are sorted state indices; ``bins`` gives each item's bin (``-1`` leaves the
    item out, e.g. outside the visible price range). Returns ``(n_bins, len(samples))``.
    """
    samples = np.asarray(samples, dtype="int64")
    n_s = samples.size
    bins = np.asarray(bins, dtype="int64")
    birth, death = np.asarray(birth), np.asarray(death)
    weight = np.asarray(weight, dtype="float64")
    # Index of the first sample at or after each state, through a lookup table over states.
    top = int(max(birth.max(initial=0), death.max(initial=0))) + 1
    first_sample = np.searchsorted(samples, np.arange(top + 1), side="left")
    first, stop = first_sample[birth], first_sample[death]
    # Items outside every bin go to a spare bin that is dropped at the end; items that are
    # never alive at a sample add and remove the same amount in the same cell.
    bins = np.where(bins >= 0, bins, n_bins)

    if log_level is None:
        return _accumulate(first, stop, weight, weight, bins, n_s, n_bins + 1)[:n_bins]

    # With shrinking, track S_j = keep_j * S_(j-1) + (arrivals - departures at sample j),
    # where each arrival/departure is the item's amount at that sample (exponent <= 0, so
    # nothing overflows), then solve the recurrence per segment of bounded log span.
    level_s = log_level[samples]
    level_ext = np.append(level_s, level_s[-1] if n_s else 0.0)
    ref = log_level[birth]
    e_add = np.minimum(level_ext[first] - ref, 0.0)
    e_sub = np.minimum(level_ext[stop] - ref, 0.0)
    np.exp(e_add, out=e_add)
    np.exp(e_sub, out=e_sub)
    e_add *= weight
    e_sub *= weight
    diff = _accumulate(first, stop, e_add, e_sub, bins, n_s, n_bins + 1, cumulative=False)
    diff = diff[:n_bins]
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
    return total


def _accumulate(first, stop, add, sub, bins, n_s, n_bins, cumulative=True) -> np.ndarray:
    """Per bin, add ``add`` at sample ``first`` and remove ``sub`` at sample ``stop``.

    Returns the running sums over samples (or, with ``cumulative=False``, the per-sample
    changes), shape ``(n_bins, n_s)``.
    """
    row = n_s + 1
    cells = n_bins * row
    key = bins * row
    diff = np.bincount(key + first, weights=add, minlength=cells)
    diff -= np.bincount(key + stop, weights=sub, minlength=cells)
    diff = diff.reshape(n_bins, row)[:, :n_s]
    return np.cumsum(diff, axis=1) if cumulative else diff


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
