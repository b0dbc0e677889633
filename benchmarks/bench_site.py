"""Site build speed and snapshot page weight.

Usage: python benchmarks/bench_site.py [--count 30] [--source auto|sim|sample] [--skip-parallel]

Builds ``--count`` snapshots from built-in data several ways, in one run:

* **reference** — the plain way: one process, no cache, every snapshot recomputed;
* **cached build** — empty cache, one process, then with two forked workers
  (``liqwidget site build`` uses two on a multi-core machine);
* **rebuild** — the same build again: every snapshot comes from the rebuild cache;
* **new data** — the site one cadence step earlier, then the data that adds the newest
  snapshot: only that one is computed.

Then builds sites of 1, 2 and 4 built-in simulated markets (``--markets-per-site``), each
market with the same number of snapshots, and compares each with the plain reference of
building every market as a site of its own: build time should grow linearly with markets
(CPU seconds per market about constant, and no more than the separate sites' sum).

Then weighs each snapshot's own files (post HTML, embed HTML, preview PNG, numbers JSON; the
shared BokehJS bundles excluded) and compares them with a plain self-contained Bokeh page of
the same figure (``bokeh.embed.file_html`` with BokehJS inlined). Targets: 30 snapshots
≤ 60 s, a snapshot page ≤ 600 KB.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from liqwidget.site.build import SiteOptions, build_site, load_data
from liqwidget.site.pages import embed_path, numbers_path, post_url, preview_path
from liqwidget.site.schedule import snapshot_times
from liqwidget.sources.dataset import SIM_MARKETS, Dataset

PROJECT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 60.0
BUDGET_BYTES = 600 * 1024


def cpu_seconds() -> float:
    """CPU time of this process and its finished worker processes."""
    me, kids = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed_build(opts: SiteOptions, data) -> tuple[float, object]:
    t, c = time.perf_counter(), cpu_seconds()
    result = build_site(opts, data=data, progress=lambda m: None)
    result.cpu = cpu_seconds() - c
    return time.perf_counter() - t, result


def page_weights(out: Path, slug: str) -> dict[str, int]:
    return {
        "post": (out / post_url(slug)).stat().st_size,
        "embed": (out / embed_path(slug)).stat().st_size,
        "map document": sum(f.stat().st_size for f in (out / "embed").glob(f"{slug}.*.js")),
        "preview": (out / preview_path(slug)).stat().st_size,
        "json": (out / numbers_path(slug)).stat().st_size,
    }


def references(out: Path, page: str) -> list[str]:
    """Site-relative files a page loads by itself: scripts, stylesheets, images, frames."""
    import re
    from urllib.parse import urljoin

    html = (out / page).read_text()
    refs = re.findall(r'<(?:script|img|iframe)[^>]*\ssrc="([^"]+)"', html)
    refs += re.findall(r'<link[^>]*rel="stylesheet"[^>]*href="([^"]+)"', html)
    base = "http://x/" + page
    rels = [urljoin(base, r)[len("http://x/") :] for r in refs if not r.startswith("data:")]
    return [r.split("#")[0].split("?")[0] for r in rels]


def transfer(out: Path, files: list[str]) -> tuple[int, int, int]:
    """Bytes of ``files`` as stored, and as a host serving the .gz / .br copies sends them."""
    raw = gz = br = 0
    for rel in dict.fromkeys(files):
        f = out / rel
        size = f.stat().st_size
        raw += size
        gz += (
            f.with_name(f.name + ".gz").stat().st_size
            if f.with_name(f.name + ".gz").exists()
            else size
        )
        br += (
            f.with_name(f.name + ".br").stat().st_size
            if f.with_name(f.name + ".br").exists()
            else size
        )
    return raw, gz, br


def on_demand(out: Path, page: str) -> list[str]:
    """Site-relative files an embed's facade loads when the reader opens the map."""
    import html
    import re
    from urllib.parse import urljoin

    text = (out / page).read_text()
    srcs = re.findall(r'data-bokeh="([^"]+)"', text)[0].split()
    srcs += re.findall(r'data-doc="([^"]+)"', text)
    base = "http://x/" + page
    return [urljoin(base, html.unescape(s))[len("http://x/") :] for s in srcs]


