"""Benchmark: simulate one week of 1-minute bars with about a million positions.

Usage: python benchmarks/bench_simulate.py [--days 7] [--rate 105] [--ref-days 0.5]

1. The full ``liqwidget.simulator`` (draws, step loop with cascade feedback, first-passage
   resolution of every position, bars, open interest, positions and event frames) for
   ``--days`` of 1-minute bars (15-second steps) plus a one-day warm-up, with ``--rate``
   positions opened per minute. Target: at most 10 s for a week with ~1M positions.
2. On a smaller market (``--ref-days``), the fast engine against the plain step-by-step
   reference (every open position checked at every step) on the same draws: the script
   checks that prices, levels, forced flow per step and every position's outcome are
   identical, and prints both times.

Each measurement runs in a fresh subprocess so that its peak memory (maximum resident set
size minus the size after imports) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

TARGET_S = 10.0


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_full(days: float, rate: float) -> dict:
    from liqwidget.simulator import simulate

    base = _rss_mb()
    t0 = time.perf_counter()
    sim = simulate("calm-range", seed=0, days=days, opens_per_minute=rate)
    wall = time.perf_counter() - t0
    t1 = time.perf_counter()
    grid = sim.truth_grid(2000, 1000)
    grid_s = time.perf_counter() - t1
    drawn_in_bars = int((sim.positions["open_time"] >= sim.market.index[0]).sum())
    return {
        "wall_s": wall,
        "grid_s": grid_s,
        "bars": len(sim.market),
        "steps": len(sim.path),
        "positions": len(sim.positions),
        "opened_in_bars": drawn_in_bars,
        "liquidations": len(sim.liquidations),
        "peak_mb": _rss_mb() - base,
        "grid_sum": float(grid.total.sum()),
    }


def measure_pair(days: float, rate: float) -> dict:
    import dataclasses

    import numpy as np

    from liqwidget.simulator.agents import draw_traders
    from liqwidget.simulator.engine import resolve, run_steps
    from liqwidget.simulator.engine_reference import run_reference
    from liqwidget.simulator.price_process import PriceRule, make_clock, make_schedule
    from liqwidget.simulator.scenarios import get_scenario

    sc = dataclasses.replace(
        get_scenario("long-squeeze"), days=days, warmup_days=days, opens_per_minute=rate
    )
    rng = np.random.default_rng(0)
    clock = make_clock(sc, "1min", "15s")
    schedule = make_schedule(sc, clock, rng)
    traders = draw_traders(sc, clock, schedule, rng)
    rule = PriceRule.from_scenario(sc, clock)

    t0 = time.perf_counter()
    fast = run_steps(traders, schedule, rule, sc.start_price)
    outcome = resolve(traders, fast)
    fast_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    ref, ref_outcome = run_reference(traders, schedule, rule, sc.start_price)
    ref_s = time.perf_counter() - t0
    same = {
        "price": bool(np.array_equal(fast.price, ref.price)),
        "levels": bool(np.array_equal(fast.level, ref.level)),
        "forced_per_step": bool(np.array_equal(fast.forced, ref.forced)),
        "end_step": bool(np.array_equal(outcome.end_step, ref_outcome.end_step)),
        "liquidated": bool(np.array_equal(outcome.liquidated, ref_outcome.liquidated)),
    }
    return {
        "fast_s": fast_s,
        "ref_s": ref_s,
        "steps": clock.n,
        "positions": len(traders),
        "liquidated": int(outcome.liquidated.sum()),
        "forced_total": int(fast.forced.sum()),
        "same": same,
    }


def run_child(kind: str, days: float, rate: float) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--days", str(days), "--rate", str(rate)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        sys.stderr.write(out.stderr)
        raise SystemExit(f"benchmark child '{kind}' failed (exit {out.returncode}); see above")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=float, default=7.0)
    ap.add_argument("--rate", type=float, default=105.0, help="positions opened per minute")
    ap.add_argument("--ref-days", type=float, default=0.5)
    ap.add_argument("--ref-rate", type=float, default=60.0)
    ap.add_argument("--child", choices=["full", "pair"])
    args = ap.parse_args()
    if args.child:
        fn = measure_full if args.child == "full" else measure_pair
        print(json.dumps(fn(args.days, args.rate)))
        return 0

    print(f"simulate('calm-range'): {args.days:g} days of 1-minute bars, {args.rate:g} opens/min")
    full = run_child("full", args.days, args.rate)
    ok_time = full["wall_s"] <= TARGET_S
    print(
        f"  wall {full['wall_s']:.2f} s for {full['bars']:,} bars ({full['steps']:,} steps), "
        f"{full['positions']:,} positions in the frame ({full['opened_in_bars']:,} opened during "
        f"the bars), {full['liquidations']:,} liquidations; peak memory +{full['peak_mb']:.0f} MB"
    )
    print(f"  truth_grid(2000, 1000): {full['grid_s']:.2f} s")
    print(f"  target <= {TARGET_S:.0f} s: {'met' if ok_time else 'MISSED'}")

    print(f"\nfast engine vs plain reference: {args.ref_days:g} days + equal warm-up, same draws")
    pair = run_child("pair", args.ref_days, args.ref_rate)
    same = pair["same"]
    print(
        f"  {pair['steps']:,} steps, {pair['positions']:,} positions, "
        f"{pair['liquidated']:,} liquidated, forced flow {pair['forced_total'] / 1e6:,.1f} M"
    )
    print(
        f"  fast {pair['fast_s']:.3f} s, reference {pair['ref_s']:.3f} s "
        f"({pair['ref_s'] / pair['fast_s']:.0f}x)"
    )
    print("  identical: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in same.items()))
    return 0 if ok_time and all(same.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
