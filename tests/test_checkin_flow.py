"""Check-ins end to end: signed requests into the real app, the Slack simulator on the other side, and the
delivery worker draining the outbox in the test (so every DM and thread reply really reaches "Slack").

The demo workspace's #gratitude-circle (CCIRCLE) holds Alice (admin), Bob, Dev, Emi and the bot.
"""

from __future__ import annotations

import logging

import pytest

from slack_app.checkins import ritual, rounds, usecases
from slack_app.checkins.ids import CheckinAction, CheckinBlock
from slack_app.simulator import wait_for
from storage import checkins as repo
from tests.conftest import TRANSPORTS
from tests.privacy import assert_logs_carry_no_user_ids

TEAM = "T0HEARTH"
CIRCLE = "CCIRCLE"
MEMBERS = ("UALICE", "UBOB", "UDEV", "UEMI", "UCARMEN")



def texts(messages):
    return [m.get("text") or "" for m in messages]


def private_replies(simulator, user=None):
    """What the app answered through response_urls (ephemeral notes, replaced messages)."""
    return [p["body"].get("text") or "" for p in simulator.response_url_posts() if user in (None, p.get("user"))]


def dm_texts(simulator, user):
    return texts(simulator.messages(user)) if simulator.dm_channel(user) else []


def current_round(hearth, channel=CIRCLE):
    with hearth.services.db.session() as s:
        circle = repo.circle(s, TEAM, channel)
        return repo.current_round(s, circle.id) if circle else None


def enable_in_slack(driver, hearth, channel=CIRCLE, **values):
    """Alice, a workspace admin, types /hearth in the channel and saves the settings modal."""
    alice = driver.as_member("UALICE")
    resp = alice.command("/hearth", channel=channel)
    assert resp.status == 200
    view = alice.latest_view()
    assert view["callback_id"] == "checkin.settings"
    saved = alice.submit(values)
    # after its ack, the app checks the channel and queues Alice's confirmation
    assert wait_for(lambda: hearth_outbox_count(hearth, "checkin.settings") >= 1)
    return saved


