"""Follow a store live: liquidations recorded there appear on an open map, and new bars
with their open interest extend it, so the estimated clusters move as the market does."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Protocol

import pandas as pd

from ..store import StoreError
from ..times import timeframe_name

if TYPE_CHECKING:
    from ..market import MarketData
    from ..store import Store


class FollowTarget(Protocol):
    """What a follower feeds: anything with a market that takes new bars and new liquidation
    events (the map does)."""

    @property
    def market(self) -> MarketData: ...

    def append_bars(self, bars: pd.DataFrame) -> None: ...

    def append_liquidations(self, events: pd.DataFrame) -> None: ...


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, if any."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class StoreFollower:
    """Polls the store and appends what is new to a map (any :class:`FollowTarget`): the
    liquidations recorded since the last poll and, with ``bars`` (the default), the bars of
    the map's own market (exchange, symbol, timeframe) that closed after its last one, with
    their open interest. The map re-estimates on new bars, so its Clusters layer moves.

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
        bars: bool = True,
    ):
        if every <= 0:
            raise ValueError(f"every must be a positive number of seconds, got {every}")
        self.widget, self.store = widget, store
        self.exchange, self.symbol, self.every = exchange, symbol, float(every)
        # Start after what is already stored, unless asked to replay the whole store.
        self.cursor = 0 if since_start else store.last_cursor()
        self.received = 0
        self.bars_received = 0
        self.bars = bars
        self._task: asyncio.Task | None = None

    def poll(self) -> int:
        """Append the bars and events stored since the last poll; return how many events."""
        if self.bars:
            self.poll_bars()
        new, self.cursor = self.store.events_since(self.cursor)
        if self.exchange is not None:
            new = new[new["exchange"] == self.exchange]
        if self.symbol is not None:
            new = new[new["symbol"] == self.symbol]
        if len(new):
            self.widget.append_liquidations(new.reset_index(drop=True))
            self.received += len(new)
        return len(new)

    def poll_bars(self) -> int:
        """Append the map market's bars stored after its last bar; return how many.

        Only bars with open interest count (as :meth:`Store.load_market` gives them); a map
        whose market the store does not hold gets none.
        """
        m = self.widget.market
        exchange = self.exchange or m.exchange
        symbol = self.symbol or m.symbol
        if not (exchange and symbol and len(m)):
            return 0
        last = m.index[-1]
        try:
            fresh = self.store.load_market(
                exchange, symbol, timeframe_name(m.timeframe), start=last + m.timeframe
            )
        except StoreError:
            return 0  # nothing newer stored yet
        if not len(fresh):
            return 0
        self.widget.append_bars(fresh.frame)
        self.bars_received += len(fresh)
        return len(fresh)

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
