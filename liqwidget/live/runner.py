"""``liqwidget live`` as one asyncio process: record, poll bars, re-estimate, publish, post.

- the :class:`~liqwidget.sources.recorder.Recorder` records liquidations (its own durability
  rules: SIGKILL loses nothing committed, restarts resume and record the blind stretch);
- per market, after each bar closes (plus ``settle`` seconds), a :class:`BarPoller` brings
  candles and open interest up to date (backfilling what a restart missed), the
  :class:`MarketWindow` reads what is new, and the :class:`LiveMap` re-estimates the window
  and rewrites the data file; between bars, new liquidations are published at most every
  ``events_every`` seconds; with ``calibrate``, the map's leverage mix is learned from the
  window's recorded liquidations, refitted every ``calibrate_every``;
- when a snapshot cadence mark passes, ``liqwidget site build`` runs in a child process
  (its cache rebuilds only the new snapshot), one build at a time.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import ccxt
import pandas as pd

from ..calibration import MIN_EVENTS
from ..feeds import feed_info
from ..model import ClusterModel
from ..site.mix import TOO_FEW, Mix, mix_phrase, window_mix
from ..sources.dataset import Dataset
from ..sources.exchanges import ExchangeDataError
from ..sources.recorder import Recorder, RecorderSettings
from ..store import Store
from .bars import BarPoller
from .page import write_live_pages
from .publish import LiveMap, publish_index
from .window import MarketWindow

log = logging.getLogger(__name__)


@dataclass
class LiveSettings:
    """What the live process does and how often."""

    timeframe: str = "1m"
    window: str = "3D"
    settle: float = 2.0  # seconds after a bar's close before asking the exchange for it
    poll_seconds: float = 5.0  # how often the page looks for a new data file
    events_every: float = 2.0  # republish new liquidations between bars at most this often
    status_every: float = 60.0
    cadence: str | None = None  # snapshot posts (e.g. "6h"); None: no site builds
    project: Path | None = None  # the folder with mkdocs.yml, for snapshot builds
    model_params: dict = field(default_factory=dict)
    #: Learn each market's leverage mix from its recorded liquidations (as ``site build
    #: --calibrate`` does), refitted this often; the cadence builds calibrate too.
    calibrate: bool = False
    calibrate_every: str = "6h"


@dataclass
class _Market:
    exchange: str
    symbol: str
    poller: BarPoller
    window: MarketWindow | None = None
    live: LiveMap | None = None
    published: int = 0
    last_lag: float | None = None  # seconds from bar close to data file rewritten
    mix: Mix | None = None  # the leverage mix the map is drawn with (``calibrate`` only)
    fitted_at: float | None = None  # when it was last fitted (time.monotonic())
    fitting: asyncio.Task | None = None  # the fit running in the background, if any


class LiveRunner:
    """Run the live process for ``streams`` (``{exchange: [symbols]}``) into ``store`` and
    the site folder ``out``."""

    def __init__(
        self,
        store: Store,
        streams: dict[str, list[str]],
        out: Path,
        settings: LiveSettings | None = None,
        *,
        recorder_settings: RecorderSettings | None = None,
        api_base: str | None = None,
    ):
        self.store, self.out = store, Path(out)
        self.settings = settings or LiveSettings()
        self.api_base = api_base
        window = pd.Timedelta(self.settings.window)
        self.markets = [
            _Market(
                ex,
                sym,
                BarPoller(store, ex, sym, self.settings.timeframe, window, api_base=api_base),
            )
            for ex, symbols in streams.items()
            for sym in symbols
        ]
        self.recorder = Recorder(
            store, streams, settings=recorder_settings or RecorderSettings(), api_base=api_base
        )
        self._stopping: asyncio.Event | None = None
        self._build: asyncio.subprocess.Process | None = None
        self._mark: pd.Timestamp | None = None

    def stop(self) -> None:
        """Finish cleanly: pending liquidations are committed, then :meth:`run` returns."""
        self.recorder.stop()
        if self._stopping is not None:
            self._stopping.set()

    async def _resolve(self, m) -> str | None:
        """The market's unified symbol, once the exchange answers. A symbol it does not list
        stops the process; an exchange that does not answer yet (an outage at start-up) is
        asked again with backoff until it does, or until the process is stopped (None)."""
        wait = 1.0
        while True:
            try:
                return await asyncio.to_thread(m.poller.resolve)
            except ExchangeDataError as exc:
                if not isinstance(exc.__cause__, ccxt.NetworkError):
                    raise
                log.warning("%s: %s; trying again in %.0fs", m.exchange, exc, wait)
            try:
                await asyncio.wait_for(self._stopping.wait(), wait)
                return None
            except TimeoutError:
                wait = min(2 * wait, 60.0)

    async def run(self) -> None:
        self._stopping = asyncio.Event()
        s = self.settings
        window = pd.Timedelta(s.window)
        for m in self.markets:
            symbol = await self._resolve(m)
            if symbol is None:
                return  # stopped while the exchange was not answering
            m.symbol = symbol
            m.window = MarketWindow(self.store, m.exchange, m.symbol, s.timeframe, window)
            m.live = LiveMap(
                m.exchange,
                m.symbol,
                s.timeframe,
                window=window,
                model=ClusterModel(**s.model_params),
                poll_seconds=s.poll_seconds,
            )
        await asyncio.to_thread(write_live_pages, self.out)
        recorder = asyncio.create_task(self.recorder.run(), name="liqwidget-recorder")
        loops = [asyncio.create_task(self._market_loop(m)) for m in self.markets]
        status = asyncio.create_task(self._status_loop())
        stopper = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait([recorder, stopper, *loops], return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.recorder.stop()
            self._stopping.set()
            for task in (*loops, status, stopper):
                task.cancel()
            await asyncio.gather(*loops, status, stopper, return_exceptions=True)
            fits = [m.fitting for m in self.markets if m.fitting is not None]
            await asyncio.gather(*fits, return_exceptions=True)  # a fit in a thread ends
            await asyncio.gather(recorder, return_exceptions=True)
            if self._build is not None and self._build.returncode is None:
                await self._build.wait()
        for task in (recorder, *loops):
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()

    # ------------------------------------------------------------------ one market
    async def _market_loop(self, m: _Market) -> None:
        step = float(m.poller.ex.parse_timeframe(self.settings.timeframe))  # seconds
        await self._bar(m, None)  # backfill the window, publish at once
        # List the markets whose files exist, so the page never asks for a missing one.
        publish_index(self.out, [x.live for x in self.markets if x.published])
        last_events = time.monotonic()
        while not self._stopping.is_set():
            now = time.time()
            close = (now // step + 1) * step
            due = close + self.settings.settle
            while time.time() < due and not self._stopping.is_set():
                wait = min(due - time.time(), self.settings.events_every)
                await self._sleep(max(wait, 0.0))
                if (
                    time.monotonic() - last_events >= self.settings.events_every
                    and m.window.has_new_events()
                    and time.time() < due
                ):
                    await asyncio.to_thread(m.window.refresh_events)
                    await self._publish(m, None)
                    last_events = time.monotonic()
            if self._stopping.is_set():
                return
            await self._bar(m, close)
            last_events = time.monotonic()

    async def _bar(self, m: _Market, close: float | None) -> None:
        await asyncio.to_thread(m.poller.poll)
        await asyncio.to_thread(m.window.refresh)
        if self.settings.calibrate:
            await self._maybe_fit(m)
        await self._publish(m, close)
        if close is not None:
            await self._maybe_snapshot(pd.Timestamp(close, unit="s", tz="UTC"))

    async def _publish(self, m: _Market, close: float | None) -> None:
        if m.window.market is None or len(m.window.market) < 2:
            log.info("%s %s: no bars with open interest yet", m.exchange, m.symbol)
            return
        try:
            await asyncio.to_thread(
                m.live.publish, self.out, m.window.market, m.window.events, self.health(m)
            )
        except OSError as exc:  # e.g. the site folder emptied by a rebuild at this moment
            log.warning("%s %s: could not write the live data (%s)", m.exchange, m.symbol, exc)
            return
        m.published += 1
        if close is not None:
            m.last_lag = time.time() - close
            last = m.window.market.index[-1]
            log.info(
                "%s %s: bar %s published %.2f s after its close (%d bars, %d liquidations)",
                m.exchange,
                m.symbol,
                f"{last:%H:%M:%S}",
                m.last_lag,
                len(m.window.market),
                len(m.window.events),
            )

    async def _maybe_fit(self, m: _Market) -> asyncio.Task | None:
        """Start refitting the market's leverage mix on the window's bars and liquidations
        once every ``calibrate_every`` (the first time at start-up), in the background: the
        map keeps being published with the mix it has until the new one is ready. The prior
        mix stands, and the log says why, until enough liquidations are recorded. Returns
        the fit's task when one starts."""
        every = pd.Timedelta(self.settings.calibrate_every).total_seconds()
        if m.fitted_at is not None and time.monotonic() - m.fitted_at < every:
            return None
        if m.fitting is not None and not m.fitting.done():
            return None
        market = m.window.market
        if market is None or len(market) < 2:
            return None
        m.fitted_at = time.monotonic()
        data = Dataset(market, m.window.events, m.symbol, "the live recording", False)
        until = market.index[-1] + market.timeframe
        m.fitting = asyncio.create_task(self._fit(m, data, until), name="liqwidget-fit")
        return m.fitting

    async def _fit(self, m: _Market, data: Dataset, until: pd.Timestamp) -> None:
        try:
            mix = await asyncio.to_thread(window_mix, data, until, self.settings.model_params)
        except Exception as exc:  # never let a failed fit stop the map; say so and go on
            log.warning(
                "%s %s: fitting the leverage mix failed (%s: %s); the map keeps its current "
                "mix and the fit is retried in %s",
                m.exchange, m.symbol, type(exc).__name__, exc, self.settings.calibrate_every,
            )  # fmt: skip
            return
        m.mix, m.live.model = mix, mix.model
        if mix.learned:
            tiers = ", ".join(f"{k:g}x" for k in mix.identified)
            log.info(
                "%s %s: leverage mix learned from %d liquidations (tiers pinned down: %s); "
                "refitted every %s",
                m.exchange, m.symbol, mix.events, tiers, self.settings.calibrate_every,
            )  # fmt: skip
        else:
            why = mix.reason + (f" ({mix.detail})" if mix.detail else "")
            need = f"{mix.events} of at least {MIN_EVENTS}" if mix.reason == TOO_FEW else ""
            log.info(
                "%s %s: the prior leverage mix stands: %s%s; retried every %s as liquidations "
                "are recorded",
                m.exchange, m.symbol, why, f" ({need})" if need else "",
                self.settings.calibrate_every,
            )  # fmt: skip

    def health(self, m: _Market) -> dict:
        """What the page and the status line show about one market's feeds."""
        feed = self.recorder.health().get(m.exchange)
        liq = dataclasses.asdict(feed) if feed is not None else {}
        market = m.window.market
        last_close = None
        if market is not None and len(market):
            last_close = int((market.index[-1] + market.timeframe).value // 1_000_000)
        info = feed_info(m.exchange)
        return {
            "candles": m.poller.health.as_dict(),
            "liquidations": liq,
            "feed_note": info.note if info.undercounts else "",
            "gaps": len(market.gaps) if market is not None else 0,
            "last_bar_close": last_close,
            "publish_lag_s": m.last_lag,
            "mix": None
            if m.mix is None
            else {"learned": m.mix.learned, "events": m.mix.events, "reason": m.mix.reason},
        }

    # ------------------------------------------------------------------ snapshots
    async def _maybe_snapshot(self, now: pd.Timestamp) -> None:
        s = self.settings
        if not s.cadence:
            return
        mark = now.floor(pd.Timedelta(s.cadence))
        if self._mark is None:
            self._mark = mark  # the first mark after start-up is the next one
            return
        if mark <= self._mark or (self._build is not None and self._build.returncode is None):
            return
        self._mark = mark
        store = self.store.path or self.store.url.render_as_string(hide_password=False)
        symbols = ",".join(dict.fromkeys(m.symbol for m in self.markets))
        cmd = [
            sys.executable, "-m", "liqwidget.cli", "site", "build", "--source", "store",
            "--store", str(store), "--symbol", symbols, "--cadence", s.cadence,
            "--out", str(self.out), "--jobs", "1",
        ]  # fmt: skip
        if s.project is not None:
            cmd += ["--project", str(s.project)]
        if s.calibrate:
            cmd += ["--calibrate"]
        log.info("snapshot mark %s passed: rebuilding the site (%s)", mark, " ".join(cmd[3:]))
        self._build = await asyncio.create_subprocess_exec(*cmd)
        asyncio.get_running_loop().create_task(self._report_build(self._build, mark))

    async def _report_build(self, proc: asyncio.subprocess.Process, mark: pd.Timestamp) -> None:
        code = await proc.wait()
        if code == 0:
            log.info("snapshot %s: site rebuilt", mark)
        else:
            log.warning("snapshot %s: site build failed (exit %d), see above", mark, code)

    # ------------------------------------------------------------------ status
    async def _status_loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.status_every)
            for line in self.status_lines():
                log.info("%s", line)

    def status_lines(self) -> list[str]:
        """One line per market: liquidations, last bar, lag, gaps, candle feed state."""
        lines = []
        for m in self.markets:
            h = self.health(m)
            candles = h["candles"]
            age = (
                f"{time.time() - h['last_bar_close'] / 1000:.0f} s ago"
                if h["last_bar_close"]
                else "none yet"
            )
            state = "failing: " + str(candles["last_error"]) if candles["failing_since"] else "ok"
            feed = self.recorder.health().get(m.exchange)
            lines.append(
                f"{m.exchange} {m.symbol}: liquidations "
                f"{feed.line() if feed else 'not started'}; last bar closed {age}; publish "
                f"lag {h['publish_lag_s'] or 0:.2f} s; bar gaps {h['gaps']}; candles {state}; "
                f"refused rows {candles['refused']}" + _mix_note(m.mix)
            )
        return lines

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass


def _mix_note(mix: Mix | None) -> str:
    return "" if mix is None else f"; {mix_phrase(mix.learned, mix.events, mix.reason)}"
