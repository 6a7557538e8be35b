"""Block Kit builders: the only module that knows Block Kit JSON.

Builders return plain dicts. Words that would overflow a limit are truncated with "…" (a shorter label
beats a failed `views.open`); ids and values are never cut, because a truncated value silently means
something else, so an oversized one raises `BlockKitError`. `modal`, `home` and `message` validate the
whole payload with slack_sdk's models and Slack's block counts before it leaves Hearth.

Builders take mrkdwn as given: member-supplied text must already be escaped, by `Copy` (templates) or
`escape_member_text`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, asdict, fields, is_dataclass
from functools import lru_cache
from typing import Any, Final, Literal, TypeVar

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block as SdkBlock
from slack_sdk.models.views import View

Block = dict[str, Any]
Choice = tuple[str, str]  # (value, text) of a select or radio option

# ---- Slack's limits (Block Kit reference; slack_sdk.models enforces most of them) ------------------------
TITLE: Final = 24  # modal/home title, submit and close
SECTION_TEXT: Final = 3000
CONTEXT_TEXT: Final = 3000  # a context element is a text object, whose cap is 3000
CONTEXT_ELEMENTS: Final = 10
HEADER_TEXT: Final = 150
BUTTON_TEXT: Final = 75
BUTTON_VALUE: Final = 2000
ID: Final = 255  # action_id, block_id, callback_id
ACTIONS_ELEMENTS: Final = 25
OPTION_TEXT: Final = 75
OPTION_VALUE: Final = 150
SELECT_OPTIONS: Final = 100
RADIO_OPTIONS: Final = 10
LABEL: Final = 2000
HINT: Final = 2000
PLACEHOLDER: Final = 150
TEXT_INPUT: Final = 3000  # a plain_text_input's max_length and initial_value
VIEW_BLOCKS: Final = 100
MESSAGE_BLOCKS: Final = 50
PRIVATE_METADATA: Final = 3000
MESSAGE_TEXT: Final = 40000  # Slack truncates longer messages
FALLBACK_TEXT: Final = 3000  # `text` beside blocks only feeds notifications and screen readers
INPUT_ERROR: Final = 300  # not documented by Slack; a longer error under an input is unreadable anyway

ELLIPSIS: Final = "…"


class BlockKitError(ValueError):
    """A view or message that Slack would reject; the message says which part and why."""


class MetadataTooLarge(BlockKitError):
    """private_metadata over 3000 characters: keep ids in it, not content."""


# ---- text ------------------------------------------------------------------------------------------------

# An unfinished mention/channel/broadcast/link (`<@U…`, `<#C…`, `<!…`, `<https://…|…`) or escape (`&am`).
_OPEN_TOKEN = re.compile(r"<(?:[@#!]|https?:|mailto:)[^>]*\Z|&(?:a|am|amp|l|lt|g|gt)?\Z")


def truncate(text: str | None, limit: int) -> str:
    """`text` cut to at most `limit` characters, ending in "…" when cut.

    The cut backs off to before an unfinished `<…>` or `&…;`, so mentions, links and escapes are either
    whole or gone, never half a token that Slack would show raw.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    if not text:
        return ""
    if len(text) <= limit:
        return text
    kept = text[: limit - 1]
    kept = _OPEN_TOKEN.sub("", kept).rstrip()
    return kept + ELLIPSIS


# Slack may turn a bare @channel/@here/@everyone into a broadcast (mrkdwn with verbatim=false parses
# "certain mentions"); a word joiner after the "@" (invisible, no line break) keeps the word as typed.
_BROADCAST = re.compile(r"@(?=(?:channel|here|everyone))", re.IGNORECASE)
WORD_JOINER: Final = "\u2060"


def defuse_broadcasts(text: str) -> str:
    return _BROADCAST.sub("@" + WORD_JOINER, text)


def escape_member_text(text: str | None) -> str:
    """Member-supplied text made inert for mrkdwn.

    Slack's control sequences all start with "<" (`<!channel>`, `<@U123>`, `<#C123>`, `<https://x|label>`),
    so escaping &, < and > as Slack documents (&amp; &lt; &gt;) means a member cannot ping, mention or
    disguise a link; Slack shows the characters as typed. Bare broadcast words are defused too. Formatting
    such as *bold* stays: it can only style the member's own words.
    """
    if not text:
        return ""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return defuse_broadcasts(escaped)


