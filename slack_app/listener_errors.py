"""What happens when a listener (or a middleware) raises: a kind answer, a log line without content.

Bolt's own handling has two faults for Hearth. Its default handler logs the exception's message, which may
quote what a member typed. And when a listener raises *after* `ack()`, Bolt's thread runner sets the ack's
response back to None; the request thread, still polling for the ack, then waits out the 3-second timeout
and hands the request to the next matching listener — Hearth's catch-all, which answers "not set up".
`StickyAck` keeps an ack once given, so the answer already sent stays the answer.
"""

from __future__ import annotations

import json
import logging
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App, BoltContext, BoltResponse
from slack_bolt.context.respond import Respond

from slack_app.request_path import await_ack
from slack_app.services import Services

log = logging.getLogger("hearth.listener")


class StickyAck(Ack):
    """An `Ack` whose response, once set, is never reset to None (see the module's docstring), and which
    wakes its request's thread when given (`request_path.ListenerExecutor`: no 10 ms poll)."""

    _response: BoltResponse | None = None

    def __init__(self) -> None:
        self.given = threading.Event()
        super().__init__()
        await_ack(self.given)

    @property
    def response(self) -> BoltResponse | None:
        return self._response

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is None and self._response is not None:
            return
        self._response = value
        if value is not None:
            self.given.set()


def install(bolt: App, services: Services) -> None:
    """Give every request a `StickyAck` (first middleware) and route listener errors to `on_error`."""

    @bolt.middleware
    def sticky_ack(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
        context["ack"] = StickyAck()
        return next()

    @bolt.error
    def on_error(error: Exception, body: dict, response: BoltResponse | None,
                 respond: Respond | None) -> BoltResponse | None:
        kind = body.get("type") or ("command" if "command" in body else "unknown")
        log.error("listener.failed kind=%s id=%s error=%s at=%s", kind, _request_id(body), type(error).__name__,
                  _where(error))
        text = services.copy.render("error.j2")
        if response is None:  # already acknowledged: Slack has its answer; tell the member if we can
            if respond is not None and kind in ("command", "block_actions", "message_action"):
                try:
                    respond(response_type="ephemeral", replace_original=False, text=text)
                except Exception as exc:  # best effort: the failure is logged above already
                    log.info("listener.failure_not_told error=%s", type(exc).__name__)
            return None
        return _kind_answer(kind, text)


def _kind_answer(kind: str, text: str) -> BoltResponse:
    """An answer Slack accepts in place of the 500 Bolt would send (which shows members a vague error)."""
    if kind == "command":
        payload: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    elif kind == "view_submission":
        payload = {"response_action": "update", "view": {
            "type": "modal",
            "title": {"type": "plain_text", "text": "Hearth"},
            "close": {"type": "plain_text", "text": "Close"},
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}],
        }}
    else:  # actions, shortcuts, events: an empty 200 acks them; Slack does not retry or show an error
        return BoltResponse(status=200, body="")
    return BoltResponse(status=200, body=json.dumps(payload), headers={"content-type": "application/json"})


def _request_id(body: dict) -> str:
    """The id naming what was asked (a command name, callback id, action id or event type), never content."""
    if "command" in body:
        return str(body.get("command"))
    view = body.get("view")
    if isinstance(view, dict) and view.get("callback_id"):
        return str(view["callback_id"])
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return str(actions[0].get("action_id"))
    event = body.get("event")
    if isinstance(event, dict):
        return str(event.get("type"))
    return str(body.get("callback_id") or "-")


def _where(error: BaseException) -> str:
    """file:line of the innermost frame: enough to find the bug, with no exception message (it may quote
    member text, as a KeyError or a database error can)."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return "-"
    last = frames[-1]
    return f"{Path(last.filename).name}:{last.lineno}"
