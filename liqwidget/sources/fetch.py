"""History through ccxt: candles and open interest, page by page, into the store.

Only the parts of the requested range that earlier fetches did not cover are asked for
(the store keeps a coverage table per exchange, symbol and dataset). Transient errors
(network, timeouts, rate limits, DDoS protection) are retried with exponential backoff on top
of ccxt's own rate limiter, waiting at least as long as a rate-limit answer's ``Retry-After``
asks (a wait longer than ``Retry.longest_wait``, such as Binance's HTTP 418 IP ban, ends the
fetch saying when to come back); permanent ones raise :class:`ExchangeDataError` saying what
to do.
Open interest is kept as the exchange reports it (contracts and/or quote value) together with
the market's contract size; :meth:`Store.load_market` turns it into quote notional.
"""

from __future__ import annotations

import email.utils
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ccxt

from ..store import Store, to_ms
from ..times import periods_for
from .exchanges import (
    ExchangeDataError,
    load_exchange_markets,
    make_exchange,
    resolve_symbol,
    short,
)

log = logging.getLogger(__name__)

TRANSIENT = (ccxt.NetworkError,)  # includes RateLimitExceeded, DDoSProtection, RequestTimeout
#: Largest page per request that each exchange serves (Binance's is 1500 but ccxt asks for at
#: most 1000; OKX's history-candles documented 100 for years). Never more: asking for more
#: than an endpoint's maximum is an error on some exchanges.
OHLCV_PAGE = {"binanceusdm": 1000, "binancecoinm": 1000, "bybit": 1000, "okx": 100}
OI_PAGE = {"binanceusdm": 500, "binancecoinm": 500, "bybit": 200, "okx": 100}
#: How far back open-interest history reaches (ms), where the exchange limits it.
OI_HISTORY = {"binanceusdm": 30 * 86_400_000, "binancecoinm": 30 * 86_400_000}
#: Open-interest history periods each exchange offers (ccxt timeframe names).
OI_PERIODS = {
    "binanceusdm": ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"),
    "binancecoinm": ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d"),
    "bybit": ("5m", "15m", "30m", "1h", "4h", "1d"),
    "okx": ("5m", "1h", "1d"),
}

Progress = Callable[[str, int, int], None]


