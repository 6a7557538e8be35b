"""Plays Slack towards the app: signed requests into `POST /slack/events`, shaped like Slack's own, or
the same payloads as Socket Mode envelopes (`socket_mode=True`, through the simulator's gateway).

Commands and interactivity are form-encoded (interactivity as `payload=<json>`), events are JSON, and
every request carries X-Slack-Request-Timestamp and X-Slack-Signature computed with the signing secret,
so the app's real verification runs. Trigger ids and response_urls come from the simulator, which then
knows whose modal a views.open is for and records what the app posts back.
"""

from __future__ import annotations

import json
import secrets
import string
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode

from slack_sdk.signature import SignatureVerifier

from slack_app.simulator.elements import MISSING, element_value, find_element, state_values
from slack_app.simulator.params import api_message
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.socket_mode import ACK_DEADLINE
from slack_app.simulator.workspace import Workspace

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
VERIFICATION_TOKEN = "sim-verification-token"  # legacy field Slack still sends; Bolt ignores it


class LateAck(AssertionError):
    """The app acknowledged a request after Slack's 3 seconds: on Slack, that request failed."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # names lower-cased
    body_text: str
    json: Any  # the parsed body, or None when it is empty or not JSON
    event_id: str | None = None  # set by `event()`: what a retry must repeat
    view_error: dict | None = None  # set by `submit_view()` when Slack would refuse the ack's view
    elapsed: float = 0.0  # seconds until the app answered, on the simulator's clock
    request: str = ""  # what was sent, e.g. "command /checkin" (ids only, for messages)

    @property
    def late(self) -> bool:
        """Answered after Slack's deadline: Slack showed the member an error and ignored this answer."""
        return self.elapsed > ACK_DEADLINE


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.01) -> bool:
    """Poll until `predicate()` is truthy: the app does its slow work after the ack, on other threads."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(interval)
    return True


class SlackDriver:
    def __init__(self, app_url: str | None, signing_secret: str, simulator: SlackSimulator, *,
                 timeout: float = 10.0, raise_on_late_ack: bool = True, socket_mode: bool = False) -> None:
        """`raise_on_late_ack`: an ack slower than Slack's 3 seconds raises LateAck (tests fail as members
        would); False only records it in `late_acks`, for benchmarks that count them.
        `socket_mode`: what Slack sends goes as envelopes over the app's Socket Mode connections (then
        `app_url` is only needed for probes Slack never sends, like an unsigned request)."""
        self.app_url = app_url
        self.socket_mode = socket_mode
        self.signing_secret = signing_secret
        self.sim = simulator
        self.timeout = timeout
        self.raise_on_late_ack = raise_on_late_ack
        self.late_acks: list[Response] = []

    @property
    def _ws(self) -> Workspace:
        return self.sim.workspace

    # ---- transport -----------------------------------------------------------------------------------

    def post_raw(self, body: bytes | str, *, content_type: str, sign: bool = True, timestamp: int | None = None,
                 secret: str | None = None, headers: Mapping[str, str] | None = None) -> Response:
        """POST exactly `body`; signed (with `secret`, at `timestamp`) unless `sign` is False.

        A request signed as Slack signs it must be answered within ACK_DEADLINE: a later answer is added to
        `late_acks` and, with `raise_on_late_ack`, raises LateAck."""
        raw = body.encode() if isinstance(body, str) else body
        as_slack_sends_it = sign and secret is None and timestamp is None  # probes are not held to Slack's clock
        if self.socket_mode and as_slack_sends_it:
            return self._check_ack(self._over_socket(raw, content_type, headers or {}))
        if self.app_url is None:
            raise ValueError("this driver speaks Socket Mode only: give it the app's URL for HTTP probes")
        sent = {"Content-Type": content_type, **(headers or {})}
        if sign:
            ts = str(int(time.time()) if timestamp is None else timestamp)
            signature = SignatureVerifier(secret or self.signing_secret).generate_signature(
                timestamp=ts, body=raw.decode("utf-8"))
            sent.update({"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature})
        request = urllib.request.Request(self.app_url, data=raw, headers=sent, method="POST")
        started = self.sim.clock()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as resp:
                status, answer, reply = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as err:
            status, answer, reply = err.code, dict(err.headers), err.read()
        response = replace(_response(status, answer, reply), elapsed=self.sim.clock() - started,
                           request=_describe(raw, content_type))
        return self._check_ack(response) if as_slack_sends_it else response

    def _check_ack(self, response: Response) -> Response:
        if response.late:
            self.late_acks.append(response)
            if self.raise_on_late_ack:
                raise LateAck(f"the app acked {response.request} after {response.elapsed:.2f} s; Slack waits "
                              f"{ACK_DEADLINE:.0f} s, then shows the member an error")
        return response

    def _over_socket(self, raw: bytes, content_type: str, headers: Mapping[str, str]) -> Response:
        """The request as the Socket Mode envelope Slack would send instead; status 200 once acked, else 504
        (Slack gave up: the member saw an error, or an event was retried until Slack stopped)."""
        kind, payload = _envelope(raw, content_type)
        retry = {k.lower(): v for k, v in headers.items()}
        delivery = self.sim.socket_mode.deliver(
            kind, payload, retry_attempt=int(retry.get("x-slack-retry-num", 0)),
            retry_reason=retry.get("x-slack-retry-reason", ""), wait=self.timeout)
        text = json.dumps(delivery.payload) if delivery.payload else ""
        return Response(200 if delivery.acked else 504, {}, text, delivery.payload, elapsed=delivery.elapsed,
                        request=_describe(raw, content_type))

    def _form(self, fields: Mapping[str, Any]) -> Response:
        return self.post_raw(urlencode(fields), content_type=FORM)

    def _interaction(self, payload: dict) -> Response:
        return self._form({"payload": json.dumps(payload)})

    # ---- slash commands, shortcuts ---------------------------------------------------------------

    def command(self, user: str, command: str, text: str = "", channel: str = "CGENERAL") -> Response:
        ws = self._ws
        return self._form({
            "token": VERIFICATION_TOKEN, "team_id": ws.team_id, "team_domain": ws.domain,
            "channel_id": channel, "channel_name": self._channel_name(channel), "user_id": user,
            "user_name": self._user_name(user), "command": command, "text": text, "api_app_id": ws.app_id,
            "is_enterprise_install": "false", "response_url": self.sim.new_response_url(user, channel),
            "trigger_id": self.sim.issue_trigger(user),
        })

    def global_shortcut(self, user: str, callback_id: str) -> Response:
        return self._interaction({
            "type": "shortcut", "token": VERIFICATION_TOKEN, "action_ts": _now_ts(), "team": self._team(),
            "user": self._user(user), "is_enterprise_install": False, "enterprise": None,
            "callback_id": callback_id, "trigger_id": self.sim.issue_trigger(user),
        })

    def message_shortcut(self, user: str, callback_id: str, channel: str, message_ts: str,
                         message_text: str = "...", message_user: str = "UBOB") -> Response:
        return self._interaction({
            "type": "message_action", "token": VERIFICATION_TOKEN, "action_ts": _now_ts(), "team": self._team(),
            "user": self._user(user), "channel": {"id": channel, "name": self._channel_name(channel)},
            "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id,
            "trigger_id": self.sim.issue_trigger(user), "message_ts": message_ts,
            "message": {"type": "message", "text": message_text, "user": message_user, "ts": message_ts,
                        "team": self._ws.team_id},
            "response_url": self.sim.new_response_url(user, channel),
        })

    # ---- block actions and modals --------------------------------------------------------------------

    def block_action(self, user: str, action_id: str, *, value: Any = None, block_id: str = "b",
                     selected_option: Any = None, view_id: str | None = None, message: dict | None = None,
                     channel: str | None = None) -> Response:
        """A click or selection. Context: a view (`view_id`), a message from `simulator.messages()` or
        `ephemerals()` (`message`), or just a `channel` (an ephemeral message, which Slack never echoes).
        The element is looked up in that context to take its real block_id, type and value."""
        payload: dict[str, Any] = {
            "type": "block_actions", "user": self._user(user), "api_app_id": self._ws.app_id,
            "token": VERIFICATION_TOKEN, "team": self._team(), "enterprise": None, "is_enterprise_install": False,
            "trigger_id": self.sim.issue_trigger(user), "state": {"values": {}},
        }
        blocks: Any = []
        if view_id is not None:
            view = self._view(view_id)
            blocks = view["blocks"]
            payload.update(container={"type": "view", "view_id": view_id}, view=view)
        else:
            channel = channel or (message or {}).get("channel") or "CGENERAL"
            ephemeral = message is None or "message_ts" in message  # simulator.ephemerals() entries
            ts = (message or {}).get("ts") or (message or {}).get("message_ts") or _now_ts()
            payload.update(
                container={"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": ephemeral},
                channel={"id": channel, "name": self._channel_name(channel)},
                response_url=self.sim.new_response_url(user, channel),
            )
            if message is not None:
                blocks = message.get("blocks") or []
                if not ephemeral:
                    payload["message"] = api_message(message, metadata=False)
        payload["actions"] = [_action(find_element(blocks, action_id), action_id, block_id, value, selected_option)]
        return self._interaction(payload)

    def submit_view(self, user: str, view_id: str, values: Mapping[str, Any] | None = None) -> Response:
        """Submit the modal as the member filled it in: `values` keyed by block_id or action_id, given as
        text, option values, ids or dates. Slack's handling of the ack (close, update, push, errors,
        clear) is then applied to the simulator's modals."""
        view = self._view(view_id)
        view["state"] = {"values": state_values(view, values or {})}
        resp = self._interaction({
            "type": "view_submission", "team": self._team(), "user": self._user(user),
            "api_app_id": self._ws.app_id, "token": VERIFICATION_TOKEN, "trigger_id": self.sim.issue_trigger(user),
            "view": view, "response_urls": [], "is_enterprise_install": False, "enterprise": None,
        })
        if resp.status != 200:
            return resp  # Slack shows the member an error and leaves the modal open
        if resp.late:  # recorded, not raised: Slack ignores the ack and the modal stays as it was
            return replace(resp, view_error={"ok": False, "error": "operation_timeout"})
        ack = resp.json if isinstance(resp.json, dict) else None
        return replace(resp, view_error=self.sim.settle_submission(view_id, ack))

    def close_view(self, user: str, view_id: str) -> Response | None:
        """The member dismisses the modal. Slack only tells the app when the view asked for
        `notify_on_close`; otherwise nothing is sent and None is returned."""
        view = self._view(view_id)
        self.sim.close_view(view_id)
        if not view.get("notify_on_close"):
            return None
        return self._interaction({
            "type": "view_closed", "team": self._team(), "user": self._user(user), "api_app_id": self._ws.app_id,
            "token": VERIFICATION_TOKEN, "view": view, "is_cleared": False, "is_enterprise_install": False,
            "enterprise": None,
        })

    # ---- events --------------------------------------------------------------------------------------

    def event(self, event: dict, *, event_id: str | None = None, retry_num: int | None = None,
              retry_reason: str = "http_timeout") -> Response:
        """An Events API delivery; with `retry_num`, Slack's redelivery of the same `event_id`."""
        ws = self._ws
        event_id = event_id or "Ev" + "".join(secrets.choice(string.ascii_uppercase + string.digits)
                                               for _ in range(10))
        envelope = {
            "token": VERIFICATION_TOKEN, "team_id": ws.team_id, "api_app_id": ws.app_id,
            "event": {"event_ts": _now_ts(), **event}, "type": "event_callback", "event_id": event_id,
            "event_time": int(time.time()),
            "authorizations": [{"enterprise_id": None, "team_id": ws.team_id, "user_id": ws.bot_user_id,
                                "is_bot": True, "is_enterprise_install": False}],
            "is_ext_shared_channel": False,
        }
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        resp = self.post_raw(json.dumps(envelope), content_type=JSON, headers=headers)
        return replace(resp, event_id=event_id)

    def app_home_opened(self, user: str, tab: str = "home") -> Response:
        event: dict[str, Any] = {"type": "app_home_opened", "user": user, "channel": self.sim.state.dm_id(user),
                                 "tab": tab}
        home = self.sim.home(user)
        if tab == "home" and home is not None:
            event["view"] = home  # Slack includes the published Home tab
        return self.event(event)

    def member_joined_channel(self, user: str, channel: str, inviter: str | None = None, *,
                              event_id: str | None = None, retry_num: int | None = None) -> Response:
        """`user` joins `channel` in the simulated workspace, and Slack tells the app (with `event_id` and
        `retry_num`: Slack's redelivery of that event)."""
        self.sim.join(user, channel)
        private = self._ws.channels[channel].is_private
        event = {"type": "member_joined_channel", "user": user, "channel": channel,
                 "channel_type": "G" if private else "C", "team": self._ws.team_id}
        if inviter:
            event["inviter"] = inviter
        return self.event(event, event_id=event_id, retry_num=retry_num)

    def url_verification(self, challenge: str) -> Response:
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return self.post_raw(json.dumps(body), content_type=JSON)

    # ---- personas ------------------------------------------------------------------------------------

    def as_member(self, user: str) -> Member:
        return Member(self, user)

    # ---- payload parts -------------------------------------------------------------------------------

    def _view(self, view_id: str) -> dict:
        view = self.sim.view(view_id)
        if view is None:
            raise ValueError(f"the simulator has no view {view_id}")
        return view

    def _team(self) -> dict:
        return {"id": self._ws.team_id, "domain": self._ws.domain}

    def _user(self, user: str) -> dict:
        name = self._user_name(user)
        return {"id": user, "username": name, "name": name, "team_id": self._ws.team_id}

    def _user_name(self, user: str) -> str:
        found = self._ws.users.get(user)
        return found.name if found else user.lower()

    def _channel_name(self, channel: str) -> str:
        found = self._ws.channels.get(channel)
        if channel.startswith("D") or (found and found.is_im):
            return "directmessage"
        return found.name if found else channel.lower()


