"""Surveys end to end: signed requests into the real app, the Slack simulator on the other side, the delivery
worker draining the outbox; then the anonymity of what is left behind, read as the adversary would.

The demo workspace's #gratitude-circle (CCIRCLE) holds Alice (admin), Bob, Dev, Emi and the bot; #general
(CGENERAL) everyone: Alice, Bob, Carmen, Dev, Emi, Finn (and a deactivated member and two bots).
"""

from __future__ import annotations

import copy
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from slack_app.simulator import wait_for
from slack_app.simulator.driver import VERIFICATION_TOKEN
from slack_app.simulator.elements import state_values
from slack_app.surveys import usecases, views
from slack_app.surveys.ids import SurveyAction, question_block
from storage import surveys as repo
from storage.archive import FolderArchive
from storage.lifecycle import reader
from storage.lifecycle.archiver import Archiver
from storage.lifecycle.kinds import retention
from storage.models import OutboxMessage, utcnow
from surveys.loader import builtin_instrument
from tests.conftest import TRANSPORTS
from tests.privacy import assert_logs_carry_no_user_ids, database_dump, sqlite_file_bytes

TEAM = "T0HEARTH"
CIRCLE = "CCIRCLE"
GENERAL = "CGENERAL"
EVERYONE = ("UALICE", "UBOB", "UCARMEN", "UDEV", "UEMI", "UFINN")
BELONGING = builtin_instrument("belonging")
QUESTIONS = [q.id for q in BELONGING.counted]



def launch(hearth, slack, channel, *, k=3, by="UALICE", days=5):
    instrument, source = usecases.load_survey("belonging")
    return usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id=channel,
                           closes=timedelta(days=days), min_responses=k, launched_by=by)


def answers(pattern):
    """Modal values: `pattern` gives each counted question's agreement value, in order."""
    values = {question_block(q): str(v) for q, v in zip(QUESTIONS, pattern, strict=True)}
    return values


def private_replies(simulator, user):
    return [p["body"].get("text") or "" for p in simulator.response_url_posts() if p.get("user") == user]


