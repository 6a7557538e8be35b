"""storage.db on PostgreSQL: a busy process keeps its connections instead of opening new ones."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from storage.db import POOL_SIZE, Database
from tests.conftest import PG_URL


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: an SQLite file has no server connections")
def test_as_many_threads_as_a_busy_process_has_reuse_their_connections(database_url):
    db = Database(database_url)
    threads = 20  # about as many as hold a connection at once in a busy `hearth serve` (see storage.db)
    assert threads <= POOL_SIZE
    backends: list[int] = []
    lock = threading.Lock()

    def burst() -> None:
        together = threading.Barrier(threads)

        def work() -> None:
            with db.session() as s:
                pid = s.scalar(text("SELECT pg_backend_pid()"))  # a session takes its connection at its first statement
                together.wait(timeout=30)  # every thread holds a connection at the same moment
            with lock:
                backends.append(pid)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()

    try:
        burst()
        first = set(backends)
        backends.clear()
        burst()
        # SQLAlchemy's default pool (5) would have closed 15 of the first burst's connections as they came
        # back, and the second burst would have started 15 new PostgreSQL server processes.
        assert len(first) == threads and set(backends) == first
    finally:
        db.dispose()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: a server transaction around reads (SQLite's are local)")
def test_a_reader_runs_each_statement_on_its_own_and_a_session_in_one_transaction(database_url):
    def in_one_transaction(unit) -> bool:
        with unit as s:  # now() is when the transaction began; statement_timestamp() when this statement did
            s.execute(text("SELECT pg_sleep(0.01)"))
            return not s.scalar(text("SELECT now() = statement_timestamp()"))

    db = Database(database_url)
    try:
        assert not in_one_transaction(db.reader())  # no BEGIN and COMMIT round trips, no lock held between
        assert in_one_transaction(db.reader(streaming=True))  # a server-side cursor lives in a transaction
        assert in_one_transaction(db.session())
    finally:
        db.dispose()
