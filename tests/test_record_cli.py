"""Command-line errors of ``liqwidget record``/``fetch``: one line, exit status 1, no traceback."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
from fake_exchange import FakeExchange
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)

from liqwidget.cli import main
from liqwidget.sources.exchanges import ExchangeDataError, make_exchange, resolve_symbol
from liqwidget.store import Store, StoreError

pytestmark = pytest.mark.usefixtures("no_foreign_hosts")


@pytest.fixture(scope="module")
def fake():
    with FakeExchange() as fx:
        yield fx


@pytest.fixture(scope="module")
def markets(fake):
    out = {}
    for ex_id in ("binanceusdm", "bybit", "okx"):
        ex = make_exchange(ex_id, api_base=fake.url)
        ex.load_markets()
        out[ex_id] = ex
    return out


@pytest.mark.parametrize(
    "exchange, typed, message",
    [
        ("binanceusdm", "BTC-PERP", r"has no market 'BTC-PERP'; did you mean 'BTC/USDT:USDT'\?"),
        (
            "binanceusdm",
            "BTC-USDT-PERP",
            r"no market 'BTC-USDT-PERP'; did you mean 'BTC/USDT:USDT'",
        ),
        ("binanceusdm", "BTCUSDT", r"'BTCUSDT' is binanceusdm's own id .* 'BTC/USDT:USDT'$"),
        ("bybit", "btcusdt", r"'btcusdt' is bybit's own id .* unified symbol 'BTC/USDT:USDT'$"),
        ("okx", "BTC-USDT-SWAP", r"okx's own id for a market; use the unified symbol 'BTC/U"),
        ("bybit", "btc/usdt", r"no market 'btc/usdt'; did you mean 'BTC/USDT:USDT'\?"),
        # the perpetual first, then OKX's quarterly
        ("okx", "BTC/USDT", r"no market 'BTC/USDT'; did you mean 'BTC/USDT:USDT', 'BTC/USDT:US"),
        ("bybit", "btc/usdt:usdt", r"no market 'btc/usdt:usdt'; did you mean 'BTC/USDT:USDT'"),
        ("okx", "ETH-PERP", r"no market 'ETH-PERP'; did you mean 'ETH/USDT:USDT'\?"),
        ("bybit", "DOGE/EUR:EUR", r"no market 'DOGE/EUR:EUR'; use ccxt unified symbols"),
        ("okx", "", r"no symbol given for okx"),
    ],
)
def test_every_form_of_a_wrong_symbol_names_the_unified_one(markets, exchange, typed, message):
    with pytest.raises(ExchangeDataError, match=message):
        resolve_symbol(markets[exchange], typed)


def test_unified_symbols_resolve_to_their_market(markets):
    for ex in markets.values():
        assert resolve_symbol(ex, "ETH/USDT:USDT")["symbol"] == "ETH/USDT:USDT"


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "liqwidget.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("typed", ["BTC-PERP", "BTCUSDT", "btc/usdt"])
def test_record_with_a_wrong_symbol_fails_in_one_line(fake, tmp_path, typed):
    store = str(tmp_path / "s.sqlite")
    done = run_cli("record", f"bybit={typed}", "--store", store, "--api-base", fake.url)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert line.startswith("error: ") and "'BTC/USDT:USDT'" in line


def test_option_like_symbol_and_file_as_folder_as_real_processes(fake, tmp_path):
    """ccxt reads BTC-USDT-PERP as an option and fails with a TypeError inside; a store path
    under a file cannot be created. Both end in one line and exit status 1."""
    done = run_cli(
        "record", "binanceusdm=BTC-USDT-PERP", "--store", str(tmp_path / "s.sqlite"),
        "--api-base", fake.url,
    )  # fmt: skip
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert "no market 'BTC-USDT-PERP'; did you mean 'BTC/USDT:USDT'?" in line
    (tmp_path / "f").write_text("a file, not a folder")
    done = run_cli("record", "bybit", "--store", str(tmp_path / "f" / "s.sqlite"))
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert line.startswith("error: cannot create the folder for the store") and "/f" in line


def test_store_paths_that_are_not_a_store(tmp_path, capsys):
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path / "dir.sqlite")
    (tmp_path / "notes.txt").write_text("hello, not a database " * 100)
    with pytest.raises(StoreError, match=r"cannot open the store .* not a database"):
        Store(tmp_path / "notes.txt")
    other = sqlite3.connect(tmp_path / "other.sqlite")
    other.execute("CREATE TABLE customers (name TEXT)")
    other.commit()
    other.close()
    with pytest.raises(StoreError, match="an SQLite database but not a liqwidget store"):
        Store(tmp_path / "other.sqlite")
    for path in ("dir.sqlite", "notes.txt", "other.sqlite"):
        assert main(["record", "bybit", "--store", str(tmp_path / path)]) == 1
        assert one_error_line(capsys.readouterr().err).startswith("error: ")


def test_an_unexpected_error_is_one_line_too(monkeypatch, capsys):
    import liqwidget.commands.record as record

    def broken(args):
        raise TypeError("can only concatenate str (not\n'NoneType') to str")

    monkeypatch.setattr(record, "run", broken)
    monkeypatch.delenv("LIQWIDGET_DEBUG", raising=False)
    assert main(["record", "bybit"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert line == (
        "error: TypeError: can only concatenate str (not 'NoneType') to str "
        "(set LIQWIDGET_DEBUG=1 for the traceback)"
    )
