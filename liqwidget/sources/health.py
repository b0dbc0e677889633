"""How each recorded feed is doing: counters, a health snapshot, and the health file.

The recorder keeps one :class:`FeedStats` per exchange. :meth:`FeedStats.health` turns it
into a :class:`FeedHealth` snapshot (plain values, JSON-ready) with the age of the last event
and a warning when something needs a person: the store is busy, or events keep arriving but
none has been stored for a while. Snapshots go to the status line, to the store's
``feed_health`` table and to a JSON file written atomically (:func:`write_health_file`), which a
monitor or the live page can read with :func:`read_health_file`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..files import write_atomic


@dataclass
class FeedStats:
    """Counters for one exchange (``received = stored + duplicates + refused + pending``)."""

    received: int = 0  # events of the recorded symbols that reached the recorder
    stored: int = 0
    duplicates: int = 0  # exact repeats the store already had
    refused: int = 0  # events that failed their checks (kept in the refused table)
    malformed: int = 0  # messages that could not be read at all (kept there too)
    reconnects: int = 0
    gaps: int = 0
    connected: bool = False
    last_error: str | None = None
    last_event_at: float | None = None  # wall clock (s) when the last event arrived
    store_problem: str | None = None  # set while the store cannot take writes

    def __post_init__(self) -> None:
        # Stall watch (not a field, so asdict() shows counters only): how many events were
        # done, and since when (wall clock s).
        self._progress: tuple[int, float] | None = None

    @property
    def pending(self) -> int:
        return self.received - self.stored - self.duplicates - self.refused

    def stalled_for(self, now: float) -> float:
        """Seconds that events have been waiting without any being stored (0: not stalled)."""
        done = self.stored + self.duplicates + self.refused
        if self.pending <= 0 or self._progress is None or done != self._progress[0]:
            self._progress = (done, now)
            return 0.0
        return now - self._progress[1]

    def health(self, exchange: str, now: float, stall_after: float) -> FeedHealth:
        """A snapshot; ``stall_after`` s of pending events with nothing stored is a warning."""
        stalled = self.stalled_for(now)
        warning = self.store_problem
        if warning is None and stalled >= stall_after:
            warning = (
                f"stored has not grown for {stalled:.0f}s while {self.pending} received events wait"
            )
        age = None if self.last_event_at is None else round(now - self.last_event_at, 3)
        return FeedHealth(
            exchange=exchange,
            connected=self.connected,
            received=self.received,
            stored=self.stored,
            refused=self.refused,
            malformed=self.malformed,
            duplicates=self.duplicates,
            pending=self.pending,
            gaps=self.gaps,
            reconnects=self.reconnects,
            last_event_age_s=age,
            warning=warning,
            last_error=self.last_error,
        )


@dataclass(frozen=True)
class FeedHealth:
    """One feed's health at one moment (what the status line, table and file show)."""

    exchange: str
    connected: bool
    received: int
    stored: int
    refused: int
    malformed: int
    duplicates: int
    pending: int
    gaps: int
    reconnects: int
    last_event_age_s: float | None  # None: no event yet
    warning: str | None
    last_error: str | None = None

    def line(self) -> str:
        """The status line."""
        state = "connected" if self.connected else "disconnected"
        age = "none yet" if self.last_event_age_s is None else f"{self.last_event_age_s:.0f}s ago"
        text = (
            f"{state}, received {self.received}, stored {self.stored}, refused {self.refused}, "
            f"malformed {self.malformed}, duplicates {self.duplicates}, gaps {self.gaps}, "
            f"reconnects {self.reconnects}, last event {age}"
        )
        return text + (f" — WARNING: {self.warning}" if self.warning else "")

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def health_file_for(store_path: Path | None) -> Path | None:
    """Where the health file of a store lives: ``<store>.health.json`` beside the file."""
    return None if store_path is None else store_path.with_name(store_path.name + ".health.json")


def write_health_file(path: Path, feeds: dict[str, FeedHealth]) -> None:
    """Replace ``path`` atomically (a reader sees the old or the new file, never half)."""
    body = {
        "updated_at_ms": int(time.time() * 1000),
        "feeds": {k: asdict(v) for k, v in feeds.items()},
    }
    write_atomic(path, json.dumps(body, indent=1).encode())


def read_health_file(path: str | os.PathLike) -> tuple[int, dict[str, FeedHealth]]:
    """When the health file was written (epoch ms) and its feeds."""
    body = json.loads(Path(path).read_text())
    return int(body["updated_at_ms"]), {k: FeedHealth(**v) for k, v in body["feeds"].items()}
