"""Exchange data through ccxt: history fetch (:mod:`.fetch`), the live liquidation recorder
(:mod:`.recorder`) and what each exchange's liquidation feed can tell (:mod:`liqwidget.feeds`).

Everything lands in the store (:class:`liqwidget.store.Store`). Importing this package is
cheap: ccxt is only loaded when a fetch or recorder name is first used.
"""

from __future__ import annotations

import importlib

from ..feeds import FEEDS, FeedInfo, feed_info

_LAZY = {
    "SUPPORTED": ".exchanges",
    "ExchangeDataError": ".exchanges",
    "make_exchange": ".exchanges",
    "resolve_symbol": ".exchanges",
    "FetchReport": ".fetch",
    "Retry": ".fetch",
    "fetch_history": ".fetch",
    "FeedHealth": ".health",
    "FeedStats": ".health",
    "read_health_file": ".health",
    "StoreUnwritable": ".writer",
    "Recorder": ".recorder",
    "RecorderSettings": ".recorder",
}

__all__ = ["FEEDS", "FeedInfo", "feed_info", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
