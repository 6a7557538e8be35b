"""An in-memory `SlackPort` for use-case tests: answers like Slack and records a transcript."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from slack_app.slack_port import (
    AuthInfo,
    ChannelInfo,
    HistoryMessage,
    HistoryPage,
    Posted,
    SlackError,
    UserInfo,
)


@dataclass
class Sent:
    """One call the use case made: the method and its arguments."""

    method: str
    args: dict[str, Any]


@dataclass
class FakeSlackPort:
    team_id: str = "T0FAKE"
    bot_user_id: str = "UBOT"
    scopes: frozenset[str] = frozenset()
    users: dict[str, UserInfo] = field(default_factory=dict)
    channels: dict[str, ChannelInfo] = field(default_factory=dict)
    members: dict[str, list[str]] = field(default_factory=dict)
    transcript: list[Sent] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)  # method -> Slack error code to raise once
    # conversation id -> messages posted there (ts, thread_ts, metadata), for history/replies
    messages: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _failure_details: dict[str, tuple[int | None, float | None, bool]] = field(default_factory=dict)
    _last_ts: int = 0

    # ---- test helpers ----------------------------------------------------------------------
    def add_user(self, user_id: str, *, tz: str = "UTC", is_bot: bool = False, is_deleted: bool = False,
                 is_admin: bool = False, is_owner: bool = False) -> None:
        self.users[user_id] = UserInfo(user_id, tz, is_bot, is_deleted, is_admin, is_owner)

    def add_channel(self, channel_id: str, members: list[str], *, is_private: bool = False,
                    is_archived: bool = False, bot_is_member: bool = True) -> None:
        self.channels[channel_id] = ChannelInfo(channel_id, is_private, is_archived, bot_is_member)
        self.members[channel_id] = list(members)

    def fail_next(self, method: str, error: str, *, status: int | None = None, retry_after: float | None = None,
                  after_call: bool = False) -> None:
        """The next call of `method` raises `error` (with an HTTP `status` and a 429's `retry_after`).
        With `after_call` (chat.postMessage only), the message is posted first and only the answer is lost,
        as when a connection drops after Slack has posted it."""
        self.failures[method] = error
        self._failure_details[method] = (status, retry_after, after_call)

    def calls(self, method: str) -> list[dict[str, Any]]:
        return [s.args for s in self.transcript if s.method == method]

    def _record(self, method: str, **args: Any) -> None:
        self.transcript.append(Sent(method, args))
        if method in self.failures and not self._failure_details.get(method, (None, None, False))[2]:
            self._raise(method)

    def _raise(self, method: str) -> None:
        status, retry_after, _ = self._failure_details.pop(method, (None, None, False))
        error = self.failures.pop(method)
        if status is None and error.islower():
            status = 200  # Slack answers its error codes with HTTP 200 and ok=false
        raise SlackError(method, error, status, retry_after)

    def _answer(self, method: str, result: Any) -> Any:
        """Raise a failure injected with `after_call` now that the call took effect."""
        if method in self.failures:
            self._raise(method)
        return result

    def _store(self, channel: str, metadata: dict | None, thread_ts: str | None) -> Posted:
        posted = Posted(channel=channel, ts=self._next_ts())
        self.messages.setdefault(channel, []).append({"ts": posted.ts, "thread_ts": thread_ts, "metadata": metadata})
        return self._answer("chat.postMessage", posted)

    def _channel(self, channel: str, method: str) -> ChannelInfo:
        info = self.channels.get(channel)
        if info is None or (info.is_private and not info.is_member):
            raise SlackError(method, "channel_not_found", 200)
        return info

    # ---- SlackPort ---------------------------------------------------------------------------
    def auth_test(self) -> AuthInfo:
        self._record("auth.test")
        return AuthInfo(self.team_id, self.bot_user_id, "BFAKE", self.scopes)

    def post_message(self, channel, text, blocks=None, *, thread_ts=None, metadata=None) -> Posted:
        self._record("chat.postMessage", channel=channel, text=text, blocks=blocks, thread_ts=thread_ts,
                     metadata=metadata)
        if channel.startswith("U"):
            user = self.users.get(channel)
            if user is None:
                raise SlackError("chat.postMessage", "user_not_found", 200)
            if user.is_bot:
                raise SlackError("chat.postMessage", "cannot_dm_bot", 200)
            if user.is_deleted:
                raise SlackError("chat.postMessage", "account_inactive", 200)
            return self._store(f"D{channel[1:]}", metadata, thread_ts)
        if not channel.startswith(("D", "G")) or channel in self.channels:
            info = self._channel(channel, "chat.postMessage")
            if info.is_archived:
                raise SlackError("chat.postMessage", "is_archived", 200)
            if not info.is_member:
                raise SlackError("chat.postMessage", "not_in_channel", 200)
        return self._store(channel, metadata, thread_ts)

    def update_message(self, channel, ts, text, blocks=None) -> None:
        self._record("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def post_ephemeral(self, channel, user, text, blocks=None) -> None:
        self._record("chat.postEphemeral", channel=channel, user=user, text=text, blocks=blocks)

    def open_dm(self, users) -> str:
        users = sorted(users)
        self._record("conversations.open", users=users)
        if not 1 <= len(users) <= 8:
            raise SlackError("conversations.open", "too_many_users", 200)
        return f"D{users[0][1:]}" if len(users) == 1 else "G" + "".join(u[1:4] for u in users)

    def open_view(self, trigger_id, view) -> str:
        self._record("views.open", trigger_id=trigger_id, view=view)
        return f"V{len(self.transcript)}"

    def update_view(self, view_id, view, *, hash=None) -> None:
        self._record("views.update", view_id=view_id, view=view, hash=hash)

    def push_view(self, trigger_id, view) -> str:
        self._record("views.push", trigger_id=trigger_id, view=view)
        return f"V{len(self.transcript)}"

    def publish_home(self, user_id, view) -> None:
        self._record("views.publish", user_id=user_id, view=view)

    def user_info(self, user_id) -> UserInfo:
        self._record("users.info", user=user_id)
        if user_id not in self.users:
            raise SlackError("users.info", "user_not_found", 200)
        return self.users[user_id]

    def list_users(self) -> list[UserInfo]:
        self._record("users.list")
        return list(self.users.values())

    def channel_info(self, channel) -> ChannelInfo:
        self._record("conversations.info", channel=channel)
        return self._channel(channel, "conversations.info")

    def channel_members(self, channel) -> list[str]:
        self._record("conversations.members", channel=channel)
        self._channel(channel, "conversations.members")
        return list(self.members.get(channel, []))

    def upload_file(self, channel, filename, content, *, title=None, initial_comment=None) -> str:
        self._record("files.upload_v2", channel=channel, filename=filename, size=len(content), title=title,
                     initial_comment=initial_comment)
        return f"F{len(self.transcript)}"

    def history(self, channel, *, oldest=None, limit=200, cursor=None) -> HistoryPage:
        self._record("conversations.history", channel=channel, oldest=oldest, limit=limit, cursor=cursor)
        found = [m for m in self.messages.get(channel, []) if not m["thread_ts"] or m["thread_ts"] == m["ts"]]
        return self._page(found, oldest, limit, cursor)

    def replies(self, channel, ts, *, oldest=None, limit=200, cursor=None) -> HistoryPage:
        self._record("conversations.replies", channel=channel, ts=ts, oldest=oldest, limit=limit, cursor=cursor)
        found = [m for m in self.messages.get(channel, []) if m["ts"] == ts or m["thread_ts"] == ts]
        return self._page(found, oldest, limit, cursor)

    @staticmethod
    def _page(found: list[dict[str, Any]], oldest: str | None, limit: int, cursor: str | None) -> HistoryPage:
        found = [m for m in found if oldest is None or float(m["ts"]) > float(oldest)]
        found.sort(key=lambda m: float(m["ts"]), reverse=True)  # newest first, like Slack
        start = int(cursor or 0)
        page = found[start:start + limit]
        more = start + limit < len(found)
        return HistoryPage([HistoryMessage(m["ts"], m["metadata"], m["thread_ts"]) for m in page],
                           str(start + limit) if more else None)

    def _next_ts(self) -> str:
        # Real-time, strictly increasing, like Slack's: history's `oldest` filter works on it.
        n = max(round(time.time() * 1_000_000), self._last_ts + 1)
        self._last_ts = n
        return f"{n // 1_000_000}.{n % 1_000_000:06d}"
