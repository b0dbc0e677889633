"""Liquidation-price formulas: worked examples from the design notes and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from liqwidget import Brackets, liquidation_price, load_brackets
from liqwidget.leverage import level_factors
from liqwidget.sides import side_sign


def test_binance_worked_example():
    # 1 BTC long at 67,000, 10x, mmr 0.4 %, cum 0 -> 60,542.17
    p = liquidation_price(67_000, 10, "long", "binance", mmr=0.004, cum=0.0, quantity=1.0)
    assert round(float(p), 2) == 60_542.17


def test_simple_worked_example():
    # long at 20,000, 50x, m = 0.5 % -> 19,700
    assert float(liquidation_price(20_000, 50, "long", mmr=0.005)) == pytest.approx(19_700.0)
    assert float(liquidation_price(20_000, 50, "short", mmr=0.005)) == pytest.approx(20_300.0)


def test_binance_with_brackets_uses_the_notional_bracket():
    b = load_brackets("binanceusdm-BTCUSDT")
    # 1 BTC at 67,000 is 67,000 notional -> bracket 2: mmr 0.5 %, cum 50.
    p = liquidation_price(67_000, 10, "long", "binance", quantity=1.0, brackets=b)
    assert float(p) == pytest.approx((67_000 * 0.9 - 50) / (1 - 0.005))
    mmr, cum = b.lookup([0, 49_999, 50_000, 3e6, 2e9])
    np.testing.assert_allclose(mmr, [0.004, 0.004, 0.005, 0.01, 0.5])
    np.testing.assert_allclose(cum, [0, 0, 50, 11_450, 421_481_450])


def test_bracket_amounts_are_continuous():
    b = load_brackets()
    floors = np.asarray(b.floor)[1:]
    below = b.lookup(floors - 1e-6)
    at = b.lookup(floors)
    # maintenance margin = notional * mmr - cum must not jump at a bracket floor
    np.testing.assert_allclose(floors * below[0] - below[1], floors * at[0] - at[1], atol=1e-3)


def test_brackets_from_ccxt_tiers():
    tiers = [
        {"minNotional": 0, "maxNotional": 50_000, "maintenanceMarginRate": 0.004, "maxLeverage": 125, "info": {}},
        {"minNotional": 50_000, "maxNotional": 600_000, "maintenanceMarginRate": 0.005, "maxLeverage": 100, "info": {}},
    ]  # fmt: skip
    b = Brackets.from_ccxt(tiers)
    np.testing.assert_allclose(b.cum, [0.0, 50.0])
    with pytest.raises(ValueError, match="start at 0"):
        Brackets.from_records([{"floor": 10, "mmr": 0.01, "cum": 0}])


def test_bybit_equals_simple_without_deduction_and_okx_form():
    e, lev = np.array([30_000.0, 31_000.0]), np.array([20.0, 5.0])
    for side in ("long", "short"):
        np.testing.assert_allclose(
            liquidation_price(e, lev, side, "bybit", mmr=0.005),
            liquidation_price(e, lev, side, "simple", mmr=0.005),
        )
    okx = liquidation_price(30_000, 20, "long", "okx", mmr=0.004, fee=0.0005)
    assert float(okx) == pytest.approx(30_000 * 0.95 / (1 - 0.0045))
    bybit = liquidation_price(30_000, 20, "long", "bybit", mmr=0.01, cum=100, quantity=2)
    assert float(bybit) == pytest.approx(30_000 * (1 - 0.05 + 0.01) - 50)


def test_sides_from_pandas_text_columns():
    import pandas as pd

    sides = pd.Series(["long", "short", "LONG"]).to_numpy()  # object dtype in pandas 3
    np.testing.assert_array_equal(side_sign(sides), [1.0, -1.0, 1.0])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown side"):
        liquidation_price(100, 10, "up")
    with pytest.raises(ValueError, match="leverage"):
        liquidation_price(100, 0.5, "long")
    with pytest.raises(ValueError, match="entry price"):
        liquidation_price(-1, 10, "long")
    with pytest.raises(ValueError, match="unknown formula"):
        liquidation_price(100, 10, "long", "kraken")
    with pytest.raises(ValueError, match="quantity"):
        liquidation_price(100, 10, "long", "binance", cum=5)


formulas = st.sampled_from(["simple", "binance", "bybit", "okx"])
entries = st.floats(1.0, 1e6)
leverages = st.floats(1.5, 125.0)


@given(entries, leverages, st.floats(0.0, 0.004), formulas)
def test_long_below_short_above_entry(entry, lev, mmr, formula):
    qty = 1.0 if formula in ("binance", "bybit") else None
    long_p = liquidation_price(entry, lev, "long", formula, mmr=mmr, quantity=qty)
    short_p = liquidation_price(entry, lev, "short", formula, mmr=mmr, quantity=qty)
    assert long_p < entry < short_p


@given(entries, leverages, leverages, st.floats(0.0, 0.004), formulas)
def test_higher_leverage_sits_closer_to_entry(entry, a, b, mmr, formula):
    lo, hi = sorted((a, b))
    if hi - lo < 1e-6:
        return
    qty = 1.0 if formula in ("binance", "bybit") else None
    for side in ("long", "short"):
        far = liquidation_price(entry, lo, side, formula, mmr=mmr, quantity=qty)
        near = liquidation_price(entry, hi, side, formula, mmr=mmr, quantity=qty)
        assert abs(near - entry) < abs(far - entry)


def test_vectorised_over_arrays_and_level_factors():
    lev = np.array([5.0, 10, 25, 50, 100])
    f = level_factors(lev, "simple", mmr=0.005)
    np.testing.assert_allclose(f[0], 1 - 1 / lev + 0.005)
    np.testing.assert_allclose(f[1], 1 + 1 / lev - 0.005)
    with pytest.raises(ValueError, match="wrong side of entry"):
        level_factors(np.array([150.0]), "simple", mmr=0.01)