class Member:
    """One person using Slack, so a test reads like a story:

        alice = driver.as_member("UALICE")
        alice.command("/checkin")
        alice.submit({"gratitude": "my team"})
    """

    def __init__(self, driver: SlackDriver, user: str) -> None:
        self.driver = driver
        self.user = user

    @property
    def sim(self) -> SlackSimulator:
        return self.driver.sim

    def command(self, command: str, text: str = "", channel: str = "CGENERAL") -> Response:
        return self.driver.command(self.user, command, text, channel)

    def open_home(self) -> Response:
        return self.driver.app_home_opened(self.user)

    def latest_view(self, wait: float = 2.0) -> dict:
        """The modal on top for this member, waiting for the app to open it (it does so after its ack)."""
        wait_for(lambda: self.sim.latest_view(self.user) is not None, timeout=wait)
        view = self.sim.latest_view(self.user)
        if view is None:
            raise AssertionError(f"no modal is open for {self.user}")
        return view

    def submit(self, values: Mapping[str, Any] | None = None, wait: float = 2.0) -> Response:
        """Submit the open modal. When Slack refuses the app's answer (an invalid view, errors not keyed by
        the view's input blocks, a late ack), the member is stuck with Slack's generic error: AssertionError.
        `driver.submit_view` returns such answers instead, for tests about them."""
        resp = self.driver.submit_view(self.user, self.latest_view(wait)["id"], values)
        if resp.view_error:
            raise AssertionError(f"Slack refused the app's answer to {resp.request}: {resp.view_error}")
        return resp

    def close(self, wait: float = 2.0) -> Response | None:
        return self.driver.close_view(self.user, self.latest_view(wait)["id"])

    def click(self, action_id: str, value: Any = None, *, selected_option: Any = None, wait: float = 2.0) -> Response:
        """Use the element `action_id` where this member sees it: the open modal, the newest message
        (or ephemeral message) in their conversations, else their App Home."""
        found: dict[str, Any] = {}
        wait_for(lambda: found.update(self._locate(action_id)) or bool(found), timeout=wait)
        if not found:
            raise AssertionError(f"{self.user} sees no element {action_id!r}")
        return self.driver.block_action(self.user, action_id, value=value, selected_option=selected_option,
                                        **found)

    def _locate(self, action_id: str) -> dict[str, Any]:
        top = self.sim.latest_view(self.user)
        if top and find_element(top["blocks"], action_id):
            return {"view_id": top["id"]}
        visible = [m for c in self.sim.conversations_of(self.user) for m in self.sim.messages(c)]
        visible += self.sim.ephemerals(self.user)
        for message in sorted(visible, key=lambda m: float(m.get("ts") or m["message_ts"]), reverse=True):
            if find_element(message.get("blocks"), action_id):
                return {"message": message}
        home = self.sim.home(self.user)
        if home and find_element(home["blocks"], action_id):
            return {"view_id": home["id"]}
        return {}


