"""Inverse (coin-margined) liquidation prices: worked examples against each exchange's
published formula, and the margin identity every formula must satisfy at its price."""

from __future__ import annotations

import numpy as np
import pytest

from liqwidget import ClusterModel, liquidation_price
from liqwidget.leverage import level_factors


def test_bybit_inverse_worked_example():
    # Bybit help centre, "Liquidation Price Calculation under Isolated Mode (Unified Trading
    # Account)", inverse contracts: LP(long) = Qty / [PV + (IM - MM)], PV = Qty / EP,
    # IM = PV / leverage, MM = PV * MMR - deduction. 60,000 USD long at 50,000, 10x, MMR 0.5 %:
    # PV = 1.2 BTC, IM = 0.12 BTC, MM = 0.006 BTC -> 60,000 / 1.314 = 45,662.10.
    p = liquidation_price(50_000, 10, "long", "bybit", mmr=0.005, inverse=True)
    assert round(float(p), 2) == 45_662.10
    # The short twin: Qty / [PV - (IM - MM)] = 60,000 / 1.086 = 55,248.62.
    p = liquidation_price(50_000, 10, "short", "bybit", mmr=0.005, inverse=True)
    assert round(float(p), 2) == 55_248.62
    # Bybit's older isolated example (long at 8,000 with 50x, MMR 0.5 %):
    # EP * L / (L + 1 - MMR * L) = 400,000 / 50.75 = 7,881.77.
    assert round(float(liquidation_price(8_000, 50, "long", inverse=True)), 2) == 7_881.77


def test_bybit_inverse_deduction():
    # A maintenance deduction of 0.001 BTC on that 1.2 BTC position lowers MM to 0.005 BTC:
    # 60,000 / (1.2 + 0.12 - 0.005) = 45,627.38.
    p = liquidation_price(
        50_000, 10, "long", "bybit", mmr=0.005, cum=0.001, quantity=1.2, inverse=True
    )
    assert round(float(p), 2) == 45_627.38


def test_binance_coinm_worked_example():
    # Binance FAQ "How to Calculate Liquidation Price of COIN-M Futures Contracts", isolated
    # mode (TMM = 0, UPNL = 0, WB = the position's isolated wallet balance), one long of
    # 10 BTCUSD contracts of 100 USD at 50,000 with 10x: WB = 1,000 / 50,000 / 10 = 0.002 BTC,
    # tier-1 MMR 0.4 %, cum 0: LP = N * (1 + MMR) / (WB + cum + N / EP)
    # = 1,004 / (0.002 + 0.02) = 45,636.36.
    p = liquidation_price(50_000, 10, "long", "binance", mmr=0.004, inverse=True)
    assert round(float(p), 2) == 45_636.36
    # short: N * (1 - MMR) / (N / EP - WB - cum) = 996 / 0.018 = 55,333.33
    p = liquidation_price(50_000, 10, "short", "binance", mmr=0.004, inverse=True)
    assert round(float(p), 2) == 55_333.33
    # With a maintenance amount: 300 BTC long (cum 11.605 BTC at MMR 5 %, the FAQ's own
    # bracket example) at 40,000, 5x: LP = 40,000 * 1.05 / (1 + 0.2 + 11.605 / 300).
    p = liquidation_price(
        40_000, 5, "long", "binance", mmr=0.05, cum=11.605, quantity=300.0, inverse=True
    )
    assert float(p) == pytest.approx(42_000 / (1.2 + 11.605 / 300))
    assert round(float(p), 2) == 33_906.97


def test_okx_inverse_worked_example():
    # OKX isolated coin-margined margin ratio = (margin + PnL) / (face * contracts / mark *
    # (mmr + fee)); liquidation at 100 %. 100 BTC-USD-SWAP contracts (100 USD face) long at
    # 50,000, 20x, mmr 0.4 %, taker fee 0.05 %:
    # LP = EP * (1 + mmr + fee) / (1 + 1/L) = 50,000 * 1.0045 / 1.05 = 47,833.33.
    p = liquidation_price(50_000, 20, "long", "okx", mmr=0.004, fee=0.0005, inverse=True)
    assert round(float(p), 2) == 47_833.33
    p = liquidation_price(50_000, 20, "short", "okx", mmr=0.004, fee=0.0005, inverse=True)
    assert round(float(p), 2) == round(50_000 * 0.9955 / 0.95, 2)