def backoff_delay(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff: ``base`` seconds before the first retry (``attempt`` 0), doubled
    per further attempt, never more than ``cap``."""
    return min(cap, base * 2**attempt)


def rate_limited(exc: BaseException) -> bool:
    """Whether an exchange error is a rate limit or ban (wait as long as the exchange asks)."""
    return isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded)


def asked_wait(exchange) -> float | None:
    """Seconds the exchange's last answer asked to wait before the next request (its
    ``Retry-After`` header: seconds or an HTTP date), or None if it did not say."""
    headers = getattr(exchange, "last_response_headers", None) or {}
    value = next((v for k, v in headers.items() if str(k).lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


@dataclass
class Retry:
    """Retry policy for transient errors: ``attempts`` tries, waiting ``base`` seconds and
    doubling up to ``cap`` between them, or longer when a rate-limited exchange asks (up to
    ``longest_wait`` seconds; asked for more, it gives up at once saying when to retry)."""

    attempts: int = 6
    base: float = 1.0
    cap: float = 60.0
    longest_wait: float = 300.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def call(self, what: str, fn, *args, exchange=None):
        """``fn(*args)``, retried; ``exchange`` (the ccxt object ``fn`` talks to) is read for
        the wait its rate-limit answers ask for."""
        for attempt in range(1, self.attempts + 1):
            try:
                return fn(*args)
            except TRANSIENT as exc:
                asked = asked_wait(exchange) if rate_limited(exc) else None
                if asked is not None and asked > self.longest_wait:
                    back = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(time.time() + asked))
                    raise ExchangeDataError(
                        f"{what}: the exchange asks to wait {asked:.0f}s before the next request "
                        f"({type(exc).__name__}: {short(exc, 300)}); try again after {back}"
                    ) from exc
                if attempt == self.attempts:
                    raise ExchangeDataError(
                        f"{what} still failing after {self.attempts} tries "
                        f"({type(exc).__name__}: {short(exc, 300)}); check the connection or try "
                        "again later"
                    ) from exc
                wait = max(backoff_delay(attempt - 1, self.base, self.cap), asked or 0.0)
                log.warning(
                    "%s: %s (%s); retrying in %.2fs (try %d of %d)",
                    what,
                    type(exc).__name__,
                    short(exc, 300),
                    wait,
                    attempt + 1,
                    self.attempts,
                )
                self.sleep(wait)
            except ccxt.BaseError as exc:
                raise _permanent(what, exc) from exc
        raise AssertionError("unreachable")


@dataclass
class FetchReport:
    """What one fetch did: requests sent (retries included) and rows stored per dataset."""

    requests: int = 0
    bars: int = 0
    open_interest: int = 0
    skipped: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # malformed rows, with their reasons


def fetch_history(
    store: Store,
    exchange: str | object,
    symbol: str,
    timeframe: str = "5m",
    start=None,
    end=None,
    *,
    open_interest: bool = True,
    page_limit: int | None = None,
    retry: Retry | None = None,
    progress: Progress | None = None,
    api_base: str | None = None,
    config: dict | None = None,
) -> FetchReport:
    """Fetch candles (and open-interest history) for ``[start, end]`` into ``store``.

    ``exchange`` is a ccxt id (``"binanceusdm"``, ``"bybit"``, ``"okx"``) or a ccxt exchange
    object. ``start`` defaults to 1000 bars before ``end``; ``end`` to now. Only bars that have
    closed are stored. ``progress(dataset, done_pages, total_pages)`` is called per page.
    """
    ex = (
        make_exchange(exchange, api_base=api_base, config=config)
        if isinstance(exchange, str)
        else exchange
    )
    retry = retry or Retry()
    report = FetchReport()
    counted = _Counted(ex, retry, report)
    counted.call("load markets", load_exchange_markets, ex)
    market = resolve_symbol(ex, symbol)
    if timeframe not in (ex.timeframes or {}):
        raise ExchangeDataError(
            f"{ex.id} has no {timeframe!r} candles; use one of {', '.join(ex.timeframes)}"
        )
    step = int(ex.parse_timeframe(timeframe) * 1000)
    now = int(ex.milliseconds())
    stop = min(to_ms(end) if end is not None else now, now)
    stop = (stop // step) * step  # the bar open at `end` (or the still-open bar) ...
    last_closed = (now // step) * step - step
    stop = min(stop, last_closed)  # ... but never a bar that has not closed yet
    begin = to_ms(start) if start is not None else stop - 999 * step
    begin = -(-begin // step) * step
    if begin > stop:
        raise ExchangeDataError(f"empty time range: start {start} is after end {end}")
    sym = market["symbol"]

    limit = page_limit or OHLCV_PAGE.get(ex.id, 500)
    report.bars = _paged(
        store,
        counted,
        ex.id,
        sym,
        f"ohlcv:{timeframe}",
        begin,
        stop,
        step,
        limit,
        progress,
        lambda since, until, lim: ex.fetch_ohlcv(sym, timeframe, since, lim, {"until": until + 1}),
        lambda rows: store.write_bars(ex.id, sym, timeframe, rows),
        key=lambda row: row[0],
    )
    if open_interest:
        period = oi_period(ex.id, timeframe)
        oi_step = int(ex.parse_timeframe(period) * 1000)
        size = market.get("contractSize") or 1.0
        oi_limit = page_limit or OI_PAGE.get(ex.id, 200)
        oi_begin = (begin // oi_step) * oi_step
        reach = OI_HISTORY.get(ex.id)
        if reach is not None and oi_begin < now - reach:
            oldest = -(-(now - reach) // oi_step) * oi_step + oi_step
            note = (
                f"{ex.id} keeps open interest for about {reach // 86_400_000} days: none "
                f"before {_iso(ex, oldest)}, so older bars will have none"
            )
            log.warning(note)
            report.skipped.append(note)
            oi_begin = oldest
        report.open_interest = _paged(
            store,
            counted,
            ex.id,
            sym,
            f"oi:{period}",
            oi_begin,
            stop,
            oi_step,
            oi_limit,
            progress,
            lambda since, until, lim: ex.fetch_open_interest_history(
                sym, period, since, lim, {"until": until + 1}
            ),
            lambda rows: store.write_open_interest(
                ex.id,
                sym,
                period,
                [
                    (r["timestamp"], r.get("openInterestAmount"), r.get("openInterestValue"), size)
                    for r in rows
                ],
            ),
            key=lambda row: row["timestamp"],
        )
    return report


def _iso(ex, ms: int) -> str:
    return str(ex.iso8601(ms))


def oi_period(exchange_id: str, timeframe: str) -> str:
    """The open-interest period to fetch for bars of ``timeframe``: the longest one the
    exchange offers that is not longer than the bars (else its shortest)."""
    return periods_for(OI_PERIODS.get(exchange_id, ("5m", "1h", "1d")), timeframe)[0]


# ---------------------------------------------------------------------- internals
class _Counted:
    def __init__(self, ex, retry: Retry, report: FetchReport):
        self.ex, self.retry, self.report = ex, retry, report

    def call(self, what: str, fn, *args):
        def tried(*a):
            self.report.requests += 1  # every try, retries included
            return fn(*a)

        return self.retry.call(f"{self.ex.id} {what}", tried, *args, exchange=self.ex)


def _paged(
    store, counted, ex_id, sym, dataset, begin, stop, step, limit, progress, fetch, write, key
) -> int:
    """Walk the uncovered parts of ``[begin, stop]`` page by page; return rows stored."""
    holes = store.missing(ex_id, sym, dataset, begin, stop + step)
    fresh = stop - 2 * step
    total = sum(-(-(b - a) // (step * limit)) for a, b in holes)
    done = stored = 0
    if progress:
        progress(dataset, 0, total)
    for hole_start, hole_stop in holes:
        since = hole_start
        while since < hole_stop:
            until = min(since + (limit - 1) * step, hole_stop - step)
            # Ask up to `until` inclusive (+1 ms: some exchanges treat the end as exclusive);
            # the window holds `limit` bars, the most the endpoint serves.
            rows = counted.call(f"{dataset} {sym}", _page, counted.ex, fetch, since, until, limit)
            rows, bad = _refuse_bad(counted, ex_id, sym, dataset, rows, since, until, key, step)
            if rows:
                stored += write(rows)
            if rows or bad:
                reached = max(([key(rows[-1])] if rows else []) + bad) + step
            elif until >= fresh:
                break  # nothing yet for the newest bars: leave them for the next fetch
            else:
                reached = until + step  # the exchange has nothing here (before listing, outage)
            # Refused rows stay uncovered: they are asked for again next time (the exchange
            # may have corrected them by then).
            covered_from = since
            for t in bad:
                if t < reached:
                    store.mark_covered(ex_id, sym, dataset, covered_from, t)
                    covered_from = t + step
            store.mark_covered(ex_id, sym, dataset, covered_from, reached)
            since = reached
            done += 1
            if progress:
                progress(dataset, min(done, total), total)
    if progress and done < total:
        progress(dataset, total, total)
    return stored


def _page(ex, fetch, since: int, until: int, limit: int) -> list:
    """One page from ``fetch``. An empty page is believed ("the exchange has nothing here",
    and the range is marked as done) only when the answer held an (empty) list, as every
    exchange's real empty answer does; an answer such as ``{}`` raises a transient error."""
    rows = fetch(since, until, limit)
    if not rows and getattr(ex, "enableLastJsonResponse", False):
        if not _holds_list(ex.last_json_response):
            raise ccxt.ExchangeNotAvailable(
                f"{ex.id} answered an empty page without the list it should hold "
                f"({short(ex.last_json_response, 80)})"
            )
    return rows


