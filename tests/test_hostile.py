"""Hostile names pushed through every path that shows text: nothing runs, nothing escapes.

Names are refused where they enter liqwidget (tests/test_names.py), so these are written
straight into the SQLite file, as a store filled by another tool or copied from elsewhere
would hold them. What is checked here is the second line of defence: escaping at every
boundary, the Content-Security-Policy and file names that stay inside the output folder.
Paths covered: `liqwidget site build --source store` (home, blog index, archive and category
pages, snapshot posts, embeds, market sections and index, site search, the RSS feed, the
JSON numbers files, file names), the map in static pages and in the notebook widget's front end, the
`clusters` command's output and the Parquet export.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest

from liqwidget.cli import main as cli_main
from liqwidget.events import validate_events
from liqwidget.site.csp import apply_policy
from liqwidget.site.serve import serve_in_thread
from liqwidget.store import Store

PROJECT = Path(__file__).resolve().parents[1]
#: Set LIQWIDGET_SCREENSHOTS=/some/dir to keep the screenshots for a look.
SHOTS = os.environ.get("LIQWIDGET_SCREENSHOTS")

#: One market per name (each has its own base coin, so each gets its own section).
SYMBOLS = [
    "<img src=x onerror=alert(1)>/USDT:USDT",
    '"><script>alert(2)</script>/USDT:USDT',
    "' onmouseover='alert(3)' data-x='/USDT:USDT",
    '[md](javascript:alert(4)) ![im](javascript:alert(5)) <javascript:alert(6)>{: onclick="alert(7)"}'
    "/USDT:USDT",
    "</title></textarea><svg onload=alert(8)>/USDT:USDT",
    "../../x" + "比特币" * 40 + "\x1b[31m/USDT:USDT",
]
EXCHANGE = 'okx"><img src=x onerror=alert(9)>'
#: A second exchange holding the first symbol: that market is aggregated over both.
EXCHANGE2 = "bybit<svg onload=alert(10)>"
TERMINAL_SYMBOL = "\x1b]0;owned\x07\x1b[2J<b>BTC</b>/USDT:USDT"


def shown(symbol: str) -> str:
    """The part of a symbol every page names its market by: the base coin (a market summed
    over exchanges is called "<base> aggregated", a single one by its symbol up to ":")."""
    return symbol.split(":")[0].split("/")[0]


@pytest.fixture(scope="module")
def sim():
    from liqwidget.simulator import simulate

    result = simulate("long-squeeze", seed=5, timeframe="5min", days=2)
    return result.market, validate_events(result.liquidations)


def hostile_store(path: Path, sim, pairs: list[tuple[str, str]]) -> Path:
    """A store whose bars, open interest and liquidations carry the given names, written
    with plain SQL around liqwidget's checks."""
    market, events = sim
    Store(path).close()  # the schema
    ts = (market.index.asi8 // 1_000_000).tolist()
    f = market.frame
    ets = (events["time"].astype("int64") // 1_000_000).tolist()
    with sqlite3.connect(path) as db:
        for exchange, symbol in pairs:
            db.executemany(
                "INSERT INTO bars VALUES (?, ?, '5m', ?, ?, ?, ?, ?, NULL)",
                [
                    (exchange, symbol, *row)
                    for row in zip(ts, f.open, f.high, f.low, f.close, strict=True)
                ],
            )
            db.executemany(
                "INSERT INTO open_interest VALUES (?, ?, '5m', ?, NULL, ?, NULL)",
                [(exchange, symbol, t, v) for t, v in zip(ts, f.open_interest, strict=True)],
            )
            db.executemany(
                "INSERT OR IGNORE INTO liquidations (exchange, symbol, ts, side, price, amount, notional,"
                " recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                [
                    (exchange, symbol, t, s, p, n / p, n)
                    for t, s, p, n in zip(
                        ets, events["side"], events["price"], events["notional"], strict=True
                    )
                ],
            )
    return path


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory, sim):
    """`liqwidget site build --source store` over a store of hostile names."""
    root = tmp_path_factory.mktemp("hostile")
    work = root / "a" / "b"  # room for ../../ to go somewhere we can see
    work.mkdir(parents=True)
    pairs = [(EXCHANGE, s) for s in SYMBOLS] + [(EXCHANGE2, SYMBOLS[0])]
    store = hostile_store(work / "store.sqlite", sim, pairs)
    project_before = files_under(PROJECT / "site") | set(PROJECT.iterdir())
    before = files_under(root)
    out, cache = work / "public", work / "cache"
    cwd = Path.cwd()
    os.chdir(work)
    try:
        code = cli_main(
            ["site", "build", "--source", "store", "--store", str(store), "--project",
             str(PROJECT), "--out", str(out), "--cache", str(cache), "--count", "1",
             "--lookback", "6h", "--jobs", "1", "--no-cache"]
        )  # fmt: skip
    finally:
        os.chdir(cwd)
    assert code == 0
    return {
        "root": root,
        "work": work,
        "out": out,
        "cache": cache,
        "store": store,
        "new": files_under(root) - before,
        "project_new": (files_under(PROJECT / "site") | set(PROJECT.iterdir())) - project_before,
    }


def test_site_build_writes_only_inside_its_folders(hostile_site):
    work, out, cache = hostile_site["work"], hostile_site["out"], hostile_site["cache"]
    outside = [
        p
        for p in hostile_site["new"]
        if not (p.is_relative_to(out) or p.is_relative_to(cache) or p.parent == work)
    ]
    assert outside == []
    assert hostile_site["project_new"] == set()
    assert not (hostile_site["root"] / "x").exists() and not (work.parent / "x").exists()
    for p in files_under(out):
        name = p.relative_to(out).as_posix()
        assert name.isascii() and len(p.name) <= 80, name
        assert all(c.isalnum() or c in "-_./" for c in name), name
    pages = [p.name for p in (out / "embed").glob("*.html") if p.name != "live.html"]
    assert len(pages) == len(SYMBOLS)  # one map per hostile market, none lost or merged


def test_feed_and_data_files_carry_the_names_as_text(hostile_site):
    out = hostile_site["out"]
    feed = ET.parse(out / "feed.xml").getroot()
    titles = [t.text for t in feed.iter("title")]
    for symbol in SYMBOLS[:5]:
        assert any(shown(symbol) in (t or "") for t in titles), symbol
    numbers = list((out / "assets" / "previews").glob("*.json"))
    assert len(numbers) == len(SYMBOLS)
    for path in numbers:
        raw = path.read_text(encoding="utf-8")
        assert "<" not in raw and ">" not in raw  # safe to inline, still the same JSON
        assert any(shown(s) in json.loads(raw)["title"] for s in SYMBOLS)


def _open(context, url: str, log: dict) -> object:
    from conftest import watch_csp

    pg = context.new_page()
    watch_csp(pg, log["csp"])
    pg.on("dialog", lambda d: (log["dialogs"].append(d.message), d.dismiss()))
    pg.on("pageerror", lambda e: log["errors"].append(str(e)))
    pg.on("console", lambda m: log["errors"].append(m.text) if m.type == "error" else None)
    pg.goto(url)
    pg.wait_for_load_state("load")
    return pg


def test_no_script_runs_on_any_page_and_names_show_as_text(chromium, hostile_site):
    out = hostile_site["out"]
    server, base = serve_in_thread(out)
    context = chromium.new_context(viewport={"width": 1300, "height": 900})
    try:
        pages = sorted(out.rglob("*.html"))
        assert len(pages) >= 3 * len(SYMBOLS)
        for path in pages:
            rel = path.relative_to(out).as_posix()
            log = {"csp": [], "dialogs": [], "errors": []}
            pg = _open(context, base + rel, log)
            if rel.startswith("embed/") and path.name != "live.html":
                assert (
                    pg.get_by_role("heading", level=1)
                    .inner_text()
                    .startswith(tuple(shown(x)[:30] for x in SYMBOLS))
                ), rel
                pg.locator(".lw-facade").click()  # the map loads on first interaction
                pg.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
                # The map notes (a Bokeh Div, rendered as HTML) name exchange and symbol;
                # BokehJS draws the Div after the document exists, so wait for it.
                notes = pg.get_by_text(EXCHANGE, exact=False)
                notes.first.wait_for(timeout=15000)
                assert notes.count() >= 1, rel
                pg.mouse.move(400, 300)  # a tooltip over the map
            elif rel.startswith("blog/") and "-20" in path.name:
                pg.frame_locator(".lw-map iframe").locator(".lw-facade img").wait_for()
                text = pg.inner_text("article")
                assert any(shown(s)[:60] in text for s in SYMBOLS[:5]) or "比特币" in text, rel
            pg.wait_for_timeout(150)
            if rel.endswith("live.html"):  # no live process: its data file is not there yet
                log["errors"] = [e for e in log["errors"] if "404 (File not found)" not in e]
            if SHOTS and (rel.startswith("embed/") or rel == "index.html"):
                pg.screenshot(path=str(Path(SHOTS) / f"hostile-{path.stem[:40]}.png"))
            assert log["dialogs"] == [], f"{rel}: a script ran: {log['dialogs']}"
            assert log["csp"] == [], f"{rel}: {log['csp']}"
            assert log["errors"] == [], f"{rel}: {log['errors']}"
            pg.close()
        # Every hostile name is on the market index, as text.
        log = {"csp": [], "dialogs": [], "errors": []}
        pg = _open(context, base + "markets/index.html", log)
        table = pg.inner_text("article")
        for symbol in SYMBOLS[:5]:
            assert shown(symbol) in table, symbol
        # The site search renders matches from its index: the names stay text there too.
        pg.locator("input[data-md-component=search-query]").click()
        pg.keyboard.type("onerror")
        pg.locator(".md-search-result__item").first.wait_for()
        assert shown(SYMBOLS[0]) in pg.inner_text(".md-search-result")
        pg.wait_for_timeout(300)
        assert log == {"csp": [], "dialogs": [], "errors": []}
    finally:
        context.close()
        server.shutdown()
        server.server_close()


