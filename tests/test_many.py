"""estimate_many on Dask: a LocalCluster, and a `dask scheduler` with two `dask worker`
processes on loopback (one of them killed mid-run), against the same work done serially."""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import liqwidget as lw
from liqwidget.cli import main
from liqwidget.many import EstimateManyError, StoredMarket, estimate_many
from liqwidget.store import Store
from liqwidget.synthetic import synthetic_market

distributed = pytest.importorskip("distributed")
#: Ids Bokeh gives a document's elements and models (a random UUID, a per-process counter).
BOKEH_IDS = re.compile(rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|\bp\d+\b")


@pytest.fixture(scope="module")
def local_client():
    from liqwidget.cluster import dask_client

    with dask_client(n_workers=2) as client:
        yield client


@pytest.fixture(scope="module")
def loopback():
    from liqwidget.cluster import loopback_cluster

    with loopback_cluster(2) as cluster:
        yield cluster


def small_markets(k: int = 4, n: int = 3_000) -> dict:
    return {f"m{i}": partial(synthetic_market, n, seed=i) for i in range(k)}


def assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(a.summary, b.summary)
    pd.testing.assert_frame_equal(a.clusters, b.clusters)
    pd.testing.assert_frame_equal(a.scores, b.scores)


def test_local_cluster_matches_serial_and_keeps_only_summaries(local_client):
    markets = small_markets()
    serial = estimate_many(markets, scheduler="serial")
    dask = estimate_many(markets, scheduler=local_client)
    assert_same(serial, dask)
    assert list(dask.summary.index) == list(markets)
    assert dask.estimates == {}  # nothing large came back
    assert (dask.summary["bars"] == 3_000).all() and dask.summary["digest"].is_unique
    assert set(dask.clusters["side"]) == {"long", "short"}
    # the summary agrees with the plain estimate of one market
    one = lw.ClusterModel().estimate(markets["m2"]())
    assert dask.summary.loc["m2", "swept_long"] == pytest.approx(one.swept["long"].sum())
    assert dask.summary.loc["m2", "levels"] == len(one.raw)


def test_keep_returns_the_estimates(local_client):
    markets = small_markets(2, 1_000)
    got = estimate_many(markets, lw.ClusterModel(side_split=0.6), scheduler=local_client, keep=True)
    est = got.estimates["m1"]
    assert isinstance(est, lw.ClusterEstimate) and est.params["side_split"] == 0.6
    ref = lw.ClusterModel(side_split=0.6).estimate(markets["m1"]())
    np.testing.assert_array_equal(est.swept.to_numpy(), ref.swept.to_numpy())


def test_a_failing_market_is_named(local_client):
    markets = {"good": partial(synthetic_market, 500), "bad": partial(synthetic_market, 1)}
    with pytest.raises(EstimateManyError, match="market 'bad'"):
        estimate_many(markets, scheduler=local_client)
    with pytest.raises(TypeError, match="market 'x' is a str"):
        estimate_many({"x": "BTC"}, scheduler="serial")
    with pytest.raises(ValueError, match="unknown market"):
        estimate_many(small_markets(1), scheduler="serial", liquidations={"nope": None})


def fill_store(location: str, sample) -> list[StoredMarket]:
    """Two exchanges' bars and OI from the sample, and recorded liquidations on one."""
    bars = sample.frame.iloc[:800]
    ms = bars.index.asi8 // 1_000_000
    ohlcv = [[int(t), *row, 1.0] for t, row in zip(ms, bars[["open", "high", "low", "close"]].to_numpy().tolist(), strict=True)]  # fmt: skip
    oi = [(int(t), None, float(v), None) for t, v in zip(ms, bars["open_interest"], strict=True)]
    rng = np.random.default_rng(3)
    pick = np.sort(rng.choice(np.arange(50, 800), 120, replace=False))
    events = pd.DataFrame(
        {
            "time": bars.index[pick] + pd.Timedelta(seconds=30),
            "side": np.where(bars["close"].to_numpy()[pick] < bars["open"].to_numpy()[pick], "long", "short"),
            "price": bars["close"].to_numpy()[pick],
            "notional": rng.uniform(1e4, 1e6, pick.size),
            "exchange": "bybit",
            "symbol": "BTC/USDT:USDT",
        }
    )  # fmt: skip
    with Store(location) as store:
        for ex in ("bybit", "okx"):
            store.write_bars(ex, "BTC/USDT:USDT", "5m", ohlcv)
            store.write_open_interest(ex, "BTC/USDT:USDT", "5m", oi)
        store.write_liquidations(events)
    return [StoredMarket(ex, "BTC/USDT:USDT", "5m") for ex in ("bybit", "okx")]


def test_stored_markets_are_loaded_on_the_workers_with_their_liquidations(
    store_location, sample, local_client
):
    stored = fill_store(store_location, sample)
    got = estimate_many(stored, store=store_location, scheduler=local_client)
    assert list(got.summary.index) == ["bybit BTC/USDT:USDT 5m", "okx BTC/USDT:USDT 5m"]
    assert got.summary["events"].tolist() == [120, 0]
    scores = got.scores.set_index(["market", "side"])
    assert set(scores.index.get_level_values(0)) == {"bybit BTC/USDT:USDT 5m"}  # okx: none
    assert np.isfinite(scores["spearman"]).all() and scores["best_baseline"].notna().all()
    assert_same(got, estimate_many(stored, store=store_location, scheduler="serial"))


def test_remote_scheduler_matches_serial(loopback):
    markets = small_markets(3)
    assert_same(
        estimate_many(markets, scheduler="serial"),
        estimate_many(markets, scheduler=loopback.address),
    )


def test_a_worker_killed_mid_run_loses_nothing(loopback):
    """SIGKILL one of the two worker processes while it runs a market: the scheduler re-runs
    its work on the other and the result is complete and identical to the serial one."""
    markets = {f"m{i}": partial(synthetic_market, 60_000, seed=10 + i) for i in range(6)}
    out: dict = {}
    run = threading.Thread(
        target=lambda: out.setdefault("r", estimate_many(markets, scheduler=loopback.address))
    )
    with distributed.Client(loopback.address) as watcher:
        pids = watcher.run(os.getpid)  # worker address -> its process id
        run.start()
        victim = None
        deadline = time.monotonic() + 120
        while victim is None and time.monotonic() < deadline:
            busy = [a for a, keys in watcher.processing().items() if keys]
            victim = busy[0] if busy else None
            time.sleep(0.05)
        assert victim is not None, "no worker ever started a market"
        time.sleep(0.3)  # well inside the market's estimate
        os.kill(pids[victim], signal.SIGKILL)
        run.join(timeout=600)
    assert not run.is_alive()
    killed = next(p for p in loopback.workers if p.pid == pids[victim])
    assert killed.wait(timeout=30) == -signal.SIGKILL
    assert_same(out["r"], estimate_many(markets, scheduler="serial"))
    assert len(out["r"].summary) == 6


def test_cli_estimate_many_from_a_store(store_location, sample, loopback, capsys, tmp_path):
    fill_store(store_location, sample)
    out = tmp_path / "summary.csv"
    code = main(
        ["estimate-many", "--store", store_location, "--scheduler", loopback.address,
         "--out", str(out)]
    )  # fmt: skip
    text = capsys.readouterr().out
    assert code == 0, text
    assert "bybit BTC/USDT:USDT 5m" in text and "okx BTC/USDT:USDT 5m" in text
    saved = pd.read_csv(out, index_col="market")
    assert saved.loc["bybit BTC/USDT:USDT 5m", "events"] == 120


def test_site_build_from_either_store_renders_on_the_scheduler(
    store_location, sample, loopback, tmp_path
):
    """`site build --source store --store … --scheduler …`: the snapshots are rendered by the
    remote workers and come out byte for byte as a local build makes them."""
    fill_store(store_location, sample)
    project = Path(__file__).resolve().parents[1]
    built = {}
    for how in ("local", "dask"):
        args = ["site", "build", "--source", "store", "--store", store_location,
                "--cadence", "12h", "--count", "1", "--jobs", "1", "--project", str(project),
                "--out", str(tmp_path / how), "--cache", str(tmp_path / f"cache-{how}")]  # fmt: skip
        if how == "dask":
            args += ["--scheduler", loopback.address]
        assert main(args) == 0
        built[how] = {
            p.relative_to(tmp_path / how): BOKEH_IDS.sub(b"<id>", p.read_bytes())
            for p in (tmp_path / how).rglob("*")
            if p.is_file() and ("embed" in p.parts or "previews" in p.parts)
        }
    assert len(built["dask"]) >= 2  # the snapshot's embed page and preview image
    assert sorted(built["dask"]) == sorted(built["local"])
    for name, content in built["local"].items():
        same = built["dask"][name] == content  # no pytest diff of megabytes of bytes
        assert same, f"{name} differs between the local and the scheduler build"
