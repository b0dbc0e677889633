"""The live process's own decisions, without an exchange: snapshot builds on the cadence, and
the leverage mix it learns with --calibrate."""

from __future__ import annotations

import asyncio
import threading

import pandas as pd
import pytest

from liqwidget.live.runner import LiveRunner, LiveSettings
from liqwidget.store import Store


class _Proc:
    returncode = 0

    async def wait(self):
        return 0


@pytest.fixture
def builds(monkeypatch) -> list:
    """The site builds the runner starts (recorded, never run)."""
    calls = []

    async def fake_exec(*cmd, **kw):
        calls.append(cmd)
        return _Proc()

    monkeypatch.setattr(asyncio, "create_subprocess_exec", fake_exec)
    return calls


def _run(coro_fn):
    """Run ``coro_fn()`` on a fresh event loop in its own thread (the browser tests' fixture
    holds one in this thread)."""
    thread = threading.Thread(target=lambda: asyncio.run(coro_fn()))
    thread.start()
    thread.join(timeout=300)


def test_a_snapshot_build_runs_once_per_cadence_mark(tmp_path, builds):
    calls = builds
    with Store(tmp_path / "s.sqlite") as store:
        settings = LiveSettings(cadence="1h", project=tmp_path)
        runner = LiveRunner(store, {"binanceusdm": ["BTC/USDT:USDT"]}, tmp_path / "out", settings)

        async def scenario():
            for t in ("10:20", "10:59", "11:00", "11:30", "12:05", "12:06"):
                await runner._maybe_snapshot(pd.Timestamp(f"2026-06-01 {t}", tz="UTC"))
                await asyncio.sleep(0)

        _run(scenario)
    # The first mark after start-up is the next one: builds at 11:00 and 12:05 only.
    assert len(calls) == 2
    cmd = calls[0]
    assert cmd[1:6] == ("-m", "liqwidget.cli", "site", "build", "--source")
    assert cmd[cmd.index("--store") + 1] == str(tmp_path / "s.sqlite")
    assert cmd[cmd.index("--symbol") + 1] == "BTC/USDT:USDT"
    assert cmd[cmd.index("--out") + 1] == str(tmp_path / "out")
    assert cmd[cmd.index("--project") + 1] == str(tmp_path)


