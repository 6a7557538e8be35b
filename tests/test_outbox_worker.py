"""The delivery worker against the in-memory fake port: every outcome of a row, on both databases."""

from datetime import UTC, datetime, timedelta

from slack_app.delivery.pacing import SlackLimits
from slack_app.delivery.worker import DeliveryWorker, WorkerOptions, delivered_key
from slack_app.fake_port import FakeSlackPort
from slack_app.simulator import wait_for
from slack_app.slack_port import HistoryPage, SlackError
from storage import outbox

FAST = WorkerOptions(threads=1, batch=10, poll_interval=0.01, max_wait=0.5, settle=0.05, backoff_base=0.02,
                     backoff_cap=0.1, max_attempts=4, limits=SlackLimits().scaled(100), send_lease=30)


def fake() -> FakeSlackPort:
    port = FakeSlackPort(team_id="T1")
    for u in ("UANA", "UBO", "UCY", "UDI"):
        port.add_user(u)
    port.add_user("UBOT2", is_bot=True)
    port.add_channel("CGEN", ["UANA", "UBO"])
    port.add_channel("COLD", ["UANA"], is_archived=True)
    return port


def enqueue(db, key, target, text="hello", team="T1", **payload):
    with db.session() as s:
        outbox.enqueue(s, team_id=team, kind="test", target=target, payload={"text": text, **payload},
                       dedupe_key=key)


def row(db, key, team="T1"):
    with db.session() as s:
        return outbox.find(s, team, key)


def worker(db, port, **opts):
    return DeliveryWorker(db, lambda team: port, worker_id="w-test",
                          options=WorkerOptions(**{**FAST.__dict__, **opts}))


def sk(db, key):
    """The opaque form of a dedupe key: what the row stores and Slack's message metadata carries."""
    with db.session() as s:
        return outbox.stored_key(s, key)


def posts(port, key=None):
    calls = port.calls("chat.postMessage")
    return [c for c in calls if key is None or (c["metadata"] or {}).get("event_payload", {}).get("key") == key]


def test_delivers_dms_and_channel_posts_with_their_key_and_records_channel_and_ts(db):
    port = fake()
    enqueue(db, "dm:UANA", "UANA", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}])
    enqueue(db, "chan", "CGEN")
    stats = worker(db, port).drain(10)
    assert stats["sent"] == 2 and stats["failed"] == 0
    dm, chan = row(db, "dm:UANA"), row(db, "chan")
    assert (dm.status, dm.sent_channel) == ("sent", "DANA") and dm.sent_ts
    assert (chan.status, chan.sent_channel) == ("sent", "CGEN")
    assert posts(port, sk(db, "dm:UANA"))[0]["metadata"] == {"event_type": "hearth_delivery",
                                                     "event_payload": {"key": sk(db, "dm:UANA")}}
    assert posts(port, sk(db, "dm:UANA"))[0]["blocks"][0]["type"] == "section"
    assert worker(db, port).drain(5)["sent"] == 0 and len(posts(port)) == 2


def test_permanent_errors_fail_at_once_for_admins_to_see(db):
    port = fake()
    enqueue(db, "a", "UNOBODY")
    enqueue(db, "b", "UBOT2")
    enqueue(db, "c", "COLD")
    stats = worker(db, port).drain(10)
    assert stats["failed"] == 3 and stats["retried"] == 0
    assert [(row(db, k).status, row(db, k).last_error, row(db, k).attempts) for k in "abc"] == [
        ("failed", "user_not_found", 0), ("failed", "cannot_dm_bot", 0), ("failed", "is_archived", 0)]
    assert len(posts(port)) == 3
    with db.session() as s:
        assert outbox.status(s).failed_by_error == {"user_not_found": 1, "cannot_dm_bot": 1, "is_archived": 1}


