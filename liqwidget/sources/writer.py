"""The recorder's one writer: queued events, refused events and gaps into the store.

It commits in small batches and cannot die quietly:

* a busy or locked store is waited out with backoff; the feeds' health carries a warning
  (status line, health file) for as long as it lasts;
* a batch the store refuses for something in its data is split in halves until the bad
  event is alone; that event is quarantined (the ``refused`` table) and the rest are stored;
* a store that cannot be written at all (disk full, file removed, read-only) raises
  :class:`StoreUnwritable` after a few tries, once everything still pending has been saved
  to a rescue file (JSON lines) beside the store or in the temporary folder.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, astuple, dataclass
from pathlib import Path

import pandas as pd

from ..store import Store, StoreError, write_failure
from ..times import from_ms
from .checks import Event
from .exchanges import short
from .fetch import backoff_delay
from .health import FeedStats

log = logging.getLogger(__name__)

#: Longest raw text kept for one refused message.
RAW_LIMIT = 20_000


class StoreUnwritable(StoreError):
    """The store cannot take writes; the message says where pending events were saved."""


class _DataProblem(Exception):
    """The store refused rows for something in them (retrying the same rows cannot help)."""


@dataclass(frozen=True)
class Refused:
    """A message or event the recorder received and refused, with why."""

    exchange: str
    symbol: str | None
    received_at: int  # epoch ms
    reason: str
    raw: str

    @classmethod
    def of(cls, exchange: str, symbol: str | None, reason: str, raw) -> Refused:
        text = raw if isinstance(raw, str) else json.dumps(raw, default=str)
        if len(text) > RAW_LIMIT:
            text = text[:RAW_LIMIT] + f"… ({len(text)} characters in all)"
        return cls(exchange, symbol, int(time.time() * 1000), reason, text)


@dataclass(frozen=True)
class Gap:
    """A stretch when a feed was blind (``symbol=None``: all its symbols)."""

    exchange: str
    symbol: str | None
    start: int
    stop: int
    reason: str


@dataclass
class WriterSettings:
    batch_size: int = 500
    max_latency: float = 1.0
    heartbeat: float = 5.0
    backoff_base: float = 1.0
    backoff_cap: float = 60.0
    fatal_tries: int = 3  # tries before an error that is not "busy" ends the recording
    stop_patience: float = 60.0  # s a busy store is waited for once the recorder is stopping


class Writer:
    """Drains the recorder's queue into ``store``; run it with :meth:`run`.

    ``tick(clean)`` returns the meta entries (heartbeats) to write with each batch and on
    every heartbeat; ``await on_heartbeat()`` follows each heartbeat and each failed write
    (health reporting); ``stop_recording()`` is called when the store cannot be written.
    """

    def __init__(
        self,
        store: Store,
        stats: dict[str, FeedStats],
        settings: WriterSettings,
        tick: Callable[[bool], dict[str, str]],
        on_heartbeat: Callable[[], Awaitable[None]],
        stop_recording: Callable[[], None],
    ):
        self.store = store
        self.stats = stats
        self.settings = settings
        self.tick = tick
        self.on_heartbeat = on_heartbeat
        self.stop_recording = stop_recording
        self.stopping = False
        self._inode = _inode(store)
        self._pending: list = []

    async def run(self, queue: asyncio.Queue) -> None:
        """Commit what arrives until ``None`` is queued. On a fatal store error the recording
        is stopped, everything pending and queued until ``None`` is rescued to a file and
        :class:`StoreUnwritable` is raised."""
        try:
            await self._loop(queue)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # Ask the recorder to stop, and keep taking what the feeds still queue until it
            # has (None), so that the rescue file holds every event received.
            self.stop_recording()
            while not self.stopping or not queue.empty():  # None sets `stopping`
                item = await queue.get()
                self.stopping = self.stopping or item is None
                if item is not None:
                    self._pending.append(item)
            error = self._rescue(exc)
            await self.on_heartbeat()
            raise error from exc

    async def _loop(self, queue: asyncio.Queue) -> None:
        s = self.settings
        deadline = math.inf
        next_beat = time.monotonic() + s.heartbeat
        while True:
            timeout = max(0.0, min(deadline, next_beat) - time.monotonic())
            try:
                item = await asyncio.wait_for(queue.get(), timeout)
            except TimeoutError:
                item = ...
            if item is None:
                self.stopping = True
                await self._flush()
                await self._attempt(
                    "the final heartbeat", self.store.set_meta_many, self.tick(True)
                )
                await self.on_heartbeat()
                return
            if item is not ...:
                if not self._pending:
                    deadline = time.monotonic() + s.max_latency
                self._pending.append(item)
            now = time.monotonic()
            if len(self._pending) >= s.batch_size or (self._pending and now >= deadline):
                await self._flush()
                deadline = math.inf
            if now >= next_beat:
                self._check_file()
                await self._attempt("a heartbeat", self.store.set_meta_many, self.tick(False))
                await self.on_heartbeat()
                next_beat = time.monotonic() + s.heartbeat

    # ------------------------------------------------------------------ one batch
    async def _flush(self) -> None:
        """Commit what is pending; what is committed leaves ``_pending`` at once, so that a
        fatal error part way rescues only what the store does not hold."""
        if not self._pending:
            return
        self._check_file()
        refused = [astuple(i) for i in self._pending if isinstance(i, Refused)]
        if refused:
            await self._attempt("quarantining refused events", self.store.quarantine, refused)
            self._pending = [i for i in self._pending if not isinstance(i, Refused)]
        for gap in [i for i in self._pending if isinstance(i, Gap)]:
            args = (gap.exchange, gap.symbol, gap.start, gap.stop, gap.reason)
            await self._attempt("a gap", self.store.add_gap, *args)
            self._pending.remove(gap)
        by_exchange: dict[str, list[Event]] = defaultdict(list)
        for item in self._pending:
            by_exchange[item.exchange].append(item)
        for ex_id, batch in by_exchange.items():
            await self._store_events(ex_id, batch)
            self._pending = [i for i in self._pending if i.exchange != ex_id]
        await self._attempt("a heartbeat", self.store.set_meta_many, self.tick(False))

    async def _store_events(self, ex_id: str, batch: list[Event]) -> None:
        stats = self.stats[ex_id]
        try:
            new = await self._attempt(
                f"{len(batch)} {ex_id} events", lambda: self.store.write_liquidations(frame(batch))
            )
        except _DataProblem as exc:
            if len(batch) > 1:
                mid = len(batch) // 2
                await self._store_events(ex_id, batch[:mid])
                await self._store_events(ex_id, batch[mid:])
                return
            event = batch[0]
            reason = f"the store refused it: {short(exc.__cause__ or exc)}"
            log.warning("%s: refused an event (%s): %s", ex_id, reason, short(asdict(event)))
            bad = Refused.of(ex_id, event.symbol, reason, asdict(event))
            await self._attempt(
                "quarantining a refused event", self.store.quarantine, [astuple(bad)]
            )
            stats.refused += 1
            return
        stats.stored += new
        stats.duplicates += len(batch) - new

    # ------------------------------------------------------------------ retries
    async def _attempt(self, what: str, fn, *args):
        """``fn(*args)`` in a worker thread, retried while the store is busy."""
        s = self.settings
        attempt, fatal, since = 0, 0, time.monotonic()
        while True:
            try:
                result = await asyncio.to_thread(fn, *args)
            except Exception as exc:
                kind = write_failure(exc)
                if kind == "data":
                    raise _DataProblem(str(exc)) from exc
                waited = time.monotonic() - since
                if kind == "fatal":
                    fatal += 1
                    if fatal >= s.fatal_tries:
                        raise
                elif self.stopping and waited >= s.stop_patience:
                    raise
                wait = backoff_delay(attempt, s.backoff_base, s.backoff_cap)
                attempt += 1
                problem = (
                    f"store busy for {waited:.0f}s ({short(exc, 80)}); still trying"
                    if kind == "busy"
                    else f"store write failed ({short(exc, 80)}); try {fatal} of {s.fatal_tries}"
                )
                self._set_problem(problem)
                log.warning("writing %s: %s; next try in %.2fs", what, problem, wait)
                await self.on_heartbeat()
                await asyncio.sleep(wait)
            else:
                if attempt:
                    log.warning("the store took %s after %d retries", what, attempt)
                    self._set_problem(None)
                return result

    def _set_problem(self, problem: str | None) -> None:
        for stats in self.stats.values():
            stats.store_problem = problem

    def _check_file(self) -> None:
        """A removed or replaced store file takes writes that nobody will ever read."""
        if self._inode is not None and _inode(self.store) != self._inode:
            raise StoreError(f"the store file {self.store.location} was removed or replaced")

    # ------------------------------------------------------------------ rescue
    def _rescue(self, exc: Exception) -> StoreUnwritable:
        events = [i for i in self._pending if isinstance(i, Event)]
        rows = [{"kind": type(i).__name__.lower(), **asdict(i)} for i in self._pending]
        where = "nothing was pending"
        if rows:
            path = _write_rescue(self.store.path, rows)
            where = f"{len(events)} pending events and {len(rows) - len(events)} other records " + (
                f"were saved to {path}" if path else "could not be saved anywhere"
            )
        self._set_problem(f"store unwritable: {short(exc, 120)}")
        return StoreUnwritable(
            f"the store {self.store.location} cannot be written ({type(exc).__name__}: "
            f"{short(exc, 160)}); recording stopped; {where}"
        )


def frame(batch: list[Event]) -> pd.DataFrame:
    """The event frame (with ``amount`` and ``seq``) of checked events."""
    ts = [e.ts for e in batch]
    return pd.DataFrame(
        {
            "time": from_ms(ts),
            "side": [e.side for e in batch],
            "price": [e.price for e in batch],
            "notional": [e.notional for e in batch],
            "amount": [e.amount for e in batch],
            "exchange": [e.exchange for e in batch],
            "symbol": [e.symbol for e in batch],
            "seq": [e.seq for e in batch],
        }
    )


def _write_rescue(store_path: Path | None, rows: list[dict]) -> Path | None:
    name = f"liqwidget-rescue-{int(time.time() * 1000)}.jsonl"
    folders = [store_path.parent] if store_path is not None else []
    for folder in [*folders, Path(tempfile.gettempdir())]:
        path = folder / (f"{store_path.name}.{name}" if store_path is not None else name)
        try:
            with open(path, "x") as out:
                for row in rows:
                    out.write(json.dumps(row, default=str) + "\n")
        except OSError as exc:
            log.error("cannot save pending events to %s (%s)", path, exc)
            continue
        return path
    return None


def _inode(store: Store) -> int | None:
    path = getattr(store, "path", None)
    try:
        return path.stat().st_ino if path is not None else None
    except OSError:
        return -1
