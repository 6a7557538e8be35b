"""The Slack port: the one module that calls Slack's Web API.

Use cases depend on the `SlackPort` protocol; `WebApiPort` implements it over slack_sdk's
`WebClient` on kept-alive connections (`slack_app.web_transport`; `make_client`: retry handlers for 429,
connection errors and 5xx, for the CLI and jobs;
`make_request_client`: never sleeps on a 429, for the request path) and `FakeSlackPort`
(`slack_app.fake_port`) records a transcript for use-case tests.

Each call is logged as method, ok/error and latency — never text, names or answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.web import SlackResponse

from slack_app.web_transport import PooledWebClient

log = logging.getLogger("hearth.slack")

Blocks = Sequence[dict[str, Any]]


class SlackError(Exception):
    """A Web API call failed; `error` is Slack's error code (e.g. `channel_not_found`), or the type name of
    the connection error when Slack never answered. `retry_after` is the 429 answer's Retry-After, in seconds."""

    def __init__(self, method: str, error: str, status: int | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"{method} failed: {error}")
        self.method = method
        self.error = error
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class Posted:
    channel: str
    ts: str


@dataclass(frozen=True)
class HistoryMessage:
    """A message as history lists it; only what delivery reconciliation needs (never its text)."""

    ts: str
    metadata: dict | None = None
    thread_ts: str | None = None


@dataclass(frozen=True)
class HistoryPage:
    messages: list[HistoryMessage]
    next_cursor: str | None = None


@dataclass(frozen=True)
class UserInfo:
    id: str
    tz: str | None
    is_bot: bool
    is_deleted: bool
    is_admin: bool
    is_owner: bool
    fields: Mapping[str, str] = field(default_factory=dict)  # profile title and custom fields, by name or id

    @property
    def is_human(self) -> bool:
        return not (self.is_bot or self.is_deleted) and self.id != "USLACKBOT"


@dataclass(frozen=True)
class ChannelInfo:
    id: str
    is_private: bool
    is_archived: bool
    is_member: bool


@dataclass(frozen=True)
class AuthInfo:
    team_id: str
    user_id: str
    bot_id: str | None
    scopes: frozenset[str]


class SlackPort(Protocol):
    def auth_test(self) -> AuthInfo: ...
    def post_message(
        self, channel: str, text: str, blocks: Blocks | None = None, *, thread_ts: str | None = None,
        metadata: dict | None = None,
    ) -> Posted: ...
    def update_message(self, channel: str, ts: str, text: str, blocks: Blocks | None = None) -> None: ...
    def post_ephemeral(self, channel: str, user: str, text: str, blocks: Blocks | None = None) -> None: ...
    def open_dm(self, users: Sequence[str]) -> str: ...
    def open_view(self, trigger_id: str, view: dict) -> str: ...
    def update_view(self, view_id: str, view: dict, *, hash: str | None = None) -> None: ...
    def push_view(self, trigger_id: str, view: dict) -> str: ...
    def publish_home(self, user_id: str, view: dict) -> None: ...
    def user_info(self, user_id: str) -> UserInfo: ...
    def channel_info(self, channel: str) -> ChannelInfo: ...
    def channel_members(self, channel: str) -> list[str]: ...
    def list_users(self) -> list[UserInfo]: ...
    def upload_file(
        self, channel: str, filename: str, content: bytes, *, title: str | None = None,
        initial_comment: str | None = None,
    ) -> str: ...
    def history(
        self, channel: str, *, oldest: str | None = None, limit: int = 200, cursor: str | None = None,
    ) -> HistoryPage: ...
    def replies(
        self, channel: str, ts: str, *, oldest: str | None = None, limit: int = 200, cursor: str | None = None,
    ) -> HistoryPage: ...


PortFactory = Callable[[str], SlackPort]  # team id → the port for that workspace (one token per install)


def retry_handlers(max_retries: int = 2) -> list:
    """429 honouring Retry-After, connection errors and 5xx, each retried with backoff."""
    return [
        RateLimitErrorRetryHandler(max_retry_count=max_retries),
        ConnectionErrorRetryHandler(max_retry_count=max_retries),
        ServerErrorRetryHandler(max_retry_count=max_retries),
    ]