def test_a_transient_error_is_retried_with_backoff(db):
    port = fake()
    port.fail_next("chat.postMessage", "service_unavailable", status=503)
    enqueue(db, "k", "UANA")
    stats = worker(db, port).drain(10)
    r = row(db, "k")
    assert (r.status, r.attempts, stats["retried"], stats["sent"]) == ("sent", 1, 1, 1)
    assert len(posts(port)) == 2


def test_rate_limited_waits_for_retry_after_without_using_an_attempt(db):
    port = fake()
    port.fail_next("chat.postMessage", "ratelimited", status=429, retry_after=0.3)
    enqueue(db, "k", "UANA")
    w = worker(db, port)
    started = datetime.now(UTC)
    stats = w.drain(10)
    r = row(db, "k")
    assert (r.status, r.attempts, stats["rate_limited"]) == ("sent", 0, 1)
    calls = posts(port)
    assert len(calls) == 2
    assert r.sent_at - started >= timedelta(seconds=0.3)


def test_a_lost_answer_is_reconciled_from_history_not_resent(db):
    port = fake()
    port.fail_next("chat.postMessage", "RemoteDisconnected", after_call=True)  # posted, answer lost
    enqueue(db, "k", "UANA")
    stats = worker(db, port).drain(10)
    r = row(db, "k")
    assert (r.status, stats["reconciled"], stats["resent"]) == ("sent", 1, 0)
    assert len(posts(port)) == 1  # never twice
    assert r.sent_ts == port.messages["DANA"][0]["ts"] and r.sent_channel == "DANA"
    assert port.calls("conversations.open") == [{"users": ["UANA"]}]
    assert port.calls("conversations.history")[0]["channel"] == "DANA"


def test_an_uncertain_failure_that_did_not_deliver_is_sent_once_after_checking(db):
    port = fake()
    port.fail_next("chat.postMessage", "internal_error", status=500)
    enqueue(db, "k", "CGEN")
    stats = worker(db, port).drain(10)
    assert (row(db, "k").status, stats["reconciled"], stats["resent"]) == ("sent", 0, 1)
    assert len(port.calls("conversations.history")) == 1 and not port.calls("conversations.open")
    assert len(port.messages["CGEN"]) == 1


def crash_while_sending(db, key):
    """A worker marked the row `sending` (committed) and died before recording the outcome."""
    past = datetime.now(UTC) - timedelta(minutes=5)
    with db.session() as s:
        (r,) = outbox.claim(s, worker_id="dead", limit=1, lease=60)
        assert r.dedupe_key == sk(db, key)
        assert outbox.begin_send(s, r.id, "dead", lease=60, now=past)  # a lease that has run out


def test_after_a_crash_between_sending_and_recording_a_delivered_row_is_not_resent(db):
    port = fake()
    enqueue(db, "k", "UANA")
    crash_while_sending(db, "k")
    posted = port.post_message("UANA", "hello", metadata={"event_type": "hearth_delivery",
                                                          "event_payload": {"key": sk(db, "k")}})  # it got through
    stats = worker(db, port).drain(10)
    r = row(db, "k")
    assert (r.status, r.sent_ts, stats["reconciled"]) == ("sent", posted.ts, 1)
    assert len(posts(port)) == 1


def test_after_a_crash_before_the_call_reached_slack_the_row_is_sent_once(db):
    port = fake()
    enqueue(db, "k", "UANA")
    enqueue(db, "other", "UANA")
    port.post_message("UANA", "unrelated", metadata={"event_type": "hearth_delivery",
                                                     "event_payload": {"key": "other"}})
    crash_while_sending(db, "k")
    stats = worker(db, port).drain(10)
    assert row(db, "k").status == "sent" and stats["resent"] == 1
    assert len(posts(port, sk(db, "k"))) == 1


