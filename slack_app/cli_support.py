"""What every `hearth` subcommand shares: one `CliContext`, logging set-up, and one-line failures.

Every failure a person can fix ends in one line on stderr and exit status 2, never a traceback.
A command takes the context with `@pass_cli` and asks it only for what it needs (settings, the database,
the services, a Slack port): each is built on first use, so `hearth outbox status` never loads templates
and `hearth db current` never talks to Slack.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import cached_property, wraps
from typing import TYPE_CHECKING, NoReturn

import click
from sqlalchemy.exc import OperationalError

from slack_app import log_privacy
from slack_app.settings import Settings, SettingsError, load_settings, reveal

if TYPE_CHECKING:
    from slack_app.scheduling.registry import JobBook
    from slack_app.services import Services
    from slack_app.slack_port import SlackPort
    from slack_app.workflow import Workflow
    from storage.crypto import Crypto
    from storage.db import Database


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(process)d %(levelname)s %(name)s %(message)s")
    log_privacy.install()  # no Slack user id reaches a log line, whoever wrote it (docs/privacy.md)
    # Library debug logs print request bodies; they carry member text, so they never go below INFO.
    for name in ("slack_bolt", "slack_sdk", "hearth.bolt", "urllib3", "botocore", "boto3"):
        logging.getLogger(name).setLevel(max(logging.getLevelName(level), logging.INFO))
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    # Alembic narrates every migration step at INFO; keep the console for what an operator must act on.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def friendly(fn: Callable) -> Callable:
    """Turn a `SettingsError` into one line and exit status 2."""

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SettingsError as exc:
            click.echo(f"hearth: {exc}", err=True)
            sys.exit(2)
        except OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "connection failed"
            click.echo(f"hearth: cannot reach the database in DATABASE_URL ({reason}); check it is running.", err=True)
            sys.exit(2)

    return wrapper


def cli_settings() -> Settings:
    settings = load_settings()
    configure_logging(settings.HEARTH_LOG_LEVEL)
    return settings


def age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(max(0, seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def when(dt: datetime | None) -> str:
    if dt is None:
        return "paused"
    delta = (dt - datetime.now(UTC)).total_seconds()
    return f"{dt.astimezone(UTC):%Y-%m-%d %H:%M}Z (in {age(delta)})" if delta >= 0 else \
        f"{dt.astimezone(UTC):%Y-%m-%d %H:%M}Z (due)"


def fail(message: str) -> NoReturn:
    """One line on stderr and exit status 2: something the person can fix."""
    click.echo(f"hearth: {message}", err=True)
    sys.exit(2)


class CliContext:
    """Settings, database, services and Slack for one `hearth` invocation, each built on first use."""

    def __init__(self, workflows: Sequence[Workflow] | None = None) -> None:
        self._workflows = tuple(workflows) if workflows is not None else None

    @property
    def workflows(self) -> tuple[Workflow, ...]:
        if self._workflows is None:
            from slack_app.workflows import WORKFLOWS

            self._workflows = WORKFLOWS
        return self._workflows

    @cached_property
    def settings(self) -> Settings:
        return cli_settings()

    @cached_property
    def db(self) -> Database:
        """The database, migrated (SQLite) or checked to be at the newest revision (PostgreSQL)."""
        from slack_app.services import prepare_database
        from storage.db import Database

        db = Database(self.settings.DATABASE_URL)
        prepare_database(db)
        if self.settings.HEARTH_ENCRYPTION_KEY or self.settings.explicit_development:
            db.crypto = self.keyring  # commands that only count rows work without a key
        return db

    @cached_property
    def services(self) -> Services:
        from slack_app.services import build_services

        return build_services(self.settings, self.db, workflows=self.workflows)

    @cached_property
    def keyring(self) -> Crypto:
        """The configured encryption key (one line naming the fix when there is none)."""
        if "services" in self.__dict__:
            return self.services.crypto
        from slack_app.services import load_settings_crypto

        return load_settings_crypto(self.settings)

    @cached_property
    def crypto(self) -> Crypto | None:
        """The key that reads stored OAuth tokens (None with a single bot token: nothing to decrypt)."""
        if "services" in self.__dict__:
            return self.services.crypto
        if not self.settings.oauth_enabled:
            return None
        return self.keyring

    @cached_property
    def book(self) -> JobBook:
        """Every workflow's scheduled actions and jobs."""
        from slack_app.scheduling.registry import JobBook

        return JobBook(w.jobs for w in self.workflows)

    @cached_property
    def slack(self) -> SlackPort:
        """The single workspace's Slack, with the bot token (commands that act in one workspace)."""
        from slack_app.slack_port import WebApiPort, make_client

        self.settings.require("SLACK_BOT_TOKEN", why="this command talks to Slack with the bot token")
        return WebApiPort(make_client(reveal(self.settings.SLACK_BOT_TOKEN), self.settings.SLACK_API_URL))

    @cached_property
    def team_id(self) -> str:
        from slack_app.slack_port import SlackError

        try:
            return self.slack.auth_test().team_id
        except SlackError as exc:
            raise SettingsError(f"Slack refused the bot token ({exc.error}); check SLACK_BOT_TOKEN.") from None

    def close(self) -> None:
        if "db" in self.__dict__:
            self.db.dispose()


pass_cli = click.make_pass_decorator(CliContext, ensure=True)
