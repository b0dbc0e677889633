"""One snapshot: the estimate from the data known at a moment, and everything a post shows."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from ..escape import json_script, slug
from ..estimate import ClusterEstimate
from ..model import ClusterModel
from ..sources.dataset import Dataset
from .accuracy import Accuracy, measure
from .mix import Mix, window_mix
from .numbers import KeyNumbers, key_numbers

#: Map window before each snapshot and the extra price room above/below the traded range.
DEFAULT_WINDOW = "3D"
PRICE_PAD = 0.02
MAX_SPAN = 0.12
#: Size of the interactive map in pixels (its widest: on a narrower page it fits the page).
FIGURE_SIZE = (860, 420)
#: Preview image size in pixels (time columns, price rows) before margins.
PREVIEW_SIZE = (720, 300)


@dataclass(frozen=True)
class SnapshotSpec:
    """Which snapshot to build and with what settings (all of it goes into the cache key)."""

    time: pd.Timestamp
    prev_time: pd.Timestamp | None
    window: str = DEFAULT_WINDOW
    model_params: dict = field(default_factory=dict)
    #: Learn the leverage mix from the liquidations before the window (see :mod:`.mix`).
    calibrate: bool = False

    def slug(self, name: str) -> str:
        return snapshot_slug(name, self.time)

    def prev_slug(self, name: str) -> str | None:
        return None if self.prev_time is None else snapshot_slug(name, self.prev_time)


def snapshot_slug(name: str, time: pd.Timestamp) -> str:
    """URL name of a snapshot post: market and UTC time, e.g. ``btc-usdt-2026-06-22-0600``."""
    return f"{slug(name.split(':')[0])}-{time:%Y-%m-%d-%H%M}"


@dataclass(eq=False)
class Snapshot:
    """The computed content of one snapshot."""

    spec: SnapshotSpec
    estimate: ClusterEstimate
    liquidations: pd.DataFrame | None
    numbers: KeyNumbers
    accuracy: Accuracy | None
    price_range: tuple[float, float]
    time_range: tuple[pd.Timestamp, pd.Timestamp]
    mix: Mix | None = None  # the learned (or fallback) mix, with ``calibrate`` only


def compute(data: Dataset, spec: SnapshotSpec) -> Snapshot:
    """Run the model on the bars that had closed by the snapshot time and take its numbers."""
    market = data.market.slice(end=spec.time - data.market.timeframe)
    if len(market) < 2:
        raise ValueError(f"no data before the snapshot at {spec.time}")
    t1 = spec.time
    t0 = max(t1 - pd.Timedelta(spec.window), market.index[0])
    mix = window_mix(data, t0, spec.model_params) if spec.calibrate else None
    model = mix.model if mix else ClusterModel(**spec.model_params)
    estimate = model.estimate(market)
    events = data.liquidations_until(spec.time)
    numbers = key_numbers(estimate, spec.prev_time)
    shown = market.slice(t0, t1)
    lo, hi = float(shown.column("low").min()), float(shown.column("high").max())
    p = numbers.price
    for side in ("long", "short"):
        c = numbers.nearest(side)
        if c is not None and abs(c.distance) <= MAX_SPAN:
            lo, hi = min(lo, c.price), max(hi, c.price)
    lo = max(lo * (1 - PRICE_PAD), p * (1 - MAX_SPAN))
    hi = min(hi * (1 + PRICE_PAD), p * (1 + MAX_SPAN))
    return Snapshot(
        spec=spec,
        estimate=estimate,
        liquidations=events,
        numbers=numbers,
        # A calibrated map is scored on its window only: the fit saw everything before it.
        accuracy=measure(estimate, events, truth=data.truth, since=t0 if mix else None),
        price_range=(lo, hi),
        time_range=(t0, t1),
        mix=mix,
    )


def figure_for(snapshot: Snapshot):
    """The interactive map: the one Bokeh figure the widget uses too."""
    from ..figure import build_figure

    return build_figure(
        snapshot.estimate,
        snapshot.liquidations,
        price_range=snapshot.price_range,
        time_range=snapshot.time_range,
        width=FIGURE_SIZE[0],
        height=FIGURE_SIZE[1],
        fit=True,  # as wide as the embed page, up to FIGURE_SIZE: phones too
    )


def render_preview_png(snapshot: Snapshot, path: Path) -> Path:
    """The static preview image of the same window."""
    from .preview import render_preview

    w, h = PREVIEW_SIZE
    grid = snapshot.estimate.grid(
        w, h, price_range=snapshot.price_range, time_range=snapshot.time_range
    )
    return render_preview(grid, snapshot.estimate.market, path)


def numbers_json(snapshot: Snapshot, title: str, lead: str) -> str:
    """Machine-readable key numbers (published next to the post), with its title and lead."""
    out = {"title": title, "lead": lead, **snapshot.numbers.to_dict()}
    acc = snapshot.accuracy
    out["accuracy"] = (
        None
        if acc is None
        else {
            "bars": acc.bars,
            "events": acc.events,
            "horizon": acc.horizon,
            "sides": [asdict(s) for s in acc.sides],
        }
        | ({"since": acc.since.isoformat()} if acc.since is not None else {})
    )
    if snapshot.mix is not None:
        mix = snapshot.mix
        out["leverage_mix"] = {
            "learned": mix.learned,
            "until": mix.until.isoformat(),
            "events": mix.events,
            "weights": {f"{k:g}": v for k, v in mix.leverage.items()},
            "identified": [f"{k:g}" for k in mix.identified],
            "turnover": None
            if mix.model.turnover is None
            else pd.Timedelta(mix.model.turnover).isoformat(),
            "prior_because": mix.reason,
        }
    return json_script(out, indent=1, default=float)
