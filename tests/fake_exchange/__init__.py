"""A fake exchange on 127.0.0.1 for offline tests with the real ccxt client."""

from .markets import HISTORY_START, INSTRUMENTS, INVERSE, TIMEFRAMES, bar, oi_base, oi_usd_inverse
from .server import FakeExchange

__all__ = [
    "HISTORY_START",
    "INSTRUMENTS",
    "INVERSE",
    "TIMEFRAMES",
    "FakeExchange",
    "bar",
    "oi_base",
    "oi_usd_inverse",
]
