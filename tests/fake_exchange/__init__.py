"""A fake exchange on 127.0.0.1 for offline tests with the real ccxt client."""

from .markets import HISTORY_START, INSTRUMENTS, TIMEFRAMES, bar, oi_base
from .server import FakeExchange

__all__ = ["HISTORY_START", "INSTRUMENTS", "TIMEFRAMES", "FakeExchange", "bar", "oi_base"]
