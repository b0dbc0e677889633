"""Market names are checked where they enter: MarketData, store writes, the command line."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from liqwidget.cli import main as cli_main
from liqwidget.market import MarketData
from liqwidget.names import (
    MarketNameError,
    check_exchange,
    check_symbol,
    exchange_ids,
)
from liqwidget.store import Store

GOOD_SYMBOLS = [
    "BTC/USDT:USDT",
    "BTC/USD:BTC",
    "ETH/USDT",
    "1000PEPE/USDT:USDT",
    "BTC/USDT:USDT-261225",
    "BTC/USD:BTC-261225-60000-C",
]
BAD_SYMBOLS = {
    "BTC<img src=x onerror=alert(1)>/USDT:USDT": "'<', '='",
    "../../x": "not in the form",
    "BTC": "not in the form",
    "BTC/USDT:USDT\n": "contains '\\n'",
    "[a](javascript:alert(1))/USDT": "contains",
    "比特币/USDT:USDT": "contains",
    "A" * 120 + "/USDT:USDT": "characters long",
}


@pytest.mark.parametrize("symbol", GOOD_SYMBOLS)
def test_unified_symbols_pass(symbol):
    assert check_symbol(symbol) == symbol


@pytest.mark.parametrize(("symbol", "reason"), BAD_SYMBOLS.items())
def test_other_symbols_are_refused_with_the_reason(symbol, reason):
    with pytest.raises(MarketNameError, match="symbol") as err:
        check_symbol(symbol)
    assert reason in str(err.value)
    assert "BASE/QUOTE" in str(err.value) or "at most" in str(err.value)


def test_exchange_ids_are_ccxts_own():
    import ccxt

    assert exchange_ids() >= set(ccxt.exchanges)
    assert check_exchange("binanceusdm") == "binanceusdm"
    with pytest.raises(MarketNameError, match="did you mean binance"):
        check_exchange("Binance")
    with pytest.raises(MarketNameError, match="not an exchange id ccxt knows"):
        check_exchange('okx"><script>alert(1)</script>')


def _bars(sample, n=50):
    return sample.frame.iloc[:n]


def test_market_data_refuses_a_bad_name(sample):
    with pytest.raises(MarketNameError, match="not a unified market symbol"):
        MarketData.from_frame(_bars(sample), symbol="<b>BTC</b>/USDT")
    with pytest.raises(MarketNameError, match="exchange"):
        MarketData.from_frame(_bars(sample), symbol="BTC/USDT:USDT", exchange="../../x")
    ok = MarketData.from_frame(_bars(sample), symbol="BTC/USDT:USDT", exchange="binanceusdm")
    assert ok.symbol == "BTC/USDT:USDT"


def test_store_writes_refuse_bad_names(tmp_path, sample):
    bars = _bars(sample)
    events = pd.DataFrame(
        {
            "time": bars.index[:3],
            "side": ["long", "short", "long"],
            "price": [100.0, 101.0, 99.0],
            "notional": [1e4, 2e4, 3e4],
            "exchange": ["okx", "okx", "okx"],
            "symbol": ["BTC/USDT:USDT", "BTC/USDT:USDT", "BTC/USDT:USDT<svg onload=alert(1)>"],
        }
    )
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(MarketNameError, match="not a unified market symbol"):
            store.write_bars("okx", "<script>/USDT", "5m", bars)
        with pytest.raises(MarketNameError, match="ccxt"):
            store.write_open_interest("nope", "BTC/USDT:USDT", "5m", [(0, 1.0, None, 1.0)])
        with pytest.raises(MarketNameError, match=r"column 'symbol'.*\(row 2\)"):
            store.write_liquidations(events)
        with pytest.raises(MarketNameError):
            store.add_gap("okx", "../../x", 0, 1, "test")
        assert store.count_liquidations() == 0  # nothing of the refused batch was written
        assert store.series().empty


def test_names_already_in_a_store_are_read_back_as_they_are(tmp_path, sample):
    """A store filled by another tool keeps its history readable (its names get escaped)."""
    path = tmp_path / "s.sqlite"
    bars = _bars(sample)
    with Store(path) as store:
        store.write_bars("okx", "BTC/USDT:USDT", "5m", bars)
        store.write_open_interest(
            "okx",
            "BTC/USDT:USDT",
            "5m",
            [(int(t.value // 1_000_000), None, 1e9, None) for t in bars.index],
        )
    hostile = "BTC<img src=x>/USDT"
    with sqlite3.connect(path) as db:
        db.execute("UPDATE bars SET symbol=?", (hostile,))
        db.execute("UPDATE open_interest SET symbol=?", (hostile,))
    with Store(path) as store:
        market = store.load_market("okx", hostile, "5m")
    assert market.symbol == hostile and len(market) == len(bars)


@pytest.mark.parametrize(
    "argv",
    [
        ["fetch", "okx", "BTC<img>/USDT:USDT"],
        ["fetch", "Binance", "BTC/USDT:USDT"],
        ["site", "build", "--source", "store", "--symbol", "../../x"],
    ],
)
def test_commands_refuse_bad_names_before_doing_anything(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        cli_main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "not a unified market symbol" in err or "not an exchange id ccxt knows" in err
    assert list(tmp_path.iterdir()) == []  # no store, no output folder


def test_record_refuses_bad_exchange_ids(capsys, tmp_path):
    code = cli_main(["record", "okx<svg>=BTC/USDT:USDT", "--store", str(tmp_path / "s")])
    assert code == 1
    assert "not an exchange id ccxt knows" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
