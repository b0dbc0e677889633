"""Every Python code block of the README runs as written, in order, in one namespace.

The store block reads from the default store: it is pointed (``LIQWIDGET_STORE``) at a
temporary store filled with the shipped sample's bars and a few Bybit liquidations, so the
calls run against real stored rows, not an empty file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

import liqwidget as lw

README = Path(__file__).resolve().parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), flags=re.M | re.S)


def fill_store(path: Path) -> None:
    market = lw.load_sample()
    frame = market.frame
    ms = (frame.index.asi8 // 1_000_000).astype("int64")
    bars = [
        [int(t), o, h, lo, c, 1.0]
        for t, o, h, lo, c in zip(
            ms, frame["open"], frame["high"], frame["low"], frame["close"], strict=True
        )
    ]
    oi = [(int(t), None, float(v), 1.0) for t, v in zip(ms, frame["open_interest"], strict=True)]
    events = pd.DataFrame(
        {
            "time": frame.index[[10, 20]],
            "side": ["long", "short"],
            "price": frame["close"].iloc[[10, 20]].to_numpy(),
            "notional": [12_000.0, 8_000.0],
            "exchange": "bybit",
            "symbol": "BTC/USDT:USDT",
        }
    )
    with lw.Store(path) as store:
        # the same sample under the venues of the README's aggregated market, as each one
        # reports its open interest (quote value; inverse: a count of 100 USD contracts)
        contracts = [(t, v / 100, None, 100.0) for t, _, v, _ in oi]
        for ex, sym, rows in [
            ("binanceusdm", "BTC/USDT:USDT", oi),
            ("okx", "BTC/USDT:USDT", oi),
            ("bybit", "BTC/USD:BTC", oi),
            ("binancecoinm", "BTC/USD:BTC", contracts),
        ]:
            store.write_bars(ex, sym, "5m", bars)
            store.write_open_interest(ex, sym, "5m", rows)
        store.write_liquidations(events)


def test_readme_has_python_blocks():
    blocks = python_blocks()
    assert len(blocks) >= 4
    assert any("lw.Store()" in b for b in blocks)


def test_every_readme_python_block_runs(tmp_path, monkeypatch):
    store_path = tmp_path / "store.sqlite"
    fill_store(store_path)
    monkeypatch.setenv("LIQWIDGET_STORE", str(store_path))
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, block in enumerate(python_blocks(), start=1):
        try:
            exec(compile(block, f"README.md python block {i}", "exec"), namespace)
        except Exception as exc:  # name the block: the traceback alone points at exec
            raise AssertionError(f"README python block {i} failed: {exc!r}\n{block}") from exc
    assert (tmp_path / "export").is_dir()
    assert len(namespace["events"]) == 2
