"""Liquidation prices of isolated-margin perpetual positions, vectorised over numpy.

Linear (USDT-margined) contracts, ``inverse=False`` (``EP`` entry price, ``L`` leverage,
``mmr`` maintenance-margin rate, ``Q`` quantity in base units):

* ``simple`` — long ``EP*(1 - 1/L + mmr)``, short ``EP*(1 + 1/L - mmr)``.
* ``bybit`` — the simple form minus/plus the maintenance deduction per unit
  (``cum / quantity``); equal to ``simple`` when the deduction is 0.
* ``binance`` — USDⓈ-M isolated with tiered brackets: long
  ``(EP*(1 - 1/L) - cum/Q) / (1 - mmr)``, short ``(EP*(1 + 1/L) + cum/Q) / (1 + mmr)``,
  where ``mmr`` and the maintenance amount ``cum`` come from the bracket of the position's
  notional ``EP*Q``.
* ``okx`` — long ``EP*(1 - 1/L) / (1 - mmr - fee)``, short ``EP*(1 + 1/L) / (1 + mmr + fee)``.

Inverse (coin-margined) contracts, ``inverse=True``: the position is a fixed USD amount
``N`` (contracts x contract value), margin and profit are in the coin, and ``Q = N/EP`` is
the position's size in coin at entry. With side sign ``s`` (+1 long, -1 short) and the
maintenance amount ``cum`` in coin:

* ``simple`` — ``EP / (1 + s/L - s*mmr)`` (Bybit's form without a deduction).
* ``bybit`` — ``EP / (1 + s/L - s*mmr + s*cum/Q)``: Bybit's "Contract Quantity / [Position
  Value +- (Initial Margin - Maintenance Margin)]" with position value ``Q``, initial
  margin ``Q/L`` and maintenance margin ``Q*mmr - cum``.
* ``binance`` — ``EP*(1 + s*mmr) / (1 + s/L + s*cum/Q)``: Binance COIN-M's isolated formula
  with the wallet balance equal to the initial margin ``Q/L``; brackets are looked up by
  the coin notional ``Q``.
* ``okx`` — ``EP*(1 + s*(mmr + fee)) / (1 + s/L)``: the price where OKX's isolated margin
  ratio, ``(margin + PnL) / (N/P * (mmr + fee))``, reaches 100 %.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Literal

import numpy as np

from .sides import side_sign

Formula = Literal["simple", "binance", "bybit", "okx"]
FORMULAS: tuple[str, ...] = ("simple", "binance", "bybit", "okx")


@dataclass(frozen=True)
class Brackets:
    """Tiered maintenance-margin table (as data): notional floors, rates and amounts.

    ``floor[i]`` is the lowest position notional (quote) of bracket ``i``; ``mmr[i]`` its
    maintenance-margin rate; ``cum[i]`` its maintenance amount; ``max_leverage[i]`` the most
    leverage the bracket allows.
    """

    floor: np.ndarray
    mmr: np.ndarray
    cum: np.ndarray
    max_leverage: np.ndarray
    source: str = ""

    def __post_init__(self) -> None:
        f = np.asarray(self.floor, dtype="float64")
        if f.ndim != 1 or f.size == 0 or f[0] != 0 or np.any(np.diff(f) <= 0):
            raise ValueError("bracket floors must start at 0 and increase strictly")
        for name in ("mmr", "cum", "max_leverage"):
            v = np.asarray(getattr(self, name), dtype="float64")
            if v.shape != f.shape or not np.isfinite(v).all() or (v < 0).any():
                raise ValueError(f"bracket column '{name}' must be finite, >= 0, one per floor")

    def lookup(self, notional) -> tuple[np.ndarray, np.ndarray]:
        """Maintenance rate and amount for each position notional (quote currency)."""
        n = np.asarray(notional, dtype="float64")
        if (n < 0).any() or not np.isfinite(n).all():
            raise ValueError("position notional must be finite and non-negative")
        i = np.searchsorted(np.asarray(self.floor), n, side="right") - 1
        return np.asarray(self.mmr)[i], np.asarray(self.cum)[i]

    @classmethod
    def from_records(cls, rows: Sequence[dict], source: str = "") -> Brackets:
        """From dicts with ``floor``, ``mmr``, ``cum`` and ``max_leverage`` keys."""
        rows = sorted(rows, key=lambda r: float(r["floor"]))
        col = {k: np.array([float(r[k]) for r in rows]) for k in ("floor", "mmr", "cum")}
        lev = np.array([float(r.get("max_leverage", 0)) for r in rows])
        return cls(col["floor"], col["mmr"], col["cum"], lev, source)

    @classmethod
    def from_ccxt(
        cls, tiers: Sequence[dict], source: str = "ccxt fetch_leverage_tiers"
    ) -> Brackets:
        """From the list ccxt's ``fetch_leverage_tiers()[symbol]`` returns.

        The maintenance amount is taken from the exchange's raw ``info['cum']`` when present,
        otherwise derived so that the maintenance margin is continuous across brackets.
        """
        rows, cum = [], 0.0
        prev_mmr = None
        for t in sorted(tiers, key=lambda t: float(t["minNotional"])):
            floor, mmr = float(t["minNotional"]), float(t["maintenanceMarginRate"])
            if prev_mmr is not None:
                cum += floor * (mmr - prev_mmr)
            raw = (t.get("info") or {}).get("cum")
            rows.append(
                {
                    "floor": floor,
                    "mmr": mmr,
                    "cum": float(raw) if raw is not None else cum,
                    "max_leverage": float(t.get("maxLeverage") or 0),
                }
            )
            prev_mmr = mmr
        return cls.from_records(rows, source)


def load_brackets(name: str = "binanceusdm-BTCUSDT") -> Brackets:
    """A bracket table shipped with the package (see ``liqwidget/data/brackets/``)."""
    path = resources.files("liqwidget") / "data" / "brackets" / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no bracket table named {name!r} in liqwidget/data/brackets")
    doc = json.loads(path.read_text())
    return Brackets.from_records(doc["brackets"], doc.get("source", ""))


def liquidation_price(
    entry,
    leverage,
    side,
    formula: Formula = "simple",
    *,
    mmr=0.005,
    cum=0.0,
    quantity=None,
    fee=0.0,
    brackets: Brackets | None = None,
    inverse: bool = False,
) -> np.ndarray:
    """Liquidation price of isolated positions; every argument broadcasts.

    ``quantity`` (base units: coins, also for inverse contracts, where it is the USD
    amount divided by the entry price) is needed when a maintenance amount applies (``cum``
    > 0 or ``brackets`` given); with ``brackets`` the rate and amount are looked up from
    the notional — ``entry * quantity`` in quote for linear contracts, ``quantity`` in coin
    for inverse ones — and ``mmr``/``cum`` are ignored.
    """
    ep = np.asarray(entry, dtype="float64")
    lev = np.asarray(leverage, dtype="float64")
    s = side_sign(side)
    if (ep <= 0).any() or not np.isfinite(ep).all():
        raise ValueError("entry price must be finite and positive")
    if (lev < 1).any() or not np.isfinite(lev).all():
        raise ValueError("leverage must be finite and at least 1")
    if formula not in FORMULAS:
        raise ValueError(f"unknown formula {formula!r}; choose one of {FORMULAS}")
    if brackets is not None:
        if quantity is None:
            raise ValueError("bracket lookup needs the position quantity (base units)")
        q = np.asarray(quantity, dtype="float64")
        mmr, cum = brackets.lookup(q if inverse else ep * q)
    m = np.asarray(mmr, dtype="float64")
    c = np.asarray(cum, dtype="float64")
    if (m < 0).any() or (m >= 1).any():
        raise ValueError("maintenance-margin rate must be in [0, 1)")
    per_unit = 0.0
    if np.any(c != 0):
        if quantity is None:
            raise ValueError("a maintenance amount (cum) needs the position quantity (base units)")
        q = np.asarray(quantity, dtype="float64")
        if (q <= 0).any():
            raise ValueError("quantity must be positive")
        per_unit = c / q

    if inverse:
        with np.errstate(divide="ignore"):  # a 1x inverse short is never liquidated: inf
            return _inverse(formula, ep, lev, s, m, per_unit, np.asarray(fee, dtype="float64"))
    if formula == "simple":
        return ep * (1 - s / lev + s * m)
    if formula == "bybit":
        return ep * (1 - s / lev + s * m) - s * per_unit
    if formula == "binance":
        return (ep * (1 - s / lev) - s * per_unit) / (1 - s * m)
    f = np.asarray(fee, dtype="float64")
    return ep * (1 - s / lev) / (1 - s * (m + f))


def _inverse(formula: str, ep, lev, s, m, per_unit, fee) -> np.ndarray:
    """Inverse-contract liquidation prices; ``per_unit`` is ``cum / Q`` (coin per coin)."""
    if formula == "simple":
        return ep / (1 + s / lev - s * m)
    if formula == "bybit":
        return ep / (1 + s / lev - s * m + s * per_unit)
    if formula == "binance":
        return ep * (1 + s * m) / (1 + s / lev + s * per_unit)
    return ep * (1 + s * (m + fee)) / (1 + s / lev)
