"""slack_app.web.unquote_plus: the request path's fast form decoding agrees with urllib's on every input."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl, quote, quote_plus
from urllib.parse import unquote_plus as urllib_unquote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slack_app.web import _form_body, unquote_plus

PAYLOADS = Path(__file__).resolve().parent / "slack_specs" / "payloads"  # vendored: see its SOURCES.md
INTERACTIONS = [PAYLOADS / "bolt-python" / name for name in ("block_actions.json", "view_submission.json",
                                                              "view_closed.json", "message_shortcut.json")]

# Where decoding can go wrong: escapes (valid, stray, lower-case, cut short), "=", "+", line breaks and text
# beyond ASCII, raw or escaped (a multi-byte character, or half of one).
TRICKY = st.text(alphabet="%=+&aF09zZ \r\n\t\"{}é✓\x00", max_size=60) | st.lists(
    st.sampled_from(["%", "%2", "%25", "%3D", "%3d", "%2B", "%E2%9C%93", "%E2%9C", "%C3", "%0A", "%0D%0A",
                     "%FF", "=", "==", "=3D", "=\n", "+", "a", "é", " ", "%%", "%g1"]), max_size=20).map("".join)


@given(st.text())
def test_what_a_form_encoder_writes_decodes_to_the_same_text(text: str) -> None:
    for encoded in (quote_plus(text), quote(text, safe="")):
        assert unquote_plus(encoded) == urllib_unquote_plus(encoded) == text


@given(TRICKY)
def test_any_string_decodes_as_urllib_decodes_it(value: str) -> None:
    assert unquote_plus(value) == urllib_unquote_plus(value)


@given(st.text())
def test_an_interaction_carrying_any_text_reads_as_parse_qsl_reads_it(text: str) -> None:
    payload = {"type": "block_actions", "user": {"id": "U1"}, "actions": [{"action_id": "a", "value": text}]}
    body = "payload=" + quote_plus(json.dumps(payload))
    assert _form_body(body) == json.loads(dict(parse_qsl(body, keep_blank_values=True))["payload"]) == payload


@pytest.mark.parametrize("sample", INTERACTIONS, ids=lambda p: p.stem)
def test_every_real_interaction_sample_reads_as_slack_sent_it(sample: Path) -> None:
    payload = json.loads(sample.read_text())
    assert _form_body("payload=" + quote_plus(json.dumps(payload))) == payload
