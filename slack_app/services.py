"""What use cases need from the running app, in one typed value handed to every listener, job and command.

Built once by the composition root (`slack_app.app.build_services`); listeners receive it as the Bolt
argument `services`. It holds no Slack client: a use case that talks to Slack is given a `SlackPort`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from slack_app.copy import Copy
from slack_app.settings import Settings
from storage import migrate, outbox
from storage.archive import Archive, open_archive
from storage.crypto import Crypto, load_crypto
from storage.db import Database, sqlite_path
from storage.errors import SettingsError

if TYPE_CHECKING:
    from slack_app.workflow import Workflow


@dataclass(frozen=True)
class Services:
    settings: Settings
    db: Database
    crypto: Crypto
    copy: Copy
    archive: Archive | None
    workflows: Sequence[Workflow]  # the installed workflows: App Home draws their sections in this order


def build_services(settings: Settings, db: Database | None = None, *,
                   workflows: Sequence[Workflow]) -> Services:
    crypto = load_settings_crypto(settings)
    db = db or Database(settings.DATABASE_URL)
    db.crypto = crypto  # the key this database's encrypted columns (the outbox's among them) are read with
    prepare_database(db)
    return Services(
        settings=settings,
        db=db,
        crypto=crypto,
        copy=Copy(settings.HEARTH_TEMPLATES_DIR),
        archive=open_archive(settings.ARCHIVE_URL, settings.s3_options),
        workflows=tuple(workflows),
    )


def load_settings_crypto(settings: Settings) -> Crypto:
    """The configured key; without one, a generated key only in explicit development mode (HEARTH_ENV=development),
    kept in the user's config folder and never beside an SQLite database."""
    return load_crypto(settings.HEARTH_ENCRYPTION_KEY, production=settings.is_production,
                       development=settings.explicit_development, database_path=sqlite_path(settings.DATABASE_URL))


def prepare_database(db: Database) -> None:
    """SQLite is upgraded in place; a shared PostgreSQL is upgraded deliberately with `hearth db upgrade`."""
    if db.is_sqlite:
        migrate.upgrade(db)
    elif not migrate.is_up_to_date(db):
        raise SettingsError(
            f"DATABASE_URL points at a database at revision {migrate.current_revision(db) or 'none'}, "
            f"but this Hearth needs {migrate.head_revision()}; run `hearth db upgrade` first."
        )
    with db.reader() as s:
        outbox.keys_in_clear_remain(s)  # its one scan of the outbox, now rather than in a member's request
