"""A plain per-bar implementation of the cluster model, for tests and benchmarks only.

It walks the bars one by one with a heap of open levels per side, the way the model is
usually written, and shares nothing with the fast path except the levels the model opens
(``ClusterModel.build_levels``). Use :class:`~liqwidget.ClusterModel` for real work.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np

from .heatmap import bin_index, price_bins, time_columns
from .market import MarketData
from .model import INTRABAR, ClusterModel


@dataclass
class ReferenceResult:
    swept: np.ndarray  # (n, 2) long, short
    closed: np.ndarray  # (n, 2)
    outstanding: np.ndarray  # (n, 2) after each bar
    death: np.ndarray  # state at which each level left the book (n + 1: still open)


def run_reference(model: ClusterModel, market: MarketData) -> ReferenceResult:
    """Run the model bar by bar."""
    levels = model.build_levels(market)
    log_level = levels.log_level
    n = len(market)
    low, high = market.column("low"), market.column("high")
    keep = np.exp(np.diff(log_level))
    order = np.argsort(levels.birth, kind="stable")
    births = levels.birth[order]
    swept = np.zeros((n, 2))
    closed = np.zeros((n, 2))
    outstanding = np.zeros((n, 2))
    death = np.full(len(levels), n + 1, dtype="int64")
    heaps: list[list[tuple[float, int]]] = [[], []]  # long: max-heap on price; short: min-heap
    book = [0.0, 0.0]
    nxt = 0

    intrabar = model.entry in INTRABAR

    def push_born(state: int) -> None:
        nonlocal nxt
        while nxt < births.size and births[nxt] == state:
            i = int(order[nxt])
            s = int(levels.side[i])
            nxt += 1
            bar = state - 1
            if intrabar and bar >= 0:
                # Opened at this bar's open: its own range may already have liquidated it.
                crossed = low[bar] <= levels.price[i] if s == 0 else high[bar] >= levels.price[i]
                if crossed:
                    swept[bar, s] += levels.weight[i]
                    death[i] = state
                    continue
            key = -levels.price[i] if s == 0 else levels.price[i]
            heapq.heappush(heaps[s], (key, i))
            book[s] += levels.weight[i]

    push_born(0)
    for t in range(n):
        for s, (heap, hit) in enumerate(((heaps[0], -low[t]), (heaps[1], high[t]))):
            while heap and heap[0][0] <= hit:
                _, i = heapq.heappop(heap)
                amount = levels.weight[i] * np.exp(log_level[t] - log_level[levels.birth[i]])
                swept[t, s] += amount
                death[i] = t + 1
            book[s] -= swept[t, s]
            closed[t, s] = max(book[s], 0.0) * (1.0 - keep[t])
            book[s] *= keep[t]
        push_born(t + 1)
        outstanding[t] = book
    return ReferenceResult(swept, closed, outstanding, death)


def reference_grid(
    model: ClusterModel, market: MarketData, death: np.ndarray, width: int, height: int
) -> tuple[np.ndarray, np.ndarray]:
    """Long and short ``(height, width)`` grids, one column at a time over all levels."""
    levels = model.build_levels(market)
    log_level = levels.log_level
    _, states = time_columns(market.index, market.timeframe, width)
    edges = price_bins(market.column("low"), market.column("high"), height)
    pbin = bin_index(levels.price, edges)
    out = np.zeros((2, height, width))
    for j, s in enumerate(states):
        alive = (levels.birth <= s) & (s < death) & (pbin >= 0)
        amount = levels.weight[alive] * np.exp(log_level[s] - log_level[levels.birth[alive]])
        for side in (0, 1):
            m = levels.side[alive] == side
            out[side, :, j] = np.bincount(pbin[alive][m], weights=amount[m], minlength=height)
    return out[0], out[1]
