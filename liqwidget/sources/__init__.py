"""Exchange data through ccxt: history fetch (:mod:`.fetch`), the live liquidation recorder
(:mod:`.recorder`) and what each exchange's feeds can and cannot tell (:mod:`.feeds`)."""

from .exchanges import SUPPORTED, ExchangeDataError, make_exchange
from .feeds import FEEDS, FeedInfo, feed_info

__all__ = ["FEEDS", "SUPPORTED", "ExchangeDataError", "FeedInfo", "feed_info", "make_exchange"]
