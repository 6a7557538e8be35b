"""HTTP mode: a small WSGI application served by waitress.

Routes: `POST /slack/events` (events, commands, interactivity, shortcuts), `GET /healthz`, and the
OAuth install pages when OAuth is configured. `hearth run` serves the same application without the events
route (`events=False`): Socket Mode carries Slack's requests there, so nothing signed is taken over HTTP.
Requests are screened before Bolt sees them so that unsigned, stale or malformed requests get a 401/400
instead of an exception deep inside Bolt; Bolt then verifies the signature again itself — verification is
never switched off.
"""

from __future__ import annotations

import binascii
import json
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qsl
from urllib.parse import unquote_plus as urllib_unquote_plus

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.oauth import OAuthFlow
from slack_sdk.signature import SignatureVerifier

from slack_app.app import Hearth
from slack_app.settings import reveal

log = logging.getLogger("hearth.web")

EVENTS_PATH = "/slack/events"
MAX_BODY = 1024 * 1024  # Slack's payloads are far smaller; refuse anything bigger unread.
# Seconds since the epoch in ASCII digits. str.isdigit() also takes "²" or "٣", and a 400-digit number
# overflows the verifier's float arithmetic: both were 500s.
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")  # a "%" that does not start an escape


class BadRequest(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def screen(verifier: SignatureVerifier, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """Raise `BadRequest` unless the request is signed, fresh and shaped like one Slack sends; returns the
    parsed body (what Bolt calls `request.body`), so it is parsed once."""
    timestamp = headers.get("x-slack-request-timestamp", "").strip()
    if not _TIMESTAMP.fullmatch(timestamp):  # the verifier would raise on int("²"), which must not be a 500
        raise BadRequest(401, "missing or malformed request timestamp")
    try:
        text = body.decode("utf-8") if body else ""
    except UnicodeDecodeError:
        raise BadRequest(400, "body is not UTF-8") from None
    if not verifier.is_valid(
        body=text,
        timestamp=timestamp,
        signature=headers.get("x-slack-signature", ""),
    ):
        raise BadRequest(401, "invalid or stale signature")
    content_type = headers.get("content-type", "").split(";")[0].strip()
    if content_type == "application/json":
        return _json_body(text)
    if content_type == "application/x-www-form-urlencoded":
        return _form_body(text)
    raise BadRequest(400, "unsupported content type")


class ScreenedRequest(BoltRequest):
    """A Bolt request built from the body `screen` parsed. Bolt parses every body again otherwise (7 % of
    a busy request path); its own signature check still runs on `raw_body`."""

    def __init__(self, raw_body: str, body: dict[str, Any], *, query: str, headers: dict[str, list[str]]) -> None:
        super().__init__(body=body, query=query, headers=headers, mode="socket_mode")  # the only way in for a dict
        self.raw_body, self.mode = raw_body, "http"


def check_envelope(kind: str, payload: object) -> None:
    """Socket Mode's counterpart of `screen` (no signature there: the connection itself is authenticated):
    raise `BadRequest` unless `payload` is shaped like what Slack sends in a `kind` envelope."""
    if kind == "events_api":
        _check_event_body(payload)
    elif kind == "interactive":
        _check_payload(payload)
    elif kind == "slash_commands":
        fields = payload if isinstance(payload, dict) else {}
        _check_command(fields.get("user_id"), fields.get("team_id"))
    else:
        raise BadRequest(400, "unknown envelope type")


def _json_body(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        raise BadRequest(400, "body is not JSON") from None
    _check_event_body(body)
    return body


def _check_event_body(body: object) -> None:
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise BadRequest(400, "body has no type")
    if body["type"] == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            raise BadRequest(400, "event has no type")


def _form_body(text: str) -> dict[str, Any]:
    """As Bolt reads a form (an interaction's JSON `payload`, else the fields), but by field names: Bolt
    looks for the word "payload" anywhere in the body, so a command whose text held it lost its fields."""
    if text.startswith("payload=") and "&" not in text:  # how Slack sends every interaction
        form = {"payload": unquote_plus(text[len("payload="):])}
    else:
        form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        try:
            payload = json.loads(form["payload"])
        except ValueError:
            raise BadRequest(400, "payload is not JSON") from None
        _check_payload(payload)
        return payload
    if "command" in form:
        _check_command(form.get("user_id"), form.get("team_id"))
    elif "ssl_check" not in form:
        raise BadRequest(400, "neither a command nor a payload")
    return form


def unquote_plus(value: str) -> str:
    """`urllib.parse.unquote_plus`, several times faster on an interaction's payload (a survey's answers, about
    14 KB and 3,000 escapes, took 0.5-1 ms of its ack): binascii decodes the escapes in C, as quoted-printable's
    =XX are form encoding's %XX, once every literal "=" is itself escaped. A stray "%" or a character beyond
    ASCII (never in what Slack signs) takes urllib's way, so the two always agree (tests/test_form_decoding.py)."""
    if not value.isascii() or _STRAY_PERCENT.search(value):
        return urllib_unquote_plus(value)
    escaped = value.replace("+", " ").replace("=", "=3D").replace("%", "=")
    return binascii.a2b_qp(escaped).decode("utf-8", "replace")


def _check_command(user_id: object, team_id: object) -> None:
    if not _is_text(user_id):
        raise BadRequest(400, "command has no user")
    if not _is_text(team_id):  # Slack always names the workspace; listeners rely on it
        raise BadRequest(400, "command has no team")


def _check_payload(payload: object) -> None:
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise BadRequest(400, "payload has no type")
    _check_interaction(payload)


def _is_text(value: object) -> bool:
    return isinstance(value, str) and bool(value)


def _check_interaction(payload: dict) -> None:
    """The parts of an interaction listeners rely on, present with the types Slack gives them; so a signed
    but malformed payload is a 400 here rather than an exception inside a listener (a 500)."""
    user = payload.get("user")
    if not isinstance(user, dict) or not _is_text(user.get("id")):
        raise BadRequest(400, "payload has no user")
    kind = payload["type"]
    if kind in ("view_submission", "view_closed"):
        view = payload.get("view")
        if not isinstance(view, dict) or not _is_text(view.get("callback_id")):
            raise BadRequest(400, "payload has no view")
        # Bolt reads view["type"], and for a (legacy) workflow step view payload["workflow_step"]: a KeyError
        # there was a 500.
        if not _is_text(view.get("type")):
            raise BadRequest(400, "view has no type")
        if view["type"] == "workflow_step" and not isinstance(payload.get("workflow_step"), dict):
            raise BadRequest(400, "workflow step view has no step")
        state = view.get("state") or {}  # a view without inputs may come with no state at all
        values = state.get("values", {}) if isinstance(state, dict) else None
        if not isinstance(values, dict) or not all(
                isinstance(block, dict) and all(isinstance(element, dict) for element in block.values())
                for block in values.values()):
            raise BadRequest(400, "view state is malformed")
    elif kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not all(
                isinstance(a, dict) and _is_text(a.get("action_id")) for a in actions):
            raise BadRequest(400, "payload has no actions")
    elif kind in ("shortcut", "message_action") and not _is_text(payload.get("callback_id")):
        raise BadRequest(400, "shortcut has no callback id")


def make_wsgi(hearth: Hearth, *, events: bool = True) -> Callable:
    return wsgi_for(hearth.bolt, reveal(hearth.services.settings.SLACK_SIGNING_SECRET) or "",
                    health=hearth.services.db.ping, flow=hearth.oauth_flow, events=events)


def wsgi_for(bolt: App, signing_secret: str, *, health: Callable[[], bool], flow: OAuthFlow | None = None,
             events: bool = True) -> Callable:
    """The WSGI application in front of any Bolt app (bench/load.py serves a bare, ack-only one through it).
    `events=False` leaves out `POST /slack/events` (a 404), for an app that Slack reaches over Socket Mode."""
    verifier = SignatureVerifier(signing_secret)

    def application(environ, start_response) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        query = environ.get("QUERY_STRING", "")
        headers = _headers(environ)
        try:
            if path == "/healthz" and method == "GET":
                return _health(health(), start_response)
            if events and path == EVENTS_PATH and method == "POST":
                body = _read_body(environ)
                parsed = screen(verifier, headers, body)
                request = ScreenedRequest(body.decode("utf-8"), parsed, query=query, headers=_multi(headers))
                return _send(start_response, bolt.dispatch(request))
            if flow and method == "GET" and path in (flow.install_path, flow.redirect_uri_path):
                request = BoltRequest(body="", query=query, headers=_multi(headers))
                handle = flow.handle_installation if path == flow.install_path else flow.handle_callback
                return _send(start_response, handle(request))
            return _plain(start_response, 404, "not found")
        except BadRequest as exc:
            log.warning("request.rejected status=%s reason=%s", exc.status, exc.reason)
            return _plain(start_response, exc.status, exc.reason)
        except UnicodeDecodeError:
            return _plain(start_response, 400, "body is not UTF-8")
        except Exception:  # a bug of ours: log the type and place, never the payload
            log.exception("request.failed path=%s", path)
            return _plain(start_response, 500, "internal error")

    return application


def _read_body(environ) -> bytes:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest(400, "bad content length") from None
    if length > MAX_BODY:
        raise BadRequest(413, "body too large")
    return environ["wsgi.input"].read(length) if length > 0 else b""


def _headers(environ) -> dict[str, str]:
    headers = {k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = environ[key]
    return headers


def _multi(headers: dict[str, str]) -> dict[str, list[str]]:
    return {k: [v] for k, v in headers.items()}


def _health(ok: bool, start_response) -> Iterable[bytes]:
    body = json.dumps({"status": "ok" if ok else "unavailable", "database": "reachable" if ok else "unreachable"})
    start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
    return [body.encode()]


def _send(start_response, response: BoltResponse) -> Iterable[bytes]:
    headers = [(k, v) for k, values in response.headers.items() for v in values]
    start_response(f"{response.status} {_REASONS.get(response.status, 'OK')}", headers)
    return [response.body.encode("utf-8") if isinstance(response.body, str) else response.body]


def _plain(start_response, status: int, text: str) -> Iterable[bytes]:
    start_response(f"{status} {_REASONS.get(status, 'Error')}", [("Content-Type", "text/plain; charset=utf-8")])
    return [text.encode()]


_REASONS = {200: "OK", 302: "Found", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable"}
