"""The driver plays Slack: signed requests shaped like Slack's, checked by a stand-in app that verifies them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock, SignatureVerifier
from slack_sdk.webhook import WebhookClient

from slack_app.simulator import LateAck, SlackDriver, SlackSimulator, demo_workspace, wait_for

SECRET = "driver-test-secret"


@dataclass
class Received:
    headers: dict[str, str]
    body: str
    signed_ok: bool

    @property
    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body, keep_blank_values=True))

    @property
    def payload(self) -> dict:
        return json.loads(self.form["payload"])

    @property
    def json(self) -> dict:
        return json.loads(self.body)


Reply = tuple[int, "dict | None"]


class StandInApp:
    """Verifies each request's signature as Bolt does, records it, and answers with `on_request`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.on_request: Callable[[Received], Reply] = lambda r: (200, None)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                timestamp = headers.get("x-slack-request-timestamp", "")
                signed_ok = timestamp.isdigit() and SignatureVerifier(SECRET).is_valid(
                    body=body, timestamp=timestamp, signature=headers.get("x-slack-signature", ""))
                received = Received(headers, body, signed_ok)
                outer.received.append(received)
                status, reply = outer.on_request(received)
                raw = json.dumps(reply).encode() if reply is not None else b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/slack/events"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    @property
    def last(self) -> Received:
        return self.received[-1]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def sim() -> Iterator[SlackSimulator]:
    with SlackSimulator(demo_workspace(), rate_limits=False) as simulator:
        yield simulator


@pytest.fixture
def app() -> Iterator[StandInApp]:
    stand_in = StandInApp()
    yield stand_in
    stand_in.stop()


@pytest.fixture
def driver(app, sim) -> SlackDriver:
    return SlackDriver(app.url, SECRET, sim)


def web(sim: SlackSimulator) -> WebClient:
    return WebClient(token=sim.bot_token, base_url=sim.base_url)


MODAL = {
    "type": "modal", "callback_id": "checkin", "private_metadata": '{"circle": "CCIRCLE"}',
    "title": {"type": "plain_text", "text": "Weekly check-in"}, "submit": {"type": "plain_text", "text": "Share"},
    "blocks": [
        {"type": "input", "block_id": "grateful", "label": {"type": "plain_text", "text": "Grateful for"},
         "element": {"type": "plain_text_input", "action_id": "text"}},
        {"type": "input", "block_id": "mood", "label": {"type": "plain_text", "text": "Mood"},
         "element": {"type": "static_select", "action_id": "mood_choice", "options": [
             {"text": {"type": "plain_text", "text": "Good"}, "value": "good"},
             {"text": {"type": "plain_text", "text": "Low"}, "value": "low"}]}},
        {"type": "input", "block_id": "topics", "label": {"type": "plain_text", "text": "Topics"},
         "element": {"type": "checkboxes", "action_id": "picked", "options": [
             {"text": {"type": "plain_text", "text": "Work"}, "value": "work"},
             {"text": {"type": "plain_text", "text": "Life"}, "value": "life"}]}},
        {"type": "input", "block_id": "buddy", "label": {"type": "plain_text", "text": "Buddy"},
         "element": {"type": "users_select", "action_id": "who"}},
        {"type": "input", "block_id": "where", "label": {"type": "plain_text", "text": "Where"},
         "element": {"type": "conversations_select", "action_id": "conv"}},
        {"type": "input", "block_id": "when", "label": {"type": "plain_text", "text": "When"},
         "element": {"type": "datepicker", "action_id": "day"}},
        {"type": "input", "block_id": "hours", "label": {"type": "plain_text", "text": "Hours"},
         "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": False}},
        {"type": "input", "block_id": "note", "optional": True, "label": {"type": "plain_text", "text": "Note"},
         "element": {"type": "plain_text_input", "action_id": "note_text", "initial_value": "n/a"}},
    ],
}
SIMPLE = {"type": "modal", "callback_id": "simple", "title": {"type": "plain_text", "text": "Simple"},
          "submit": {"type": "plain_text", "text": "OK"}, "notify_on_close": True,
          "blocks": [{"type": "input", "block_id": "b", "label": {"type": "plain_text", "text": "B"},
                      "element": {"type": "plain_text_input", "action_id": "a"}}]}


