"""The measured accuracy a snapshot post quotes: timing from :mod:`liqwidget.calibration`,
where from :mod:`liqwidget.location` (both measures pass the oracle check on the simulator)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..calibration import MIN_EVENTS, Calibration, calibrate
from ..estimate import SIDES, ClusterEstimate
from ..forecast import DEFAULT_HORIZON
from ..location import forecast_scores, touched_scores


@dataclass(frozen=True)
class WhereScore:
    """A "where" score of the model on one side next to its strongest baseline."""

    model: float
    baseline: str
    baseline_value: float

    @property
    def beats_baseline(self) -> bool:
        return bool(self.model > self.baseline_value)


@dataclass(frozen=True)
class SideScore:
    """Timing and where scores of the model on one side, with the best baselines."""

    side: str
    spearman: float
    precision: float
    low: float
    high: float
    baseline: str
    baseline_spearman: float
    given: WhereScore | None = None  # share of real notional in the densest touched bands
    forecast: WhereScore | None = None  # share in the forecast's top-decile bands

    @property
    def beats_baseline(self) -> bool:
        return bool(self.spearman > self.baseline_spearman)


@dataclass(frozen=True)
class Accuracy:
    """What the posts say about how well the estimate matched real liquidations."""

    sides: tuple[SideScore, ...]
    bars: int
    events: int
    horizon: str = DEFAULT_HORIZON

    @property
    def beats_baselines(self) -> bool:
        return all(s.beats_baseline for s in self.sides)


def _where(frame: pd.DataFrame | None, side: str, metric: str) -> WhereScore | None:
    if frame is None:
        return None
    f = frame[frame["side"] == side].set_index("scorer")[metric].astype(float)
    if "book" not in f.index or not np.isfinite(f["book"]):
        return None
    others = f.drop("book").fillna(-np.inf)
    best = str(others.idxmax())
    return WhereScore(float(f["book"]), best, float(others[best]))


def _side(cal: Calibration, side: str, given, forecast) -> SideScore | None:
    t = cal.timing
    if (side, "model") not in t.index:
        return None
    m = t.loc[(side, "model")]
    if not np.isfinite(m["spearman"]):
        return None
    others = t.loc[side].drop("model")["spearman"].astype(float).fillna(-1.0)
    best = str(others.idxmax())
    return SideScore(
        side=side,
        spearman=float(m["spearman"]),
        precision=float(m["top_decile_precision"]),
        low=float(m["precision_low"]),
        high=float(m["precision_high"]),
        baseline=best,
        baseline_spearman=float(others[best]),
        given=_where(given, side, "top_share"),
        forecast=_where(forecast, side, "top_share"),
    )


def measure(
    estimate: ClusterEstimate, events: pd.DataFrame | None, horizon: str = DEFAULT_HORIZON
) -> Accuracy | None:
    """Score the estimate over its bars; ``None`` without enough real liquidations."""
    if events is None or len(events) < MIN_EVENTS:
        return None
    cal = calibrate(estimate, events)
    given = touched_scores(estimate, events)
    try:
        forecast = forecast_scores(estimate, events, horizon)
    except ValueError:  # too few bars for the horizon
        forecast = None
    sides = tuple(s for s in (_side(cal, name, given, forecast) for name in SIDES) if s is not None)
    if not sides:
        return None
    return Accuracy(sides=sides, bars=estimate.n_bars, events=len(events), horizon=horizon)
