"""The measured accuracy a snapshot post quotes, taken from :mod:`liqwidget.calibration`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..calibration import MIN_EVENTS, Calibration, calibrate
from ..estimate import SIDES, ClusterEstimate


@dataclass(frozen=True)
class SideScore:
    """Timing and location scores of the model on one side, with its best baseline."""

    side: str
    spearman: float
    precision: float
    low: float
    high: float
    baseline: str
    baseline_spearman: float
    location_share: float | None  # real notional in the model's top-decile price bins
    random_share: float | None
    nearest_share: float | None  # ... in the bins nearest to price (a naive baseline)

    @property
    def beats_baseline(self) -> bool:
        return bool(self.spearman > self.baseline_spearman)


@dataclass(frozen=True)
class Accuracy:
    """What the posts say about how well the estimate matched real liquidations."""

    sides: tuple[SideScore, ...]
    bars: int
    events: int

    @property
    def beats_baselines(self) -> bool:
        return all(s.beats_baseline for s in self.sides)


def _side(cal: Calibration, side: str) -> SideScore | None:
    t = cal.timing
    if (side, "model") not in t.index:
        return None
    m = t.loc[(side, "model")]
    if not np.isfinite(m["spearman"]):
        return None
    others = t.loc[side].drop("model")["spearman"].astype(float).fillna(-1.0)
    best = str(others.idxmax())
    loc = cal.location
    row = None if loc is None or loc.empty else loc[loc["side"] == side]
    has_loc = row is not None and len(row) > 0
    return SideScore(
        side=side,
        spearman=float(m["spearman"]),
        precision=float(m["top_decile_precision"]),
        low=float(m["precision_low"]),
        high=float(m["precision_high"]),
        baseline=best,
        baseline_spearman=float(others[best]),
        location_share=float(row["model_top_decile_share"].iloc[0]) if has_loc else None,
        random_share=float(row["random_bins_share"].iloc[0]) if has_loc else None,
        nearest_share=float(row["nearest_bins_share"].iloc[0]) if has_loc else None,
    )


def measure(estimate: ClusterEstimate, events: pd.DataFrame | None) -> Accuracy | None:
    """Score the estimate over its bars; ``None`` without enough real liquidations."""
    if events is None or len(events) < MIN_EVENTS:
        return None
    cal = calibrate(estimate, events)
    sides = tuple(s for s in (_side(cal, name) for name in SIDES) if s is not None)
    if not sides:
        return None
    return Accuracy(sides=sides, bars=estimate.n_bars, events=len(events))
