"""Modal and App Home rules: trigger ids, Slack's view limits, and the view object Slack stores and returns."""

from __future__ import annotations

import copy
import itertools
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from slack_app.simulator.errors import ApiError, invalid_arguments

TRIGGER_TTL = 3.0  # seconds; Slack's trigger_id expires three seconds after the interaction
MAX_TITLE = 24
MAX_VIEW_BLOCKS = 100
MAX_PRIVATE_METADATA = 3000
MAX_CALLBACK_ID = 255
MAX_TEXT_INPUT = 3000


@dataclass
class Trigger:
    user: str
    issued: float
    used: bool = False


class Triggers:
    """Trigger ids are issued for one member's interaction, valid for 3 seconds and usable once."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._issued: dict[str, Trigger] = {}
        self._seq = itertools.count(1)

    def issue(self, user: str) -> str:
        trigger_id = f"{int(time.time())}{next(self._seq):04d}.{secrets.token_hex(4)}.{secrets.token_hex(8)}"
        self._issued[trigger_id] = Trigger(user, self.clock())
        return trigger_id

    def check(self, trigger_id: str) -> Trigger:
        """The trigger, still unspent: the caller marks it `used` once the view is accepted."""
        trigger = self._issued.get(trigger_id)
        if trigger is None:
            raise ApiError("invalid_trigger_id")
        if trigger.used:
            raise ApiError("exchanged_trigger_id")
        if self.clock() - trigger.issued > TRIGGER_TTL:
            raise ApiError("expired_trigger_id")
        return trigger


def validate_view(view: Any, types: Collection[str]) -> dict:
    """Slack's own checks on the parts of a view it is strictest about; raises `invalid_arguments`."""
    if not isinstance(view, dict):
        raise invalid_arguments("must provide an object [json-pointer:/view]")
    problems: list[str] = []
    if view.get("type") not in types:
        problems.append(f"must be one of {', '.join(sorted(types))} [json-pointer:/view/type]")
    if view.get("type") == "modal" and not isinstance(view.get("title"), dict):
        problems.append("missing required field: title [json-pointer:/view]")
    for field in ("title", "submit", "close"):
        text = (view.get(field) or {}).get("text", "") if isinstance(view.get(field), dict) else ""
        if len(text) > MAX_TITLE:
            problems.append(f"must be less than {MAX_TITLE + 1} characters [json-pointer:/view/{field}/text]")
    blocks = view.get("blocks")
    if not isinstance(blocks, list):
        problems.append("must provide an array [json-pointer:/view/blocks]")
        blocks = []
    elif len(blocks) > MAX_VIEW_BLOCKS:
        problems.append(f"no more than {MAX_VIEW_BLOCKS} items allowed [json-pointer:/view/blocks]")
    problems += _block_problems(blocks)
    if view.get("type") == "modal" and any(_is_input(b) for b in blocks) and not view.get("submit"):
        problems.append("must provide a submit button when input blocks are present [json-pointer:/view/submit]")
    if len(str(view.get("private_metadata") or "")) > MAX_PRIVATE_METADATA:
        problems.append(f"must be less than {MAX_PRIVATE_METADATA + 1} characters "
                        "[json-pointer:/view/private_metadata]")
    if len(str(view.get("callback_id") or "")) > MAX_CALLBACK_ID:
        problems.append(f"must be less than {MAX_CALLBACK_ID + 1} characters [json-pointer:/view/callback_id]")
    if problems:
        raise invalid_arguments(*problems)
    return view


def check_errors(errors: Any, view: dict) -> None:
    """A view_submission ack's `response_action: errors`: a non-empty object whose every key is the block_id of
    an input block of the submitted view, with text to show under it (https://api.slack.com/surfaces/modals
    #displaying_errors). Any other key makes Slack show its generic error instead (slackapi/bolt-js#554)."""
    if not isinstance(errors, dict) or not errors:
        raise invalid_arguments("must provide an object of errors keyed by block_id [json-pointer:/errors]")
    inputs = {b.get("block_id") for b in view.get("blocks") or [] if _is_input(b)}
    problems = [f"{key!r} is not the block_id of an input block of this view [json-pointer:/errors/{key}]"
                for key in errors if key not in inputs]
    problems += [f"must be a non-empty string [json-pointer:/errors/{key}]"
                 for key, text in errors.items() if not (isinstance(text, str) and text.strip())]
    if problems:
        raise invalid_arguments(*problems)


def _is_input(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") == "input"


def _block_problems(blocks: list[Any]) -> list[str]:
    problems: list[str] = []
    seen_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/view/blocks/{i}]"
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            problems.append(f"must provide an object with a type {where}")
            continue
        block_id = block.get("block_id")
        if block_id in seen_ids:
            problems.append(f"duplicate block_id {block_id!r} {where}")
        if block_id:
            seen_ids.add(block_id)
        if block["type"] == "input":
            element = block.get("element")
            if not isinstance(element, dict) or "type" not in element:
                problems.append(f"missing required field: element {where}")
            elif isinstance(element.get("max_length"), int) and element["max_length"] > MAX_TEXT_INPUT:
                problems.append(f"must be less than {MAX_TEXT_INPUT + 1} [json-pointer:/view/blocks/{i}"
                                "/element/max_length]")
            if not isinstance(block.get("label"), dict):
                problems.append(f"missing required field: label {where}")
    return problems


def stamp_ids(blocks: list[dict]) -> list[dict]:
    """Copies of the blocks with the block_id / action_id Slack generates where the app left them out."""
    stamped = copy.deepcopy(blocks)
    for block in stamped:
        block.setdefault("block_id", secrets.token_urlsafe(3))
        holders = [block.get("accessory"), block.get("element")]
        if block.get("type") == "actions":
            holders += block.get("elements") or []
        for element in holders:
            if isinstance(element, dict) and element.get("type") != "image":
                element.setdefault("action_id", secrets.token_urlsafe(4))
    return stamped


def new_hash() -> str:
    return f"{int(time.time())}.{secrets.token_urlsafe(6)}"


def stored_view(view: dict, *, view_id: str, team_id: str, app_id: str, bot_id: str,
                root_view_id: str | None = None, previous_view_id: str | None = None) -> dict:
    """The view object Slack returns from views.* and sends in view_submission payloads."""
    return {
        "id": view_id, "team_id": team_id, "type": view["type"],
        "blocks": stamp_ids(view.get("blocks") or []),
        "private_metadata": view.get("private_metadata") or "", "callback_id": view.get("callback_id") or "",
        "state": {"values": {}}, "hash": new_hash(),
        "title": view.get("title"), "clear_on_close": bool(view.get("clear_on_close")),
        "notify_on_close": bool(view.get("notify_on_close")), "close": view.get("close"),
        "submit": view.get("submit"), "previous_view_id": previous_view_id,
        "root_view_id": root_view_id or view_id, "app_id": app_id, "external_id": view.get("external_id") or "",
        "app_installed_team_id": team_id, "bot_id": bot_id,
    }