def open_modal(sim: SlackSimulator, user: str, view: dict) -> dict:
    return web(sim).views_open(trigger_id=sim.issue_trigger(user), view=view)["view"]


# ---- signing and transport ------------------------------------------------------------------------------

def test_a_command_is_signed_form_encoded_and_shaped_like_slacks(driver, app, sim):
    resp = driver.command("UALICE", "/checkin", text="hello world", channel="CCIRCLE")
    assert resp.status == 200
    got = app.last
    assert got.signed_ok and got.headers["content-type"] == "application/x-www-form-urlencoded"
    form = got.form
    assert {k: form[k] for k in ("team_id", "team_domain", "channel_id", "channel_name", "user_id", "user_name",
                                 "command", "text", "api_app_id")} == {
        "team_id": "T0HEARTH", "team_domain": "hearth-demo", "channel_id": "CCIRCLE",
        "channel_name": "gratitude-circle", "user_id": "UALICE", "user_name": "alice", "command": "/checkin",
        "text": "hello world", "api_app_id": "A0HEARTH"}
    assert form["response_url"].startswith(sim.url + "/response_url/")
    web(sim).views_open(trigger_id=form["trigger_id"], view=SIMPLE)  # the trigger is Alice's
    assert sim.latest_view("UALICE")["callback_id"] == "simple"


def test_the_response_url_records_what_the_app_answers(driver, app, sim):
    driver.command("UBOB", "/hearth", channel="CGENERAL")
    WebhookClient(app.last.form["response_url"]).send(text="Saved, thank you", response_type="ephemeral")
    [post] = sim.response_url_posts()
    assert (post["user"], post["channel"], post["body"]["text"]) == ("UBOB", "CGENERAL", "Saved, thank you")
    assert sim.transcript() == ["reply to Bob in #general: Saved, thank you"]


def test_events_are_signed_json_envelopes_and_retries_carry_slacks_headers(driver, app, sim):
    first = driver.event({"type": "app_mention", "user": "UBOB", "text": "<@UHEARTHBOT> hi", "channel": "CCIRCLE"})
    envelope = app.last.json
    assert app.last.signed_ok and app.last.headers["content-type"] == "application/json"
    assert (envelope["type"], envelope["team_id"], envelope["api_app_id"]) == ("event_callback", "T0HEARTH", "A0HEARTH")
    assert envelope["event_id"] == first.event_id and first.event_id.startswith("Ev")
    assert envelope["event"]["event_ts"] and envelope["authorizations"][0]["user_id"] == "UHEARTHBOT"
    assert "x-slack-retry-num" not in app.last.headers
    driver.event({"type": "app_mention", "user": "UBOB", "channel": "CCIRCLE"}, event_id=first.event_id, retry_num=2)
    assert app.last.json["event_id"] == first.event_id
    assert (app.last.headers["x-slack-retry-num"], app.last.headers["x-slack-retry-reason"]) == ("2", "http_timeout")


def test_post_raw_sends_unsigned_stale_wrongly_signed_and_malformed_requests(driver, app):
    driver.post_raw("command=%2Fhearth", content_type="application/x-www-form-urlencoded", sign=False)
    assert "x-slack-signature" not in app.last.headers and "x-slack-request-timestamp" not in app.last.headers
    stale = int(time.time()) - 6 * 60
    driver.post_raw("command=%2Fhearth", content_type="application/x-www-form-urlencoded", timestamp=stale)
    got = app.last
    assert got.headers["x-slack-request-timestamp"] == str(stale) and not got.signed_ok

    class Then(Clock):
        def now(self) -> float:
            return float(stale)

    assert SignatureVerifier(SECRET, clock=Then()).is_valid(  # correctly signed, only too old
        got.body, got.headers["x-slack-request-timestamp"], got.headers["x-slack-signature"])
    driver.post_raw("{}", content_type="application/json", secret="not-the-secret")
    assert not app.last.signed_ok
    driver.post_raw(b"{not json", content_type="application/json", headers={"X-Extra": "1"})
    assert app.last.body == "{not json" and app.last.signed_ok and app.last.headers["x-extra"] == "1"