def test_threads_wait_for_their_parent_and_updates_edit_it(db):
    port = fake()
    enqueue(db, "reply", "CGEN", thread_of="root")
    enqueue(db, "edit", "CGEN", text="edited", update_of="root")
    enqueue(db, "root", "UANA")
    stats = worker(db, port).drain(10)
    root, reply, edit = row(db, "root"), row(db, "reply"), row(db, "edit")
    assert {root.status, reply.status, edit.status} == {"sent"}
    post_reply = posts(port, sk(db, "reply"))[0]
    assert (post_reply["channel"], post_reply["thread_ts"]) == ("DANA", root.sent_ts)
    assert port.calls("chat.update") == [{"channel": "DANA", "ts": root.sent_ts, "text": "edited", "blocks": None}]
    assert (edit.sent_channel, edit.sent_ts) == ("DANA", root.sent_ts)
    assert stats["deferred"] >= 1


def test_a_backlog_for_one_channel_waits_in_line_rather_than_all_waking_at_each_free_slot(db):
    """Thirty posts to one channel, paced 20 a second: each is deferred about once, to a slot of its own.
    (When every deferred row woke at the channel's next free slot, all but one were deferred again, each second,
    for as long as the backlog lasted: hundreds of deferrals here, in the process that acks.)"""
    from slack_app.delivery.pacing import SlackLimits
    from storage.gcra import Rate

    port = fake()
    for i in range(30):
        enqueue(db, f"post{i:02d}", "CGEN", text=f"post {i}")
    limits = SlackLimits(post_per_channel=Rate(20, 1.0), post_workspace=Rate(6000, 60.0, burst=4))
    sending = worker(db, port, limits=limits, max_wait=0.05, threads=4, batch=8).start()  # as `hearth serve` runs
    try:
        assert wait_for(lambda: sending.stats.snapshot()["sent"] == 30, timeout=20), sending.stats.snapshot()
    finally:
        sending.stop()
    stats = sending.stats.snapshot()
    assert stats["failed"] == 0 and stats["deferred"] <= 45, stats  # was about 300
    assert sorted(c["text"] for c in posts(port)) == sorted(f"post {i}" for i in range(30))  # each once


def test_a_backlog_for_the_whole_workspace_waits_in_line_too(db):
    """Forty DMs to forty people, the workspace paced 20 a second: the loops that claimed them, refused, defer
    each to a slot of its own, not all to the workspace's next free one (a round's invitations)."""
    from slack_app.delivery.pacing import SlackLimits
    from storage.gcra import Rate

    port = fake()
    people = [f"UP{i:02d}" for i in range(40)]
    for user in people:
        port.add_user(user)
        enqueue(db, f"dm:{user}", user)
    limits = SlackLimits(post_per_channel=Rate(100, 1.0), post_workspace=Rate(1200, 60.0, burst=1))
    sending = worker(db, port, limits=limits, max_wait=0.05, threads=4, batch=8).start()
    try:
        assert wait_for(lambda: sending.stats.snapshot()["sent"] == 40, timeout=20), sending.stats.snapshot()
    finally:
        sending.stop()
    stats = sending.stats.snapshot()
    assert stats["failed"] == 0 and stats["deferred"] <= 60, stats
    assert len(posts(port)) == 40


def test_a_failed_parent_fails_its_replies(db):
    port = fake()
    enqueue(db, "root", "UNOBODY")
    enqueue(db, "reply", "CGEN", thread_of="root")
    enqueue(db, "orphan", "CGEN", thread_of="never-enqueued")
    worker(db, port).drain(10)
    assert row(db, "reply").last_error == "parent_failed"
    assert row(db, "orphan").last_error == "parent_missing"


def test_a_reply_lost_in_flight_is_reconciled_in_its_thread(db):
    port = fake()
    enqueue(db, "root", "CGEN")
    worker(db, port).drain(10)
    enqueue(db, "reply", "CGEN", thread_of="root")
    port.fail_next("chat.postMessage", "TimeoutError", after_call=True)
    stats = worker(db, port).drain(10)
    assert row(db, "reply").status == "sent" and stats["reconciled"] == 1
    assert port.calls("conversations.replies")[0]["ts"] == row(db, "root").sent_ts
    assert len(posts(port, sk(db, "reply"))) == 1


