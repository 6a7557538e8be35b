"""Block Kit builders: Slack's limits, safe member text, and reading view submissions."""

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from slack_sdk.models.views import View

from slack_app import blocks
from slack_app.blocks import (
    BlockKitError,
    MetadataTooLarge,
    escape_member_text,
    read_state,
    truncate,
    validate_message_blocks,
    validate_view,
)

SPECS = Path(__file__).resolve().parent / "slack_specs"  # vendored: see its SOURCES.md
PAYLOADS = SPECS / "payloads" / "bolt-python"
EXAMPLES = sorted((SPECS / "block-kit" / "examples-python-slack-sdk").glob("*.json"))

# Anything Slack would parse into a ping, mention, channel link or disguised link.
SLACK_CONTROL = re.compile(r"<[!@#]|<https?:|<mailto:|@(?:channel|here|everyone)", re.IGNORECASE)


# ---- truncate --------------------------------------------------------------------------------------------

@given(st.text(), st.integers(min_value=1, max_value=300))
def test_truncate_never_exceeds_the_limit_and_is_idempotent(text, limit):
    cut = truncate(text, limit)
    assert len(cut) <= limit
    assert truncate(cut, limit) == cut
    if len(text) <= limit:
        assert cut == text
    else:
        assert cut.endswith("…")


def test_truncate_handles_nothing_and_never_leaves_half_a_mention_or_escape():
    assert truncate(None, 10) == "" and truncate("", 10) == ""
    assert truncate("thanks <@U0123456> and <#C0123456>", 12) == "thanks…"
    assert truncate("see <https://example.org|the guide>", 20) == "see…"
    assert truncate("Q &amp; A", 5) == "Q…"
    assert truncate("AT&T rocks", 5) == "AT&T…"
    with pytest.raises(ValueError):
        truncate("x", 0)


# ---- escaping member text --------------------------------------------------------------------------------

@given(st.text())
def test_escaped_member_text_contains_nothing_slack_would_parse(text):
    assert not SLACK_CONTROL.search(escape_member_text(text))


@given(st.text(alphabet=st.characters(blacklist_characters="\u2060")))
def test_escaping_loses_nothing(text):
    escaped = escape_member_text(text)
    shown = escaped.replace(blocks.WORD_JOINER, "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    assert shown == text


@given(st.text(alphabet=st.characters(blacklist_characters="&<>@")))
def test_harmless_text_is_unchanged(text):
    assert escape_member_text(text) == text


@pytest.mark.parametrize(("typed", "sent"), [
    ("<!channel> look", "&lt;!channel&gt; look"),
    ("hi <@U123>", "hi &lt;@U123&gt;"),
    ("<https://evil.example|click>", "&lt;https://evil.example|click&gt;"),
    ("@here @Channel @everyone", "@\u2060here @\u2060Channel @\u2060everyone"),
    ("tea & cake, *bold* _me_", "tea &amp; cake, *bold* _me_"),
    (None, ""),
])
def test_escape_member_text_examples(typed, sent):
    assert escape_member_text(typed) == sent


# ---- builders --------------------------------------------------------------------------------------------

def full_modal() -> dict:
    return blocks.modal("Check in", [
        blocks.header("This week"),
        blocks.section("*Hello* there", accessory=blocks.button("Help", "demo.help", value="1")),
        blocks.context("one", "two"),
        blocks.divider(),
        blocks.actions(blocks.button("Go", "demo.go", style="primary"), blocks.button("Stop", "demo.stop",
                                                                                       style="danger")),
        blocks.plain_text_input("demo.text", "Grateful for", multiline=True, max_length=500, initial_value="tea",
                                placeholder="Big or small", hint="Optional", optional=True),
        blocks.static_select_input("demo.select", "Day", [("mon", "Monday"), ("tue", "Tuesday")], initial="tue",
                                   placeholder="Pick"),
        blocks.radio_input("demo.radio", "Share", [("named", "With my name"), ("anon", "Without")], initial="anon"),
        blocks.checkboxes_input("demo.checks", "Topics", [("a", "A"), ("b", "B")], initial=["b"]),
        blocks.channel_select_input("demo.channel", "Channel", initial="C0123"),
    ], callback_id="demo.submit", submit="Share", private_metadata={"round_id": 7}, notify_on_close=True)


def test_builders_make_views_that_slack_sdk_reads_back_unchanged():
    view = full_modal()
    assert View(**view).to_dict() == view
    assert validate_view(view) is view
    assert json.loads(view["private_metadata"]) == {"round_id": 7}
    assert blocks.decode_metadata(view) == {"round_id": 7}
    select = view["blocks"][6]["element"]
    assert select["action_id"] == "demo.select" and select["initial_option"]["value"] == "tue"


def test_home_and_message():
    home = blocks.home([blocks.section("hi")])
    assert home == {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]}
    msg = blocks.message("x" * 5000, [blocks.section("hi")])
    assert len(msg["text"]) == blocks.FALLBACK_TEXT and msg["blocks"]
    assert blocks.message("y" * 5000) == {"text": "y" * 5000}
    with pytest.raises(BlockKitError, match="fallback"):
        blocks.message("  ", [blocks.section("hi")])


