"""What each person saw, as short readable lines (printed by `hearth simulate`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from slack_app.simulator.workspace import Workspace

MAX_TEXT = 160


@dataclass(frozen=True)
class Seen:
    """One thing that became visible in the workspace.

    kind: message, edit, ephemeral, reply (via response_url), modal_opened, modal_pushed, modal_updated,
    home, file.
    """

    kind: str
    text: str = ""
    channel: str | None = None
    user: str | None = None
    in_thread: bool = False


def message_text(text: Any, blocks: Any) -> str:
    """The notification text, else the visible text of the blocks (what a member reads first)."""
    if isinstance(text, str) and text.strip():
        return text
    parts: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        for obj in [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]:
            if isinstance(obj, dict) and isinstance(obj.get("text"), str):
                parts.append(obj["text"])
    return " / ".join(parts)


def shorten(text: str) -> str:
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= MAX_TEXT else flat[: MAX_TEXT - 1] + "…"


def count_inputs(blocks: Sequence[Any]) -> int:
    return sum(1 for b in blocks if isinstance(b, dict) and b.get("type") == "input")


def render(seen: Sequence[Seen], workspace: Workspace) -> list[str]:
    return [render_line(s, workspace) for s in seen]


_SPECIAL = re.compile(r"<([@#!])([^>|]+)(?:\|([^>]*))?>")


def as_displayed(text: str, ws: Workspace) -> str:
    """Slack's markup as a member reads it: <@U1> is @Alice, <#C1> is #general, a date its fallback."""

    def show(m: re.Match) -> str:
        sigil, ref, label = m.groups()
        if sigil == "@":
            return "@" + _name(ws, ref)
        if sigil == "#":
            channel = ws.channels.get(ref)
            return "#" + (label or (channel.name if channel else ref))
        return label if label is not None else "@" + ref.split("^")[0]  # <!date^…|fallback>, <!here>

    return _SPECIAL.sub(show, text).replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def render_line(s: Seen, ws: Workspace) -> str:
    bot = ws.users[ws.bot_user_id].first_name if ws.bot_user_id in ws.users else "App"
    who = _name(ws, s.user)
    text = shorten(as_displayed(s.text, ws))
    if s.kind in ("message", "edit"):
        edited = " (edited)" if s.kind == "edit" else ""
        thread = " (in thread)" if s.in_thread else ""
        return f"{_where(ws, s.channel)}{thread}  {bot}{edited}: {text}"
    if s.kind in ("ephemeral", "reply"):
        return f"{s.kind} to {who} in {_where(ws, s.channel)}: {text}"
    if s.kind.startswith("modal_"):
        return f"modal {s.kind.removeprefix('modal_')} for {who}: {text}"
    if s.kind == "home":
        return f"App Home of {who} updated"
    if s.kind == "file":
        return f"file uploaded to {_where(ws, s.channel)}: {text}"
    return f"{s.kind}: {text}"


def _name(ws: Workspace, user_id: str | None) -> str:
    user = ws.users.get(user_id or "")
    return user.first_name if user else (user_id or "someone")


def _where(ws: Workspace, channel_id: str | None) -> str:
    channel = ws.channels.get(channel_id or "")
    if channel is None:
        return channel_id or "?"
    others = sorted(_name(ws, u) for u in channel.members if u != ws.bot_user_id)
    if channel.is_im:
        return f"DM to {others[0] if others else '?'}"
    if channel.is_mpim:
        return f"group DM ({', '.join(others)})"
    return f"#{channel.name}"
