"""The key numbers of one snapshot: clusters, nearby notional, what was swept, which side is loaded."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.signal import find_peaks

from ..estimate import ClusterEstimate

#: Price range examined around the current price (fraction each side).
SPAN = 0.15
#: Bin width of the price profile, as a fraction of price.
BIN = 0.0005
#: A cluster is the notional within this fraction of price either side of its centre.
HALF_WIDTH = 0.005
#: A peak counts as a cluster when it holds at least this share of the side's largest one.
NOTABLE = 0.3


@dataclass(frozen=True)
class Cluster:
    """A band of estimated liquidation levels: centre price, signed distance, notional."""

    side: str
    price: float
    distance: float  # (price / reference price) - 1
    notional: float


@dataclass(frozen=True)
class KeyNumbers:
    """What a snapshot post reports (all notional in quote currency, e.g. USD)."""

    time: pd.Timestamp
    price: float
    clusters: dict[str, list[Cluster]]  # side -> notable clusters, largest first
    near: dict[str, dict[float, float]]  # side -> {0.02: notional, 0.05: notional}
    prev_time: pd.Timestamp | None = None
    prev_price: float | None = None
    high_since: float | None = None
    low_since: float | None = None
    swept: dict[str, float] = field(default_factory=lambda: {"long": 0.0, "short": 0.0})
    consumed: list[Cluster] = field(default_factory=list)

    def largest(self, side: str) -> Cluster | None:
        found = self.clusters[side]
        return found[0] if found else None

    def nearest(self, side: str) -> Cluster | None:
        """The closest notable cluster on a side (the nearest 'magnet')."""
        found = self.clusters[side]
        return min(found, key=lambda c: abs(c.distance)) if found else None

    @property
    def fuel_side(self) -> str:
        """The side with more estimated notional within 5 % of price."""
        return "long" if self.near["long"][0.05] >= self.near["short"][0.05] else "short"

    @property
    def fuel_ratio(self) -> float:
        """Larger over smaller side's notional within 5 % (inf when one side is empty)."""
        a, b = sorted((self.near["long"][0.05], self.near["short"][0.05]), reverse=True)
        return float("inf") if b <= 0 else a / b

    @property
    def change(self) -> float | None:
        """Price change since the previous snapshot, as a fraction."""
        return None if self.prev_price is None else self.price / self.prev_price - 1.0

    def to_dict(self) -> dict:
        def cl(c: Cluster | None):
            return (
                None
                if c is None
                else {k: float(v) if k != "side" else v for k, v in vars(c).items()}
            )

        return {
            "time": self.time.isoformat(),
            "price": self.price,
            "largest_long": cl(self.largest("long")),
            "largest_short": cl(self.largest("short")),
            "nearest_long": cl(self.nearest("long")),
            "nearest_short": cl(self.nearest("short")),
            "near": {s: {str(k): v for k, v in d.items()} for s, d in self.near.items()},
            "swept_since_previous": dict(self.swept),
            "consumed_clusters": [cl(c) for c in self.consumed],
            "fuel_side": self.fuel_side,
            "fuel_ratio": self.fuel_ratio,
        }


def profile(
    estimate: ClusterEstimate, t: pd.Timestamp | None, price: float
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Outstanding notional per price bin around ``price`` at ``t``: (bin centres, per side)."""
    bins = round(2 * SPAN / BIN)
    levels = estimate.levels_at(t, bins=bins, price_range=(price * (1 - SPAN), price * (1 + SPAN)))
    side_sums = levels.T.groupby(level="side").sum().T
    return levels.index.to_numpy(), {s: side_sums[s].to_numpy() for s in ("long", "short")}


def find_clusters(
    centres: np.ndarray, amount: np.ndarray, side: str, price: float
) -> list[Cluster]:
    """Notable clusters on one side of ``price``, largest first."""
    on_side = centres < price if side == "long" else centres > price
    amount = np.where(on_side, amount, 0.0)
    width = max(1, round(2 * HALF_WIDTH / BIN)) | 1  # odd window
    kernel = np.ones(width)
    band = np.convolve(amount, kernel, mode="same")
    if band.max() <= 0:
        return []
    peaks, _ = find_peaks(np.concatenate([[0.0], band, [0.0]]), distance=width)
    peaks = peaks - 1
    peaks = peaks[band[peaks] >= NOTABLE * band.max()]
    out = []
    for p in peaks:
        lo, hi = max(0, p - width // 2), min(amount.size, p + width // 2 + 1)
        w = amount[lo:hi]
        centre = float(np.average(centres[lo:hi], weights=w)) if w.sum() > 0 else float(centres[p])
        out.append(Cluster(side, centre, centre / price - 1.0, float(band[p])))
    return sorted(out, key=lambda c: -c.notional)


def key_numbers(estimate: ClusterEstimate, prev_time: pd.Timestamp | None = None) -> KeyNumbers:
    """Key numbers at the end of ``estimate``'s bars, compared with ``prev_time`` if given."""
    market = estimate.market
    time = market.index[-1] + market.timeframe
    price = float(market.column("close")[-1])
    centres, amounts = profile(estimate, None, price)
    clusters = {s: find_clusters(centres, amounts[s], s, price) for s in ("long", "short")}
    near = {}
    for side, sign in (("long", -1.0), ("short", 1.0)):
        dist = sign * (centres / price - 1.0)
        near[side] = {f: float(amounts[side][(dist > 0) & (dist <= f)].sum()) for f in (0.02, 0.05)}
    if prev_time is None or prev_time <= market.index[0]:
        return KeyNumbers(time=time, price=price, clusters=clusters, near=near)

    bar_close = market.index + market.timeframe
    after = bar_close > prev_time
    prev_price = float(market.column("close")[~after][-1])
    high_since = float(market.column("high")[after].max())
    low_since = float(market.column("low")[after].min())
    swept = estimate.swept[after].sum()
    # Clusters that stood at the previous snapshot and that price has traded through since.
    pc, pa = profile(estimate, prev_time, prev_price)
    consumed = [
        c
        for side in ("long", "short")
        for c in find_clusters(pc, pa[side], side, prev_price)
        if (side == "long" and c.price >= low_since) or (side == "short" and c.price <= high_since)
    ]
    return KeyNumbers(
        time=time,
        price=price,
        clusters=clusters,
        near=near,
        prev_time=prev_time,
        prev_price=prev_price,
        high_since=high_since,
        low_since=low_since,
        swept={"long": float(swept["long"]), "short": float(swept["short"])},
        consumed=sorted(consumed, key=lambda c: -c.notional),
    )
