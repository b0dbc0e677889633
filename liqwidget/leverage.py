"""Leverage mixes: which leverage tiers new open interest is spread over, and where they liquidate."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .margin import Brackets, liquidation_price

#: Assumed share of new open interest per leverage tier: most of it at 2x-10x, thinning out
#: fast above 20x, with a thin tail to the 125x that BTC perpetuals allow. Open interest
#: counts notional, and the large positions that hold most of it cannot use high leverage
#: (exchanges cap leverage by position size). A prior, not a measurement: lower-leverage
#: mixes were compared on the first half of six months of real hourly BTC liquidation
#: totals and checked on the second, and a thin 125x tail was kept so that levels stay near
#: price (``benchmarks/real_hourly.py``; see the README). Fit it to your own liquidations
#: with ``liqwidget.calibration.calibrated``.
DEFAULT_LEVERAGE: dict[float, float] = {
    2: 0.15,
    3: 0.20,
    5: 0.25,
    10: 0.20,
    20: 0.12,
    50: 0.05,
    100: 0.02,
    125: 0.01,
}


#: The five fixed tiers of the textbook model (see ``ClusterModel.plain``).
PLAIN_LEVERAGE: dict[float, float] = {5: 0.25, 10: 0.30, 25: 0.25, 50: 0.12, 100: 0.08}

#: A broad 3x-125x mix that differs from the model's prior, for testing the model against
#: traders it does not assume.
WIDE_LEVERAGE: dict[float, float] = {
    3: 0.1,
    7: 0.15,
    12: 0.2,
    20: 0.2,
    35: 0.15,
    75: 0.12,
    125: 0.08,
}


#: A fine grid of tiers with even weights: where :func:`liqwidget.calibration.calibrated`
#: starts when it fits the mix to recorded liquidations (tiers it cannot identify keep their
#: even share; those it identifies may move to any whole leverage between their neighbours).
FIT_LEVERAGE: dict[float, float] = {
    k: 1.0 for k in (3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 75, 100, 125)
}


def normalise_mix(mix: Mapping[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Leverage values and weights summing to 1, sorted by leverage."""
    if not mix:
        raise ValueError("the leverage mix is empty; give {leverage: weight, ...}")
    lev = np.array([float(k) for k in mix], dtype="float64")
    w = np.array([float(v) for v in mix.values()], dtype="float64")
    if not np.isfinite(lev).all() or (lev < 1).any():
        raise ValueError(f"leverage tiers must be finite and >= 1, got {sorted(mix)}")
    if not np.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
        raise ValueError("leverage weights must be finite, non-negative and not all zero")
    order = np.argsort(lev)
    return lev[order], w[order] / w.sum()


def level_factors(
    leverage: np.ndarray,
    formula: str = "simple",
    *,
    mmr: float = 0.005,
    brackets: Brackets | None = None,
    position_notional: float = 10_000.0,
    strict: bool = True,
    inverse: bool = False,
    price: float = 1.0,
) -> np.ndarray:
    """Liquidation price as a multiple of entry, shape ``(2, *leverage.shape)``: long, short.

    For bracketed formulas the maintenance rate and amount are those of a position of
    ``position_notional`` (quote); the amount per unit then scales with the entry price, so
    the ratio holds for any entry. Inverse contracts (``inverse=True``) have brackets in
    coin: the position is ``position_notional / price`` coins, ``price`` a typical price.
    """
    lev = np.asarray(leverage, dtype="float64")
    qty = position_notional if brackets is not None or formula in ("binance", "bybit") else None
    if qty is not None and inverse:
        qty = position_notional / price
    out = np.stack(
        [
            liquidation_price(
                1.0, lev, side, formula, mmr=mmr, quantity=qty, brackets=brackets, inverse=inverse
            )
            for side in ("long", "short")
        ]
    )
    if not strict:
        out[0] = np.minimum(out[0], 1 - 1e-6)
        out[1] = np.maximum(out[1], 1 + 1e-6)
    elif (out[0] >= 1).any() or (out[1] <= 1).any():
        raise ValueError(
            "a leverage tier liquidates on the wrong side of entry (maintenance rate too high "
            "for its leverage); lower mmr or drop the tier"
        )
    return out
