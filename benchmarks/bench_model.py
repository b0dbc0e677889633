"""Benchmark: ClusterModel.estimate + a 2000 × 1000 grid, against the plain per-bar reference.

Usage: python benchmarks/bench_model.py [--sizes 10000 100000 525600] [--no-reference-above N]

Each measurement runs in a fresh subprocess so that its peak memory (maximum resident set
size above the process's baseline after the bars are built) is its own. Both
implementations run on the same synthetic one-minute bars (a random walk with volatility
clustering and an open-interest series that drifts, spikes and unwinds), and the script
checks that they give the same swept notional per bar and the same grid.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

WIDTH, HEIGHT = 2000, 1000


def synthetic_bars(n: int, seed: int = 7):
    """One-minute BTC-like bars with open interest in USD."""
    from liqwidget.synthetic import synthetic_market

    return synthetic_market(n, seed)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(kind: str, n: int, preset: str = "default") -> dict:
    """Run one implementation once on n bars (in this process) and report time and memory."""
    import liqwidget as lw
    from liqwidget.model_reference import reference_grid, run_reference

    market = synthetic_bars(n)
    model = lw.ClusterModel.plain() if preset == "plain" else lw.ClusterModel()
    base = _rss_mb()
    t0 = time.perf_counter()
    if kind == "fast":
        est = model.estimate(market)
        swept = est.swept.to_numpy()
        grid = est.grid(WIDTH, HEIGHT)
        g_long, g_short = grid.long, grid.short
    else:
        ref = run_reference(model, market)
        swept = ref.swept
        g_long, g_short = reference_grid(model, market, ref.death, WIDTH, HEIGHT)
    seconds = time.perf_counter() - t0
    peak = _rss_mb() - base
    return {
        "kind": kind,
        "n": n,
        "seconds": seconds,
        "peak_mb": peak,
        "swept_sum": float(swept.sum()),
        "swept_digest": [float(x) for x in swept[:: max(1, n // 997)].ravel()],
        "grid_sum": float(g_long.sum() + g_short.sum()),
        "grid_digest": [float(g_long[:, ::97].sum()), float(g_short[::53, :].sum())],
    }


def run_child(kind: str, n: int, preset: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(n), preset],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def same(a: dict, b: dict) -> bool:
    def close(x, y):
        return np.allclose(np.asarray(x), np.asarray(y), rtol=1e-9, atol=1e-3)

    return all(close(a[k], b[k]) for k in ("swept_sum", "swept_digest", "grid_sum", "grid_digest"))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 525_600])
    p.add_argument("--no-reference-above", type=int, default=10**9)
    p.add_argument(
        "--model",
        choices=["default", "plain"],
        default="default",
        help="ClusterModel() or ClusterModel.plain() (5 tiers, no turnover: fewer levels)",
    )
    p.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.child:
        print(json.dumps(measure(a.child[0], int(a.child[1]), a.child[2])))
        return 0
    print(f"estimate + {WIDTH}x{HEIGHT} grid, {a.model} ClusterModel, synthetic 1-minute bars")
    print(
        f"{'bars':>8} | {'fast s':>8} {'fast MB':>8} | {'reference s':>11} {'ref MB':>8} | "
        f"{'speed-up':>8} | same numbers"
    )
    ok = True
    for n in a.sizes:
        fast = run_child("fast", n, a.model)
        if n <= a.no_reference_above:
            ref = run_child("reference", n, a.model)
            agree = same(fast, ref)
            ok &= agree
            print(
                f"{n:>8} | {fast['seconds']:8.3f} {fast['peak_mb']:8.0f} | "
                f"{ref['seconds']:11.2f} {ref['peak_mb']:8.0f} | "
                f"{ref['seconds'] / fast['seconds']:7.0f}x | {'yes' if agree else 'NO'}"
            )
        else:
            print(
                f"{n:>8} | {fast['seconds']:8.3f} {fast['peak_mb']:8.0f} | "
                f"{'(skipped)':>11} {'':>8} | {'':>8} |"
            )
        sys.stdout.flush()
    year = [r for r in a.sizes if r >= 525_600]
    if year:
        print("target: a year of 1-minute bars into a 2000x1000 grid in <= 1 s and <= 1 GB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
