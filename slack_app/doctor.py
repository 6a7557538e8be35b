"""`hearth doctor`: a checklist of everything Hearth needs, each failure with its fix."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slack_app.manifest import bot_scopes
from slack_app.settings import Settings, reveal
from slack_app.slack_port import SlackError, SlackPort, WebApiPort, make_client
from storage import migrate
from storage.archive import open_archive
from storage.db import Database


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        mark = "✔" if self.ok else "✘"
        text = f"{mark} {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text}\n    fix: {self.fix}"


def run_checks(settings: Settings, slack: SlackPort | None = None) -> list[Check]:
    checks = [_settings(settings), _database(settings), _archive(settings)]
    if not settings.SLACK_BOT_TOKEN:
        checks.append(Check("Slack token", False, "SLACK_BOT_TOKEN is not set",
                            "install the app from manifest.yml and copy the Bot User OAuth Token"))
        return checks
    slack = slack or WebApiPort(make_client(reveal(settings.SLACK_BOT_TOKEN), settings.SLACK_API_URL, max_retries=1))
    try:
        auth = slack.auth_test()
    except SlackError as exc:
        checks.append(Check("Slack token", False, f"auth.test answered {exc.error}",
                            "copy a fresh Bot User OAuth Token from OAuth & Permissions into SLACK_BOT_TOKEN"))
        return checks
    checks.append(Check("Slack token", True, f"valid for team {auth.team_id} as bot user {auth.user_id}"))
    checks.append(_scopes(auth.scopes))
    checks.append(_moderator_channel(settings, slack))
    return checks


def _guard(name: str, fix: str, probe: Callable[[], Check]) -> Check:
    try:
        return probe()
    except Exception as exc:  # a check must report, not crash the checklist
        return Check(name, False, f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}", fix)


def _settings(settings: Settings) -> Check:
    missing = [n for n in ("SLACK_SIGNING_SECRET",) if not getattr(settings, n)]
    if missing:
        return Check("Settings", False, f"{', '.join(missing)} not set",
                     "copy the Signing Secret from Basic Information into SLACK_SIGNING_SECRET")
    if not settings.HEARTH_ENCRYPTION_KEY:
        return Check("Settings", settings.explicit_development,
                     "HEARTH_ENCRYPTION_KEY not set" + (" (HEARTH_ENV=development: a development key in your "
                                                        "config folder is used)" if settings.explicit_development
                                                        else ""),
                     "run `hearth keygen` and set HEARTH_ENCRYPTION_KEY")
    return Check("Settings", True, "loaded")


def _database(settings: Settings) -> Check:
    def probe() -> Check:
        db = Database(settings.DATABASE_URL)
        try:
            if not db.ping():
                return Check("Database", False, "not reachable", "check DATABASE_URL and that the server runs")
            current, head = migrate.current_revision(db), migrate.head_revision()
            if current != head:
                if db.is_sqlite:  # start-up upgrades SQLite itself: nothing is wrong yet
                    return Check("Database", True, f"SQLite at schema {current or 'none'}; "
                                 f"`hearth run`/`serve` upgrades it to {head} when it starts")
                return Check("Database", False, f"schema at {current or 'none'}, newest is {head}",
                             "run `hearth db upgrade`")
            return Check("Database", True, f"reachable, schema {current}")
        finally:
            db.dispose()

    return _guard("Database", "check DATABASE_URL", probe)


def _archive(settings: Settings) -> Check:
    def probe() -> Check:
        archive = open_archive(settings.ARCHIVE_URL)
        problem = archive.check()
        if problem:
            return Check("Archive", False, f"{archive.describe()}: {problem}",
                         "check ARCHIVE_URL and, for S3, the AWS_* credentials and the bucket")
        return Check("Archive", True, f"{archive.describe()} is writable")

    return _guard("Archive", "check ARCHIVE_URL", probe)


def _scopes(granted: frozenset[str]) -> Check:
    missing = sorted(bot_scopes() - granted)
    if missing:
        return Check("Scopes", False, f"missing {', '.join(missing)}",
                     "update the app from manifest.yml (or add the scopes) and reinstall it to the workspace")
    return Check("Scopes", True, f"all {len(bot_scopes())} scopes of manifest.yml granted")


def _moderator_channel(settings: Settings, slack: SlackPort) -> Check:
    channel = settings.HEARTH_MODERATOR_CHANNEL
    if not channel:
        return Check("Moderator channel", False, "HEARTH_MODERATOR_CHANNEL is not set",
                     "create a private channel for moderators, /invite @hearth there, and set its id")
    try:
        info = slack.channel_info(channel)
    except SlackError as exc:
        if exc.error == "channel_not_found":
            return Check("Moderator channel", False, f"{channel} not found (or private without the bot)",
                         "/invite @hearth in that channel, or set HEARTH_MODERATOR_CHANNEL to the right id")
        return Check("Moderator channel", False, f"conversations.info answered {exc.error}", "retry later")
    if not info.is_private:
        return Check("Moderator channel", False, f"{channel} is public: reports must stay private",
                     "create a private channel, /invite @hearth, and set HEARTH_MODERATOR_CHANNEL to it")
    if info.is_archived:
        return Check("Moderator channel", False, f"{channel} is archived", "unarchive it or choose another channel")
    if not info.is_member:
        return Check("Moderator channel", False, f"the bot is not in {channel}", "/invite @hearth in that channel")
    return Check("Moderator channel", True, f"{channel} is private and the bot is in it")

