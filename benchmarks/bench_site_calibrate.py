"""What ``liqwidget site build --calibrate`` costs on the default data.

Usage: python benchmarks/bench_site_calibrate.py [--repeat 2] [--jobs 2]

Builds the default site (the built-in simulated markets, default settings, an empty cache
each time, as a first ``liqwidget site build`` does) with and without ``--calibrate``,
alternating, in one run. The plain reference is the default build (every map drawn with the
prior leverage mix); the calibrated build fits each map's mix on the liquidations recorded
before its window. Prints the wall time of each build and of its phases, and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench_site import PROJECT, timed_build

from liqwidget.site.build import SiteOptions


def build(calibrate: bool, jobs: int) -> tuple[float, dict[str, float]]:
    with tempfile.TemporaryDirectory(prefix="liqwidget-bench-") as tmp:
        opts = SiteOptions(
            project=PROJECT,
            out=Path(tmp) / "public",
            cache_dir=Path(tmp) / "cache",
            jobs=jobs,
            calibrate=calibrate,
        )
        seconds, result = timed_build(opts, None)
        return seconds, result.timings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (the CLI's default)")
    args = ap.parse_args()
    runs: dict[str, list[float]] = {"default (reference)": [], "--calibrate": []}
    for i in range(args.repeat):
        for name, calibrate in (("default (reference)", False), ("--calibrate", True)):
            seconds, timings = build(calibrate, args.jobs)
            runs[name].append(seconds)
            phases = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
            print(f"run {i + 1} {name:20s} {seconds:6.1f} s  ({phases})", flush=True)
    ref = statistics.median(runs["default (reference)"])
    cal = statistics.median(runs["--calibrate"])
    print(f"\nmedian of {args.repeat}, {args.jobs} job(s), empty cache:")
    print(f"  liqwidget site build              {ref:6.1f} s")
    print(
        f"  liqwidget site build --calibrate  {cal:6.1f} s  ({cal / ref:.2f}x, +{cal - ref:.1f} s)"
    )


if __name__ == "__main__":
    main()
