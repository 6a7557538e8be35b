"""manifest.yml and the listeners of a built app agree, both ways.

- manifest ⊆ listeners: every command, shortcut and bot event the manifest declares is routed by Bolt (first
  match wins, as Bolt routes) to a listener of a workflow, not to the catch-all fallbacks.
- listeners ⊆ manifest: every command, shortcut and event listener a workflow registers is declared; the
  rest (actions, views, options) need only interactivity.
Both read Bolt's registered listeners of apps made by `build_app`: one with a bot token, one with OAuth
(where Bolt adds its own token-revocation listeners). What the listeners *do* is tested by their flows
(tests/test_reports.py, tests/test_checkin_flow.py, tests/test_wiring.py) and, for the lifecycle events, below.
"""

from __future__ import annotations

import inspect
import logging
import re
from collections.abc import Iterator

import pytest
from slack_bolt import BoltRequest, BoltResponse
from slack_bolt.listener import Listener

from slack_app.manifest import load_manifest
from tests.conftest import SIGNING_SECRET
from tests.privacy import assert_logs_carry_no_user_ids

# Kinds of Bolt listener matchers (the builtin function that made them) and what the manifest must declare.
DECLARED_KINDS = {"command", "event", "shortcut", "global_shortcut", "message_shortcut"}
INTERACTIVE_KINDS = {"action", "block_action", "view", "view_submission", "view_closed", "options",
                     "block_suggestion"}


@pytest.fixture(params=["bot_token", "oauth"])
def built(request, app_settings, simulator, database_url, db, tmp_path):
    from slack_app.app import build_app
    from slack_app.services import build_services
    from slack_app.settings import load_settings
    from slack_app.workflows import WORKFLOWS
    from storage.crypto import generate_key

    settings = app_settings
    if request.param == "oauth":  # validated like any settings (no bot token: OAuth installs)
        settings = load_settings(env_file=None, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_CLIENT_ID="111.222",
                                 SLACK_CLIENT_SECRET="oauth-client-secret", SLACK_API_URL=simulator.base_url,
                                 DATABASE_URL=database_url, ARCHIVE_URL=str(tmp_path / "archive"),
                                 HEARTH_ENCRYPTION_KEY=generate_key())
        assert settings.oauth_enabled
    return build_app(settings, services=build_services(settings, db=db, workflows=WORKFLOWS))


def declared() -> dict[str, set]:
    m = load_manifest()
    return {
        "command": {c["command"] for c in m["features"].get("slash_commands", [])},
        "global_shortcut": {s["callback_id"] for s in m["features"].get("shortcuts", []) if s["type"] == "global"},
        "message_shortcut": {s["callback_id"] for s in m["features"].get("shortcuts", []) if s["type"] == "message"},
        "event": set(m["settings"]["event_subscriptions"]["bot_events"]),
    }


def is_fallback(listener: Listener) -> bool:
    return getattr(listener, "ack_function", None).__module__ == "handlers.fallbacks"


def claims(listener: Listener) -> Iterator[tuple[str, object]]:
    """(kind, constraint) of each builtin matcher: ("command", "/report"), ("event", "app_home_opened")…"""
    for matcher in listener.matchers:
        func = getattr(matcher, "func", None)
        if func is None or ".<locals>." not in func.__qualname__:
            continue  # a custom matcher a listener added: it narrows, it does not declare
        kind = func.__qualname__.split(".<locals>.")[0]
        found = inspect.getclosurevars(func).nonlocals
        value = found.get("command", found.get("event_type", found.get("callback_id", found.get("constraints"))))
        if isinstance(value, dict):
            value = value.get("type", value.get("callback_id"))
        yield kind, value


def first_listener(built, body: dict) -> Listener | None:
    """The listener Bolt would run for `body`: the first whose matchers all match."""
    req = BoltRequest(body=body, mode="socket_mode")
    resp = BoltResponse(status=200)
    return next((li for li in built.bolt._listeners if li.matches(req=req, resp=resp)), None)


