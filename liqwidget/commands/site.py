"""``liqwidget site build`` and ``liqwidget site serve``: the static educational site."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..names import check_symbol, cli_type
from ..sources.dataset import DEFAULT_MARKETS, SIM_MARKETS, SOURCES
from ..store import STORE_HELP


def check_symbols(text: str) -> str:
    """Comma-separated unified symbols, each checked."""
    return ",".join(check_symbol(s.strip()) for s in text.split(",") if s.strip())


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "site",
        help="build or preview the static site (explainers + snapshot posts with embeddable maps)",
        description="Generate snapshot posts from built-in data (or the local store) and build "
        "the mkdocs site; or serve a built site on 127.0.0.1.",
    )
    actions = p.add_subparsers(dest="site_command", metavar="ACTION")
    build = actions.add_parser("build", help="generate snapshot posts and build the site")
    _build_options(build)
    build.set_defaults(func=run_build)
    serve = actions.add_parser("serve", help="build (unless --no-build) and serve on 127.0.0.1")
    _build_options(serve)
    serve.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (8000)")
    serve.add_argument("--no-build", action="store_true", help="serve the existing build as is")
    serve.set_defaults(func=run_serve)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _build_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help="data: sim (built-in simulator), sample (real Binance sample, no liquidations), "
        "store (local recorder store); auto = sim if available, else sample",
    )
    p.add_argument(
        "--markets",
        default=",".join(DEFAULT_MARKETS),
        help=f"built-in simulated markets, comma-separated, from {', '.join(SIM_MARKETS)} "
        f"({','.join(DEFAULT_MARKETS)})",
    )
    p.add_argument(
        "--scenario", help="simulator scenario for every simulated market (each has its own)"
    )
    p.add_argument("--store", dest="store_path", help=STORE_HELP)
    p.add_argument(
        "--symbol",
        type=cli_type(check_symbols),
        help="store symbols, comma-separated, e.g. BTC/USDT:USDT,BTC/USD:BTC (default: all; "
        "every coin becomes one market summed over the exchanges that have it)",
    )
    p.add_argument("--cadence", default="12h", help="time between snapshots per market (12h)")
    p.add_argument("--lookback", default="7D", help="how far back snapshots go (7D)")
    p.add_argument("--count", type=int, help="keep only the N most recent snapshots")
    p.add_argument("--window", default="3D", help="time span each map shows (3D)")
    p.add_argument("--out", type=Path, help="output folder (default: public/ in the project)")
    p.add_argument("--project", type=Path, default=Path.cwd(), help="folder with mkdocs.yml (.)")
    p.add_argument(
        "--site-url", default="", help="public URL of the site (absolute embed snippets)"
    )
    p.add_argument(
        "--cache", type=Path, help="rebuild cache folder (default: .liqwidget/site-cache)"
    )
    p.add_argument("--no-cache", action="store_true", help="recompute every snapshot")
    p.add_argument("--strict", action="store_true", help="fail on any mkdocs warning")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="draw each map with a leverage mix learned from the liquidations recorded before "
        "its window (the prior mix where there are too few); slower",
    )
    p.add_argument(
        "--scheduler",
        help="render new snapshots on the workers of this Dask scheduler, e.g. "
        "tcp://10.0.0.5:8786 (needs liqwidget[scale]; default: --jobs local processes)",
    )
    jobs = min(2, os.cpu_count() or 1)
    p.add_argument(
        "--jobs",
        type=int,
        default=jobs,
        help=f"worker processes for new snapshots ({jobs}; 1 on a busy machine)",
    )


def _options(args: argparse.Namespace):
    from ..site.build import SiteOptions

    return SiteOptions(
        project=args.project,
        out=args.out,
        source=args.source,
        cadence=args.cadence,
        lookback=args.lookback,
        count=args.count,
        window=args.window,
        incremental=not args.no_cache,
        cache_dir=args.cache,
        jobs=max(1, args.jobs),
        site_url=args.site_url,
        strict=args.strict,
        scenario=args.scenario,
        store_path=args.store_path,
        symbol=args.symbol,
        markets=tuple(m.strip() for m in args.markets.split(",") if m.strip()),
        scheduler=args.scheduler,
        calibrate=args.calibrate,
    )


def _build(args: argparse.Namespace):
    from ..site.build import build_site

    try:
        result = build_site(_options(args))
    except (ValueError, FileNotFoundError, RuntimeError) as exc:
        print(f"liqwidget site build: {exc}", file=sys.stderr)
        return None
    print(
        f"Built {len(result.snapshots)} snapshot post(s) of {len(result.markets)} market(s) "
        f"({result.built} new, {result.reused} "
        f"reused) in {result.seconds:.1f} s ("
        + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
        + ")."
    )
    return result


def run_build(args: argparse.Namespace) -> int:
    result = _build(args)
    if result is None:
        return 1
    print(f"Open {result.index.as_uri()} in a browser (pages and maps work from the files),")
    print("or run `liqwidget site serve` and open http://127.0.0.1:8000/ (search works there too).")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    from ..site.serve import make_server

    if args.no_build:
        out = (args.out or args.project / "public").resolve()
    else:
        result = _build(args)
        if result is None:
            return 1
        out = result.out
    try:
        server = make_server(out, args.port)
    except (FileNotFoundError, OSError) as exc:
        print(f"liqwidget site serve: {exc}", file=sys.stderr)
        return 1
    print(f"Serving {out} at http://127.0.0.1:{server.server_address[1]}/ (Ctrl+C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
