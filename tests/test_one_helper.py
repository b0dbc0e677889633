"""One helper per idea (issue 14.5): money, the background colour, the open-interest period
rule, Wilson intervals and the model's parameter list each live in one place."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import ImageColor

from liqwidget import ClusterModel
from liqwidget.calibration import wilson
from liqwidget.figure.data import notes_html
from liqwidget.figure.palettes import BACKGROUND
from liqwidget.fmt import money
from liqwidget.heatmap import Heatmap
from liqwidget.site.preview import heatmap_rgb
from liqwidget.site.report import SETTING_LABELS, settings_markdown
from liqwidget.sources.fetch import OI_PERIODS, oi_period
from liqwidget.times import TimeError, periods_for, timeframe_ms


def test_money_has_one_style_in_the_map_notes_and_the_site(sample):
    assert money(1.234e9) == "$1.23 B" and money(45.6e6) == "$45.6 M" and money(820e3) == "$820 K"
    est = ClusterModel().estimate(sample.slice(None, sample.index[60]))
    t = sample.index[10]
    ev = pd.DataFrame({"time": [t, t], "side": ["long", "short"], "price": [1.0, 2.0]})
    notes = notes_html(est, ev.assign(notional=[1_000_000.0, 234_000.0]), inside=2, shown=2)
    assert "2 recorded liquidations ($1.23 M)" in notes


def test_the_preview_paints_the_map_background():
    empty = Heatmap(
        time_edges=pd.date_range("2026-06-07", periods=3, freq="5min", tz="UTC"),
        price_edges=np.array([1.0, 2.0, 3.0]),
        long=np.zeros((2, 2)),
        short=np.zeros((2, 2)),
    )
    assert tuple(heatmap_rgb(empty)[0, 0]) == ImageColor.getrgb(BACKGROUND)


def test_one_open_interest_period_rule():
    assert timeframe_ms("5m") == 300_000 and timeframe_ms("1d") == 86_400_000
    with pytest.raises(TimeError, match="unknown timeframe '7x'"):
        timeframe_ms("7x")
    assert periods_for(["1d", "5m", "1h", "15m"], "30m") == ["15m", "5m", "1h", "1d"]
    assert periods_for(["1h", "1d"], "5m") == ["1h", "1d"]  # none fits: the finest first
    # What fetch asks for is what the store reads first.
    for ex, periods in OI_PERIODS.items():
        for tf in ("1m", "5m", "15m", "1h", "4h", "1d", "1w"):
            assert oi_period(ex, tf) == periods_for(periods, tf)[0]
    assert oi_period("bybit", "2h") == "1h" and oi_period("okx", "30m") == "5m"


def test_wilson_is_scipys_and_matches_the_closed_form():
    z = 1.959963984540054
    for hits, n in ((0, 5), (3, 10), (44, 441), (5, 5)):
        p = hits / n
        den = 1 + z**2 / n
        mid = (p + z**2 / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
        assert wilson(hits, n) == pytest.approx((mid - half, mid + half), abs=1e-12)
    lo90, hi90 = wilson(44, 441, confidence=0.9)
    lo95, hi95 = wilson(44, 441)
    assert lo95 < lo90 < hi90 < hi95


def test_parameters_come_from_the_signature():
    class Tuned(ClusterModel):
        def __init__(self, extra: float = 1.0, *, label: str = "x", **kwargs):
            super().__init__(**kwargs)
            self.extra, self.label = extra, label

    names = list(ClusterModel().get_params())
    assert names[:3] == ["leverage", "side_split", "formula"] and "exchange_formulas" in names
    tuned = Tuned(label="y", mmr=0.01)
    assert tuned.get_params() == {"extra": 1.0, "label": "y"}  # its own signature
    assert tuned.set_params(extra=2.0).extra == 2.0
    with pytest.raises(ValueError, match="unknown parameter 'nope'"):
        ClusterModel().set_params(nope=1)


def test_the_settings_table_lists_every_parameter():
    params = ClusterModel().get_params()
    assert set(SETTING_LABELS) == set(params), "label every ClusterModel parameter"
    table = settings_markdown({"mmr": 0.004, "decay": "7D"})
    rows = table.splitlines()[2:]
    assert len(rows) == len(params)
    assert r"| Maintenance margin rate | 0\.4 % |" in rows  # md_text escapes the dot
    assert "| Extra closing half-life | 7D |" in rows
    assert "| Maintenance-margin brackets | none |" in rows


def test_the_map_hover_writes_money_like_python(tmp_path):
    """The heat map's hover (figure/js/hover_layer.js, run by Node) prints fmt.money's text."""
    node = shutil.which("node")
    assert node, "Node runs the figure's JS in this test (npm ci installs it in CI)"
    values = [512.0, 999.4, 820e3, 1234.5, 45.6e6, 9.996e6, 123.4e6, 1.234e9, 4321e9]
    hover = (Path(__file__).resolve().parent.parent / "liqwidget/figure/js/hover_layer.js").as_uri()
    script = tmp_path / "hover.mjs"
    script.write_text(
        f'import hoverLayer from "{hover}";\n'
        f"for (const v of {json.dumps(values)}) "
        "console.log(hoverLayer({ source: { data: { vmin: [v], vmax: [v] } } }, 129));\n"
    )
    out = subprocess.run([node, str(script)], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == [f"short ≈ {money(v)}" for v in values]
