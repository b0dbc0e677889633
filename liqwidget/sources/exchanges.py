"""Creating ccxt / ccxt.pro exchange objects the way liqwidget uses them.

Only perpetual and futures markets are loaded (linear, and coin-margined ones where the
exchange lists them) (that is where liquidations happen),
rate limiting is on, and the API can be redirected to a local mirror or test server with
``api_base`` (every ``https://host/...`` / ``wss://host/...`` API URL becomes
``<api_base>/host/...``).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlparse

import ccxt
import ccxt.pro

#: Exchanges liqwidget is tested against (any ccxt id with the needed methods may work).
SUPPORTED = ("binanceusdm", "binancecoinm", "bybit", "okx")

#: Market types to load per exchange: derivatives only, to keep start-up small.
_MARKET_TYPES = {
    "bybit": ["linear", "inverse"],
    "okx": ["swap", "future"],
    "binanceusdm": ["linear"],
    "binancecoinm": ["inverse"],
}


class ExchangeDataError(RuntimeError):
    """A permanent problem talking to an exchange; the message says what to do next."""


def short(value, n: int = 200) -> str:
    """``value`` as one line of at most ``n`` characters, for logs and error messages."""
    text = " ".join(str(value).split())
    return text if len(text) <= n else text[: n - 1] + "…"


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
    # The last JSON answer is kept so that an empty page can be told from a broken one.
    settings: dict[str, Any] = {
        "enableRateLimit": True,
        "timeout": 20_000,
        "enableLastJsonResponse": True,
    }
    settings |= config or {}
    options = dict(settings.pop("options", {}) or {})
    if exchange_id in _MARKET_TYPES:
        options.setdefault("fetchMarkets", {"types": _MARKET_TYPES[exchange_id]})
    settings["options"] = options
    exchange = getattr(module, exchange_id)(settings)
    if api_base:
        redirect(exchange, api_base)
    _check_answers(exchange)
    return exchange


def _check_answers(exchange) -> None:
    """Every API answer liqwidget asks for is JSON with something in it. A successful answer
    that is not JSON (an empty body, a captive portal's or proxy's HTML page) or is an empty
    object raises a transient error, so it is retried instead of being read as "no data
    here" (ccxt would turn it into an empty list, and a fetched range would be marked as
    done while holding nothing) or as the exchange refusing the request.

    HTTP 429 is a rate limit whatever its body says: ccxt reads some exchanges' 429 without
    their error code (a gateway's ``{"msg": "Too Many Requests"}`` at OKX) as a refusal that
    retrying cannot fix."""
    base = exchange.on_rest_response

    def on_rest_response(code, reason, url, method, headers, body, *rest):
        body = base(code, reason, url, method, headers, body, *rest)
        if int(code or 0) == 429:
            exchange.last_response_headers = headers  # ccxt sets it only after this hook
            raise ccxt.RateLimitExceeded(
                f"{exchange.id} answered 429 Too Many Requests ({short(body, 80)!r}) at {url}: "
                "rate limited; waiting and retrying"
            )
        if 200 <= int(code or 0) < 300:
            text = body.strip() if isinstance(body, str) else ""
            if not text.startswith(("{", "[")):
                what = "something that is not JSON"
            elif "".join(text.split()) == "{}":
                what = "an empty object"
            else:
                return body
            raise ccxt.ExchangeNotAvailable(
                f"{exchange.id} answered {code} with {what} ({short(body, 80)!r}) at {url}: "
                "a proxy, captive portal or maintenance page?"
            )
        return body

    exchange.on_rest_response = on_rest_response


def load_exchange_markets(ex) -> dict:
    """``ex.load_markets()`` (ccxt, not ccxt.pro) checked by :func:`require_markets`."""
    ex.load_markets()
    require_markets(ex)
    return ex.markets


def require_markets(ex) -> None:
    """Raise a transient error when a loaded exchange lists no markets at all: an empty
    answer (maintenance, a proxy), not a reason to call every symbol unknown."""
    if not ex.markets:
        raise ccxt.ExchangeNotAvailable(
            f"{ex.id} answered with an empty list of markets (maintenance, or a proxy "
            "answering for it?)"
        )


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


#: Suffixes people add to mean "the perpetual" (``BTC-PERP``, ``BTC-USDT-SWAP``).
_PERP_WORDS = ("PERPETUAL", "PERP", "SWAP")


def resolve_symbol(ex, symbol: str) -> dict:
    """The contract market of a loaded ccxt exchange that ``symbol`` names, exactly.

    Only ccxt unified symbols are taken (``'BTC/USDT:USDT'`` for the linear perpetual), so the
    store always keys a market the same way. Anything else raises :class:`ExchangeDataError`
    with one line that names the unified symbol to use when one fits: the exchange's own id
    (``BTCUSDT``, ``BTC-USDT-SWAP``), another case (``btc/usdt:usdt``), a spot pair
    (``btc/usdt``) or a perpetual nickname (``BTC-PERP``, ``BTC-USDT-PERP``, which ccxt itself
    would read as an option).
    """
    markets = ex.markets or {}
    market = markets.get(symbol) if isinstance(symbol, str) else None
    if market is not None:
        if not market.get("contract"):
            raise ExchangeDataError(
                f"{symbol} on {ex.id} is not a futures/perpetual market; liquidations happen on "
                "contracts (e.g. 'BTC/USDT:USDT')"
            )
        return market
    text = symbol if isinstance(symbol, str) else repr(symbol)
    contracts = [m for m in markets.values() if m.get("contract")]
    if not text.strip():
        raise ExchangeDataError(f"no symbol given for {ex.id}; use e.g. 'BTC/USDT:USDT'")
    by_id = [m for m in contracts if str(m.get("id")).upper() == text.strip().upper()]
    if by_id:
        raise ExchangeDataError(
            f"{text!r} is {ex.id}'s own id for a market; use the unified symbol "
            f"{by_id[0]['symbol']!r}"
        )
    hints = ", ".join(repr(m["symbol"]) for m in _similar_markets(contracts, text))
    raise ExchangeDataError(
        f"{ex.id} has no market {text!r}"
        + (f"; did you mean {hints}?" if hints else ";")
        + " use ccxt unified symbols such as 'BTC/USDT:USDT' for linear perpetuals."
    )


def _letters(value) -> str:
    return re.sub(r"[^A-Z0-9]", "", str(value or "").upper())


def _similar_markets(contracts: list[dict], text: str, n: int = 3) -> list[dict]:
    """Contract markets ``text`` probably meant, perpetuals first."""
    letters = _letters(text)
    for word in _PERP_WORDS:
        if letters.endswith(word) and len(letters) > len(word):
            letters = letters[: -len(word)]
            break

    def key(m: dict) -> tuple:
        return (not m.get("swap"), not m.get("linear"), m["symbol"])

    ranked = sorted(contracts, key=key)
    for match in (
        lambda m: _letters(m["symbol"]) == _letters(text),  # another case
        lambda m: _letters(f"{m.get('base')}{m.get('quote')}") == letters,  # BTC/USDT, -PERP
        lambda m: _letters(m.get("base")) == letters,  # BTC-PERP
        lambda m: _letters(m.get("base")).startswith(letters[:3]) and letters[:3],
    ):
        hits = [m for m in ranked if match(m)]
        if hits:
            return hits[:n]
    return []
