"""`hearth doctor` against the simulator: each failure names its fix."""

from slack_app.doctor import run_checks
from slack_app.manifest import bot_scopes
from slack_app.settings import load_settings


def settings_for(simulator, tmp_path, database_url, **overrides):
    values = dict(
        SLACK_BOT_TOKEN=simulator.bot_token, SLACK_SIGNING_SECRET="s", SLACK_API_URL=simulator.base_url,
        DATABASE_URL=database_url, ARCHIVE_URL=str(tmp_path / "archive"), HEARTH_MODERATOR_CHANNEL="GMODS",
        HEARTH_ENCRYPTION_KEY="",
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
