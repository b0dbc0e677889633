"""Timing scores on real hourly bars with real liquidation totals: model against every baseline.

Usage: python benchmarks/real_hourly.py FILE [--markdown]

``FILE`` is a CSV of bars (hourly, or any other bar size) with open interest and
long/short liquidation totals per bar, in the column layout of the CoinGlass exports that
the public repository ``ismethanhtung/btc-liquidations-analysis`` publishes
(``data/coinglass_BTC_regime_1h_1y.csv``: BTC, December 2025 to June 2026, 4,312 hours;
liquidations summed over Binance, Bybit and OKX, open interest of Binance's BTCUSDT
perpetual, candles from Binance spot). Columns read:
``timestamp`` (ms), ``price_open/high/low/close``, ``oi_close`` (USD) and
``liquidation_long_usd`` / ``liquidation_short_usd``. The file is not shipped (its licence
is not stated); nothing here needs the network.

Hourly totals carry no prices, so only *when* can be scored: per hour, the model's swept
long/short notional against the real totals (Spearman ρ, top-decile precision with its
Wilson 95 % interval, share of real notional in the top decile), next to wick × OI,
|return| × OI and OI drop. Rows:

* the **prior model** (``ClusterModel()``) on the whole record, on its first half (where
  the default leverage prior was chosen) and on its second half (where it was checked);
* the **earlier prior** (the 3x-125x mix the model shipped with before) on the same
  stretches, for comparison;
* the **calibrated model** (``calibrated``: mix fitted to the first half's liquidations),
  scored on the held-out second half only.

The exit status is 0 when the prior model's top-decile precision and Spearman ρ beat every
baseline on both sides, on the whole record and on the held-out second half.
"""

from __future__ import annotations

import argparse
import sys
import warnings

import pandas as pd

from liqwidget.calibration import calibrate, calibrated, slice_estimate
from liqwidget.market import MarketData
from liqwidget.model import ClusterModel

#: The prior the model shipped with before it was checked against real liquidations.
EARLIER_PRIOR = {3: 0.10, 5: 0.15, 10: 0.20, 20: 0.20, 50: 0.15, 100: 0.12, 125: 0.08}
COLUMNS = {
    "timestamp": "timestamp",
    "price_open": "open",
    "price_high": "high",
    "price_low": "low",
    "price_close": "close",
    "oi_close": "open_interest",
}
TOTALS = {"liquidation_long_usd": "long", "liquidation_short_usd": "short"}


def load(path: str) -> tuple[MarketData, pd.DataFrame]:
    """Bars and per-bar liquidation totals from a CoinGlass-layout CSV."""
    raw = pd.read_csv(path)
    missing = [c for c in (*COLUMNS, *TOTALS) if c not in raw.columns]
    if missing:
        raise SystemExit(f"{path}: missing column(s) {missing}; see this script's docstring")
    market = MarketData.from_frame(
        raw[list(COLUMNS)].rename(columns=COLUMNS), allow_gaps=True, symbol="BTC/USDT:USDT"
    )
    totals = raw[list(TOTALS)].rename(columns=TOTALS).set_index(market.index)
    return market, totals


def rows(label: str, cal) -> list[dict]:
    """One row per side: ρ and top-decile precision of the model and of each baseline."""
    out = []
    for side in ("long", "short"):
        row = {"stretch": label, "side": side}
        for score, r in cal.timing.loc[side].iterrows():
            row[f"{score}: ρ"] = f"{r['spearman']:.3f}"
            row[f"{score}: top decile"] = f"{r['top_decile_precision']:.0%}"
            if score == "model":
                row["model: 95 % interval"] = f"{r['precision_low']:.0%}–{r['precision_high']:.0%}"
        out.append(row)
    return out


def markdown(frame: pd.DataFrame) -> str:
    heads = [str(c).replace("|", "\\|") for c in frame.columns]
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in frame.itertuples(index=False)]
    return "\n".join(lines)


def wins(cal) -> bool:
    """Whether the model beats every baseline on both sides, on ρ and top-decile precision."""
    return all(cal.beats(b, metric="both") for b in cal.timing.loc["long"].index.drop("model"))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("file", help="CSV in the CoinGlass export layout (see the docstring)")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = p.parse_args(argv)
    market, totals = load(args.file)
    n = len(market)
    half = n // 2
    print(
        f"{args.file}: {n} bars of {market.timeframe}, {market.index[0]} to {market.index[-1]}, "
        f"{len(market.gaps)} gap(s); liquidated: longs {totals['long'].sum() / 1e9:.2f} bn USD, "
        f"shorts {totals['short'].sum() / 1e9:.2f} bn USD",
        flush=True,
    )
    stretches = {
        "whole": (0, None),
        "first half": (0, half),
        "second half": (half, None),
    }
    table, verdicts = [], {}
    for name, model in (("prior", ClusterModel()), ("earlier prior", ClusterModel(EARLIER_PRIOR))):
        est = model.estimate(market)
        for label, (a, b) in stretches.items():
            cal = calibrate(slice_estimate(est, a, b), totals.iloc[a:b])
            table += rows(f"{name}, {label}", cal)
            verdicts[(name, label)] = wins(cal)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        fit = calibrated(market, totals)
    table += rows("calibrated on the first half, second half", fit.test)
    verdicts[("calibrated", "second half")] = wins(fit.test)
    frame = pd.DataFrame(table)
    print(markdown(frame) if args.markdown else frame.to_string(index=False))
    for w in {str(w.message) for w in said}:
        print(f"calibrated: {w}")
    mix = ", ".join(f"{k:g}x {v:.2f}" for k, v in fit.leverage.items() if fit.identified[k])
    print(f"calibrated: identified tiers {mix or 'none'}; churn half-life {fit.model.turnover}")
    print("\nBeats every baseline on both sides (ρ and top-decile precision):")
    for (name, label), ok in verdicts.items():
        print(f"  {name:13s} {label:12s} {'yes' if ok else 'NO'}")
    return 0 if verdicts[("prior", "whole")] and verdicts[("prior", "second half")] else 1


if __name__ == "__main__":
    sys.exit(main())
