"""The Web API methods Hearth calls, answered from an in-memory workspace with Slack's shapes and errors.

`SlackState` is not thread-safe by itself: the HTTP server calls it under one lock.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_app.simulator.errors import ApiError, invalid_arguments
from slack_app.simulator.modals import Modals
from slack_app.simulator.params import api_message, flag, id_list, message_content, paginate, to_int, ts_bound
from slack_app.simulator.transcript import Seen, message_text
from slack_app.simulator.workspace import Channel, User, Workspace

MAX_GROUP_DM_USERS = 8  # conversations.open: 1 to 8 people besides the app

Handler = Callable[[dict[str, Any], "Caller"], dict[str, Any]]


@dataclass(frozen=True)
class Caller:
    """Who is calling: the bearer token (if any) and the client credentials of oauth.v2.access."""

    token: str | None
    basic_auth: tuple[str, str] | None = None


@dataclass
class SlackState:
    """The workspace's conversations, messages, files and installs, and the Web API methods over them."""

    workspace: Workspace
    clock: Callable[[], float]
    files_url: str = ""  # where uploads go; set once the server knows its port
    client_id: str | None = None
    client_secret: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)  # token -> team_id
    seen: list[Seen] = field(default_factory=list)
    channel_messages: dict[str, list[dict]] = field(default_factory=dict)
    ephemeral_messages: list[dict] = field(default_factory=list)
    uploads: dict[str, dict] = field(default_factory=dict)  # file_id -> pending upload
    shared_files: dict[str, list[dict]] = field(default_factory=dict)  # channel -> files
    oauth_codes: dict[str, str] = field(default_factory=dict)  # code -> installing user
    response_urls: dict[str, dict] = field(default_factory=dict)
    response_posts: list[dict] = field(default_factory=list)
    refused_response_posts: list[dict] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._last_ts_us = 0
        self._ids = itertools.count(1)
        self.modals = Modals(self.workspace, self.clock, self.seen, self.new_id)
        self._mpims: dict[frozenset[str], str] = {}

    @property
    def bot(self) -> str:
        return self.workspace.bot_user_id

    def handlers(self) -> dict[str, Handler]:
        return {
            "auth.test": self.auth_test,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "conversations.open": self.conversations_open,
            "conversations.info": self.conversations_info,
            "conversations.members": self.conversations_members,
            "conversations.history": self.conversations_history,
            "conversations.replies": self.conversations_replies,
            "conversations.join": self.conversations_join,
            "users.info": self.users_info,
            "users.list": self.users_list,
            "views.open": self.modals.views_open,
            "views.push": self.modals.views_push,
            "views.update": self.modals.views_update,
            "views.publish": self.modals.views_publish,
            "files.getUploadURLExternal": self.files_get_upload_url,
            "files.completeUploadExternal": self.files_complete_upload,
            "oauth.v2.access": self.oauth_v2_access,
        }

    # ---- ids, scopes, conversations ------------------------------------------------------------------

    def next_ts(self) -> str:
        """Slack message timestamps: wall-clock seconds with microseconds, unique and strictly increasing."""
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        return f"{self._last_ts_us // 1_000_000}.{self._last_ts_us % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0SIM{next(self._ids):05d}"

    def require_scope(self, *any_of: str) -> None:
        if not self.workspace.scopes.intersection(any_of):
            raise ApiError("missing_scope", needed=",".join(any_of), provided=",".join(sorted(self.workspace.scopes)))

    def visible_channel(self, channel_id: Any) -> Channel:
        """A conversation the bot can see: private ones only when it is a member, as on Slack."""
        channel = self.workspace.channels.get(channel_id) if isinstance(channel_id, str) else None
        if channel is None or (channel.is_private and self.bot not in channel.members):
            raise ApiError("channel_not_found")
        return channel

    def require_scope_for(self, channel: Channel, action: str) -> None:
        kind = "im" if channel.is_im else "mpim" if channel.is_mpim else "groups" if channel.is_private else "channels"
        self.require_scope(f"{kind}:{action}")

    def dm_id(self, user_id: str) -> str:
        return f"D{user_id[1:]}"

    def open_dm(self, user_id: str, *, inactive_error: str) -> tuple[Channel, bool]:
        """The bot's DM with a person (created on first use) and whether it already existed."""
        user = self._person(user_id, inactive_error=inactive_error)
        channel_id = self.dm_id(user.id)
        existing = self.workspace.channels.get(channel_id)
        if existing:
            return existing, True
        dm = Channel(channel_id, user.id, is_private=True, members={self.bot, user.id}, is_im=True)
        return self.workspace.add_channel(dm), False

    def _person(self, user_id: str, *, inactive_error: str) -> User:
        user = self.workspace.users.get(user_id)
        if user is None:
            raise ApiError("user_not_found")
        if user.is_bot:
            raise ApiError("cannot_dm_bot")
        if user.deleted:
            raise ApiError(inactive_error)
        return user

    def _target(self, channel_id: Any) -> Channel:
        """chat.postMessage's `channel`: a conversation id, or a user id meaning the bot's DM with them."""
        if isinstance(channel_id, str) and channel_id[:1] in ("U", "W"):
            return self.open_dm(channel_id, inactive_error="account_inactive")[0]
        return self.visible_channel(channel_id)

    def _postable(self, channel: Channel) -> Channel:
        if channel.is_archived:
            raise ApiError("is_archived")
        if self.bot not in channel.members:
            raise ApiError("not_in_channel")
        return channel

    def _find_message(self, channel_id: str, ts: Any) -> dict:
        for message in self.channel_messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        raise ApiError("message_not_found")

    # ---- auth ----------------------------------------------------------------------------------------

    def auth_test(self, p: dict, caller: Caller) -> dict:
        ws = self.workspace
        return {"url": ws.url, "team": ws.team_name, "user": ws.users[self.bot].name, "team_id": ws.team_id,
                "user_id": self.bot, "bot_id": ws.bot_id, "is_enterprise_install": False}

    def oauth_v2_access(self, p: dict, caller: Caller) -> dict:
        client_id, client_secret = caller.basic_auth or (p.get("client_id"), p.get("client_secret"))
        if not client_id or (self.client_id and client_id != self.client_id):
            raise ApiError("invalid_client_id")
        if not client_secret or (self.client_secret and client_secret != self.client_secret):
            raise ApiError("bad_client_secret")
        user = self.oauth_codes.pop(str(p.get("code") or ""), None)
        if user is None:
            raise ApiError("invalid_code")
        ws = self.workspace
        token = f"xoxb-sim-{secrets.token_hex(12)}"
        self.tokens[token] = ws.team_id
        return {
            "access_token": token, "token_type": "bot", "scope": ",".join(sorted(ws.scopes)),
            "bot_user_id": self.bot, "app_id": ws.app_id, "team": {"id": ws.team_id, "name": ws.team_name},
            "enterprise": None, "authed_user": {"id": user}, "is_enterprise_install": False,
        }

    # ---- messages --------------------------------------------------------------------------------------

    def chat_post_message(self, p: dict, caller: Caller) -> dict:
        self.require_scope("chat:write")
        channel = self._postable(self._target(p.get("channel")))
        text, blocks = message_content(p)
        metadata = p.get("metadata")
        if metadata is not None and not (isinstance(metadata, dict) and isinstance(metadata.get("event_type"), str)
                                         and isinstance(metadata.get("event_payload", {}), dict)):
            raise ApiError("invalid_metadata_format")
        thread_ts = p.get("thread_ts") or None
        message = self.add_message(channel.id, self.bot, text, blocks, thread_ts=thread_ts, metadata=metadata)
        self.seen.append(Seen("message", message_text(text, blocks), channel.id, in_thread=bool(thread_ts)))
        return {"channel": channel.id, "ts": message["ts"], "message": api_message(message, metadata=True)}

    def add_message(self, channel_id: str, user: str, text: str | None, blocks: list | None, *,
                    thread_ts: str | None = None, metadata: dict | None = None, files: list | None = None) -> dict:
        ws = self.workspace
        is_bot = user == self.bot
        message = {
            "type": "message", "ts": self.next_ts(), "user": user, "text": text or "", "blocks": blocks,
            "thread_ts": thread_ts, "metadata": metadata, "files": files, "channel": channel_id,
            "bot_id": ws.bot_id if is_bot else None, "app_id": ws.app_id if is_bot else None, "team": ws.team_id,
        }
        self.channel_messages.setdefault(channel_id, []).append(message)
        return message

    def chat_update(self, p: dict, caller: Caller) -> dict:
        self.require_scope("chat:write")
        channel = self.visible_channel(p.get("channel"))
        message = self._find_message(channel.id, p.get("ts"))
        if message["user"] != self.bot:
            raise ApiError("cant_update_message")
        # Slack keeps the message's blocks when `blocks` is left out and removes them only for `blocks=[]`
        # (chat.update in Slack's OpenAPI spec: "If you don't include this field, the message's previous
        # blocks will be retained"), so an update with only `text` changes the notification, not what
        # members see (slackapi/python-slack-sdk#523).
        text, blocks = message_content(p if "blocks" in p else {**p, "blocks": message["blocks"]})
        message.update(text=text or "", blocks=blocks)
        if isinstance(p.get("metadata"), dict):
            message["metadata"] = p["metadata"]
        self.seen.append(Seen("edit", message_text(text, blocks), channel.id, in_thread=bool(message["thread_ts"])))
        return {"channel": channel.id, "ts": message["ts"], "text": message["text"],
                "message": api_message(message, metadata=True)}

    def chat_post_ephemeral(self, p: dict, caller: Caller) -> dict:
        self.require_scope("chat:write")
        channel = self.visible_channel(p.get("channel"))
        user = p.get("user")
        if user not in self.workspace.users:
            raise ApiError("user_not_found")
        if channel.is_archived:
            raise ApiError("is_archived")
        if user not in channel.members:
            raise ApiError("user_not_in_channel")
        text, blocks = message_content(p)
        ts = self.next_ts()
        self.ephemeral_messages.append({"channel": channel.id, "user": user, "text": text or "", "blocks": blocks,
                                        "thread_ts": p.get("thread_ts"), "message_ts": ts})
        self.seen.append(Seen("ephemeral", message_text(text, blocks), channel.id, user))
        return {"message_ts": ts}

    # ---- conversations -----------------------------------------------------------------------------

    def conversations_open(self, p: dict, caller: Caller) -> dict:
        if p.get("channel"):
            channel = self.visible_channel(p["channel"])
            return {"channel": {"id": channel.id}, "no_op": True, "already_open": True}
        # `users` is "Comma separated lists of users", 1 to 8 of them (conversations.open in Slack's OpenAPI
        # spec and https://docs.slack.dev/reference/methods/conversations.open); slack_sdk joins a Python list
        # itself, but a JSON array posted as it is is not a string, and Slack refuses it.
        raw = p.get("users")
        if raw is not None and not isinstance(raw, str):
            raise invalid_arguments("must be a comma-separated string of user ids [json-pointer:/users]")
        users = id_list(raw)
        if not users:
            raise ApiError("users_list_not_supplied")
        if len(users) > MAX_GROUP_DM_USERS:
            raise ApiError("too_many_users")
        if len(users) == 1:
            self.require_scope("im:write")
            channel, existed = self.open_dm(users[0], inactive_error="user_disabled")
        else:
            self.require_scope("mpim:write")
            channel, existed = self._open_group_dm(users)
        body: dict[str, Any] = {"channel": {"id": channel.id}}
        if existed:
            body.update(no_op=True, already_open=True)
        if flag(p.get("return_im")):
            body["channel"] = channel.to_api(self.bot)
        return body

    def _open_group_dm(self, user_ids: list[str]) -> tuple[Channel, bool]:
        people = [self._person(u, inactive_error="user_disabled") for u in user_ids]
        key = frozenset(u.id for u in people)
        if key in self._mpims:
            return self.workspace.channels[self._mpims[key]], True
        name = "mpdm-" + "--".join(sorted(u.name for u in people)) + "-1"
        channel = Channel(self.new_id("G"), name, is_private=True, members={self.bot, *key}, is_mpim=True)
        self._mpims[key] = channel.id
        return self.workspace.add_channel(channel), False

    def conversations_info(self, p: dict, caller: Caller) -> dict:
        channel = self.visible_channel(p.get("channel"))
        self.require_scope_for(channel, "read")
        return {"channel": channel.to_api(self.bot)}

    def conversations_members(self, p: dict, caller: Caller) -> dict:
        channel = self.visible_channel(p.get("channel"))
        self.require_scope_for(channel, "read")
        found, cursor = paginate(sorted(channel.members), p)
        return {"members": found, "response_metadata": {"next_cursor": cursor}}

    def conversations_history(self, p: dict, caller: Caller) -> dict:
        """Top-level messages (thread replies left out), newest first."""
        channel = self._readable(p.get("channel"))
        in_range = _time_window(p)
        top_level = [m for m in self.channel_messages.get(channel.id, [])
                     if m["thread_ts"] in (None, m["ts"]) and in_range(m["ts"])]
        return _history(top_level[::-1], p)

    def conversations_replies(self, p: dict, caller: Caller) -> dict:
        """A thread oldest first: the parent leads the first page whatever the window, as on Slack."""
        channel = self._readable(p.get("channel"))
        messages = self.channel_messages.get(channel.id, [])
        parent = next((m for m in messages if m["ts"] == p.get("ts")), None)
        if parent is None:
            raise ApiError("thread_not_found")
        in_range = _time_window(p)
        replies = [m for m in messages if m["thread_ts"] == parent["ts"] and m is not parent and in_range(m["ts"])]
        return _history([parent, *replies], p)

    def _readable(self, channel_id: Any) -> Channel:
        channel = self.visible_channel(channel_id)
        self.require_scope_for(channel, "history")
        if self.bot not in channel.members:
            raise ApiError("not_in_channel")
        return channel

    def conversations_join(self, p: dict, caller: Caller) -> dict:
        self.require_scope("channels:join")
        channel = self.visible_channel(p.get("channel"))
        if channel.is_im or channel.is_mpim or channel.is_private:
            raise ApiError("method_not_supported_for_channel_type")
        if channel.is_archived:
            raise ApiError("is_archived")
        channel.members.add(self.bot)
        return {"channel": channel.to_api(self.bot)}

    # ---- users -------------------------------------------------------------------------------------

    def users_info(self, p: dict, caller: Caller) -> dict:
        self.require_scope("users:read")
        user = self.workspace.users.get(p.get("user"))  # type: ignore[arg-type]
        if user is None:
            raise ApiError("user_not_found")
        return {"user": user.to_api(self.workspace.team_id)}

    def users_list(self, p: dict, caller: Caller) -> dict:
        self.require_scope("users:read")
        found, cursor = paginate(list(self.workspace.users.values()), p)
        return {"members": [u.to_api(self.workspace.team_id) for u in found], "cache_ts": int(time.time()),
                "response_metadata": {"next_cursor": cursor}}

    # ---- files -------------------------------------------------------------------------------------

    def files_get_upload_url(self, p: dict, caller: Caller) -> dict:
        self.require_scope("files:write")
        filename, length = p.get("filename"), to_int(p.get("length"), -1)
        if not filename or length < 0:
            raise invalid_arguments("filename and length are required [json-pointer:/]")
        file_id = self.new_id("F")
        self.uploads[file_id] = {"name": filename, "length": length, "content": None}
        return {"upload_url": f"{self.files_url}{file_id}", "file_id": file_id}

    def receive_upload(self, file_id: str, content: bytes) -> bool:
        upload = self.uploads.get(file_id)
        if upload is None:
            return False
        upload["content"] = content
        return True

    def files_complete_upload(self, p: dict, caller: Caller) -> dict:
        self.require_scope("files:write")
        items = p.get("files")
        if not isinstance(items, list) or not items or not all(isinstance(f, dict) for f in items):
            raise invalid_arguments("must provide an array of files [json-pointer:/files]")
        pending = [(f, self.uploads.get(str(f.get("id")))) for f in items]
        if any(upload is None or upload["content"] is None for _, upload in pending):
            raise ApiError("file_not_found")
        channel_ids = [p["channel_id"]] if p.get("channel_id") else id_list(p.get("channels"))
        channels = [self._postable(self.visible_channel(c)) for c in channel_ids]
        comment = p.get("initial_comment") or ""
        shared = [(self._file_object(str(f["id"]), f.get("title"), upload, channels), upload["content"])
                  for f, upload in pending]
        for channel in channels:
            self.add_message(channel.id, self.bot, comment, None, thread_ts=p.get("thread_ts") or None,
                             files=[f["id"] for f, _ in shared])
            for f, content in shared:
                self.shared_files.setdefault(channel.id, []).append(
                    {**f, "content": content, "initial_comment": comment})
                self.seen.append(Seen("file", f["name"] + (f" — {comment}" if comment else ""), channel.id))
        for f, _ in shared:
            del self.uploads[f["id"]]  # an upload completes once
        return {"files": [f for f, _ in shared]}

    def _file_object(self, file_id: str, title: Any, upload: dict, channels: list[Channel]) -> dict:
        now = int(time.time())
        name = upload["name"]
        return {
            "id": file_id, "created": now, "timestamp": now, "name": name, "title": title or name,
            "mimetype": "application/octet-stream", "filetype": name.rsplit(".", 1)[-1] if "." in name else "",
            "user": self.bot, "user_team": self.workspace.team_id, "size": len(upload["content"]),
            "url_private": f"https://files.slack.com/files-pri/{self.workspace.team_id}-{file_id}/{name}",
            "permalink": f"{self.workspace.url}files/{self.bot}/{file_id}/{name}",
            "channels": [c.id for c in channels if not c.is_private],
            "groups": [c.id for c in channels if c.is_private and not c.is_im],
            "ims": [c.id for c in channels if c.is_im],
        }


def _time_window(p: dict) -> Callable[[str], bool]:
    """history/replies' `oldest` and `latest` (exclusive unless `inclusive`)."""
    oldest, latest = ts_bound(p, "oldest", 0.0), ts_bound(p, "latest", float("inf"))
    if flag(p.get("inclusive")):
        return lambda ts: oldest <= float(ts) <= latest
    return lambda ts: oldest < float(ts) < latest


def _history(messages: list[dict], p: dict) -> dict:
    found, cursor = paginate(messages, p)
    with_metadata = flag(p.get("include_all_metadata"))
    return {"messages": [api_message(m, metadata=with_metadata) for m in found], "has_more": bool(cursor),
            "pin_count": 0, "response_metadata": {"next_cursor": cursor}}