def reader_downloads(out: Path, slug: str) -> dict[str, tuple[int, int, int]]:
    """What a reader's browser fetches: the embed at first sight and once made interactive,
    and the snapshot post (its own files plus the embed at first sight)."""
    embed = embed_path(slug)
    at_once = [embed, *references(out, embed)]
    post = [post_url(slug), *references(out, post_url(slug))]
    return {
        "embed, at first sight": transfer(out, at_once),
        "embed, made interactive": transfer(out, at_once + on_demand(out, embed)),
        "snapshot post (with its embed)": transfer(out, post + at_once),
    }


def inline_reference_bytes(data, opts: SiteOptions, time_) -> int:
    """A plain self-contained page of one snapshot's figure, BokehJS inlined."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    from liqwidget.site.snapshot import SnapshotSpec, compute, figure_for

    snap = compute(data, SnapshotSpec(time_, None, window=opts.window))
    return len(file_html(figure_for(snap), INLINE, "reference").encode())


def markets_growth(args, base: dict, work: Path) -> bool:
    """Sites of 1, 2, 4 markets against the same markets built as separate sites."""
    sizes = [int(x) for x in args.markets_per_site.split(",")]
    names = list(SIM_MARKETS)[: max(sizes)]
    t = time.perf_counter()
    opts = {
        **base,
        "source": "sim",
        "count": args.per_market,
        "cadence": "12h",
        "lookback": "7D",
        "incremental": False,
        "jobs": 1,
    }
    markets = load_data(SiteOptions(**opts, markets=tuple(names)), work / "data")
    print(
        f"\nmarkets per site ({args.per_market} snapshots each, 1 process, no cache; "
        f"{len(markets)} simulated markets loaded in {time.perf_counter() - t:.1f} s)"
    )
    alone = {}
    for d in markets[: max(sizes)]:
        _, res = timed_build(
            SiteOptions(**opts, out=work / f"one-{d.section}", cache_dir=work / "m-cache"), d
        )
        alone[d.section] = res.cpu
    print(
        f"{'markets':>8} {'snapshots':>10} {'wall s':>8} {'CPU s':>8} {'CPU s/market':>13} "
        f"{'separate sites CPU s':>21} {'ratio':>6}"
    )
    per = []
    for k in sizes:
        part = markets[:k]
        wall, res = timed_build(
            SiteOptions(**opts, out=work / f"m{k}", cache_dir=work / "m-cache"), part
        )
        ref = sum(alone[d.section] for d in part)
        per.append(res.cpu / k)
        print(
            f"{k:>8} {len(res.snapshots):>10} {wall:>8.1f} {res.cpu:>8.1f} {res.cpu / k:>13.1f} "
            f"{ref:>21.1f} {res.cpu / ref:>6.2f}"
        )
    spread = max(per) / min(per)
    linear = spread < 1.35
    print(
        f"  CPU per market varies {spread:.2f}× across site sizes: "
        + ("linear growth" if linear else "NOT linear")
    )
    return linear


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=30)
    ap.add_argument("--source", default="auto")
    ap.add_argument("--cadence", default="5h", help="5h fits 30 snapshots into 8 simulated days")
    ap.add_argument("--lookback", default="8D")
    ap.add_argument("--skip-parallel", action="store_true", help="skip the --jobs 2 build")
    ap.add_argument("--markets-per-site", default="1,2,4", help="site sizes to time (1,2,4)")
    ap.add_argument("--per-market", type=int, default=6, help="snapshots per market (6)")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-site-"))
    try:
        base = dict(
            project=PROJECT,
            source=args.source,
            cadence=args.cadence,
            lookback=args.lookback,
            count=args.count,
        )
        t = time.perf_counter()
        data = load_data(SiteOptions(**base, markets=("btc",)), work / "data")[0]
        load_s = time.perf_counter() - t
        print(f"data: {data.name} — {data.origin} ({load_s:.1f} s to load)")
        load = os.getloadavg()[0]
        print(
            f"machine: {os.cpu_count()} CPUs, load average {load:.1f} at start (shared machine: "
            "wall times vary with other work; CPU seconds do not)"
        )

        def row(label: str, seconds: float, res) -> None:
            print(f"{label:<52} {seconds:6.1f} s wall {res.cpu:6.1f} s CPU  ({res.built} built)")

        print()
        ref = SiteOptions(
            **base, out=work / "ref", cache_dir=work / "ref-cache", incremental=False, jobs=1
        )
        ref_s, ref_result = timed_build(ref, data)
        row("plain reference: recompute all, 1 process", ref_s, ref_result)

        cold = SiteOptions(**base, out=work / "cold", cache_dir=work / "cache")
        cold_s, result = timed_build(cold, data)
        n = len(result.snapshots)
        row(f"cached build, 1 process, empty cache ({n} snapshots)", cold_s, result)
        parts = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
        print(f"{'':<52} ({parts})")

        if not args.skip_parallel:
            par = SiteOptions(**base, out=work / "par", cache_dir=work / "par-cache", jobs=2)
            par_s, par_result = timed_build(par, data)
            row("same, 2 forked workers (the command's default)", par_s, par_result)

        warm_s, warm = timed_build(cold, data)
        row("rebuild, nothing changed (all cached)", warm_s, warm)

        # The same site one cadence step earlier, then the data that adds the newest snapshot.
        print("\nwhat a reader downloads (KB): as stored / gzip / brotli (pre-compressed copies)")
        for label, (raw, gz, br) in reader_downloads(result.out, result.snapshots[-1]).items():
            print(f"  {label:<34} {raw / 1024:7.0f} {gz / 1024:7.0f} {br / 1024:7.0f}")
        last = snapshot_times(data.market, cold.cadence, cold.lookback, cold.count)[-1]
        earlier_end = last - pd.Timedelta(cold.cadence)
        earlier = Dataset(
            data.market.slice(end=earlier_end - data.market.timeframe),
            data.liquidations_until(earlier_end),
            data.name,
            data.origin,
            data.simulated,
        )
        inc = SiteOptions(**base, out=work / "inc-out", cache_dir=work / "inc-cache")
        timed_build(
            SiteOptions(**{**base, "count": n - 1}, out=inc.out, cache_dir=inc.cache_dir), earlier
        )
        add_s, added = timed_build(inc, data)
        row("new data arrives: add the newest snapshot", add_s, added)
        print(
            f"  → rebuild {ref_s / warm_s:.0f}× and adding one snapshot {ref_s / add_s:.0f}× faster "
            "than recomputing everything"
        )
        total_s = cold_s + load_s
        verdict = "OK" if total_s <= BUDGET_SECONDS else "OVER BUDGET"
        print(
            f"\n{n} snapshots from built-in data incl. loading, 1 process: {total_s:.1f} s "
            f"(budget {BUDGET_SECONDS:.0f} s) {verdict}"
        )

        weights = {slug: page_weights(result.out, slug) for slug in result.snapshots}
        totals = {slug: sum(w.values()) for slug, w in weights.items()}
        worst = max(totals, key=totals.get)
        mean = sum(totals.values()) / len(totals)
        w = weights[worst]
        print(
            f"\nsnapshot page weight (own files, shared BokehJS excluded): max "
            f"{totals[worst] / 1024:.0f} KB, mean {mean / 1024:.0f} KB "
            f"(budget {BUDGET_BYTES / 1024:.0f} KB) "
            f"{'OK' if totals[worst] <= BUDGET_BYTES else 'OVER BUDGET'}"
        )
        print("  heaviest: " + ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in w.items()))
        shared = sum(p.stat().st_size for p in (result.out / "assets" / "bokeh").rglob("*.js"))
        print(f"  shared BokehJS bundles, loaded once per site: {shared / 1024:.0f} KB")
        print("\nwhat a reader downloads (KB): as stored / gzip / brotli (pre-compressed copies)")
        for label, (raw, gz, br) in reader_downloads(result.out, result.snapshots[-1]).items():
            print(f"  {label:<34} {raw / 1024:7.0f} {gz / 1024:7.0f} {br / 1024:7.0f}")
        last = snapshot_times(data.market, cold.cadence, cold.lookback, cold.count)[-1]
        ref_bytes = inline_reference_bytes(data, cold, last)
        print(
            f"plain reference: one self-contained Bokeh page (BokehJS inlined): "
            f"{ref_bytes / 1024:.0f} KB"
        )
        growth_ok = markets_growth(args, base, work)
        ok = total_s <= BUDGET_SECONDS and totals[worst] <= BUDGET_BYTES and growth_ok
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
