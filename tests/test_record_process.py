"""``liqwidget record`` as a real process: SIGKILL mid-stream, restart, SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)
from fake_exchange.helpers import now_ms, wait_for

from liqwidget.store import Store

BTC = "BTC/USDT:USDT"
IDS = {"binanceusdm": "BTCUSDT", "bybit": "BTCUSDT"}

pytestmark = pytest.mark.usefixtures("no_foreign_hosts")


def start_recorder(store_path, api_base, *args: str) -> subprocess.Popen:
    """``liqwidget record`` as a subprocess; ``args`` replace the default exchanges/settings."""
    args = args or (
        "binanceusdm", "bybit", "--symbols", BTC, "--max-latency", "0.05",
        "--batch-size", "20", "--backoff", "0.05", "--status-every", "3600",
    )  # fmt: skip
    cmd = [sys.executable, "-m", "liqwidget.cli", "record", *args]
    cmd += ["--store", str(store_path), "--api-base", api_base]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


def events(exchange: str, n: int, t0: int, first: int = 0) -> list[dict]:
    return [
        {
            "symbol": IDS[exchange],
            "side": "long" if k % 3 else "short",
            "price": 50_000 + k,
            "amount": 0.5 + k,
            "ts": t0 + k,
        }
        for k in range(first, first + n)
    ]


def rows(store: Store) -> list[tuple]:
    f = store.load_liquidations()
    t = f["time"].astype("int64") // 1_000_000
    return list(zip(f["exchange"], t, f["side"], f["price"], f["notional"], strict=True))


def as_rows(exchange: str, evs: list[dict]) -> set[tuple]:
    return {
        (exchange, e["ts"], e["side"], float(e["price"]), e["price"] * e["amount"]) for e in evs
    }


@pytest.mark.slow
def test_sigkill_loses_nothing_committed_and_restart_continues(fake, store_location):
    path = store_location
    t0 = now_ms()
    sent = {ex: events(ex, 400, t0) for ex in IDS}
    proc = start_recorder(path, fake.url)
    try:
        fake.wait_subscribed("binanceusdm", timeout=60)
        fake.wait_subscribed("bybit", timeout=60)
        reader = Store(path)

        stop_pushing = threading.Event()

        def pump():  # a steady stream on both exchanges while the process gets killed
            for k in range(0, 400, 10):
                if stop_pushing.is_set():
                    return
                for ex in IDS:
                    fake.push(ex, sent[ex][k : k + 10])
                time.sleep(0.005)

        pusher = threading.Thread(target=pump)
        pusher.start()
        wait_for(lambda: reader.count_liquidations() >= 100, timeout=60, what="100 committed")
        committed = set(rows(reader))  # what a reader saw committed before the kill
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        stop_pushing.set()
        pusher.join()
        assert proc.returncode == -signal.SIGKILL

        after_kill = rows(reader)
        assert reader.integrity_check() == "ok"
        assert committed <= set(after_kill)  # every committed event is intact
        assert len(after_kill) == len(set(after_kill))  # and none twice
        assert set(after_kill) <= as_rows("binanceusdm", sent["binanceusdm"]) | as_rows(
            "bybit", sent["bybit"]
        )

        # Restart: recording continues, the dead time is a gap.
        proc = start_recorder(path, fake.url)
        fake.wait_subscribed("binanceusdm", timeout=60)
        fake.wait_subscribed("bybit", timeout=60)
        more = {ex: events(ex, 30, t0 + 100_000) for ex in IDS}
        for ex in IDS:
            fake.push(ex, more[ex])
        target = len(after_kill) + 60
        wait_for(lambda: reader.count_liquidations() == target, timeout=60, what="new events")
        # A gap is queued when its feed is connected again and committed with a later batch.
        wait_for(lambda: len(reader.gaps()) >= 2, timeout=60, what="a gap per exchange")
        gaps = reader.gaps()
        assert sorted(gaps["exchange"]) == ["binanceusdm", "bybit"]
        assert set(gaps["reason"]) == {"recorder ended without a clean shutdown"}

        # SIGTERM: a clean stop with everything committed.
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "stopped cleanly" in out
        assert "binanceusdm: disconnected, received 30, stored 30" in out
        final = set(rows(reader))
        assert as_rows("bybit", more["bybit"]) <= final
        assert reader.integrity_check() == "ok"
        reader.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_ctrl_c_commits_pending_events(fake, store_location):
    """Events still waiting for their batch when Ctrl-C (SIGINT) arrives are committed."""
    path = store_location
    proc = start_recorder(
        path, fake.url, "binanceusdm", "--max-latency", "600", "--batch-size", "100000",
        "--status-every", "0.1",
    )  # fmt: skip
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        fake.wait_subscribed("binanceusdm", timeout=60)
        sent = events("binanceusdm", 25, now_ms())
        fake.push("binanceusdm", sent)
        wait_for(
            lambda: any("received 25, stored 0" in line for line in lines),
            timeout=60,
            what="the recorder to hold 25 uncommitted events",
        )
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        reader.join(timeout=10)
        out = "".join(lines)
        assert "note: Binance publishes at most one liquidation per symbol per second" in out
        assert "stopped cleanly" in out and "received 25, stored 25" in out
        with Store(path) as store:
            assert set(rows(store)) == as_rows("binanceusdm", sent)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


@pytest.mark.slow
def test_a_store_file_removed_underneath_ends_the_process_loudly(fake, tmp_path):
    """Writes into a deleted SQLite file would vanish: the recorder stops with status 1 and
    saves what it had not stored yet next to where the store was."""
    path = tmp_path / "gone.sqlite"
    proc = start_recorder(path, fake.url, "bybit", "--max-latency", "0.05")
    try:
        fake.wait_subscribed("bybit", timeout=60)
        t0 = now_ms()
        with Store(path) as reader:
            fake.push("bybit", events("bybit", 3, t0))
            wait_for(lambda: reader.count_liquidations() == 3, timeout=60, what="3 stored")
        for p in tmp_path.glob("gone.sqlite*"):
            p.unlink()
        after = events("bybit", 4, t0, first=3)
        fake.push("bybit", after)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert proc.returncode == 1, out
    line = [x for x in out.splitlines() if x.startswith("error: ")]
    assert len(line) == 1 and "was removed or replaced" in line[0], out
    assert "Traceback" not in out
    rescue = line[0].rsplit("saved to ", 1)[1]
    rows = [json.loads(x) for x in open(rescue)]
    assert sorted(r["price"] for r in rows) == sorted(float(e["price"]) for e in after)
