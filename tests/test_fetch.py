"""History fetch with the real ccxt client against the fake exchange on 127.0.0.1."""

from __future__ import annotations

import argparse
import time

import ccxt
import numpy as np
import pandas as pd
import pytest
from fake_exchange import HISTORY_START, INSTRUMENTS, FakeExchange, bar, oi_base
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)

from liqwidget.commands.fetch import run as fetch_command
from liqwidget.sources.exchanges import ExchangeDataError, make_exchange, require_markets
from liqwidget.sources.fetch import Retry, fetch_history
from liqwidget.store import Store

DAY = 86_400_000
STEP = 300_000
FAST = {"rateLimit": 1}
EXCHANGES = ["binanceusdm", "bybit", "okx"]
KLINES = {"binanceusdm": "/fapi/v1/klines", "bybit": "/v5/market/kline", "okx": "candles"}
OI = {
    "binanceusdm": "/futures/data/openInterestHist",
    "bybit": "/v5/market/open-interest",
    "okx": "open-interest-history",
}

pytestmark = pytest.mark.usefixtures("no_foreign_hosts")


@pytest.fixture(scope="module")
def fake():
    with FakeExchange() as fx:
        yield fx


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "store.sqlite") as s:
        yield s


def ms(t) -> int:
    return int(pd.Timestamp(t).value // 1_000_000)


def fetch(store, fake, exchange, start, end, **kw):
    kw.setdefault("retry", Retry(base=0.001))
    return fetch_history(
        store, exchange, "BTC/USDT:USDT", "5m", start, end, api_base=fake.url, config=FAST, **kw
    )


def new_calls(fake, exchange, path, before):
    return [
        r["params"]
        for r in fake.requests[before:]
        if r["exchange"] == exchange and r["path"].endswith(path)
    ]


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_pagination_across_many_pages(fake, store, exchange):
    start, end = HISTORY_START + DAY, HISTORY_START + 2 * DAY  # 289 bars
    before = len(fake.requests)
    pages = []
    report = fetch(
        store,
        fake,
        exchange,
        start,
        end,
        page_limit=20,
        progress=lambda ds, done, total: pages.append((ds, done, total)),
    )
    klines = new_calls(fake, exchange, KLINES[exchange], before)
    assert len(klines) >= 15  # 289 bars at 20 per page
    m = store.load_market(exchange, "BTC/USDT:USDT", "5m")
    times = np.arange(start, end + 1, STEP)
    assert (m.index.asi8 // 1_000_000).tolist() == times.tolist()  # every bar, once, in order
    expected = np.array([bar("BTC", int(t), STEP) for t in times])
    np.testing.assert_allclose(m.frame[["open", "high", "low", "close"]], expected[:, :4])
    assert report.bars >= 289 and report.open_interest >= 289
    assert pages[-1][1] == pages[-1][2]  # progress reached the end
    assert {ds for ds, _, _ in pages} == {"ohlcv:5m", "oi:5m"}


BACKOFF = [0.001, 0.002, 0.001]  # doubles, resets per request


@pytest.mark.parametrize(
    "exchange, kind, waited",
    [
        # Binance's 429 says "Retry-After: 3": that, not the shorter backoff, is waited
        ("binanceusdm", "ratelimit", [3.0, 3.0, 3.0]),
        ("bybit", "ratelimit", BACKOFF),
        ("bybit", "iplimit", BACKOFF),  # Bybit's HTTP 403 "access too frequent"
        ("okx", "ratelimit", BACKOFF),
    ],
)
def test_rate_limit_answer_then_success(fake, store, exchange, kind, waited):
    waits = []
    fake.fail_next(exchange, KLINES[exchange], kind, times=2, retry_after=3)
    fake.fail_next(exchange, OI[exchange], kind, times=1, retry_after=3)
    report = fetch(
        store,
        fake,
        exchange,
        HISTORY_START,
        HISTORY_START + DAY // 4,
        retry=Retry(base=0.001, sleep=waits.append),
    )
    assert waits == waited
    assert report.bars == 73
    assert len(store.load_market(exchange, "BTC/USDT:USDT", "5m")) == 73


@pytest.mark.parametrize(
    "path, kind, said",
    [
        ("/fapi/v1/klines", "server", "still failing after 3 tries"),
        # 200 answers that are not the exchange's: retried, then named
        ("/fapi/v1/exchangeInfo", "portal", r"not JSON.*captive portal"),
        ("/fapi/v1/exchangeInfo", "empty", "200 with an empty object"),
    ],
)
def test_transient_errors_give_up_with_a_clear_message(fake, store, path, kind, said):
    fake.fail_next("binanceusdm", path, kind, times=3)
    try:
        with pytest.raises(ExchangeDataError, match=said):
            fetch(
                store,
                fake,
                "binanceusdm",
                HISTORY_START,
                HISTORY_START + DAY,
                retry=Retry(attempts=3, base=0.001),
            )
    finally:
        fake.clear_faults()


def test_an_interrupted_fetch_resumes_where_it_stopped(fake, store):
    start, end = HISTORY_START + 4 * DAY, HISTORY_START + 5 * DAY  # 289 bars, 15 pages
    fake.fail_next("binanceusdm", KLINES["binanceusdm"], "server", times=2, after=3)
    with pytest.raises(ExchangeDataError, match="still failing after 2 tries"):
        fetch(
            store,
            fake,
            "binanceusdm",
            start,
            end,
            page_limit=20,
            retry=Retry(attempts=2, base=0.001),
        )
    assert len(store._query("SELECT ts FROM bars")) == 60  # the three pages before the failure
    before = len(fake.requests)
    report = fetch(store, fake, "binanceusdm", start, end, page_limit=20)
    klines = new_calls(fake, "binanceusdm", KLINES["binanceusdm"], before)
    assert int(klines[0]["startTime"]) == start + 60 * STEP  # picks up after the stored pages
    assert report.bars == 229
    assert len(store.load_market("binanceusdm", "BTC/USDT:USDT", "5m")) == 289


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_open_interest_is_normalised_to_quote_notional(fake, store, exchange):
    fetch(store, fake, exchange, HISTORY_START, HISTORY_START + DAY // 2)
    m = store.load_market(exchange, "BTC/USDT:USDT", "5m")
    t = m.index.asi8 // 1_000_000
    coins = np.array([oi_base("BTC", int(x)) for x in t])
    close = np.array([bar("BTC", int(x), STEP)[3] for x in t])
    np.testing.assert_allclose(m.column("open_interest"), coins * close, rtol=1e-9)
    raw = store._query(
        "SELECT amount, contract_size FROM open_interest WHERE exchange=:ex ORDER BY ts LIMIT 1",
        {"ex": exchange},
    )
    size = {"binanceusdm": 1.0, "bybit": 1.0, "okx": 0.01}[exchange]
    assert raw[0][1] == size
    assert raw[0][0] == pytest.approx(coins[0] / size)  # OKX reports contracts of 0.01 BTC
    assert INSTRUMENTS["okx"]["BTC-USDT-SWAP"][2] == 0.01


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_fetching_again_only_asks_for_what_is_missing(fake, store, exchange):
    first = (HISTORY_START + 2 * DAY, HISTORY_START + 3 * DAY)
    fetch(store, fake, exchange, *first, page_limit=100)

    before = len(fake.requests)
    again = fetch(store, fake, exchange, *first, page_limit=100)
    assert new_calls(fake, exchange, KLINES[exchange], before) == []
    assert new_calls(fake, exchange, OI[exchange], before) == []
    assert again.bars == 0 and again.open_interest == 0

    before = len(fake.requests)
    wider = fetch(store, fake, exchange, first[0] - DAY // 2, first[1] + DAY // 2, page_limit=100)
    assert wider.bars == 2 * 144
    assert len(new_calls(fake, exchange, KLINES[exchange], before)) == 4  # 2 pages each side
    m = store.load_market(exchange, "BTC/USDT:USDT", "5m")
    assert len(m) == 289 + 288 and not m.gaps


def test_bars_after_the_listing_are_all_that_exist(fake, store):
    report = fetch(
        store, fake, "bybit", HISTORY_START - DAY, HISTORY_START + DAY // 8, page_limit=100
    )
    assert report.bars == 37
    before = len(fake.requests)
    fetch(store, fake, "bybit", HISTORY_START - DAY, HISTORY_START + DAY // 8, page_limit=100)
    assert new_calls(fake, "bybit", KLINES["bybit"], before) == []  # empty past is covered


def test_binance_open_interest_is_asked_for_only_30_days_back(fake, store):
    now = ms(pd.Timestamp.now(tz="UTC"))
    before = len(fake.requests)
    report = fetch_history(
        store,
        "binanceusdm",
        "BTC/USDT:USDT",
        "1h",
        now - 40 * DAY,
        None,
        api_base=fake.url,
        config=FAST,
        retry=Retry(base=0.001),
    )
    assert "keeps open interest for about 30 days" in report.skipped[0]
    starts = [
        int(p["startTime"]) for p in new_calls(fake, "binanceusdm", OI["binanceusdm"], before)
    ]
    assert starts and min(starts) >= now - 30 * DAY
    assert report.bars == report.open_interest  # the fake's history is only 25 days deep
    assert len(store.load_market("binanceusdm", "BTC/USDT:USDT", "1h")) == report.bars


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_bad_symbol_gives_a_clear_error(fake, store, exchange):
    with pytest.raises(ExchangeDataError, match=r"has no market 'BTC/USDX:USDX'.*'BTC/USDT:USDT'"):
        fetch_history(store, exchange, "BTC/USDX:USDX", "5m", api_base=fake.url, config=FAST)


def test_exchange_side_rejection_is_permanent_and_explained(fake, store):
    ex = make_exchange("okx", api_base=fake.url, config=FAST)  # a ccxt object works too
    ex.load_markets()
    ex.markets["BTC/USDT:USDT"]["id"] = "NOPE-USDT-SWAP"  # the exchange will not know it
    with pytest.raises(ExchangeDataError, match=r"BadSymbol.*Instrument ID does not exist"):
        fetch_history(store, ex, "BTC/USDT:USDT", "5m", HISTORY_START, HISTORY_START + DAY)


def test_unknown_timeframe_and_exchange(fake, store):
    with pytest.raises(ExchangeDataError, match="no '7m' candles"):
        fetch_history(store, "bybit", "BTC/USDT:USDT", "7m", api_base=fake.url, config=FAST)
    with pytest.raises(ExchangeDataError, match="unknown exchange 'nosuchex'"):
        fetch_history(store, "nosuchex", "BTC/USDT:USDT", "5m")


def test_fetch_command(fake, tmp_path, capsys):
    args = argparse.Namespace(
        exchange="binanceusdm",
        symbol="BTC/USDT:USDT",
        timeframe="1h",
        start=str(pd.Timestamp(HISTORY_START + DAY, unit="ms")),
        end=str(pd.Timestamp(HISTORY_START + 3 * DAY, unit="ms")),
        days=7.0,
        no_oi=False,
        store=str(tmp_path / "cli.sqlite"),
        page=10,
        retries=3,
        backoff=0.001,
        api_base=fake.url,
    )
    fake.fail_next("binanceusdm", KLINES["binanceusdm"], "server", times=1)
    assert fetch_command(args) == 0
    out = capsys.readouterr()
    assert "done: 49 bars and 49 open-interest samples stored" in out.out
    # exchangeInfo, 5 + 1 retried kline pages, 5 open-interest pages
    assert "(12 requests, retries included)" in out.out
    assert "ohlcv:1h: 5/5 pages (100%)" in out.err
    with Store(tmp_path / "cli.sqlite") as s:
        assert len(s.load_market("binanceusdm", "BTC/USDT:USDT", "1h")) == 49
    # A malformed candle is said at the end, not only in the log.
    args.store, bad = str(tmp_path / "cli2.sqlite"), HISTORY_START + DAY + 3 * 3_600_000
    fake.bad_bars.add(bad)
    try:
        assert fetch_command(args) == 0
    finally:
        fake.bad_bars.discard(bad)
    out = capsys.readouterr().out
    assert "refused: 1 malformed row(s), not stored; the next fetch asks for them again" in out
    assert "done: 48 bars" in out
    args.symbol = "DOGE/EUR:EUR"
    assert fetch_command(args) == 1
    assert "has no market 'DOGE/EUR:EUR'" in capsys.readouterr().err


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_malformed_candles_are_refused_with_a_reason_and_asked_for_again(
    fake, store, exchange, caplog
):
    start = HISTORY_START + 3 * DAY
    bad = start + 7 * STEP
    fake.bad_bars.add(bad)
    try:
        report = fetch(store, fake, exchange, start, start + 20 * STEP, open_interest=False)
    finally:
        fake.bad_bars.discard(bad)
    assert len(report.refused) == 1 and "high" in report.refused[0]
    assert "refused (high" in caplog.text
    m_times = store._query("SELECT ts FROM bars WHERE exchange=:ex", {"ex": exchange})
    stored = {t for (t,) in m_times}
    assert bad not in stored and len(stored) == 20  # every other bar is kept
    dataset = "ohlcv:5m"
    sym = "BTC/USDT:USDT"
    assert store.missing(exchange, sym, dataset, start, start + 21 * STEP) == [(bad, bad + STEP)]
    report = fetch(store, fake, exchange, start, start + 20 * STEP, open_interest=False)
    assert report.bars == 1 and not report.refused  # corrected on the exchange: filled in


def test_check_row_names_the_problem():
    from liqwidget.sources.fetch import check_row

    assert check_row([1, 10.0, 11.0, 9.0, 10.5, 1.0]) is None
    assert "low" in check_row([1, 10.0, 11.0, 10.2, 10.5, 1.0])
    assert "open" in check_row([1, float("nan"), 11.0, 9.0, 10.5, 1.0])
    assert "volume" in check_row([1, 10.0, 11.0, 9.0, 10.5, -1.0])
    assert "openInterestAmount" in check_row({"timestamp": 5, "openInterestAmount": -1.0})
    assert "neither" in check_row({"timestamp": 5})
    assert check_row({"timestamp": 5, "openInterestValue": 3.0}) is None
    # Off the bars' grid: stored, it would make the bars irregular and stop every load.
    assert check_row([600_000, 10.0, 11.0, 9.0, 10.5, 1.0], 300_000) is None
    assert "not on the 300000 ms grid" in check_row([600_500, 10.0, 11.0, 9.0, 10.5], 300_000)
    assert "grid" in check_row({"timestamp": 600_500, "openInterestValue": 3.0}, 300_000)


def test_current_open_interest_must_be_stamped_now():
    from liqwidget.live.bars import _sample_time_problem

    now = int(time.time() * 1000)
    assert _sample_time_problem(now - 1_000, 60_000) is None
    assert "not now" in _sample_time_problem(now // 1000, 60_000)  # seconds
    assert "not now" in _sample_time_problem(now + 8 * 60_000, 60_000)  # the future
    assert "not now" in _sample_time_problem(now - 3_600_000, 60_000)  # an hour old


def test_binance_ip_ban_ends_the_fetch_at_once_saying_when_to_come_back(fake, store):
    """HTTP 418 with Retry-After: 2 hours. Retrying sooner only lengthens a Binance ban."""
    waits = []
    before = len(fake.requests)
    fake.fail_next("binanceusdm", KLINES["binanceusdm"], "ban", retry_after=7200)
    retry = Retry(base=0.001, sleep=waits.append)
    with pytest.raises(ExchangeDataError, match=r"asks to wait 7200s .*banned until") as err:
        fetch(store, fake, "binanceusdm", HISTORY_START, HISTORY_START + DAY, retry=retry)
    assert "try again after" in str(err.value) and waits == []
    assert len(new_calls(fake, "binanceusdm", KLINES["binanceusdm"], before)) == 1
    fake.clear_faults()


@pytest.mark.parametrize("exchange", ["binanceusdm", "binancecoinm", "bybit", "okx"])
def test_no_page_asks_for_more_than_the_endpoint_serves(fake, store, exchange):
    """Default pages over three days of 1m bars; the fake answers a too-large ``limit``
    with the exchange's error, as the real ones do."""
    from fake_exchange.server import PAGE_LIMITS

    symbol = "BTC/USD:BTC" if exchange == "binancecoinm" else "BTC/USDT:USDT"
    before = len(fake.requests)
    report = fetch_history(
        store,
        exchange,
        symbol,
        "1m",
        HISTORY_START + 10 * DAY,
        HISTORY_START + 13 * DAY,
        api_base=fake.url,
        config=FAST,
        retry=Retry(base=0.001),
    )
    assert report.bars == 3 * 1440 + 1
    asked = [r for r in fake.requests[before:] if (r["exchange"], r["path"]) in PAGE_LIMITS]
    assert report.open_interest > 0
    kinds = {"candles" if "andle" in r["path"] or "kline" in r["path"] else "oi" for r in asked}
    assert kinds == {"candles", "oi"}  # both paged endpoints were asked
    for r in asked:
        assert int(r["params"]["limit"]) <= PAGE_LIMITS[(r["exchange"], r["path"])]


@pytest.mark.parametrize("kind", ["portal", "empty"])
@pytest.mark.parametrize("exchange", EXCHANGES)
def test_a_page_that_is_not_the_exchanges_answer_is_retried_not_taken_as_empty(
    fake, store, exchange, kind
):
    # An HTML page or {} with status 200 reads as an empty page to ccxt: the range would be
    # marked as fetched while the store holds nothing for it.
    waits = []
    fake.fail_next(exchange, KLINES[exchange], kind, times=1, after=1)
    start, end = HISTORY_START + 6 * DAY, HISTORY_START + 7 * DAY  # 289 bars, several pages
    retry = Retry(base=0.001, sleep=waits.append)
    report = fetch(store, fake, exchange, start, end, page_limit=100, retry=retry)
    assert len(waits) == 1  # one retry
    assert report.bars == 289
    assert len(store.load_market(exchange, "BTC/USDT:USDT", "5m", start=start, end=end)) == 289


@pytest.mark.parametrize("exchange", EXCHANGES)
def test_a_429_without_the_exchanges_error_code_is_a_rate_limit_and_retried(fake, store, exchange):
    # ccxt's OKX reads a 429 whose JSON has no "code" as a plain ExchangeError: permanent.
    waits = []
    fake.fail_next(exchange, KLINES[exchange], "bare429", times=2, after=1)
    start, end = HISTORY_START + 6 * DAY, HISTORY_START + 7 * DAY
    retry = Retry(base=0.001, sleep=waits.append)
    report = fetch(store, fake, exchange, start, end, page_limit=100, retry=retry)
    assert len(waits) == 2
    assert report.bars == 289


def test_an_exchange_listing_no_markets_is_a_transient_fault_not_an_unknown_symbol():
    ex = make_exchange("binanceusdm")
    ex.markets = {}
    with pytest.raises(ccxt.ExchangeNotAvailable, match="empty list of markets"):
        require_markets(ex)
