"""Engine and session factory: the one place that knows how to reach the database.

Statements on the request path's hottest lines are built once, at import, with `bindparam`s
(`storage.members`, `storage.checkins`, `storage.outbox`, ...): building a statement and computing its cache key
took about as much CPU as running it (about 0.2 ms of 0.4 per statement here), and SQLAlchemy memoizes the key
of a statement object it sees again. `lambda_stmt` was measured too and saved nothing.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from functools import cache
from pathlib import Path
from time import sleep  # by name: a test replaces the pause between checkpoint attempts
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, Table, create_engine, event, exc, text
from sqlalchemy.engine import Engine, Result, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql import Executable
from sqlalchemy.sql.dml import Insert

if TYPE_CHECKING:
    from storage.crypto import Crypto

CRYPTO = "hearth.crypto"  # the session.info entry holding the database's key (see Database.crypto)
PING_AFTER_IDLE_S = 2.0  # a pooled PostgreSQL connection unused this long is pinged before it is handed out
BUSY_TIMEOUT_MS = 30000  # an SQLite connection waits this long for a lock before it gives up
# A WAL checkpoint is tried this many times, each waiting this long for readers, with this pause between:
# about a second in all, not BUSY_TIMEOUT_MS, when a long read holds the WAL.
CHECKPOINT_ATTEMPTS = 5
CHECKPOINT_WAIT_MS = 150
CHECKPOINT_PAUSE_S = 0.05
# PostgreSQL connections a process keeps (and how many more it may open at a peak). One busy process has about
# 30 threads that can hold one: Bolt's listeners (16), the after-ack pool (4), waitress's (8), the delivery
# worker's and the scheduler's. Below that, SQLAlchemy's default pool of 5 closes every connection beyond five
# as it is returned: under load a process opened and closed ~10 connections a second, each a new server
# process with cold caches. Connections are opened only when used together, so a quiet process keeps few.
POOL_SIZE = 24
POOL_OVERFLOW = 16


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgres URLs; make the folder and the file of an SQLite database."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        _private_file(Path(parsed.database))
    return parsed.render_as_string(hide_password=False)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL (None for PostgreSQL and in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.drivername.startswith("sqlite") and parsed.database and parsed.database != ":memory:":
        return Path(parsed.database)
    return None


def _private_file(path: Path) -> None:
    """Create the SQLite file readable by its owner only (SQLite gives its -wal and -shm files the same mode);
    a file that exists keeps its owner but loses group and world access."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        try:
            if path.stat().st_mode & 0o077:
                path.chmod(0o600)
        except PermissionError:  # someone else's file: SQLite reports what it can or cannot do with it
            pass