def outbox_rows(hearth):
    with hearth.services.db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage))


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_launch_answer_close_and_results(driver, simulator, hearth, slack, deliver, caplog):
    caplog.set_level(logging.DEBUG, logger="hearth")
    # an audience smaller than the minimum is refused, with the reason and the ways out
    small = launch(hearth, slack, CIRCLE, k=5)
    assert small.status == "refused" and "4 people" in small.message and "whole workspace" in small.message

    started = launch(hearth, slack, CIRCLE, k=3)
    assert started.status == "launched" and started.invited == 4
    assert launch(hearth, slack, CIRCLE).status == "already_open"
    deliver()
    for user in ("UALICE", "UBOB", "UDEV", "UEMI"):
        [invite] = simulator.messages(simulator.dm_channel(user))
        assert "anonymous survey" in invite["text"]
    assert simulator.dm_channel("UCARMEN") is None

    # Bob opens the modal from his invitation; an incomplete form gets inline errors
    bob = driver.as_member("UBOB")
    bob.click(SurveyAction.OPEN_MODAL)
    assert bob.latest_view()["callback_id"] == "survey.submit"
    resp = bob.submit({question_block("belong"): "4"})
    assert resp.json["response_action"] == "errors" and question_block("be_myself") in resp.json["errors"]
    # the real submission: answered in the ack alone, nothing sent, queued or asked of Slack
    posts, queued = len(simulator.calls), outbox_rows(hearth)
    resp = bob.submit({**answers([5, 4, 4, 5, 3, 4, 5, 5]), question_block("comment"): "Kind people here"})
    assert resp.json["response_action"] == "update" and "Thank you" in str(resp.json["view"])
    assert "sealed" in str(resp.json["view"])
    assert len(simulator.calls) == posts and outbox_rows(hearth) == queued

    # a second attempt is told kindly; Carmen (not in the channel) pressing an old button is told it is not hers
    bob.click(SurveyAction.OPEN_MODAL)
    assert wait_for(lambda: any("already answered" in t for t in private_replies(simulator, "UBOB")))
    driver.block_action("UCARMEN", SurveyAction.OPEN_MODAL, value=started.run_id)
    assert wait_for(lambda: any("not for you" in t for t in private_replies(simulator, "UCARMEN")))

    for user, pattern in (("UALICE", [4, 4, 3, 4, 4, 4, 4, 5]), ("UDEV", [2, 3, 3, 4, 2, 3, 4, 4])):
        member = driver.as_member(user)
        member.click(SurveyAction.OPEN_MODAL)
        assert member.submit(answers(pattern)).json["response_action"] == "update"

    # Emi's modal is open when the survey closes: her answer gets a friendly error, not a lost click
    emi = driver.as_member("UEMI")
    emi.click(SurveyAction.OPEN_MODAL)
    closed = usecases.close(hearth.services, TEAM, started.run_id, slack)
    assert closed.status == "closed" and closed.respondents == 3 and closed.chart_uploaded
    resp = emi.submit(answers([1, 1, 1, 1, 1, 1, 1, 1]))
    assert resp.json["response_action"] == "errors" and "closed" in str(resp.json["errors"])
    assert usecases.close(hearth.services, TEAM, started.run_id, slack).status == "not_open"

    # the results reach Alice, who launched it: text through the outbox, the chart uploaded as a file
    deliver()
    dm = simulator.dm_channel("UALICE")
    texts = [m["text"] for m in simulator.messages(dm)]
    assert any("3 responses" in t and "Belonging index" in t for t in texts)
    assert not any("Kind people" in t for t in texts)  # comments wait for their own minimum (5)
    assert simulator.files(dm)
    shown = usecases.results(hearth.services, TEAM, started.run_id)
    assert shown.result is not None and shown.result.respondents == 3
    belong = shown.result.question("belong")
    assert dict(belong.distribution) == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    assert_logs_carry_no_user_ids(caplog.records, EVERYONE)


def test_results_below_the_minimum_are_not_shown_anywhere(hearth, slack, driver, simulator, deliver, tmp_path):
    started = launch(hearth, slack, CIRCLE, k=3)
    deliver()
    bob = driver.as_member("UBOB")
    bob.click(SurveyAction.OPEN_MODAL)
    bob.submit(answers([5, 5, 5, 5, 5, 5, 5, 5]))
    closed = usecases.close(hearth.services, TEAM, started.run_id, slack)
    assert closed.status == "closed" and closed.respondents == 1 and not closed.chart_uploaded
    assert closed.results.result is None
    assert "none are shown" in closed.results.text(hearth.services.copy)
    deliver()
    texts = [m["text"] for m in simulator.messages(simulator.dm_channel("UALICE"))]
    assert any("only from 3 respondents" in t for t in texts) and not any("mean" in t for t in texts)


def test_replayed_submission_stores_one_answer(hearth, slack, deliver):
    started = launch(hearth, slack, CIRCLE, k=3)
    raw = {q: "4" for q in QUESTIONS}
    first = usecases.submit(hearth.services, TEAM, "UBOB", started.run_id, raw)
    again = usecases.submit(hearth.services, TEAM, "UBOB", started.run_id, raw)
    assert "Thank you" in str(first.ack["view"]) and views.note(hearth.services.copy, views.ALREADY) in str(again.ack["view"])
    with hearth.services.db.session() as s:
        run = repo.run_by_public_id(s, TEAM, started.run_id)
        assert repo.submissions(s, run.id) == 1