def _action(found: tuple[str, dict] | None, action_id: str, block_id: str, value: Any,
            selected_option: Any) -> dict:
    """A block_actions `actions` entry; without the element at hand, a button (or a select if an option is given)."""
    chosen = MISSING if value is None and selected_option is None else (
        selected_option if selected_option is not None else value)
    if found:
        block_id, element = found
    else:
        element = {"type": "button", "action_id": action_id, "value": value}
        if selected_option is not None:
            option = selected_option if isinstance(selected_option, dict) else {
                "text": {"type": "plain_text", "text": str(selected_option)}, "value": selected_option}
            element = {"type": "static_select", "action_id": action_id, "options": [option]}
            chosen = option
    action = {"action_id": action_id, "block_id": block_id, "type": element["type"], "action_ts": _now_ts(),
              **element_value(element, chosen)}
    if element["type"] == "button":
        action["text"] = element.get("text") or {"type": "plain_text", "text": action_id}
    return action


def _response(status: int, headers: Mapping[str, str], raw: bytes) -> Response:
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    return Response(status, {k.lower(): v for k, v in headers.items()}, text, parsed)


def _envelope(raw: bytes, content_type: str) -> tuple[str, dict]:
    """Socket Mode's envelope type and payload for what HTTP mode would POST: events as they are, a command's
    form fields as an object, an interaction's `payload` field parsed."""
    if content_type == JSON:
        body = json.loads(raw)
        if body.get("type") != "event_callback":
            raise ValueError(f"Socket Mode does not send {body.get('type')!r} requests")
        return "events_api", body
    form = dict(parse_qsl(raw.decode(), keep_blank_values=True))
    if "payload" in form:
        return "interactive", json.loads(form["payload"])
    return "slash_commands", form


def _describe(raw: bytes, content_type: str) -> str:
    """What a request was, by Slack's kind and ids only: "command /checkin", "view_submission checkin.submit",
    "event app_home_opened"."""
    try:
        if content_type == JSON:
            body = json.loads(raw)
            return f"event {body['event']['type']}" if body.get("type") == "event_callback" else str(body.get("type"))
        form = dict(parse_qsl(raw.decode()))
        if "command" in form:
            return f"command {form['command']}"
        payload = json.loads(form["payload"])
        what = payload.get("callback_id") or (payload.get("view") or {}).get("callback_id") or \
            ",".join(a.get("action_id", "") for a in payload.get("actions") or [])
        return f"{payload.get('type')} {what}".strip()
    except (ValueError, KeyError, TypeError, AttributeError):
        return "a request"


def _now_ts() -> str:
    return f"{time.time():.6f}"
