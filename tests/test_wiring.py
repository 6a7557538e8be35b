"""Signed requests through the real app (HTTP mode, waitress) into the Slack simulator."""

import json
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from slack_app.simulator import wait_for
from tests.conftest import SIGNING_SECRET, TRANSPORTS


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


# ---- health ------------------------------------------------------------------------------------------

def test_healthz_reports_a_reachable_database(server):
    status, body = get(server.url + "/healthz")
    assert status == 200
    assert json.loads(body) == {"status": "ok", "database": "reachable"}


def test_healthz_is_503_when_the_database_is_unreachable(app_settings, db):
    from dataclasses import replace

    from slack_app.app import Hearth, build_app
    from slack_app.server import start_in_thread
    from storage.db import Database

    hearth = build_app(app_settings, services=_services(app_settings, db))
    broken = Hearth(hearth.bolt, replace(hearth.services, db=Database("postgresql://x@127.0.0.1:1/x")),
                    hearth.oauth_flow)
    running = start_in_thread(broken)
    try:
        status, body = get(running.url + "/healthz")
    finally:
        running.stop()
    assert status == 503
    assert json.loads(body)["database"] == "unreachable"


def _services(settings, db):
    from slack_app.services import build_services
    from slack_app.workflows import WORKFLOWS

    return build_services(settings, db=db, workflows=WORKFLOWS)


# ---- request screening -------------------------------------------------------------------------------

COMMAND = "command=%2Fhearth&text=&user_id=UALICE&team_id=T0HEARTH&channel_id=CGENERAL&trigger_id=1.2.3"


def test_unsigned_request_is_401(driver, simulator):
    resp = driver.post_raw(COMMAND, content_type="application/x-www-form-urlencoded", sign=False)
    assert resp.status == 401
    assert simulator.calls == [] or all(c.method == "auth.test" for c in simulator.calls)


def test_wrongly_signed_request_is_401(driver):
    resp = driver.post_raw(COMMAND, content_type="application/x-www-form-urlencoded", secret="not-the-secret")
    assert resp.status == 401


def test_stale_request_is_401(driver):
    resp = driver.post_raw(COMMAND, content_type="application/x-www-form-urlencoded",
                           timestamp=int(time.time()) - 6 * 60)
    assert resp.status == 401


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('{"type": "event_callback", "event": "x"}', "application/json"),
        ("payload=notjson", "application/x-www-form-urlencoded"),
        ("payload=%5B%5D", "application/x-www-form-urlencoded"),
        ("hello=world", "application/x-www-form-urlencoded"),
        ("{}", "text/plain"),
        ("", "application/json"),
    ],
)
def test_malformed_signed_request_is_400_never_500(driver, body, content_type):
    resp = driver.post_raw(body, content_type=content_type)
    assert resp.status == 400


def _interaction(**fields):
    base = {"type": "view_submission", "team": {"id": "T0HEARTH"}, "user": {"id": "UALICE"}, "api_app_id": "A1",
            "view": {"id": "V1", "type": "modal", "callback_id": "checkin.settings", "state": {"values": {}}}}
    return "payload=" + urllib.parse.quote(json.dumps({**base, **fields}))


MALFORMED = [
    _interaction(user="UALICE"),                                             # user is not an object
    _interaction(user={}),                                                   # no user id
    _interaction(view={"id": "V1", "callback_id": "checkin.submit", "state": "x"}),
    _interaction(view={"id": "V1", "callback_id": "checkin.submit", "state": {"values": []}}),
    _interaction(view={"id": "V1", "callback_id": "checkin.submit", "state": {"values": {"b": "x"}}}),
    _interaction(view="V1"),
    _interaction(type="view_closed", view={"id": "V1"}),                    # no callback id
    _interaction(type="block_actions", actions=[]),
    _interaction(type="block_actions", actions=[{"value": "1"}]),           # no action id
    _interaction(type="shortcut", callback_id=None),
    "command=%2Fcheckin&text=&team_id=T0HEARTH",                             # a command from nobody
]


@pytest.mark.parametrize("body", MALFORMED)
def test_signed_but_malformed_interactions_are_400_never_500(driver, body):
    resp = driver.post_raw(body, content_type="application/x-www-form-urlencoded")
    assert resp.status == 400


@pytest.mark.parametrize("transport", ["socket"])
def test_malformed_socket_mode_envelopes_are_acked_empty_never_a_listener_error(driver, simulator, caplog):
    import logging

    caplog.set_level(logging.INFO)
    for body in MALFORMED:
        resp = driver.post_raw(body, content_type="application/x-www-form-urlencoded")
        assert (resp.status, resp.json) == (200, None), body
    bad_event = driver.sim.socket_mode.deliver("events_api", {"type": "event_callback", "event": "x"})
    assert bad_event.acked and bad_event.attempts == 1
    assert caplog.text.count("socket.envelope_malformed") == len(MALFORMED) + 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [c for c in simulator.calls if c.method not in ("auth.test", "apps.connections.open")]


def test_every_real_slack_interaction_sample_passes_the_shape_screen():
    from slack_app.web import _check_interaction

    samples = Path(__file__).parent / "slack_specs" / "payloads" / "bolt-python" / "variants"
    checked = 0
    for kind in ("block_actions", "view_submission", "view_closed", "global_shortcut", "message_shortcut",
                 "block_suggestion"):
        for variant in json.loads((samples / f"{kind}.json").read_text()):
            payload = variant["payload"]
            if "api_app_id" not in payload:
                continue  # a fragment from a bolt-python unit test, not a payload Slack sends
            _check_interaction(payload)  # raises BadRequest if we would refuse what Slack sends
            checked += 1
    assert checked >= 10


