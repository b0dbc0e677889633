"""Candles and open interest of one market, kept current through ccxt, bar by bar.

After each bar closes the poller asks the exchange for whatever the store does not yet hold
over the displayed window (so after a restart, the missing stretch is backfilled first), then
samples the current open interest once: that sample is stored as a series of the bars' own
length, so open interest moves bar by bar even where the exchange's history is coarser.
Malformed rows are refused with a logged reason and never stored (see
:func:`~liqwidget.sources.fetch.check_row`). Transient errors are retried briefly; an outage
is reported in the health record, and the next bar's poll catches up.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import ccxt
import pandas as pd

from ..sources.exchanges import (
    ExchangeDataError,
    load_exchange_markets,
    make_exchange,
    resolve_symbol,
)
from ..sources.fetch import Retry, check_row, fetch_history
from ..store import Store
from ..times import utc

log = logging.getLogger(__name__)


@dataclass
class CandleHealth:
    """How the candle and open-interest feed of one market is doing."""

    polls: int = 0
    bars_stored: int = 0
    oi_samples: int = 0
    refused: int = 0
    failures: int = 0
    failing_since: int | None = None  # ms; None while polls succeed
    last_error: str | None = None
    last_poll_ms: float = 0.0

    def as_dict(self) -> dict:
        return asdict(self)


class BarPoller:
    """Keep ``symbol``'s candles and open interest on ``exchange`` current in ``store``."""

    def __init__(
        self,
        store: Store,
        exchange: str,
        symbol: str,
        timeframe: str,
        window: pd.Timedelta,
        *,
        api_base: str | None = None,
        retry: Retry | None = None,
        config: dict | None = None,
    ):
        self.store, self.timeframe, self.window = store, timeframe, pd.Timedelta(window)
        self.ex = make_exchange(exchange, api_base=api_base, config=config)
        self.exchange = exchange
        # An exchange asking for a long pause (a 429 with Retry-After) fails the poll at once,
        # so the page says why it is stale and a stop is not held up; the next bar asks again.
        self.retry = retry or Retry(attempts=2, base=0.5, cap=2.0, longest_wait=10.0)
        self.health = CandleHealth()
        self.market: dict | None = None
        self.symbol = symbol

    def resolve(self) -> str:
        """Load the markets and return the unified symbol (raises a one-line error)."""
        if self.market is None:
            self.retry.call(
                f"{self.exchange} load markets", load_exchange_markets, self.ex, exchange=self.ex
            )
            self.market = resolve_symbol(self.ex, self.symbol)
            if self.timeframe not in (self.ex.timeframes or {}):
                raise ExchangeDataError(
                    f"{self.exchange} has no {self.timeframe!r} candles; use one of "
                    f"{', '.join(self.ex.timeframes)}"
                )
            self.symbol = self.market["symbol"]
        return self.symbol

    def poll(self) -> bool:
        """One round: backfill/extend candles and OI history, sample the current OI.

        Returns whether it succeeded; failures are logged and kept in :attr:`health`.
        """
        started = time.perf_counter()
        h = self.health
        h.polls += 1
        try:
            self.resolve()
            now = utc(self.ex.milliseconds(), "the exchange clock")
            report = fetch_history(
                self.store,
                self.ex,
                self.symbol,
                self.timeframe,
                start=now - self.window,
                retry=self.retry,
            )
            h.bars_stored += report.bars
            h.refused += len(report.refused)
            self._sample_open_interest()
        except (ExchangeDataError, ccxt.BaseError) as exc:
            h.failures += 1
            h.failing_since = h.failing_since or int(time.time() * 1000)
            h.last_error = " ".join(str(exc).split())[:300]
            log.warning("%s %s: candles/OI poll failed: %s", self.exchange, self.symbol, exc)
            return False
        finally:
            h.last_poll_ms = 1000 * (time.perf_counter() - started)
        if h.failing_since is not None:
            log.info("%s %s: candles/OI poll works again", self.exchange, self.symbol)
        h.failing_since, h.last_error = None, None
        return True

    def _sample_open_interest(self) -> None:
        """Store the current open interest at the open of the bar it falls in."""
        if not self.ex.has.get("fetchOpenInterest"):
            return
        sample = self.retry.call(
            f"{self.exchange} open interest {self.symbol}",
            self.ex.fetch_open_interest,
            self.symbol,
            exchange=self.ex,
        )
        step = int(self.ex.parse_timeframe(self.timeframe) * 1000)
        reason = check_row(sample) or _sample_time_problem(sample["timestamp"], step)
        if reason is not None:
            self.health.refused += 1
            log.warning(
                "%s %s: current open interest refused (%s): %s",
                self.exchange,
                self.symbol,
                reason,
                str(sample.get("info", sample))[:160],
            )
            return
        at = int(sample["timestamp"]) // step * step
        size = (self.market or {}).get("contractSize") or 1.0
        row = (at, sample.get("openInterestAmount"), sample.get("openInterestValue"), size)
        self.health.oi_samples += self.store.write_open_interest(
            self.exchange, self.symbol, self.timeframe, [row]
        )

    def close(self) -> None:
        """Nothing to release for the REST client; kept for symmetry with the recorder."""


#: How far a current open-interest sample's time may be from the clock: a sample says "now".
SAMPLE_SKEW_MS = 60_000


def _sample_time_problem(ts, step: int) -> str | None:
    """Why the time of a current open-interest sample cannot be now (seconds, a stale or a
    future time would land it on another bar, where it would win over the history)."""
    now = int(time.time() * 1000)
    if now - max(2 * step, SAMPLE_SKEW_MS) <= ts <= now + SAMPLE_SKEW_MS:
        return None
    return f"time {int(ts)} is not now ({now}): a current sample must be"
