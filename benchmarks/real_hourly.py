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

Bars alone also check the forecast's reach chance (``liqwidget.forecast.Reach``) on
records as short as the simulator's: the bars cut into four-day pieces without gaps, and
in each piece's second half the chance it gives of price moving 0.25 to 4 horizon moves
either way within 1 and 4 hours, against what happened (mean chance, how often, and the
Brier score summed over those distances), with the random-walk prior it leans on while the
record is short (``VOL_MIX``) and with the guess that prior replaced.

The exit status is 0 when the prior model's top-decile precision and Spearman ρ beat every
baseline on both sides, on the whole record and on the held-out second half.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from unittest import mock

import numpy as np
import pandas as pd

from liqwidget import forecast
from liqwidget.calibration import calibrate, calibrated, slice_estimate
from liqwidget.market import MarketData, MarketDataError
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
#: The reach prior's volatility mix before it was fitted to real BTC.
EARLIER_MIX = ((1.0, 0.7), (2.5, 0.3))
#: Distances (horizon moves) and record length (days) of the reach check.
REACH_MOVES = np.array([0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0])
PIECE = pd.Timedelta("4D")


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


def reach_check(market: MarketData, horizon: str) -> dict[str, np.ndarray]:
    """Per distance in :data:`REACH_MOVES`: how often price got that far within ``horizon``
    in the second half of each gap-free four-day piece, the mean chance ``Reach`` gave it
    (with the current prior and with :data:`EARLIER_MIX`), and their Brier scores. Empty
    when no such piece exists."""
    frame = market.frame
    size = int(PIECE / market.timeframe)
    chance = {"current": [], "earlier": []}
    seen = []
    for a in range(0, len(frame) - size + 1, size):
        try:
            piece = MarketData.from_frame(frame.iloc[a : a + size])
        except MarketDataError:
            continue  # a gap: its moves are not a horizon's
        high, low, start = (np.log(piece.column(c)) for c in ("high", "low", "open"))
        reach = forecast.Reach(piece, horizon)  # the prior is read when it is asked
        origins = np.arange(size // 2, size - reach.span + 1)
        far = REACH_MOVES[None, :] * (reach.sigma[origins] * np.sqrt(reach.bars))[:, None]
        for label, mix in (("current", forecast.VOL_MIX), ("earlier", EARLIER_MIX)):
            with mock.patch.object(forecast, "VOL_MIX", mix):
                p = reach(far, origins[:, None])
            chance[label] += [p, p]  # the same chance up and down
        win = np.lib.stride_tricks.sliding_window_view
        up = win(high, reach.span).max(axis=1)[origins] - start[origins]
        down = start[origins] - win(low, reach.span).min(axis=1)[origins]
        seen += [up[:, None] >= far, down[:, None] >= far]
    if not seen:
        return {}
    hit = np.concatenate(seen).astype(float)
    out = {"seen": hit.mean(axis=0)}
    for label, parts in chance.items():
        p = np.concatenate(parts)
        out[label] = p.mean(axis=0)
        out[f"{label} brier"] = ((p - hit) ** 2).mean(axis=0)
    return out


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
    print(f"\nReach chance on {PIECE.days}-day records (second halves), per horizon move:")
    print("  moves            " + " ".join(f"{z:6.2f}" for z in REACH_MOVES) + "   Brier (sum)")
    for horizon in ("1h", "4h"):
        got = reach_check(market, horizon)
        if not got:
            print(f"  {horizon}: no gap-free {PIECE.days}-day piece in the bars")
            continue
        print(f"  {horizon} seen          " + " ".join(f"{v:6.3f}" for v in got["seen"]))
        for label in ("current", "earlier"):
            brier = got[f"{label} brier"].sum()
            cells = " ".join(f"{v:6.3f}" for v in got[label])
            print(f"  {horizon} {label + ' prior':13s} {cells}   {brier:.4f}")
    print("\nBeats every baseline on both sides (ρ and top-decile precision):")
    for (name, label), ok in verdicts.items():
        print(f"  {name:13s} {label:12s} {'yes' if ok else 'NO'}")
    return 0 if verdicts[("prior", "whole")] and verdicts[("prior", "second half")] else 1


if __name__ == "__main__":
    sys.exit(main())