def body_for(kind: str, value: str) -> dict:
    team = {"id": "T0HEARTH", "domain": "hearth"}
    user = {"id": "UBOB", "team_id": "T0HEARTH"}
    if kind == "command":
        return {"command": value, "team_id": "T0HEARTH", "user_id": "UBOB", "text": "", "trigger_id": "1.2.x"}
    if kind == "global_shortcut":
        return {"type": "shortcut", "callback_id": value, "team": team, "user": user, "trigger_id": "1.2.x"}
    if kind == "message_shortcut":
        return {"type": "message_action", "callback_id": value, "team": team, "user": user, "trigger_id": "1.2.x",
                "channel": {"id": "CCIRCLE"}, "message": {"ts": "1.1", "text": "x"}, "message_ts": "1.1"}
    return {"type": "event_callback", "team_id": "T0HEARTH", "event_id": "Ev1",
            "event": {"type": value, "user": "UBOB", "channel": "CCIRCLE", "tab": "home"}}


def test_every_declared_command_shortcut_and_event_reaches_a_workflow_listener(built):
    for kind, values in declared().items():
        assert values, f"the manifest declares no {kind}: has its layout changed?"
        for value in sorted(values):
            listener = first_listener(built, body_for(kind, value))
            assert listener is not None and not is_fallback(listener), \
                f"{kind} {value} is declared in manifest.yml but only the catch-all answers it"


def test_every_command_shortcut_and_event_listened_to_is_declared(built):
    manifest = declared()
    interactive = load_manifest()["settings"]["interactivity"]["is_enabled"]
    seen = set()
    for listener in built.bolt._listeners:
        if is_fallback(listener):
            continue
        for kind, value in claims(listener):
            seen.add(kind)
            if kind in INTERACTIVE_KINDS:
                assert interactive, f"a {kind} listener needs interactivity enabled in manifest.yml"
                continue
            assert kind in DECLARED_KINDS, f"a {kind} listener: which part of manifest.yml declares it?"
            assert isinstance(value, str), f"{kind} listener on a pattern {value!r}: declare exact names"
            if kind == "shortcut":  # either type: it must be one of the declared shortcuts
                assert value in manifest["global_shortcut"] | manifest["message_shortcut"], value
            else:
                assert value in manifest[kind], f"{kind} {value} has a listener but is not in manifest.yml"
    assert {"command", "event", "global_shortcut", "message_shortcut", "action", "view_submission"} <= seen, \
        "listeners missing: has Bolt's layout changed?"


def test_the_check_can_fail_both_ways(built):
    # An undeclared command listener is caught, and a declared command without its listener is too.
    @built.bolt.command("/undeclared")
    def undeclared(ack):  # pragma: no cover - never called
        ack()

    with pytest.raises(AssertionError, match="/undeclared has a listener"):
        test_every_command_shortcut_and_event_listened_to_is_declared(built)
    built.bolt._listeners[:] = [li for li in built.bolt._listeners
                                if ("command", "/report") not in set(claims(li))]
    with pytest.raises(AssertionError, match="command /report is declared"):
        test_every_declared_command_shortcut_and_event_reaches_a_workflow_listener(built)


def test_messages_tab_is_read_only_because_hearth_answers_no_dms():
    m = load_manifest()
    assert m["features"]["app_home"]["messages_tab_read_only_enabled"] is True
    assert "message.im" not in m["settings"]["event_subscriptions"]["bot_events"]


@pytest.mark.parametrize(("event", "line"), [
    ({"type": "app_uninstalled"}, "hearth.uninstalled team=T0HEARTH"),
    ({"type": "tokens_revoked", "tokens": {"oauth": ["UBOB"], "bot": ["UHEARTHBOT"]}},
     "hearth.tokens_revoked team=T0HEARTH bot_tokens=1 user_tokens=1"),
])
def test_with_a_bot_token_uninstalling_tells_the_operator(driver, caplog, event, line):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="hearth")
    assert driver.event(event).status == 200
    from slack_app.simulator import wait_for

    assert wait_for(lambda: line in caplog.text)
    assert [r.levelname for r in caplog.records if r.name == "hearth.lifecycle"] == ["WARNING"]
    assert_logs_carry_no_user_ids(caplog.records, ["UBOB", "UHEARTHBOT"])
    assert not re.search(r"event\.ignored", caplog.text)
