"""Web API arguments as Slack reads them, and the shapes Slack answers with (messages, pages)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from slack_app.simulator.errors import ApiError

MAX_MESSAGE_BLOCKS = 50
MAX_MESSAGE_TEXT = 40000
# "The limit parameter maximum is 1000 and subject to change and may vary per method"
# (https://api.slack.com/docs/pagination); conversations.members asks for "a limit value under 1000"
# (https://docs.slack.dev/reference/methods/conversations.members).
MAX_PAGE_LIMIT = 1000


def message_content(p: dict) -> tuple[str | None, list | None]:
    """A message's text and blocks, with Slack's checks on each."""
    text, blocks = p.get("text"), p.get("blocks")
    if blocks is not None:
        if not isinstance(blocks, list) or not all(isinstance(b, dict) and "type" in b for b in blocks):
            raise ApiError("invalid_blocks", response_metadata={"messages": ["[ERROR] must provide an array of "
                                                                            "blocks [json-pointer:/blocks]"]})
        if len(blocks) > MAX_MESSAGE_BLOCKS:
            raise ApiError("invalid_blocks", response_metadata={"messages": [
                f"[ERROR] no more than {MAX_MESSAGE_BLOCKS} items allowed [json-pointer:/blocks]"]})
    if not text and not blocks and not p.get("attachments"):
        raise ApiError("no_text")
    if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
        raise ApiError("msg_too_long")
    return (str(text) if text is not None else None), (blocks or None)


def api_message(message: dict, *, metadata: bool) -> dict:
    """A stored message as the API returns it: unset fields left out, metadata only when asked for."""
    hidden = {"channel"} | (set() if metadata else {"metadata"})
    body = {k: v for k, v in message.items() if v is not None and k not in hidden}
    if message.get("files"):
        body["files"] = [{"id": f} for f in message["files"]]
    return body


def id_list(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return list(dict.fromkeys(str(i).strip() for i in items if str(i).strip()))


def flag(value: Any) -> bool:
    return value is True or str(value).lower() in ("1", "true")


def to_int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def ts_bound(p: dict, key: str, default: float) -> float:
    if p.get(key) in (None, ""):
        return default
    try:
        return float(p[key])
    except (TypeError, ValueError):
        raise ApiError(f"invalid_ts_{key}") from None


def paginate(items: list, p: dict, default_limit: int = 100) -> tuple[list, str]:
    """Slack's cursor pagination: an opaque next_cursor, empty on the last page.

    A `limit` above MAX_PAGE_LIMIT is not an error: Slack answers a page of at most that many, with a
    cursor to the rest, so a caller that stops when a page is shorter than its limit misses members.
    """
    limit = to_int(p.get("limit"), default_limit) or default_limit
    if limit < 0:
        raise ApiError("invalid_limit")
    limit = min(limit, MAX_PAGE_LIMIT)
    start = 0
    if p.get("cursor"):
        try:
            start = int(base64.b64decode(str(p["cursor"]), validate=True).decode().removeprefix("offset:"))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise ApiError("invalid_cursor") from None
    end = start + limit
    cursor = base64.b64encode(f"offset:{end}".encode()).decode() if end < len(items) else ""
    return items[start:end], cursor
