"""Reports end to end: signed requests into the real app, the Slack simulator, the delivery worker.

The demo workspace's moderator channel is the private GMODS (Alice, Finn and the bot); Bob reports, Dev is
not a moderator. Checked as the adversary of docs/privacy.md would: database dumps, log lines, Slack calls.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from pathlib import Path

import pytest

from slack_app.reports import usecases
from slack_app.reports.ids import ReportAction, ReportView
from slack_app.reports.jobs import JOBS
from slack_app.scheduling.registry import JobBook, JobContext
from slack_app.simulator import wait_for
from storage import outbox
from storage import reports as store
from storage.models import utcnow
from tests.conftest import TRANSPORTS
from tests.privacy import assert_logs_carry_no_user_ids, database_dump

TEAM = "T0HEARTH"
MODS = "GMODS"
MEMBERS = ("UBOB", "UALICE", "UFINN", "UDEV", "UEMI")



def report(driver, simulator, user="UBOB", *, how="command", values=None):
    """Open the form the way `how` says and submit it; returns (view_id, response)."""
    if how == "command":
        driver.command(user, "/report", channel="CCIRCLE")
    elif how == "global":
        driver.global_shortcut(user, "report.global")
    else:
        driver.message_shortcut(user, "report.message", "CCIRCLE", "1700000000.000100",
                                message_text="you are all idiots", message_user="UEMI")
    assert wait_for(lambda: (simulator.latest_view(user) or {}).get("callback_id") == ReportView.INTAKE)
    view = simulator.latest_view(user)
    answers = {"category": "harassment", "text": "Emi keeps mocking me in threads", "urgency": "high",
               "options": ["follow_up"], **(values or {})}
    return view["id"], driver.submit_view(user, view["id"], answers)


def cases(hearth):
    with hearth.services.db.session() as s:
        return [(c.id, c.number, c.status, c.anonymous, c.reporter_id, c.channel_id, c.assignee_id)
                for c in store.cases(s, TEAM)]


def trail(hearth, case_id):
    with hearth.services.db.session() as s:
        return [(e.actor, e.action) for e in store.entries(s, hearth.services.crypto, case_id)]


def card(simulator):
    [msg] = [m for m in simulator.messages(MODS) if "case #" in (m.get("text") or "")]
    return msg


def wait_routed(hearth):
    """Wait until the newest case was brought to the moderators (or found no usable channel): `route` runs
    after the ack."""
    def routed():
        found = cases(hearth)
        return bool(found) and (found[-1][5] is not None
                                or any(a.startswith("not posted") for _, a in trail(hearth, found[-1][0])))
    assert wait_for(routed)


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("how", ["command", "global", "message"])
def test_a_report_is_confirmed_in_the_modal_and_reaches_the_moderators_as_a_card(driver, simulator, hearth,
                                                                                  deliver, caplog, how):
    caplog.set_level(logging.DEBUG, logger="hearth")
    view_id, resp = report(driver, simulator, how=how)
    assert resp.status == 200 and not resp.late and not resp.view_error
    done = simulator.view(view_id)
    assert done["callback_id"] == ReportView.DONE
    text = str(done["blocks"])
    assert "case #1" in text and "receipt" in text.lower()
    wait_routed(hearth)
    deliver()
    [(case_id, number, status, anonymous, reporter, channel, _)] = cases(hearth)
    assert (number, status, anonymous, reporter, channel) == (1, "open", False, "UBOB", MODS)
    msg = card(simulator)
    shown = json.dumps(msg)
    assert "Harassment" in shown and "High" in shown and "<@UBOB>" in shown
    assert "mocking" not in shown and "idiots" not in shown  # no content in channel history
    with hearth.services.db.session() as s:
        details = store.open_details(hearth.services.crypto, store.get(s, case_id))
    assert (details["snapshot"] is not None) is (how == "message")
    if how == "message":
        assert details["snapshot"]["author"] == "UEMI" and details["snapshot"]["text"] == "you are all idiots"
        assert "/archives/CCIRCLE/p1700000000000100" in details["snapshot"]["link"]
    assert "mocking" not in caplog.text
    assert_logs_carry_no_user_ids(caplog.records, MEMBERS)


def test_empty_or_oversized_text_is_refused_inline_and_nothing_is_stored(driver, simulator, hearth):
    for text, words in (("   ", "say what happened"), ("x" * 3001, "under 3000")):
        view_id, resp = report(driver, simulator, values={"text": text})
        assert resp.json["response_action"] == "errors"
        assert words in resp.json["errors"]["text"]
    assert cases(hearth) == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_double_submission_or_replay_makes_one_case(driver, simulator, hearth):
    view_id, first = report(driver, simulator)
    receipt = simulator.view(view_id)["blocks"][0]["text"]["text"]
    assert "case #1" in receipt
    # the same modal submitted again (a double click, or Slack's retry of the request)

    again = replay(driver, simulator, "UBOB", view_id)
    assert again.status == 200
    assert again.json["response_action"] == "update"
    assert again.json["view"]["blocks"][0]["text"]["text"] == receipt  # the same case number and receipt
    assert len(cases(hearth)) == 1
    wait_routed(hearth)


_submitted_views: dict[str, dict] = {}


def replay(driver, simulator, user, view_id):
    """The submission of `view_id` sent again, as a double click or a replayed request would."""
    return driver._interaction({"type": "view_submission", "team": driver._team(), "user": driver._user(user),
                                "api_app_id": "A1", "token": "x", "trigger_id": simulator.issue_trigger(user),
                                "view": {**first_view(simulator, view_id)}, "response_urls": [],
                                "is_enterprise_install": False, "enterprise": None})


def first_view(simulator, view_id):
    return _submitted_views[view_id]


@pytest.fixture(autouse=True)
def _remember_submissions(monkeypatch):
    from slack_app.simulator.driver import SlackDriver

    original = SlackDriver._interaction

    def spy(self, payload):
        if payload.get("type") == "view_submission":
            _submitted_views[payload["view"]["id"]] = json.loads(json.dumps(payload["view"]))
        return original(self, payload)

    monkeypatch.setattr(SlackDriver, "_interaction", spy)


def click(driver, simulator, user, action_id):
    return driver.block_action(user, action_id, message=card(simulator), channel=MODS)


def test_only_current_moderators_may_act_and_refusals_are_audited(driver, simulator, hearth, deliver):
    report(driver, simulator)
    wait_routed(hearth)
    deliver()
    [(case_id, *_)] = cases(hearth)
    simulator.clear_calls()
    click(driver, simulator, "UDEV", ReportAction.VIEW)  # not in the moderator channel
    assert wait_for(lambda: simulator.response_url_posts())
    assert "Only current members" in simulator.response_url_posts()[-1]["body"]["text"]
    assert simulator.latest_view("UDEV") is None
    assert ("UDEV", "refused: view details") in trail(hearth, case_id)
    assert simulator.calls_for("conversations.members")  # asked of Slack, not assumed

    click(driver, simulator, "UFINN", ReportAction.VIEW)
    assert wait_for(lambda: (simulator.latest_view("UFINN") or {}).get("callback_id") == ReportView.DETAILS)
    assert "mocking me" in str(simulator.latest_view("UFINN")["blocks"])

    simulator.workspace.channels[MODS].members.discard("UFINN")  # Finn left the moderators
    click(driver, simulator, "UFINN", ReportAction.CLAIM)
    assert wait_for(lambda: ("UFINN", "refused: claim") in trail(hearth, case_id))
    assert cases(hearth)[0][2] == "open"


def test_triage_updates_the_card_in_place_tells_the_reporter_and_is_audited(driver, simulator, hearth, deliver):
    report(driver, simulator)
    wait_routed(hearth)
    deliver()
    [(case_id, *_)] = cases(hearth)
    click(driver, simulator, "UALICE", ReportAction.CLAIM)
    assert wait_for(lambda: cases(hearth)[0][2] == "acknowledged")
    deliver()
    assert "Acknowledged" in json.dumps(card(simulator)) and "<@UALICE>" in json.dumps(card(simulator))
    assert len([m for m in simulator.messages(MODS) if "case #" in (m.get("text") or "")]) == 1  # in place
    assert any("looking at your report" in (m.get("text") or "")
               for m in simulator.messages(simulator.dm_channel("UBOB")))

    click(driver, simulator, "UALICE", ReportAction.NOTE)
    assert wait_for(lambda: (simulator.latest_view("UALICE") or {}).get("callback_id") == ReportView.NOTE)
    note_view = simulator.latest_view("UALICE")
    resp = driver.submit_view("UALICE", note_view["id"], {"note": ""})
    assert resp.json["response_action"] == "errors"
    driver.submit_view("UALICE", note_view["id"], {"note": "Talked to Emi"})
    assert replay(driver, simulator, "UALICE", note_view["id"]).status == 200  # one note all the same

    click(driver, simulator, "UALICE", ReportAction.RESOLVE)
    assert wait_for(lambda: (simulator.latest_view("UALICE") or {}).get("callback_id") == ReportView.RESOLVE)
    driver.submit_view("UALICE", simulator.latest_view("UALICE")["id"], {"note": "Warned Emi"})
    assert cases(hearth)[0][2] == "resolved"
    deliver()
    assert "Resolved" in json.dumps(card(simulator)) and "Reopen" in json.dumps(card(simulator))
    assert "Warned" not in json.dumps(simulator.messages(MODS))
    assert any("has been resolved" in (m.get("text") or "")
               for m in simulator.messages(simulator.dm_channel("UBOB")))

    click(driver, simulator, "UFINN", ReportAction.REOPEN)
    assert wait_for(lambda: cases(hearth)[0][2] == "acknowledged")
    actions = [a for _, a in trail(hearth, case_id)]
    assert actions == ["submitted", "posted to moderators", "acknowledged", "note", "resolved", "reopened"]
    with hearth.services.db.session() as s:
        raw = [e.body for e in s.query(store.ReportEntry) if e.body]
    assert raw and all(b.startswith("gAAAAA") for b in raw)  # notes and resolutions sealed


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_an_anonymous_report_and_its_follow_up_never_hold_the_reporter_in_clear(driver, simulator, hearth,
                                                                                  deliver, db, caplog):
    caplog.set_level(logging.DEBUG, logger="hearth")
    caplog.set_level(logging.INFO)
    before = database_dump(db)
    simulator.clear_calls()
    view_id, _ = report(driver, simulator, how="message", values={"options": ["anonymous", "follow_up"]})
    wait_routed(hearth)
    deliver()
    [(case_id, _, _, anonymous, reporter, *_)] = cases(hearth)
    assert anonymous and reporter is None
    shown = json.dumps(card(simulator))
    assert "Reporter " in shown and "UBOB" not in shown

    click(driver, simulator, "UALICE", ReportAction.CLAIM)
    assert wait_for(lambda: cases(hearth)[0][2] == "acknowledged")
    click(driver, simulator, "UALICE", ReportAction.MESSAGE)
    assert wait_for(lambda: (simulator.latest_view("UALICE") or {}).get("callback_id") == ReportView.QUESTION)
    question_view = simulator.latest_view("UALICE")["id"]
    driver.submit_view("UALICE", question_view, {"note": "When did it start?"})
    replay(driver, simulator, "UALICE", question_view)  # a double submission asks once
    deliver()
    dm = simulator.dm_channel("UBOB")
    [question] = [m for m in simulator.messages(dm) if "question" in (m.get("text") or "")]
    mid = database_dump(db)
    driver.block_action("UBOB", ReportAction.REPLY, message={**question, "channel": dm}, channel=dm)
    assert wait_for(lambda: (simulator.latest_view("UBOB") or {}).get("callback_id") == ReportView.REPLY)
    driver.submit_view("UBOB", simulator.latest_view("UBOB")["id"], {"note": "Since last Monday"})
    deliver()
    assert "replied" in json.dumps(card(simulator))
    click(driver, simulator, "UALICE", ReportAction.VIEW)
    assert wait_for(lambda: "Since last Monday" in str((simulator.latest_view("UALICE") or {}).get("blocks")))
    details = str(simulator.latest_view("UALICE")["blocks"])
    assert "UBOB" not in details and "Reporter " in details
    # someone else clicking Reply on the question cannot answer in the reporter's place
    driver.block_action("UDEV", ReportAction.REPLY, message={**question, "channel": dm}, channel=dm)
    assert wait_for(lambda: any("can no longer be answered" in p["body"].get("text", "")
                                for p in simulator.response_url_posts()))

    after = database_dump(db)
    for dump in (mid, after):
        for table, rows in dump.items():
            new = [r for r in rows if r not in before.get(table, [])]
            assert not [r for r in new if any("UBOB" in v for v in r)], f"{table} names the reporter in clear"
    with db.session() as s:
        assert outbox.rows(s, kind="report.question") == []  # delivered sensitive rows are gone
    # Slack never heard the reporter's id outside the DMs sent to them (and the modals they opened)
    for call in simulator.calls:
        params = dict(call.params)
        if call.method == "chat.postMessage" and params.get("channel") in ("UBOB", "DBOB"):
            params.pop("channel")  # a DM addressed to the reporter: the address, not the message
        if "UBOB" in json.dumps(params) and call.method not in ("conversations.open", "views.open",
                                                                "views.update"):
            raise AssertionError(f"{call.method} named the reporter: {call.params}")
    assert_logs_carry_no_user_ids(caplog.records, MEMBERS)
    assert "When did it start" not in caplog.text and "Since last" not in caplog.text
    archive = Path(hearth.services.settings.ARCHIVE_URL)  # nothing of a report is archived, nor names Bob
    assert not [p for p in archive.rglob("*") if p.is_file() and b"UBOB" in p.read_bytes()]


def test_an_unusable_moderator_channel_stores_the_report_and_warns_the_admins(driver, simulator, hearth,
                                                                               deliver, slack):
    simulator.workspace.channels[MODS].is_archived = True
    view_id, _ = report(driver, simulator)
    assert "case #1" in str(simulator.view(view_id)["blocks"])
    assert wait_for(lambda: any("not posted: archived" == a for _, a in trail(hearth, cases(hearth)[0][0])))
    deliver()
    assert cases(hearth)[0][5] is None
    warned = simulator.messages(simulator.dm_channel("UALICE"))
    assert any("case #1" in (m.get("text") or "") and "archived" in m["text"] for m in warned)
    later = utcnow() + timedelta(minutes=5)  # routing ran and found no channel: the sweep leaves it to the fix
    assert usecases.route_missed(hearth.services, lambda team: slack, now=later) == 0

    simulator.workspace.channels[MODS].is_archived = False  # fixed: the waiting case reaches the moderators
    assert usecases.set_channel(hearth.services, slack, TEAM, MODS) is None
    deliver()
    assert cases(hearth)[0][5] == MODS and "case #1" in card(simulator)["text"]


def test_a_report_whose_routing_was_dropped_after_the_ack_reaches_the_moderators_at_the_next_sweep(
        driver, simulator, hearth, deliver, slack, monkeypatch):
    submit = hearth.after_ack.submit  # the pool is full just then: routing, which runs after the ack, is dropped
    monkeypatch.setattr(hearth.after_ack, "submit",
                        lambda name, *job: False if name == "reports.route" else submit(name, *job))
    view_id, _ = report(driver, simulator)
    assert "case #1" in str(simulator.view(view_id)["blocks"])  # the reporter was told it is stored
    [case] = cases(hearth)
    assert case[5] is None and [a for _, a in trail(hearth, case[0])] == ["submitted"]

    ports = lambda team: slack  # noqa: E731
    sweep = JobContext(db=hearth.services.db, params={}, services=hearth.services, ports=ports)
    assert "reports.route_missed" in JobBook([JOBS]).at_start  # every minute, and when a leader starts
    assert JOBS.actions["reports.route_missed"](sweep) == 0  # within the minute routing may still be coming
    later = utcnow() + timedelta(minutes=2)
    assert usecases.route_missed(hearth.services, ports, now=later) == 1
    deliver()
    assert cases(hearth)[0][5] == MODS and "case #1" in card(simulator)["text"]
    assert trail(hearth, case[0])[-1] == ("hearth", "posted to moderators")
    assert usecases.route_missed(hearth.services, ports, now=later) == 0  # once


def test_routing_a_case_already_routed_asks_slack_nothing_and_changes_nothing(driver, simulator, hearth, slack):
    report(driver, simulator)
    wait_routed(hearth)
    [case] = cases(hearth)
    before = (len(simulator.calls), trail(hearth, case[0]))
    assert usecases.route(hearth.services, slack, TEAM, case[0]) is None  # the sweep, say, after the ack's run
    assert (len(simulator.calls), trail(hearth, case[0])) == before


def test_a_case_routed_while_its_routing_asked_slack_is_brought_to_the_moderators_once(
        driver, simulator, hearth, deliver, slack, monkeypatch):
    submit = hearth.after_ack.submit  # routing is left to this test, which runs it twice, one inside the other
    monkeypatch.setattr(hearth.after_ack, "submit",
                        lambda name, *job: False if name == "reports.route" else submit(name, *job))
    report(driver, simulator)
    [case] = cases(hearth)
    listed = usecases.roster.channel_roster
    overtaken: list[str | None] = []

    def roster_while_another_routes(*args, **kwargs):
        roster = listed(*args, **kwargs)
        if not overtaken:  # the first listing only: the other routing's own one passes through
            overtaken.append("routing")
            overtaken[0] = usecases.route(hearth.services, slack, TEAM, case[0])
        return roster

    monkeypatch.setattr(usecases.roster, "channel_roster", roster_while_another_routes)
    assert usecases.route(hearth.services, slack, TEAM, case[0]) is None
    deliver()
    assert overtaken == [None] and cases(hearth)[0][5] == MODS
    assert [a for _, a in trail(hearth, case[0])] == ["submitted", "posted to moderators"]
    assert len([m for m in simulator.messages(MODS) if "case #1" in (m.get("text") or "")]) == 1


def test_the_moderator_channel_setting_refuses_public_channels_and_channels_without_hearth(hearth, slack):
    services = hearth.services
    assert usecases.set_channel(services, slack, TEAM, "CGENERAL") == "public"
    assert usecases.set_channel(services, slack, TEAM, "CNOBOT") in ("public", "not_in_channel")
    assert usecases.set_channel(services, slack, TEAM, "GNOPE") == "channel_gone"
    assert usecases.configured_channel(services, TEAM) == MODS  # HEARTH_MODERATOR_CHANNEL, the default
    assert usecases.set_channel(services, slack, TEAM, MODS) is None
    with services.db.session() as s:
        assert store.moderator_channel(s, TEAM) == MODS


def test_an_admin_sets_the_moderator_channel_with_slash_hearth_in_a_private_channel(driver, simulator, hearth):
    resp = driver.command("UBOB", "/hearth", text="reports", channel=MODS)  # not an admin
    assert wait_for(lambda: simulator.response_url_posts())
    assert "Only Hearth's admins" in simulator.response_url_posts()[-1]["body"]["text"]
    driver.command("UALICE", "/hearth", text="reports", channel="CGENERAL")
    assert wait_for(lambda: len(simulator.response_url_posts()) == 2)
    assert "public" in simulator.response_url_posts()[-1]["body"]["text"]
    resp = driver.command("UALICE", "/hearth", text="reports", channel=MODS)
    assert resp.status == 200 and not resp.late
    assert wait_for(lambda: len(simulator.response_url_posts()) == 3)
    assert "Reports now come to this channel" in simulator.response_url_posts()[-1]["body"]["text"]
    with hearth.services.db.session() as s:
        assert store.moderator_channel(s, TEAM) == MODS


def test_when_a_moderator_is_involved_the_case_goes_by_dm_to_the_others_never_to_the_channel(
        driver, simulator, hearth, deliver):
    report(driver, simulator, values={"people": ["UFINN"]})  # Finn moderates
    [(case_id, *_)] = cases(hearth)
    assert wait_for(lambda: any("sent by DM" in a for _, a in trail(hearth, case_id)))
    deliver()
    assert not [m for m in simulator.messages(MODS) if "case #" in (m.get("text") or "")]
    assert simulator.dm_channel("UFINN") is None or not [
        m for m in simulator.messages(simulator.dm_channel("UFINN")) if "case #" in (m.get("text") or "")]
    dm = simulator.dm_channel("UALICE")
    [alice_card] = [m for m in simulator.messages(dm) if "case #" in (m.get("text") or "")]
    with hearth.services.db.session() as s:
        assert "UALICE" not in str(store.get(s, case_id).dm_recipients)  # sealed
    # Finn, although in the moderator channel, may not act on a case about him
    driver.block_action("UFINN", ReportAction.VIEW, message={**alice_card, "channel": dm}, channel=dm)
    assert wait_for(lambda: ("UFINN", "refused: view details") in trail(hearth, case_id))
    driver.block_action("UALICE", ReportAction.CLAIM, message={**alice_card, "channel": dm}, channel=dm)
    assert wait_for(lambda: cases(hearth)[0][2] == "acknowledged")
    deliver()
    [updated] = [m for m in simulator.messages(dm) if "case #" in (m.get("text") or "")]
    assert "Acknowledged" in json.dumps(updated)  # updated in place in the DM too


def test_change_urgency_and_escalate_are_audited_and_shown_on_the_card(driver, simulator, hearth, deliver):
    report(driver, simulator)
    wait_routed(hearth)
    deliver()
    [(case_id, *_)] = cases(hearth)
    click(driver, simulator, "UALICE", ReportAction.URGENCY)
    assert wait_for(lambda: (simulator.latest_view("UALICE") or {}).get("callback_id") == ReportView.URGENCY)
    driver.submit_view("UALICE", simulator.latest_view("UALICE")["id"], {"urgency": "urgent"})
    click(driver, simulator, "UFINN", ReportAction.ESCALATE)
    assert wait_for(lambda: ("UFINN", "escalated") in trail(hearth, case_id))
    deliver()
    shown = json.dumps(card(simulator))
    assert "Urgent" in shown and "Escalated" in shown
    assert ("UALICE", "urgency high → urgent") in trail(hearth, case_id)
    assert any("<!here>" in (m.get("text") or "") for m in simulator.messages(MODS))


@pytest.mark.parametrize(("text", "channel"), [("", "CCIRCLE"), ("said in a channel without Hearth", "CNOBOT")])
def test_reporting_a_deleted_message_or_one_where_hearth_is_not_works(driver, simulator, hearth, text, channel):
    driver.message_shortcut("UBOB", "report.message", channel, "1700000000.000200", message_text=text,
                            message_user="UEMI")
    assert wait_for(lambda: (simulator.latest_view("UBOB") or {}).get("callback_id") == ReportView.INTAKE)
    view = simulator.latest_view("UBOB")
    assert ("no text" in str(view["blocks"])) is (text == "")
    resp = driver.submit_view("UBOB", view["id"], {"category": "other", "text": "see that message",
                                                   "urgency": "normal"})
    assert not resp.view_error and "case #1" in str(simulator.view(view["id"])["blocks"])
    wait_routed(hearth)  # the card is posted after the ack: let it finish before the test ends
    with hearth.services.db.session() as s:
        snap = store.open_details(hearth.services.crypto, store.by_number(s, TEAM, 1))["snapshot"]
    assert snap["channel"] == channel and snap["text"] == text and snap["author"] == "UEMI"


@pytest.fixture(autouse=True)
def _no_remembered_members():
    usecases._members_seen.clear()
    yield
    usecases._members_seen.clear()


def test_a_moderator_who_left_while_a_form_was_open_cannot_submit_it(driver, simulator, hearth, deliver,
                                                                      monkeypatch):
    report(driver, simulator)
    wait_routed(hearth)
    deliver()
    [(case_id, *_)] = cases(hearth)
    click(driver, simulator, "UALICE", ReportAction.NOTE)
    assert wait_for(lambda: (simulator.latest_view("UALICE") or {}).get("callback_id") == ReportView.NOTE)
    simulator.workspace.channels[MODS].members.discard("UALICE")
    monkeypatch.setattr(usecases, "MEMBERS_FRESH_FOR", 0.0)  # the opening click's answer has gone stale
    resp = driver.submit_view("UALICE", simulator.latest_view("UALICE")["id"], {"note": "still here?"})
    assert resp.json["response_action"] == "errors" and "Only current members" in resp.json["errors"]["note"]
    assert ("UALICE", "refused: add note") in trail(hearth, case_id)
    assert "note" not in [a for _, a in trail(hearth, case_id)]


def test_overdue_cases_go_to_the_configured_escalation_contacts_instead_of_the_admins(driver, simulator, hearth,
                                                                                      deliver):
    from dataclasses import replace

    report(driver, simulator)
    wait_routed(hearth)
    deliver()
    settings = hearth.services.settings.model_copy(update={"HEARTH_ESCALATION_CONTACTS": "UCARMEN"})
    services = replace(hearth.services, settings=settings)
    assert usecases.escalate_overdue(services, now=utcnow() + timedelta(days=2)) == 1
    deliver()

    def told(user):
        channel = simulator.dm_channel(user)
        return channel is not None and any("Case #1" in (m.get("text") or "") and "waited longer" in m["text"]
                                           for m in simulator.messages(channel))

    assert told("UCARMEN") and not told("UALICE")  # Alice is an admin: the contacts replace the admins here
    assert any("<!here>" in (m.get("text") or "") for m in simulator.messages(MODS))
