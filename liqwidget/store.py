"""The store: bars, open interest, recorded liquidations and the gaps in recording coverage.

By default one SQLite file (WAL mode); with a ``postgresql://user@host/db`` URL a PostgreSQL
server that a team shares. Both run the same code (SQLAlchemy Core; the few dialect
differences live in :mod:`liqwidget.store_sql`) with the same guarantees: a writer commits in
batches, readers are never blocked by it, exact repeats are stored once even when two
recorders write the same feed at once, and liquidation ids grow in commit order.

Location: the ``path=`` argument (a path, ``sqlite:///path`` or ``postgresql://…``), else
the ``LIQWIDGET_STORE`` environment variable, else ``$XDG_DATA_HOME/liqwidget/store.sqlite``
(``~/.local/share/liqwidget/store.sqlite``).

Times are stored as integer milliseconds since the epoch (UTC). Liquidation rows get an
increasing integer id, so a reader can follow new rows with :meth:`Store.events_since`.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection
from sqlalchemy.exc import SQLAlchemyError

from . import store_sql as sql
from .escape import terminal_text
from .events import validate_events
from .market import MarketData
from .names import MarketNameError, check_exchange, check_market, check_symbol
from .store_sql import ENV_VAR
from .times import from_ms, periods_for, timeframe_ms, utc_index, utc_ms
from .venues import aggregate, is_inverse

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
#: The ``--store`` help of every command.
STORE_HELP = (
    f"the store: a file, sqlite:///FILE or postgresql://USER@HOST/DB (default: ${ENV_VAR}, "
    "else a file in the user data dir)"
)
EVENT_COLUMNS = ("time", "side", "price", "notional", "exchange", "symbol")
_LIQ_COLUMNS = (
    "exchange",
    "symbol",
    "ts",
    "side",
    "price",
    "amount",
    "notional",
    "recorded_at",
    "seq",
)


class StoreError(RuntimeError):
    """A store problem; the message says what is wrong and what to do."""


def write_failure(exc: BaseException) -> str:
    """Why a write to the store failed: ``"busy"`` (another connection holds the lock, or the
    server is restarting; wait and try again), ``"data"`` (something in the rows; the same
    rows will fail again) or ``"fatal"`` (the store cannot be written: disk full, file gone,
    read-only, ...)."""
    orig = getattr(exc, "orig", None) or exc  # the driver's error inside SQLAlchemy's
    kind = sql.failure_kind(orig)
    if kind is not None:
        return kind
    if isinstance(orig, StoreError | ValueError | OverflowError | TypeError | KeyError):
        return "data"
    return "fatal"


def default_path() -> Path:
    """The SQLite file used unless told otherwise (see the module docstring); when
    ``LIQWIDGET_STORE`` holds a URL, use :func:`default_location` instead."""
    env = os.environ.get(ENV_VAR)
    if env and "://" not in env:
        return Path(env).expanduser()
    return sql.default_sqlite_path()


def default_location() -> str:
    """Where the store is unless told otherwise: ``LIQWIDGET_STORE`` (path or URL) or the
    default file."""
    return os.environ.get(ENV_VAR) or str(sql.default_sqlite_path())


def is_url(target: str | os.PathLike | None) -> bool:
    """Whether a store location is a database URL rather than a file path."""
    return target is not None and not isinstance(target, os.PathLike) and "://" in str(target)


def to_ms(value) -> int | None:
    """A time as UTC epoch milliseconds, by the rule of :mod:`liqwidget.times` (None stays)."""
    return None if value is None else utc_ms(value, "time", StoreError)


class Store:
    """The liqwidget store. ``Store(path_or_url=None)``; use as a context manager or call
    close(). Safe to share between threads (each call takes its own pooled connection)."""

    def __init__(self, path: str | os.PathLike | URL | None = None, *, timeout: float = 30.0):
        try:
            self.url = sql.resolve(path)
        except sql.BadStoreURL as exc:
            raise StoreError(str(exc)) from None
        self.dialect = self.url.get_backend_name()
        #: The SQLite file (None on a server).
        self.path = Path(self.url.database) if self.dialect == "sqlite" else None
        #: Where the store is, for messages: a path, or the URL without its password.
        self.location = sql.describe(self.url)
        if self.path is not None:
            if self.path.is_dir():
                raise StoreError(f"the store path {self.path} is a directory; give a file name")
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for the store at {self.path}: "
                    f"{exc.strerror or exc} ({exc.filename or self.path.parent})"
                ) from None
        try:
            self._engine = sql.connect(self.url, timeout)
        except ImportError as exc:
            raise StoreError(
                f"a PostgreSQL store needs the psycopg driver ({exc}): "
                "pip install 'liqwidget[scale]'"
            ) from exc
        try:
            self._migrate()
        except StoreError:
            self._engine.dispose()
            raise
        except (SQLAlchemyError, OSError) as exc:
            self._engine.dispose()
            what = "a liqwidget store or a new file" if self.path else "a reachable database"
            raise StoreError(
                f"cannot open the store at {self.location}: {getattr(exc, 'orig', None) or exc}. "
                "Check the location "
                f"(or {ENV_VAR}) points at {what}."
            ) from exc

    # ------------------------------------------------------------------ housekeeping
    @contextmanager
    def _begin(self, write: bool = False) -> Iterator[Connection]:
        """One transaction; a write one takes SQLite's write lock when it begins."""
        with self._engine.connect() as conn:
            if write:
                conn = conn.execution_options(liqwidget_write=True)
            with conn.begin():
                yield conn

    def _migrate(self) -> None:
        with self._begin(write=True) as conn, sql.migration_lock(conn):
            version = sql.read_version(conn)
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the store at {self.location} has schema version {version}, newer than "
                    f"this liqwidget understands ({SCHEMA_VERSION}); upgrade liqwidget"
                )
            if version == 0 and sql.foreign_tables(conn):
                raise StoreError(
                    f"{self.location} is an SQLite database but not a liqwidget store (it has "
                    "other tables); give a new file or an existing store"
                )
            if version < SCHEMA_VERSION:
                sql.migrate(conn, version)
                sql.write_version(conn, SCHEMA_VERSION)

    @property
    def schema_version(self) -> int:
        with self._begin() as conn:
            return sql.read_version(conn)

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self.location!r})"

    def _query(self, statement: str, args: dict | None = None) -> list[tuple]:
        """Rows of one read (named ``:parameters``)."""
        with self._begin() as conn:
            return [tuple(r) for r in conn.execute(sa.text(statement), args or {})]

    def integrity_check(self) -> str:
        """The database's own consistency check: ``"ok"`` for a healthy store."""
        with self._begin() as conn:
            return sql.integrity_check(conn)

    # ------------------------------------------------------------------ bars and OI
    def write_bars(self, exchange: str, symbol: str, timeframe: str, bars) -> int:
        """Insert or replace candles: ``[[ms, open, high, low, close, volume], ...]`` (ccxt
        OHLCV rows) or a DataFrame with a ``timestamp`` column (ms) or a UTC DatetimeIndex."""
        check_market(exchange, symbol)
        names = ("ts", "open", "high", "low", "close", "volume")
        rows = [
            {
                "exchange": exchange,
                "symbol": symbol,
                "timeframe": timeframe,
                **dict(zip(names, r, strict=True)),
            }
            for r in _ohlcv_rows(bars)
        ]
        return self._upsert(sql.bars, rows)

    def write_open_interest(
        self, exchange: str, symbol: str, period: str, rows: Sequence[Sequence]
    ) -> int:
        """Insert or replace OI rows ``(ms, amount_in_contracts, quote_value, contract_size)``;
        amount or value may be None (whichever the exchange does not report)."""
        check_market(exchange, symbol)
        names = ("ts", "amount", "value", "contract_size")
        params = [
            {
                "exchange": exchange,
                "symbol": symbol,
                "period": period,
                **dict(zip(names, r, strict=True)),
            }
            for r in rows
        ]
        return self._upsert(sql.open_interest, params)

    def _upsert(self, table: sa.Table, rows: list[dict]) -> int:
        if not rows:
            return 0
        # One row per key (the last wins, as with one statement per row): PostgreSQL refuses
        # to update a row twice in one multi-row upsert.
        keys = [c.name for c in table.primary_key.columns]
        rows = list({tuple(r[k] for k in keys): r for r in rows}.values())
        with self._begin(write=True) as conn:
            return conn.execute(sql.upsert(conn, table), rows).rowcount

    def load_market(
        self,
        exchange: str | Sequence[str] | Sequence[tuple[str, str]],
        symbol: str | None,
        timeframe: str,
        start=None,
        end=None,
    ) -> MarketData:
        """Stored bars with open interest as :class:`~liqwidget.MarketData`
        (``start <= time <= end``; OI in quote notional).

        ``exchange`` is one ccxt id (one exchange's market) or several — ids sharing
        ``symbol``, or ``(exchange, symbol)`` pairs with ``symbol=None`` — for the market
        aggregated over them (:func:`liqwidget.venues.aggregate`; the first is the price
        reference). The store keeps every exchange separately; summing happens here.

        Open interest of a linear contract is the reported amount x contract size x the
        bar's close, of an inverse one (``BTC/USD:BTC``) the amount x the contract's quote
        value, else the reported quote value. The OI sample at or before each bar open
        (within one OI period) is used. Bars with no OI are left out with a warning (inside
        the range they then show up in ``MarketData.gaps``).
        """
        if not isinstance(exchange, str):
            pairs = [(e, symbol) if isinstance(e, str) else tuple(e) for e in exchange]
            if any(s is None for _, s in pairs):
                raise StoreError("give a symbol, or (exchange, symbol) pairs")
            parts = [self.load_market(e, s, timeframe, start, end) for e, s in pairs]
            return aggregate(parts) if len(parts) > 1 else parts[0]
        if symbol is None:
            raise StoreError(f"which symbol on {exchange}? symbol=None needs (exchange, symbol)")
        lo, hi = to_ms(start), to_ms(end)
        where = "exchange=:exchange AND symbol=:symbol AND timeframe=:timeframe"
        args = {"exchange": exchange, "symbol": symbol, "timeframe": timeframe}
        if lo is not None:
            where, args["lo"] = where + " AND ts>=:lo", lo
        if hi is not None:
            where, args["hi"] = where + " AND ts<=:hi", hi
        with self._begin() as conn:  # one snapshot for bars and OI
            bars = conn.execute(
                sa.text(
                    f"SELECT ts, open, high, low, close, volume FROM bars WHERE {where} ORDER BY ts"
                ),
                args,
            ).all()
            if not bars:
                raise StoreError(
                    f"no {timeframe} bars for {exchange} {symbol} in the store {self.location}"
                    f" between {start} and {end}; run `liqwidget fetch {exchange} {symbol} "
                    f"--timeframe {timeframe}` first"
                )
            # Plain tuples: pandas probes each SQLAlchemy Row object for attributes (slow).
            bars = [tuple(r) for r in bars]
            frame = pd.DataFrame(bars, columns=["ts", "open", "high", "low", "close", "volume"])
            oi = conn.execute(
                sa.text(
                    "SELECT period, ts, amount, value, contract_size FROM open_interest "
                    "WHERE exchange=:exchange AND symbol=:symbol AND ts>=:lo AND ts<=:hi "
                    "ORDER BY ts"
                ),
                {
                    "exchange": exchange,
                    "symbol": symbol,
                    "lo": int(frame.ts.iloc[0]) - 86_400_000,
                    "hi": int(frame.ts.iloc[-1]),
                },
            ).all()
        oi = [tuple(r) for r in oi]
        oi_frame = pd.DataFrame(oi, columns=["period", "ts", "amount", "value", "contract_size"])
        oi_frame = oi_frame.astype({c: "float64" for c in ("amount", "value", "contract_size")})
        frame["open_interest"] = _oi_for_bars(frame, oi_frame, timeframe, is_inverse(symbol))
        missing = frame["open_interest"].isna().to_numpy()
        if missing.all():
            raise StoreError(
                f"no open interest stored for {exchange} {symbol} between "
                f"{from_ms(frame.ts.iloc[[0]])[0]} and {from_ms(frame.ts.iloc[[-1]])[0]}; run "
                f"`liqwidget fetch` for that range (some exchanges keep only ~30 days of OI)"
            )
        if missing.any():
            first = from_ms(frame.ts[missing].iloc[[0]])[0]
            log.warning(
                "%s %s: %d of %d bars have no open interest (first at %s) and are left out; "
                "fetch OI for that range to fill them",
                exchange,
                symbol,
                int(missing.sum()),
                len(frame),
                first,
            )
            frame = frame[~missing]
        frame["volume"] = frame["volume"].astype("float64")
        if frame["volume"].isna().any():
            frame = frame.drop(columns="volume")
        frame = frame.rename(columns={"ts": "timestamp"})
        market = MarketData.from_frame(
            frame,
            timeframe=pd.Timedelta(timeframe_ms(timeframe, StoreError), unit="ms"),
            allow_gaps=True,
        )
        # Names already in the store are read back as they are (see liqwidget.names).
        return dataclasses.replace(market, symbol=symbol, exchange=exchange)

    # ------------------------------------------------------------------ coverage of fetches
    def mark_covered(self, exchange: str, symbol: str, dataset: str, start: int, stop: int) -> None:
        """Record that ``[start, stop)`` (ms) of a dataset (e.g. ``"ohlcv:5m"``) was fetched;
        overlapping and touching intervals are merged."""
        check_market(exchange, symbol)
        if stop <= start:
            return
        key = {"exchange": exchange, "symbol": symbol, "dataset": dataset}
        same = "exchange=:exchange AND symbol=:symbol AND dataset=:dataset"
        with self._begin(write=True) as conn:
            rows = conn.execute(
                sa.text(
                    f"SELECT start, stop FROM coverage WHERE {same} AND stop>=:a AND start<=:b"
                ),
                {**key, "a": start, "b": stop},
            ).all()
            for s, e in rows:
                start, stop = min(start, s), max(stop, e)
                conn.execute(
                    sa.text(f"DELETE FROM coverage WHERE {same} AND start=:s AND stop=:e"),
                    {**key, "s": s, "e": e},
                )
            conn.execute(sa.insert(sql.coverage), {**key, "start": start, "stop": stop})

    def missing(
        self, exchange: str, symbol: str, dataset: str, start: int, stop: int
    ) -> list[tuple[int, int]]:
        """The parts of ``[start, stop)`` (ms) not yet covered by earlier fetches."""
        rows = self._query(
            "SELECT start, stop FROM coverage WHERE exchange=:exchange AND symbol=:symbol "
            "AND dataset=:dataset AND stop>:a AND start<:b ORDER BY start",
            {"exchange": exchange, "symbol": symbol, "dataset": dataset, "a": start, "b": stop},
        )
        out, cursor = [], start
        for s, e in rows:
            if s > cursor:
                out.append((cursor, min(s, stop)))
            cursor = max(cursor, e)
        if cursor < stop:
            out.append((cursor, stop))
        return out

    # ------------------------------------------------------------------ liquidations
    def write_liquidations(self, events: pd.DataFrame) -> int:
        """Add liquidation events (the event frame: ``time, side, price, notional, exchange,
        symbol``; optional ``amount`` in base units and ``seq``) in one transaction. Exact
        repeats of a stored event are ignored, also when another writer (a second recorder of
        the same feed) stores the same event at the same moment. Returns how many rows were
        new.

        An event is the same as a stored one when exchange, symbol, time, side, price, amount
        and ``seq`` all match. ``seq`` (default 0) numbers identical liquidations within one
        exchange message (0, 1, ...), so two that arrive together are two rows while the same
        message sent again, or history overlapping it, adds nothing."""
        rows = [dict(zip(_LIQ_COLUMNS, r, strict=True)) for r in _event_rows(events)]
        if not rows:
            return 0
        table = sql.liquidations
        with self._begin(write=True) as conn:
            sql.lock_ids(conn)
            return sql.insert_ignore_many(conn, table, rows)

    # ------------------------------------------------------------------ refused events
    def quarantine(self, rows: Sequence[Sequence]) -> int:
        """Keep what a recorder received but refused: ``(exchange, symbol or None,
        received_at ms, reason, raw text)`` rows, so nothing received is lost without trace."""
        params = [
            {
                "exchange": str(e),
                "symbol": s,
                "received_at": int(t),
                "reason": str(r),
                "raw": str(x),
            }
            for e, s, t, r, x in rows
        ]
        if not params:
            return 0
        with self._begin(write=True) as conn:
            conn.execute(sa.insert(sql.refused), params)
        return len(params)

    def refused(self, exchange: str | None = None) -> pd.DataFrame:
        """Refused messages and events, oldest first: ``exchange, symbol, received, reason,
        raw``."""
        where, args = ("WHERE exchange=:exchange", {"exchange": exchange}) if exchange else ("", {})
        rows = self._query(
            f"SELECT exchange, symbol, received_at, reason, raw FROM refused {where} ORDER BY id",
            args,
        )
        frame = pd.DataFrame(rows, columns=["exchange", "symbol", "received", "reason", "raw"])
        frame["received"] = from_ms(frame["received"].to_numpy(dtype="int64"))
        return frame

    # ------------------------------------------------------------------ recorder health
    def write_health(self, feeds: dict[str, str]) -> None:
        """Replace the health row (a JSON text) of each exchange in ``feeds``."""
        now = int(time.time() * 1000)
        self._upsert(
            sql.feed_health,
            [{"exchange": ex, "updated_at": now, "health": text} for ex, text in feeds.items()],
        )

    def health(self) -> dict[str, str]:
        """The recorder's last health row (JSON text) per exchange."""
        return dict(self._query("SELECT exchange, health FROM feed_health ORDER BY exchange"))

    def load_liquidations(
        self,
        exchange: str | Sequence[tuple[str, str]] | None = None,
        symbol: str | None = None,
        start=None,
        end=None,
    ) -> pd.DataFrame:
        """Recorded liquidations as an event frame, oldest first (``start <= time <= end``).

        ``exchange`` may be ``(exchange, symbol)`` pairs (an aggregated market's venues):
        their events together, each row still naming its exchange."""
        if exchange is not None and not isinstance(exchange, str):
            frames = [self.load_liquidations(e, s, start, end) for e, s in exchange]
            both = pd.concat(frames, ignore_index=True) if frames else _event_frame([])
            return both.sort_values("time", kind="stable").reset_index(drop=True)
        where, args = ["1=1"], {}
        for col, val in (("exchange", exchange), ("symbol", symbol)):
            if val is not None:
                where.append(f"{col}=:{col}")
                args[col] = val
        if start is not None:
            where.append("ts>=:start")
            args["start"] = to_ms(start)
        if end is not None:
            where.append("ts<=:end")
            args["end"] = to_ms(end)
        statement = (
            "SELECT ts, side, price, notional, exchange, symbol FROM liquidations WHERE "
            + " AND ".join(where)
            + " ORDER BY ts, id"
        )
        return _event_frame(self._query(statement, args))

    def events_since(self, cursor: int = 0, limit: int | None = None) -> tuple[pd.DataFrame, int]:
        """Liquidations stored after ``cursor`` (0 = from the start), in the order they were
        recorded, and the cursor to pass next time. Poll it to follow a live recording."""
        statement = (
            "SELECT ts, side, price, notional, exchange, symbol, id FROM liquidations "
            "WHERE id>:cursor ORDER BY id"
        )
        args: dict = {"cursor": int(cursor)}
        if limit is not None:
            statement += " LIMIT :limit"
            args["limit"] = int(limit)
        rows = self._query(statement, args)
        new_cursor = rows[-1][-1] if rows else int(cursor)
        return _event_frame([r[:-1] for r in rows]), int(new_cursor)

    def last_cursor(self) -> int:
        """The cursor after the newest stored liquidation (pass it to :meth:`events_since`
        to follow only what is recorded from now on)."""
        return int(self._query("SELECT coalesce(max(id), 0) FROM liquidations")[0][0])

    def count_liquidations(self) -> int:
        return int(self._query("SELECT count(*) FROM liquidations")[0][0])

    def set_meta(self, key: str, value: str) -> None:
        """Store a small text value (the recorder keeps its heartbeats here)."""
        self.set_meta_many({key: value})

    def set_meta_many(self, items: dict[str, str]) -> None:
        """Store several small text values in one transaction."""
        self._upsert(sql.meta, [{"key": k, "value": str(v)} for k, v in items.items()])

    def get_meta(self, key: str) -> str | None:
        rows = self._query("SELECT value FROM meta WHERE key=:key", {"key": key})
        return rows[0][0] if rows else None

    # ------------------------------------------------------------------ coverage gaps
    def add_gap(self, exchange: str, symbol: str | None, start, stop, reason: str) -> None:
        """Record a stretch of time when the recorder was blind (``symbol=None``: all of the
        exchange's recorded symbols)."""
        check_market(exchange, symbol)
        row = {
            "exchange": exchange,
            "symbol": symbol,
            "start": to_ms(start),
            "stop": to_ms(stop),
            "reason": reason,
        }
        with self._begin(write=True) as conn:
            conn.execute(sa.insert(sql.gaps), row)

    def gaps(self, exchange: str | None = None, symbol: str | None = None, start=None, end=None):
        """Recording gaps overlapping ``[start, end]``: DataFrame with ``exchange, symbol,
        start, end, reason`` (a null symbol means every symbol of that exchange)."""
        where, args = ["1=1"], {}
        if exchange is not None:
            where.append("exchange=:exchange")
            args["exchange"] = exchange
        if symbol is not None:
            where.append("(symbol=:symbol OR symbol IS NULL)")
            args["symbol"] = symbol
        if start is not None:
            where.append("stop>=:start")
            args["start"] = to_ms(start)
        if end is not None:
            where.append("start<=:end")
            args["end"] = to_ms(end)
        rows = self._query(
            "SELECT exchange, symbol, start, stop, reason FROM gaps WHERE "
            + " AND ".join(where)
            + " ORDER BY start",
            args,
        )
        frame = pd.DataFrame(rows, columns=["exchange", "symbol", "start", "end", "reason"])
        frame["start"] = from_ms(frame["start"].to_numpy(dtype="int64"))
        frame["end"] = from_ms(frame["end"].to_numpy(dtype="int64"))
        return frame

    # ------------------------------------------------------------------ listing and export
    def series(self) -> pd.DataFrame:
        """What bars are stored: exchange, symbol, timeframe, bars, first, last.

        A series whose names are not UTF-8 text (liqwidget's writers refuse such names,
        so another program wrote it into an SQLite store) is left out, with a warning
        that shows its names and how to delete it: one bad row does not stop a listing or
        a site build."""
        names = ("exchange", "symbol", "timeframe")
        raw = ", ".join(f"CAST({n} AS BLOB)" for n in names) if self.path else ", ".join(names)
        rows = self._query(
            f"SELECT {raw}, count(*), min(ts), max(ts) FROM bars "
            "GROUP BY exchange, symbol, timeframe ORDER BY exchange, symbol, timeframe"
        )
        good, bad = [], []
        for row in rows:
            try:
                text = [v if isinstance(v, str) else bytes(v).decode("utf-8") for v in row[:3]]
            except UnicodeDecodeError:
                bad.append(row)
                continue
            good.append((*text, *row[3:]))
        if bad:
            shown = "; ".join(
                " ".join(terminal_text(bytes(v).decode("utf-8", "replace")) for v in r[:3])
                + f" (symbol hex {bytes(r[1]).hex()})"
                for r in bad[:3]
            )
            warnings.warn(
                f"the store at {self.location} holds {len(bad)} series of bars whose names "
                f"are not UTF-8 text, left out: {shown}. liqwidget never writes such names; "
                "delete them with sqlite3 (DELETE FROM bars WHERE hex(symbol) = '<hex>'), "
                "or find what else writes to this store.",
                stacklevel=2,
            )
        frame = pd.DataFrame(
            good, columns=["exchange", "symbol", "timeframe", "bars", "first", "last"]
        )
        frame["bars"] = frame["bars"].astype("int64")
        for col in ("first", "last"):
            frame[col] = from_ms(frame[col].to_numpy(dtype="int64"))
        return frame

    def export_parquet(self, directory: str | os.PathLike, **filters) -> dict[str, Path]:
        """Write ``liquidations.parquet``, ``gaps.parquet``, ``bars.parquet`` (every stored
        candle) and ``open_interest.parquet`` (OI as reported: ``amount`` in contracts,
        ``value`` in quote, ``contract_size``) into ``directory``. ``filters`` (exchange,
        symbol, start, end) narrow the liquidations and gaps. Needs pyarrow."""
        try:
            import pyarrow  # noqa: F401
        except ImportError as exc:  # pragma: no cover - pyarrow ships with the test extra
            raise StoreError(
                "Parquet export needs pyarrow: pip install 'liqwidget[parquet]'"
            ) from exc
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        names = ("liquidations", "gaps", "bars", "open_interest")
        paths = {name: out / f"{name}.parquet" for name in names}
        self.load_liquidations(**filters).to_parquet(paths["liquidations"], index=False)
        self.gaps(**filters).to_parquet(paths["gaps"], index=False)
        for name, key in (("bars", "timeframe"), ("open_interest", "period")):
            table = getattr(sql, name)
            columns = [c.name for c in table.columns]
            rows = self._query(
                f"SELECT {', '.join(columns)} FROM {name} ORDER BY exchange, symbol, {key}, ts"
            )
            frame = pd.DataFrame(rows, columns=columns)
            floats = [c.name for c in table.columns if isinstance(c.type, sa.Float)]
            frame = frame.astype({c: "float64" for c in floats})
            frame.insert(3, "time", from_ms(frame.pop("ts").to_numpy(dtype="int64")))
            frame.to_parquet(paths[name], index=False)
        return paths