@pytest.mark.parametrize("formula", ["simple", "bybit", "binance", "okx"])
@pytest.mark.parametrize("side", ["long", "short"])
def test_inverse_margin_identity(formula, side):
    """At the liquidation price the coin margin left equals the coin maintenance margin."""
    ep, lev, m, fee = 42_000.0, np.array([2.0, 5.0, 20.0, 100.0]), 0.005, 0.0005
    usd = 25_000.0
    coins = usd / ep  # position value in coin at entry
    cum = 0.0004 if formula in ("bybit", "binance") else 0.0
    p = liquidation_price(
        ep, lev, side, formula, mmr=m, cum=cum, quantity=coins, fee=fee, inverse=True
    )
    s = 1.0 if side == "long" else -1.0
    margin_left = coins / lev + s * (usd / ep - usd / p)  # initial margin + coin PnL
    maintenance = {
        "simple": coins * m,  # on the value at entry (Bybit's convention)
        "bybit": coins * m - cum,
        "binance": usd / p * m - cum,  # on the value at the liquidation price
        "okx": usd / p * (m + fee),
    }[formula]
    np.testing.assert_allclose(margin_left, maintenance, rtol=1e-9, atol=1e-12)
    assert (p < ep).all() if side == "long" else (p > ep).all()


def test_inverse_differs_from_linear_and_factors():
    lin = liquidation_price(50_000, 10, "long", "simple", mmr=0.005)
    inv = liquidation_price(50_000, 10, "long", "simple", mmr=0.005, inverse=True)
    assert float(lin) == pytest.approx(45_250.0)
    assert float(inv) == pytest.approx(50_000 / 1.095)
    f = level_factors(np.array([10.0, 50.0]), "simple", mmr=0.005, inverse=True)
    np.testing.assert_allclose(f[0], 1 / (1 + 1 / np.array([10, 50]) - 0.005))
    np.testing.assert_allclose(f[1], 1 / (1 - 1 / np.array([10, 50]) + 0.005))


def test_simulated_inverse_market_and_the_model_follow_the_symbol():
    from liqwidget import simulate

    sim = simulate("calm-range", seed=3, days=0.25, symbol="BTC/USD:BTC", timeframe="5min")
    assert sim.market.symbol == "BTC/USD:BTC"
    pos = sim.positions
    s = np.where(pos["side"] == "long", 1.0, -1.0)
    want = pos["entry"] / (1 + s / pos["leverage"] - s * 0.005)  # inverse "simple" form
    # levels sit on the tick grid, rounded away from entry
    assert np.all(np.abs(pos["liq_price"] - want) <= sim.scenario.tick + 1e-9)
    # open interest of an inverse contract is its fixed USD amount, even valued at mark
    mark = simulate("calm-range", seed=3, days=0.25, symbol="BTC/USD:BTC", timeframe="5min",
                    oi_valuation="mark")  # fmt: skip
    np.testing.assert_allclose(mark.market.column("open_interest"),
                               sim.market.column("open_interest"))  # fmt: skip
    # the model places the estimate with the inverse formula because of the symbol
    model = ClusterModel(leverage={10: 1}, seed="none", turnover=None, leverage_jitter=0.0)
    lv = model.estimate(sim.market).raw
    assert len(lv)
    entry = model.entry_price(sim.market)[0][lv.birth - 1]
    np.testing.assert_allclose(
        lv.price / entry, np.where(lv.side == 0, 1 / (1.1 - 0.005), 1 / (0.9 + 0.005)), rtol=1e-12
    )
