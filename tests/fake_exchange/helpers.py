"""Test helpers: run a Recorder on its own event loop thread, wait for conditions."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from liqwidget.sources.recorder import Recorder, RecorderSettings
from liqwidget.store import Store

#: Short waits so the failure-path tests stay quick.
FAST = RecorderSettings(
    batch_size=50, max_latency=0.05, backoff_base=0.05, backoff_cap=0.2, heartbeat=0.2
)


def now_ms() -> int:
    """The wall clock in epoch milliseconds, the exchanges' unit of time."""
    return int(time.time() * 1000)


def wait_for(condition: Callable[[], object], timeout: float = 15.0, what: str = "condition"):
    """Poll ``condition`` until it is truthy; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class RecorderThread:
    """A Recorder running on its own event loop in a background thread."""

    def __init__(self, store: Store, streams, *, api_base: str, settings=FAST, config=None):
        self.recorder = Recorder(
            store, streams, settings=settings, api_base=api_base, config=config
        )
        self.loop = asyncio.new_event_loop()
        self.result = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            self.result = self.loop.run_until_complete(self.recorder.run())
        except BaseException as exc:  # reported by stop()
            self.error = exc
        finally:
            self.loop.close()

    @property
    def stats(self):
        return self.recorder.stats

    def __enter__(self) -> RecorderThread:
        self.thread.start()
        return self

    def stop(self):
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.recorder.stop)
            self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "recorder did not stop"
        if self.error is not None:
            raise self.error
        return self.result

    def __exit__(self, *exc) -> None:
        self.stop()
