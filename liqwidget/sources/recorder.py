"""The live liquidation recorder: ccxt.pro liquidation streams into the store.

For each exchange one task keeps a ccxt.pro subscription alive
(``watch_liquidations_for_symbols`` where the exchange has it, else one
``watch_liquidations`` per symbol). Every liquidation ccxt parses is taken from its cache as it
arrives (so none are lost when several arrive between two awaits), checked, converted to the
event frame and queued. One writer commits the queue in small batches: when ``batch_size``
events are waiting or the oldest has waited ``max_latency`` seconds. Exact repeats are
dropped by the store.

When a connection drops the task waits (exponential backoff) and subscribes again; the time
from the drop until the new connection is open is written to the store as a gap, as is the
time between two runs of the recorder (from the last heartbeat of the previous run). Malformed
messages are logged, counted and skipped without dropping the connection. Where an exchange
has REST liquidation history (``fetch_liquidations``), the gap is backfilled from it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import defaultdict
from dataclasses import dataclass

import ccxt
import pandas as pd
from ccxt.async_support.base.ws.cache import ArrayCache

from ..feeds import feed_info
from ..store import Store
from .exchanges import ExchangeDataError, make_exchange, resolve_symbol

log = logging.getLogger(__name__)

#: Errors that reconnecting cannot fix; anything else from ccxt leads to a reconnect.
PERMANENT = (
    ccxt.BadSymbol,
    ccxt.BadRequest,
    ccxt.AuthenticationError,
    ccxt.PermissionDenied,
    ccxt.NotSupported,
)


@dataclass
class RecorderSettings:
    """Tuning knobs; the defaults suit a long-running recorder, tests shorten them."""

    batch_size: int = 500
    max_latency: float = 1.0  # seconds an event may wait before it is committed
    backoff_base: float = 1.0  # first reconnect wait, doubled per failed attempt
    backoff_cap: float = 60.0
    heartbeat: float = 5.0  # seconds between heartbeats written to the store
    backfill: bool = True


@dataclass
class FeedStats:
    """Counters for one exchange."""

    received: int = 0
    stored: int = 0
    duplicates: int = 0
    malformed: int = 0
    reconnects: int = 0
    gaps: int = 0
    connected: bool = False
    last_error: str | None = None

    def summary(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return (
            f"{state}, received {self.received}, stored {self.stored}, duplicates "
            f"{self.duplicates}, malformed {self.malformed}, reconnects {self.reconnects}, "
            f"gaps {self.gaps}"
        )


@dataclass
class _Event:
    exchange: str
    symbol: str
    ts: int
    side: str
    price: float
    amount: float


class Recorder:
    """Record liquidations of ``streams`` (``{exchange_id: [symbols]}``) into ``store``.

    Run it with ``await recorder.run()``; call :meth:`stop` (or cancel) to end it cleanly.
    ``api_base`` and ``config`` are passed to :func:`~liqwidget.sources.make_exchange`.
    """

    def __init__(
        self,
        store: Store,
        streams: dict[str, list[str]],
        *,
        settings: RecorderSettings | None = None,
        api_base: str | None = None,
        config: dict | None = None,
    ):
        if not streams or not all(streams.values()):
            raise ExchangeDataError("give at least one exchange with at least one symbol")
        self.store = store
        self.streams = {ex: list(symbols) for ex, symbols in streams.items()}
        self.settings = settings or RecorderSettings()
        self.api_base = api_base
        self.config = config
        self.stats: dict[str, FeedStats] = defaultdict(FeedStats)
        self._queue: asyncio.Queue | None = None
        self._stopping: asyncio.Event | None = None
        self._symbols: dict[str, list[str]] = {}
        self._contract_sizes: dict[str, dict[str, float]] = {}

    # ------------------------------------------------------------------ public
    def stop(self) -> None:
        """Ask the recorder to finish: pending events are committed, then run() returns."""
        if self._stopping is not None:
            self._stopping.set()

    async def run(self) -> dict[str, FeedStats]:
        """Record until :meth:`stop` is called; returns the counters per exchange."""
        self._queue = asyncio.Queue()
        self._stopping = asyncio.Event()
        writer = asyncio.create_task(self._writer(), name="liqwidget-writer")
        feeds = [
            asyncio.create_task(self._feed(ex_id, symbols), name=f"liqwidget-{ex_id}")
            for ex_id, symbols in self.streams.items()
        ]
        stopper = asyncio.create_task(self._stopping.wait())
        try:
            # Runs until stop() is called or a feed fails for good (bad symbol, ...).
            await asyncio.wait([stopper, *feeds], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._stopping.set()
            for task in feeds:
                task.cancel()
            results = await asyncio.gather(*feeds, return_exceptions=True)
            await self._queue.put(None)
            await writer
            self.store.set_meta_many(self._beats(clean=True))
        stopper.cancel()
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
                raise result
        return dict(self.stats)

    # ------------------------------------------------------------------ one exchange
    async def _feed(self, ex_id: str, symbols: list[str]) -> None:
        stats = self.stats[ex_id]
        blind_since, reason, resolved = None, "", []
        ex = make_exchange(ex_id, pro=True, api_base=self.api_base, config=self.config)
        self._guard(ex, ex_id)
        try:
            await self._load_markets(ex, ex_id)
            resolved = [resolve_symbol(ex, s)["symbol"] for s in symbols]
            self._symbols[ex_id] = resolved
            # ccxt.pro's parsed liquidations carry no contract size (safe_liquidation is called
            # without the market), so take it from the markets.
            self._contract_sizes[ex_id] = {
                s: float(ex.market(s).get("contractSize") or 1.0) for s in resolved
            }
            attempt = 0
            # Blind since the previous run's last heartbeat, if there was one.
            blind_since, reason = self._last_run(ex_id, resolved)
            while not self._stopping.is_set():
                wait = self.settings.backoff_base
                tasks = self._watch(ex, resolved)
                try:
                    connected_at = await self._until_connected(ex, tasks)
                    if connected_at is not None:
                        stats.connected = True
                        if blind_since is not None:
                            await self._gap(ex, ex_id, resolved, blind_since, connected_at, reason)
                            blind_since = None
                            attempt = 0
                    await _first_failure(tasks)
                except PERMANENT as exc:
                    raise ExchangeDataError(
                        f"{ex_id}: the liquidation stream was refused ({type(exc).__name__}: "
                        f"{_short(exc)}); check the exchange and symbols"
                    ) from exc
                except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                    stats.connected = False
                    stats.reconnects += 1
                    stats.last_error = f"{type(exc).__name__}: {exc}"
                    blind_since = blind_since or _now_ms()
                    reason = f"connection lost ({type(exc).__name__})"
                    wait = min(self.settings.backoff_cap, self.settings.backoff_base * 2**attempt)
                    attempt += 1
                    log.warning(
                        "%s: %s; reconnecting in %.2fs (attempt %d)",
                        ex_id,
                        _short(exc),
                        wait,
                        attempt,
                    )
                finally:
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                if not self._stopping.is_set():
                    try:
                        await asyncio.wait_for(self._stopping.wait(), wait)
                    except TimeoutError:
                        pass
        finally:
            stats.connected = False
            if blind_since is not None and resolved:
                # Stopped while blind: that stretch is a gap too.
                for symbol in resolved:
                    self.store.add_gap(ex_id, symbol, blind_since, _now_ms(), reason)
                stats.gaps += 1
            await ex.close()

    async def _load_markets(self, ex, ex_id: str) -> None:
        attempt = 0
        while True:
            try:
                await ex.load_markets()
                return
            except ccxt.NetworkError as exc:
                wait = min(self.settings.backoff_cap, self.settings.backoff_base * 2**attempt)
                attempt += 1
                log.warning(
                    "%s: loading markets failed (%s); retrying in %.2fs", ex_id, _short(exc), wait
                )
                await asyncio.sleep(wait)
            except ccxt.BaseError as exc:
                raise ExchangeDataError(
                    f"{ex_id}: cannot load markets ({type(exc).__name__}: {_short(exc)})"
                ) from exc

    def _watch(self, ex, symbols: list[str]) -> list[asyncio.Task]:
        async def loop(call):
            while True:
                await call()

        if ex.has.get("watchLiquidationsForSymbols"):
            calls = [lambda: ex.watch_liquidations_for_symbols(symbols)]
        elif ex.has.get("watchLiquidations"):
            calls = [lambda s=s: ex.watch_liquidations(s) for s in symbols]
        else:
            raise ExchangeDataError(
                f"{ex.id} has no public liquidation stream in ccxt.pro; record another exchange"
            )
        return [asyncio.create_task(loop(c)) for c in calls]

    async def _until_connected(self, ex, tasks: list[asyncio.Task]) -> int | None:
        """When (ms) a WebSocket of ``ex`` opened; raises if a watch task fails first."""
        while True:
            opened = [
                int(getattr(c, "connectionEstablished", None) or _now_ms())
                for c in list(ex.clients.values())
                if getattr(c, "isConnected", False) and not c.closed()
            ]
            if opened:
                return max(opened)
            done = [t for t in tasks if t.done()]
            if done:
                await done[0]  # re-raises its error
                return None
            await asyncio.sleep(0.01)

    def _guard(self, ex, ex_id: str) -> None:
        """Make ccxt hand every parsed liquidation to us and survive malformed messages."""
        recorder = self

        class Tap(ArrayCache):
            def append(self, item):
                super().append(item)
                recorder._accept(ex_id, item)

        ex.liquidations = Tap(ex.safe_integer(ex.options, "liquidationsLimit", 1000))
        handle_message = ex.handle_message

        def guarded_handle(client, message):
            try:
                return handle_message(client, message)
            except Exception as exc:  # a message ccxt could not digest
                recorder._malformed(ex_id, message, exc)

        ex.handle_message = guarded_handle
        make_client = ex.client

        def guarded_client(url):
            client = make_client(url)
            if not getattr(client, "_liqwidget_guard", False):
                decode = client.handle_text_or_binary_message

                def guarded_decode(data):
                    try:
                        return decode(data)
                    except ValueError as exc:  # not JSON
                        recorder._malformed(ex_id, data, exc)

                client.handle_text_or_binary_message = guarded_decode
                client._liqwidget_guard = True
            return client

        ex.client = guarded_client

    # ------------------------------------------------------------------ events
    def _accept(self, ex_id: str, liq: dict) -> None:
        stats = self.stats[ex_id]
        stats.received += 1
        event = _to_event(ex_id, liq, self._contract_sizes.get(ex_id, {}))
        if isinstance(event, str):
            self._malformed(ex_id, liq.get("info", liq), ValueError(event))
            stats.received -= 1
            return
        if event.symbol not in self._symbols.get(ex_id, ()):
            stats.received -= 1  # another symbol on a shared stream
            return
        self._queue.put_nowait(event)

    def _malformed(self, ex_id: str, message, exc: Exception) -> None:
        self.stats[ex_id].malformed += 1
        log.warning(
            "%s: skipped a malformed message (%s): %s", ex_id, _short(exc), _short(message, 200)
        )

    async def _gap(self, ex, ex_id: str, symbols: list[str], start: int, stop: int, reason: str):
        if stop <= start:
            return
        for symbol in symbols:
            self.store.add_gap(ex_id, symbol, start, stop, reason)
        self.stats[ex_id].gaps += 1
        log.info("%s: recorded a coverage gap of %.1fs (%s)", ex_id, (stop - start) / 1e3, reason)
        if self.settings.backfill and ex.has.get("fetchLiquidations"):
            await self._backfill(ex, ex_id, symbols, start, stop)

    async def _backfill(self, ex, ex_id: str, symbols: list[str], start: int, stop: int):
        for symbol in symbols:
            try:
                rows = await ex.fetch_liquidations(symbol, start)
            except ccxt.BaseError as exc:
                log.warning("%s: backfill of %s failed (%s)", ex_id, symbol, _short(exc))
                continue
            for row in rows:
                if row.get("timestamp") is not None and start <= row["timestamp"] <= stop:
                    self._accept(ex_id, row)

    def _last_run(self, ex_id: str, symbols: list[str]) -> tuple[int | None, str]:
        """The previous run's last heartbeat for these symbols and how that run ended."""
        beats = []
        for symbol in symbols:
            alive = self.store.get_meta(f"recorder:{ex_id}:{symbol}:alive")
            if alive is not None:
                clean = self.store.get_meta(f"recorder:{ex_id}:{symbol}:clean") == alive
                beats.append((int(alive), clean))
        if not beats:
            return None, ""
        alive, clean = min(beats)
        return alive, "recorder stopped" if clean else "recorder ended without a clean shutdown"

    def _beats(self, clean: bool = False) -> dict[str, str]:
        """Heartbeat entries for every recorded symbol (built on the event-loop thread)."""
        now = str(_now_ms())
        items = {}
        for ex_id, symbols in self._symbols.items():
            for symbol in symbols:
                items[f"recorder:{ex_id}:{symbol}:alive"] = now
                if clean:
                    items[f"recorder:{ex_id}:{symbol}:clean"] = now
        return items

    # ------------------------------------------------------------------ writer
    async def _writer(self) -> None:
        pending: list[_Event] = []
        deadline = math.inf
        next_beat = time.monotonic() + self.settings.heartbeat
        while True:
            timeout = max(0.0, min(deadline, next_beat) - time.monotonic())
            try:
                item = await asyncio.wait_for(self._queue.get(), timeout)
            except TimeoutError:
                item = ...
            if item is None:
                await self._flush(pending)
                return
            if isinstance(item, _Event):
                if not pending:
                    deadline = time.monotonic() + self.settings.max_latency
                pending.append(item)
            now = time.monotonic()
            if len(pending) >= self.settings.batch_size or (pending and now >= deadline):
                await self._flush(pending)
                pending, deadline = [], math.inf
            if now >= next_beat:
                await asyncio.to_thread(self.store.set_meta_many, self._beats())
                next_beat = now + self.settings.heartbeat

    async def _flush(self, events: list[_Event]) -> None:
        if not events:
            return
        by_exchange: dict[str, list[_Event]] = defaultdict(list)
        for e in events:
            by_exchange[e.exchange].append(e)
        for ex_id, batch in by_exchange.items():
            frame = pd.DataFrame(
                {
                    "time": pd.to_datetime([e.ts for e in batch], unit="ms", utc=True),
                    "side": [e.side for e in batch],
                    "price": [e.price for e in batch],
                    "notional": [e.price * e.amount for e in batch],
                    "amount": [e.amount for e in batch],
                    "exchange": ex_id,
                    "symbol": [e.symbol for e in batch],
                }
            )
            new = await asyncio.to_thread(self.store.write_liquidations, frame)
            self.stats[ex_id].stored += new
            self.stats[ex_id].duplicates += len(batch) - new
        await asyncio.to_thread(self.store.set_meta_many, self._beats())


