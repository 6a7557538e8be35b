"""Members' shared preferences: written by the check-in buttons and commands, read by every workflow; and
migration 0004, which moves check-ins' own pause/opt-out rows into them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, text

from slack_app import preferences
from slack_app.checkins.ids import CheckinAction
from slack_app.simulator import wait_for
from storage import migrate
from storage import preferences as repo
from storage.db import Database
from tests.test_checkin_flow import (
    CIRCLE,
    TEAM,
    enable_in_slack,
    open_round,
    private_replies,
)

NOW = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)


def prefs(hearth, user: str, workflow: str = "checkins") -> preferences.Preferences:
    with hearth.services.db.session() as s:
        return preferences.of(s, TEAM, user, workflow)


def test_check_in_buttons_and_commands_write_the_shared_preferences(driver, simulator, hearth, slack, deliver):  # noqa: F811
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    driver.as_member("UDEV").click(CheckinAction.OPT_OUT)
    driver.as_member("UEMI").click(CheckinAction.SNOOZE)
    driver.as_member("UBOB").command("/checkin", text="pause")
    assert wait_for(lambda: len([t for t in private_replies(simulator) if t]) >= 3)

    dev, emi, bob = prefs(hearth, "UDEV"), prefs(hearth, "UEMI"), prefs(hearth, "UBOB")
    assert dev.opted_out_of("checkins", CIRCLE) and not dev.opted_out_of("checkins", "COTHER")
    assert not dev.paused and dev.paused_until is None
    assert emi.snoozed_at(datetime.now(UTC)) is not None and not emi.paused
    assert bob.paused and not bob.opted_out_of("checkins", CIRCLE)
    # one place: another workflow sees the same pause and snooze (and not check-ins' circle opt-out)
    assert prefs(hearth, "UBOB", "buddies").paused
    assert not prefs(hearth, "UDEV", "buddies").opted_out_of("buddies", CIRCLE)

    driver.as_member("UDEV").command("/checkin", text="resume")
    driver.as_member("UBOB").command("/checkin", text="resume")
    assert wait_for(lambda: not prefs(hearth, "UBOB").paused and not prefs(hearth, "UDEV").opted_out)


def test_no_dms_and_a_whole_workflow_opt_out_keep_a_member_out_of_rounds(driver, simulator, hearth, slack, deliver):  # noqa: F811
    enable_in_slack(driver, hearth)
    with hearth.services.db.session() as s:
        preferences.set_no_dms(s, TEAM, "UBOB", True)
        preferences.opt_out(s, TEAM, "UDEV", "checkins")  # every circle
        preferences.opt_out(s, TEAM, "UEMI", "buddies")  # another workflow: still invited here
    opened = open_round(hearth, slack, deliver)
    assert opened.status == "opened" and opened.invited == 2  # Alice and Emi


def test_preferences_default_and_expire():
    fresh = preferences.Preferences()
    assert not fresh.paused and fresh.snoozed_at(NOW) is None and not fresh.opted_out_of("checkins")
    snoozed = preferences.Preferences(paused_until=NOW + timedelta(days=1))
    assert snoozed.snoozed_at(NOW) == NOW + timedelta(days=1) and snoozed.snoozed_at(NOW + timedelta(days=2)) is None
    whole = preferences.Preferences(opted_out=frozenset({("checkins", "")}))
    assert whole.opted_out_of("checkins", "CANY") and not whole.opted_out_of("buddies", "CANY")


def test_resume_without_preferences_is_harmless(hearth):
    with hearth.services.db.session() as s:
        preferences.resume(s, TEAM, "UNOBODY")
        assert repo.preference(s, TEAM, "UNOBODY") is None


@pytest.fixture
def blank_db(tmp_path, database_url):
    """A database of its own (this test walks the migrations up and down)."""
    if database_url.startswith("sqlite"):
        db = Database(f"sqlite:///{tmp_path / 'walk.db'}")
        yield db
        db.dispose()
        return
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"walk_{tmp_path.name[-20:].lower().replace('-', '_')}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(make_url(database_url).set(database=name).render_as_string(hide_password=False))
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migration_0004_moves_check_in_pauses_and_opt_outs_and_back(blank_db):
    migrate.upgrade(blank_db, "0003")
    with blank_db.engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO checkin_circle (id, team_id, channel_id, enabled, cadence, weekday, local_time, timezone,"
            " window_minutes, remind_before_minutes, sharing, rotate_facilitator, anchor_date, created_at, updated_at)"
            " VALUES (1, 'T1', 'CCIRCLE', true, 'weekly', 0, '10:00', 'UTC', 60, 30, 'named', true, '2024-06-03',"
            " '2024-06-03 08:00:00+00', '2024-06-03 08:00:00+00')"))
        conn.execute(text(
            "INSERT INTO checkin_member_state (team_id, user_id, paused, snoozed_until, updated_at) VALUES"
            " ('T1', 'UPAUSED', true, NULL, '2024-06-03 08:00:00+00'),"
            " ('T1', 'USNOOZE', false, '2030-01-01 00:00:00+00', '2024-06-03 08:00:00+00')"))
        conn.execute(text("INSERT INTO checkin_opt_out (circle_id, user_id, created_at)"
                          " VALUES (1, 'UOUT', '2024-06-03 08:00:00+00')"))
    migrate.upgrade(blank_db, "0004")
    tables = set(inspect(blank_db.engine).get_table_names())
    assert {"member_preference", "member_opt_out", "roster_channel", "channel_member"} <= tables
    assert not {"checkin_member_state", "checkin_opt_out"} & tables
    assert not {"opted_out", "snoozed_until"} & {c["name"] for c in inspect(blank_db.engine).get_columns("member")}
    with blank_db.session() as s:
        moved = preferences.of_many(s, "T1", ["UPAUSED", "USNOOZE", "UOUT"], "checkins")
    assert moved["UPAUSED"].paused and moved["USNOOZE"].paused_until.year == 2030
    assert moved["UOUT"].opted_out_of("checkins", "CCIRCLE") and not moved["UOUT"].paused
    migrate.upgrade(blank_db, "head")  # the newest revision (later helpers may add more)

    from alembic import command

    command.downgrade(migrate._config(blank_db), "0003")
    with blank_db.engine.connect() as conn:
        assert conn.execute(text("SELECT user_id FROM checkin_opt_out")).scalars().all() == ["UOUT"]
        assert sorted(conn.execute(text("SELECT user_id FROM checkin_member_state")).scalars().all()) == [
            "UPAUSED", "USNOOZE"]
