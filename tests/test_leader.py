"""Leadership: one scheduler at a time (PostgreSQL advisory lock); SQLite is always its own leader."""

import threading
import time

import pytest
from sqlalchemy import text

from slack_app.scheduling.leader import Leadership, lock_key
from slack_app.simulator import wait_for
from tests.conftest import PG_URL

PG = bool(PG_URL)


class Recorder:
    def __init__(self):
        self.events = []
        self.lock = threading.Lock()

    def elected(self):
        with self.lock:
            self.events.append("elected")

    def deposed(self):
        with self.lock:
            self.events.append("deposed")


def candidate(db, rec, interval=0.1):
    return Leadership(db, on_elected=rec.elected, on_deposed=rec.deposed, retry_interval=interval)


def test_lock_keys_are_stable_signed_64_bit():
    assert lock_key("hearth.scheduler") == lock_key("hearth.scheduler") != lock_key("other")
    assert -(2**63) <= lock_key("hearth.scheduler") < 2**63


@pytest.mark.skipif(PG, reason="SQLite-only: the PostgreSQL pass tests the advisory lock")
def test_sqlite_is_always_leader_and_says_single_instance(db, caplog):
    rec = Recorder()
    leader = candidate(db, rec).start()
    assert leader.is_leader and rec.events == ["elected"]
    assert "single_instance" in caplog.text
    leader.stop()
    assert rec.events == ["elected", "deposed"]


@pytest.mark.skipif(not PG, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_one_leader_and_takeover_when_it_dies(db):
    a_rec, b_rec = Recorder(), Recorder()
    a = candidate(db, a_rec)
    b = candidate(db, b_rec)
    try:
        assert a.tick() and not b.tick()  # the first to ask leads; the other keeps asking
        a.start()
        b.start()
        time.sleep(0.3)
        assert a.is_leader and not b.is_leader and b_rec.events == []
        # The leader's process dies: PostgreSQL ends its session, releasing the lock.
        with db.engine.connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": a.backend_pid})
        assert wait_for(lambda: b.is_leader, timeout=5)  # within a few retry intervals
        assert wait_for(lambda: not a.is_leader, timeout=5) and a_rec.events == ["elected", "deposed"]
        assert b_rec.events == ["elected"]
        time.sleep(0.3)
        assert not a.is_leader  # the old leader keeps trying, but the lock is b's now
    finally:
        a.stop()
        b.stop()


@pytest.mark.skipif(not PG, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_a_leader_that_stops_hands_over(db):
    a_rec, b_rec = Recorder(), Recorder()
    a = candidate(db, a_rec).start()
    assert wait_for(lambda: a.is_leader)
    b = candidate(db, b_rec).start()
    try:
        a.stop()
        assert wait_for(lambda: b.is_leader, timeout=5)
        assert a_rec.events == ["elected", "deposed"]
    finally:
        b.stop()


@pytest.mark.skipif(not PG, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_a_leader_whose_start_fails_gives_the_lock_up(db):
    def broken():
        raise RuntimeError("scheduler could not start")

    a = Leadership(db, on_elected=broken, retry_interval=0.1)
    b_rec = Recorder()
    b = candidate(db, b_rec)
    try:
        assert not a.tick()
        assert b.tick()
    finally:
        a.stop()
        b.stop()
