"""Scoring a cluster estimate against a simulated market's truth.

* **Where** — :func:`top_decile_share`: in every time column, take the model's top 10 % of
  price bins; what share of the *true* outstanding liquidation notional lies in them? A map
  that knows nothing scores the share of bins it picks (10 %).
* **When** — :func:`swept_correlation`: Spearman rank correlation between the model's swept
  notional per bar and the notional that was really liquidated in that bar.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..heatmap import Heatmap

SIDES = ("long", "short", "total")


def _layer(h: Heatmap, side: str) -> np.ndarray:
    if side == "total":
        return h.long + h.short
    return getattr(h, side)


def top_decile_share(estimate: Heatmap, truth: Heatmap, quantile: float = 0.1) -> dict[str, float]:
    """Share of true notional inside the estimate's top price bins, per side and in total.

    Both grids must share their edges (build them with the same width, height and ranges).
    Per column the ``ceil(quantile * height)`` bins with the most estimated notional are
    chosen; the share is summed over all columns (notional-weighted). Also returns
    ``baseline``: the share that bins picked at random would hold on average.
    """
    if estimate.long.shape != truth.long.shape:
        raise ValueError(
            f"grids differ in shape: estimate {estimate.long.shape}, truth {truth.long.shape}; "
            "build both with the same width and height"
        )
    if not np.allclose(estimate.price_edges, truth.price_edges) or not (
        estimate.time_edges.equals(truth.time_edges)
    ):
        raise ValueError("grids cover different prices or times; pass the same price_range/time_range")
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    height = truth.height
    k = max(1, math.ceil(quantile * height))
    out: dict[str, float] = {}
    for side in SIDES:
        est, tru = _layer(estimate, side), _layer(truth, side)
        top = np.argpartition(-est, k - 1, axis=0)[:k]
        captured = np.take_along_axis(tru, top, axis=0).sum()
        total = tru.sum()
        out[side] = float(captured / total) if total > 0 else float("nan")
    out["baseline"] = k / height
    return out


def swept_correlation(swept: pd.DataFrame, liquidated: pd.DataFrame) -> dict[str, float]:
    """Spearman correlation of estimated swept and true liquidated notional per bar and side."""
    if not swept.index.equals(liquidated.index):
        raise ValueError("swept and liquidated must be indexed by the same bars")
    out = {}
    for side in ("long", "short"):
        a, b = swept[side].to_numpy(), liquidated[side].to_numpy()
        out[side] = float(spearmanr(a, b).statistic) if a.std() > 0 and b.std() > 0 else float("nan")
    a, b = swept[["long", "short"]].sum(axis=1), liquidated[["long", "short"]].sum(axis=1)
    out["total"] = float(spearmanr(a, b).statistic) if a.std() > 0 and b.std() > 0 else float("nan")
    return out


@dataclass(frozen=True)
class Score:
    """How well an estimate matches the truth (see the module doc)."""

    where: dict[str, float]  # top-decile share per side, plus "baseline"
    when: dict[str, float]  # Spearman per side

    def __str__(self) -> str:
        w, c = self.where, self.when
        return (
            f"where: top-decile share long {w['long']:.1%}, short {w['short']:.1%}, "
            f"total {w['total']:.1%} (random {w['baseline']:.0%}); "
            f"when: Spearman long {c['long']:.2f}, short {c['short']:.2f}"
        )


def score(estimate, sim, width: int = 300, height: int = 200, time_range=None) -> Score:
    """Score a :class:`~liqwidget.ClusterEstimate` of ``sim.market`` against ``sim``'s truth."""
    if len(estimate.market) != len(sim.market) or not estimate.market.index.equals(sim.market.index):
        raise ValueError("the estimate was not made from this simulation's market (bars differ)")
    est = estimate.grid(width, height, time_range=time_range)
    tru = sim.truth_grid(width, height, time_range=time_range)
    return Score(top_decile_share(est, tru), swept_correlation(estimate.swept, sim.liquidated))
