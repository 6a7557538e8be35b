import time

import pytest
from sqlalchemy import inspect, select, text

from storage import migrate
from storage.models import Member, Workspace
from tests.conftest import PG_URL


def test_migrations_reach_head_and_create_the_foundation_tables(db):
    assert migrate.is_up_to_date(db)
    tables = set(inspect(db.engine).get_table_names())
    assert {"workspace", "member", "slack_event", "slack_installations", "slack_bots", "slack_oauth_states"} <= tables


def test_session_commits_on_success_and_rolls_back_on_error(db):
    with db.session() as s:
        s.add(Workspace(team_id="T1", settings={"a": 1}))
    try:
        with db.session() as s:
            s.add(Member(team_id="T1", user_id="U1"))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    with db.session() as s:
        assert s.scalar(select(Workspace.settings).where(Workspace.team_id == "T1")) == {"a": 1}
        assert s.scalars(select(Member)).all() == []


def test_ping_reports_reachability(db, tmp_path):
    assert db.ping()
    from storage.db import Database

    unreachable = Database("postgresql://nobody@127.0.0.1:1/none")
    assert not unreachable.ping()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: an SQLite file has no server connection to lose")
def test_a_connection_the_server_closed_while_idle_is_replaced_unseen(database_url, monkeypatch):
    import storage.db
    from storage.db import Database

    monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_S", 0.05)
    db = Database(database_url)
    try:
        with db.session() as s:
            pid = s.scalar(text("SELECT pg_backend_pid()"))
        with Database(database_url).engine.connect() as other:  # as a server restart would
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        time.sleep(0.1)
        with db.session() as s:  # the idle connection is pinged, found dead and replaced
            assert s.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        db.dispose()


def test_a_reader_does_not_wait_for_a_unit_of_work_in_progress(db):
    """The archive reads and compresses one batch while another batch's rows are deleted."""
    import threading

    with db.session() as s:
        s.add(Workspace(team_id="T1", settings={}))
    writing, done = threading.Event(), threading.Event()

    def writer() -> None:
        with db.session() as s:
            s.add(Workspace(team_id="T2", settings={}))
            s.flush()
            writing.set()
            done.wait(10)

    t = threading.Thread(target=writer)
    t.start()
    try:
        assert writing.wait(5)
        started = time.monotonic()
        with db.reader() as s:  # sees the last commit, not the unit of work in progress
            assert s.scalars(select(Workspace.team_id)).all() == ["T1"]
        assert time.monotonic() - started < 2
    finally:
        done.set()
        t.join()