def test_a_sealed_submission_shows_no_time_finer_than_the_day_and_not_what_was_answered(hearth, slack):
    """Without the key, a buffer row (paired with its participation row while the survey is open: same
    transaction) must not tell when that member answered (a Fernet token's clear timestamp) nor, by its
    length, whether they commented or skipped an optional question."""
    import base64
    import struct
    from datetime import UTC, datetime

    started = launch(hearth, slack, GENERAL, k=3)
    moment = datetime(2026, 12, 3, 17, 42, 13, tzinfo=UTC)
    given = {"UBOB": {}, "UDEV": {"comment": "Kind people here"}, "UEMI": {"comment": "x" * 300}}
    for user, extra in given.items():
        raw = {**{q: "4" for q in QUESTIONS}, **extra}
        assert "Thank you" in str(usecases.submit(hearth.services, TEAM, user, started.run_id, raw, now=moment).ack)
    with hearth.services.db.session() as s:
        sealed = list(s.scalars(select(repo.SurveyBuffer.sealed)))
    stamps = {struct.unpack(">Q", base64.urlsafe_b64decode(t)[1:9])[0] for t in sealed}
    assert stamps == {int(datetime(2026, 12, 3, tzinfo=UTC).timestamp())}  # the day, as participation keeps it
    assert len({len(t) for t in sealed}) == 1  # no comment, a short one, a longer one: the same size
    closed = usecases.close(hearth.services, TEAM, started.run_id)
    assert closed.respondents == 3 and closed.results.result is not None  # and they still open at close
    assert closed.results.result.question("belong").answered == 3


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_double_click_or_a_replayed_signed_submission_stores_one_answer(driver, simulator, hearth, slack, deliver):
    started = launch(hearth, slack, CIRCLE, k=3)
    deliver()
    bob = driver.as_member("UBOB")
    bob.click(SurveyAction.OPEN_MODAL)
    view = copy.deepcopy(bob.latest_view())
    view["state"] = {"values": state_values(view, answers([5, 4, 4, 5, 3, 4, 5, 5]))}
    body = {"type": "view_submission", "team": driver._team(), "user": driver._user("UBOB"),
            "api_app_id": simulator.workspace.app_id, "token": VERIFICATION_TOKEN,
            "trigger_id": simulator.issue_trigger("UBOB"), "view": view, "response_urls": [],
            "is_enterprise_install": False, "enterprise": None}
    with ThreadPoolExecutor(2) as pool:  # a double click: the same submission twice at once
        both = list(pool.map(lambda _: driver._interaction(copy.deepcopy(body)), range(2)))
    replayed = driver._interaction(copy.deepcopy(body))  # and once more, later (a replayed request)
    acks = sorted(str(r.json["view"]) for r in (*both, replayed))
    assert all(r.status == 200 for r in (*both, replayed))
    assert sum("Thank you" in a for a in acks) == 1 and sum("already answered" in a for a in acks) == 2
    with hearth.services.db.session() as s:
        run = repo.run_by_public_id(s, TEAM, started.run_id)
        assert repo.submissions(s, run.id) == 1 and repo.participants(s, run.id) == {"UBOB"}


def test_an_answer_in_flight_holds_the_run_open_so_a_close_waits_and_seals_it(hearth, slack, monkeypatch):
    """An answer reads the run holding it open (PostgreSQL: FOR SHARE; SQLite serialises writers), and a close
    waits for it: sealed, not left behind in the buffer of a closed run."""
    import threading
    import time

    started = launch(hearth, slack, CIRCLE, k=3)
    assert started.status == "launched"
    services = hearth.services
    checked, release = threading.Event(), threading.Event()
    record = repo.record_submission

    def paused(*args, **kwargs):  # the answer has read the run as open; the close starts now
        checked.set()
        assert release.wait(10)
        return record(*args, **kwargs)

    monkeypatch.setattr(repo, "record_submission", paused)
    with ThreadPoolExecutor(2) as pool:
        answering = pool.submit(usecases.submit, services, TEAM, "UBOB", started.run_id, {q: "5" for q in QUESTIONS})
        assert checked.wait(10), answering.result(1)
        closing = pool.submit(usecases.close, services, TEAM, started.run_id)
        time.sleep(0.5)
        assert not closing.done()  # it waits for the answer
        release.set()
        assert "Thank you" in str(answering.result(10).ack)
        assert closing.result(10).status == "closed"
    with services.db.session() as s:
        run = repo.run_by_public_id(s, TEAM, started.run_id)
        assert repo.submissions(s, run.id) == 0  # nothing left in the buffer
        sealed = s.scalar(select(func.count()).select_from(repo.SurveyAnswer).where(repo.SurveyAnswer.run_id == run.id))
    assert sealed == len(QUESTIONS)


