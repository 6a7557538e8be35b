"""The outbox and rate buckets in the database (runs on SQLite and on PostgreSQL)."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, inspect, select

from storage import gcra as pacing
from storage import outbox, ratelimit
from storage.gcra import Rate
from storage.models import Member, OutboxMessage
from tests.conftest import PG_URL

UTC = UTC


def put(db, n=1, team="T1", kind="test", prefix="k", **extra):
    with db.session() as s:
        outbox.enqueue_many(s, [dict(team_id=team, kind=kind, target=f"U{i}", payload={"text": "hi"},
                                     dedupe_key=f"{prefix}{i}", **extra) for i in range(n)])


def test_migration_creates_the_delivery_tables(db):
    assert {"outbox", "rate_bucket", "job_run", "apscheduler_jobs"} <= set(inspect(db.engine).get_table_names())


def test_enqueue_commits_and_rolls_back_with_the_state_change(db):
    with db.session() as s:
        s.add(Member(team_id="T1", user_id="U1"))
        outbox.enqueue(s, team_id="T1", kind="welcome", target="U1", payload={"text": "hi"},
                       dedupe_key=outbox.key("welcome", "U1"))
    with pytest.raises(RuntimeError):
        with db.session() as s:
            s.add(Member(team_id="T1", user_id="U2"))
            outbox.enqueue(s, team_id="T1", kind="welcome", target="U2", payload={"text": "hi"},
                           dedupe_key=outbox.key("welcome", "U2"))
            raise RuntimeError("the use case failed")
    with db.session() as s:
        keys = s.scalars(select(OutboxMessage.dedupe_key)).all()
        row = outbox.find(s, "T1", "welcome:U1")
    assert keys == [outbox.stored_key(s, "welcome:U1")]  # stored as an opaque hash
    assert row.status == outbox.PENDING and row.attempts == 0 and row.created_at.tzinfo is not None


def test_exists_tells_a_queued_key_without_opening_its_message(db, monkeypatch):
    with db.session() as s:
        outbox.enqueue(s, team_id="T1", kind="x", target="C1", payload={"text": "words"}, dedupe_key="k1")

    def opened(*_args):
        raise AssertionError("a message was decrypted")

    monkeypatch.setattr(outbox, "_open_payload", opened)
    with db.session() as s:
        assert outbox.exists(s, "T1", "k1")
        assert not outbox.exists(s, "T1", "k2") and not outbox.exists(s, "T2", "k1")
        with pytest.raises(AssertionError):
            outbox.find(s, "T1", "k1")  # find reads the message


def sk(db, key):
    with db.session() as s:
        return outbox.stored_key(s, key)


def test_with_no_key_in_clear_left_an_enqueue_is_its_insert_and_a_reply_names_its_parent_opaquely(db):
    from sqlalchemy import event

    with db.session() as s:  # a database made at 0005 or later: no key was ever written in clear
        outbox.enqueue(s, team_id="T1", kind="x", target="C1", payload={"text": "parent"}, dedupe_key="parent")
    parent = sk(db, "parent")  # (the opaque-key secret is read back and kept from here on)
    statements = []

    def seen(_conn, _cursor, sql, *_):
        statements.append(sql)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.session() as s:
            outbox.enqueue(s, team_id="T1", kind="x", target="C1", payload={"text": "r", "thread_of": "parent"},
                           dedupe_key="reply")
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert [q.split()[0] for q in statements] == ["INSERT"]  # no look-up of keys written in clear
    with db.session() as s:
        assert outbox.find(s, "T1", "reply").payload["thread_of"] == parent


def test_a_known_dedupe_key_is_ignored_per_team(db):
    with db.session() as s:
        args = dict(kind="x", target="U1", payload={"text": "a"}, dedupe_key="same")
        outbox.enqueue(s, team_id="T1", **args)
        outbox.enqueue(s, team_id="T1", **{**args, "payload": {"text": "b"}})
        outbox.enqueue(s, team_id="T2", **args)
    with db.session() as s:
        assert outbox.enqueue_many(s, [dict(team_id="T1", kind="x", target="U1", payload={"text": "c"},
                                            dedupe_key=k) for k in ("same", "new")]) == 1
        rows = s.execute(select(OutboxMessage.team_id, OutboxMessage.payload)
                         .order_by(OutboxMessage.id)).all()
    assert [(t, json.loads(db.crypto.decrypt(p))["text"]) for t, p in rows] == [("T1", "a"), ("T2", "a"), ("T1", "c")]


def test_group_dm_targets_are_normalised_and_inputs_validated(db):
    with db.session() as s:
        outbox.enqueue(s, team_id="T1", kind="buddy", target=["U3", "U1", "U2"], payload={"text": "hi"},
                       dedupe_key="g")
        assert outbox.find(s, "T1", "g").target == "U1,U2,U3"
        bad = [
            dict(target=[f"U{i}" for i in range(9)]),
            dict(target=""),
            dict(payload={"blocks": []}),
            dict(payload={"text": "x", "thread_of": "a", "update_of": "b"}),
            dict(dedupe_key="x" * 201),
            dict(not_before=datetime(2030, 1, 1)),
        ]
        for override in bad:
            args = dict(team_id="T1", kind="k", target="U1", payload={"text": "hi"}, dedupe_key="d") | override
            with pytest.raises(ValueError):
                outbox.enqueue(s, **args)


def test_claims_lease_rows_once_until_the_lease_ends(db):
    put(db, 5)
    now = datetime.now(UTC)
    with db.session() as s:
        first = outbox.claim(s, worker_id="A", limit=3, lease=30, now=now)
        second = outbox.claim(s, worker_id="B", limit=10, lease=30, now=now)
        third = outbox.claim(s, worker_id="C", limit=10, lease=30, now=now)
    assert [r.dedupe_key for r in first] == [sk(db, k) for k in ("k0", "k1", "k2")]
    assert [r.dedupe_key for r in second] == [sk(db, k) for k in ("k3", "k4")] and third == []
    assert all(r.lease_owner == "A" for r in first)
    with db.session() as s:
        later = outbox.claim(s, worker_id="C", limit=10, lease=30, now=now + timedelta(seconds=31))
    assert len(later) == 5 and {r.lease_owner for r in later} == {"C"}


def test_claims_skip_rows_not_yet_due_and_held_back_teams(db):
    put(db, 2, team="T1")
    put(db, 1, team="T2", prefix="t2")
    put(db, 1, team="T1", prefix="later", not_before=datetime.now(UTC) + timedelta(hours=1))
    with db.session() as s:
        rows = outbox.claim(s, worker_id="A", limit=10, lease=30, exclude_teams=["T2"])
    assert sorted(r.dedupe_key for r in rows) == sorted(sk(db, k) for k in ("k0", "k1"))


def test_state_changes_are_fenced_by_the_lease(db):
    put(db, 1)
    now = datetime.now(UTC)
    with db.session() as s:
        (row,) = outbox.claim(s, worker_id="A", limit=1, lease=30, now=now)
    with db.session() as s:
        assert not outbox.begin_send(s, row.id, "B", lease=60)
        assert outbox.begin_send(s, row.id, "A", lease=60, now=now)
    with db.session() as s:  # while `sending` with a live lease, nobody can claim it
        assert outbox.claim(s, worker_id="B", limit=5, lease=30, now=now + timedelta(seconds=59)) == []
        assert not outbox.mark_sent(s, row.id, "B", channel="D1", ts="1.1")
        assert outbox.mark_sent(s, row.id, "A", channel="D1", ts="1.1")
        assert not outbox.mark_sent(s, row.id, "A", channel="D1", ts="1.2")
        sent = outbox.find(s, "T1", "k0")
    assert (sent.status, sent.sent_channel, sent.sent_ts, sent.lease_owner) == ("sent", "D1", "1.1", None)
    assert sent.sent_at is not None
    assert sent.payload == {}  # the words live in Slack now, not in a second unencrypted copy


def test_an_expired_sending_row_is_claimed_again_for_reconciliation(db):
    put(db, 1)
    now = datetime.now(UTC)
    with db.session() as s:
        (row,) = outbox.claim(s, worker_id="A", limit=1, lease=30, now=now)
        outbox.begin_send(s, row.id, "A", lease=60, now=now)
    with db.session() as s:  # worker A died: after its lease, B claims the row, still `sending`
        (again,) = outbox.claim(s, worker_id="B", limit=1, lease=30, now=now + timedelta(seconds=61))
    assert (again.id, again.status, again.lease_owner) == (row.id, "sending", "B")
    with db.session() as s:
        assert not outbox.mark_sent(s, row.id, "A", channel="D1", ts="1.1")  # the dead worker is fenced out


def test_release_retries_later_or_leaves_an_uncertain_row_to_reconcile(db):
    put(db, 2)
    now = datetime.now(UTC)
    with db.session() as s:
        a, b = outbox.claim(s, worker_id="A", limit=2, lease=30, now=now)
        assert outbox.release(s, a.id, "A", at=now + timedelta(seconds=5), error="service_unavailable",
                              attempts_used=1)
        assert outbox.release(s, b.id, "A", at=now + timedelta(seconds=10), error="internal_error",
                              attempts_used=1, uncertain=True)
    with db.session() as s:
        ra, rb = outbox.find(s, "T1", "k0"), outbox.find(s, "T1", "k1")
        assert (ra.status, ra.attempts, ra.last_error, ra.lease_owner) == ("pending", 1, "service_unavailable", None)
        assert (rb.status, rb.attempts, rb.last_error) == ("sending", 1, "internal_error")
        assert outbox.next_due(s) == ra.next_attempt_at
        assert outbox.claim(s, worker_id="B", limit=5, lease=30, now=now + timedelta(seconds=4)) == []
        assert sorted(r.id for r in outbox.claim(s, worker_id="B", limit=5, lease=30,
                                                 now=now + timedelta(seconds=11))) == [a.id, b.id]


def test_status_failed_rows_and_retry(db):
    put(db, 4)
    with db.session() as s:
        rows = outbox.claim(s, worker_id="A", limit=4, lease=30)
        outbox.mark_failed(s, rows[0].id, "A", "user_not_found")
        outbox.mark_failed(s, rows[1].id, "A", "user_not_found")
        outbox.mark_failed(s, rows[2].id, "A", "is_archived")
    with db.session() as s:
        st = outbox.status(s)
        assert st.counts == {"pending": 1, "sending": 0, "sent": 0, "failed": 3}
        assert st.failed_by_error == {"user_not_found": 2, "is_archived": 1}
        assert 0 <= st.oldest_pending_age() < 60
        assert [r.last_error for r in outbox.failed(s)] == ["is_archived", "user_not_found", "user_not_found"]
        ids = outbox.failed_ids(s, error="user_not_found")
        assert outbox.retry_failed(s, ids) == 2
    with db.session() as s:
        assert outbox.status(s).counts == {"pending": 3, "sending": 0, "sent": 0, "failed": 1}
        assert outbox.status(s, team_id="T9").counts["pending"] == 0
        assert outbox.unfinished(s) == 3


def test_database_buckets_run_the_pure_arithmetic(db):
    rate = Rate(60, 60.0, burst=2)
    tat = 0.0
    with db.session() as s:
        for i in range(6):
            now = 1000.0 + i * 0.25
            slot, _ready = ratelimit.reserve(s, "T1:chat.postMessage", rate, now=now, max_wait=1.0)
            expected = pacing.reserve(tat, now, rate, 1.0)
            if expected is None:
                assert slot is None
            else:
                assert slot == pytest.approx(expected.at)
                tat = expected.tat


def test_a_reservation_is_one_statement_for_a_new_key_too_and_a_refusal_two(db):
    """A fan-out reserves a new key for every DM's conversation: created with its first grant in the same
    statement (it took four: an UPDATE finding nothing, a look, an INSERT, the UPDATE again)."""
    rate = Rate(1, 1.0)
    seen: list[str] = []
    listen = lambda *args: seen.append(args[2].split()[0])  # noqa: E731  (the statement's verb)
    event.listen(db.engine, "before_cursor_execute", listen)
    try:
        with db.session() as s:
            asked = []
            for now in (1000.0, 1001.0, 1001.5):  # new; its next slot; a slot 0.5 s off, with no wait allowed
                seen.clear()
                asked.append((ratelimit.reserve(s, "T1:chat.postMessage:D1", rate, now=now)[0], list(seen)))
    finally:
        event.remove(db.engine, "before_cursor_execute", listen)
    assert asked == [(1000.0, ["INSERT"]), (1001.0, ["INSERT"]), (None, ["INSERT", "SELECT"])]


def test_a_hold_and_pruning(db):
    rate = Rate(600, 60.0)
    with db.session() as s:
        ratelimit.hold(s, "T1:chat.postMessage", 2000.0)
        slot, ready = ratelimit.reserve(s, "T1:chat.postMessage", rate, now=1990.0, max_wait=2.0)
        assert slot is None and ready == pytest.approx(1998.0)
        assert ratelimit.reserve(s, "T1:chat.postMessage", rate, now=1999.0, max_wait=2.0)[0] == 2000.0
        ratelimit.reserve(s, "T1:chat.postMessage:U1", rate, now=1000.0)
    with db.session() as s:
        assert ratelimit.prune(s, before=1500.0) == 1


PG = bool(PG_URL)


@pytest.mark.skipif(not PG, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_concurrent_claims_never_share_a_row_on_postgresql(db):
    put(db, 400)
    claimed: dict[str, list[int]] = {}
    barrier = threading.Barrier(8)

    def claimer(name):
        mine = claimed.setdefault(name, [])
        barrier.wait()
        while True:
            with db.session() as s:
                rows = outbox.claim(s, worker_id=name, limit=7, lease=60)
            if not rows:
                return
            mine.extend(r.id for r in rows)

    threads = [threading.Thread(target=claimer, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == len(set(every)) == 400
    assert sum(1 for ids in claimed.values() if ids) > 1


@pytest.mark.skipif(not PG, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_concurrent_reservations_share_one_bucket_on_postgresql(db):
    rate = Rate(10, 1.0)  # one slot per 0.1 s
    slots: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def reserver():
        barrier.wait()
        for _ in range(5):
            with db.session() as s:
                slot, _ = ratelimit.reserve(s, "T1:x", rate, now=5000.0, max_wait=10.0)
            with lock:
                slots.append(slot)

    threads = [threading.Thread(target=reserver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(round(x, 6) for x in slots) == [round(5000.0 + i * 0.1, 6) for i in range(30)]
