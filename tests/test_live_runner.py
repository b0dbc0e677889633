"""The live process's own decisions, without an exchange: snapshot builds on the cadence."""

from __future__ import annotations

import asyncio
import threading

import pandas as pd

from liqwidget.live.runner import LiveRunner, LiveSettings
from liqwidget.store import Store


class _Proc:
    returncode = 0

    async def wait(self):
        return 0


def test_a_snapshot_build_runs_once_per_cadence_mark(tmp_path, monkeypatch):
    calls = []

    async def fake_exec(*cmd, **kw):
        calls.append(cmd)
        return _Proc()

    monkeypatch.setattr(asyncio, "create_subprocess_exec", fake_exec)
    with Store(tmp_path / "s.sqlite") as store:
        settings = LiveSettings(cadence="1h", project=tmp_path)
        runner = LiveRunner(store, {"binanceusdm": ["BTC/USDT:USDT"]}, tmp_path / "out", settings)

        async def scenario():
            for t in ("10:20", "10:59", "11:00", "11:30", "12:05", "12:06"):
                await runner._maybe_snapshot(pd.Timestamp(f"2026-06-01 {t}", tz="UTC"))
                await asyncio.sleep(0)

        # A fresh event loop in its own thread (the browser tests' fixture holds one here).
        thread = threading.Thread(target=lambda: asyncio.run(scenario()))
        thread.start()
        thread.join(timeout=60)
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
