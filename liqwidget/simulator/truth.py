"""Scoring a cluster estimate against a simulated market's truth.

* **Where** — :func:`top_decile_share`: in every time column, take the model's top 10 % of
  price bins; what share of the *true* outstanding liquidation notional lies in them? A map
  that knows nothing scores the share of bins it picks (10 %).
* **Shape** — :func:`overlap`: per time column, how much of the estimated and the true
  distribution of notional over price (both sides together, each scaled to sum to 1)
  coincide (histogram intersection; 1 = identical). Unlike the top-decile share it also
  sees whether the split between longs and shorts is right.
* **When** — :func:`swept_correlation`: Spearman rank correlation between the model's swept
  notional per bar and the notional that was really liquidated in that bar, and the ratio
  of the totals (estimated over true) per side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..heatmap import Heatmap

#: The sides a score is reported for: each side of the book, and both together.
SCORED_SIDES = ("long", "short", "total")


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
    _check_aligned(estimate, truth)
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    height = truth.height
    k = max(1, math.ceil(quantile * height))
    out: dict[str, float] = {}
    for side in SCORED_SIDES:
        est, tru = _layer(estimate, side), _layer(truth, side)
        top = np.argpartition(-est, k - 1, axis=0)[:k]
        captured = np.take_along_axis(tru, top, axis=0).sum()
        total = tru.sum()
        out[side] = float(captured / total) if total > 0 else float("nan")
    out["baseline"] = k / height
    return out


def _check_aligned(estimate: Heatmap, truth: Heatmap) -> None:
    if estimate.long.shape != truth.long.shape:
        raise ValueError(
            f"grids differ in shape: estimate {estimate.long.shape}, truth {truth.long.shape}; "
            "build both with the same width and height"
        )
    if not np.allclose(estimate.price_edges, truth.price_edges) or not (
        estimate.time_edges.equals(truth.time_edges)
    ):
        raise ValueError(
            "grids cover different prices or times; pass the same price_range/time_range"
        )


def overlap(estimate: Heatmap, truth: Heatmap) -> float:
    """Histogram intersection of estimated and true notional per column, weighted by truth.

    Long and short layers are stacked, so putting notional on the wrong side counts as a
    miss. Columns without true notional are skipped.
    """
    _check_aligned(estimate, truth)
    est = np.concatenate([estimate.long, estimate.short])
    tru = np.concatenate([truth.long, truth.short])
    e_sum, t_sum = est.sum(axis=0), tru.sum(axis=0)
    ok = (t_sum > 0) & (e_sum > 0)
    inter = np.minimum(est[:, ok] / e_sum[ok], tru[:, ok] / t_sum[ok]).sum(axis=0)
    return float((inter * t_sum[ok]).sum() / t_sum.sum()) if t_sum.sum() > 0 else float("nan")


def swept_correlation(swept: pd.DataFrame, liquidated: pd.DataFrame) -> dict[str, float]:
    """Per side (and in total): Spearman correlation of estimated swept and true liquidated
    notional per bar, and ``ratio_long`` / ``ratio_short``: estimated over true totals."""
    if not swept.index.equals(liquidated.index):
        raise ValueError("swept and liquidated must be indexed by the same bars")
    out = {}
    pairs = {side: (swept[side], liquidated[side]) for side in ("long", "short")}
    pairs["total"] = (swept["long"] + swept["short"], liquidated["long"] + liquidated["short"])
    for side, (a, b) in pairs.items():
        a, b = a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64")
        ok = a.std() > 0 and b.std() > 0
        out[side] = float(spearmanr(a, b).statistic) if ok else float("nan")
        if side != "total":
            out[f"ratio_{side}"] = float(a.sum() / b.sum()) if b.sum() > 0 else float("nan")
    return out


@dataclass(frozen=True)
class Score:
    """How well an estimate matches the truth (see the module doc)."""

    where: dict[str, float]  # top-decile share per side and total, plus "baseline"
    overlap: float  # histogram intersection of the two grids, 0..1
    when: dict[str, float]  # Spearman per side and total, swept/true ratios per side

    def as_dict(self) -> dict[str, float]:
        """Flat dict, e.g. for a DataFrame of several scores."""
        out = {f"where_{k}": v for k, v in self.where.items()}
        out["overlap"] = self.overlap
        return out | {f"when_{k}": v for k, v in self.when.items()}

    def __str__(self) -> str:
        w, c = self.where, self.when
        return (
            f"where: top-decile share long {w['long']:.1%}, short {w['short']:.1%}, "
            f"total {w['total']:.1%} (random {w['baseline']:.0%}); overlap {self.overlap:.2f}; "
            f"when: Spearman long {c['long']:.2f}, short {c['short']:.2f}, swept/true "
            f"long {c['ratio_long']:.2f}, short {c['ratio_short']:.2f}"
        )


def default_price_range(sim) -> tuple[float, float]:
    """The traded range widened by 15 % of price each way: room for 10x-and-up levels."""
    m = sim.market
    return float(m.column("low").min()) * 0.85, float(m.column("high").max()) * 1.15


def score(
    estimate, sim, width: int = 300, height: int = 300, price_range=None, time_range=None
) -> Score:
    """Score a :class:`~liqwidget.ClusterEstimate` of ``sim.market`` against ``sim``'s truth.

    Both grids use ``price_range`` (default :func:`default_price_range`) so that levels far
    from the traded range still count.
    """
    same = len(estimate.market) == len(sim.market) and estimate.market.index.equals(
        sim.market.index
    )
    if not same:
        raise ValueError("the estimate was not made from this simulation's market (bars differ)")
    pr = default_price_range(sim) if price_range is None else price_range
    est = estimate.grid(width, height, price_range=pr, time_range=time_range)
    tru = sim.truth_grid(width, height, price_range=pr, time_range=time_range)
    return Score(
        where=top_decile_share(est, tru),
        overlap=overlap(est, tru),
        when=swept_correlation(estimate.swept, sim.liquidated),
    )