def test_non_2xx_answers_are_returned_not_raised(driver, app):
    app.on_request = lambda r: (401, {"error": "invalid signature"})
    resp = driver.url_verification("abc")
    assert (resp.status, resp.json) == (401, {"error": "invalid signature"})
    assert app.last.json == {"token": "sim-verification-token", "challenge": "abc", "type": "url_verification"}


# ---- modals ----------------------------------------------------------------------------------------------

def test_submit_view_builds_state_values_from_the_stored_view(driver, app, sim):
    view = open_modal(sim, "UALICE", MODAL)
    resp = driver.submit_view("UALICE", view["id"], {
        "grateful": "my team", "mood_choice": "good", "topics": ["work", "life"], "who": "UBOB",
        "where": "CCIRCLE", "day": "2025-01-31", "hours": 3})
    assert resp.status == 200
    payload = app.last.payload
    assert app.last.signed_ok and payload["type"] == "view_submission"
    assert (payload["user"]["id"], payload["team"]["id"]) == ("UALICE", "T0HEARTH")
    sent = payload["view"]
    assert (sent["id"], sent["hash"], sent["callback_id"], sent["private_metadata"]) == \
        (view["id"], view["hash"], "checkin", '{"circle": "CCIRCLE"}')
    mood, topics = MODAL["blocks"][1]["element"]["options"], MODAL["blocks"][2]["element"]["options"]
    assert sent["state"]["values"] == {
        "grateful": {"text": {"type": "plain_text_input", "value": "my team"}},
        "mood": {"mood_choice": {"type": "static_select", "selected_option": mood[0]}},
        "topics": {"picked": {"type": "checkboxes", "selected_options": topics}},
        "buddy": {"who": {"type": "users_select", "selected_user": "UBOB"}},
        "where": {"conv": {"type": "conversations_select", "selected_conversation": "CCIRCLE"}},
        "when": {"day": {"type": "datepicker", "selected_date": "2025-01-31"}},
        "hours": {"n": {"type": "number_input", "value": "3"}},
        "note": {"note_text": {"type": "plain_text_input", "value": "n/a"}},  # left alone: its initial value
    }
    assert sim.latest_view("UALICE") is None  # an empty ack closes the modal


def test_submit_view_refuses_inputs_the_view_does_not_have(driver, sim):
    view = open_modal(sim, "UALICE", MODAL)
    with pytest.raises(ValueError, match="no input"):
        driver.submit_view("UALICE", view["id"], {"gratefull": "typo"})
    with pytest.raises(ValueError, match="not an option"):
        driver.submit_view("UALICE", view["id"], {"mood": "ecstatic"})


def test_the_ack_of_a_submission_decides_what_happens_to_the_modal(driver, app, sim):
    view = open_modal(sim, "UDEV", SIMPLE)
    renamed = {**SIMPLE, "title": {"type": "plain_text", "text": "Thanks"}}
    replies = iter([
        {"response_action": "errors", "errors": {"b": "Please say a bit more"}},
        {"response_action": "update", "view": renamed},
        {"response_action": "update", "view": {**SIMPLE, "title": {"type": "plain_text", "text": "x" * 30}}},
        {"response_action": "push", "view": SIMPLE},
        {"response_action": "clear"},
    ])
    app.on_request = lambda r: (200, next(replies))
    driver.submit_view("UDEV", view["id"], {"b": "hi"})
    assert [v["id"] for v in sim.views("UDEV")] == [view["id"]]
    driver.submit_view("UDEV", view["id"], {"b": "hi"})
    assert sim.latest_view("UDEV")["title"]["text"] == "Thanks" and sim.latest_view("UDEV")["id"] == view["id"]
    refused = driver.submit_view("UDEV", view["id"], {"b": "hi"})
    assert refused.view_error["error"] == "invalid_arguments" and sim.latest_view("UDEV")["title"]["text"] == "Thanks"
    driver.submit_view("UDEV", view["id"], {"b": "hi"})
    assert len(sim.views("UDEV")) == 2
    driver.submit_view("UDEV", sim.latest_view("UDEV")["id"], {"b": "hi"})
    assert sim.views("UDEV") == []


