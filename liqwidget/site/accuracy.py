"""The measured accuracy a snapshot post quotes: timing from :mod:`liqwidget.calibration`,
where from :mod:`liqwidget.location` (both measures pass the oracle check on the simulator)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..calibration import MIN_EVENTS, Calibration, calibrate, held_out, slice_estimate
from ..estimate import SIDES, ClusterEstimate
from ..forecast import DEFAULT_HORIZON
from ..location import ORACLE_MARGIN, forecast_scores, touched_scores


@dataclass(frozen=True)
class WhereScore:
    """A "where" score of the model on one side next to its strongest baseline, and the
    true book's score on the same data when it is known (a simulated market)."""

    model: float
    baseline: str
    baseline_value: float
    oracle: float | None = None

    @property
    def beats_baseline(self) -> bool:
        return bool(self.model > self.baseline_value)

    @property
    def validated(self) -> bool | None:
        """Whether the true book clears the baseline here (``None``: no true book known).
        Where it does not, the score says nothing about the map and is not quoted."""
        if self.oracle is None:
            return None
        return bool(self.oracle > self.baseline_value + ORACLE_MARGIN)


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
    since: pd.Timestamp | None = None  # scored from here only (None: every bar)

    @property
    def beats_baselines(self) -> bool:
        return all(s.beats_baseline for s in self.sides)


def _book_score(frame: pd.DataFrame | None, side: str, metric: str) -> pd.Series | None:
    if frame is None:
        return None
    f = frame[frame["side"] == side].set_index("scorer")[metric].astype(float)
    return f if "book" in f.index and np.isfinite(f["book"]) else None


def _where(
    frame: pd.DataFrame | None, side: str, metric: str, oracle: pd.DataFrame | None = None
) -> WhereScore | None:
    f = _book_score(frame, side, metric)
    if f is None:
        return None
    others = f.drop("book").fillna(-np.inf)
    best = str(others.idxmax())
    o = _book_score(oracle, side, metric)
    truth = None if o is None else float(o["book"])
    return WhereScore(float(f["book"]), best, float(others[best]), truth)


def _side(cal: Calibration, side: str, given, forecast, oracle) -> SideScore | None:
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
        given=_where(given, side, "top_share", oracle["given"]),
        forecast=_where(forecast, side, "top_share", oracle["forecast"]),
    )


def measure(
    estimate: ClusterEstimate,
    events: pd.DataFrame | None,
    horizon: str = DEFAULT_HORIZON,
    truth: ClusterEstimate | None = None,
    since: pd.Timestamp | None = None,
) -> Accuracy | None:
    """Score the estimate over its bars (from ``since`` on, when given: a model fitted on
    the liquidations before it is scored on held-out ones only); ``None`` without enough
    real liquidations.

    With ``truth`` (a simulated market's true book over the same or longer bars) each
    "where" score also carries the true book's score on the same data, so a post quotes
    only the scores the oracle validates there.
    """
    first = 0
    if events is not None and since is not None:
        first, events = held_out(estimate.market, events, since)
    if events is None or len(events) < MIN_EVENTS:
        return None
    # Timing is per bar, so it is scored on the bars from ``since`` only; the "where" scores
    # weigh by real notional, which the events from ``since`` on carry alone.
    cal = calibrate(slice_estimate(estimate, first), events)
    books = {"model": estimate}
    if truth is not None:  # the true book over exactly the estimate's bars
        books["oracle"] = ClusterEstimate(market=estimate.market, params={}, raw=truth.raw)
    given = {k: touched_scores(b, events) for k, b in books.items()}
    try:
        forecast = {k: forecast_scores(b, events, horizon) for k, b in books.items()}
    except ValueError:  # too few bars for the horizon
        forecast = {}
    oracle = {"given": given.get("oracle"), "forecast": forecast.get("oracle")}
    sides = tuple(
        s
        for s in (_side(cal, name, given["model"], forecast.get("model"), oracle) for name in SIDES)
        if s is not None
    )
    if not sides:
        return None
    return Accuracy(
        sides=sides,
        bars=estimate.n_bars - first,
        events=len(events),
        horizon=horizon,
        since=since,
    )
