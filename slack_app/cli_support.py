"""What every `hearth` subcommand shares: logging set-up, settings loading, and one-line failures.

Every failure a person can fix ends in one line on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps

import click
from sqlalchemy.exc import OperationalError

from slack_app.settings import Settings, SettingsError, load_settings


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
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