def test_errors_in_a_submission_ack_must_name_input_blocks_of_the_submitted_view(driver, app, sim):
    with_section = {**SIMPLE, "blocks": [{"type": "section", "block_id": "intro",
                                          "text": {"type": "mrkdwn", "text": "Hello"}}, *SIMPLE["blocks"]]}
    view = open_modal(sim, "UDEV", with_section)
    for errors, pointer in (({"a": "keyed by action_id"}, "/errors/a"), ({"intro": "not an input"}, "/errors/intro"),
                            ({"b": "fine", "typo": "x"}, "/errors/typo"), ({}, "/errors]"), ({"b": ""}, "/errors/b")):
        app.on_request = lambda r, errors=errors: (200, {"response_action": "errors", "errors": errors})
        refused = driver.submit_view("UDEV", view["id"], {"b": "hi"})
        assert refused.view_error["error"] == "invalid_arguments"
        assert [m for m in refused.view_error["response_metadata"]["messages"] if pointer in m], errors
        assert sim.latest_view("UDEV")["id"] == view["id"]  # Slack shows its generic error; the modal stays
    app.on_request = lambda r: (200, {"response_action": "errors", "errors": {"b": "Please say a bit more"}})
    assert driver.submit_view("UDEV", view["id"], {"b": "hi"}).view_error is None
    assert sim.latest_view("UDEV")["id"] == view["id"]
    app.on_request = lambda r: (200, {"response_action": "errors", "errors": {"a": "keyed by action_id"}})
    with pytest.raises(AssertionError, match="Slack refused the app's answer to view_submission simple"):
        driver.as_member("UDEV").submit({"b": "hi"})  # a member's story stops at Slack's generic error


def test_closing_a_modal_tells_the_app_only_if_it_asked(driver, app, sim):
    quiet = open_modal(sim, "UEMI", {**SIMPLE, "notify_on_close": False})
    assert driver.close_view("UEMI", quiet["id"]) is None and app.received == []
    noisy = open_modal(sim, "UEMI", SIMPLE)
    assert driver.close_view("UEMI", noisy["id"]).status == 200
    assert app.last.payload["type"] == "view_closed" and app.last.payload["view"]["id"] == noisy["id"]
    assert sim.latest_view("UEMI") is None


# ---- Slack's 3 seconds ------------------------------------------------------------------------------------

