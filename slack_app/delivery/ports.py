"""Port factories for the worker and jobs: team id → a `SlackPort`.

The delivery worker's ports never sleep or retry by themselves (`make_delivery_client`): the worker paces,
honours Retry-After and reconciles. Jobs get `retrying=True` ports (slack_sdk's retry handlers, which
sleep in the job's own thread) for the reads they make (members, channel info); what they send goes
through the outbox. A single-workspace install has one bot token; an OAuth install looks each team's bot
token up in the installation store (`InstallationStore.find_bot`), cached per team for `ttl` seconds so a
re-installed or revoked token is picked up within that time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from slack_app.slack_port import SlackPort, WebApiPort, make_client, make_delivery_client

if TYPE_CHECKING:
    from slack_sdk import WebClient
    from slack_sdk.oauth.installation_store import InstallationStore

    from slack_app.settings import Settings
    from storage.crypto import Crypto
    from storage.db import Database


class NotInstalled(LookupError):
    """No bot token for this team (the app was uninstalled, or the team was never installed)."""


def _client(token: str, base_url: str, timeout: int, retrying: bool) -> WebClient:
    return make_client(token, base_url, timeout=timeout) if retrying else \
        make_delivery_client(token, base_url, timeout=timeout)


def single_workspace(token: str, base_url: str, *, timeout: int = 10, retrying: bool = False,
                     ) -> Callable[[str], SlackPort]:
    port = WebApiPort(_client(token, base_url, timeout, retrying))
    return lambda _team_id: port


def from_installation_store(store: InstallationStore, base_url: str, *, ttl: float = 300.0,
                            timeout: int = 10, retrying: bool = False) -> Callable[[str], SlackPort]:
    cache: dict[str, tuple[float, SlackPort]] = {}
    lock = threading.Lock()

    def port_for(team_id: str) -> SlackPort:
        now = time.monotonic()
        with lock:
            hit = cache.get(team_id)
            if hit and hit[0] > now:
                return hit[1]
        bot = store.find_bot(enterprise_id=None, team_id=team_id)
        if bot is None or not bot.bot_token:
            raise NotInstalled(team_id)
        port = WebApiPort(_client(bot.bot_token, base_url, timeout, retrying))
        with lock:
            if len(cache) > 10_000:  # bounded: drop everything rather than grow without end
                cache.clear()
            cache[team_id] = (now + ttl, port)
        return port

    return port_for


def for_settings(settings: Settings, db: Database | None = None, crypto: Crypto | None = None, *, retrying: bool = False,
                 ) -> Callable[[str], SlackPort]:
    """The port factory the app's settings call for: the bot token, or the (encrypted) installation store."""
    if settings.SLACK_BOT_TOKEN:
        return single_workspace(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL, retrying=retrying)
    if settings.oauth_enabled and db is not None and crypto is not None:
        from storage.installations import EncryptedInstallationStore

        store = EncryptedInstallationStore(settings.SLACK_CLIENT_ID or "", db, crypto)
        return from_installation_store(store, settings.SLACK_API_URL, retrying=retrying)
    raise NotInstalled("no SLACK_BOT_TOKEN and no OAuth installation store")
