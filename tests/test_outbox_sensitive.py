"""Sensitive messages and what the outbox keeps at rest, read as the adversary would: a dump of every table.

Real database (SQLite, or PostgreSQL with HEARTH_TEST_DATABASE_URL), the real delivery worker, and the Slack
simulator over HTTP."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData, select

from slack_app.delivery.pacing import SlackLimits
from slack_app.delivery.ports import single_workspace
from slack_app.delivery.worker import DeliveryWorker, WorkerOptions
from slack_app.housekeeping.jobs import ACTION as HOUSEKEEPING
from slack_app.scheduling.registry import JobBook, JobContext
from slack_app.simulator import SlackSimulator, demo_workspace
from slack_app.workflows import WORKFLOWS
from storage import outbox

TEAM = "T0HEARTH"
PEOPLE = ("UALICE", "UBOB", "UCARMEN", "UDEV", "UEMI", "UFINN", "UGONE")
FAST = dict(threads=1, batch=10, poll_interval=0.02, max_wait=2.0, settle=0.1, backoff_base=0.05, backoff_cap=0.2)


def dump(db) -> str:
    """Every row of every table (Alembic's included), as text."""
    meta = MetaData()
    meta.reflect(db.engine)
    with db.engine.connect() as conn:
        return "\n".join(f"{t.name}: {tuple(row)}" for t in meta.sorted_tables for row in conn.execute(select(t)))


def worker(db, sim):
    options = WorkerOptions(**FAST, limits=SlackLimits().scaled(100))
    return DeliveryWorker(db, single_workspace(sim.bot_token, sim.base_url), worker_id="w-sensitive", options=options)


def test_a_sensitive_send_leaves_no_user_id_anywhere_in_the_database(db):
    with SlackSimulator(demo_workspace(), rate_limits=False) as sim:
        with db.session() as s:
            assert outbox.enqueue_sensitive(s, team_id=TEAM, kind="survey.invite", recipient="UALICE",
                                            payload={"text": "Your anonymous survey is open"},
                                            dedupe_key=outbox.key("survey", 1, "UALICE", "invite"))
            assert outbox.enqueue_sensitive(s, team_id=TEAM, kind="report.relay", recipient=["UCARMEN", "UBOB"],
                                            payload={"text": "A question about your report"},
                                            dedupe_key=outbox.key("report", 9, "UBOB", "relay"))
            assert not outbox.enqueue_sensitive(s, team_id=TEAM, kind="survey.invite", recipient="UALICE",
                                                payload={"text": "again"},
                                                dedupe_key=outbox.key("survey", 1, "UALICE", "invite"))
        queued = dump(db)
        assert "outbox" in queued and not [u for u in PEOPLE if u in queued], queued  # waiting: sealed, hashed
        assert "anonymous survey" not in queued and "report" not in queued.replace("report.relay", "")

        stats = worker(db, sim).drain(20)

        assert stats["sent"] == 2 and stats["failed"] == 0
        posts = {c.params["text"]: c for c in sim.calls_for("chat.postMessage") if c.ok}
        assert posts["Your anonymous survey is open"].params["channel"] == "UALICE"  # delivered to the right people
        (opened,) = [c for c in sim.calls_for("conversations.open") if c.ok]
        assert set(opened.params["users"].split(",")) == {"UBOB", "UCARMEN"}
        for call in posts.values():  # Slack's message metadata carries an opaque key, no user id
            key = call.params["metadata"]["event_payload"]["key"]
            assert not [u for u in PEOPLE if u in key] and "survey" not in key and "report" not in key

        delivered = dump(db)
        assert not [u for u in PEOPLE if u in delivered], delivered  # no trace of who received what
        with db.session() as s:
            assert outbox.rows(s) == []  # the rows are gone once Slack confirmed delivery
            assert outbox.find(s, TEAM, outbox.key("survey", 1, "UALICE", "invite")) is None


def test_a_failed_sensitive_message_keeps_its_recipient_sealed_and_is_deleted_after_the_retention(db):
    with SlackSimulator(demo_workspace(), rate_limits=False) as sim:
        with db.session() as s:
            outbox.enqueue_sensitive(s, team_id=TEAM, kind="report.relay", recipient="UNOBODY",
                                     payload={"text": "words"}, dedupe_key="r")
        assert worker(db, sim).drain(20)["failed"] == 1
    text = dump(db)
    assert "UNOBODY" not in text and "user_not_found" in text  # admins see why, not whom
    with db.session() as s:
        (row,) = outbox.failed(s)
        assert (row.target, row.payload, row.sensitive) == ("UNOBODY", {"text": "words"}, True)
        assert outbox.expire_failed(s, older_than=timedelta(days=14)) == 0  # not yet
        assert outbox.expire_failed(s, older_than=timedelta(days=14), now=datetime.now(UTC) + timedelta(days=15)) == 1
        assert outbox.rows(s) == []


def test_housekeeping_erases_the_words_of_messages_failed_longer_than_the_retention(db):
    now = datetime.now(UTC)
    with db.session() as s:
        for key in ("old", "recent"):
            outbox.enqueue(s, team_id=TEAM, kind="checkin.prompt", target="UBOB", payload={"text": f"{key} words"},
                           dedupe_key=key)
        outbox.enqueue(s, team_id=TEAM, kind="checkin.prompt", target="UDEV", payload={"text": "p"}, dedupe_key="p")
        claimed = {r.payload["text"]: r for r in outbox.claim(s, worker_id="w", limit=10, lease=60)}
        assert outbox.mark_failed(s, claimed["old words"].id, "w", "user_not_found", now=now - timedelta(days=15))
        assert outbox.mark_failed(s, claimed["recent words"].id, "w", "user_not_found", now=now - timedelta(days=13))
        outbox.release(s, claimed["p"].id, "w", at=now - timedelta(days=30))

    result = JobBook(w.jobs for w in WORKFLOWS).action(HOUSEKEEPING)(JobContext(db=db, params={}))

    assert result["failed_messages_erased"] == 1
    with db.session() as s:
        by_text = {r.payload.get("text"): r for r in outbox.rows(s)}
        assert set(by_text) == {None, "recent words", "p"}  # a pending row is never touched
        erased = by_text[None]
        assert (erased.status, erased.last_error, erased.kind, erased.target) == (
            "failed", "user_not_found", "checkin.prompt", "UBOB")  # what admins need stays
        assert outbox.failed_ids(s) == [by_text["recent words"].id]  # only words still kept can be retried
        assert outbox.retry_failed(s, [erased.id]) == 0


def test_a_sensitive_message_goes_to_people_not_channels(db):
    with db.session() as s, pytest.raises(ValueError, match="user ids"):
        outbox.enqueue_sensitive(s, team_id=TEAM, kind="x", recipient="CGENERAL", payload={"text": "t"},
                                 dedupe_key="k")


def test_what_waits_in_the_outbox_is_sealed_and_its_key_opaque(db):
    with db.session() as s:
        outbox.enqueue(s, team_id=TEAM, kind="checkin.share", target="CCIRCLE",
                       payload={"text": "Alice is grateful for green tea"},
                       dedupe_key=outbox.key("checkin", 3, "UALICE", "share"))
        outbox.enqueue(s, team_id=TEAM, kind="checkin.share", target="CCIRCLE", payload={"text": "reply"},
                       dedupe_key="reply", not_before=None)
    text = dump(db)
    assert "green tea" not in text and "UALICE" not in text and "checkin:3" not in text
    with db.session() as s:
        assert outbox.find(s, TEAM, "checkin:3:UALICE:share").payload["text"] == "Alice is grateful for green tea"


def test_only_the_lease_holder_deletes_a_delivered_sensitive_row(db):
    with db.session() as s:
        outbox.enqueue_sensitive(s, team_id=TEAM, kind="x", recipient="UALICE", payload={"text": "t"}, dedupe_key="k")
        (row,) = outbox.claim(s, worker_id="A", limit=1, lease=30)
        assert row.sensitive and row.target == "UALICE"
        assert outbox.begin_send(s, row.id, "A", lease=30)
        assert not outbox.mark_sent(s, row.id, "B", channel="D1", ts="1.1", sensitive=True)
        assert not outbox.mark_sent(s, row.id, "B", channel="D1", ts="1.1")
        assert len(outbox.rows(s)) == 1
        assert outbox.mark_sent(s, row.id, "A", channel="D1", ts="1.1", sensitive=True)
        assert outbox.rows(s) == []
