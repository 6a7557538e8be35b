"""`hearth doctor` against the simulator: each failure names its fix."""

import uuid

import pytest

from slack_app.doctor import run_checks
from slack_app.manifest import bot_scopes
from slack_app.settings import load_settings
from tests.conftest import PG_URL


def settings_for(simulator, tmp_path, database_url, **overrides):
    values = dict(
        SLACK_BOT_TOKEN=simulator.bot_token, SLACK_SIGNING_SECRET="s", SLACK_API_URL=simulator.base_url,
        DATABASE_URL=database_url, ARCHIVE_URL=str(tmp_path / "archive"), HEARTH_MODERATOR_CHANNEL="GMODS",
        HEARTH_ENCRYPTION_KEY="", HEARTH_ENV="development",  # explicit: a development key is acceptable
    )
    values.update(overrides)
    return load_settings(env_file=None, **values)


def by_name(checks):
    return {c.name: c for c in checks}


def test_all_green_on_a_well_set_up_workspace(simulator, tmp_path, db, database_url):
    simulator.workspace.scopes = set(bot_scopes())
    checks = by_name(run_checks(settings_for(simulator, tmp_path, database_url)))
    assert [n for n, c in checks.items() if not c.ok] == []
    assert set(checks) == {"Settings", "Database", "Archive", "Slack token", "Scopes", "Moderator channel"}


def test_bad_token_missing_scopes_and_wrong_channels_each_name_a_fix(simulator, tmp_path, db, database_url):
    simulator.workspace.scopes = set(bot_scopes()) - {"im:write"}
    checks = by_name(run_checks(settings_for(simulator, tmp_path, database_url)))
    assert not checks["Scopes"].ok and "im:write" in checks["Scopes"].detail and "reinstall" in checks["Scopes"].fix

    checks = by_name(run_checks(settings_for(simulator, tmp_path, database_url, HEARTH_MODERATOR_CHANNEL="CGENERAL")))
    assert not checks["Moderator channel"].ok and "public" in checks["Moderator channel"].detail

    checks = by_name(run_checks(settings_for(simulator, tmp_path, database_url, HEARTH_MODERATOR_CHANNEL="GNOPE")))
    assert not checks["Moderator channel"].ok and "/invite @hearth" in checks["Moderator channel"].fix

    checks = by_name(run_checks(settings_for(simulator, tmp_path, database_url, SLACK_BOT_TOKEN="xoxb-wrong")))
    assert not checks["Slack token"].ok and "invalid_auth" in checks["Slack token"].detail
    assert "Scopes" not in checks


def test_unreachable_database_and_unwritable_archive_are_reported(simulator, tmp_path, database_url):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    checks = by_name(run_checks(settings_for(
        simulator, tmp_path, database_url, DATABASE_URL="postgresql://nobody@127.0.0.1:1/none",
        ARCHIVE_URL=str(blocker / "archive"))))
    assert not checks["Database"].ok and checks["Database"].fix
    assert not checks["Archive"].ok and checks["Archive"].fix
    assert all("Traceback" not in c.line() for c in checks.values())


def test_an_unmigrated_sqlite_database_is_upgraded_at_start_up_so_doctor_passes_it(simulator, tmp_path):
    fresh_sqlite = f"sqlite:///{tmp_path / 'fresh.db'}"
    check = by_name(run_checks(settings_for(simulator, tmp_path, fresh_sqlite)))["Database"]
    assert check.ok and "upgrades it" in check.detail  # start-up migrates SQLite by itself


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_an_unmigrated_postgresql_database_names_the_upgrade_command(simulator, tmp_path, database_url):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    empty = f"hearth_doctor_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(database_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{empty}"'))
    try:
        url = make_url(database_url).set(database=empty).render_as_string(hide_password=False)
        check = by_name(run_checks(settings_for(simulator, tmp_path, url)))["Database"]
        assert not check.ok and check.fix == "run `hearth db upgrade`"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{empty}" WITH (FORCE)'))
        admin.dispose()


def test_doctor_flags_a_missing_key_unless_development_mode_is_explicit(simulator, tmp_path, database_url):
    from slack_app.doctor import _settings

    check = _settings(load_settings(env_file=None, SLACK_SIGNING_SECRET="s", HEARTH_ENCRYPTION_KEY=""))
    assert not check.ok and "hearth keygen" in check.fix
    assert _settings(load_settings(env_file=None, SLACK_SIGNING_SECRET="s", HEARTH_ENCRYPTION_KEY="",
                                   HEARTH_ENV="development")).ok
