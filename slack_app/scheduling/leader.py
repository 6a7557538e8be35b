"""Exactly one scheduler at a time: leadership by a PostgreSQL session-level advisory lock.

Every instance runs a `Leadership`. It keeps one dedicated connection (outside the pool) and asks
`pg_try_advisory_lock(key)` on it every `retry_interval` seconds until it gets the lock; the holder is the
leader and runs the scheduler. The lock lives exactly as long as that connection: when the leader's
process dies, PostgreSQL ends its session and releases the lock, and another instance takes it at its
next try (within `retry_interval`, 10 s by default). The connection asks the server to probe it with TCP
keepalives (idle 10 s, then every 5 s, 3 probes), so a leader whose host vanishes without closing the
connection loses the lock within about half a minute. The leader checks its connection every interval
and steps down (stops its scheduler) as soon as the connection is gone.

SQLite serves a single instance: the one process is always the leader, and says so at start-up.
"""

from __future__ import annotations

import logging
import threading
import zlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    import psycopg

    from storage.db import Database

log = logging.getLogger("hearth.leader")

SCHEDULER_LOCK = "hearth.scheduler"


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for a name."""
    value = zlib.crc32(name.encode()) | (0x48454152 << 32)  # "HEAR" in the high half: Hearth's namespace
    return value - (1 << 64) if value >= 1 << 63 else value


class Leadership:
    def __init__(self, db: Database, *, on_elected: Callable[[], None] = lambda: None,
                 on_deposed: Callable[[], None] = lambda: None, retry_interval: float = 10.0,
                 name: str = SCHEDULER_LOCK) -> None:
        self.db = db
        self.on_elected = on_elected
        self.on_deposed = on_deposed
        self.retry_interval = retry_interval
        self.key = lock_key(name)
        self._conn = None
        self._leader = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def is_leader(self) -> bool:
        return self._leader

    # ---- life cycle ----------------------------------------------------------------------------------

    def start(self) -> Leadership:
        if self.db.is_sqlite:
            log.warning("leader.single_instance database=sqlite: this process runs the scheduler; SQLite "
                        "serves one Hearth instance only — use PostgreSQL to run several")
            self._become_leader()
            return self
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="hearth-leader", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=max(5.0, self.retry_interval * 2))
            self._thread = None
        self._step_down(reason="stopping")
        self._close()

    # ---- one round -----------------------------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            self._stop.wait(self.retry_interval)

    def tick(self) -> bool:
        """Try to get (or check we still hold) the lock once; returns whether this instance leads."""
        if self.db.is_sqlite:
            return self._leader
        try:
            if self._leader:
                self._check()
            else:
                self._try_acquire()
        except Exception as exc:  # the connection broke: whatever we held is gone
            log.warning("leader.connection_lost error=%s", type(exc).__name__)
            self._step_down(reason="connection_lost")
            self._close()
        return self._leader

    def _try_acquire(self) -> None:
        conn = self._connection()
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()[0]
        if got:
            log.info("leader.elected key=%s", self.key)
            self._become_leader()

    def _check(self) -> None:
        held = self._connection().execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted"
        ).fetchone()[0]
        if not held:
            raise ConnectionError("advisory lock no longer held")

    def _become_leader(self) -> None:
        self._leader = True
        try:
            self.on_elected()
        except Exception as exc:
            log.error("leader.start_failed error=%s", type(exc).__name__)
            self._leader = False
            self._close()  # give the lock up so another instance can lead

    def _step_down(self, *, reason: str) -> None:
        if self._leader:
            self._leader = False
            if reason == "stopping":
                log.info("leader.released")
            else:
                log.warning("leader.deposed reason=%s", reason)
            try:
                self.on_deposed()
            except Exception as exc:
                log.error("leader.stop_failed error=%s", type(exc).__name__)

    # ---- the dedicated connection ---------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            import psycopg

            url = make_url(self.db.url)
            self._conn = psycopg.connect(
                host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database,
                autocommit=True, application_name="hearth-leader", connect_timeout=10,
                keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3,
                options="-c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3",
                **{k: v for k, v in url.query.items() if isinstance(v, str)},
            )
        return self._conn

    def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken
                pass

    @property
    def backend_pid(self) -> int | None:
        """The server process of the lock connection (tests terminate it to simulate a dead leader)."""
        return self._conn.info.backend_pid if self._conn is not None and not self._conn.closed else None