def test_the_checks_would_see_a_script_that_runs(chromium, hostile_site, tmp_path):
    """Controls: an unescaped payload runs without the policy and is blocked (and reported)
    with it, so the assertions above can fail. The policy is applied after the payload went
    in, as a build applies it to finished pages: an injected inline script gets no hash."""
    embed = next((hostile_site["out"] / "embed").glob("*.html"))
    page = embed.read_text(encoding="utf-8")
    payload = "<img src=x onerror=alert(11)><script>alert(12)</script>"
    folder = hostile_site["out"] / "embed"
    (folder / "control-open.html").write_text(
        page.replace('<meta http-equiv="Content-Security-Policy"', "<meta data-x").replace(
            "<body>", "<body>" + payload
        ),
        encoding="utf-8",
    )
    (folder / "control-policy.html").write_text(
        apply_policy(page.replace("<body>", "<body>" + payload)), encoding="utf-8"
    )
    server, base = serve_in_thread(hostile_site["out"])
    context = chromium.new_context()
    try:
        for name, ran in (("control-open.html", True), ("control-policy.html", False)):
            log = {"csp": [], "dialogs": [], "errors": []}
            pg = _open(context, f"{base}embed/{name}", log)
            pg.wait_for_timeout(300)
            if ran:
                assert sorted(log["dialogs"]) == ["11", "12"]
            else:
                assert log["dialogs"] == []
                assert any("script-src" in v for v in log["csp"]), log["csp"]
            pg.close()
    finally:
        context.close()
        server.shutdown()
        server.server_close()
        for name in ("control-open.html", "control-policy.html"):
            (folder / name).unlink()


WIDGET_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><link rel="icon" href="data:,">
<script src="bokeh.min.js"></script><script src="bokeh-widgets.min.js"></script>
</head><body><div id="w"></div>
<script type="module">
import widget from "./widget.js";
const { state, paths, buffers } = await (await fetch("state.json")).json();
paths.forEach((path, i) => {
  let obj = state;
  for (const k of path.slice(0, -1)) obj = obj[k];
  const bytes = Uint8Array.from(atob(buffers[i]), (c) => c.charCodeAt(0));
  obj[path[path.length - 1]] = new DataView(bytes.buffer);
});
window.__state = state;
const model = {
  get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes() {},
  on() {}, off() {}, send() {},
};
widget.render({ model, el: document.getElementById("w"), experimental: {} });
</script></body></html>"""


def test_the_widget_front_end_shows_the_names_as_text(chromium, hostile_site, tmp_path):
    """The notebook widget's own front end (its ESM bundle) with the state a kernel sends."""
    from ipywidgets.widgets.widget import _remove_buffers

    from liqwidget.figure.bokehjs import bundle_files
    from liqwidget.widget import LiquidationMap
    from liqwidget.widget.map import BUNDLE

    symbol = SYMBOLS[0]
    with Store(hostile_site["store"]) as store:
        market = store.load_market(EXCHANGE, symbol, "5m")
        events = store.load_liquidations(EXCHANGE, symbol)
    assert market.symbol == symbol and market.exchange == EXCHANGE
    w = LiquidationMap(market, events, width=760, height=380, cursor_steps=8)
    state, paths, buffers = _remove_buffers(w.get_state())
    payload = {
        "state": state,
        "paths": paths,
        "buffers": [base64.b64encode(bytes(b)).decode() for b in buffers],
    }
    (tmp_path / "state.json").write_text(json.dumps(payload, default=str), encoding="utf-8")
    (tmp_path / "index.html").write_text(WIDGET_PAGE, encoding="utf-8")
    shutil.copyfile(BUNDLE, tmp_path / "widget.js")
    for f in bundle_files():
        shutil.copyfile(f, tmp_path / f.name)
    server, base = serve_in_thread(tmp_path)
    context = chromium.new_context(viewport={"width": 1100, "height": 700})
    try:
        log = {"csp": [], "dialogs": [], "errors": []}
        pg = _open(context, base + "index.html", log)
        pg.wait_for_function("() => window.__state && window.__state.rendered > 0", timeout=30000)
        assert pg.get_by_text(f"{EXCHANGE} · {symbol}", exact=False).count() >= 1
        pg.mouse.move(300, 250)
        pg.wait_for_timeout(200)
        if SHOTS:
            pg.screenshot(path=str(Path(SHOTS) / "hostile-widget.png"))
        assert log == {"csp": [], "dialogs": [], "errors": []}
    finally:
        context.close()
        server.shutdown()
        server.server_close()


