"""``liqwidget live`` end to end on loopback: the fake exchange on a fast clock (one-second
bars, moving open interest, liquidation bursts), the live page in Chromium, SIGKILL and
restart, a REST outage, and malformed candles and open interest."""

from __future__ import annotations

import functools
import http.server
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fake_exchange import FakeExchange
from fake_exchange.helpers import wait_for

from liqwidget.store import Store

BTC = "BTC/USDT:USDT"
#: Where to save the screenshots of the page for a person to look at (optional).
SHOTS = os.environ.get("LIQWIDGET_SCREENSHOTS")


def start_live(store: Path, out: Path, api_base: str, log: Path) -> subprocess.Popen:
    cmd = [
        sys.executable, "-m", "liqwidget.cli", "live", "binanceusdm", "--symbols", BTC,
        "--store", str(store), "--out", str(out), "--timeframe", "1s", "--window", "2min",
        "--settle", "0.2", "--page-poll", "0.5", "--events-every", "0.5",
        "--max-latency", "0.1", "--backoff", "0.1", "--status-every", "5",
        "--api-base", api_base, "--calibrate", "--calibrate-every", "15s",
    ]  # fmt: skip
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(cmd, stdout=log.open("a"), stderr=subprocess.STDOUT, env=env)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def serve(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """A plain static host for the site folder (the page needs nothing else)."""
    handler = functools.partial(_Quiet, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def live_state(page) -> dict:
    return page.evaluate("() => ({...window.__liqwidgetLive, noReload: window.__noReload})")


def wait_state(page, state: str, timeout: float) -> dict:
    return wait_for(
        lambda: (s := live_state(page))["state"] == state and s, timeout, f"page {state}"
    )


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"live-{name}.png"))


def stored_ids(path: Path) -> set[tuple]:
    with Store(path) as s:
        f = s.load_liquidations()
    return set(zip(f["time"], f["side"], f["price"], f["notional"], strict=True))


@pytest.mark.slow
def test_live_end_to_end(page, tmp_path):
    store, out, log = tmp_path / "live.sqlite", tmp_path / "public", tmp_path / "live.log"
    with FakeExchange(speed=3600) as fx:
        proc = start_live(store, out, fx.url, log)
        server, base = serve(out)
        try:
            fx.wait_subscribed("binanceusdm", 1, timeout=90)
            fx.start_bursts("binanceusdm", "BTCUSDT", every=0.7, size=3)
            wait_for(lambda: (out / "live" / "index.json").is_file(), 60, "the live index")

            # The page shows the map and updates it in place.
            page.goto(f"{base}embed/live.html")
            page.evaluate("() => { window.__noReload = 1; }")
            first = wait_state(page, "live", 30)
            wait_for(lambda: live_state(page)["updates"] >= first["updates"] + 3, 30, "updates")
            shot(page, "before")
            # --calibrate: the page and the log say which leverage mix draws the map.
            # (the first fit runs beside the publishing, so it may land a few updates later)
            wait_for(
                lambda: "leverage mix" in page.inner_text(".lw-live-status"), 30, "the mix shown"
            )
            assert "leverage mix" in log.read_text()
            # Malformed candles and open interest, a few bars ahead: refused, never stored.
            bad_bar = (int(time.time()) + 3) * 1000
            fx.bad_bars.add(bad_bar)
            fx.bad_oi = 2
            closes = [live_state(page)["lastBarClose"]]
            wait_for(
                lambda: live_state(page)["lastBarClose"] >= closes[0] + 8_000, 40, "8 more bars"
            )
            shot(page, "after")
            text = log.read_text()
            assert "refused (high" in text and "current open interest refused" in text
            with Store(store) as s:
                bars = s.load_market("binanceusdm", BTC, "1s")
                assert bad_bar not in set(bars.index.asi8 // 1_000_000)
                oi = s._query("SELECT min(amount) FROM open_interest")[0][0]
                assert oi > 0
            assert live_state(page)["noReload"] == 1

            # SIGKILL: what was committed stays; the page says the data is stale.
            wait_for(lambda: len(stored_ids(store)) >= 6, 30, "recorded liquidations")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            before = stored_ids(store)
            killed_at = live_state(page)["lastBarClose"]
            wait_state(page, "stale", 20)
            shot(page, "stale")
            assert "STALE" in page.inner_text(".lw-live-status")

            # Restart: backfill, the page catches up without a reload, nothing lost.
            proc = start_live(store, out, fx.url, log)
            wait_for(
                lambda: (
                    live_state(page)["state"] == "live"
                    and live_state(page)["lastBarClose"] > killed_at + 2_000
                ),
                90,
                "the page catching up after the restart",
            )
            after = stored_ids(store)
            assert before <= after
            wait_for(lambda: len(stored_ids(store)) > len(after), 20, "new liquidations")
            with Store(store) as s:
                assert len(s.gaps("binanceusdm")) >= 1  # the blind stretch is on record
                bars = s.load_market("binanceusdm", BTC, "1s")
            closed = bars.slice(
                pd_ts(killed_at - 20_000), pd_ts(live_state(page)["lastBarClose"] - 2_000)
            )
            missing = [g for g in closed.gaps if g.after.value // 1_000_000 + 1000 != bad_bar]
            assert not missing, f"bars missing after the restart: {missing}"

            # REST outage: the page shows stale, then recovers.
            fx.fail_next("binanceusdm", "/fapi/v1/klines", "server", times=10_000)
            wait_state(page, "stale", 30)
            assert "not current" in page.inner_text(".lw-live-status")
            fx.clear_faults()
            wait_state(page, "live", 30)
            assert live_state(page)["noReload"] == 1
            page.log.assert_clean()

            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
            assert "stopped cleanly" in log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
            server.shutdown()
            fx.stop_bursts()


def pd_ts(ms: int):
    import pandas as pd

    return pd.Timestamp(ms, unit="ms", tz="UTC")