def test_words_that_overflow_are_truncated():
    view = blocks.modal("A title that is far too long for Slack", [
        blocks.section("s" * 4000), blocks.header("h" * 200), blocks.context("c" * 4000),
        blocks.actions(blocks.button("b" * 100, "x.b")),
        blocks.static_select_input("x.s", "l" * 3000, [("v", "o" * 100)]),
    ], callback_id="x", submit="A submit label too long!!", close="A close label far too long")
    assert [len(view[k]["text"]) for k in ("title", "submit", "close")] == [24, 24, 24]
    section, head, ctx, acts, select = view["blocks"]
    assert len(section["text"]["text"]) == 3000 and section["text"]["text"].endswith("…")
    assert len(head["text"]["text"]) == 150
    assert len(ctx["elements"][0]["text"]) == 3000
    assert len(acts["elements"][0]["text"]["text"]) == 75
    assert len(select["label"]["text"]) == 2000
    assert len(select["element"]["options"][0]["text"]["text"]) == 75


@pytest.mark.parametrize("build", [
    lambda: blocks.button("ok", "x", value="v" * 2001),
    lambda: blocks.button("ok", "a" * 256),
    lambda: blocks.button("ok", "x", style="loud"),
    lambda: blocks.section("hi", block_id="b" * 256),
    lambda: blocks.section("   "),
    lambda: blocks.static_select_input("x", "l", [("v" * 151, "text")]),
    lambda: blocks.static_select_input("x", "l", [("a", "A")], initial="b"),
    lambda: blocks.radio_input("x", "l", [(str(i), str(i)) for i in range(11)]),
    lambda: blocks.checkboxes_input("x", "l", [("a", "A")], initial=["z"]),
    lambda: blocks.plain_text_input("x", "l", max_length=3001),
    lambda: blocks.context(*["c"] * 11),
    lambda: blocks.actions(*[blocks.button("b", f"x.{i}") for i in range(26)]),
    lambda: blocks.modal("t", [blocks.section("s")] * 101, callback_id="x"),
    lambda: blocks.modal("t", [blocks.plain_text_input("x", "l")], callback_id="x"),  # inputs need submit
    lambda: blocks.message("t", [blocks.section("s")] * 51),
    lambda: blocks.input_errors(),
])
def test_values_ids_and_counts_that_do_not_fit_are_errors(build):
    with pytest.raises(BlockKitError):
        build()


def test_private_metadata_over_3000_characters_is_refused():
    with pytest.raises(MetadataTooLarge) as raised:
        blocks.modal("t", [blocks.section("s")], callback_id="x", private_metadata={"text": "x" * 3000})
    assert isinstance(raised.value, ValueError)
    assert blocks.encode_metadata("x" * 3000) == "x" * 3000


def test_validation_catches_what_only_slack_sdk_knows_and_unknown_blocks():
    with pytest.raises(BlockKitError, match="block 0"):
        validate_message_blocks([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}])
    with pytest.raises(BlockKitError, match="unknown type"):
        validate_message_blocks([{"type": "sparkles"}])
    with pytest.raises(BlockKitError, match="title"):
        validate_view({"type": "modal", "title": {"type": "plain_text", "text": "t" * 25},
                       "blocks": [blocks.section("s")]})
    with pytest.raises(BlockKitError, match="view type"):
        validate_view({"type": "workflow_step", "blocks": [blocks.section("s")]})


def test_a_bad_block_is_refused_every_time_and_wherever_it_stands():
    """Block checks are remembered by content (every member's modal repeats the same blocks): a remembered
    verdict must still refuse the block on each use, naming its place in that view."""
    bad = {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}
    for position in (0, 0, 2):
        view_blocks = [blocks.section("s")] * position + [bad]
        with pytest.raises(BlockKitError, match=f"block {position} \\(header\\)"):
            validate_view({"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": view_blocks})
    good = {"type": "header", "text": {"type": "plain_text", "text": "h" * 150}}
    assert validate_message_blocks([good]) == validate_message_blocks([good]) == [good]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_slack_sdk_example_views_pass(path):
    view = json.loads(path.read_text())
    assert validate_view(view) == view


