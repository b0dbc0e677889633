"""Follow a store live: liquidations recorded there appear on an open map."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

import pandas as pd

if TYPE_CHECKING:
    from ..store import Store


class FollowTarget(Protocol):
    """What a follower feeds: anything that takes new liquidation events (the map does)."""

    def append_liquidations(self, events: pd.DataFrame) -> None: ...


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class StoreFollower:
    """Polls ``store.events_since`` and appends new events to a map (any :class:`FollowTarget`).

    Created by :meth:`LiquidationMap.follow`. :meth:`poll` takes one step by hand; in a
    running event loop (as in Jupyter) the follower also polls every ``every`` seconds
    until :meth:`stop`.
    """

    def __init__(
        self,
        widget: FollowTarget,
        store: Store,
        exchange: str | None = None,
        symbol: str | None = None,
        every: float = 1.0,
        since_start: bool = False,
    ):
        if every <= 0:
            raise ValueError(f"every must be a positive number of seconds, got {every}")
        self.widget, self.store = widget, store
        self.exchange, self.symbol, self.every = exchange, symbol, float(every)
        # Start after what is already stored, unless asked to replay the whole store.
        self.cursor = 0 if since_start else store.last_cursor()
        self.received = 0
        self._task: asyncio.Task | None = None

    def poll(self) -> int:
        """Fetch events recorded since the last poll, append them, return how many."""
        new, self.cursor = self.store.events_since(self.cursor)
        if self.exchange is not None:
            new = new[new["exchange"] == self.exchange]
        if self.symbol is not None:
            new = new[new["symbol"] == self.symbol]
        if len(new):
            self.widget.append_liquidations(new.reset_index(drop=True))
            self.received += len(new)
        return len(new)

    def start(self) -> StoreFollower:
        """Poll in the background of the running event loop (Jupyter's kernel has one)."""
        loop = running_loop()
        if loop is None:
            raise RuntimeError(
                "no running event loop to follow the store in; call poll() yourself, "
                "or use the widget inside Jupyter"
            )
        self._task = loop.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            self.poll()
            await asyncio.sleep(self.every)

    def stop(self) -> None:
        """Stop polling (events already shown stay on the map)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()
