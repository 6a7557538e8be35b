"""Closing a survey on SQLite while another connection reads: the WAL checkpoint that erases the sealed buffer
from the files is retried briefly, a warning says when it could not finish (ids and counts only), and the
next housekeeping run finishes it. Read as the adversary would: the raw bytes of the database and its -wal.

#gratitude-circle (CCIRCLE) holds Alice, Bob, Dev and Emi.
"""

from __future__ import annotations

import logging
import sqlite3
from datetime import timedelta

import pytest
from sqlalchemy import select

import storage.db
from slack_app.housekeeping.jobs import ACTION, JOBS
from slack_app.scheduling.registry import JobContext
from slack_app.surveys import usecases
from storage import surveys as repo
from tests.privacy import assert_logs_carry_no_user_ids, sqlite_file_bytes

TEAM = "T0HEARTH"
CIRCLE = "CCIRCLE"
MEMBERS = ("UALICE", "UBOB", "UDEV", "UEMI")


@pytest.fixture
def sealed(hearth, slack):
    """An open survey three members answered: the ciphertext of their sealed answers."""
    if not hearth.services.db.is_sqlite:
        pytest.skip("the write-ahead log checked here is SQLite's (PostgreSQL runs VACUUM)")
    instrument, source = usecases.load_survey("belonging")
    started = usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id=CIRCLE,
                              closes=timedelta(days=5), min_responses=3, launched_by="UALICE")
    for user in MEMBERS[:3]:
        usecases.submit(hearth.services, TEAM, user, started.run_id, {q.id: "4" for q in instrument.counted})
    with hearth.services.db.session() as s:
        tokens = [t.encode() for t in s.scalars(select(repo.SurveyBuffer.sealed))]
    assert len(tokens) == 3 and all(t in sqlite_file_bytes(hearth.services.db) for t in tokens)
    return started.run_id, tokens


def reading(db):
    """Another connection (say `hearth serve` while the CLI closes) in the middle of a read transaction."""
    reader = sqlite3.connect(str(db.engine.url.database), isolation_level=None, check_same_thread=False)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM survey_buffer").fetchone() == (3,)
    return reader


def test_a_reader_that_ends_while_the_checkpoint_is_retried_leaves_nothing_behind(hearth, slack, sealed, caplog,
                                                                                   monkeypatch):
    caplog.set_level(logging.DEBUG, logger="hearth")
    run_id, tokens = sealed
    reader = reading(hearth.services.db)
    pauses = []

    def pause(seconds):  # the reader finishes during the first pause between two attempts
        pauses.append(seconds)
        reader.rollback()

    monkeypatch.setattr(storage.db, "sleep", pause)
    assert usecases.close(hearth.services, TEAM, run_id).status == "closed"
    assert len(pauses) == 1  # the first attempt found the WAL busy, the second emptied it
    raw = sqlite_file_bytes(hearth.services.db)
    assert not any(t in raw for t in tokens)
    assert "surveys.wipe_deferred" not in caplog.text
    reader.close()


def test_a_reader_holding_the_wal_through_close_delays_the_erasure_until_housekeeping(hearth, slack, sealed,
                                                                                     caplog):
    caplog.set_level(logging.DEBUG, logger="hearth")
    db = hearth.services.db
    run_id, tokens = sealed
    reader = reading(db)
    closed = usecases.close(hearth.services, TEAM, run_id)
    assert closed.status == "closed" and closed.respondents == 3

    # the close tried a few times, then said so: ids and counts only
    [warning] = [r for r in caplog.records if r.getMessage().startswith("surveys.wipe_deferred")]
    assert warning.levelno == logging.WARNING and f"run={run_id} respondent_count=3" in warning.getMessage()
    assert_logs_carry_no_user_ids(caplog.records, MEMBERS)
    # the reader still sees its snapshot, so the ciphertext is still in the files: the gap this closes
    assert any(t in sqlite_file_bytes(db) for t in tokens)

    # while the reader stays, housekeeping cannot finish either, and says so
    JOBS.actions[ACTION](JobContext(db=db, params={}, services=hearth.services))
    assert "housekeeping.wal_busy" in caplog.text
    reader.rollback()
    reader.close()

    # the next housekeeping run empties the WAL: the erased ciphertext is in neither file
    JOBS.actions[ACTION](JobContext(db=db, params={}, services=hearth.services))
    raw = sqlite_file_bytes(db)
    assert not any(t in raw for t in tokens)
    wal = storage.db.sqlite_path(db.url)
    assert wal is not None and wal.with_name(wal.name + "-wal").stat().st_size == 0