def test_after_close_nothing_links_a_member_to_an_answer(driver, simulator, hearth, slack, deliver, caplog, tmp_path):
    caplog.set_level(logging.DEBUG, logger="hearth")
    db = hearth.services.db
    started = launch(hearth, slack, GENERAL, k=5, by="UFINN")
    assert started.status == "launched" and started.invited == 6
    deliver()
    before = database_dump(db)
    calls = len(simulator.calls)
    submitted = []  # every (question, value) in the order members answered
    for n, user in enumerate(EVERYONE):
        pattern = [1 + (n + i) % 5 for i in range(len(QUESTIONS))]  # a different answer set for everyone
        member = driver.as_member(user)
        member.click(SurveyAction.OPEN_MODAL)
        member.submit({**answers(pattern), question_block("comment"): f"comment number {n}"})
        submitted += list(zip(QUESTIONS, pattern, strict=True))
    # submitting asked nothing of Slack but the modals (views.open for each click)
    assert {c.method for c in simulator.calls[calls:]} <= {"views.open"}
    during = database_dump(db)
    assert during["outbox"] == before["outbox"]  # no message, no trace in the outbox
    # opening the modal and answering touched no other table (no member "seen" time, no pacing row, no job)
    assert {t for t in during if during[t] != before.get(t)} == {"survey_buffer", "survey_participation"}
    with db.session() as s:
        sealed = list(s.scalars(select(repo.SurveyBuffer.sealed)))
    assert len(sealed) == 6 and not any("comment number" in t for t in sealed)

    closed = usecases.close(hearth.services, TEAM, started.run_id, slack)
    assert closed.status == "closed" and closed.respondents == 6
    after = database_dump(db)

    # no survey row names a member (the launching admin's own row aside), none carries a time
    for table in ("survey_answer", "survey_comment", "survey_buffer", "survey_participation"):
        assert not any(u in cell for row in after[table] for cell in row for u in EVERYONE), table
    assert after["survey_buffer"] == [] and after["survey_participation"] == []
    with db.engine.connect() as conn:
        columns = set(conn.execute(select(repo.SurveyAnswer).limit(1)).keys())
        assert columns == {"id", "run_id", "question_id", "value", "labels"}  # labels: a group of >= k (or none)
        order = "ctid" if not db.is_sqlite else "rowid"
        physical = [(q, v) for q, v in conn.execute(text(f"SELECT question_id, value FROM survey_answer ORDER BY {order}"))]
        by_id = [(q, v) for q, v in conn.execute(text("SELECT question_id, value FROM survey_answer ORDER BY id"))]
        ids = [i for (i,) in conn.execute(text("SELECT id FROM survey_answer"))]
        if not db.is_sqlite:  # one transaction wrote them all: their transaction ids cannot order them
            assert conn.execute(text("SELECT count(DISTINCT xmin::text) FROM survey_answer")).scalar() == 1
            # VACUUM after the erase: no other run is open, so the emptied tables' pages are gone from disk
            for table in ("survey_buffer", "survey_participation"):
                assert conn.execute(text(f"SELECT pg_relation_size('{table}')")).scalar() == 0, table
    assert sorted(physical) == sorted(submitted)
    assert physical != submitted and by_id != submitted  # neither storage nor id order replays who answered when
    assert all(len(i) == 22 for i in ids) and len(set(ids)) == len(ids)
    comments = [row for row in after["survey_comment"]]
    assert len(comments) == 6 and not any("comment number" in c for row in comments for c in row)  # encrypted

    if db.is_sqlite:  # the erased buffer is not left readable in the file (secure_delete + checkpoint)
        raw = sqlite_file_bytes(db)
        assert not any(token.encode() in raw for token in sealed)

    deliver()
    results = " ".join(m["text"] for m in simulator.messages(simulator.dm_channel("UFINN")))
    assert "6 responses" in results and "comment number 0" in results  # comments shown at 5, sorted

    # the archive: the results object written at close, and a year later the data lifecycle's own objects
    outlet = hearth.services.archive
    [key] = outlet.list("surveys/")
    assert not any(u in outlet.get(key).decode() for u in EVERYONE)
    lifecycle = FolderArchive(tmp_path / "lifecycle")
    Archiver(db, lifecycle).run(retention=retention(), now=utcnow() + timedelta(days=400))
    lines = [line for o in reader.objects(lifecycle) for line in reader.read_lines(lifecycle, o.key)]
    archived = [(line["r"]["question_id"], line["r"]["value"]) for line in lines if line["t"] == "survey_answer"]
    assert sorted(archived) == sorted(submitted) and archived != submitted  # all there, not in answering order
    assert all(set(line["r"]) == {"run_id", "question_id", "value", "labels"}
               for line in lines if line["t"] == "survey_answer")
    naming = [line for line in lines if any(u in json.dumps(line) for u in EVERYONE)]
    assert {line["t"] for line in naming} == {"outbox", "survey_run"}  # who was invited; who launched it
    assert {line["r"]["kind"] for line in naming if line["t"] == "outbox"} == {"survey.invite", "survey.results"}
    invites = [line["r"] for line in naming if line["t"] == "outbox" and line["r"]["kind"] == "survey.invite"]
    assert len(invites) == 6 and len({json.dumps(r["payload"]) for r in invites}) == 1  # the same for everyone
    assert_logs_carry_no_user_ids(caplog.records, EVERYONE)


