"""fetch → store → aggregated market → map, end to end against the fake exchange: BTC on
Binance USDⓈ-M and OKX (linear) and on Binance COIN-M and Bybit (inverse), in their real
formats, plus ETH; then `site build --source store` publishes one section per coin."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from fake_exchange import HISTORY_START, FakeExchange, bar, oi_base, oi_usd_inverse
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)

from liqwidget import ClusterModel
from liqwidget.cli import main as cli_main
from liqwidget.figure import build_figure
from liqwidget.store import Store

pytestmark = pytest.mark.usefixtures("no_foreign_hosts")
DAY, STEP = 86_400_000, 300_000
BTC = [
    ("binanceusdm", "BTC/USDT:USDT"),
    ("binancecoinm", "BTC/USD:BTC"),
    ("bybit", "BTC/USD:BTC"),
    ("okx", "BTC/USDT:USDT"),
]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("e2e") / "store.sqlite"
    start = pd.Timestamp(HISTORY_START + 2 * DAY, unit="ms")
    end = start + pd.Timedelta("30h")
    with FakeExchange() as fx:
        for ex, sym in [*BTC, ("binanceusdm", "ETH/USDT:USDT")]:
            argv = ["fetch", ex, sym, "--timeframe", "5m", "--start", str(start), "--end",
                    str(end), "--store", str(path), "--api-base", fx.url, "--backoff", "0.001"]  # fmt: skip
            assert cli_main(argv) == 0, (ex, sym)
    return path


def test_store_keeps_exchanges_apart_and_loading_sums_them_in_usd(store_path):
    with Store(store_path) as st:
        series = st.series()
        assert len(series) == 5 and set(series["exchange"]) == {
            "binanceusdm", "binancecoinm", "bybit", "okx"
        }  # fmt: skip
        m = st.load_market(BTC, None, "5m")
    assert len(m) == 361 and not m.missing
    t = int(m.index[10].value // 1_000_000)
    close = bar("BTC", t, STEP)[3]
    # by hand: two linear books of oi_base coins at the bar's close (Binance reports coins,
    # OKX contracts of 0.01 BTC), two inverse books of USD contracts (Binance COIN-M: 100 USD
    # contracts, Bybit: USD)
    want = 2 * oi_base("BTC", t) * close + 2 * oi_usd_inverse("BTC", t)
    assert m.column("open_interest")[10] == pytest.approx(want, rel=1e-9)
    per = m.venue_oi()[:, 10]
    np.testing.assert_allclose(
        per, [oi_base("BTC", t) * close, oi_usd_inverse("BTC", t), oi_usd_inverse("BTC", t),
              oi_base("BTC", t) * close], rtol=1e-9)  # fmt: skip
    assert [v.formula for v in m.venues] == ["binance", "binance", "bybit", "okx"]
    assert [v.inverse for v in m.venues] == [False, True, True, False]


def test_aggregated_market_to_map(store_path):
    with Store(store_path) as st:
        agg = st.load_market(BTC, None, "5m")
        one = st.load_market("binanceusdm", "BTC/USDT:USDT", "5m")  # one parameter apart
    model = ClusterModel(seed="none", turnover=None)
    est, est_one = model.estimate(agg), model.estimate(one)
    # the aggregated book holds about four times the one-exchange book's open positions
    opened = est.raw.weight.sum() / est_one.raw.weight.sum()
    assert 2.5 < opened < 5.5
    layout = build_figure(est)
    names = {m.name for m in layout.references() if m.name}
    assert {"tier-filter", "cumulative-source", "clusters-image"} <= names
    notes = next(m for m in layout.references() if m.name == "notes").text
    assert "binanceusdm + binancecoinm + bybit + okx" in notes


def test_site_from_the_store_has_a_section_per_coin(store_path, tmp_path):
    from liqwidget.site.build import find_project

    out = tmp_path / "public"
    argv = ["site", "build", "--source", "store", "--store", str(store_path), "--cadence", "3h",
            "--lookback", "3h", "--window", "12h", "--out", str(out), "--cache",
            str(tmp_path / "cache"), "--jobs", "1",
            "--project", str(find_project(__import__("pathlib").Path(__file__).parent))]  # fmt: skip
    assert cli_main(argv) == 0
    index = (out / "markets" / "index.html").read_text()
    rows = [r for r in re.findall(r"<tr>(.*?)</tr>", index, re.S) if "<td" in r]
    assert len(rows) == 2 and "BTC aggregated" in rows[0] and "ETH/USDT" in rows[1]
    btc = (out / "markets" / "btc.html").read_text()
    assert "binancecoinm BTC/USD:BTC" in btc and "complete from bybit" in btc


def test_clusters_command_prints_every_market_in_the_store(store_path, capsys):
    assert (
        cli_main(["clusters", "--source", "store", "--store", str(store_path), "--top", "2"]) == 0
    )
    out = capsys.readouterr().out
    assert out.count("Largest long clusters") == 2
    assert "BTC aggregated" in out and "ETH/USDT" in out