# ---------------------------------------------------------------------- helpers
def _ohlcv_rows(bars) -> list[tuple]:
    if isinstance(bars, pd.DataFrame):
        frame = bars
        if "timestamp" in frame.columns:
            ts = frame["timestamp"].to_numpy(dtype="int64")
        elif isinstance(frame.index, pd.DatetimeIndex):
            ts = utc_index(frame.index, "the bars' index", StoreError).asi8 // 1_000_000
        else:
            raise StoreError("bars need a 'timestamp' column (ms) or a UTC DatetimeIndex")
        cols = [frame[c].to_numpy(dtype="float64") for c in ("open", "high", "low", "close")]
        vol = (
            frame["volume"].to_numpy(dtype="float64")
            if "volume" in frame.columns
            else np.full(len(frame), np.nan)
        )
        arr = list(zip(ts.tolist(), *(c.tolist() for c in cols), vol.tolist(), strict=True))
    else:
        arr = [tuple(r[:6]) if len(r) >= 6 else (*r[:5], None) for r in bars]
    out = []
    for i, (t, o, h, lo, c, v) in enumerate(arr):
        values = (o, h, lo, c)
        if t is None or any(x is None or not np.isfinite(x) or x <= 0 for x in values):
            raise StoreError(f"bar row {i} (timestamp {t}) has a missing or non-positive price")
        vol = None if v is None or not np.isfinite(v) else float(v)
        out.append((int(t), float(o), float(h), float(lo), float(c), vol))
    return out