def open_round(hearth, slack, deliver, channel=CIRCLE):
    result = rounds.open_round(hearth.services, slack, TEAM, channel)
    deliver()
    return result


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_whole_round_from_setup_to_summary(driver, simulator, hearth, slack, deliver, caplog):
    caplog.set_level(logging.INFO)  # what production logs (Slack's libraries are kept at INFO and above) …
    caplog.set_level(logging.DEBUG, logger="hearth")  # … and all of Hearth's own, debug included
    # 1. setup: an admin enables check-ins with /hearth; a member only gets a polite refusal
    refused = driver.as_member("UBOB").command("/hearth", channel=CIRCLE)
    assert refused.status == 200
    assert wait_for(lambda: any("admins" in t for t in private_replies(simulator, "UBOB")))
    assert enable_in_slack(driver, hearth, **{CheckinBlock.SETTINGS_TIMEZONE: "Europe/Berlin"}).status == 200
    deliver()
    assert any("Check-ins are on" in t for t in dm_texts(simulator, "UALICE"))

    # 2. a round opens: the prompt in the channel, a DM to each human member, a guide for the facilitator
    opened = open_round(hearth, slack, deliver)
    assert opened.status == "opened" and opened.invited == 4
    [prompt] = simulator.messages(CIRCLE)
    assert "check-in time" in prompt["text"]
    for user in ("UALICE", "UBOB", "UDEV", "UEMI"):
        assert len(dm_texts(simulator, user)) >= 1, user
    assert simulator.dm_channel("UOTHERBOT") is None and simulator.dm_channel("UCARMEN") is None
    assert any("facilitator" in t for t in dm_texts(simulator, opened.facilitator))

    # 3. Bob checks in from his invitation; his first try is empty and gets an inline error
    bob = driver.as_member("UBOB")
    bob.click(CheckinAction.OPEN_MODAL)
    resp = bob.submit({CheckinBlock.GRATITUDE: "   ", CheckinBlock.CHALLENGE: "finding a flat"})
    assert resp.json["response_action"] == "errors" and CheckinBlock.GRATITUDE in resp.json["errors"]
    resp = bob.submit({CheckinBlock.GRATITUDE: "my sister <!channel>", CheckinBlock.CHALLENGE: "finding a flat",
                       CheckinBlock.OFFER: "Spanish lessons", CheckinBlock.SHARING: "named"})
    assert resp.status == 200 and resp.view_error is None and resp.json["response_action"] == "update"

    # 4. shared in the round's thread under his name, escaped, with an "I can help" button
    deliver()
    replies = [m for m in simulator.messages(CIRCLE) if m.get("thread_ts") == prompt["ts"] and m["ts"] != prompt["ts"]]
    [share] = replies
    assert "<@UBOB>" in share["text"] and "finding a flat" in share["text"]
    assert "<!channel>" not in share["text"] and "&lt;!channel&gt;" in share["text"]

    # Dev offers help; Bob is asked privately and accepts; a group DM introduces the two
    dev = driver.as_member("UDEV")
    dev.click(CheckinAction.OFFER_HELP)
    assert wait_for(lambda: any("privately" in t for t in private_replies(simulator, "UDEV")))
    assert wait_for(lambda: hearth_outbox_count(hearth, "checkin.help") == 1)
    deliver()
    assert any("<@UDEV>" in t and "help" in t for t in dm_texts(simulator, "UBOB"))
    bob.click(CheckinAction.ACCEPT_HELP)
    assert wait_for(lambda: hearth_outbox_count(hearth, "checkin.help") == 2)
    deliver()
    intro = [m for c in simulator.conversations_of("UBOB") if c not in (CIRCLE, "CGENERAL")
             and "UDEV" in simulator.workspace.channels[c].members for m in simulator.messages(c)]
    assert any("meet" in m["text"] and "finding a flat" in m["text"] for m in intro)

    # App Home: Alice checks in from it, and it is redrawn with her check-in, her circle and what Bob offers
    alice = driver.as_member("UALICE")
    driver.event({"type": "app_home_opened", "user": "UALICE", "channel": simulator.state.dm_id("UALICE"),
                  "tab": "home"})
    assert wait_for(lambda: "Spanish lessons" in str((simulator.home("UALICE") or {}).get("blocks")))
    home_id = simulator.home("UALICE")["id"]
    assert "you've checked in" not in str(simulator.home("UALICE")["blocks"])
    before = (simulator.latest_view("UALICE") or {}).get("id")
    driver.block_action("UALICE", CheckinAction.OPEN_MODAL.value, view_id=home_id)
    assert wait_for(lambda: (simulator.latest_view("UALICE") or {}).get("id") not in (None, before))
    alice.submit({CheckinBlock.GRATITUDE: "this circle", CheckinBlock.SHARING: "anonymous"})
    assert wait_for(lambda: "you've checked in" in str((simulator.home("UALICE") or {}).get("blocks")))
    home = str(simulator.home("UALICE")["blocks"])
    assert "this circle" in home and "Participation" in home and "Spanish lessons" in home

    # 5. the reminder goes once, only to those who have not checked in
    round_ = current_round(hearth)
    assert rounds.remind_due(hearth.services, lambda team: slack, now=round_.remind_at) == 2
    assert rounds.remind_due(hearth.services, lambda team: slack, now=round_.remind_at) == 0
    deliver()
    assert not any("closes" in t for t in dm_texts(simulator, "UBOB"))
    assert any("closes" in t for t in dm_texts(simulator, "UEMI"))

    # 6. close: counts only in the thread, the prompt loses its button, the next facilitator is named
    assert rounds.close_due(hearth.services, now=round_.closes_at) == 1
    deliver()
    summary = [m for m in simulator.messages(CIRCLE) if m.get("thread_ts") == prompt["ts"]][-1]
    assert "2 checked in" in summary["text"] and "1 challenge shared" in summary["text"]
    assert "1 offer of help" in summary["text"] and "1 accepted" in summary["text"]
    assert "flat" not in summary["text"] and "sister" not in summary["text"] and "circle" not in summary["text"]
    [closed_prompt] = [m for m in simulator.messages(CIRCLE) if m["ts"] == prompt["ts"]]
    assert "closed" in closed_prompt["text"]
    assert "actions" not in [b["type"] for b in closed_prompt.get("blocks") or []]

    # Nothing anyone wrote, nor anyone's name, reached a log line.
    logged = caplog.text
    assert "checkins.submitted" in logged  # the flow did log …
    for words in ("my sister", "finding a flat", "Spanish lessons", "this circle", "Bob Miller", "Alice Weber"):
        assert words not in logged, words  # … ids and counts only
    assert_logs_carry_no_user_ids(caplog.records, MEMBERS)  # nor who did what: no user id in any line


