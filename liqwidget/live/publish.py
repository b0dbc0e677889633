"""The live data file: the map of a market's latest window, rewritten atomically.

One JSON file per market holds everything the live page draws (the figure's data sources,
arrays as base64 in the widget's wire format, and its scalar properties) plus how fresh it
is: when it was written, the close of its newest bar and when it should count as stale. A
second file holds the Bokeh document skeleton the page embeds once. Files are written to a
temporary name and renamed over the old one, so a reader never sees half a file.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..escape import slug
from ..figure import FigureData, figure_data, figure_item, layout_from
from ..figure.precompiled import callbacks_script
from ..files import write_atomic
from ..market import MarketData
from ..model import ClusterModel
from ..widget.wire import encode_column

#: Format version of the data file (the page refuses files it does not understand).
FORMAT = 1
#: Where the live files live, relative to the site root.
LIVE_DIR = "live"
#: Display resolution and stored cursor moments of the live map (kept small: it is polled).
RESOLUTION = (520, 220)
CURSOR_STEPS = 32


def market_slug(exchange: str, symbol: str) -> str:
    """A file-name-safe name of a market: ``binanceusdm-btc-usdt-usdt``."""
    return slug(f"{exchange}-{symbol}")


def data_path(root: Path, slug: str) -> Path:
    return Path(root) / LIVE_DIR / f"{slug}.json"


def doc_path(root: Path, slug: str) -> Path:
    return Path(root) / LIVE_DIR / f"{slug}-doc.json"


def callbacks_file(slug: str) -> str:
    """File name (in the live folder) of the map's precompiled callbacks."""
    return f"{slug}-callbacks.js"


def index_path(root: Path) -> Path:
    return Path(root) / LIVE_DIR / "index.json"


def _b64(cols: dict[str, Any]) -> dict[str, Any]:
    """Wire-encoded columns with their binary data as base64 text (for a JSON file)."""
    out = {}
    for name, value in cols.items():
        spec = encode_column(value)
        if isinstance(spec, dict):
            spec = {**spec, "data": base64.b64encode(spec["data"]).decode("ascii")}
        out[name] = spec
    return out


@dataclass
class LiveMap:
    """How one market's live map is drawn: model, window and display settings."""

    exchange: str
    symbol: str
    timeframe: str
    window: pd.Timedelta = field(default_factory=lambda: pd.Timedelta("3D"))
    model: ClusterModel = field(default_factory=ClusterModel)
    resolution: tuple[int, int] = RESOLUTION
    cursor_steps: int = CURSOR_STEPS
    stale_bars: float = 3.0  # the page calls the data stale after this many bars without one
    poll_seconds: float = 5.0  # how often the page looks for a new file
    #: Tiers of the document skeleton written by this process (rewritten when they change).
    _doc_tiers: list[float] | None = field(default=None, init=False, repr=False)

    @property
    def slug(self) -> str:
        return market_slug(self.exchange, self.symbol)

    @property
    def title(self) -> str:
        return f"{self.symbol} on {self.exchange}, live"

    def window_of(self, market: MarketData) -> MarketData:
        """The displayed window: the bars of the last ``window`` up to the newest bar."""
        start = market.index[-1] + market.timeframe - self.window
        return market.slice(start, None)

    def figure(self, market: MarketData, events: pd.DataFrame | None) -> FigureData:
        """Re-estimate the window and compute what the map shows: the closed bars and the
        bar now open, where the liquidations recorded since the last close are drawn (on
        the book as it stood at that close) as they are published between bars."""
        estimate = self.model.estimate(market)
        return figure_data(
            estimate,
            events,
            resolution=self.resolution,
            cursor_steps=self.cursor_steps,
            time_range=(market.index[0], market.index[-1] + 2 * market.timeframe),
        )

    def payload(
        self, data: FigureData, market: MarketData, health: dict | None = None
    ) -> dict[str, Any]:
        """The data file's content for ``data`` (drawn from ``market``)."""
        step_ms = market.timeframe.value // 1_000_000
        last_open = market.index[-1].value // 1_000_000
        return {
            "format": FORMAT,
            "market": {"exchange": self.exchange, "symbol": self.symbol, "slug": self.slug},
            "title": self.title,
            "timeframe_ms": step_ms,
            "bars": len(market),
            "last_bar_open": last_open,
            "last_bar_close": last_open + step_ms,
            "written": int(time.time() * 1000),
            "stale_after_ms": int(self.stale_bars * step_ms + 1000 * self.poll_seconds),
            "poll_ms": int(1000 * self.poll_seconds),
            "tiers": list(data.tiers),
            "health": health or {},
            "sources": {name: _b64(cols) for name, cols in data.sources.items()},
            "props": data.props,
        }

    def publish(
        self,
        root: Path,
        market: MarketData,
        events: pd.DataFrame | None,
        health: dict | None = None,
        data: FigureData | None = None,
    ) -> dict[str, Any]:
        """Re-estimate ``market``'s window and rewrite the data file under ``root``."""
        window = self.window_of(market)
        data = data or self.figure(window, events)
        body = self.payload(data, window, health)
        doc = doc_path(root, self.slug)
        if self._doc_tiers != body["tiers"] or not doc.is_file():
            self.publish_doc(root, data)
            self._doc_tiers = body["tiers"]
        write_atomic(data_path(root, self.slug), json.dumps(body).encode())
        return body

    def publish_doc(self, root: Path, data: FigureData) -> None:
        """Write the document skeleton the page embeds (once, or when the tiers change)."""
        from ..site.snapshot import FIGURE_SIZE  # the snapshot embeds' widest size

        width, height = FIGURE_SIZE
        layout = layout_from(
            data.placeholder(), width=width, height=height, title=self.title, fit=True
        )
        # The callbacks as a script file, so the page runs under a policy without eval.
        callbacks = callbacks_file(self.slug)
        write_atomic(Path(root) / LIVE_DIR / callbacks, callbacks_script(layout).encode())
        item = {"tiers": list(data.tiers), "callbacks": callbacks, "item": figure_item(layout)}
        write_atomic(doc_path(root, self.slug), json.dumps(item).encode())


def publish_index(root: Path, maps: list[LiveMap]) -> None:
    """List the live markets for the page's market picker."""
    body = [{"slug": m.slug, "title": m.title} for m in maps]
    write_atomic(index_path(root), json.dumps({"format": FORMAT, "markets": body}).encode())
