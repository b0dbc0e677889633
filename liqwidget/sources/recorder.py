"""The live liquidation recorder: ccxt.pro liquidation streams into the store.

For each exchange one task keeps a ccxt.pro subscription alive
(``watch_liquidations_for_symbols`` where the exchange has it, else one
``watch_liquidations`` per symbol). Every liquidation ccxt parses is taken from its cache as it
arrives (so none are lost when several arrive between two awaits), checked as a whole
(:mod:`.checks`: price, amount, notional and time must be sane) and queued; a refused event
is counted, logged with its reason and kept in the store's ``refused`` table. One writer
(:mod:`.writer`) commits the queue in small batches: when ``batch_size`` events are waiting or
the oldest has waited ``max_latency`` seconds. It waits out a busy store, isolates an event
the store refuses, and ends the recording loudly (saving what is pending) when the store
cannot be written. Exact repeats are dropped by the store; identical liquidations carried by
one message are numbered (``seq``) so that each is kept.

When a connection drops the task waits (exponential backoff) and subscribes again on a fresh
connection; the time from the drop until the new connection is open is written to the store
as a gap, as is the time between two runs of the recorder (from the last heartbeat of the
previous run). A subscription the exchange answers with an error frame (Binance
``{"error": ...}``, Bybit ``{"success": false}``, OKX ``{"event": "error"}``) is tried again
the same way; after ``refusal_tries`` refusals (errors within ``REFUSAL_WINDOW`` seconds of
subscribing) with no event in between, the recorder stops with the exchange's words (a
connection that stays open but carries nothing is never taken for a live feed). Malformed
messages are logged, counted, quarantined and skipped without dropping the connection. Where
an exchange has REST liquidation history (``fetch_liquidations``), the gap is backfilled from
it. Health per feed (:mod:`.health`) goes to the store's ``feed_health`` table and to a JSON
file beside the store on every heartbeat.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import ccxt
from ccxt.async_support.base.ws.cache import ArrayCache

from ..store import Store
from .checks import Bounds, Market, check
from .exchanges import (
    ExchangeDataError,
    make_exchange,
    require_markets,
    resolve_symbol,
    short,
)
from .fetch import asked_wait, backoff_delay, rate_limited
from .health import FeedHealth, FeedStats, health_file_for, write_health_file
from .writer import Gap, Refused, Writer, WriterSettings

log = logging.getLogger(__name__)

#: Seconds after subscribing within which an exchange's error answer counts as refusing the
#: subscription (later errors of a feed that had been live are only reconnected).
REFUSAL_WINDOW = 30.0

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
    heartbeat: float = 5.0  # seconds between heartbeats (and health reports)
    backfill: bool = True
    bounds: Bounds = field(default_factory=Bounds)  # what a sane event looks like
    stall_after: float = 30.0  # s of received-but-unstored events before health warns
    fatal_tries: int = 3  # tries of a write that fails for a reason other than a busy store
    refusal_tries: int = 3  # refused subscriptions in a row (no event between) before giving up
    stop_patience: float = 60.0  # s a busy store is waited for when stopping
    health_file: Path | None = None  # default: <store>.health.json beside a store file

    def writer(self) -> WriterSettings:
        return WriterSettings(
            batch_size=self.batch_size,
            max_latency=self.max_latency,
            heartbeat=self.heartbeat,
            backoff_base=self.backoff_base,
            backoff_cap=self.backoff_cap,
            fatal_tries=self.fatal_tries,
            stop_patience=self.stop_patience,
        )


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
        self.stats: dict[str, FeedStats] = {ex: FeedStats() for ex in self.streams}
        #: Where the health file is written (None: no file, e.g. a server store).
        self.health_path = self.settings.health_file or health_file_for(
            getattr(store, "path", None)
        )
        self._queue: asyncio.Queue | None = None
        self._stopping: asyncio.Event | None = None
        self._symbols: dict[str, list[str]] = {}
        self._markets: dict[str, dict[str, Market]] = {}
        #: Every market each exchange lists (events of other listed markets on a shared
        #: stream are not ours; a symbol the exchange does not list is refused).
        self._listed: dict[str, dict] = {}
        #: The WebSocket clients per URL of each exchange since its last failure. ccxt
        #: forgets a client that failed; its time of the last frame still dates the gap.
        self._clients: dict[str, dict[str, object]] = defaultdict(dict)
        # Identical events seen so far in the message being handled, per exchange.
        self._in_message: dict[str, Counter] = defaultdict(Counter)
        self._warned: dict[str, bool] = {}  # whether a feed's health warns, as last logged
        #: Per feed, set when the exchange refuses a subscription of the current attempt.
        self._refusal: dict[str, asyncio.Future] = {}

    # ------------------------------------------------------------------ public
    def stop(self) -> None:
        """Ask the recorder to finish: pending events are committed, then run() returns."""
        if self._stopping is not None:
            self._stopping.set()

    def health(self) -> dict[str, FeedHealth]:
        """A health snapshot of every feed (what the status line and the health file show)."""
        now = time.time()
        return {
            ex: stats.health(ex, now, self.settings.stall_after) for ex, stats in self.stats.items()
        }

    async def run(self) -> dict[str, FeedStats]:
        """Record until :meth:`stop` is called; returns the counters per exchange.

        Raises :class:`~liqwidget.sources.writer.StoreUnwritable` if the store cannot be
        written (after saving what was pending), or the error of a feed that failed for good.
        """
        self._queue = asyncio.Queue()
        self._stopping = asyncio.Event()
        writer = Writer(
            self.store,
            self.stats,
            self.settings.writer(),
            self._beats,
            self._report_health,
            self.stop,
        )
        writing = asyncio.create_task(writer.run(self._queue), name="liqwidget-writer")
        feeds = [
            asyncio.create_task(self._feed(ex_id, symbols), name=f"liqwidget-{ex_id}")
            for ex_id, symbols in self.streams.items()
        ]
        stopper = asyncio.create_task(self._stopping.wait())
        try:
            # Runs until stop() is called (also by the writer when the store cannot be
            # written) or a feed fails for good (bad symbol, ...).
            await asyncio.wait([stopper, *feeds], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._stopping.set()
            for task in feeds:
                task.cancel()
            results = await asyncio.gather(*feeds, return_exceptions=True)
            await self._queue.put(None)
            await asyncio.gather(writing, return_exceptions=True)
            stopper.cancel()
        if writing.exception() is not None:
            raise writing.exception()
        for result in results:
            if isinstance(result, Exception) and not isinstance(result, asyncio.CancelledError):
                raise result
        return dict(self.stats)

    async def _report_health(self) -> None:
        """Health to the terminal (new warnings), the health file and the store's
        feed_health table (skipped while the store is in trouble; never fatal)."""
        health = self.health()
        for ex, h in health.items():
            warned = self._warned.get(ex, False)
            if bool(h.warning) != warned:  # a warning starts or ends (the writer logs retries)
                if h.warning and h.warning != self.stats[ex].store_problem:
                    log.warning("%s: %s", ex, h.warning)
                elif warned:
                    log.info("%s: back to normal (%s)", ex, h.line())
                self._warned[ex] = bool(h.warning)
        if self.health_path is not None:
            try:
                write_health_file(self.health_path, health)
            except OSError as exc:
                log.warning("cannot write the health file %s (%s)", self.health_path, exc)
        if any(s.store_problem for s in self.stats.values()):
            return
        try:
            rows = {ex: h.to_json() for ex, h in health.items()}
            await asyncio.to_thread(self.store.write_health, rows)
        except Exception as exc:  # the writer reports store trouble itself
            log.debug("health row not written: %s", exc)

    # ------------------------------------------------------------------ one exchange
    async def _feed(self, ex_id: str, symbols: list[str]) -> None:
        stats = self.stats[ex_id]
        blind_since, reason, resolved = None, "", []
        ex = make_exchange(ex_id, pro=True, api_base=self.api_base, config=self.config)
        self._guard(ex, ex_id)
        try:
            await self._load_markets(ex, ex_id)
            # ccxt.pro's parsed liquidations carry no contract size (safe_liquidation is called
            # without the market), so take it (and the price limits) from the markets.
            markets = [Market.of(resolve_symbol(ex, s)) for s in symbols]
            self._markets[ex_id] = {m.symbol: m for m in markets}
            self._listed[ex_id] = ex.markets
            resolved = self._symbols[ex_id] = [m.symbol for m in markets]
            attempt = refusals = 0
            # Blind since the previous run's last heartbeat, if there was one.
            blind_since, reason = self._last_run(ex_id, resolved)
            while not self._stopping.is_set():
                wait = self.settings.backoff_base
                received, started = stats.received, time.monotonic()
                refused = self._refusal[ex_id] = asyncio.get_running_loop().create_future()
                tasks = self._watch(ex, resolved)
                failed = True
                try:
                    connected_at = await self._until_connected(ex, [*tasks, refused])
                    if connected_at is not None:
                        stats.connected = True
                        if blind_since is not None:
                            await self._gap(ex, ex_id, resolved, blind_since, connected_at, reason)
                            blind_since = None
                            attempt = 0
                    await _first_failure(tasks, refused)
                    failed = False
                except (ccxt.NetworkError, ccxt.ExchangeError) as exc:
                    lived = time.monotonic() - started
                    live = stats.received > received or lived > REFUSAL_WINDOW
                    if isinstance(exc, PERMANENT) and not live:
                        raise ExchangeDataError(
                            f"{ex_id}: the liquidation stream was refused ({type(exc).__name__}: "
                            f"{short(exc)}); check the exchange and symbols"
                        ) from exc
                    if live:
                        refusals = 0  # the subscription had been taken: an error now is news
                    if not isinstance(exc, ccxt.NetworkError) and lived <= REFUSAL_WINDOW:
                        refusals += 1
                        if refusals >= self.settings.refusal_tries:
                            raise ExchangeDataError(
                                f"{ex_id}: the liquidation stream was refused {refusals} times "
                                f"in a row ({type(exc).__name__}: {short(exc)}); check the "
                                "exchange and symbols"
                            ) from exc
                    stats.connected = False
                    stats.reconnects += 1
                    stats.last_error = f"{type(exc).__name__}: {exc}"
                    # The failed connection's clients are read once, then let go: the next
                    # connection registers its own.
                    lost_at = _lost_at(self._clients.pop(ex_id, {}).values(), exc)
                    blind_since = blind_since or lost_at
                    reason = f"connection lost ({type(exc).__name__})"
                    wait = backoff_delay(
                        attempt, self.settings.backoff_base, self.settings.backoff_cap
                    )
                    attempt += 1
                    log.warning(
                        "%s: %s; reconnecting in %.2fs (attempt %d)",
                        ex_id,
                        short(exc),
                        wait,
                        attempt,
                    )
                finally:
                    if refused.done() and not refused.cancelled():
                        refused.exception()  # seen (it may have lost the race to a task's)
                    refused.cancel()
                    for task in tasks:
                        task.cancel()
                    await asyncio.gather(*tasks, return_exceptions=True)
                    if failed:
                        # The next try starts on a fresh connection: one that failed but
                        # stayed open (a refused subscription) would pass for a live feed.
                        await ex.close_ws_clients()
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
                    self._queue.put_nowait(Gap(ex_id, symbol, blind_since, _now_ms(), reason))
                stats.gaps += 1
            await ex.close()

    async def _load_markets(self, ex, ex_id: str) -> None:
        attempt = 0
        while True:
            try:
                await ex.load_markets()
                require_markets(ex)
                return
            except ccxt.NetworkError as exc:
                wait = backoff_delay(attempt, self.settings.backoff_base, self.settings.backoff_cap)
                if rate_limited(exc):  # a rate limit or ban: sit it out
                    wait = max(wait, asked_wait(ex) or 0.0)
                attempt += 1
                log.warning(
                    "%s: loading markets failed (%s); retrying in %.2fs", ex_id, short(exc), wait
                )
                await asyncio.sleep(wait)
            except ccxt.BaseError as exc:
                raise ExchangeDataError(
                    f"{ex_id}: cannot load markets ({type(exc).__name__}: {short(exc)})"
                ) from exc

    def _watch(self, ex, symbols: list[str]) -> list[asyncio.Task]:
        async def loop(call):
            while True:
                await call()

        if ex.has.get("watchLiquidationsForSymbols"):
            # One subscription per market type: ccxt takes the type (OKX's instType) from the
            # first symbol, so a perpetual and a dated future together would lose the future.
            kinds: dict[str, list[str]] = defaultdict(list)
            for symbol in symbols:
                kinds[ex.market(symbol).get("type")].append(symbol)
            calls = [lambda g=g: ex.watch_liquidations_for_symbols(g) for g in kinds.values()]
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
                info = item.get("info") if isinstance(item, dict) else None
                details = info.get("details") if isinstance(info, dict) else None
                if isinstance(details, list) and len(details) > 1:
                    # ccxt parses only the first of an OKX message's details: each its own.
                    for one in details:
                        recorder._accept(ex_id, ex.parse_ws_liquidation({**info, "details": [one]}))
                else:
                    recorder._accept(ex_id, item)

        ex.liquidations = Tap(ex.safe_integer(ex.options, "liquidationsLimit", 1000))
        handle_message = ex.handle_message

        def guarded_handle(client, message):
            recorder._in_message[ex_id].clear()  # a new message: identical events count anew
            try:
                if isinstance(message, str) and message.strip().lower() not in _KEEPALIVE:
                    # ccxt decodes only text that opens with '{' or '['; the rest (an HTML
                    # error page, a bare word) would pass through unseen.
                    recorder._malformed(ex_id, message, ValueError("not JSON"))
                    return
                for part in _entries(message):
                    try:
                        handle_message(client, part)
                    except Exception as exc:  # an entry ccxt could not digest
                        recorder._malformed(ex_id, part, exc)
            finally:
                refused = recorder._refusal.get(ex_id)
                if _is_error_frame(message) and refused is not None and not refused.done():
                    refused.set_exception(StreamRefused(f"{ex_id} {short(message)}"))

        ex.handle_message = guarded_handle
        make_client = ex.client

        def guarded_client(url):
            client = make_client(url)
            recorder._clients[ex_id][url] = client
            if not getattr(client, "_liqwidget_guard", False):
                decode = client.handle_text_or_binary_message

                def guarded_decode(data):
                    client.liqwidget_heard_at = _now_ms()  # a data frame (not a close)
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
        symbol = liq.get("symbol")
        market = self._markets.get(ex_id, {}).get(symbol)
        if market is None and symbol in self._listed.get(ex_id, {}):
            return  # another market on a shared stream: not recorded here
        stats = self.stats[ex_id]
        stats.received += 1
        stats.last_event_at = time.time()
        if market is None:
            event = f"unknown symbol {symbol!r}: {ex_id} lists no such market"
        else:
            event = check(ex_id, liq, market, _now_ms(), self.settings.bounds)
        if isinstance(event, str):
            stats.refused += 1
            raw = liq.get("info") or liq
            log.warning("%s: refused an event (%s): %s", ex_id, event, short(raw))
            name = market.symbol if market is not None else short(symbol, 60)
            self._queue.put_nowait(Refused.of(ex_id, name, event, raw))
            return
        seen = self._in_message[ex_id]
        seq = seen[event.identity]
        seen[event.identity] += 1
        self._queue.put_nowait(dataclasses.replace(event, seq=seq) if seq else event)

    def _malformed(self, ex_id: str, message, exc: Exception) -> None:
        self.stats[ex_id].malformed += 1
        reason = f"malformed message ({type(exc).__name__}: {short(exc)})"
        log.warning("%s: skipped a %s: %s", ex_id, reason, short(message))
        self._queue.put_nowait(Refused.of(ex_id, None, reason, message))

    async def _gap(self, ex, ex_id: str, symbols: list[str], start: int, stop: int, reason: str):
        if stop <= start:
            return
        for symbol in symbols:
            self._queue.put_nowait(Gap(ex_id, symbol, start, stop, reason))
        self.stats[ex_id].gaps += 1
        log.info("%s: recorded a coverage gap of %.1fs (%s)", ex_id, (stop - start) / 1e3, reason)
        if self.settings.backfill and ex.has.get("fetchLiquidations"):
            await self._backfill(ex, ex_id, symbols, start, stop)

    async def _backfill(self, ex, ex_id: str, symbols: list[str], start: int, stop: int):
        for symbol in symbols:
            try:
                rows = await ex.fetch_liquidations(symbol, start)
            except ccxt.BaseError as exc:
                log.warning("%s: backfill of %s failed (%s)", ex_id, symbol, short(exc))
                continue
            self._in_message[ex_id].clear()  # one response: identical rows in it are distinct
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


# ---------------------------------------------------------------------- helpers
#: Text frames that are keep-alives, not data (OKX answers a ping with a bare ``pong``).
_KEEPALIVE = ("ping", "pong")


def _entries(message) -> list:
    """A message carrying several entries (``"data": [...]``, as Bybit and OKX batch their
    liquidations) as one message per entry, so that an entry ccxt cannot parse costs only
    itself and not the entries after it; any other message as it is."""
    data = message.get("data") if isinstance(message, dict) else None
    if isinstance(data, list) and len(data) > 1:
        return [{**message, "data": [entry]} for entry in data]
    return [message]


class StreamRefused(ccxt.ExchangeError):
    """The exchange answered a subscription with an error frame."""


def _is_error_frame(message) -> bool:
    """Whether a WebSocket message is an exchange's error answer: Binance
    ``{"error": {"code": 2, "msg": ...}, "id": 1}``, Bybit ``{"success": false, "ret_msg":
    ...}``, OKX ``{"event": "error", "code": "60018", "msg": ...}``."""
    if not isinstance(message, dict):
        return False
    return (
        isinstance(message.get("error"), dict)
        or message.get("success") is False
        or message.get("event") == "error"
    )


async def _first_failure(tasks: list[asyncio.Task], refused: asyncio.Future) -> None:
    """Return when a watch task or ``refused`` fails, raising ccxt's own error first."""
    done, _ = await asyncio.wait([*tasks, refused], return_when=asyncio.FIRST_EXCEPTION)
    for task in [*tasks, refused]:
        if task in done:
            task.result()


def _lost_at(clients, exc: Exception) -> int:
    """When (ms) a failed connection stopped carrying data. A keep-alive timeout means the
    line went quiet before ccxt noticed (tens of seconds on Bybit and OKX): the blind time
    starts at the last sign of life on any of the exchange's ``clients`` (ccxt WebSocket
    clients): a data frame, or a pong. Any other failure (a close, a reset) is seen as it
    happens. (ccxt's own ``last_message_at`` also counts the closing handshake that follows
    the timeout, so it cannot date the silence.)"""
    now = _now_ms()
    if not isinstance(exc, ccxt.RequestTimeout):
        return now
    heard = [getattr(c, k, None) for c in clients for k in ("liqwidget_heard_at", "lastPong")]
    heard = [int(t) for t in heard if isinstance(t, int | float)]
    return min(now, max(heard)) if heard else now


def _now_ms() -> int:
    return int(time.time() * 1000)