def hearth_outbox_count(hearth, kind):
    from sqlalchemy import func, select

    from storage.models import OutboxMessage

    with hearth.services.db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == kind))


def test_checkin_command_edits_until_close_then_a_late_submission_gets_a_friendly_error(
        driver, simulator, hearth, slack, deliver):
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    emi = driver.as_member("UEMI")
    emi.command("/checkin", channel="CGENERAL")
    assert emi.latest_view()["callback_id"] == "checkin.submit"
    assert emi.submit({CheckinBlock.GRATITUDE: "green tea"}).json["response_action"] == "update"
    emi.close()
    emi.command("/checkin")  # edit: the modal shows what she wrote
    assert wait_for(lambda: "green tea" in str(simulator.latest_view("UEMI") or {}))
    modal = emi.latest_view()
    rounds.close_round(hearth.services, TEAM, CIRCLE)  # the round closes while her modal is open
    resp = driver.submit_view("UEMI", modal["id"], {CheckinBlock.GRATITUDE: "green tea and rain"})
    assert resp.json["response_action"] == "errors"
    assert "closed" in resp.json["errors"][CheckinBlock.GRATITUDE]
    with hearth.services.db.session() as s:
        row = repo.checkin(s, current_round_id(hearth), "UEMI")
        assert repo.read_checkin(hearth.services.crypto, row).gratitude == "green tea"
    nothing_open = emi.command("/checkin", channel="CGENERAL")
    assert nothing_open.json["response_type"] == "ephemeral"
    assert "no check-in round open" in nothing_open.json["text"]


def current_round_id(hearth):
    with hearth.services.db.session() as s:
        circle = repo.circle(s, TEAM, CIRCLE)
        return repo.rounds_of(s, circle.id, limit=1)[0].id


def submission(driver, user, view, values):
    """The signed view_submission Slack sends for `view` filled in with `values` (sendable twice)."""
    import json
    from urllib.parse import urlencode

    from slack_app.simulator.elements import state_values

    payload = {"type": "view_submission", "team": {"id": TEAM, "domain": "hearth-demo"},
               "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM},
               "api_app_id": "A0HEARTH", "trigger_id": "1.2.3", "response_urls": [],
               "view": {**view, "state": {"values": state_values(view, values)}}}
    body = urlencode({"payload": json.dumps(payload)})
    return lambda: driver.post_raw(body, content_type="application/x-www-form-urlencoded")


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_double_submission_is_one_check_in_and_one_thread_message(driver, simulator, hearth, slack, deliver):
    from concurrent.futures import ThreadPoolExecutor

    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    dev = driver.as_member("UDEV")
    dev.command("/checkin")
    send = submission(driver, "UDEV", dev.latest_view(), {CheckinBlock.GRATITUDE: "a quiet morning"})
    with ThreadPoolExecutor(2) as pool:  # a double click: the same submission twice, at once
        answers = list(pool.map(lambda _: send(), range(2)))
    assert [a.status for a in answers] == [200, 200]
    deliver()
    shares = [m for m in simulator.messages(CIRCLE) if "a quiet morning" in (m.get("text") or "")]
    assert len(shares) == 1
    with hearth.services.db.session() as s:
        assert len(repo.checkins_of_round(s, current_round(hearth).id)) == 1


def test_bot_not_in_channel_tells_admins_the_fix_and_the_round_opens_once_invited(
        driver, simulator, hearth, slack, deliver):
    enable_in_slack(driver, hearth, channel="CNOBOT")
    deliver()
    assert any("/invite @hearth" in t for t in dm_texts(simulator, "UALICE"))
    blocked = open_round(hearth, slack, deliver, channel="CNOBOT")
    assert blocked.status == "blocked" and blocked.problem == "not_in_channel"
    assert simulator.messages("CNOBOT") == []
    simulator.join("UHEARTHBOT", "CNOBOT")
    assert ritual.open_due(hearth.services, lambda team: slack) == 1
    deliver()
    assert len(simulator.messages("CNOBOT")) == 1
    assert current_round(hearth, "CNOBOT").id == blocked.round_id  # the same round, not lost


