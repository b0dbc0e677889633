"""A fake crypto exchange on 127.0.0.1: aiohttp HTTP + WebSocket, speaking the real wire
formats of Binance USDⓈ-M (fapi), Bybit v5 and OKX v5 for what liqwidget uses through ccxt.

ccxt is pointed at it by rewriting its API URLs to ``http://127.0.0.1:PORT/<original host>/...``
(see ``liqwidget.sources.exchanges.redirect``), so the first path segment names the exchange.

The server runs on its own event loop in a thread, so synchronous ccxt tests, ccxt.pro tests
and recorder subprocesses can all talk to it. Test code drives it with thread-safe methods:
``push`` (liquidations to subscribers), ``send_raw``, ``drop``, ``fail_next`` and reads
``requests``.

A fast clock for live tests: with ``speed=N`` the synthetic market moves N times faster than
the wall clock (one-second bars then look like N-second bars: price and open interest
swing within a minute), ``start_bursts`` pushes bursts of liquidations near the current
price on a timer, and ``bad_bars`` / ``bad_oi`` make the REST answers malformed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

from aiohttp import WSMsgType, web

from .markets import (
    FUTURES,
    HISTORY_START,
    INSTRUMENTS,
    INVERSE,
    TIMEFRAMES,
    aligned,
    bar,
    instrument,
    oi_base,
    oi_usd_inverse,
)

BYBIT_INTERVALS = {
    "1": "1m",
    "5": "5m",
    "15": "15m",
    "30": "30m",
    "60": "1h",
    "240": "4h",
    "D": "1d",
}
BYBIT_OI_INTERVALS = {
    "5min": "5m",
    "15min": "15m",
    "30min": "30m",
    "1h": "1h",
    "4h": "4h",
    "1d": "1d",
}
OKX_BARS = {
    "1m": "1m",
    "5m": "5m",
    "15m": "15m",
    "30m": "30m",
    "1H": "1h",
    "4H": "4h",
    "1Dutc": "1d",
}
OKX_OI_PERIODS = {"5m": "5m", "1H": "1h", "1D": "1d"}


def exchange_of(host: str) -> str | None:
    if host.startswith(("dapi.", "dstream.")) and "binance" in host:
        return "binancecoinm"
    if "binance" in host:
        return "binanceusdm"
    if "bybit" in host:
        return "bybit"
    if "okx" in host:
        return "okx"
    return None


@dataclass
class Subscriber:
    ws: web.WebSocketResponse
    exchange: str
    topics: set[str] = field(default_factory=set)
    muted: bool = False  # a half-open line: nothing is sent, pings go unanswered


class FakeExchange:
    """The fake exchange server. Use as a context manager; ``.url`` is its base URL."""

    def __init__(
        self, now_ms: int | None = None, speed: float = 1.0, heartbeat: float | None = None
    ):
        self.now_ms = now_ms  # fixed "now" for history; None = the wall clock
        # Server pings every `heartbeat` s, closing a connection whose pong is late (Binance
        # pings every 3 minutes and drops clients that do not answer).
        self.heartbeat = heartbeat
        self.speed = float(speed)  # how much faster than the wall clock the market moves
        self.anchor = int(time.time() * 1000)  # market time = wall time at this moment
        self.bad_bars: set[int] = set()  # bar-open times answered with a malformed candle
        self.bad_oi = 0  # this many current open-interest answers are malformed
        self.bursts: list[dict] = []  # every liquidation start_bursts pushed
        self._burst_task: asyncio.Task | None = None
        self.requests: list[dict] = []
        self.faults: dict[tuple[str, str], list[str]] = defaultdict(list)
        self.refusals: dict[str, int] = defaultdict(int)  # subscriptions still to refuse
        self.subscribers: list[Subscriber] = []
        self.ws_connections = defaultdict(int)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeExchange:
        self._thread.start()
        self._call(self._start())
        return self

    def stop(self) -> None:
        if self._runner is not None:
            self._call(self._stop())
            self._runner = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FakeExchange:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _call(self, coro, timeout: float = 10.0):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_route("GET", "/{host}/{path:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        await self._stop_bursts()
        for sub in list(self.subscribers):
            await sub.ws.close()
        await self._runner.cleanup()

    # ------------------------------------------------------------------ test controls
    def fail_next(
        self,
        exchange: str,
        path_end: str,
        kind: str = "ratelimit",
        times: int = 1,
        after: int = 0,
        retry_after: int = 1,
    ):
        """Answer the next ``times`` requests whose path ends with ``path_end`` with an error
        in the exchange's own format: ``"ratelimit"`` (Binance: HTTP 429 with a
        ``Retry-After`` header of ``retry_after`` seconds; Bybit: retCode 10006; OKX: HTTP 429,
        code 50011), ``"ban"`` (Binance's HTTP 418 IP ban, also with ``Retry-After``),
        ``"iplimit"`` (Bybit's HTTP 403 "access too frequent"), ``"server"`` (HTTP 503), or a
        200 that is not the exchange's answer: ``"portal"`` (an HTML page) or ``"empty"``
        (``{}``), or ``"bare429"`` (HTTP 429 from a gateway in front of the exchange: JSON
        without the exchange's error code, as OKX's edge sometimes answers).
        ``path_end="ws"`` refuses the next WebSocket upgrades instead. ``after`` lets that
        many matching requests through first."""
        with self._lock:
            fault = (kind, retry_after)
            self.faults[(exchange, path_end)].extend([None] * after + [fault] * times)

    def _take_fault(self, exchange: str, path: str) -> tuple[str, int] | None:
        with self._lock:
            for (ex, end), kinds in self.faults.items():
                if ex == exchange and path.endswith(end) and kinds:
                    return kinds.pop(0)  # None: let this one through
        return None

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def calls(self, exchange: str, path_end: str) -> list[dict]:
        """Query parameters of every request to a path ending with ``path_end``."""
        return [
            r["params"]
            for r in self.requests
            if r["exchange"] == exchange and r["path"].endswith(path_end)
        ]

    def push(self, exchange: str, events: list[dict], together: bool = False) -> int:
        """Send liquidations to every subscriber of their symbol, in the exchange's format.
        Each event: ``symbol`` (exchange id), ``side`` of the liquidated position ("long" /
        "short"), ``price``, ``amount`` (contracts), ``ts`` (ms); price and amount are sent as
        ``str()`` of what is given, so ``"1e308"`` goes out as written. ``together=True``
        sends them all in one message (Bybit and OKX carry lists; one symbol, except on OKX
        whose message lists each instrument's details). An OKX event may give ``posSide``
        (``"net"`` for a one-way-mode position). Returns frames sent."""
        return self._call(self._push(exchange, events, together))

    def send_raw(self, exchange: str, text: str) -> int:
        """Send a raw text frame to every connection of an exchange."""
        return self._call(self._send_raw(exchange, text))

    def drop(self, exchange: str, abrupt: bool = False) -> int:
        """Close every WebSocket connection of an exchange: with a close frame (code 1001,
        as the exchanges do for maintenance), or ``abrupt``: the TCP connection is cut with
        no close frame (as a network failure would)."""
        return self._call(self._drop(exchange, abrupt))

    def mute(self, exchange: str) -> int:
        """Make every open connection of an exchange a half-open line: it stays open but
        carries nothing, and OKX's text pings go unanswered (new connections are served).
        Returns the connections muted."""
        live = [s for s in self.subscribers if s.exchange == exchange and not s.ws.closed]
        for s in live:
            s.muted = True
        return len(live)

    def refuse(self, exchange: str, times: int = 1) -> None:
        """Answer the next ``times`` subscription requests to an exchange with its error
        frame instead of an acknowledgement (the connection stays open)."""
        with self._lock:
            self.refusals[exchange] += times

    def _take_refusal(self, exchange: str) -> bool:
        with self._lock:
            if self.refusals[exchange] > 0:
                self.refusals[exchange] -= 1
                return True
        return False

    def wait_subscribed(self, exchange: str, topics: int = 1, timeout: float = 15.0) -> None:
        """Block until live connections of an exchange hold at least ``topics`` topics."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [s for s in self.subscribers if s.exchange == exchange and not s.ws.closed]
            if sum(len(s.topics) for s in live) >= topics:
                return
            time.sleep(0.02)
        raise TimeoutError(f"no {topics} subscription(s) on the fake {exchange} in {timeout}s")

    # ------------------------------------------------------------------ the fast clock
    def _market_time(self, t: int) -> float:
        return self.anchor + (t - self.anchor) * self.speed

    def _bar(self, base: str, t: int, step: int) -> tuple[float, float, float, float, float]:
        """The bar opening at wall time ``t``, from the market at the clock's speed."""
        o, h, lo, c, v = bar(base, self._market_time(t), step * self.speed)
        if t in self.bad_bars:
            h = lo * 0.99  # a high below the low
        return o, h, lo, c, v

    def _oi(self, base: str, t: int) -> float:
        return oi_base(base, self._market_time(t))

    def _oi_usd_inverse(self, base: str, t: int) -> float:
        return oi_usd_inverse(base, self._market_time(t))

    def start_bursts(self, exchange: str, sid: str, every: float = 1.0, size: int = 4) -> None:
        """Every ``every`` seconds, push ``size`` liquidations of ``sid`` near the current
        price (longs below it, shorts above); each pushed event is kept in ``bursts``."""
        self._call(self._start_bursts(exchange, sid, every, size))

    def stop_bursts(self) -> None:
        self._call(self._stop_bursts())

    async def _start_bursts(self, exchange: str, sid: str, every: float, size: int) -> None:
        base = INSTRUMENTS[exchange][sid][0]

        async def loop():
            k = 0
            while True:
                await asyncio.sleep(every)
                now = self._now()
                price = self._bar(base, now // 1000 * 1000, 1000)[3]
                events = []
                for i in range(size):
                    k += 1
                    long = (k % 3) != 0
                    events.append(
                        {
                            "symbol": sid,
                            "side": "long" if long else "short",
                            "price": round(price * (0.998 if long else 1.002) - i * 0.1, 1),
                            "amount": round(0.05 + 0.01 * (k % 7), 3),
                            "ts": now + i,
                        }
                    )
                if await self._push(exchange, events, False):
                    self.bursts.extend(events)

        self._burst_task = asyncio.get_running_loop().create_task(loop())

    async def _stop_bursts(self) -> None:
        if self._burst_task is not None:
            self._burst_task.cancel()
            self._burst_task = None

    # ------------------------------------------------------------------ HTTP dispatch
    def _now(self) -> int:
        return self.now_ms if self.now_ms is not None else int(time.time() * 1000)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        host = request.match_info["host"]
        path = "/" + request.match_info["path"]
        exchange = exchange_of(host)
        if exchange is None:
            return web.json_response({"error": f"unknown host {host}"}, status=404)
        if request.headers.get("Upgrade", "").lower() == "websocket":
            if self._take_fault(exchange, "ws"):
                return web.Response(status=503, text="Service Unavailable")
            return await self._websocket(request, exchange)
        params = dict(request.query)
        self.requests.append({"exchange": exchange, "path": path, "params": params})
        fault = self._take_fault(exchange, path)
        if fault is not None:
            return _fault(exchange, *fault)
        handler = ROUTES.get((exchange, path))
        if handler is None:
            return web.json_response({"error": f"fake {exchange} has no {path}"}, status=404)
        most = PAGE_LIMITS.get((exchange, path))
        if most is not None and not 1 <= int(params.get("limit", 1)) <= most:
            return _bad_limit(exchange, most)
        return handler(self, params)

    # ------------------------------------------------------------------ Binance USDⓈ-M
    def binance_exchange_info(self, params):
        symbols = []
        for sid, (base, quote, _size) in INSTRUMENTS["binanceusdm"].items():
            symbols.append(
                {
                    "symbol": sid,
                    "pair": sid,
                    "contractType": "PERPETUAL",
                    "deliveryDate": 4133404800000,
                    "onboardDate": 1569398400000,
                    "status": "TRADING",
                    "maintMarginPercent": "2.5000",
                    "requiredMarginPercent": "5.0000",
                    "baseAsset": base,
                    "quoteAsset": quote,
                    "marginAsset": quote,
                    "pricePrecision": 2,
                    "quantityPrecision": 3,
                    "baseAssetPrecision": 8,
                    "quotePrecision": 8,
                    "underlyingType": "COIN",
                    "underlyingSubType": [],
                    "settlePlan": 0,
                    "triggerProtect": "0.0500",
                    "liquidationFee": "0.012500",
                    "marketTakeBound": "0.05",
                    "filters": [
                        {
                            "filterType": "PRICE_FILTER",
                            "minPrice": "0.10",
                            "maxPrice": "4529764",
                            "tickSize": "0.10",
                        },
                        {
                            "filterType": "LOT_SIZE",
                            "minQty": "0.001",
                            "maxQty": "1000",
                            "stepSize": "0.001",
                        },
                        {
                            "filterType": "MARKET_LOT_SIZE",
                            "minQty": "0.001",
                            "maxQty": "120",
                            "stepSize": "0.001",
                        },
                        {"filterType": "MAX_NUM_ORDERS", "limit": 200},
                        {"filterType": "MIN_NOTIONAL", "notional": "100"},
                        {
                            "filterType": "PERCENT_PRICE",
                            "multiplierUp": "1.0500",
                            "multiplierDown": "0.9500",
                            "multiplierDecimal": "4",
                        },
                    ],
                    "orderTypes": [
                        "LIMIT",
                        "MARKET",
                        "STOP",
                        "STOP_MARKET",
                        "TAKE_PROFIT",
                        "TAKE_PROFIT_MARKET",
                        "TRAILING_STOP_MARKET",
                    ],
                    "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
                }
            )
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": self._now(),
                "futuresType": "U_MARGINED",
                "rateLimits": [],
                "exchangeFilters": [],
                "assets": [],
                "symbols": symbols,
            }
        )

    def _binance_klines_times(self, params) -> tuple[int, range]:
        """Bar step and bar times a Binance klines request asks for (both futures APIs)."""
        step = TIMEFRAMES[params["interval"]]
        limit = min(int(params.get("limit", 500)), 1500)
        start = int(params.get("startTime", self._now() - limit * step))
        stop = min(int(params.get("endTime", self._now())), self._now())
        return step, aligned(start, stop, step)[:limit]

    def _binance_oi_times(self, params) -> tuple[int, range]:
        """Period and sample times a Binance openInterestHist request asks for."""
        step = TIMEFRAMES[params["period"]]
        limit = min(int(params.get("limit", 30)), 500)
        stop = min(int(params.get("endTime", self._now())), self._now())
        start = int(params.get("startTime", stop - limit * step))
        return step, aligned(start, stop, step)[:limit]

    def binance_klines(self, params):
        sid = params.get("symbol", "")
        if sid not in INSTRUMENTS["binanceusdm"]:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        step, times = self._binance_klines_times(params)
        base = INSTRUMENTS["binanceusdm"][sid][0]
        rows = []
        for t in times:
            o, h, lo, c, v = self._bar(base, t, step)
            rows.append(
                [
                    t,
                    str(o),
                    str(h),
                    str(lo),
                    str(c),
                    str(v),
                    t + step - 1,
                    str(round(v * c, 2)),
                    100,
                    str(v / 2),
                    str(round(v * c / 2, 2)),
                    "0",
                ]
            )
        return web.json_response(rows)

    def binance_oi_hist(self, params):
        sid = params.get("symbol", "")
        if sid not in INSTRUMENTS["binanceusdm"]:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        step, times = self._binance_oi_times(params)
        base = INSTRUMENTS["binanceusdm"][sid][0]
        rows = []
        for t in times:
            amount = self._oi(base, t)
            close = self._bar(base, t, step)[3]
            rows.append(
                {
                    "symbol": sid,
                    "sumOpenInterest": f"{amount:.4f}",
                    "sumOpenInterestValue": f"{amount * close:.8f}",
                    "timestamp": t,
                }
            )
        return web.json_response(rows)

    def binance_open_interest(self, params):
        """Current open interest (``/fapi/v1/openInterest``); see ``bad_oi``."""
        sid = params.get("symbol", "")
        if sid not in INSTRUMENTS["binanceusdm"]:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        now = self._now()
        amount = f"{self._oi(INSTRUMENTS['binanceusdm'][sid][0], now):.4f}"
        if self.bad_oi > 0:
            self.bad_oi -= 1
            amount = "-" + amount  # negative open interest
        return web.json_response({"symbol": sid, "openInterest": amount, "time": now})

    # ------------------------------------------------------------------ Binance COIN-M
    def coinm_exchange_info(self, params):
        symbols = [
            {
                "symbol": sid,
                "pair": sid.split("_")[0],
                "contractType": "PERPETUAL",
                "deliveryDate": 4133404800000,
                "onboardDate": 1597042800000,
                "contractStatus": "TRADING",
                "contractSize": int(size),
                "marginAsset": base,
                "maintMarginPercent": "2.5000",
                "requiredMarginPercent": "5.0000",
                "baseAsset": base,
                "quoteAsset": quote,
                "pricePrecision": 1,
                "quantityPrecision": 0,
                "baseAssetPrecision": 8,
                "quotePrecision": 8,
                "equalQtyPrecision": 4,
                "triggerProtect": "0.0500",
                "underlyingType": "COIN",
                "underlyingSubType": [],
                "liquidationFee": "0.015000",
                "marketTakeBound": "0.05",
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": "1000",
                        "maxPrice": "4520958",
                        "tickSize": "0.1",
                    },
                    {"filterType": "LOT_SIZE", "minQty": "1", "maxQty": "1000000", "stepSize": "1"},
                ],
                "orderTypes": ["LIMIT", "MARKET"],
                "timeInForce": ["GTC", "IOC", "FOK", "GTX"],
            }
            for sid, (base, quote, size) in INVERSE["binancecoinm"].items()
        ]
        return web.json_response(
            {
                "timezone": "UTC",
                "serverTime": self._now(),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": symbols,
            }
        )

    def coinm_klines(self, params):
        sid = params.get("symbol", "")
        if sid not in INVERSE["binancecoinm"]:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        step, times = self._binance_klines_times(params)
        base, _quote, size = INVERSE["binancecoinm"][sid]
        rows = []
        for t in times:
            o, h, lo, c, v = self._bar(base, t, step)
            contracts = v * 100  # volume in contracts, base volume in coin
            rows.append(
                [
                    t,
                    str(o),
                    str(h),
                    str(lo),
                    str(c),
                    f"{contracts:g}",
                    t + step - 1,
                    f"{contracts * size / c:.8f}",
                    100,
                    f"{contracts / 2:g}",
                    f"{contracts * size / c / 2:.8f}",
                    "0",
                ]
            )
        return web.json_response(rows)

    def coinm_oi_hist(self, params):
        pair = params.get("pair", "")
        sids = [k for k in INVERSE["binancecoinm"] if k.split("_")[0] == pair]
        if not sids or params.get("contractType") != "PERPETUAL":
            return web.json_response({"code": -1121, "msg": "Invalid pair."}, status=400)
        step, times = self._binance_oi_times(params)
        base, _quote, size = INVERSE["binancecoinm"][sids[0]]
        rows = []
        for t in times:
            usd = self._oi_usd_inverse(base, t)
            close = self._bar(base, t, step)[3]
            # contracts, and their value in coin (Binance COIN-M reports it in the base)
            rows.append(
                {
                    "pair": pair,
                    "contractType": "PERPETUAL",
                    "sumOpenInterest": f"{usd / size:.8f}",
                    "sumOpenInterestValue": f"{usd / close:.8f}",
                    "timestamp": t,
                }
            )
        return web.json_response(rows)

    # ------------------------------------------------------------------ Bybit v5
    def _bybit(self, result: dict, code: int = 0, msg: str = "OK"):
        return web.json_response(
            {
                "retCode": code,
                "retMsg": msg,
                "result": result,
                "retExtInfo": {},
                "time": self._now(),
            }
        )

    def bybit_instruments(self, params):
        category = params.get("category", "linear")
        rows = []
        if category == "inverse":
            rows = [
                _bybit_inverse(sid, base, quote)
                for sid, (base, quote, _s) in INVERSE["bybit"].items()
            ]
        if category == "linear":
            for sid, (base, quote, _size) in INSTRUMENTS["bybit"].items():
                rows.append(
                    {
                        "symbol": sid,
                        "contractType": "LinearPerpetual",
                        "status": "Trading",
                        "baseCoin": base,
                        "quoteCoin": quote,
                        "launchTime": "1585526400000",
                        "deliveryTime": "0",
                        "deliveryFeeRate": "",
                        "priceScale": "2",
                        "leverageFilter": {
                            "minLeverage": "1",
                            "maxLeverage": "100.00",
                            "leverageStep": "0.01",
                        },
                        "priceFilter": {
                            "minPrice": "0.10",
                            "maxPrice": "1999999.80",
                            "tickSize": "0.10",
                        },
                        "lotSizeFilter": {
                            "maxOrderQty": "1190.000",
                            "minOrderQty": "0.001",
                            "qtyStep": "0.001",
                            "postOnlyMaxOrderQty": "1190.000",
                            "maxMktOrderQty": "500.000",
                            "minNotionalValue": "5",
                        },
                        "unifiedMarginTrade": True,
                        "fundingInterval": 480,
                        "settleCoin": quote,
                        "copyTrading": "both",
                        "upperFundingRate": "0.005",
                        "lowerFundingRate": "-0.005",
                    }
                )
        return self._bybit({"category": category, "list": rows, "nextPageCursor": ""})

    def bybit_kline(self, params):
        sid = params.get("symbol", "")
        if instrument("bybit", sid) is None:
            return self._bybit({}, 10001, "params error: Symbol Is Invalid")
        step = TIMEFRAMES[BYBIT_INTERVALS[params["interval"]]]
        limit = min(int(params.get("limit", 200)), 1000)
        start = int(params.get("start", 0))
        stop = min(int(params.get("end", self._now())), self._now())
        times = list(aligned(start, stop, step))
        times = times[:limit] if "start" in params and "end" not in params else times[-limit:]
        base = instrument("bybit", sid)[0]
        rows = []
        for t in reversed(times):  # Bybit lists newest first
            o, h, lo, c, v = self._bar(base, t, step)
            rows.append([str(t), str(o), str(h), str(lo), str(c), str(v), str(round(v * c, 2))])
        return self._bybit({"category": params.get("category"), "symbol": sid, "list": rows})

    def bybit_open_interest(self, params):
        sid = params.get("symbol", "")
        inst = instrument("bybit", sid)
        if inst is None:
            return self._bybit({}, 10001, "params error: Symbol Is Invalid")
        step = TIMEFRAMES[BYBIT_OI_INTERVALS[params["intervalTime"]]]
        limit = min(int(params.get("limit", 50)), 200)
        stop = min(int(params.get("endTime", self._now())), self._now())
        start = int(params.get("startTime", 0))
        times = list(aligned(start, stop, step))[-limit:]
        base, inverse = inst[0], inst[3]
        # Linear: coins; inverse: USD (contracts of 1 USD).
        amount = (
            (lambda t: self._oi_usd_inverse(base, t)) if inverse else (lambda t: self._oi(base, t))
        )
        rows = [{"openInterest": f"{amount(t):.4f}", "timestamp": str(t)} for t in reversed(times)]
        category = "inverse" if inverse else "linear"
        return self._bybit(
            {"symbol": sid, "category": category, "list": rows, "nextPageCursor": ""}
        )

    # ------------------------------------------------------------------ OKX v5
    def _okx(self, data, code: str = "0", msg: str = "", status: int = 200):
        return web.json_response({"code": code, "msg": msg, "data": data}, status=status)

    def okx_instruments(self, params):
        kind = params.get("instType")
        if kind not in ("SWAP", "FUTURES"):
            return self._okx([])
        rows = []
        listed = [(*v, False, k, "") for k, v in INSTRUMENTS["okx"].items()]
        listed += [(*v, True, k, "") for k, v in INVERSE["okx"].items()]
        if kind == "FUTURES":
            listed = [
                (b, q, size, False, k, str(exp)) for k, (b, q, size, exp) in FUTURES["okx"].items()
            ]
        for base, quote, size, inverse, sid, expiry in listed:
            rows.append(
                {
                    "alias": "quarter" if expiry else "",
                    "baseCcy": "",
                    "category": "1",
                    "ctMult": "1",
                    "ctType": "inverse" if inverse else "linear",
                    "ctVal": f"{size:g}",
                    "ctValCcy": quote if inverse else base,
                    "expTime": expiry,
                    "instFamily": f"{base}-{quote}",
                    "instId": sid,
                    "instType": kind,
                    "lever": "100",
                    "listTime": "1611916828000",
                    "lotSz": "0.01",
                    "maxIcebergSz": "100000000",
                    "maxLmtAmt": "20000000",
                    "maxLmtSz": "100000000",
                    "maxMktAmt": "",
                    "maxMktSz": "12000",
                    "maxStopSz": "12000",
                    "maxTriggerSz": "100000000",
                    "maxTwapSz": "100000000",
                    "minSz": "0.01",
                    "optType": "",
                    "quoteCcy": "",
                    "settleCcy": base if inverse else quote,
                    "state": "live",
                    "stk": "",
                    "tickSz": "0.1",
                    "uly": f"{base}-{quote}",
                }
            )
        return self._okx(rows)

    def okx_candles(self, params):
        sid = params.get("instId", "")
        if instrument("okx", sid) is None:
            return self._okx([], "51001", "Instrument ID does not exist")
        step = TIMEFRAMES[OKX_BARS[params.get("bar", "1m")]]
        limit = min(int(params.get("limit", 100)), 300)
        after = min(int(params.get("after", self._now() + 1)), self._now() + 1)
        before = int(params.get("before", 0))
        times = [t for t in aligned(before + 1, after - 1, step)][-limit:]
        base = instrument("okx", sid)[0]
        rows = []
        for t in reversed(times):  # OKX lists newest first
            o, h, lo, c, v = self._bar(base, t, step)
            rows.append(
                [
                    str(t),
                    str(o),
                    str(h),
                    str(lo),
                    str(c),
                    str(v * 100),
                    str(v),
                    str(round(v * c, 2)),
                    "1",
                ]
            )
        return self._okx(rows)

    def okx_oi_history(self, params):
        sid = params.get("instId", "")
        inst = instrument("okx", sid)
        if inst is None:
            return self._okx([], "51001", "Instrument ID does not exist")
        step = TIMEFRAMES[OKX_OI_PERIODS[params.get("period", "5m")]]
        limit = min(int(params.get("limit", 100)), 100)
        end = min(int(params.get("end", self._now() + 1)), self._now() + 1)
        begin = int(params.get("begin", 0))
        times = list(aligned(begin + 1, end - 1, step))[-limit:]
        base, _quote, size, inverse = inst
        rows = []
        for t in reversed(times):
            close = self._bar(base, t, step)[3]
            if inverse:  # contracts of `size` USD: [ts, contracts, coins, USD]
                usd = self._oi_usd_inverse(base, t)
                rows.append([str(t), f"{usd / size:.2f}", f"{usd / close:.4f}", f"{usd:.4f}"])
                continue
            coins = self._oi(base, t)
            rows.append([str(t), f"{coins / size:.2f}", f"{coins:.4f}", f"{coins * close:.4f}"])
        return self._okx(rows)

    # ------------------------------------------------------------------ WebSockets
    async def _websocket(self, request: web.Request, exchange: str) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True, heartbeat=self.heartbeat)
        await ws.prepare(request)
        sub = Subscriber(ws, exchange)
        self.subscribers.append(sub)
        self.ws_connections[exchange] += 1
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                if msg.data == "ping":  # OKX text heartbeat
                    if not sub.muted:
                        await ws.send_str("pong")
                    continue
                try:
                    data = json.loads(msg.data)
                except ValueError:
                    continue
                await self._on_ws_message(sub, data)
        finally:
            if sub in self.subscribers:
                self.subscribers.remove(sub)
        return ws

    async def _on_ws_message(self, sub: Subscriber, data: dict) -> None:
        ws = sub.ws
        subscribing = data.get("method") == "SUBSCRIBE" or data.get("op") == "subscribe"
        if subscribing and self._take_refusal(sub.exchange):
            await ws.send_json(_refusal(sub.exchange, data))
            return
        if sub.exchange.startswith("binance") and data.get("method") == "SUBSCRIBE":
            sub.topics.update(data.get("params", []))
            await ws.send_json({"result": None, "id": data.get("id")})
        elif sub.exchange == "bybit":
            op = data.get("op")
            reply = {
                "success": True,
                "ret_msg": "",
                "conn_id": "fake",
                "req_id": data.get("req_id", ""),
                "op": op,
            }
            if op == "subscribe":
                sub.topics.update(data.get("args", []))
            elif op == "ping":
                reply["ret_msg"] = "pong"
            await ws.send_json(reply)
        elif sub.exchange == "okx" and data.get("op") == "subscribe":
            for arg in data.get("args", []):
                sub.topics.add(f"{arg.get('channel')}:{arg.get('instType')}")
                await ws.send_json({"event": "subscribe", "arg": arg, "connId": "fake"})

    def _frames(self, exchange: str, events: list[dict]) -> list[tuple[set[str], dict]]:
        """(topics that receive it, frame) for liquidations that the exchange sends in one
        message, in its format (one symbol; OKX's channel may carry several instruments)."""
        if len({e["symbol"] for e in events}) != 1 and exchange != "okx":
            raise ValueError("one message carries liquidations of one symbol")
        if len(events) > 1 and exchange.startswith("binance"):
            raise ValueError("Binance's forceOrder stream sends one liquidation per message")
        event = events[0]
        sid, ts = event["symbol"], int(event["ts"])
        long = event["side"] == "long"
        price, amount = str(event["price"]), str(event["amount"])
        if exchange.startswith("binance"):
            # COIN-M adds the pair ("ps"); quantities there are contracts (of 100 USD).
            pair = {"ps": sid.split("_")[0]} if exchange == "binancecoinm" else {}
            frame = {
                "e": "forceOrder",
                "E": ts + 3,
                "o": {
                    "s": sid,
                    **pair,
                    "S": "SELL" if long else "BUY",
                    "o": "LIMIT",
                    "f": "IOC",
                    "q": amount,
                    "p": price,
                    "ap": price,
                    "X": "FILLED",
                    "l": amount,
                    "z": amount,
                    "T": ts,
                },
            }
            return [({f"{sid.lower()}@forceOrder", "!forceOrder@arr"}, frame)]
        if exchange == "bybit":
            # v5 allLiquidation: a list per message, the position's side ("Buy" = long).
            frame = {
                "topic": f"allLiquidation.{sid}",
                "type": "snapshot",
                "ts": max(int(e["ts"]) for e in events) + 5,
                "data": [
                    {
                        "T": int(e["ts"]),
                        "s": sid,
                        "S": "Buy" if e["side"] == "long" else "Sell",
                        "v": str(e["amount"]),
                        "p": str(e["price"]),
                    }
                    for e in events
                ],
            }
            frames = [({f"allLiquidation.{sid}"}, frame)]
            # The older v5 "liquidation" topic: one liquidation per message, position side.
            for e in events:
                old = {
                    "topic": f"liquidation.{sid}",
                    "type": "snapshot",
                    "ts": int(e["ts"]) + 5,
                    "data": {
                        "price": str(e["price"]),
                        "side": "Buy" if e["side"] == "long" else "Sell",
                        "size": str(e["amount"]),
                        "symbol": sid,
                        "updatedTime": int(e["ts"]),
                    },
                }
                frames.append(({f"liquidation.{sid}"}, old))
            return frames
        kinds = {"FUTURES" if e["symbol"] in FUTURES["okx"] else "SWAP" for e in events}
        if len(kinds) != 1:
            raise ValueError("an OKX message carries one instrument type (SWAP or FUTURES)")
        kind = kinds.pop()
        entries = []
        for inst_id in dict.fromkeys(e["symbol"] for e in events):
            base, quote = instrument("okx", inst_id)[:2]
            entries.append(
                {
                    # one instrument's liquidations in one message: a list of details
                    "details": [
                        {
                            "bkLoss": "0",
                            "bkPx": str(e["price"]),
                            "ccy": "",
                            "posSide": e.get("posSide", e["side"]),
                            "side": "sell" if e["side"] == "long" else "buy",
                            "sz": str(e["amount"]),
                            "ts": str(int(e["ts"])),
                        }
                        for e in events
                        if e["symbol"] == inst_id
                    ],
                    "instFamily": f"{base}-{quote}",
                    "instId": inst_id,
                    "instType": kind,
                    "uly": f"{base}-{quote}",
                }
            )
        # several instruments in one message: one entry of ``data`` each
        frame = {"arg": {"channel": "liquidation-orders", "instType": kind}, "data": entries}
        return [({f"liquidation-orders:{kind}"}, frame)]

    async def _push(self, exchange: str, events: list[dict], together: bool) -> int:
        sent = 0
        for group in [events] if together else [[e] for e in events]:
            for topics, frame in self._frames(exchange, group):
                text = json.dumps(frame)
                for sub in list(self.subscribers):
                    live = not sub.ws.closed and not sub.muted
                    if sub.exchange == exchange and sub.topics & topics and live:
                        sent += await _send(sub.ws, text)
        return sent

    async def _send_raw(self, exchange: str, text: str) -> int:
        subs = [s for s in self.subscribers if s.exchange == exchange and not s.ws.closed]
        return sum([await _send(sub.ws, text) for sub in subs])

    async def _drop(self, exchange: str, abrupt: bool) -> int:
        subs = [s for s in self.subscribers if s.exchange == exchange]
        for sub in subs:
            self.subscribers.remove(sub)
            if abrupt:
                sub.ws._req.transport.abort()  # no close frame: the socket just dies
            else:
                await sub.ws.close(code=1001)
        return len(subs)


