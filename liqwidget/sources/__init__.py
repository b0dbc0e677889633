"""Exchange data through ccxt: history fetch (:mod:`.fetch`), the live liquidation recorder
(:mod:`.recorder`) and what each exchange's liquidation feed can tell (:mod:`.feeds`).

Everything lands in the store (:class:`liqwidget.store.Store`)."""

from .exchanges import SUPPORTED, ExchangeDataError, make_exchange
from .feeds import FEEDS, FeedInfo, feed_info
from .fetch import FetchReport, Retry, fetch_history
from .recorder import FeedStats, Recorder, RecorderSettings

__all__ = [
    "FEEDS",
    "SUPPORTED",
    "ExchangeDataError",
    "FeedInfo",
    "FeedStats",
    "FetchReport",
    "Recorder",
    "RecorderSettings",
    "Retry",
    "feed_info",
    "fetch_history",
    "make_exchange",
]