class Database:
    """An engine plus a session factory; `session()` is a unit of work that commits or rolls back.

    `crypto` is the key that protects this database's encrypted columns; repositories that seal or open
    values themselves (the outbox) read it from `session.info`, so their callers need not pass it along.
    It is bound once by the composition root (`slack_app.services.build_services`)."""

    def __init__(self, url: str, *, echo: bool = False, crypto: Crypto | None = None) -> None:
        self.crypto = crypto
        self.url = normalise_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        # hide_parameters: a database error that reaches a log must not carry what members wrote.
        kwargs: dict = {"echo": echo, "hide_parameters": True}
        if self.is_sqlite:
            # Bolt runs listeners on worker threads; SQLite serialises writers, so wait rather than fail.
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            kwargs.update(pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)
        self.engine: Engine = create_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        else:  # survive a PostgreSQL restart; an SQLite file has no connection to lose
            _ping_when_idle(self.engine, PING_AFTER_IDLE_S)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # Readers on PostgreSQL run each statement in its own implicit transaction: a transaction opened and
        # committed around reads adds two round trips (psycopg's BEGIN, then COMMIT) to every App Home.
        self._readers = self._sessions if self.is_sqlite else sessionmaker(
            self.engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False)
        # SQLite lets one writer in at a time and makes the others poll with growing sleeps (up to 100 ms),
        # so busy threads spend most of their time asleep. Queueing this process's units of work on a lock
        # hands the database over the moment it is free. (Other processes still meet busy_timeout.)
        self._sqlite_turn = threading.RLock() if self.is_sqlite else nullcontext()

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sqlite_turn, self._sessions() as session, session.begin():
            session.info[CRYPTO] = self.crypto
            yield session

    @contextmanager
    def reader(self, *, streaming: bool = False) -> Iterator[Session]:
        """A unit of work that only reads. On SQLite it does not queue behind this process's writers: in WAL
        mode a reader sees the last commit and never waits for a writer (the archive reads and compresses a
        batch while another batch's rows are deleted). On PostgreSQL it opens no transaction: each statement
        sees what was committed when it began, as it would in one at the default isolation level. `streaming`:
        in a transaction all the same, which a server-side cursor needs."""
        if streaming and not self.is_sqlite:
            with self.session() as session:
                yield session
            return
        with self._readers() as session:
            session.info[CRYPTO] = self.crypto
            try:
                yield session
            finally:
                session.rollback()

    def checkpoint_wal(self) -> bool:
        """SQLite: copy the write-ahead log into the database file and empty it (`wal_checkpoint(TRUNCATE)`),
        so pages freed (and zeroed by `secure_delete`) since are gone from the -wal file too. A reader still
        using the WAL makes SQLite report busy and leave it as it is: tried a few times briefly, then False
        (the caller says so; the hourly housekeeping checkpoints again). True on PostgreSQL (nothing to do)."""
        if not self.is_sqlite:
            return True
        with self.engine.connect() as conn:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_WAIT_MS}")
            try:
                for attempt in range(CHECKPOINT_ATTEMPTS):
                    if attempt:
                        sleep(CHECKPOINT_PAUSE_S)
                    busy, _log, _done = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
                    if not busy:
                        return True
                return False
            finally:
                conn.exec_driver_sql(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # any driver error means "not reachable"
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def values(session: Session, statement: Executable, params: dict[str, Any]) -> Result[Any]:
    """Run a read whose rows are only read, never changed, on the session's connection, past the ORM: rows
    of plain values (by column name), no objects, no identity map. The ORM's layer is about a third of a small
    statement's CPU here (measured: 0.19 against 0.12 ms), and App Home runs several. Pending changes are
    flushed first, as the ORM's autoflush would: a read sees what its unit of work has written."""
    session.flush()
    return session.connection().execute(statement, params)


def _ping_when_idle(engine: Engine, idle_s: float) -> None:
    """Ping a pooled connection before handing it out only when it sat unused for `idle_s` (SQLAlchemy's
    documented custom pessimistic check). `pool_pre_ping` pings at every checkout: a round trip and ~5 % of
    the CPU of a busy request path, for connections that were in use milliseconds ago. A server restart
    closes idle connections, which are pinged, replaced, and the pool emptied; a disconnect in the idle
    window fails that one unit of work, and SQLAlchemy then empties the pool too."""

    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn, record) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _lent(dbapi_conn, record, _proxy) -> None:
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as err:  # the pool replaces it and asks again
            raise exc.DisconnectionError() from err


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cur.close()


def insert_ignore(session: Session, table: Table, *, unique: list[str], returning: ColumnElement | None = None
                  ) -> Insert:
    """INSERT … ON CONFLICT (unique) DO NOTHING [RETURNING returning], in the session's dialect (SQLite or
    PostgreSQL): a row that is already there is left as it is, so racing writers need no lock. Give the values
    with `.values(...)`, or as parameters to `execute`: then the statement is built once (see above)."""
    return _insert_ignore(session.get_bind().dialect.name, table, tuple(unique), returning)


@cache
def _insert_ignore(dialect: str, table: Table, unique: tuple[str, ...], returning: ColumnElement | None) -> Insert:
    statement = upsert_insert(dialect)(table).on_conflict_do_nothing(index_elements=list(unique))
    return statement if returning is None else statement.returning(returning)


def upsert_insert(dialect: str) -> Callable[[Table], Any]:
    """The `insert` of `dialect` (a dialect's name: "postgresql" or "sqlite"), the one with ON CONFLICT clauses."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert
