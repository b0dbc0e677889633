"""Build the site: pick snapshot times, generate (or reuse) their pages, run mkdocs.

The handwritten sources in ``site/`` are copied to a staging folder, the generated snapshot
posts, embed pages, previews and BokehJS are added to it, and mkdocs builds from there into
the output folder. Nothing generated ever lands in ``site/``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import pickle
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..escape import inside, terminal_text
from ..figure.bokehjs import copy_bokehjs
from ..figure.precompiled import callbacks_path, callbacks_script, runtime_path, runtime_source
from ..files import write_atomic
from ..html_page import write_frame_script
from ..live.page import keep_live_data, write_live_pages
from ..sources.dataset import (
    DEFAULT_MARKETS,
    SIM_MARKETS,
    Dataset,
    load_markets,
    load_sim_market,
    simulator_available,
)
from .assets import copy_assets
from .cache import SnapshotCache, code_version, snapshot_key
from .compress import compress_site
from .markets import MARKETS_MARKER, MarketSummary, index_markdown, market_path, section_markdown
from .mix import mix_phrase
from .pages import (
    embed_doc_js,
    embed_doc_path,
    embed_html,
    embed_path,
    live_snippet,
    numbers_path,
    post_markdown,
    post_path,
    preview_path,
    snapshot_text,
)
from .report import (
    ACCURACY_MARKER,
    LATEST_MARKER,
    SETTINGS_MARKER,
    accuracy_markdown,
    latest_markdown,
    settings_markdown,
)
from .schedule import snapshot_times
from .snapshot import (
    DEFAULT_WINDOW,
    SnapshotSpec,
    compute,
    figure_for,
    numbers_json,
    render_preview_png,
)

CONFIG_NAME = "mkdocs.yml"
LIVE_SNIPPET_MARKER = "<!-- liqwidget:live-snippet -->"


@dataclass
class SiteOptions:
    """Everything a build depends on."""

    project: Path = field(default_factory=Path.cwd)  # folder with mkdocs.yml and site/
    out: Path | None = None  # default: <project>/public
    source: str = "auto"
    cadence: str = "12h"
    lookback: str = "7D"
    count: int | None = None
    window: str = DEFAULT_WINDOW
    model_params: dict = field(default_factory=dict)
    cache_dir: Path | None = None  # default: <project>/.liqwidget/site-cache
    incremental: bool = True
    site_url: str = ""
    strict: bool = False
    scenario: str | None = None
    store_path: str | None = None
    symbol: str | None = None  # store symbols to publish, comma-separated (default: all)
    jobs: int = 1  # worker processes for new snapshots (forked; see _generate_all)
    markets: tuple[str, ...] = DEFAULT_MARKETS  # built-in simulated markets (SIM_MARKETS)
    scheduler: str | None = None  # a Dask scheduler address: new snapshots render on its workers
    calibrate: bool = False  # learn each map's leverage mix from the liquidations before it


@dataclass
class BuildResult:
    out: Path
    index: Path
    snapshots: list[str]  # every market's posts (market by market, oldest first)
    built: int
    reused: int
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)
    markets: dict[str, list[str]] = field(default_factory=dict)  # section -> its posts


def find_project(start: Path) -> Path:
    """The folder holding ``mkdocs.yml`` and ``site/``: ``start`` or one of its parents."""
    for folder in (start, *start.parents):
        if (folder / CONFIG_NAME).is_file() and (folder / "site").is_dir():
            return folder
    raise FileNotFoundError(
        f"no {CONFIG_NAME} with a site/ folder in {start} or its parents; run this from a "
        "clone of the liqwidget repository or pass --project DIR"
    )


def _print(msg: str) -> None:
    """A progress line on stderr; market names in it come from the store, so control
    characters (terminal escapes, right-to-left overrides) are shown, not obeyed."""
    print(terminal_text(msg), file=sys.stderr, flush=True)


def generate_snapshot(
    data: Dataset, spec: SnapshotSpec, site_url: str, tmp: Path
) -> dict[str, bytes]:
    """All files one snapshot adds to the site, as site-relative path → bytes."""
    snap = compute(data, spec)
    slug = spec.slug(data.name)
    png = render_preview_png(snap, tmp / f"{slug}.png")
    with Image.open(png) as im:
        png_size = im.size
    figure = figure_for(snap)
    callbacks = callbacks_script(figure)
    doc_js = embed_doc_js(slug, figure)
    doc_path = embed_doc_path(slug, doc_js)
    title, text = snapshot_text(snap, data.name, data.simulated)
    post = post_markdown(
        snap,
        name=data.name,
        origin=data.origin,
        simulated=data.simulated,
        site_url=site_url,
        title=title,
        text=text,
    )
    files = {
        post_path(slug): post.encode(),
        doc_path: doc_js,
        embed_path(slug): embed_html(
            snap, data.name, doc_path, png_size, callbacks_path(callbacks)
        ).encode(),
        callbacks_path(callbacks): callbacks.encode(),
        preview_path(slug): png.read_bytes(),
        numbers_path(slug): numbers_json(snap, title, text["lead_text"]).encode(),
    }
    png.unlink()
    return files


_WORKER_DATA: list[Dataset] = []


def _init_worker(data: list[Dataset]) -> None:
    global _WORKER_DATA
    _WORKER_DATA = data


def _worker_job(job: tuple[str, int, SnapshotSpec, str, Path]) -> tuple[str, dict[str, bytes]]:
    key, which, spec, site_url, tmp = job
    return key, generate_snapshot(_WORKER_DATA[which], spec, site_url, tmp)


def _dask_job(key: str, data: Dataset, spec: SnapshotSpec, site_url: str):
    with tempfile.TemporaryDirectory(prefix="liqwidget-snapshot-") as tmp:
        return key, generate_snapshot(data, spec, site_url, Path(tmp))


def _generate_on_dask(data: list[Dataset], todo, site_url: str, scheduler: str):
    """The snapshots rendered by the workers of a Dask scheduler, in the order they finish;
    the files come back as bytes, so workers need no shared folder."""
    from distributed import as_completed

    from ..cluster import RETRIES, dask_client

    with dask_client(scheduler) as client:
        shared = client.scatter(list(data), broadcast=True, hash=False)
        futures = [
            client.submit(
                _dask_job, key, shared[which], spec, site_url, retries=RETRIES, pure=False
            )
            for key, which, spec in todo
        ]
        for future in as_completed(futures):
            yield future.result()


def _generate_all(
    data: list[Dataset], todo, site_url: str, tmp: Path, jobs: int, scheduler: str | None = None
):
    """Generate snapshots ``(key, market number, spec)``: on a Dask scheduler's workers when
    one is given, else in ``jobs`` forked worker processes when there is more than one.

    The workers are forked (they inherit the data and the imported modules, and callers need
    no ``if __name__ == "__main__"`` guard); without ``fork`` the work runs in this process.
    """
    if scheduler and todo:
        yield from _generate_on_dask(data, todo, site_url, scheduler)
        return
    jobs = max(1, min(jobs, len(todo)))
    if jobs == 1 or "fork" not in mp.get_all_start_methods():
        for key, which, spec in todo:
            yield key, generate_snapshot(data[which], spec, site_url, tmp)
        return
    work = [(key, which, spec, site_url, tmp) for key, which, spec in todo]
    with mp.get_context("fork").Pool(jobs, initializer=_init_worker, initargs=(data,)) as pool:
        yield from pool.imap(_worker_job, work)


def load_data(options: SiteOptions, cache_dir: Path) -> list[Dataset]:
    """Load the build's markets; simulated ones are kept in the cache (they are
    deterministic)."""
    source = options.source
    if source == "auto":
        source = "sim" if simulator_available() else "sample"
    if source != "sim":
        symbols = [s.strip() for s in options.symbol.split(",")] if options.symbol else None
        return load_markets(source, store_path=options.store_path, symbols=symbols)
    unknown = [m for m in options.markets if m not in SIM_MARKETS]
    if unknown or not options.markets:
        raise ValueError(
            f"unknown simulated market(s) {unknown}; choose from {', '.join(SIM_MARKETS)}"
        )
    keep, out = set(), []
    for name in dict.fromkeys(options.markets):
        text = f"{name}|{SIM_MARKETS[name]}|{options.scenario}|{code_version()}"
        path = cache_dir / f"sim-{hashlib.sha256(text.encode()).hexdigest()[:16]}.pickle"
        keep.add(path)
        out.append(_cached(path, lambda n=name: load_sim_market(n, options.scenario)))
    for old in cache_dir.glob("sim-*.pickle"):  # simulations of older code or settings
        if old not in keep:
            old.unlink(missing_ok=True)
    return out


def _cached(path: Path, make: Callable[[], Dataset]) -> Dataset:
    if path.is_file():
        try:
            with path.open("rb") as f:
                return pickle.load(f)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError):
            path.unlink(missing_ok=True)
    data = make()
    write_atomic(path, pickle.dumps(data))  # never a half-written file under the real name
    return data


def build_site(
    options: SiteOptions,
    data: Dataset | Sequence[Dataset] | None = None,
    progress: Callable[[str], None] = _print,
) -> BuildResult:
    """Generate every market's snapshot pages, the market pages, and build the site."""
    started = time.perf_counter()
    timings: dict[str, float] = {}
    project = find_project(Path(options.project).resolve())
    out = Path(options.out or project / "public").resolve()
    cache_root = Path(options.cache_dir or project / ".liqwidget" / "site-cache").resolve()
    staging = cache_root / "staging"

    if data is None:
        t = time.perf_counter()
        datasets = load_data(options, cache_root / "data")
        timings["data"] = time.perf_counter() - t
    else:
        datasets = [data] if isinstance(data, Dataset) else list(data)
    sections = [d.section for d in datasets]
    if len(set(sections)) != len(sections):
        raise ValueError(f"two markets share a section name: {sections}")
    all_times = []
    for d in datasets:
        times = snapshot_times(d.market, options.cadence, options.lookback, options.count)
        all_times.append(times)
        progress(
            f"{len(times)} snapshot(s) of {d.name} every {options.cadence}, "
            f"{times[0]:%Y-%m-%d %H:%M} → {times[-1]:%Y-%m-%d %H:%M} UTC ({d.origin})"
        )

    t = time.perf_counter()
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(project / "site", staging)
    copy_bokehjs(staging)
    inside(staging, runtime_path()).parent.mkdir(parents=True, exist_ok=True)
    inside(staging, runtime_path()).write_bytes(runtime_source())
    copy_assets(staging)
    write_frame_script(staging)  # the map pages' iframes fit their content
    write_live_pages(staging)
    keep_live_data(out, staging)  # the live process's newest files survive the rebuild
    _fill(staging / "live.md", {LIVE_SNIPPET_MARKER: live_snippet(options.site_url)})
    _fill(
        staging / "blog" / "posts" / "how-the-model-works.md",
        {
            ACCURACY_MARKER: accuracy_markdown(datasets[0], options.model_params),
            SETTINGS_MARKER: settings_markdown(options.model_params),
        },
    )
    timings["staging"] = time.perf_counter() - t

    t = time.perf_counter()
    cache = SnapshotCache(cache_root / "snapshots")
    specs = [
        [
            SnapshotSpec(
                time=when,
                prev_time=times[i - 1] if i else None,
                window=options.window,
                model_params=dict(options.model_params),
                calibrate=options.calibrate,
            )
            for i, when in enumerate(times)
        ]
        for times in all_times
    ]
    keys = [
        [snapshot_key(d, spec, options.site_url) for spec in sp]
        for d, sp in zip(datasets, specs, strict=True)
    ]
    flat = [
        (k, m, spec)
        for m, (ks, sp) in enumerate(zip(keys, specs, strict=True))
        for k, spec in zip(ks, sp, strict=True)
    ]
    found = {k: cache.get(k) for k, _, _ in flat} if options.incremental else {}
    todo = [(k, m, spec) for k, m, spec in flat if found.get(k) is None]
    tmp = staging / ".tmp"
    tmp.mkdir()
    label = {k: f"{datasets[m].name} {spec.time:%Y-%m-%d %H:%M}" for k, m, spec in todo}
    slugs = {k: spec.slug(datasets[m].name) for k, m, spec in todo}
    if options.calibrate and todo:
        progress(
            f"learning each new map's leverage mix from the liquidations recorded before its "
            f"window ({len(todo)} fit(s); --calibrate)"
        )
    for done, (key, files) in enumerate(
        _generate_all(datasets, todo, options.site_url, tmp, options.jobs, options.scheduler),
        start=1,
    ):
        cache.put(key, files)
        found[key] = files
        mix = json.loads(files[numbers_path(slugs[key])]).get("leverage_mix")
        progress(f"  [{done}/{len(todo)}] snapshot {label[key]} UTC built{_mix_note(mix)}")
    shutil.rmtree(tmp)
    for key, _, _ in flat:
        for rel, content in found[key].items():
            dest = inside(staging, rel)
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(content)
    built, reused = len(todo), len(flat) - len(todo)
    cache.prune()
    summaries = []
    for d, sp, ks in zip(datasets, specs, keys, strict=True):
        slugs = [spec.slug(d.name) for spec in sp]
        metas = [json.loads(found[k][numbers_path(s)]) for k, s in zip(ks, slugs, strict=True)]
        summaries.append(
            MarketSummary(
                d.section, d.name, d.origin, slugs, [m["title"] for m in metas], metas[-1]
            )
        )
        inside(staging, market_path(d.section)).parent.mkdir(parents=True, exist_ok=True)
        inside(staging, market_path(d.section)).write_text(
            section_markdown(summaries[-1]), encoding="utf-8"
        )
    _fill(staging / "markets" / "index.md", {MARKETS_MARKER: index_markdown(summaries)})
    first = summaries[0]
    _fill(
        staging / "index.md",
        {
            LATEST_MARKER: latest_markdown(
                first.titles[-1],
                first.slugs[-1],
                first.latest["lead"],
                preview_path(first.slugs[-1]),
            )
        },
    )
    progress(f"{built} snapshot(s) built, {reused} reused from the cache ({cache_root})")
    timings["snapshots"] = time.perf_counter() - t

    t = time.perf_counter()
    progress(f"running mkdocs → {out}")
    run_mkdocs(project, staging, out, options.site_url, options.strict)
    timings["mkdocs"] = time.perf_counter() - t
    t = time.perf_counter()
    packed = compress_site(out, cache_root / "compressed")
    timings["compress"] = time.perf_counter() - t
    progress(
        f"pre-compressed {packed.files} files for hosts that serve .gz/.br: "
        f"{packed.raw / 1e6:.1f} MB → {packed.gzip / 1e6:.1f} MB gzip, "
        f"{packed.brotli / 1e6:.1f} MB brotli"
    )
    seconds = time.perf_counter() - started
    return BuildResult(
        out=out,
        index=out / "index.html",
        snapshots=[s for m in summaries for s in m.slugs],
        built=built,
        reused=reused,
        seconds=seconds,
        timings=timings,
        markets={m.section: m.slugs for m in summaries},
    )


def _mix_note(mix: dict | None) -> str:
    """What a calibrated snapshot's progress line adds: which leverage mix drew it."""
    if mix is None:
        return ""
    return f" ({mix_phrase(mix['learned'], mix['events'], mix['prior_because'])})"


def _fill(page: Path, sections: dict[str, str]) -> None:
    """Replace generated-section markers in a staged page."""
    if not page.is_file():
        return
    text = page.read_text(encoding="utf-8")
    for marker, section in sections.items():
        text = text.replace(marker, section)
    page.write_text(text, encoding="utf-8")


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def run_mkdocs(project: Path, docs: Path, out: Path, site_url: str, strict: bool) -> None:
    """Run ``mkdocs build`` on the staged sources (warnings are shown; fatal with ``strict``)."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config
    from mkdocs.exceptions import MkDocsException

    logger = logging.getLogger("mkdocs")
    handler = _Collect()
    logger.addHandler(handler)
    old_env = os.environ.get("LIQWIDGET_SITE_URL")
    os.environ["LIQWIDGET_SITE_URL"] = site_url
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's banner about MkDocs 2
    try:
        cfg = load_config(
            config_file=str(project / CONFIG_NAME),
            docs_dir=str(docs),
            site_dir=str(out),
            strict=strict,
        )
        build(cfg)
    except MkDocsException as exc:
        raise RuntimeError(f"mkdocs build failed: {exc}; warnings: {handler.messages}") from exc
    finally:
        logger.removeHandler(handler)
        if old_env is None:
            os.environ.pop("LIQWIDGET_SITE_URL", None)
        else:
            os.environ["LIQWIDGET_SITE_URL"] = old_env
    for msg in handler.messages:
        _print(f"mkdocs warning: {msg}")
