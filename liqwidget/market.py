"""Market data contract: validated bars of OHLC, open interest and optional flow columns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from .names import check_market
from .times import utc, utc_index

REQUIRED = ("open", "high", "low", "close", "open_interest")
OPTIONAL = ("volume", "taker_buy", "taker_sell", "taker_net", "funding_rate")
OIUnit = Literal["quote", "base", "contracts"]

SAMPLE_FILE = "binance-btcusdt-perp-5m-2026-06.csv"
#: Prefix of the per-exchange open-interest columns of an aggregated market.
VENUE_OI = "oi "

if TYPE_CHECKING:
    from .venues import Stretch, Venue


class MarketDataError(ValueError):
    """Bad market data; the message names the column and the first offending row."""


def _row_label(index: pd.Index, pos: int) -> str:
    return f"row {pos} ({index[pos]})"


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else None


@dataclass(frozen=True)
class Gap:
    """A hole in the bar spacing: bars are missing between ``after`` and ``before``."""

    after: pd.Timestamp
    before: pd.Timestamp
    missing_bars: int


@dataclass(frozen=True, eq=False)
class MarketData:
    """Validated futures bars indexed by UTC bar-open time.

    Columns: ``open, high, low, close`` (price), ``open_interest`` (quote notional, e.g. USD)
    and any of ``volume`` (base units), ``taker_buy``, ``taker_sell``, ``taker_net`` (base
    units) and ``funding_rate``. Build it with :meth:`from_frame`; it is never mutated.
    """

    frame: pd.DataFrame
    timeframe: pd.Timedelta
    symbol: str | None = None
    exchange: str | None = None
    gaps: tuple[Gap, ...] = field(default=())
    #: The exchanges an aggregated market sums (see :func:`liqwidget.venues.aggregate`);
    #: their quote open interest is in the columns ``"oi <exchange> <symbol>"``.
    venues: tuple[Venue, ...] = field(default=())
    #: Stretches where an aggregated exchange had no data (its OI held at its last value).
    missing: tuple[Stretch, ...] = field(default=())

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        *,
        oi_unit: OIUnit = "quote",
        contract_size: float | None = None,
        inverse: bool = False,
        timeframe: str | pd.Timedelta | None = None,
        allow_gaps: bool = False,
        symbol: str | None = None,
        exchange: str | None = None,
    ) -> MarketData:
        """Validate a DataFrame of bars and return :class:`MarketData`.

        The bar time comes from a UTC ``DatetimeIndex`` or a ``timestamp`` column
        (milliseconds since the epoch, zoned datetimes or ISO text with an offset; see
        :mod:`liqwidget.times`). ``open_interest`` is quote notional unless ``oi_unit``
        says ``"base"`` (multiplied by ``close``) or ``"contracts"`` (multiplied by
        ``contract_size`` base units and ``close``, for linear contracts; for inverse
        contracts, ``inverse=True``, by ``contract_size`` quote, e.g. 100 USD). Gaps in the bar
        spacing raise unless ``allow_gaps=True``; they are then listed in :attr:`gaps`.
        """
        check_market(exchange, symbol)
        if not isinstance(df, pd.DataFrame):
            raise MarketDataError(f"expected a pandas DataFrame of bars, got {type(df).__name__}")
        frame = df.copy()
        frame.columns = [str(c) for c in frame.columns]
        index = _time_index(frame)
        frame = frame.drop(columns=["timestamp"], errors="ignore")
        frame.index = index

        missing = [c for c in REQUIRED if c not in frame.columns]
        if missing:
            raise MarketDataError(
                f"missing column(s) {missing}; bars need {list(REQUIRED)} "
                f"(got {list(frame.columns)})"
            )
        keep = [c for c in (*REQUIRED, *OPTIONAL) if c in frame.columns]
        frame = frame[keep]
        for col in keep:
            try:
                frame[col] = pd.to_numeric(frame[col], errors="raise").astype("float64")
            except (ValueError, TypeError) as exc:
                raise MarketDataError(f"column '{col}' is not numeric: {exc}") from exc

        _check_times(frame.index)
        _check_values(frame)
        frame["open_interest"] = _oi_to_quote(frame, oi_unit, contract_size, inverse)
        _check_oi_size(frame)

        step = _infer_timeframe(frame.index, timeframe)
        gaps = _find_gaps(frame.index, step)
        if gaps and not allow_gaps:
            g = gaps[0]
            raise MarketDataError(
                f"{len(gaps)} gap(s) in the {step} bar spacing; first: {g.missing_bars} bar(s) "
                f"missing between {g.after} and {g.before}. Fill them, or pass allow_gaps=True "
                "to accept gaps (they are then listed in MarketData.gaps)."
            )
        frame.index.name = "time"
        return cls(frame=frame, timeframe=step, symbol=symbol, exchange=exchange, gaps=gaps)

    @classmethod
    def join(
        cls,
        frame: pd.DataFrame,
        timeframe: pd.Timedelta,
        symbol: str | None = None,
        exchange: str | None = None,
    ) -> MarketData:
        """Bars made of frames that were each validated (e.g. older bars plus newer ones):
        only the order of the times is checked again, and the gaps are listed."""
        _check_times(frame.index)
        return cls(frame, timeframe, symbol, exchange, _find_gaps(frame.index, timeframe))

    # ------------------------------------------------------------------ accessors
    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        name = " ".join(x for x in (self.exchange, self.symbol) if x) or "bars"
        if not len(self):
            return f"MarketData({name}, empty)"
        return (
            f"MarketData({name}, {len(self)} × {self.timeframe}, "
            f"{self.frame.index[0]} → {self.frame.index[-1]})"
        )

    @property
    def index(self) -> pd.DatetimeIndex:
        """Bar-open times (UTC)."""
        return self.frame.index  # type: ignore[return-value]

    def column(self, name: str) -> np.ndarray:
        """One column as a float64 numpy array."""
        return self.frame[name].to_numpy(dtype="float64")

    def has(self, name: str) -> bool:
        """Whether an optional column is present."""
        return name in self.frame.columns

    def state_at(self, t) -> int:
        """Number of bars that have ended by time ``t``: the book state shown at ``t``."""
        ts = utc(t, "t", MarketDataError)
        bar_end = self.index.asi8 + self.timeframe.value
        return int(np.searchsorted(bar_end, ts.value, side="right"))

    def venue_oi(self) -> np.ndarray:
        """Quote open interest per aggregated exchange, shape ``(venues, bars)``; a plain
        market is its own single venue."""
        if not self.venues:
            return self.column("open_interest")[None, :]
        return np.stack([self.column(VENUE_OI + v.key) for v in self.venues])

    def slice(self, start=None, end=None) -> MarketData:
        """Bars with ``start <= time <= end`` (either bound may be None)."""
        start = None if start is None else utc(start, "start", MarketDataError)
        end = None if end is None else utc(end, "end", MarketDataError)
        sub = self.frame.loc[start:end]
        return dataclasses.replace(self, frame=sub)

    def resample(self, timeframe: str | pd.Timedelta) -> MarketData:
        """Aggregate to a coarser timeframe (OHLC, last OI, summed flows, last funding)."""
        rule = pd.Timedelta(timeframe)
        agg = {"open": "first", "high": "max", "low": "min", "close": "last"}
        agg |= {"open_interest": "last"}
        for col in ("volume", "taker_buy", "taker_sell", "taker_net"):
            if self.has(col):
                agg[col] = "sum"
        if self.has("funding_rate"):
            agg["funding_rate"] = "last"
        agg |= {VENUE_OI + v.key: "last" for v in self.venues}
        out = self.frame.resample(rule, label="left", closed="left").agg(agg).dropna()
        return dataclasses.replace(self, frame=out, timeframe=rule, gaps=())


# ---------------------------------------------------------------------- validation helpers
def _time_index(frame: pd.DataFrame) -> pd.DatetimeIndex:
    if "timestamp" in frame.columns:
        return utc_index(frame["timestamp"], "column 'timestamp'", MarketDataError)
    if isinstance(frame.index, pd.DatetimeIndex):
        return utc_index(frame.index, "the DatetimeIndex", MarketDataError)
    raise MarketDataError(
        "no bar times: give a UTC DatetimeIndex or a 'timestamp' column in ms since the epoch"
    )


def _check_times(index: pd.DatetimeIndex) -> None:
    if index.hasnans:
        raise MarketDataError(f"time index has a missing value at row {_first(index.isna())}")
    ns = index.asi8
    if len(ns) < 2:
        return
    d = np.diff(ns)
    dup = _first(d == 0)
    if dup is not None:
        raise MarketDataError(
            f"duplicate timestamp at {_row_label(index, dup + 1)}: same time as row {dup}"
        )
    back = _first(d < 0)
    if back is not None:
        raise MarketDataError(
            f"timestamps are not sorted: {_row_label(index, back + 1)} comes before row {back} "
            f"({index[back]}); sort the bars by time"
        )


def _check_values(frame: pd.DataFrame) -> None:
    index = frame.index
    for col in frame.columns:
        v = frame[col].to_numpy()
        if col == "taker_net" and len(v):
            # The first bar of a recorded series often has no flow yet; NaN elsewhere is bad.
            bad = _first(~np.isfinite(v[1:]))
            bad = None if bad is None else bad + 1
            if not np.isfinite(v[0]):
                frame.iloc[0, frame.columns.get_loc(col)] = 0.0
        else:
            bad = _first(~np.isfinite(v))
        if bad is not None:
            raise MarketDataError(f"column '{col}' is NaN or infinite at {_row_label(index, bad)}")
    for col in ("open", "high", "low", "close"):
        bad = _first(frame[col].to_numpy() <= 0)
        if bad is not None:
            raise MarketDataError(
                f"column '{col}' is not positive ({frame[col].iloc[bad]}) at {_row_label(index, bad)}"
            )
    o, h, lo, c = (frame[k].to_numpy() for k in ("open", "high", "low", "close"))
    bad = _first(h < np.maximum(o, c))
    if bad is not None:
        raise MarketDataError(
            f"column 'high' is below open/close at {_row_label(index, bad)} "
            f"(high={h[bad]}, open={o[bad]}, close={c[bad]})"
        )
    bad = _first(lo > np.minimum(o, c))
    if bad is not None:
        raise MarketDataError(
            f"column 'low' is above open/close at {_row_label(index, bad)} "
            f"(low={lo[bad]}, open={o[bad]}, close={c[bad]})"
        )
    for col in ("open_interest", "volume", "taker_buy", "taker_sell"):
        if col in frame.columns:
            bad = _first(frame[col].to_numpy() < 0)
            if bad is not None:
                raise MarketDataError(
                    f"column '{col}' is negative ({frame[col].iloc[bad]}) at {_row_label(index, bad)}"
                )


#: More quote notional than any futures market holds (all of crypto's open interest is
#: about 1e11 USD): open interest above it is in the wrong units or corrupt.
MAX_OPEN_INTEREST = 1e15


def _check_oi_size(frame: pd.DataFrame) -> None:
    oi = frame["open_interest"].to_numpy()
    bad = _first(~(oi <= MAX_OPEN_INTEREST))
    if bad is not None:
        raise MarketDataError(
            f"column 'open_interest' is {oi[bad]:.3g} in quote notional at "
            f"{_row_label(frame.index, bad)}: more than any market holds (limit "
            f"{MAX_OPEN_INTEREST:.0e}); check its units (oi_unit='quote', 'base' or "
            "'contracts') or the data"
        )


def _oi_to_quote(
    frame: pd.DataFrame, unit: str, contract_size: float | None, inverse: bool = False
) -> pd.Series:
    oi = frame["open_interest"]
    if unit == "quote":
        if contract_size is not None:
            raise MarketDataError("contract_size only applies with oi_unit='contracts'")
        return oi
    if unit == "base":
        return oi * frame["close"]
    if unit == "contracts":
        if contract_size is None or not np.isfinite(contract_size) or contract_size <= 0:
            raise MarketDataError(
                "oi_unit='contracts' needs contract_size: the base units one contract holds, "
                "or for inverse contracts its quote value (see ccxt market['contractSize'])"
            )
        if inverse:  # a coin-margined contract is a fixed quote amount (e.g. 100 USD)
            return oi * float(contract_size)
        return oi * float(contract_size) * frame["close"]
    raise MarketDataError(f"unknown oi_unit {unit!r}; use 'quote', 'base' or 'contracts'")


def _infer_timeframe(index: pd.DatetimeIndex, timeframe) -> pd.Timedelta:
    if timeframe is not None:
        step = pd.Timedelta(timeframe)
    elif len(index) >= 2:
        step = pd.Timedelta(int(np.median(np.diff(index.asi8))), unit="ns")
    else:
        raise MarketDataError("cannot infer the timeframe from fewer than 2 bars; pass timeframe=")
    if step <= pd.Timedelta(0):
        raise MarketDataError(f"timeframe must be positive, got {step}")
    return step


def _find_gaps(index: pd.DatetimeIndex, step: pd.Timedelta) -> tuple[Gap, ...]:
    if len(index) < 2:
        return ()
    d = np.diff(index.asi8)
    s = step.value
    off = np.flatnonzero(d != s)
    gaps = []
    for i in off:
        if d[i] % s:
            raise MarketDataError(
                f"bar spacing is irregular at {_row_label(index, int(i) + 1)}: "
                f"{pd.Timedelta(int(d[i]), unit='ns')} after the previous bar, "
                f"not a multiple of the {step} timeframe"
            )
        gaps.append(Gap(index[i], index[i + 1], int(d[i] // s) - 1))
    return tuple(gaps)


# ---------------------------------------------------------------------- the built-in sample
def load_sample() -> MarketData:
    """Real Binance USDⓈ-M BTCUSDT perpetual 5-minute bars, 7–22 June 2026 (4,406 bars).

    Open interest is USD notional; ``taker_net`` is taker buy minus sell volume in BTC.
    Provenance: see ``liqwidget/data/README.md``.
    """
    path = resources.files("liqwidget") / "data" / SAMPLE_FILE
    with resources.as_file(path) as p:
        raw = pd.read_csv(p)
    raw = raw.rename(columns={"open_interest_usd": "open_interest", "taker_net_base": "taker_net"})
    return MarketData.from_frame(raw, symbol="BTC/USDT:USDT", exchange="binanceusdm")