@pytest.mark.parametrize("headers", [
    {"X-Slack-Signature": "v0=abc"},  # no timestamp at all
    {"X-Slack-Request-Timestamp": "yesterday", "X-Slack-Signature": "v0=abc"},
])
def test_missing_or_malformed_timestamp_is_401_never_500(driver, headers):
    resp = driver.post_raw(COMMAND, content_type="application/x-www-form-urlencoded", sign=False, headers=headers)
    assert resp.status == 401


def test_a_body_that_is_not_utf8_is_400(driver):
    resp = driver.post_raw(b"command=%2Fhearth&text=\xff\xfe", content_type="application/x-www-form-urlencoded",
                           sign=False, headers=_signed_bytes_headers(b"command=%2Fhearth&text=\xff\xfe"))
    assert resp.status == 400


def _signed_bytes_headers(raw: bytes) -> dict:
    # The driver signs text; Slack's signature is over the raw bytes, which is what a forger controls.
    import hashlib
    import hmac

    ts = str(int(time.time()))
    digest = hmac.new(SIGNING_SECRET.encode(), b"v0:" + ts.encode() + b":" + raw, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": "v0=" + digest}


def test_url_verification_echoes_the_challenge(driver):
    resp = driver.url_verification("3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P")
    assert resp.status == 200
    assert "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" in resp.body_text


# ---- listeners ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("transport", TRANSPORTS)
def test_hearth_command_answers_with_help_privately(driver):
    resp = driver.command("UALICE", "/hearth", text="help")
    assert resp.status == 200
    assert resp.json["response_type"] == "ephemeral"
    assert "/checkin" in resp.json["text"]


def test_a_command_whose_text_says_payload_is_still_a_command(driver):
    # Bolt's own body parser takes any body containing the word "payload" for an interaction's form
    resp = driver.command("UALICE", "/hearth", text="help payload")
    assert resp.status == 200
    assert resp.json["response_type"] == "ephemeral"
    assert "/checkin" in resp.json["text"]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("command", ["/checkin", "/buddies"])
def test_a_workflow_not_set_up_yet_gets_a_kind_note(driver, command):
    resp = driver.command("UBOB", command)
    assert resp.status == 200
    assert resp.json["response_type"] == "ephemeral"
    assert resp.json["text"]


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_app_home_opened_publishes_the_home_tab(driver, simulator, db):
    from storage import members

    resp = driver.app_home_opened("UALICE")
    assert resp.status == 200
    assert wait_for(lambda: simulator.home("UALICE") is not None)
    home = simulator.home("UALICE")
    assert home["type"] == "home"
    assert "checkin.home" in [b.get("block_id") for b in home["blocks"]]  # each workflow's section is in it
    assert members.get(db, "T0HEARTH", "UALICE") is not None


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_event_retries_run_once(driver, simulator, hearth):
    ran = []

    @hearth.bolt.middleware  # after Hearth's own: sees only what is let through to the listeners
    def count(body, next):
        if (body.get("event") or {}).get("type") == "member_joined_channel":
            ran.append(body["event_id"])
        return next()

    first = driver.member_joined_channel("UCARMEN", "CCIRCLE")
    assert first.status == 200
    for retry in (1, 2, 3):
        assert driver.member_joined_channel("UCARMEN", "CCIRCLE", event_id=first.event_id,
                                            retry_num=retry).status == 200
    assert driver.member_joined_channel("UCARMEN", "CCIRCLE").status == 200  # another event_id: it runs
    assert wait_for(lambda: len(ran) == 2)
    time.sleep(0.3)  # give a wrongly let-through retry the chance to arrive
    assert ran[0] == first.event_id and len(ran) == 2


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_home_open_writes_no_event_row_and_a_retry_draws_the_home_again(driver, simulator, db):
    """Recording each Home open's event_id would write and commit a row before every Home open's ack; drawing a
    Home twice changes nothing, so a retry (Slack's, after an ack it did not see) simply draws it again."""
    from sqlalchemy import func, select

    from storage.models import SlackEvent

    first = driver.app_home_opened("UBOB")
    assert first.status == 200
    assert wait_for(lambda: len(simulator.calls_for("views.publish")) == 1)
    again = driver.event({"type": "app_home_opened", "user": "UBOB", "channel": "DBOB", "tab": "home"},
                         event_id=first.event_id, retry_num=1)
    assert again.status == 200
    assert wait_for(lambda: len(simulator.calls_for("views.publish")) == 2)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(SlackEvent)) == 0


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_member_joined_channel_remembers_the_member(driver, db):
    from storage import members

    assert driver.member_joined_channel("UCARMEN", "CCIRCLE").status == 200
    assert wait_for(lambda: members.get(db, "T0HEARTH", "UCARMEN") is not None)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_action_is_acknowledged_and_answered_kindly(driver, simulator):
    resp = driver.block_action("UALICE", "nobody.knows.this", value="x", channel="CGENERAL")
    assert resp.status == 200
    assert wait_for(lambda: len(simulator.response_url_posts()) == 1)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_unknown_view_submission_and_shortcut_are_acknowledged(driver, simulator):
    assert driver.global_shortcut("UALICE", "nobody.knows.this").status == 200
    assert driver.message_shortcut("UALICE", "nobody.knows.either", "CGENERAL", "1700000000.000100").status == 200