def test_an_archived_channel_keeps_its_round_waiting(driver, simulator, hearth, slack, deliver):
    admin = usecases.enable_circle(hearth.services, TEAM, "CARCHIVED", usecases.SettingsInput(), by="UALICE")
    result = open_round(hearth, slack, deliver, channel="CARCHIVED")
    assert result.status == "blocked" and result.problem == "archived" and admin.circle_id
    assert any("archived" in t for t in dm_texts(simulator, "UALICE"))


def test_a_member_who_leaves_mid_round_gets_no_reminder(driver, simulator, hearth, slack, deliver):
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    simulator.workspace.channels[CIRCLE].members.discard("UEMI")
    resp = driver.event({"type": "member_left_channel", "user": "UEMI", "channel": CIRCLE, "channel_type": "C",
                         "team": TEAM})
    assert resp.status == 200
    round_ = current_round(hearth)
    rounds.remind_due(hearth.services, lambda team: slack, now=round_.remind_at)
    deliver()
    assert not any("closes" in t for t in dm_texts(simulator, "UEMI"))
    assert any("closes" in t for t in dm_texts(simulator, "UDEV"))


def test_snooze_and_opt_out_buttons_and_pause_resume_commands(driver, simulator, hearth, slack, deliver, caplog):
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="hearth")
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    driver.as_member("UDEV").click(CheckinAction.OPT_OUT)
    driver.as_member("UEMI").click(CheckinAction.SNOOZE)
    bob = driver.as_member("UBOB")
    bob.command("/checkin", text="pause")
    assert wait_for(lambda: len([t for t in private_replies(simulator) if t]) >= 3)
    round_ = current_round(hearth)
    assert rounds.remind_due(hearth.services, lambda team: slack, now=round_.remind_at) == 1  # Alice only
    bob.command("/checkin", text="resume")
    assert wait_for(lambda: any("Welcome back" in t for t in private_replies(simulator, "UBOB")))
    rounds.close_round(hearth.services, TEAM, CIRCLE, now=round_.closes_at)
    following = open_round(hearth, slack, deliver)
    assert following.invited == 2  # Alice and Bob; Dev opted out, Emi is snoozed
    assert "checkins.paused" in caplog.text and "checkins.opted_out" in caplog.text
    assert_logs_carry_no_user_ids(caplog.records, MEMBERS)  # who paused or left is nobody's log line


# ---- the CLI --------------------------------------------------------------------------------------------

def test_cli_enables_opens_reports_and_closes(simulator, database_url, db, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from slack_app.cli import main
    from storage.crypto import generate_key

    monkeypatch.chdir(tmp_path)  # no .env here
    env = {"SLACK_BOT_TOKEN": simulator.bot_token, "SLACK_API_URL": simulator.base_url,
           "DATABASE_URL": database_url, "HEARTH_ENCRYPTION_KEY": generate_key(),
           "ARCHIVE_URL": str(tmp_path / "archive"), "HEARTH_TIMEZONE": "Europe/Berlin"}
    runner = CliRunner()

    def hearth(*args):
        return runner.invoke(main, ["checkins", *args], env=env)

    enabled = hearth("enable", "--channel", CIRCLE, "--day", "wed", "--time", "18:30", "--timezone",
                     "America/New_York", "--window", "36h")
    assert enabled.exit_code == 0, enabled.output
    assert "Check-ins on for CCIRCLE" in enabled.output and "18:30 America/New_York" in enabled.output
    bad = hearth("enable", "--channel", CIRCLE, "--window", "forever")
    assert bad.exit_code == 2 and "--window" in bad.output and "Traceback" not in bad.output
    opened = hearth("open", "--channel", CIRCLE)
    assert opened.exit_code == 0 and "4 invitations queued" in opened.output
    assert "already open" in hearth("open", "--channel", CIRCLE).output
    status = hearth("status")
    assert "round 1: open" in status.output and "0 of 4 checked in" in status.output
    closed = hearth("close", "--channel", CIRCLE)
    assert closed.exit_code == 0 and "0 checked in" in closed.output
    assert "No round is open" in hearth("close", "--channel", CIRCLE).output

    nobot = hearth("enable", "--channel", "CNOBOT")
    assert nobot.exit_code == 0 and "/invite @hearth" in nobot.output
    waiting = hearth("open", "--channel", "CNOBOT")
    assert waiting.exit_code == 2 and "/invite @hearth" in waiting.output
    assert "not set up" in hearth("open", "--channel", "CGENERAL").output
    assert hearth("disable", "--channel", "CNOBOT").exit_code == 0