async def _send(ws: web.WebSocketResponse, text: str) -> int:
    """Send a frame; 0 if the peer has gone (e.g. a killed recorder), as on a real exchange."""
    try:
        await ws.send_str(text)
    except ConnectionError:  # aiohttp's ClientConnectionResetError is one
        return 0
    return 1


def _bybit_inverse(sid: str, base: str, quote: str) -> dict:
    """A Bybit v5 inverse perpetual instrument (quantity in USD contracts, settled in coin)."""
    return {
        "symbol": sid,
        "contractType": "InversePerpetual",
        "status": "Trading",
        "baseCoin": base,
        "quoteCoin": quote,
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": "2",
        "leverageFilter": {"minLeverage": "1", "maxLeverage": "100.00", "leverageStep": "0.01"},
        "priceFilter": {"minPrice": "0.50", "maxPrice": "1999999.00", "tickSize": "0.50"},
        "lotSizeFilter": {
            "maxOrderQty": "100000000",
            "minOrderQty": "1",
            "qtyStep": "1",
            "postOnlyMaxOrderQty": "100000000",
            "maxMktOrderQty": "20000000",
            "minNotionalValue": "1",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": base,
        "copyTrading": "none",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
    }


def _refusal(exchange: str, request: dict) -> dict:
    """The error frame an exchange answers a subscription it refuses with."""
    if exchange.startswith("binance"):
        return {
            "error": {"code": 2, "msg": "Invalid request: invalid stream"},
            "id": request.get("id"),
        }
    if exchange == "bybit":
        topics = ",".join(request.get("args", []))
        return {
            "success": False,
            "ret_msg": f"error:handler not found,topic:{topics}",
            "conn_id": "fake",
            "req_id": request.get("req_id", ""),
            "op": "subscribe",
        }
    arg = (request.get("args") or [{}])[0]
    return {
        "event": "error",
        "code": "60018",
        "msg": f"Wrong URL or channel:{arg.get('channel')},instType:{arg.get('instType')} "
        "doesn't exist. Please use the correct URL, channel and parameters referring to API "
        "document.",
        "connId": "fake",
    }


def _fault(exchange: str, kind: str, retry_after: int = 1) -> web.Response:
    if kind == "server":
        return web.Response(status=503, text="Service Unavailable")
    # A 200 that is not the exchange's answer: a captive portal's page, an empty object.
    if kind == "portal":
        return web.Response(text="<html><body>Sign in to the hotel Wi-Fi</body></html>")
    if kind == "empty":
        return web.json_response({})
    if kind == "bare429":
        return web.json_response({"msg": "Too Many Requests"}, status=429)
    if exchange.startswith("binance"):
        # Binance tells how long to stay away (seconds) on both; 418 is an IP ban.
        wait = {"Retry-After": str(retry_after)}
        if kind == "ban":
            until = int(time.time() * 1000) + retry_after * 1000
            text = (
                f"Way too many requests; IP(127.0.0.1) banned until {until}. Please use the "
                "websocket for live updates to avoid bans."
            )
            return web.json_response({"code": -1003, "msg": text}, status=418, headers=wait)
        return web.json_response(
            {"code": -1003, "msg": "Too many requests; current limit is 2400 per minute."},
            status=429,
            headers=wait,
        )
    if exchange == "bybit" and kind == "iplimit":
        return web.Response(status=403, text="403 Forbidden: access too frequent")
    if exchange == "bybit":
        return web.json_response(
            {
                "retCode": 10006,
                "retMsg": "Too many visits!",
                "result": {},
                "retExtInfo": {},
                "time": int(time.time() * 1000),
            }
        )
    return web.json_response({"code": "50011", "msg": "Too Many Requests", "data": []}, status=429)


def _bad_limit(exchange: str, most: int) -> web.Response:
    """The answer to a page larger than the endpoint serves (each exchange's error)."""
    if exchange.startswith("binance"):
        text = "Data sent for parameter 'limit' is not valid."
        return web.json_response({"code": -1130, "msg": text}, status=400)
    if exchange == "bybit":
        return web.json_response(
            {
                "retCode": 10001,
                "retMsg": f"params error: limit must be between 1 and {most}",
                "result": {},
                "retExtInfo": {},
                "time": int(time.time() * 1000),
            }
        )
    return web.json_response({"code": "51000", "msg": "Parameter limit error", "data": []}, 400)


#: The largest ``limit`` each paged endpoint accepts, as documented; more is an error here.
PAGE_LIMITS = {
    ("binanceusdm", "/fapi/v1/klines"): 1500,
    ("binancecoinm", "/dapi/v1/klines"): 1500,
    ("binanceusdm", "/futures/data/openInterestHist"): 500,
    ("binancecoinm", "/futures/data/openInterestHist"): 500,
    ("bybit", "/v5/market/kline"): 1000,
    ("bybit", "/v5/market/open-interest"): 200,
    ("okx", "/api/v5/market/candles"): 300,
    ("okx", "/api/v5/market/history-candles"): 100,
    ("okx", "/api/v5/rubik/stat/contracts/open-interest-history"): 100,
}

ROUTES = {
    ("binancecoinm", "/dapi/v1/exchangeInfo"): FakeExchange.coinm_exchange_info,
    ("binancecoinm", "/dapi/v1/klines"): FakeExchange.coinm_klines,
    ("binancecoinm", "/futures/data/openInterestHist"): FakeExchange.coinm_oi_hist,
    ("binanceusdm", "/fapi/v1/exchangeInfo"): FakeExchange.binance_exchange_info,
    ("binanceusdm", "/fapi/v1/klines"): FakeExchange.binance_klines,
    ("binanceusdm", "/futures/data/openInterestHist"): FakeExchange.binance_oi_hist,
    ("binanceusdm", "/fapi/v1/openInterest"): FakeExchange.binance_open_interest,
    ("bybit", "/v5/market/instruments-info"): FakeExchange.bybit_instruments,
    ("bybit", "/v5/market/kline"): FakeExchange.bybit_kline,
    ("bybit", "/v5/market/open-interest"): FakeExchange.bybit_open_interest,
    ("okx", "/api/v5/public/instruments"): FakeExchange.okx_instruments,
    ("okx", "/api/v5/market/candles"): FakeExchange.okx_candles,
    ("okx", "/api/v5/market/history-candles"): FakeExchange.okx_candles,
    ("okx", "/api/v5/rubik/stat/contracts/open-interest-history"): FakeExchange.okx_oi_history,
}

__all__ = ["HISTORY_START", "FakeExchange"]