def test_app_home_shows_admins_the_trend_and_members_nothing(driver, simulator, hearth, slack, deliver):
    for pattern in ([4] * 8, [5] * 8):  # two runs of the same survey for #circle: the second moves the index
        started = launch(hearth, slack, CIRCLE, k=3)
        for user in ("UALICE", "UBOB", "UDEV"):
            usecases.submit(hearth.services, TEAM, user, started.run_id,
                            {q: str(v) for q, v in zip(QUESTIONS, pattern, strict=True)})
        usecases.close(hearth.services, TEAM, started.run_id)
    small = launch(hearth, slack, CIRCLE, k=4)
    usecases.submit(hearth.services, TEAM, "UBOB", small.run_id, {q: "1" for q in QUESTIONS})
    usecases.close(hearth.services, TEAM, small.run_id)
    launch(hearth, slack, GENERAL, k=5)

    driver.app_home_opened("UALICE")
    assert wait_for(lambda: "admins only" in str((simulator.home("UALICE") or {}).get("blocks")))
    home = str(simulator.home("UALICE")["blocks"])
    assert "belonging index 100/100 (+0 since the previous run)" in home
    assert "fewer than 4 responses, so nothing is shown" in home and "open until" in home
    driver.app_home_opened("UBOB")
    assert wait_for(lambda: simulator.home("UBOB") is not None)
    member_home = str(simulator.home("UBOB")["blocks"])
    assert "admins only" not in member_home and "belonging index" not in member_home


def test_a_survey_that_shares_results_posts_them_in_its_channel_at_close(hearth, slack, simulator, deliver, tmp_path):
    source = usecases.load_survey("belonging")[1].replace("share_results: false", "share_results: true")
    survey = tmp_path / "shared.yml"
    survey.write_text(source)
    instrument, text_ = usecases.load_survey(str(survey))
    started = usecases.launch(hearth.services, slack, TEAM, instrument, text_, channel_id=CIRCLE,
                              closes=timedelta(days=3), min_responses=3)
    for user in ("UALICE", "UBOB", "UDEV"):
        usecases.submit(hearth.services, TEAM, user, started.run_id, {q: "4" for q in QUESTIONS})
    assert usecases.close(hearth.services, TEAM, started.run_id, slack).status == "closed"
    deliver()
    posted = [m["text"] for m in simulator.messages(CIRCLE)]
    assert any("3 responses" in t and "thank you" in t for t in posted)
    assert simulator.files(CIRCLE)