# ---------------------------------------------------------------------- helpers
def _to_event(ex_id: str, liq: dict, sizes: dict[str, float]) -> _Event | str:
    """A checked event, or a string saying what is wrong with the ccxt liquidation."""
    ts, price = liq.get("timestamp"), liq.get("price")
    symbol, side = liq.get("symbol"), (liq.get("side") or "").lower()
    contracts, size = liq.get("contracts"), sizes.get(symbol) or liq.get("contractSize") or 1.0
    if not isinstance(ts, int) or ts <= 0:
        return f"no valid timestamp ({ts!r})"
    for name, value in (("price", price), ("contracts", contracts), ("contractSize", size)):
        if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
            return f"{name} is not a positive number ({value!r})"
    if not symbol:
        return "no symbol"
    position = _position_side(ex_id, side, liq.get("info"))
    if position is None:
        return f"unknown side {side!r}"
    return _Event(ex_id, symbol, ts, position, float(price), float(contracts) * float(size))


def _position_side(ex_id: str, side: str, info) -> str | None:
    details = info.get("details") if isinstance(info, dict) else None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        pos = str(details[0].get("posSide", "")).lower()  # OKX says it outright
        if pos in ("long", "short"):
            return pos
    if side not in ("buy", "sell"):
        return None
    long_side = feed_info(ex_id).long_side
    return "long" if side == long_side else "short"


async def _first_failure(tasks: list[asyncio.Task]) -> None:
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    for task in done:
        task.result()


def _now_ms() -> int:
    return int(time.time() * 1000)


def _short(value, n: int = 200) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"