def _event_rows(events: pd.DataFrame) -> list[tuple]:
    """Rows to insert: the frame passes :func:`~liqwidget.events.validate_events` (the one
    event contract) and names its ``exchange`` and ``symbol``."""
    ev = validate_events(events, keep=("seq",))
    missing = [c for c in ("exchange", "symbol") if c not in ev.columns]
    if missing:
        raise StoreError(
            f"liquidation events are missing column(s) {missing}; the store keeps each event "
            "under its exchange and symbol"
        )
    if not len(ev):
        return []
    for column, check in (("exchange", check_exchange), ("symbol", check_symbol)):
        values = events[column].astype(str)  # the caller's row order, for the row named
        for value in values.unique():
            try:
                check(value, what=f"column '{column}'")
            except MarketNameError as exc:
                row = int(np.flatnonzero((values == value).to_numpy())[0])
                raise MarketNameError(f"{exc} (row {row})") from None
    ts = ev["time"].to_numpy(dtype="datetime64[ns]").astype("int64") // 1_000_000
    price = ev["price"].to_numpy(dtype="float64")
    notional = ev["notional"].to_numpy(dtype="float64")
    amount = ev["amount"].to_numpy(dtype="float64") if "amount" in ev.columns else notional / price
    now = int(time.time() * 1000)
    seq = ev["seq"].to_numpy(dtype="int64") if "seq" in ev.columns else np.zeros(len(ts), "int64")
    return list(
        zip(
            ev["exchange"].astype(str).tolist(),
            ev["symbol"].astype(str).tolist(),
            ts.tolist(),
            ev["side"].tolist(),
            price.tolist(),
            amount.tolist(),
            notional.tolist(),
            [now] * len(ts),
            seq.tolist(),
            strict=True,
        )
    )