def _holds_list(answer, depth: int = 3) -> bool:
    """Whether a JSON answer is a list or holds one within ``depth`` levels of objects."""
    if isinstance(answer, list):
        return True
    if isinstance(answer, dict) and depth > 0:
        return any(_holds_list(v, depth - 1) for v in answer.values())
    return False


def _refuse_bad(counted, ex_id, sym, dataset, rows, since, until, key, step):
    """Rows of a page inside ``[since, until]``, sorted, with malformed ones refused.

    Each refused row is logged with its reason and counted in the report; it is never
    stored. Returns the good rows and the sorted times of the refused ones.
    """
    good, bad = [], []
    for row in rows:
        reason = check_row(row, step)
        if reason is None:
            if since <= key(row) <= until:
                good.append(row)
            continue
        ts = row.get("timestamp") if isinstance(row, dict) else (row[0] if row else None)
        what = f"{ex_id} {sym} {dataset} at {ts}: refused ({reason}): {short(row, 160)}"
        log.warning(what)
        counted.report.refused.append(what)
        if isinstance(ts, int | float) and since <= ts <= until:
            bad.append(int(ts) // step * step)  # the bar it stood for stays uncovered
    return sorted(good, key=key), sorted(set(bad))


def check_row(row, step: int | None = None) -> str | None:
    """Why a candle (ccxt OHLCV row) or an open-interest sample (ccxt dict) is unusable, or None.

    Candles need a time, finite positive prices with the high at or above and the low at or
    below every other price, and a volume that is missing or not negative. Open interest
    needs a time and an amount or value that is finite and not negative. With ``step`` (ms,
    the bars' or the samples' spacing) the time must also be on that grid: a bar stamped
    off it would make the stored bars irregular.
    """
    if isinstance(row, dict):
        ts = row.get("timestamp")
        if not isinstance(ts, int | float) or ts <= 0:
            return f"no valid time ({ts!r})"
        if step and ts % step:
            return f"time {ts} is not on the {step} ms grid"
        given = {k: row.get(k) for k in ("openInterestAmount", "openInterestValue")}
        given = {k: v for k, v in given.items() if v is not None}
        if not given:
            return "neither an amount nor a value of open interest"
        for name, v in given.items():
            if not isinstance(v, int | float) or not math.isfinite(v) or v < 0:
                return f"{name} is not a non-negative number ({v!r})"
        return None
    if len(row) < 5:
        return f"only {len(row)} fields, need time, open, high, low, close"
    ts, *prices = row[:5]
    if not isinstance(ts, int | float) or ts <= 0:
        return f"no valid time ({ts!r})"
    if step and ts % step:
        return f"time {ts} is not on the {step} ms grid of the bars"
    for name, v in zip(("open", "high", "low", "close"), prices, strict=True):
        if not isinstance(v, int | float) or not math.isfinite(v) or v <= 0:
            return f"{name} is not a positive number ({v!r})"
    o, h, lo, c = prices
    if h < max(o, c, lo):
        return f"high {h} is below open/low/close ({o}, {lo}, {c})"
    if lo > min(o, c):
        return f"low {lo} is above open/close ({o}, {c})"
    v = row[5] if len(row) > 5 else None
    if v is not None and (not isinstance(v, int | float) or not math.isfinite(v) or v < 0):
        return f"volume is not a non-negative number ({v!r})"
    return None


def _permanent(what: str, exc: Exception) -> ExchangeDataError:
    name = type(exc).__name__
    if isinstance(exc, ccxt.BadSymbol):
        advice = "check the symbol (ccxt unified form, e.g. 'BTC/USDT:USDT')"
    elif isinstance(exc, ccxt.AuthenticationError | ccxt.PermissionDenied):
        advice = "public data needs no API key; remove or fix the configured keys"
    elif isinstance(exc, ccxt.NotSupported):
        advice = "this exchange does not offer it through ccxt; try another exchange"
    elif isinstance(exc, ccxt.BadRequest):
        advice = (
            "the exchange rejected the request; its words say which part: the symbol, time "
            "range or timeframe"
        )
    else:
        advice = "the exchange refused the request; see its message above"
    return ExchangeDataError(f"{what} failed: {name}: {short(exc, 300)} — {advice}")