def plain_text(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": _required(truncate(text, limit), "plain_text"), "emoji": True}


def mrkdwn(text: str, limit: int = SECTION_TEXT) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": _required(truncate(text, limit), "mrkdwn")}


# ---- layout blocks ---------------------------------------------------------------------------------------

def section(text: str, *, accessory: Block | None = None, block_id: str | None = None) -> Block:
    block: Block = {"type": "section", "text": mrkdwn(text, SECTION_TEXT)}
    if accessory is not None:
        block["accessory"] = accessory
    return _with_id(block, "block_id", block_id)


def header(text: str, *, block_id: str | None = None) -> Block:
    return _with_id({"type": "header", "text": plain_text(text, HEADER_TEXT)}, "block_id", block_id)


def context(*texts: str, block_id: str | None = None) -> Block:
    elements = [mrkdwn(t, CONTEXT_TEXT) for t in texts if t]
    if not elements:
        raise BlockKitError("context needs at least one text")
    _at_most(elements, CONTEXT_ELEMENTS, "context elements")
    return _with_id({"type": "context", "elements": elements}, "block_id", block_id)


def divider() -> Block:
    return {"type": "divider"}


def button(text: str, action_id: str, *, value: str | None = None,
           style: Literal["primary", "danger"] | None = None) -> Block:
    element: Block = {"type": "button", "text": plain_text(text, BUTTON_TEXT)}
    _with_id(element, "action_id", action_id)
    if value is not None:
        element["value"] = _fits(value, BUTTON_VALUE, "button value")
    if style is not None:
        if style not in ("primary", "danger"):
            raise BlockKitError(f"button style must be primary or danger, not {style!r}")
        element["style"] = style
    return element


def actions(*elements: Block, block_id: str | None = None) -> Block:
    if not elements:
        raise BlockKitError("actions needs at least one element")
    _at_most(elements, ACTIONS_ELEMENTS, "actions elements")
    return _with_id({"type": "actions", "elements": list(elements)}, "block_id", block_id)


# ---- inputs: block_id names the answer (read_state keys on it); action_id defaults to it -----------------

def input_block(block_id: str, label: str, element: Block, *, optional: bool = False,
                hint: str | None = None) -> Block:
    block: Block = {"type": "input", "label": plain_text(label, LABEL), "element": element}
    _with_id(block, "block_id", block_id)
    if optional:
        block["optional"] = True
    if hint:
        block["hint"] = plain_text(hint, HINT)
    return block


def plain_text_input(block_id: str, label: str, *, action_id: str | None = None, multiline: bool = False,
                     max_length: int | None = None, optional: bool = False, initial_value: str | None = None,
                     placeholder: str | None = None, hint: str | None = None) -> Block:
    limit = max_length or TEXT_INPUT
    if not 1 <= limit <= TEXT_INPUT:
        raise BlockKitError(f"max_length must be between 1 and {TEXT_INPUT}, not {limit}")
    element: Block = {"type": "plain_text_input", "action_id": action_id or block_id}
    if multiline:
        element["multiline"] = True
    if max_length:
        element["max_length"] = max_length
    if initial_value:
        # Slack rejects an initial value longer than max_length; the member sees it shortened to edit.
        element["initial_value"] = truncate(initial_value, limit)
    if placeholder:
        element["placeholder"] = plain_text(placeholder, PLACEHOLDER)
    return input_block(block_id, label, element, optional=optional, hint=hint)


def static_select_input(block_id: str, label: str, options: Sequence[Choice], *, action_id: str | None = None,
                        initial: str | None = None, optional: bool = False, placeholder: str | None = None,
                        hint: str | None = None) -> Block:
    element = _choice_element("static_select", block_id, action_id, options, initial, SELECT_OPTIONS)
    if placeholder:
        element["placeholder"] = plain_text(placeholder, PLACEHOLDER)
    return input_block(block_id, label, element, optional=optional, hint=hint)


def radio_input(block_id: str, label: str, options: Sequence[Choice], *, action_id: str | None = None,
                initial: str | None = None, optional: bool = False, hint: str | None = None) -> Block:
    element = _choice_element("radio_buttons", block_id, action_id, options, initial, RADIO_OPTIONS)
    return input_block(block_id, label, element, optional=optional, hint=hint)


def checkboxes_input(block_id: str, label: str, options: Sequence[Choice], *, action_id: str | None = None,
                     initial: Iterable[str] = (), optional: bool = False, hint: str | None = None) -> Block:
    element = _choice_element("checkboxes", block_id, action_id, options, None, RADIO_OPTIONS)
    chosen = set(initial)
    if chosen - {value for value, _ in options}:
        raise BlockKitError(f"initial values {sorted(chosen)} are not all among the options of {block_id}")
    if chosen:
        element["initial_options"] = [o for o in element["options"] if o["value"] in chosen]
    return input_block(block_id, label, element, optional=optional, hint=hint)


def channel_select_input(block_id: str, label: str, *, action_id: str | None = None, initial: str | None = None,
                         optional: bool = False, hint: str | None = None) -> Block:
    """A channel picker offering public and private channels (a conversations_select, since
    channels_select lists public channels only)."""
    element: Block = {"type": "conversations_select", "action_id": action_id or block_id,
                      "filter": {"include": ["public", "private"]}}
    if initial:
        element["initial_conversation"] = initial
    return input_block(block_id, label, element, optional=optional, hint=hint)


def _choice_element(kind: str, block_id: str, action_id: str | None, options: Sequence[Choice],
                    initial: str | None, most: int) -> Block:
    if not options:
        raise BlockKitError(f"{kind} {block_id} needs at least one option")
    _at_most(options, most, f"{kind} options")
    built = [_option(value, text) for value, text in options]
    element: Block = {"type": kind, "action_id": action_id or block_id, "options": built}
    if initial is not None:
        match = next((o for o in built if o["value"] == initial), None)
        if match is None:
            raise BlockKitError(f"initial value {initial!r} is not among the options of {block_id}")
        element["initial_option"] = match
    return element


def _option(value: str, text: str) -> dict[str, Any]:
    return {"text": plain_text(text, OPTION_TEXT), "value": _fits(value, OPTION_VALUE, "option value")}


# ---- surfaces --------------------------------------------------------------------------------------------

def modal(title: str, blocks: Sequence[Block], *, callback_id: str, submit: str | None = None,
          close: str | None = "Cancel", private_metadata: str | Mapping[str, Any] | Metadata | None = None,
          notify_on_close: bool = False, external_id: str | None = None) -> Block:
    view: Block = {"type": "modal", "callback_id": _fits(callback_id, ID, "callback_id"),
                   "title": plain_text(title, TITLE), "blocks": list(blocks)}
    if submit:
        view["submit"] = plain_text(submit, TITLE)
    if close:
        view["close"] = plain_text(close, TITLE)
    if private_metadata is not None:
        view["private_metadata"] = encode_metadata(private_metadata)
    if notify_on_close:
        view["notify_on_close"] = True
    if external_id:
        view["external_id"] = _fits(external_id, ID, "external_id")
    return validate_view(view)


def home(blocks: Sequence[Block], *, private_metadata: str | Mapping[str, Any] | None = None) -> Block:
    view: Block = {"type": "home", "blocks": list(blocks)}
    if private_metadata is not None:
        view["private_metadata"] = encode_metadata(private_metadata)
    return validate_view(view)


def message(text: str, blocks: Sequence[Block] = ()) -> dict[str, Any]:
    """Keyword arguments for chat.postMessage/update: `text` is the notification and screen-reader
    fallback (required by Hearth's outbox), `blocks` what members see."""
    if not text or not text.strip():
        raise BlockKitError("a message needs fallback text")
    if not blocks:
        return {"text": truncate(text, MESSAGE_TEXT)}
    return {"text": truncate(text, FALLBACK_TEXT), "blocks": validate_message_blocks(blocks)}


def encode_metadata(metadata: str | Mapping[str, Any] | Metadata) -> str:
    if is_dataclass(metadata) and not isinstance(metadata, type):
        metadata = asdict(metadata)
    encoded = metadata if isinstance(metadata, str) else json.dumps(metadata, separators=(",", ":"))
    if len(encoded) > PRIVATE_METADATA:
        raise MetadataTooLarge(f"private_metadata is {len(encoded)} characters; Slack keeps at most "
                               f"{PRIVATE_METADATA}, so store ids in it and look the rest up")
    return encoded


def decode_metadata(view: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON object a view carries in private_metadata; {} when it has none (or not JSON)."""
    try:
        value = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class Metadata:
    """Base of a modal's typed private_metadata: a frozen dataclass of int and str fields.

    A view round-trips through the member's Slack client, so what comes back is read as untrusted input:
    `read` gives None, never an exception, when a field is missing or of the wrong kind (a field with a
    default takes it instead)."""

    @classmethod
    def read(cls: type[M], view: Mapping[str, Any]) -> M | None:
        raw = decode_metadata(view)
        values: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            value = raw.get(f.name)
            if f.type in (int, "int"):
                value = as_int(value)
            elif f.type in (str, "str") and not isinstance(value, str):
                value = None
            if value is None and f.default is MISSING:
                return None
            if value is not None:
                values[f.name] = value
        return cls(**values)


M = TypeVar("M", bound=Metadata)


def as_int(value: object) -> int | None:
    """An id a member's client sent back (option value, button value, metadata): an int, or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdecimal() and len(value) <= 18:
        return int(value)
    return None


def input_errors(errors: Mapping[str, str] | None = None, /, **more: str) -> dict[str, Any]:
    """The ack body that shows each message under the input with that block_id; pass a mapping for
    block_ids that are not identifiers (namespaced ids contain dots)."""
    merged = {**(errors or {}), **more}
    if not merged:
        raise BlockKitError("input_errors needs at least one error")
    return {"response_action": "errors",
            "errors": {block_id: truncate(text, INPUT_ERROR) for block_id, text in merged.items()}}


# ---- validation ------------------------------------------------------------------------------------------

def validate_view(view: Block) -> Block:
    """`view` unchanged when Slack would accept it, else `BlockKitError` naming the problem."""
    kind = view.get("type")
    if kind not in ("modal", "home"):
        raise BlockKitError(f"view type must be modal or home, not {kind!r}")
    blocks = view.get("blocks") or []
    if not blocks:
        raise BlockKitError(f"a {kind} view needs at least one block")
    _at_most(blocks, VIEW_BLOCKS, f"blocks in a {kind} view")
    if kind == "modal" and not view.get("submit") and any(b.get("type") == "input" for b in blocks):
        raise BlockKitError("a modal with inputs needs a submit button")
    _check_blocks(blocks)
    try:  # the view's own fields; its blocks (their number included) were checked just above
        View(**{**view, "blocks": [_PLACEHOLDER]}).to_dict()
    except SlackObjectFormationError as exc:
        raise BlockKitError(f"invalid {kind} view: {exc}") from None
    return view


def validate_message_blocks(blocks: Sequence[Block]) -> list[Block]:
    if not blocks:
        raise BlockKitError("a message needs at least one block")
    _at_most(blocks, MESSAGE_BLOCKS, "blocks in a message")
    _check_blocks(blocks)
    return list(blocks)


_PLACEHOLDER: Final[Block] = {"type": "divider"}


def _check_blocks(blocks: Sequence[Block]) -> None:
    for index, block in enumerate(blocks):
        problem = _block_problem(json.dumps(block, sort_keys=True))
        if problem:
            raise BlockKitError(f"block {index} {problem}")


@lru_cache(maxsize=4096)
def _block_problem(block_json: str) -> str | None:
    """What Slack would refuse in one block, or None. Cached by content: every member's modal repeats the same
    labels, inputs and buttons, and slack_sdk's model validation was the costliest step of building a view
    on the ack path (bench/load.py)."""
    block = json.loads(block_json)
    parsed = SdkBlock.parse(block)  # unknown types parse to None (slack_sdk only logs them)
    if parsed is None:
        return f"has an unknown type {block.get('type')!r}"
    try:
        parsed.to_dict()
    except SlackObjectFormationError as exc:
        return f"({block.get('type')}): {exc}"
    return None


def _required(text: str, what: str) -> str:
    if not text.strip():
        raise BlockKitError(f"{what} text must not be empty")
    return text


def _fits(value: str, limit: int, what: str) -> str:
    if not value or len(value) > limit:
        raise BlockKitError(f"{what} must be 1 to {limit} characters, got {len(value or '')}")
    return value


def _with_id(obj: Block, key: str, value: str | None) -> Block:
    if value is not None:
        obj[key] = _fits(str(value), ID, key)
    return obj


def _at_most(items: Sequence[Any], most: int, what: str) -> None:
    if len(items) > most:
        raise BlockKitError(f"{len(items)} {what}; Slack allows at most {most}")


# ---- reading a view_submission ----------------------------------------------------------------------------

_SELECTED: Final[dict[str, str]] = {
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "rich_text_input": "rich_text_value",
}


def view_answers(view: Mapping[str, Any]) -> dict[str, object]:
    """`read_state` of a submitted view; a view without inputs may arrive without `state`."""
    return read_state((view.get("state") or {}).get("values") or {})


def read_state(values: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> dict[str, object]:
    """A view's `state.values` as {block_id: answer}.

    Text is stripped (None when blank), numbers are numbers, single choices are the option's value (None
    when none), multiple choices a list of values, pickers the ids/ISO strings Slack sends. A block holding
    several elements (an actions block) maps to {action_id: answer}.
    """
    state: dict[str, object] = {}
    for block_id, by_action in values.items():
        answers = {action_id: _answer(element) for action_id, element in by_action.items()}
        state[block_id] = next(iter(answers.values())) if len(answers) == 1 else answers
    return state


def _answer(element: Mapping[str, Any]) -> object:
    kind = element.get("type", "")
    if kind in ("static_select", "external_select", "radio_buttons"):
        return (element.get("selected_option") or {}).get("value")
    if kind in ("checkboxes", "multi_static_select", "multi_external_select"):
        return [o["value"] for o in element.get("selected_options") or []]
    if kind == "number_input":
        return _number(element.get("value"))
    if kind in _SELECTED:
        return element.get(_SELECTED[kind])
    value = element.get("value")  # plain_text_input, email_text_input, url_text_input and the unknown
    if isinstance(value, str):
        return value.strip() or None
    return value


def _number(raw: str | None) -> int | float | None:
    if raw is None or not raw.strip():
        return None
    text = raw.strip()
    return int(text) if re.fullmatch(r"[+-]?\d+", text) else float(text)