def test_an_admin_launches_a_survey_for_a_channel_with_slash_hearth(driver, simulator, hearth, deliver):
    driver.as_member("UBOB").command("/hearth", "survey belonging", channel=CIRCLE)
    assert wait_for(lambda: any("Only Hearth admins" in t for t in private_replies(simulator, "UBOB")))
    alice = driver.as_member("UALICE")
    alice.command("/hearth", "survey belonging forever", channel=CIRCLE)
    assert wait_for(lambda: any("`forever` is not a duration" in t for t in private_replies(simulator, "UALICE")))
    alice.command("/hearth", "survey belonging", channel=CIRCLE)  # the survey's own minimum (5) > 4 people
    assert wait_for(lambda: any("4 people" in t for t in private_replies(simulator, "UALICE")))
    resp = alice.command("/hearth", "survey belonging 3d min=3", channel=CIRCLE)
    assert resp.status == 200
    assert wait_for(lambda: any("4 invitations" in t for t in private_replies(simulator, "UALICE")))
    with hearth.services.db.session() as s:
        run = repo.open_run_for(s, TEAM, CIRCLE)
        assert run.launched_by == "UALICE" and run.min_responses == 3
        assert run.closes_at - run.opened_at == timedelta(days=3)
    deliver()
    assert simulator.messages(simulator.dm_channel("UBOB"))


def test_an_admin_launches_a_survey_for_the_whole_workspace_with_slash_hearth(driver, simulator, hearth, deliver):
    alice = driver.as_member("UALICE")
    alice.command("/hearth", "survey belonging workspace 3d", channel=simulator.dm_channel("UALICE") or "DALICE")
    assert wait_for(lambda: any("everyone in the workspace" in t and "6 invitations" in t
                                for t in private_replies(simulator, "UALICE")))
    with hearth.services.db.session() as s:
        run = repo.open_run_for(s, TEAM, None)
        assert run.audience == repo.Audience.WORKSPACE and run.launched_by == "UALICE" and run.min_responses == 5
    deliver()
    assert simulator.messages(simulator.dm_channel("UCARMEN"))  # not in #circle, but in the workspace
    alice.command("/hearth", "survey belonging", channel="DALICE")  # a channel's survey needs its channel
    assert wait_for(lambda: any("Usage:" in t and "workspace" in t for t in private_replies(simulator, "UALICE")))


def test_the_minimum_is_fixed_when_a_survey_opens(hearth, slack, tmp_path):
    """Editing the survey's file while it is open changes nothing for that run: its minimum (and questions)
    were fixed at launch, so nobody can lower the minimum to see a result, or raise it to hide one."""
    survey = tmp_path / "team.yml"
    source = usecases.load_survey("belonging")[1]
    survey.write_text(source.replace("  min_responses: 5 ", "  min_responses: 3 ", 1))
    instrument, text_ = usecases.load_survey(str(survey))
    started = usecases.launch(hearth.services, slack, TEAM, instrument, text_, channel_id=CIRCLE,
                              closes=timedelta(days=3))
    assert started.status == "launched", started.message
    survey.write_text(source.replace("  min_responses: 5 ", "  min_responses: 10", 1))
    for user in ("UALICE", "UBOB", "UDEV"):
        usecases.submit(hearth.services, TEAM, user, started.run_id, {q: "4" for q in QUESTIONS})
    closed = usecases.close(hearth.services, TEAM, started.run_id)
    assert closed.results.minimum == 3 and closed.results.result is not None
    assert closed.results.result.respondents == 3
