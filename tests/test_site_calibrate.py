"""``site build --calibrate``: each map's leverage mix is learned from the liquidations
recorded before its window only, the post says which mix drew it, and the cache knows."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_site_build import PROJECT, keep

from liqwidget.calibration import MIN_EVENTS
from liqwidget.cli import build_parser
from liqwidget.commands.site import _options
from liqwidget.events import validate_events
from liqwidget.model import ClusterModel
from liqwidget.site.build import SiteOptions, build_site
from liqwidget.site.cache import snapshot_key
from liqwidget.site.mix import NO_EVENTS, TOO_FEW, UNFIT, UNPINNED, Mix, window_mix
from liqwidget.site.pages import numbers_path, post_url
from liqwidget.site.prose import mix_text
from liqwidget.site.serve import serve_in_thread
from liqwidget.site.snapshot import SnapshotSpec, compute
from liqwidget.sources.dataset import Dataset

WINDOW = "1D"


@pytest.fixture(scope="module")
def data() -> Dataset:
    from liqwidget.simulator import simulate

    sim = simulate("long-squeeze", seed=5, timeframe="5min", days=2)
    events = validate_events(sim.liquidations)
    return Dataset(sim.market, events, "Simulated BTC/USDT", "a test simulation", True)


def with_events(data: Dataset, extra: pd.DataFrame) -> Dataset:
    events = validate_events(pd.concat([data.liquidations, extra], ignore_index=True))
    return Dataset(data.market, events, data.name, data.origin, data.simulated)


def planted(data: Dataset, a: pd.Timestamp, b: pd.Timestamp) -> pd.DataFrame:
    """Large made-up short liquidations far above price, every 5 minutes in ``[a, b)``: a
    fit that saw them would have to move weight to the low-leverage (distant) tiers."""
    times = pd.date_range(a, b, freq="5min", inclusive="left")
    top = float(data.market.column("high").max())
    n = len(times)
    return pd.DataFrame(
        {"time": times, "side": ["short"] * n, "price": [top * 1.15] * n, "notional": [5e7] * n}
    )


def spec_at(data: Dataset, calibrate: bool = True) -> SnapshotSpec:
    when = data.market.index[-1] + data.market.timeframe
    return SnapshotSpec(time=when, prev_time=None, window=WINDOW, calibrate=calibrate)


def test_the_calibrated_map_learns_from_nothing_at_or_after_its_window(data):
    spec = spec_at(data)
    start = spec.time - pd.Timedelta(WINDOW)
    snap = compute(data, spec)
    mix = snap.mix
    assert mix.learned and mix.until == start == snap.time_range[0]
    assert 0 < mix.events < len(data.liquidations_until(start))
    assert mix.leverage == pytest.approx(dict(mix.model.leverage))
    # The map is scored on its window only, against exactly the window's liquidations.
    acc = snap.accuracy
    assert acc.since == start
    in_window = data.liquidations[data.liquidations["time"] >= start]
    bars = pd.Timedelta(WINDOW) // data.market.timeframe
    assert acc.events == len(in_window) and acc.bars == bars

    # Liquidations planted inside the window change nothing the fit learned...
    inside = with_events(data, planted(data, start, spec.time))
    assert compute(inside, spec).mix.leverage == mix.leverage
    # ...while the same ones planted before it do: the check above can fail.
    before = with_events(data, planted(data, start - pd.Timedelta("12h"), start))
    assert window_mix(before, start, {}).leverage != pytest.approx(mix.leverage)


def test_without_earlier_liquidations_the_prior_mix_stands_and_the_post_says_why(data):
    spec = spec_at(data)
    start = spec.time - pd.Timedelta(WINDOW)
    bare = Dataset(data.market, None, data.name, data.origin, True)
    mix = window_mix(bare, start, {})
    assert mix.reason == NO_EVENTS and mix.model.get_params() == ClusterModel().get_params()
    assert "no recorded liquidations" in mix_text(mix)

    late = data.liquidations[data.liquidations["time"] >= start]
    few = pd.concat([data.liquidations[data.liquidations["time"] < start].head(5), late])
    few = Dataset(data.market, validate_events(few), data.name, data.origin, True)
    mix = window_mix(few, start, {})
    assert (mix.reason, mix.events, mix.learned) == (TOO_FEW, 5, False)
    text = mix_text(mix)
    assert "prior leverage mix" in text and "only 5 liquidations" in text
    assert f"under {MIN_EVENTS}" in text

    first = window_mix(data, data.market.index[0], {})  # a window from the very first bar
    assert (first.reason, first.events) == (TOO_FEW, 0)
    assert "no liquidations were recorded before this window" in mix_text(first)

    model = first.model
    for reason, words in (
        (UNPINNED, "did not pin down any leverage tier"),
        (UNFIT, "could not be fitted (too few bars)"),
    ):
        text = mix_text(Mix(model, start, 40, {}, (), reason, "too few bars"))
        assert (
            text.startswith("The Clusters layer uses the model's prior leverage mix")
            and words in text
        )


def test_the_learned_mix_is_named_with_its_tiers():
    mix = Mix(
        ClusterModel(),
        pd.Timestamp("2026-06-01", tz="UTC"),
        1234,
        {20.0: 0.3, 50.0: 0.1, 100.0: 0.0},
        (20.0, 50.0, 100.0),
    )
    text = mix_text(mix)
    assert "learned from 1,234 liquidations recorded before this window" in text
    assert "20×, 50× and 100×" in text and "20× 30.0 %, 50× 10.0 %" in text
    assert "100× 0.0 %" not in text  # a tier pinned at nothing is not among the largest
    assert "close and reopen with a half-life of 12 h" in text  # ClusterModel()'s turnover
    assert mix_text(None) == ""


def test_the_cli_flag_and_the_cache_key(data):
    parser = build_parser()
    assert _options(parser.parse_args(["site", "build", "--calibrate"])).calibrate is True
    assert _options(parser.parse_args(["site", "build"])).calibrate is False
    on, off = spec_at(data, True), spec_at(data, False)
    assert snapshot_key(data, on, "") != snapshot_key(data, off, "")
    assert snapshot_key(data, on, "") == snapshot_key(data, spec_at(data, True), "")


@pytest.fixture(scope="module")
def calibrated_site(tmp_path_factory, data):
    root = tmp_path_factory.mktemp("calsite")
    opts = SiteOptions(
        project=PROJECT,
        out=root / "public",
        cache_dir=root / "cache",
        cadence="12h",
        lookback="12h",
        count=1,
        window=WINDOW,
        calibrate=True,
    )
    lines: list[str] = []
    result = build_site(opts, data=data, progress=lines.append)
    return result, lines


def test_a_calibrated_build_says_so_in_its_progress_and_numbers(calibrated_site):
    result, lines = calibrated_site
    assert any("--calibrate" in line for line in lines), lines
    assert any("mix learned from" in line for line in lines), lines
    slug = result.snapshots[-1]
    numbers = json.loads((Path(result.out) / numbers_path(slug)).read_text())
    assert numbers["leverage_mix"]["learned"] is True
    assert numbers["accuracy"]["since"] == numbers["leverage_mix"]["until"]
    assert pd.Timedelta(numbers["leverage_mix"]["turnover"]) > pd.Timedelta(0)


@pytest.mark.browser
def test_the_calibrated_post_names_its_learned_mix_in_chromium(page, calibrated_site):
    result, _ = calibrated_site
    server, base = serve_in_thread(result.out)
    try:
        page.goto(f"{base}{post_url(result.snapshots[-1])}")
        caption = page.locator("p", has_text="The map covers")
        text = caption.inner_text()
        assert "The Clusters layer uses a leverage mix learned from" in text, text
        assert "liquidations recorded before this window (tiers the data pinned down:" in text
        assert "\\" not in text  # Markdown escapes render as plain text
        trust = page.locator("p", has_text="Checked against").inner_text()
        assert "bars of this map's window, which its leverage mix never saw" in trust
        keep("calibrated-post.png", page.screenshot(full_page=True))
        page.log.assert_clean()
    finally:
        server.shutdown()
        server.server_close()