def make_client(token: str | None, base_url: str, *, max_retries: int = 2, timeout: int = 10) -> WebClient:
    return PooledWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=retry_handlers(max_retries))


def make_request_client(token: str | None, base_url: str, *, timeout: int = 5) -> WebClient:
    """Bolt's client, used while a request is being answered: it never sleeps on a 429 (a Retry-After of
    seconds on a listener thread is how commands miss Slack's 3 s ack). The 429 surfaces as a SlackError
    with its `retry_after`; a caller defers the work to the outbox or, for an idempotent refresh like
    App Home, drops it with a log line. One quick retry for a dropped connection or a 5xx."""
    return PooledWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[
        ConnectionErrorRetryHandler(max_retry_count=1), ServerErrorRetryHandler(max_retry_count=1)])


def make_delivery_client(token: str | None, base_url: str, *, timeout: int = 10) -> WebClient:
    """A client that never retries or sleeps by itself: the delivery worker sees every 429 (with its
    Retry-After), 5xx and connection error, paces and retries from its own loop, and reconciles before it
    resends a message that may have been delivered."""
    return PooledWebClient(token=token, base_url=base_url, timeout=timeout, retry_handlers=[])


def _retry_after(response: SlackResponse) -> float | None:
    for name, value in (getattr(response, "headers", None) or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(0.0, float(value[0] if isinstance(value, list) else value))
            except (TypeError, ValueError):
                return None
    return None


def _connection_error_name(exc: Exception) -> str:
    """`URLError` wraps the interesting part (refused, reset, timed out): name that instead."""
    reason = getattr(exc, "reason", None)
    return type(reason).__name__ if isinstance(reason, BaseException) else type(exc).__name__


# Slack's docs recommend pages of no more than 200 for cursor-paginated methods (conversations.members,
# users.list); larger pages are slower and more likely to time out on big workspaces.
PAGE_LIMIT = 200


def user_of(u: dict) -> UserInfo:
    """A users.info / users.list user object, or the `user` of a user_change / team_join event."""
    return UserInfo(
        id=u["id"], tz=u.get("tz"), is_bot=bool(u.get("is_bot")), is_deleted=bool(u.get("deleted")),
        is_admin=bool(u.get("is_admin")), is_owner=bool(u.get("is_owner")), fields=profile_fields(u.get("profile")),
    )


def profile_fields(profile: Any) -> dict[str, str]:
    """The profile fields a buddy program can mix groups by: `title`, and custom fields by id (`Xf…`) when
    Slack includes them (`profile.fields`, each `{"value": …}`). Empty values are left out."""
    if not isinstance(profile, dict):
        return {}
    found = {"title": profile.get("title")}
    custom = profile.get("fields")
    if isinstance(custom, dict):
        found.update({k: v.get("value") for k, v in custom.items() if isinstance(v, dict)})
    return {k: v.strip() for k, v in found.items() if isinstance(v, str) and v.strip()}


class WebApiPort:
    """`SlackPort` over a `WebClient` (Bolt's request-scoped client or one made by `make_client`)."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def _call(self, method: str, fn, **kwargs) -> Any:
        started = time.perf_counter()
        outcome = "ok"
        try:
            return fn(**kwargs)
        except SlackApiError as exc:
            outcome = str(exc.response.get("error") or f"http_{exc.response.status_code}")
            raise SlackError(method, outcome, exc.response.status_code,
                             _retry_after(exc.response) if exc.response.status_code == 429 else None) from None
        except Exception as exc:  # connection problems after the retry handlers gave up
            outcome = _connection_error_name(exc)
            raise SlackError(method, outcome) from exc
        finally:
            log.info("slack.call method=%s result=%s ms=%.0f", method, outcome,
                     (time.perf_counter() - started) * 1000)

    def auth_test(self) -> AuthInfo:
        resp = self._call("auth.test", self.client.auth_test)
        scopes = resp.headers.get("x-oauth-scopes") or resp.headers.get("X-OAuth-Scopes") or ""
        return AuthInfo(
            team_id=resp["team_id"], user_id=resp["user_id"], bot_id=resp.get("bot_id"),
            scopes=frozenset(s.strip() for s in scopes.split(",") if s.strip()),
        )

    def post_message(self, channel, text, blocks=None, *, thread_ts=None, metadata=None) -> Posted:
        kwargs: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            kwargs["blocks"] = list(blocks)
        if thread_ts:
            kwargs["thread_ts"] = thread_ts
        if metadata:
            kwargs["metadata"] = metadata
        resp = self._call("chat.postMessage", self.client.chat_postMessage, **kwargs)
        return Posted(channel=resp["channel"], ts=resp["ts"])

    def update_message(self, channel, ts, text, blocks=None) -> None:
        # The message becomes exactly this: Slack keeps the old blocks when `blocks` is left out, so a
        # text-only update sends an empty list to remove them.
        self._call("chat.update", self.client.chat_update, channel=channel, ts=ts, text=text,
                   blocks=list(blocks or []))

    def post_ephemeral(self, channel, user, text, blocks=None) -> None:
        self._call("chat.postEphemeral", self.client.chat_postEphemeral, channel=channel, user=user,
                   text=text, blocks=list(blocks) if blocks else None)

    def open_dm(self, users) -> str:
        resp = self._call("conversations.open", self.client.conversations_open, users=",".join(users))
        return resp["channel"]["id"]

    def open_view(self, trigger_id, view) -> str:
        return self._call("views.open", self.client.views_open, trigger_id=trigger_id, view=view)["view"]["id"]

    def update_view(self, view_id, view, *, hash=None) -> None:
        self._call("views.update", self.client.views_update, view_id=view_id, view=view, hash=hash)

    def push_view(self, trigger_id, view) -> str:
        return self._call("views.push", self.client.views_push, trigger_id=trigger_id, view=view)["view"]["id"]

    def publish_home(self, user_id, view) -> None:
        self._call("views.publish", self.client.views_publish, user_id=user_id, view=view)

    def user_info(self, user_id) -> UserInfo:
        return user_of(self._call("users.info", self.client.users_info, user=user_id)["user"])

    def list_users(self) -> list[UserInfo]:
        """Everyone in the workspace (users.list, 200 a page as Slack recommends)."""
        found: list[UserInfo] = []
        cursor = None
        while True:
            resp = self._call("users.list", self.client.users_list, limit=PAGE_LIMIT, cursor=cursor)
            found.extend(user_of(u) for u in resp["members"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return found

    def channel_info(self, channel) -> ChannelInfo:
        c = self._call("conversations.info", self.client.conversations_info, channel=channel)["channel"]
        return ChannelInfo(
            id=c["id"], is_private=bool(c.get("is_private")), is_archived=bool(c.get("is_archived")),
            is_member=bool(c.get("is_member")),
        )

    def channel_members(self, channel) -> list[str]:
        members: list[str] = []
        cursor = None
        while True:
            resp = self._call("conversations.members", self.client.conversations_members,
                              channel=channel, limit=PAGE_LIMIT, cursor=cursor)
            members.extend(resp["members"])
            cursor = (resp.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return members

    def upload_file(self, channel, filename, content, *, title=None, initial_comment=None) -> str:
        resp = self._call("files.upload_v2", self.client.files_upload_v2, channel=channel, filename=filename,
                          content=content, title=title or filename, initial_comment=initial_comment)
        return resp["file"]["id"]

    def history(self, channel, *, oldest=None, limit=200, cursor=None) -> HistoryPage:
        resp = self._call("conversations.history", self.client.conversations_history, channel=channel,
                          oldest=oldest, limit=limit, cursor=cursor, include_all_metadata=True)
        return _page(resp)

    def replies(self, channel, ts, *, oldest=None, limit=200, cursor=None) -> HistoryPage:
        resp = self._call("conversations.replies", self.client.conversations_replies, channel=channel, ts=ts,
                          oldest=oldest, limit=limit, cursor=cursor, include_all_metadata=True)
        return _page(resp)


def _page(resp: SlackResponse) -> HistoryPage:
    messages = [HistoryMessage(ts=m["ts"], metadata=m.get("metadata"), thread_ts=m.get("thread_ts"))
                for m in resp.get("messages") or []]
    cursor = (resp.get("response_metadata") or {}).get("next_cursor") or None
    return HistoryPage(messages=messages, next_cursor=cursor if resp.get("has_more", True) else None)
