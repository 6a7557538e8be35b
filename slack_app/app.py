"""The composition root: `build_app(settings)` wires storage, Slack and every listed workflow's listeners.

There is no module-level `App`; tests build as many apps as they need, with any list of workflows.
Only the entry points (CLI, web server, simulate) import this module, so it may import everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field

from slack_bolt import App, BoltContext, BoltResponse
from slack_bolt.authorization.authorize import InstallationStoreAuthorize
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

from handlers import fallbacks
from slack_app import listener_errors
from slack_app.manifest import bot_scopes
from slack_app.niced import NicedProcess
from slack_app.request_path import AfterAck, listener_executor
from slack_app.services import Services, build_services
from slack_app.settings import Settings, SettingsError, reveal
from slack_app.slack_port import WebApiPort, make_request_client
from slack_app.web_transport import PooledRespond, pooled
from slack_app.workflow import Workflow
from slack_app.workflows import WORKFLOWS
from storage import events
from storage.db import Database
from storage.installations import EncryptedInstallationStore, oauth_state_store

log = logging.getLogger("hearth.app")

# Events whose listener only redraws what a member sees (idempotent, best effort): a retry may run it again.
REDRAWN_EVENTS = frozenset({"app_home_opened"})


@dataclass
class Hearth:
    bolt: App
    services: Services
    oauth_flow: OAuthFlow | None
    after_ack: AfterAck = field(default_factory=AfterAck)
    listeners: Executor | None = None

    @property
    def db(self) -> Database:
        return self.services.db

    def settle(self) -> None:
        """Let the listeners and after-ack work in flight end, taking no more: nothing of this app then holds
        a transaction open (tests empty the tables next)."""
        if self.listeners is not None:
            self.listeners.shutdown(wait=True)
        self.after_ack.shutdown(wait=True)

    def close(self) -> None:
        self.after_ack.shutdown(wait=False)
        self.services.db.dispose()


def build_app(settings: Settings, *, services: Services | None = None,
              workflows: Sequence[Workflow] | None = None, niced_process: bool = False) -> Hearth:
    """A Bolt app serving `workflows` (default: every workflow in `slack_app.workflows`, or those of
    `services` when given). `niced_process`: App Homes and report routing run in a lower-priority process of
    their own (`hearth serve` and `hearth run`; it builds every workflow's services from `settings`)."""
    if not settings.SLACK_SIGNING_SECRET:
        raise SettingsError("SLACK_SIGNING_SECRET is not set: Hearth cannot verify requests from Slack without it. "
                            "Copy it from your app's Basic Information page.")
    if not settings.has_slack_credentials:
        raise SettingsError("SLACK_BOT_TOKEN is not set (nor SLACK_CLIENT_ID/SLACK_CLIENT_SECRET for OAuth). "
                            "Install the app from manifest.yml and copy its bot token.")
    if services is None:
        services = build_services(settings, workflows=WORKFLOWS if workflows is None else workflows)
    elif workflows is not None:
        raise ValueError("give the workflows to build_services, or to build_app, not both")
    # The request path never sleeps on a 429 and acks on threads of its own: slow best-effort work after
    # the ack goes to the bounded `after_ack` pool (App Home and report routing, with `niced_process`, to a
    # niced process), so a burst of Home opens cannot hold up a command's ack (bench/ack_burst.py measures it).
    client = make_request_client(reveal(settings.SLACK_BOT_TOKEN), settings.SLACK_API_URL)
    after_ack = AfterAck(niced=NicedProcess(settings) if niced_process else None)
    listeners = listener_executor()
    oauth_flow = _oauth_flow(settings, services) if settings.oauth_enabled else None
    bolt_log = logging.getLogger("hearth.bolt")
    if bolt_log.level < logging.INFO:  # NOTSET too: Bolt's DEBUG lines print request and response bodies
        bolt_log.setLevel(logging.INFO)  # (member text), whatever level the rest of Hearth logs at
    bolt = App(
        # Bolt copies the level, handlers and filters of `logger` onto the logger named after the app at every
        # request: named "hearth", it would reset Hearth's own loggers (and their level) each time.
        name="hearth.bolt",
        signing_secret=reveal(settings.SLACK_SIGNING_SECRET),
        client=client,  # carries the bot token (none with OAuth), the API URL and the retry handlers
        listener_executor=listeners,
        oauth_flow=oauth_flow,
        authorize=_installed_authorize(oauth_flow, client) if oauth_flow else None,
        installation_store=oauth_flow.settings.installation_store if oauth_flow else None,
        installation_store_bot_only=True if oauth_flow else None,
        logger=bolt_log,
    )
    if oauth_flow:
        bolt.enable_token_revocation_listeners()
    listener_errors.install(bolt, services)  # first: every listener gets a StickyAck
    _install_middleware(bolt, services, after_ack)
    for workflow in services.workflows:
        for register in workflow.listeners:
            register(bolt)
    fallbacks.register(bolt)  # last: Bolt takes the first listener that matches
    return Hearth(bolt=bolt, services=services, oauth_flow=oauth_flow, after_ack=after_ack, listeners=listeners)


def _oauth_flow(settings: Settings, services: Services) -> OAuthFlow:
    store = EncryptedInstallationStore(settings.SLACK_CLIENT_ID or "", services.db, services.crypto)
    base = settings.SLACK_API_URL.removesuffix("api/")
    oauth_settings = OAuthSettings(
        client_id=settings.SLACK_CLIENT_ID,
        client_secret=reveal(settings.SLACK_CLIENT_SECRET),
        scopes=sorted(bot_scopes()),
        installation_store=store,
        installation_store_bot_only=True,
        state_store=oauth_state_store(services.db),
        authorization_url=f"{base}oauth/v2/authorize",
    )
    return OAuthFlow(client=WebClient(base_url=settings.SLACK_API_URL), settings=oauth_settings)


def _installed_authorize(oauth_flow: OAuthFlow, client: WebClient) -> InstallationStoreAuthorize:
    """Bolt's authorize for installed workspaces, keeping Slack's auth.test answer per token. Bolt's default
    asks auth.test before every ack: a Web API round trip on the request path, and past Slack's burst for it a
    429 that leaves the request unanswered. The installation itself is still read at each request (one indexed
    row), so an uninstall or a new token takes effect at once on every instance."""
    settings = oauth_flow.settings
    return InstallationStoreAuthorize(
        logger=logging.getLogger("hearth.bolt.authorize"), installation_store=settings.installation_store,
        client_id=settings.client_id, client_secret=settings.client_secret, bot_only=True, cache_enabled=True,
        client=client)


def _install_middleware(bolt: App, services: Services, after_ack: AfterAck) -> None:
    @bolt.middleware
    def inject_services(context: BoltContext, client: WebClient, next: Callable[[], BoltResponse]) -> BoltResponse:
        """Listeners take `services`, `slack` and `after_ack` as arguments (Bolt injects context keys by name)."""
        context["services"] = services
        context["slack"] = WebApiPort(pooled(client))
        context["after_ack"] = after_ack
        if context.response_url:  # before Bolt makes its own respond(), which opens a connection per post
            context["respond"] = PooledRespond(response_url=context.response_url, proxy=client.proxy, ssl=client.ssl)
        return next()

    @bolt.middleware
    def drop_event_retries(body: dict, next: Callable[[], BoltResponse]) -> BoltResponse:
        """Slack redelivers an event it thinks was lost; each envelope's event_id runs once. Except a Home open
        (`REDRAWN_EVENTS`): drawing a Home again changes nothing, and recording each one wrote and committed a
        row before every Home open's ack, a quarter of a busy day's requests."""
        if (body.get("type") == "event_callback" and body.get("event_id")
                and (body.get("event") or {}).get("type") not in REDRAWN_EVENTS):
            if not events.first_sighting(services.db, body["event_id"], body.get("team_id")):
                log.info("event.duplicate event_id=%s", body["event_id"])
                return BoltResponse(status=200, body="")
        return next()