def _event_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["ts", "side", "price", "notional", "exchange", "symbol"])
    frame.insert(0, "time", from_ms(frame.pop("ts").to_numpy(dtype="int64")))
    frame["price"] = frame["price"].astype("float64")
    frame["notional"] = frame["notional"].astype("float64")
    for col in ("side", "exchange", "symbol"):
        frame[col] = frame[col].astype(object)
    return frame


def _oi_for_bars(
    bars: pd.DataFrame, oi: pd.DataFrame, timeframe: str, inverse: bool = False
) -> pd.Series:
    """Quote-notional OI per bar: the latest OI sample at or before the bar open, within one
    period of that sample's series. Inverse contracts count contracts x their quote value
    (Binance COIN-M reports its value in coin, so the contract count is used whenever it is
    known).

    Where several periods are stored, each bar takes the first one that has a sample for it,
    in this order: the longest period that fits in the bar (a series of the bars' own length,
    such as the live process's per-bar samples, comes first), the shorter fitting ones, then
    the coarser ones. So per-bar samples are used where they exist, history elsewhere.
    """
    result = np.full(len(bars), np.nan)
    if oi.empty:
        return pd.Series(result, index=bars.index)
    order = periods_for(oi["period"].unique(), timeframe)
    left = bars[["ts", "close"]].astype({"ts": "int64"})
    close = left["close"].to_numpy(dtype="float64")
    for period in order:
        sel = oi[oi["period"] == period].sort_values("ts")
        merged = pd.merge_asof(
            left,
            sel.astype({"ts": "int64"}),
            on="ts",
            direction="backward",
            tolerance=timeframe_ms(period, StoreError) - 1,
        )
        amount = merged["amount"].to_numpy(dtype="float64")
        size = merged["contract_size"].fillna(1.0).to_numpy(dtype="float64")
        value = merged["value"].to_numpy(dtype="float64")
        from_amount = amount * size if inverse else amount * size * close
        quote = np.where(np.isfinite(from_amount), from_amount, value)
        fill = np.isnan(result)
        result[fill] = quote[fill]
        if not np.isnan(result).any():
            break
    return pd.Series(result, index=bars.index)
