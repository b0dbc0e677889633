"""Deterministic market data for the fake exchange: every bar and OI sample is a closed-form
function of its time, so any page of history can be produced on demand and checked exactly."""

from __future__ import annotations

import calendar
import math
import time

DAY = 86_400_000
#: The first bar the fake exchange has: midnight UTC 25 days ago, so that every test range
#: lies inside Binance's 30-day open-interest window.
HISTORY_START = (int(time.time() * 1000) // DAY - 25) * DAY

MINUTE = 60_000
TIMEFRAMES = {
    "1s": 1_000,
    "1m": MINUTE,
    "5m": 5 * MINUTE,
    "15m": 15 * MINUTE,
    "30m": 30 * MINUTE,
    "1h": 60 * MINUTE,
    "4h": 240 * MINUTE,
    "1d": 1440 * MINUTE,
}

#: Per exchange: exchange-specific instrument id -> (base, quote, contract size in base units).
INSTRUMENTS = {
    "binanceusdm": {"BTCUSDT": ("BTC", "USDT", 1.0), "ETHUSDT": ("ETH", "USDT", 1.0)},
    "bybit": {"BTCUSDT": ("BTC", "USDT", 1.0), "ETHUSDT": ("ETH", "USDT", 1.0)},
    "okx": {"BTC-USDT-SWAP": ("BTC", "USDT", 0.01), "ETH-USDT-SWAP": ("ETH", "USDT", 0.1)},
}

#: Coin-margined (inverse) perpetuals: exchange id -> (base, quote, contract value in USD).
INVERSE = {
    "binancecoinm": {"BTCUSD_PERP": ("BTC", "USD", 100.0)},
    "bybit": {"BTCUSD": ("BTC", "USD", 1.0)},
    "okx": {"BTC-USD-SWAP": ("BTC", "USD", 100.0)},
}

#: Dated futures: exchange id -> (base, quote, contract size in base units, expiry in ms).
#: One OKX quarterly, expiring at the end of next year (its id names the date).
_YEAR = time.gmtime().tm_year + 1
FUTURES = {
    "okx": {
        f"BTC-USDT-{_YEAR % 100:02d}1231": (
            "BTC",
            "USDT",
            0.01,
            calendar.timegm((_YEAR, 12, 31, 8, 0, 0)) * 1000,
        )
    }
}

BASE_PRICE = {"BTC": 60_000.0, "ETH": 3_000.0}


def instrument(exchange: str, sid: str) -> tuple[str, str, float, bool] | None:
    """(base, quote, contract size, inverse) of an exchange's instrument id, if it has it."""
    if sid in INSTRUMENTS.get(exchange, {}):
        return (*INSTRUMENTS[exchange][sid], False)
    if sid in INVERSE.get(exchange, {}):
        return (*INVERSE[exchange][sid], True)
    if sid in FUTURES.get(exchange, {}):
        return (*FUTURES[exchange][sid][:3], False)
    return None


def oi_usd_inverse(base: str, ts: int) -> float:
    """Open interest of a coin-margined contract in USD at ``ts``: a whole number of 100 USD
    contracts."""
    return 100.0 * round(200.0 * oi_base(base, ts))


def bar(base: str, ts: int, step: int) -> tuple[float, float, float, float, float]:
    """(open, high, low, close, volume) of the bar opening at ``ts`` (ms)."""
    p0 = BASE_PRICE[base]
    k = ts / 3_600_000.0
    o = p0 * (1 + 0.02 * math.sin(k / 7.0))
    c = p0 * (1 + 0.02 * math.sin((k + step / 3_600_000.0) / 7.0))
    h = max(o, c) * 1.001
    lo = min(o, c) * 0.999
    vol = 10.0 + (ts // step) % 17
    return round(o, 2), round(h, 2), round(lo, 2), round(c, 2), float(vol)


def oi_base(base: str, ts: int) -> float:
    """Open interest in base units (coins) at time ``ts``."""
    scale = 1_000.0 if base == "BTC" else 20_000.0
    return round(scale * (1 + 0.1 * math.sin(ts / 3_600_000.0 / 5.0)), 4)


def aligned(start: int, stop: int, step: int) -> range:
    """Bar-open times in ``[start, stop]`` that the fake has (from HISTORY_START)."""
    first = max(start, HISTORY_START)
    first = -(-first // step) * step
    return range(first, stop + 1, step)