def test_input_errors():
    ack = blocks.input_errors({"checkin.gratitude": "Please share a few words."}, other="x" * 500)
    assert ack["response_action"] == "errors"
    assert ack["errors"]["checkin.gratitude"] == "Please share a few words."
    assert len(ack["errors"]["other"]) == blocks.INPUT_ERROR


# ---- reading submissions ---------------------------------------------------------------------------------

def test_read_state_of_bolts_sample_submission():
    payload = json.loads((PAYLOADS / "view_submission.json").read_text())
    assert read_state(payload["view"]["state"]["values"]) == {"hspI": "test"}


def test_read_state_of_every_sample_variant():
    variants = json.loads((PAYLOADS / "variants" / "view_submission.json").read_text())
    views = [v["payload"]["view"] for v in variants if "state" in v["payload"].get("view", {})]
    read = [read_state(view["state"].get("values", {})) for view in views]
    assert {"task_name_input": "The important task", "task_description_input": "This is the task for you!",
            "task_author_input": "seratch@example.com"} in read
    assert {"zniAM": "Hi there!"} in read
    assert {} in read


def test_read_state_of_every_element_type():
    option = {"text": {"type": "plain_text", "text": "Tuesday"}, "value": "tue"}
    values = {
        "text": {"a": {"type": "plain_text_input", "value": "  tea with a friend \n"}},
        "blank": {"a": {"type": "plain_text_input", "value": "   "}},
        "unset": {"a": {"type": "plain_text_input", "value": None}},
        "select": {"a": {"type": "static_select", "selected_option": option}},
        "none_selected": {"a": {"type": "static_select", "selected_option": None}},
        "radio": {"a": {"type": "radio_buttons", "selected_option": option}},
        "checks": {"a": {"type": "checkboxes", "selected_options": [option, {**option, "value": "wed"}]}},
        "multi": {"a": {"type": "multi_static_select", "selected_options": []}},
        "user": {"a": {"type": "users_select", "selected_user": "U123"}},
        "conversation": {"a": {"type": "conversations_select", "selected_conversation": "G123"}},
        "channel": {"a": {"type": "channels_select", "selected_channel": "C123"}},
        "date": {"a": {"type": "datepicker", "selected_date": "2025-03-04"}},
        "count": {"a": {"type": "number_input", "value": "12"}},
        "ratio": {"a": {"type": "number_input", "value": "0.5"}},
        "no_count": {"a": {"type": "number_input", "value": ""}},
        "pair": {"x": {"type": "users_select", "selected_user": "U1"},
                 "y": {"type": "static_select", "selected_option": option}},
    }
    assert read_state(values) == {
        "text": "tea with a friend", "blank": None, "unset": None, "select": "tue", "none_selected": None,
        "radio": "tue", "checks": ["tue", "wed"], "multi": [], "user": "U123", "conversation": "G123",
        "channel": "C123", "date": "2025-03-04", "count": 12, "ratio": 0.5, "no_count": None,
        "pair": {"x": "U1", "y": "tue"},
    }


def test_a_built_modal_reads_back_through_its_block_ids():
    view = full_modal()
    ids = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    assert ids == ["demo.text", "demo.select", "demo.radio", "demo.checks", "demo.channel"]
    state = {b["block_id"]: {b["element"]["action_id"]: {"type": b["element"]["type"]}} for b in view["blocks"]
             if b["type"] == "input"}
    assert set(read_state(state)) == set(ids)


def test_metadata_fields_with_a_default_take_it_when_a_modal_opened_before_them_comes_back():
    from slack_app.checkins.views import CheckinMeta

    assert CheckinMeta.read({"private_metadata": '{"round_id": 7}'}) == CheckinMeta(round_id=7, home=0)
    assert CheckinMeta.read({"private_metadata": '{"round_id": 7, "home": 1}'}) == CheckinMeta(round_id=7, home=1)
    assert CheckinMeta.read({"private_metadata": '{"round_id": 7, "home": "yes"}'}) == CheckinMeta(round_id=7, home=0)
    assert CheckinMeta.read({"private_metadata": '{"home": 1}'}) is None  # no default for the round
