"""The composition root: `build_app(settings)` wires storage, Slack and the listeners.

There is no module-level `App`; tests build as many apps as they need.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

import handlers
from slack_app.copy import Copy
from slack_app.manifest import bot_scopes
from slack_app.settings import Settings, SettingsError
from slack_app.slack_port import WebApiPort, make_client
from storage import events, migrate
from storage.archive import Archive, open_archive
from storage.crypto import Crypto, load_crypto
from storage.db import Database
from storage.installations import EncryptedInstallationStore, oauth_state_store

log = logging.getLogger("hearth.app")


@dataclass
class Services:
    """What use cases need, handed to listeners through Bolt's context as `context["services"]`."""

    settings: Settings
    db: Database
    crypto: Crypto
    copy: Copy
    archive: Archive
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Hearth:
    bolt: App
    services: Services
    oauth_flow: OAuthFlow | None

    @property
    def db(self) -> Database:
        return self.services.db

    def close(self) -> None:
        self.services.db.dispose()


def build_services(settings: Settings, db: Database | None = None) -> Services:
    db = db or Database(settings.DATABASE_URL)
    prepare_database(db)
    return Services(
        settings=settings,
        db=db,
        crypto=load_crypto(settings.HEARTH_ENCRYPTION_KEY, production=settings.is_production),
        copy=Copy(settings.HEARTH_TEMPLATES_DIR),
        archive=open_archive(settings.ARCHIVE_URL),
    )


def prepare_database(db: Database) -> None:
    """SQLite is upgraded in place; a shared PostgreSQL is upgraded deliberately with `hearth db upgrade`."""
    if db.is_sqlite:
        migrate.upgrade(db)
    elif not migrate.is_up_to_date(db):
        raise SettingsError(
            f"DATABASE_URL points at a database at revision {migrate.current_revision(db) or 'none'}, "
            f"but this Hearth needs {migrate.head_revision()}; run `hearth db upgrade` first."
        )


def build_app(settings: Settings, *, services: Services | None = None) -> Hearth:
    if not settings.SLACK_SIGNING_SECRET:
        raise SettingsError("SLACK_SIGNING_SECRET is not set: Hearth cannot verify requests from Slack without it. "
                            "Copy it from your app's Basic Information page.")
    if not settings.has_slack_credentials:
        raise SettingsError("SLACK_BOT_TOKEN is not set (nor SLACK_CLIENT_ID/SLACK_CLIENT_SECRET for OAuth). "
                            "Install the app from manifest.yml and copy its bot token.")
    services = services or build_services(settings)
    client = make_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL)
    oauth_flow = _oauth_flow(settings, services) if settings.oauth_enabled else None
    bolt = App(
        name="hearth",
        signing_secret=settings.SLACK_SIGNING_SECRET,
        client=client,  # carries the bot token (none with OAuth), the API URL and the retry handlers
        oauth_flow=oauth_flow,
        installation_store=oauth_flow.settings.installation_store if oauth_flow else None,
        installation_store_bot_only=True if oauth_flow else None,
        logger=logging.getLogger("hearth.bolt"),
    )
    if oauth_flow:
        bolt.enable_token_revocation_listeners()
    _install_middleware(bolt, services)
    handlers.register_all(bolt)
    return Hearth(bolt=bolt, services=services, oauth_flow=oauth_flow)


def _oauth_flow(settings: Settings, services: Services) -> OAuthFlow:
    store = EncryptedInstallationStore(settings.SLACK_CLIENT_ID or "", services.db, services.crypto)
    base = settings.SLACK_API_URL.removesuffix("api/")
    oauth_settings = OAuthSettings(
        client_id=settings.SLACK_CLIENT_ID,
        client_secret=settings.SLACK_CLIENT_SECRET,
        scopes=sorted(bot_scopes()),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=oauth_state_store(services.db),
        authorization_url=f"{base}oauth/v2/authorize",
    )
    return OAuthFlow(client=WebClient(base_url=settings.SLACK_API_URL), settings=oauth_settings)


def _install_middleware(bolt: App, services: Services) -> None:
    @bolt.middleware
    def inject_services(context, client, next):  # noqa: ANN001 - Bolt injects by parameter name
        context["services"] = services
        context["slack"] = WebApiPort(client)
        return next()

    @bolt.middleware
    def drop_event_retries(body, next):  # noqa: ANN001
        """Slack redelivers an event it thinks was lost; each envelope's event_id runs once."""
        if body.get("type") == "event_callback" and body.get("event_id"):
            if not events.first_sighting(services.db, body["event_id"], body.get("team_id")):
                log.info("event.duplicate event_id=%s", body["event_id"])
                return BoltResponse(status=200, body="")
        return next()
