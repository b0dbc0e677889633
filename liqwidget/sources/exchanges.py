"""Creating ccxt / ccxt.pro exchange objects the way liqwidget uses them.

Only linear perpetual and futures markets are loaded (that is where liquidations happen),
rate limiting is on, and the API can be redirected to a local mirror or test server with
``api_base`` (every ``https://host/...`` / ``wss://host/...`` API URL becomes
``<api_base>/host/...``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import ccxt
import ccxt.pro

#: Exchanges liqwidget is tested against (any ccxt id with the needed methods may work).
SUPPORTED = ("binanceusdm", "bybit", "okx")

#: Market types to load per exchange: derivatives only, to keep start-up small.
_MARKET_TYPES = {"bybit": ["linear"], "okx": ["swap", "future"], "binanceusdm": ["linear"]}


class ExchangeDataError(RuntimeError):
    """A permanent problem talking to an exchange; the message says what to do next."""


def make_exchange(
    exchange_id: str,
    *,
    pro: bool = False,
    api_base: str | None = None,
    config: dict[str, Any] | None = None,
):
    """A ccxt (``pro=False``) or ccxt.pro (``pro=True``) exchange object.

    ``config`` is passed to the ccxt constructor (e.g. ``{"rateLimit": 100}``); ``api_base``
    redirects the API to a mirror such as ``http://127.0.0.1:8080``.
    """
    module = ccxt.pro if pro else ccxt
    if exchange_id not in getattr(module, "exchanges", []):
        kind = "ccxt.pro (live streams)" if pro else "ccxt"
        raise ExchangeDataError(
            f"unknown exchange {exchange_id!r} for {kind}; try one of {', '.join(SUPPORTED)}"
        )
    settings: dict[str, Any] = {"enableRateLimit": True, "timeout": 20_000}
    settings |= config or {}
    options = dict(settings.pop("options", {}) or {})
    if exchange_id in _MARKET_TYPES:
        options.setdefault("fetchMarkets", {"types": _MARKET_TYPES[exchange_id]})
    settings["options"] = options
    exchange = getattr(module, exchange_id)(settings)
    if api_base:
        redirect(exchange, api_base)
    return exchange


def redirect(exchange, api_base: str) -> None:
    """Point every API URL of a ccxt exchange object at ``api_base`` (keeps the original
    host as the first path segment, and ws/wss for WebSocket URLs)."""
    parsed = urlparse(api_base)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ExchangeDataError(f"api_base must look like http://127.0.0.1:8080, got {api_base!r}")
    base = api_base.rstrip("/")
    ws_base = ("wss" if parsed.scheme == "https" else "ws") + base[len(parsed.scheme) :]

    def rewrite(value):
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rewrite(v) for v in value]
        if isinstance(value, str):
            for scheme, target in (
                ("https://", base),
                ("http://", base),
                ("wss://", ws_base),
                ("ws://", ws_base),
            ):
                if value.startswith(scheme):
                    return f"{target}/{value[len(scheme) :]}"
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])