def test_group_dms_are_opened_first_and_remembered(db):
    port = fake()
    with db.session() as s:
        outbox.enqueue(s, team_id="T1", kind="buddy.intro", target=["UCY", "UANA", "UBO"],
                       payload={"text": "meet"}, dedupe_key="g")
    worker(db, port).drain(10)
    r = row(db, "g")
    assert port.calls("conversations.open") == [{"users": ["UANA", "UBO", "UCY"]}]
    assert r.status == "sent" and r.sent_channel.startswith("G") and posts(port)[0]["channel"] == r.sent_channel


def test_attempts_run_out_into_failed(db):
    class Unreachable(FakeSlackPort):
        def post_message(self, channel, text, blocks=None, *, thread_ts=None, metadata=None):
            self._record("chat.postMessage", channel=channel)
            raise SlackError("chat.postMessage", "ConnectionRefusedError")

    port = Unreachable(team_id="T1")
    enqueue(db, "k", "UANA")
    stats = worker(db, port, max_attempts=3).drain(10)
    r = row(db, "k")
    assert (r.status, r.last_error, r.attempts) == ("failed", "ConnectionRefusedError", 3)
    assert (stats["retried"], stats["failed"], len(port.calls("chat.postMessage"))) == (2, 1, 3)


def test_a_team_without_a_token_fails_its_rows(db):
    enqueue(db, "k", "UANA", team="TGONE")

    def ports(team):
        raise LookupError(team)

    stats = DeliveryWorker(db, ports, options=FAST).drain(5)
    assert stats["failed"] == 1 and row(db, "k", team="TGONE").last_error == "not_installed"


def test_too_much_history_to_be_sure_fails_unverified_rather_than_risk_a_duplicate(db):
    class Busy(FakeSlackPort):
        def history(self, channel, *, oldest=None, limit=200, cursor=None):
            self._record("conversations.history", channel=channel)
            return HistoryPage([], next_cursor="more")

    port = Busy(team_id="T1")
    port.add_channel("CGEN", [])
    enqueue(db, "k", "CGEN")
    crash_while_sending(db, "k")
    stats = worker(db, port, history_pages=3).drain(10)
    assert row(db, "k").last_error == "unverified" and stats["failed"] == 1
    assert len(port.calls("conversations.history")) == 3 and not posts(port)


def test_history_errors_while_reconciling_keep_the_row_uncertain(db):
    port = fake()
    enqueue(db, "k", "CGEN")
    crash_while_sending(db, "k")
    port.fail_next("conversations.history", "internal_error", status=500)
    stats = worker(db, port).drain(10)
    assert row(db, "k").status == "sent" and stats["retried"] == 1 and stats["resent"] == 1
    assert len(posts(port)) == 1


def test_delivered_key_reads_only_hearth_metadata():
    from slack_app.slack_port import HistoryMessage

    assert delivered_key(HistoryMessage("1.0", {"event_type": "hearth_delivery", "event_payload": {"key": "k"}})) == "k"
    assert delivered_key(HistoryMessage("1.0", {"event_type": "other", "event_payload": {"key": "k"}})) is None
    assert delivered_key(HistoryMessage("1.0", None)) is None


def test_a_stopping_worker_gives_its_claimed_rows_back(db):
    port = fake()
    for i in range(5):
        enqueue(db, f"k{i}", "UANA")
    w = worker(db, port, threads=1)
    w._threads = [object()]  # as if started
    w._stop.set()
    assert w.run_once() == 5
    with db.session() as s:
        assert outbox.claim(s, worker_id="other", limit=10, lease=30) and not posts(port)


def test_slack_error_carries_retry_after():
    assert SlackError("chat.postMessage", "ratelimited", 429, 3.0).retry_after == 3.0
    assert SlackError("chat.postMessage", "x").retry_after is None