class SteppedClock:
    """The simulator's clock, moved by the stand-in app to play a slow ack without waiting for it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> SteppedClock:
    return SteppedClock()


@pytest.fixture
def slow_sim(clock) -> Iterator[SlackSimulator]:
    with SlackSimulator(demo_workspace(), rate_limits=False, clock=clock) as simulator:
        yield simulator


def slow_by(clock: SteppedClock, seconds: float, reply: dict | None = None) -> Callable[[Received], Reply]:
    def answer(received: Received) -> Reply:
        clock.now += seconds
        return 200, reply
    return answer


def test_an_ack_after_three_seconds_fails_the_request(app, slow_sim, clock):
    driver = SlackDriver(app.url, SECRET, slow_sim)
    app.on_request = slow_by(clock, 2.9)
    assert driver.command("UALICE", "/checkin").late is False and driver.late_acks == []
    app.on_request = slow_by(clock, 3.2)
    with pytest.raises(LateAck, match=r"command /checkin after 3\.20 s"):
        driver.command("UALICE", "/checkin")
    with pytest.raises(LateAck, match="event app_home_opened"):
        driver.app_home_opened("UALICE")
    assert [r.request for r in driver.late_acks] == ["command /checkin", "event app_home_opened"]
    probe = driver.post_raw("command=%2Fcheckin", content_type="application/x-www-form-urlencoded", sign=False)
    assert probe.late and len(driver.late_acks) == 2  # not a request Slack sends: no deadline to miss


def test_after_a_late_ack_the_trigger_is_spent_and_a_submission_leaves_the_modal(app, slow_sim, clock):
    driver = SlackDriver(app.url, SECRET, slow_sim, raise_on_late_ack=False)
    app.on_request = slow_by(clock, 3.5)
    late = driver.command("UALICE", "/checkin")
    assert late.status == 200 and late.late and driver.late_acks == [late]
    with pytest.raises(SlackApiError) as info:  # the app's views.open after its slow ack
        web(slow_sim).views_open(trigger_id=app.last.form["trigger_id"], view=SIMPLE)
    assert info.value.response["error"] == "expired_trigger_id" and slow_sim.latest_view("UALICE") is None
    view = open_modal(slow_sim, "UALICE", SIMPLE)
    app.on_request = slow_by(clock, 4, {"response_action": "clear"})
    submitted = driver.submit_view("UALICE", view["id"], {"b": "hi"})
    assert submitted.view_error == {"ok": False, "error": "operation_timeout"}
    assert slow_sim.latest_view("UALICE")["id"] == view["id"]  # Slack ignored the late `clear`


# ---- block actions, shortcuts, events -----------------------------------------------------------------

BUTTON_MESSAGE = [{"type": "section", "block_id": "intro", "text": {"type": "mrkdwn", "text": "Ready?"},
                   "accessory": {"type": "button", "action_id": "checkin.start", "value": "go",
                                 "text": {"type": "plain_text", "text": "Start"}}}]


def test_block_actions_take_their_context_from_a_message_a_view_or_an_ephemeral(driver, app, sim):
    web(sim).chat_postMessage(channel="UALICE", text="Ready?", blocks=BUTTON_MESSAGE)
    message = sim.messages("UALICE")[0]
    driver.block_action("UALICE", "checkin.start", message=message)
    payload = app.last.payload
    assert payload["container"] == {"type": "message", "message_ts": message["ts"], "channel_id": "DALICE",
                                    "is_ephemeral": False}
    assert payload["message"]["ts"] == message["ts"] and payload["channel"]["id"] == "DALICE"
    [action] = payload["actions"]
    assert (action["block_id"], action["type"], action["value"]) == ("intro", "button", "go")
    assert payload["response_url"].startswith(sim.url) and payload["trigger_id"]

    select = {"type": "static_select", "action_id": "pick", "options": MODAL["blocks"][1]["element"]["options"]}
    view = open_modal(sim, "UALICE", {**SIMPLE, "blocks": SIMPLE["blocks"] + [
        {"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "Pick"}, "accessory": select}]})
    driver.block_action("UALICE", "pick", selected_option="low", view_id=view["id"])
    payload = app.last.payload
    assert payload["container"] == {"type": "view", "view_id": view["id"]} and payload["view"]["id"] == view["id"]
    assert payload["actions"][0]["selected_option"] == select["options"][1]
    assert "response_url" not in payload

    driver.block_action("UALICE", "anything", value="x", channel="CGENERAL")
    payload = app.last.payload
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    assert payload["actions"][0]["value"] == "x" and payload["response_url"]


def test_shortcuts_are_shaped_like_slacks(driver, app):
    driver.global_shortcut("UFINN", "report.open")
    payload = app.last.payload
    assert (payload["type"], payload["callback_id"], payload["user"]["id"]) == ("shortcut", "report.open", "UFINN")
    assert payload["trigger_id"]
    driver.message_shortcut("UFINN", "report.message", "CCIRCLE", "1700000000.000100", message_text="rude")
    payload = app.last.payload
    assert (payload["type"], payload["message_ts"], payload["channel"]["name"]) == \
        ("message_action", "1700000000.000100", "gratitude-circle")
    assert payload["message"]["text"] == "rude" and payload["message"]["user"] == "UBOB"


def test_home_and_membership_events(driver, app, sim):
    driver.app_home_opened("UEMI")
    assert app.last.json["event"] | {"event_ts": None} == {"type": "app_home_opened", "user": "UEMI",
                                                            "channel": "DEMI", "tab": "home", "event_ts": None}
    assert "UCARMEN" not in sim.workspace.channels["CCIRCLE"].members
    driver.member_joined_channel("UCARMEN", "CCIRCLE", inviter="UALICE")
    event = app.last.json["event"]
    assert (event["type"], event["user"], event["channel"], event["channel_type"], event["inviter"]) == \
        ("member_joined_channel", "UCARMEN", "CCIRCLE", "C", "UALICE")
    assert "UCARMEN" in sim.workspace.channels["CCIRCLE"].members


# ---- the member persona --------------------------------------------------------------------------------

def test_a_member_runs_a_command_fills_in_the_modal_and_clicks_a_button(driver, app, sim):
    def stand_in(received: Received) -> Reply:
        form = received.form
        if form.get("command") == "/checkin":
            web(sim).views_open(trigger_id=form["trigger_id"], view=MODAL)
        elif "payload" in form and received.payload["type"] == "view_submission":
            web(sim).chat_postMessage(channel=received.payload["user"]["id"], text="Thanks", blocks=BUTTON_MESSAGE)
        return 200, None

    app.on_request = stand_in
    alice = driver.as_member("UALICE")
    alice.command("/checkin")
    assert alice.latest_view()["callback_id"] == "checkin"
    alice.submit({"grateful": "sunshine", "mood": "low"})
    submitted = app.last.payload["view"]["state"]["values"]
    assert submitted["grateful"]["text"]["value"] == "sunshine"
    assert submitted["mood"]["mood_choice"]["selected_option"]["value"] == "low"
    alice.click("checkin.start")
    assert app.last.payload["container"]["channel_id"] == "DALICE"
    assert app.last.payload["actions"][0]["value"] == "go"
    with pytest.raises(AssertionError, match="sees no element"):
        alice.click("nowhere", wait=0.05)


def test_wait_for_polls_until_true_or_timeout():
    flag = threading.Event()
    threading.Timer(0.05, flag.set).start()
    assert wait_for(flag.is_set, timeout=2)
    assert wait_for(lambda: False, timeout=0.05) is False


# ---- against real Bolt -----------------------------------------------------------------------------------

@pytest.fixture
def bolt_url(sim) -> Iterator[str]:
    """A small real Bolt app (signature verification on) over WSGI, talking to the simulator."""
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    from slack_bolt import App
    from slack_bolt.adapter.wsgi import SlackRequestHandler

    bolt = App(signing_secret=SECRET, client=web(sim))

    @bolt.command("/checkin")
    def checkin(ack, body, client):  # Bolt passes arguments by name
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=SIMPLE)

    @bolt.view("simple")
    def submitted(ack, view):  # Bolt passes arguments by name
        if not view["state"]["values"]["b"]["a"]["value"]:
            ack(response_action="errors", errors={"b": "Say something"})
        else:
            ack()

    @bolt.action("checkin.start")
    def clicked(ack, respond):  # Bolt passes arguments by name
        ack()
        respond("Started")

    @bolt.event("app_home_opened")
    def home(event, client):  # Bolt passes arguments by name
        client.views_publish(user_id=event["user"], view={"type": "home", "blocks": []})

    class Quiet(WSGIRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    class Threaded(WSGIServer):
        daemon_threads = True

    server = make_server("127.0.0.1", 0, SlackRequestHandler(bolt), server_class=Threaded, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/slack/events"
    server.shutdown()
    server.server_close()


def test_real_bolt_accepts_what_the_driver_sends(bolt_url, sim):
    driver = SlackDriver(bolt_url, SECRET, sim)
    assert driver.post_raw("command=%2Fcheckin", content_type="application/x-www-form-urlencoded",
                           sign=False).status == 401
    bob = driver.as_member("UBOB")
    assert bob.command("/checkin").status == 200
    assert bob.submit({"b": ""}).json["errors"] == {"b": "Say something"}
    assert bob.latest_view()["callback_id"] == "simple"  # still open, showing the error
    assert bob.submit({"b": "thanks"}).status == 200 and sim.latest_view("UBOB") is None
    web(sim).chat_postMessage(channel="UBOB", text="Ready?", blocks=BUTTON_MESSAGE)
    assert bob.click("checkin.start").status == 200
    assert wait_for(lambda: [p["body"]["text"] for p in sim.response_url_posts()] == ["Started"])
    assert bob.open_home().status == 200
    assert wait_for(lambda: sim.home("UBOB") is not None)
