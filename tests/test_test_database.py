"""The suite's own database fixture: emptying the tables after a test must not wait for ever on a thread the
test left running."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

from storage import members
from storage.models import Member
from tests.conftest import PG_URL, _empty_all_tables


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL's lock queue: SQLite's DELETE waits on this process's lock")
def test_emptying_outlasts_a_reader_that_waits_for_a_write_queued_behind_it(db):
    # The cycle PostgreSQL cannot see: a read transaction stays open while its thread waits for a write, which
    # queues behind TRUNCATE, which waits for the read. Seen once in CI as a hung PostgreSQL pass.
    members.remember(db, "T1", "U1")
    emptier = threading.Thread(target=_empty_all_tables, args=(db,), daemon=True)
    with db.session() as s:  # a transaction (db.reader runs each statement on its own on PostgreSQL)
        s.execute(select(Member.user_id)).all()  # holds a share lock on `member` until this block ends
        emptier.start()
        _until_truncate_waits(db)
        members.remember(db, "T1", "U2")  # queued behind the TRUNCATE until it gives the lock up
    emptier.join(timeout=60)
    assert not emptier.is_alive(), "emptying the tables still waits"
    with db.reader() as s:
        assert s.scalar(select(func.count()).select_from(Member)) == 0  # the retry emptied what U2 added


def _until_truncate_waits(db) -> None:
    with db.engine.connect() as conn:
        for _ in range(200):
            if conn.execute(text("SELECT count(*) FROM pg_locks WHERE NOT granted AND mode = 'AccessExclusiveLock'"
                                 " AND relation = 'member'::regclass")).scalar():
                return
            time.sleep(0.05)
    raise AssertionError("TRUNCATE never waited on the reader's lock")
