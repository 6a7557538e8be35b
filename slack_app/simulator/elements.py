"""What a member's input in a Block Kit element looks like in interaction payloads.

The same fields appear in a view_submission's `state.values` and in a block_actions `actions` entry,
e.g. a static_select answers `selected_option` (the whole option object Slack was given), a users_select
`selected_user`, a plain_text_input `value`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

MISSING: Any = object()  # "the member left this alone": the element keeps its initial value

# element type -> (payload field, initial-value field, how the member's value is given)
FIELDS: dict[str, tuple[str, str, str]] = {
    "plain_text_input": ("value", "initial_value", "text"),
    "email_text_input": ("value", "initial_value", "text"),
    "url_text_input": ("value", "initial_value", "text"),
    "number_input": ("value", "initial_value", "text"),
    "static_select": ("selected_option", "initial_option", "option"),
    "radio_buttons": ("selected_option", "initial_option", "option"),
    "overflow": ("selected_option", "initial_option", "option"),
    "checkboxes": ("selected_options", "initial_options", "options"),
    "multi_static_select": ("selected_options", "initial_options", "options"),
    "users_select": ("selected_user", "initial_user", "id"),
    "multi_users_select": ("selected_users", "initial_users", "ids"),
    "conversations_select": ("selected_conversation", "initial_conversation", "id"),
    "multi_conversations_select": ("selected_conversations", "initial_conversations", "ids"),
    "channels_select": ("selected_channel", "initial_channel", "id"),
    "multi_channels_select": ("selected_channels", "initial_channels", "ids"),
    "datepicker": ("selected_date", "initial_date", "id"),
    "timepicker": ("selected_time", "initial_time", "id"),
    "button": ("value", "value", "id"),
}
LISTS = ("options", "ids")


def element_value(element: Mapping[str, Any], value: Any = MISSING) -> dict[str, Any]:
    """The payload fields for `element` after the member chose `value` (option values, ids, text)."""
    field, initial, kind = FIELDS.get(str(element.get("type")), ("value", "initial_value", "id"))
    if value is MISSING:
        return {field: copy.deepcopy(element.get(initial, [] if kind in LISTS else None))}
    if value is None:
        return {field: [] if kind in LISTS else None}
    if kind == "text":
        return {field: str(value)}
    if kind == "option":
        return {field: find_option(element, value)}
    if kind == "options":
        return {field: [find_option(element, v) for v in _as_list(value)]}
    if kind == "ids":
        return {field: _as_list(value)}
    return {field: value}


def find_option(element: Mapping[str, Any], value: Any) -> dict:
    """The element's option whose value is `value` (an option dict is taken as given)."""
    if isinstance(value, dict):
        return copy.deepcopy(value)
    for option in _options(element):
        if option.get("value") == value:
            return copy.deepcopy(option)
    raise ValueError(f"{value!r} is not an option of {element.get('action_id')!r}")


def _options(element: Mapping[str, Any]) -> Iterator[dict]:
    yield from element.get("options") or []
    for group in element.get("option_groups") or []:
        yield from group.get("options") or []


def _as_list(value: Any) -> list:
    return list(value) if isinstance(value, (list, tuple, set)) else [value]


def state_values(view: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, dict[str, dict]]:
    """A view_submission's `state.values` for `view`: every input block, with `values` (keyed by block_id
    or action_id) filled in and the others left at their initial values, as Slack's client sends it."""
    state: dict[str, dict[str, dict]] = {}
    unused = set(values)
    for block in view.get("blocks") or []:
        if block.get("type") != "input":
            continue
        element = block["element"]
        block_id, action_id = block["block_id"], element["action_id"]
        key = block_id if block_id in values else action_id if action_id in values else None
        unused.discard(key)
        given = values[key] if key is not None else MISSING
        state[block_id] = {action_id: {"type": element["type"], **element_value(element, given)}}
    if unused:
        raise ValueError(f"view {view.get('callback_id')!r} has no input {sorted(unused)}")
    return state


def find_element(blocks: Any, action_id: str) -> tuple[str, dict] | None:
    """(block_id, element) of the interactive element `action_id` among `blocks`."""
    for block in blocks if isinstance(blocks, list) else []:
        holders = [block.get("accessory"), block.get("element"), *(block.get("elements") or [])]
        for element in holders:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block.get("block_id", ""), element
    return None
