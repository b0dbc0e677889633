"""The store's schema and every difference between its two databases, in one place.

The store speaks SQLAlchemy Core: SQLite (the embedded default, stdlib driver) or PostgreSQL
(a server shared by a team, psycopg 3 driver). SQLAlchemy compiles one schema and one set of
statements for both; what is left differs here only: how a URL is opened (SQLite pragmas,
the transaction that takes the write lock), the insert-or-ignore and upsert constructs, where
the schema version lives, the lock that keeps liquidation ids in commit order, and the
integrity check.
"""

from __future__ import annotations

import os
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Engine,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError

#: The environment variable that names the store (a path or a URL).
ENV_VAR = "LIQWIDGET_STORE"

_REAL = Float(53)  # 8-byte floats on both (PostgreSQL's REAL would be 4 bytes)
_MS = BigInteger  # epoch milliseconds
#: A row id that counts up: SQLite's rowid alias, PostgreSQL's bigserial.
_ID = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

meta = Table("meta", metadata, Column("key", Text, primary_key=True), Column("value", Text))
bars = Table(
    "bars",
    metadata,
    Column("exchange", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("timeframe", Text, nullable=False),
    Column("ts", _MS, nullable=False),
    Column("open", _REAL, nullable=False),
    Column("high", _REAL, nullable=False),
    Column("low", _REAL, nullable=False),
    Column("close", _REAL, nullable=False),
    Column("volume", _REAL),
    PrimaryKeyConstraint("exchange", "symbol", "timeframe", "ts"),
    sqlite_with_rowid=False,
)
open_interest = Table(
    "open_interest",
    metadata,
    Column("exchange", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("ts", _MS, nullable=False),
    Column("amount", _REAL),
    Column("value", _REAL),
    Column("contract_size", _REAL),
    PrimaryKeyConstraint("exchange", "symbol", "period", "ts"),
    sqlite_with_rowid=False,
)
coverage = Table(
    "coverage",
    metadata,
    Column("exchange", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("dataset", Text, nullable=False),
    Column("start", _MS, nullable=False),
    Column("stop", _MS, nullable=False),
    Index("coverage_key", "exchange", "symbol", "dataset", "start"),
)
liquidations = Table(
    "liquidations",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("exchange", Text, nullable=False),
    Column("symbol", Text, nullable=False),
    Column("ts", _MS, nullable=False),
    Column("side", Text, nullable=False),
    Column("price", _REAL, nullable=False),
    Column("amount", _REAL, nullable=False),
    Column("notional", _REAL, nullable=False),
    Column("recorded_at", _MS, nullable=False),
    # Numbers identical liquidations within one exchange message (see Store.write_liquidations).
    Column("seq", Integer, nullable=False, server_default="0"),
    CheckConstraint("side IN ('long', 'short')", name="liquidations_side"),
    UniqueConstraint("exchange", "symbol", "ts", "side", "price", "amount", "seq"),
    Index("liquidations_time", "exchange", "symbol", "ts"),
    Index("liquidations_ts", "ts"),
)
gaps = Table(
    "gaps",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("exchange", Text, nullable=False),
    Column("symbol", Text),
    Column("start", _MS, nullable=False),
    Column("stop", _MS, nullable=False),
    Column("reason", Text, nullable=False),
)

refused = Table(
    "refused",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("exchange", Text, nullable=False),
    Column("symbol", Text),
    Column("received_at", _MS, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
)
feed_health = Table(
    "feed_health",
    metadata,
    Column("exchange", Text, primary_key=True),
    Column("updated_at", _MS, nullable=False),
    Column("health", Text, nullable=False),
)


class BadStoreURL(ValueError):
    """The store location is neither a path nor a URL the store can open."""


def default_sqlite_path() -> Path:
    """The SQLite file used when nothing is configured."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "liqwidget" / "store.sqlite"


def resolve(target: str | os.PathLike | URL | None) -> URL:
    """The store's SQLAlchemy URL: ``target``, else ``$LIQWIDGET_STORE``, else the default
    file. A plain path or ``sqlite:///path`` is SQLite; ``postgresql://…`` is PostgreSQL."""
    if isinstance(target, URL):
        return target
    if target is None:
        target = os.environ.get(ENV_VAR) or default_sqlite_path()
    if isinstance(target, os.PathLike) or "://" not in str(target):
        return URL.create("sqlite", database=str(Path(target).expanduser()))
    try:
        url = make_url(str(target))
    except ArgumentError as exc:
        raise BadStoreURL(f"cannot read the store URL {target!r}: {exc}") from None
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        return url.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise BadStoreURL(f"{target!r} names no SQLite file; use sqlite:///path/to/file")
        return URL.create("sqlite", database=str(Path(url.database).expanduser()))
    raise BadStoreURL(
        f"the store URL {url.render_as_string(hide_password=True)!r} is for {backend!r}; "
        "use a file path, sqlite:///path or postgresql://user@host/db"
    )


def postgres_schema_url(base: str, schema: str) -> str:
    """A PostgreSQL URL whose connections work in ``schema`` (their search_path): one
    server database can hold several separate stores."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def describe(url: URL) -> str:
    """Where the store is, for messages (a file path, or the URL without its password)."""
    if url.get_backend_name() == "sqlite":
        return str(url.database)
    return url.set(drivername="postgresql").render_as_string(hide_password=True)


def _wal(cur, timeout: float) -> None:
    """Switch a new SQLite file to WAL. Two connections opening the same new file at once can
    both hold a shared lock and want the exclusive one; SQLite then answers "locked" at once,
    without waiting, to avoid a deadlock. Try again, for up to the store's busy timeout."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def connect(url: URL, timeout: float) -> Engine:
    """An engine for ``url``. SQLite: WAL (readers never wait for the writer), synchronous
    NORMAL (a killed process loses nothing committed), a busy timeout, and write transactions
    that take the write lock when they begin. PostgreSQL: MVCC does the same by itself."""
    if url.get_backend_name() == "sqlite":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": timeout})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record) -> None:
            dbapi_conn.isolation_level = None  # transactions begin below, not in the driver
            cur = dbapi_conn.cursor()
            _wal(cur, timeout)
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={int(timeout * 1000)}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("liqwidget_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    # No ping before each use: a connection the server dropped fails its next statement,
    # the pool discards it, and the caller's retry (the recorder treats it as "busy") gets
    # a fresh one; a ping would add a round trip to every commit.
    return create_engine(url, connect_args={"connect_timeout": max(1, int(timeout))})


def is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


def insert(conn: Connection, table: Table):
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``_do_update``."""
    return (sqlite.insert if is_sqlite(conn) else postgresql.insert)(table)


def insert_ignore(conn: Connection, table: Table):
    """INSERT that skips rows clashing with a unique key (exact repeats)."""
    return insert(conn, table).on_conflict_do_nothing()


def insert_ignore_many(conn: Connection, table: Table, rows: list[dict]) -> int:
    """Insert ``rows`` (dicts with the same keys), skipping exact repeats; return how many
    were new. SQLite: one executemany (its row count is the sum). PostgreSQL: one statement
    over arrays (``unnest``), so 500 rows are one short query, not 500 or one with 4,500
    placeholders to parse."""
    if not rows:
        return 0
    if is_sqlite(conn):
        return conn.execute(insert_ignore(conn, table), rows).rowcount
    names = list(rows[0])
    types = {c.name: c.type.compile(dialect=conn.dialect) for c in table.columns}
    arrays = ", ".join(f"CAST(:{n} AS {types[n]}[])" for n in names)
    statement = text(
        f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM unnest({arrays}) "
        "ON CONFLICT DO NOTHING"
    )
    return conn.execute(statement, {n: [r[n] for r in rows] for n in names}).rowcount


def upsert(conn: Connection, table: Table):
    """INSERT that replaces the non-key columns of a row whose primary key exists."""
    stmt = insert(conn, table)
    keys = [c.name for c in table.primary_key.columns]
    rest = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
    return stmt.on_conflict_do_update(index_elements=keys, set_=rest)


#: Advisory-lock keys (PostgreSQL): one for schema changes, one for liquidation ids.
_LOCK_SCHEMA, _LOCK_IDS = 0x6C697101, 0x6C697102


def lock_ids(conn: Connection) -> None:
    """Make liquidation ids commit in increasing order, so a reader following ``id >
    cursor`` never skips a row that commits late. SQLite already has one writer at a time;
    on PostgreSQL writers of liquidations queue on a transaction-scoped advisory lock (readers
    are never blocked)."""
    if not is_sqlite(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_IDS})


@contextmanager
def migration_lock(conn: Connection):
    """Serialise schema creation between processes (SQLite: the write transaction)."""
    if not is_sqlite(conn):
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_SCHEMA})
    yield


def migrate(conn: Connection, version: int) -> None:
    """Bring a store of schema ``version`` (0 = new) to the current one.

    1 → 2: ``seq`` joins the liquidations' identity. SQLite cannot change a UNIQUE
    constraint, so the table is rebuilt keeping its ids. PostgreSQL stores start at 2.
    Every new table comes from the schema (created only where missing)."""
    if version == 1 and is_sqlite(conn):
        for statement in (
            "DROP INDEX IF EXISTS liquidations_time",
            "DROP INDEX IF EXISTS liquidations_ts",
            "ALTER TABLE liquidations RENAME TO liquidations_v1",
        ):
            conn.exec_driver_sql(statement)
        liquidations.create(conn)
        old = ", ".join(c.name for c in liquidations.columns if c.name != "seq")
        conn.exec_driver_sql(f"INSERT INTO liquidations ({old}) SELECT {old} FROM liquidations_v1")
        conn.exec_driver_sql("DROP TABLE liquidations_v1")
    metadata.create_all(conn, checkfirst=True)


def foreign_tables(conn: Connection) -> list[str]:
    """Tables of a SQLite file that no liqwidget store has (a file of another program). A
    PostgreSQL database may hold other programs' tables beside the store's."""
    if not is_sqlite(conn):
        return []
    names = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'").scalars()
    return sorted(set(names) - set(metadata.tables) - {"sqlite_sequence"})


def failure_kind(error: BaseException) -> str | None:
    """``"busy"`` (try again later), ``"data"`` (the rows are at fault) or ``"fatal"`` for a
    driver error of either database; None when ``error`` is not a driver error."""
    import sqlite3

    text_ = str(error).lower()
    if isinstance(error, sqlite3.OperationalError):
        return "busy" if ("locked" in text_ or "busy" in text_) else "fatal"
    if isinstance(error, sqlite3.IntegrityError | sqlite3.DataError):
        return "data"
    if isinstance(error, sqlite3.Error):
        return "fatal"
    try:
        import psycopg
        from psycopg import errors as pg
    except ImportError:  # pragma: no cover - the PostgreSQL driver is optional
        return None
    if isinstance(error, pg.IntegrityError | pg.DataError):
        return "data"
    if isinstance(error, pg.DiskFull | pg.InsufficientPrivilege | pg.ReadOnlySqlTransaction):
        return "fatal"
    transient = (
        pg.LockNotAvailable,
        pg.DeadlockDetected,
        pg.SerializationFailure,
        pg.AdminShutdown,
        pg.CannotConnectNow,
        pg.QueryCanceled,
    )
    if isinstance(error, transient) or (
        isinstance(error, psycopg.OperationalError) and error.sqlstate is None
    ):
        return "busy"  # a lock wait, a restart or a lost connection: retrying can succeed
    if isinstance(error, psycopg.Error):
        return "fatal"
    return None


def read_version(conn: Connection) -> int:
    """The schema version of the store (0: a new, empty store). SQLite keeps it in
    ``PRAGMA user_version``, PostgreSQL in the ``meta`` table."""
    if is_sqlite(conn):
        return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())
    exists = conn.execute(text("SELECT to_regclass('meta') IS NOT NULL")).scalar_one()
    if not exists:
        return 0
    value = conn.execute(text("SELECT value FROM meta WHERE key='schema_version'")).scalar()
    return int(value) if value is not None else 0


def write_version(conn: Connection, version: int) -> None:
    if is_sqlite(conn):
        conn.exec_driver_sql(f"PRAGMA user_version={int(version)}")
    conn.execute(upsert(conn, meta).values(key="schema_version", value=str(version)))


def integrity_check(conn: Connection) -> str:
    """``"ok"`` for a healthy store, else what is wrong. SQLite: its own full check.
    PostgreSQL: every table read through to the end, and (where the amcheck extension is
    installed) every B-tree index of the store checked against its table."""
    if is_sqlite(conn):
        return str(conn.exec_driver_sql("PRAGMA integrity_check").scalar_one())
    problems = []
    for table in metadata.sorted_tables:
        conn.execute(text(f"SELECT count(*) FROM {table.name}")).scalar_one()
    has_amcheck = conn.execute(
        text("SELECT count(*) FROM pg_extension WHERE extname='amcheck'")
    ).scalar_one()
    if has_amcheck:
        names = [t.name for t in metadata.sorted_tables]
        indexes = conn.execute(
            text(
                "SELECT i.indexrelid::regclass::text FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indrelid JOIN pg_am a ON a.oid = "
                "(SELECT relam FROM pg_class WHERE oid = i.indexrelid) "
                "WHERE c.relname = ANY(:names) AND c.relnamespace = "
                "(SELECT oid FROM pg_namespace WHERE nspname = current_schema()) "
                "AND a.amname = 'btree'"
            ),
            {"names": names},
        ).scalars()
        for index in indexes:
            try:
                conn.execute(
                    text("SELECT bt_index_check(CAST(:i AS regclass), true)"), {"i": index}
                )
            except Exception as exc:  # amcheck raises on corruption
                problems.append(f"{index}: {exc}")
    return "ok" if not problems else "; ".join(problems)
