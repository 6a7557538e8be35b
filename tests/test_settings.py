import pytest

from slack_app.settings import SettingsError, load_settings

ENV_NAMES = ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET",
             "SLACK_API_URL", "DATABASE_URL", "ARCHIVE_URL", "HEARTH_ENCRYPTION_KEY", "HEARTH_MODERATOR_CHANNEL",
             "HEARTH_TIMEZONE", "HEARTH_TEMPLATES_DIR", "HEARTH_ENV", "HEARTH_ADMINS"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_defaults_are_the_embedded_sqlite_and_archive_folder():
    s = load_settings(env_file=None)
    assert s.DATABASE_URL == "sqlite:///var/hearth.db"
    assert s.ARCHIVE_URL == "var/archive"
    assert s.SLACK_API_URL == "https://slack.com/api/"
    assert not s.has_slack_credentials and not s.is_production


def test_env_file_is_read_and_environment_wins(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text("HEARTH_TIMEZONE=Europe/Berlin\nHEARTH_ADMINS=U1, U2\nSLACK_API_URL=http://127.0.0.1:9/api\n")
    monkeypatch.setenv("HEARTH_TIMEZONE", "Asia/Tokyo")
    s = load_settings(env_file=env)
    assert s.HEARTH_TIMEZONE == "Asia/Tokyo"
    assert s.admins == {"U1", "U2"}
    assert s.SLACK_API_URL == "http://127.0.0.1:9/api/"


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SLACK_BOT_TOKEN", "xoxp-user", "SLACK_BOT_TOKEN must be a bot token starting with xoxb-"),
        ("SLACK_APP_TOKEN", "xoxb-1", "SLACK_APP_TOKEN must be an app-level token"),
        ("DATABASE_URL", "mysql://db/x", "DATABASE_URL must be an sqlite:// or postgresql:// URL"),
        ("ARCHIVE_URL", "ftp://host/x", "ARCHIVE_URL has an unsupported scheme 'ftp'"),
        ("ARCHIVE_URL", "s3://", "ARCHIVE_URL names no bucket"),
        ("HEARTH_TIMEZONE", "Mars/Olympus", "HEARTH_TIMEZONE 'Mars/Olympus' is not a known time zone"),
        ("HEARTH_TEMPLATES_DIR", "/nonexistent/templates", "HEARTH_TEMPLATES_DIR /nonexistent/templates is not a folder"),
        ("HEARTH_MODERATOR_CHANNEL", "#mods", "HEARTH_MODERATOR_CHANNEL is not a channel id"),
        ("HEARTH_ENV", "staging", "HEARTH_ENV"),
        ("SLACK_API_URL", "slack.com", "SLACK_API_URL is not an http(s) URL"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_the_variable_and_the_fix(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings(env_file=None)
    message = str(info.value)
    assert message.startswith(expected)
    assert "\n" not in message
    assert ";" in message  # the fix follows the problem


def test_production_requires_an_encryption_key(monkeypatch):
    monkeypatch.setenv("HEARTH_ENV", "production")
    with pytest.raises(SettingsError, match="^HEARTH_ENCRYPTION_KEY is not set"):
        load_settings(env_file=None)


def test_oauth_needs_both_client_id_and_secret(monkeypatch):
    monkeypatch.setenv("SLACK_CLIENT_ID", "123.456")
    with pytest.raises(SettingsError, match="SLACK_CLIENT_SECRET"):
        load_settings(env_file=None)
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "s3cret")
    assert load_settings(env_file=None).oauth_enabled


def test_admins_and_escalation_contacts_must_be_user_ids():
    assert load_settings(env_file=None, HEARTH_ESCALATION_CONTACTS="U1, W2").escalation_contacts == {"U1", "W2"}
    for name in ("HEARTH_ADMINS", "HEARTH_ESCALATION_CONTACTS"):
        with pytest.raises(SettingsError, match=f"{name} is not a list of user ids; use comma-separated"):
            load_settings(env_file=None, **{name: "@alice"})
