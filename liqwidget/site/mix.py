"""The leverage mix a snapshot's map is drawn with (``site build --calibrate``).

With calibration on, each snapshot's model learns its leverage mix from the bars and
liquidations recorded before its map window starts, never from the window itself: the
post scores the map against the window's liquidations, so they stay held out. With too
little earlier data, or when the fit pins down no tier, the model's prior mix stands.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

from ..calibration import MIN_EVENTS, calibrated, events_within
from ..model import ClusterModel
from ..sources.dataset import Dataset

#: Share of the earlier bars the fit trains on (the rest scores it, as ``calibrated`` asks).
TRAIN_FRACTION = 0.9

#: Why the prior mix stands (``Mix.reason``; shown as is in the build's progress).
NO_EVENTS = "no liquidations recorded"  # the market has none at all
TOO_FEW = "too few earlier liquidations"  # fewer than MIN_EVENTS before the window
UNFIT = "the fit failed"  # it raised (too short a stretch, nothing swept)
UNPINNED = "no tier pinned down"  # the fit pinned down no tier


@dataclass(frozen=True)
class Mix:
    """Which model drew a snapshot's Clusters layer, and from what it learned."""

    model: ClusterModel
    until: pd.Timestamp  # the fit saw no bar or liquidation at or after this time
    events: int  # liquidations the fit trained on (0 when the prior stands)
    leverage: dict[float, float]  # the mix the map was drawn with
    identified: tuple[float, ...] = ()  # tiers the data pinned down
    reason: str | None = None  # why the prior stands (None: learned)
    detail: str = ""  # the fit's own error message, for UNFIT

    @property
    def learned(self) -> bool:
        return self.reason is None


def mix_phrase(learned: bool, events: int, reason: str | None) -> str:
    """Which leverage mix draws a map, in a few words, for progress and status lines."""
    if learned:
        return f"leverage mix learned from {events:,} liquidations"
    return f"prior leverage mix ({reason})"


def _prior(model: ClusterModel, until, reason: str, events: int = 0, detail: str = "") -> Mix:
    return Mix(model, until, events, dict(model.leverage), (), reason, detail)


def window_mix(data: Dataset, start: pd.Timestamp, model_params: dict) -> Mix:
    """The model for a map whose window starts at ``start``: calibrated on the bars and
    liquidations before ``start`` when there are enough, else ``ClusterModel(**model_params)``."""
    prior = ClusterModel(**model_params)
    if not data.has_liquidations:
        return _prior(prior, start, NO_EVENTS)
    bars = data.market.slice(end=start - data.market.timeframe)
    events = events_within(data.liquidations_until(start), bars) if len(bars) else None
    if events is None or len(events) < MIN_EVENTS:
        return _prior(prior, start, TOO_FEW, 0 if events is None else len(events))
    with warnings.catch_warnings():
        # Nothing pinned down is answered below (the prior stands, and the post says so).
        warnings.filterwarnings("ignore", message="the liquidations do not pin down")
        try:
            fit = calibrated(bars, events, train_fraction=TRAIN_FRACTION, **model_params)
        except ValueError as exc:
            return _prior(prior, start, UNFIT, len(events), str(exc))
    pinned = tuple(k for k, ok in fit.identified.items() if ok)
    if not pinned:
        return _prior(prior, start, UNPINNED, len(events))
    used = int((events["time"] < fit.split_time).sum())
    return Mix(fit.model, start, used, dict(fit.leverage), pinned)