def test_status_line_names_each_feed(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        runner = LiveRunner(store, {"bybit": ["BTC/USDT:USDT"]}, tmp_path / "out")
        runner.markets[0].window = None

        class _W:
            market = None

        runner.markets[0].window = _W()
        (line,) = runner.status_lines()
    assert line.startswith("bybit BTC/USDT:USDT: liquidations disconnected, received 0")
    assert "last bar closed none yet" in line and "candles ok" in line


class _Window:
    def __init__(self, market, events):
        self.market, self.events = market, events


def test_calibrate_learns_the_mix_from_recorded_liquidations_and_refits_on_schedule(
    tmp_path, monkeypatch, caplog
):
    import liqwidget as lw
    from liqwidget.live import runner as live_runner
    from liqwidget.live.publish import LiveMap

    sim = lw.simulate("long-squeeze", days=2, timeframe="15min")
    fits = []
    real_fit = live_runner.window_mix
    monkeypatch.setattr(live_runner, "window_mix", lambda *a: fits.append(a) or real_fit(*a))
    with Store(tmp_path / "s.sqlite") as store:
        settings = LiveSettings(calibrate=True, calibrate_every="6h")
        runner = LiveRunner(store, {"binanceusdm": ["BTC/USDT:USDT"]}, tmp_path / "out", settings)
        m = runner.markets[0]
        m.window = _Window(sim.market, sim.liquidations)
        m.live = LiveMap("binanceusdm", "BTC/USDT:USDT", "15m")
        prior = dict(m.live.model.leverage)
        with caplog.at_level("INFO", logger="liqwidget.live.runner"):

            async def twice():
                fit = await runner._maybe_fit(m)
                assert m.mix is None  # fitting in the background; the map goes on meanwhile
                assert await runner._maybe_fit(m) is None  # within calibrate_every: no refit
                await fit

            _run(twice)
            assert len(fits) == 1
            assert m.mix is not None and m.mix.learned, m.mix
            assert m.live.model.leverage == m.mix.leverage != prior
            assert m.mix.events >= 30
            assert "leverage mix learned from" in caplog.text
            line = runner.status_lines()[0]
            assert f"leverage mix learned from {m.mix.events:,} liquidations" in line
            assert runner.health(m)["mix"] == {
                "learned": True, "events": m.mix.events, "reason": None
            }  # fmt: skip

            # The same market with a handful of liquidations: the prior stands, and the log
            # says why.
            m.fitted_at, m.mix = None, None
            m.window = _Window(sim.market, sim.liquidations.head(3))
            m.live = LiveMap("binanceusdm", "BTC/USDT:USDT", "15m")

            async def once():
                await (await runner._maybe_fit(m))

            _run(once)
            assert not m.mix.learned
            assert m.live.model.leverage == prior
            assert "too few earlier liquidations (3 of at least 30)" in caplog.text
            assert "prior leverage mix (too few earlier liquidations)" in runner.status_lines()[0]

            # A fit that fails for any other reason: logged, the map keeps its mix.
            def broken(*a):
                raise RuntimeError("out of memory")

            monkeypatch.setattr(live_runner, "window_mix", broken)
            m.fitted_at = None
            _run(once)
            assert "fitting the leverage mix failed (RuntimeError: out of memory)" in caplog.text
            assert m.live.model.leverage == prior and not m.mix.learned


def test_cadence_builds_calibrate_when_the_live_map_does(tmp_path, builds):
    calls = builds
    with Store(tmp_path / "s.sqlite") as store:
        for calibrate in (False, True):
            settings = LiveSettings(cadence="1h", calibrate=calibrate)
            runner = LiveRunner(store, {"binanceusdm": ["BTC/USDT:USDT"]}, tmp_path, settings)

            async def marks(runner=runner):
                for t in ("10:20", "11:00"):
                    await runner._maybe_snapshot(pd.Timestamp(f"2026-06-01 {t}", tz="UTC"))

            _run(marks)
    assert ["--calibrate" in cmd for cmd in calls] == [False, True]


def test_an_exchange_not_answering_at_start_up_is_waited_for_a_bad_symbol_is_not():
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from types import SimpleNamespace

    import ccxt

    from liqwidget.live.runner import LiveRunner
    from liqwidget.sources.exchanges import ExchangeDataError

    def failing(times, cause):
        calls = []

        def resolve():
            calls.append(1)
            if len(calls) <= times:
                raise ExchangeDataError("load markets still failing") from cause
            return "BTC/USDT:USDT"

        return SimpleNamespace(exchange="binanceusdm", poller=SimpleNamespace(resolve=resolve))

    async def resolve(m, stop_after):
        runner = SimpleNamespace(_stopping=asyncio.Event())
        if stop_after is not None:
            asyncio.get_running_loop().call_later(stop_after, runner._stopping.set)
        return await LiveRunner._resolve(runner, m)

    def run(m, stop_after=None):
        # A loop of its own, in a thread of its own (another test may hold this thread's).
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, resolve(m, stop_after)).result()

    # A 503 at start-up (twice): asked again, with backoff, until it answers.
    assert run(failing(2, ccxt.ExchangeNotAvailable("503"))) == "BTC/USDT:USDT"
    # Stopped while waiting: no symbol, no error.
    assert run(failing(99, ccxt.ExchangeNotAvailable("503")), stop_after=0.2) is None
    # A symbol the exchange does not list is final.
    with pytest.raises(ExchangeDataError):
        run(failing(1, ccxt.BadSymbol("no such market")))
