"""Accuracy report: the cluster model against naive baselines, on the simulator and real bars.

Usage: python benchmarks/accuracy.py [--seeds 11 12] [--timeframes 5min 1h]

For every simulator scenario, with traders using the simulator's own leverage mix and a
wider 3x-125x mix the model does not assume, it scores per bar (Spearman ρ between swept
and real liquidations) the plain create/consume/proportional-removal model (empty book,
50/50, five fixed tiers) and the default model, next to the wick × OI, |return| × OI and
OI-drop baselines computed from the same bars.

The real Binance sample has no liquidations, so it cannot be scored; instead the report
shows the mechanism the defaults fix: how often a bar wicks at least 0.25 % past its open
while the model has nothing there to sweep (real feeds almost never show a liquidation-free
hour on BTC).
"""

from __future__ import annotations

import argparse
import itertools
import sys
import warnings

import pandas as pd

import liqwidget as lw
from liqwidget.calibration import baselines, calibrate
from liqwidget.leverage import WIDE_LEVERAGE
from liqwidget.simulator import SCENARIOS, simulate

MODELS = {"plain": lw.ClusterModel.plain(), "default": lw.ClusterModel()}


def simulated(seeds, timeframes) -> pd.DataFrame:
    rows = []
    for (name, mix, seed), tf in itertools.product(
        itertools.product(SCENARIOS, ("own", "wide"), seeds), timeframes
    ):
        sim = simulate(name, seed=seed, leverage=WIDE_LEVERAGE if mix == "wide" else None)
        market = sim.market.resample(tf)
        for label, model in MODELS.items():
            t = calibrate(model.estimate(market), sim.liquidations).timing
            for side in ("long", "short"):
                row = {"scenario": name, "traders": mix, "seed": seed, "timeframe": tf}
                row |= {"side": side, "model": label, "rho": t.loc[(side, "model"), "spearman"]}
                if label == "default":
                    row["precision"] = t.loc[(side, "model"), "top_decile_precision"]
                    for b in ("wick × OI", "|return| × OI", "OI drop"):
                        row[b] = t.loc[(side, b), "spearman"]
                rows.append(row)
    return pd.DataFrame(rows)


def real_sample() -> pd.DataFrame:
    market = lw.load_sample().resample("1h")
    o = market.column("open")
    wick = baselines(market)["wick × OI"]
    out = []
    for label, model in MODELS.items():
        swept = model.estimate(market).swept
        for side, move in (
            ("long", o - market.column("low")),
            ("short", market.column("high") - o),
        ):
            big = move / o >= 0.0025
            empty = big & (swept[side].to_numpy() == 0)
            rho = pd.Series(swept[side].to_numpy()).corr(
                pd.Series(wick[side].to_numpy()), "spearman"
            )
            out.append(
                {
                    "model": label,
                    "side": side,
                    "bars wicking ≥0.25 %": int(big.sum()),
                    "…with nothing swept": int(empty.sum()),
                    "ρ(swept, wick × OI)": rho,
                }
            )
    return pd.DataFrame(out)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[11, 12])
    p.add_argument("--timeframes", nargs="+", default=["5min", "1h"])
    a = p.parse_args()
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    pd.set_option("display.width", 160)
    df = simulated(a.seeds, a.timeframes)
    piv = df.pivot_table(
        index=["timeframe", "traders", "side"], columns="model", values="rho", aggfunc="mean"
    )
    base = (
        df[df["model"] == "default"]
        .groupby(["timeframe", "traders", "side"])[
            ["wick × OI", "|return| × OI", "OI drop", "precision"]
        ]
        .mean()
    )
    table = piv.join(base)
    table["default beats wick"] = table["default"] > table["wick × OI"]
    print("Mean Spearman ρ per bar, simulator scenarios", list(SCENARIOS), "seeds", a.seeds)
    print(table.round(3).to_string())
    d = df[df["model"] == "default"]
    wins = (d["rho"] > d["wick × OI"]).groupby([d["timeframe"], d["side"]]).mean()
    print("\nShare of single scenario runs where the default beats wick × OI:")
    print(wins.round(2).to_string())
    print("\nReal Binance BTCUSDT sample, hourly bars (no liquidations to score):")
    print(real_sample().round(3).to_string(index=False))
    return 0 if bool(table["default beats wick"].all()) else 1


if __name__ == "__main__":
    sys.exit(main())
