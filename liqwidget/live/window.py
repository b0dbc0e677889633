"""The displayed window of a market, kept in memory and refreshed from the store per bar.

Each refresh reads only the newest bars (a short overlap is re-read, so a bar whose open
interest arrived late replaces its earlier version; so is everything from the window's first
missing bar on, so a candle refused and corrected later fills its hole) and the liquidations
recorded since the last refresh, then trims both to the window. Bars the store cannot give
as a market (irregular times, say) leave the window as it was, and say why. Memory stays
bounded by the window length, however long the process runs.
"""

from __future__ import annotations

import logging

import pandas as pd

from ..events import empty_events, validate_events
from ..market import MarketData, MarketDataError
from ..store import Store, StoreError

log = logging.getLogger(__name__)

#: Bars re-read on every refresh, so late open interest or a corrected candle is picked up.
OVERLAP_BARS = 16


class MarketWindow:
    """The last ``window`` of bars (with open interest) and liquidations of one market."""

    def __init__(
        self, store: Store, exchange: str, symbol: str, timeframe: str, window: pd.Timedelta
    ):
        self.store, self.exchange, self.symbol, self.timeframe = store, exchange, symbol, timeframe
        self.window = pd.Timedelta(window)
        self.market: MarketData | None = None
        self.events = empty_events()
        self._cursor: int | None = None
        #: Why the last refresh could not read the bars (None: it could).
        self.problem: str | None = None

    def refresh(self, now: pd.Timestamp | None = None) -> bool:
        """Read what is new in the store; returns whether the bars changed."""
        now = now or pd.Timestamp.now(tz="UTC")
        old = self.market
        if old is None:
            start = now - self.window
        else:
            start = old.index[-1] - OVERLAP_BARS * old.timeframe
            if old.gaps:  # a hole may have been filled since
                start = min(start, old.gaps[0].after)
        try:
            fresh = self.store.load_market(self.exchange, self.symbol, self.timeframe, start=start)
        except StoreError:
            return False  # nothing stored for that range yet (events wait for the bars)
        except MarketDataError as exc:
            problem = f"the stored bars of {self.exchange} {self.symbol} are unusable: {exc}"
            if problem != self.problem:
                log.error("%s; the map keeps its last good bars until this is fixed", problem)
            self.problem = problem
            return False
        self.problem = None
        if old is not None:
            frame = pd.concat([old.frame.loc[: start - pd.Timedelta(1)], fresh.frame])
        else:
            frame = fresh.frame
        frame = frame.loc[frame.index[-1] + fresh.timeframe - self.window :]
        # Both parts were validated as they were loaded, so only the joint is checked here.
        market = MarketData.join(frame, fresh.timeframe, self.symbol, self.exchange)
        changed = old is None or not market.frame.equals(old.frame)
        self.market = market
        self.refresh_events()
        return changed

    def refresh_events(self) -> bool:
        """Add the liquidations stored since the last call; returns whether there were any."""
        if self.market is None:
            return False
        if self._cursor is None:
            start = self.market.index[0]
            self._cursor = self.store.last_cursor()
            stored = self.store.load_liquidations(self.exchange, self.symbol, start=start)
            self.events = validate_events(stored) if len(stored) else empty_events()
            return True
        new, self._cursor = self.store.events_since(self._cursor)
        new = new[(new["exchange"] == self.exchange) & (new["symbol"] == self.symbol)]
        if len(new):
            both = pd.concat([self.events, new], ignore_index=True) if len(self.events) else new
            self.events = validate_events(both)
        if len(self.events) and self.events["time"].iloc[0] < self.market.index[0]:
            keep = self.events["time"] >= self.market.index[0]
            self.events = self.events[keep].reset_index(drop=True)
        return bool(len(new))

    def has_new_events(self) -> bool:
        """Whether liquidations were stored since the last refresh (a cheap check)."""
        return self._cursor is not None and self.store.last_cursor() > self._cursor