def test_clusters_output_shows_control_characters_instead_of_running_them(tmp_path, sim, capsys):
    store = hostile_store(tmp_path / "s.sqlite", sim, [("okx", TERMINAL_SYMBOL)])
    assert cli_main(["clusters", "--source", "store", "--store", str(store)]) == 0
    printed = capsys.readouterr().out
    assert "\x1b" not in printed and "\x07" not in printed
    assert "\\x1b]0;owned\\x07\\x1b[2J<b>BTC</b>/USDT" in printed
    assert "Largest long clusters" in printed


def test_parquet_export_writes_its_own_file_names_only(hostile_site, tmp_path):
    target = tmp_path / "export"
    with Store(hostile_site["store"]) as store:
        paths = store.export_parquet(target, symbol=SYMBOLS[-1])
    assert sorted(p.name for p in target.iterdir()) == sorted(
        f"{n}.parquet" for n in ("bars", "gaps", "liquidations", "open_interest")
    )
    assert all(p.parent == target for p in paths.values())
    assert list(tmp_path.iterdir()) == [target]
    bars = pd.read_parquet(target / "bars.parquet")
    assert set(bars["symbol"]) == set(SYMBOLS)  # the names kept as data, unchanged
    liq = pd.read_parquet(target / "liquidations.parquet")
    assert set(liq["symbol"]) == {SYMBOLS[-1]}


def test_the_embed_works_framed_by_another_site(chromium, hostile_site, tmp_path):
    """An educator's page on another origin frames an embed: the policy lets it, the map
    opens and runs its callbacks inside the frame, and nothing is reported or run."""
    out = hostile_site["out"]
    embed = sorted((out / "embed").glob("*.html"))[0].relative_to(out).as_posix()
    site, site_base = serve_in_thread(out)
    try:
        (tmp_path / "index.html").write_text(
            '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
            f'<h1>Lesson</h1><iframe src="{site_base}{embed}" width="1000" height="700">'
            "</iframe></body></html>",
            encoding="utf-8",
        )
        other, other_base = serve_in_thread(tmp_path)
        context = chromium.new_context(viewport={"width": 1100, "height": 800})
        try:
            log = {"csp": [], "dialogs": [], "errors": []}
            pg = _open(context, other_base + "index.html", log)
            assert other_base != site_base  # another origin (another port)
            frame = pg.frame_locator("iframe")
            frame.locator(".lw-facade").click()
            inner = next(f for f in pg.frames if "/embed/" in f.url)
            inner.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
            frame.locator("canvas").first.wait_for()
            hidden = inner.evaluate(
                """async () => {
                  const d = Bokeh.documents[0];
                  d.get_model_by_name("layer-toggle").active = [1, 2];
                  await new Promise((r) => setTimeout(r, 300));
                  return d.get_model_by_name("clusters-image").visible;
                }"""
            )
            assert hidden is False  # the toggle's precompiled callback ran in the frame
            if SHOTS:
                pg.screenshot(path=str(Path(SHOTS) / "hostile-framed.png"))
            assert log == {"csp": [], "dialogs": [], "errors": []}
        finally:
            context.close()
            other.shutdown()
            other.server_close()
    finally:
        site.shutdown()
        site.server_close()


def test_progress_lines_show_control_characters_instead_of_obeying_them(capsys):
    from liqwidget.site.build import _print

    _print("3 snapshot(s) of BTC\x1b[2J\x1b[31mEVIL\u202e every 12h")
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\u202e" not in err
    assert "\\x1b[2J" in err and "\\u202e" in err
