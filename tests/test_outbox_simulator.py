"""The delivery worker over real HTTP against the Slack simulator: every failure mode of issue 3.

429 bursts (Retry-After honoured), 5xx then success, permanent errors, a crash between sending and
recording (in-process and a `hearth worker` process killed with SIGKILL), two workers racing, and the
combined rate of two workers staying within Slack's limits. Duplicates are counted from what the
simulator received, by dedupe key.
"""

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from slack_app.delivery.pacing import SlackLimits
from slack_app.delivery.ports import single_workspace
from slack_app.delivery.worker import DeliveryWorker, WorkerOptions, delivery_metadata
from slack_app.simulator import SlackSimulator, User, demo_workspace
from slack_app.simulator.ratelimit import most_in_window
from slack_app.slack_port import WebApiPort, make_delivery_client
from storage import outbox

TEAM = "T0HEARTH"
FAST = dict(threads=2, batch=10, poll_interval=0.02, max_wait=2.0, settle=0.1, backoff_base=0.05, backoff_cap=0.2,
            send_lease=30)
# `hearth worker`, run with this interpreter so the test needs no console script on PATH
HEARTH_WORKER = "import sys; from slack_app.cli import main; sys.argv[0] = 'hearth'; main()"


def workspace(members=0):
    ws = demo_workspace()
    for i in range(members):
        ws.add_user(User(f"UM{i:05d}", f"member{i}", f"Member {i}"))
    return ws


def make_worker(db, sim, *, worker_id="w1", limits=None, **opts):
    options = WorkerOptions(**{**FAST, **opts, "limits": limits or SlackLimits().scaled(100)})
    return DeliveryWorker(db, single_workspace(sim.bot_token, sim.base_url), worker_id=worker_id, options=options)


_READABLE: dict[str, str] = {}  # stored (opaque) dedupe key -> the key a test enqueued


def sk(db, key):
    """The opaque form of `key`, as the outbox stores it and Slack's metadata carries it."""
    with db.session() as s:
        stored = outbox.stored_key(s, key)
    _READABLE[stored] = key
    return stored


def enqueue(db, items):
    for key, _target in items:
        sk(db, key)
    with db.session() as s:
        outbox.enqueue_many(s, [dict(team_id=TEAM, kind="test", target=target, payload={"text": "hello"},
                                     dedupe_key=key) for key, target in items])


def delivered(sim):
    """Dedupe keys of every message the simulator accepted (as enqueued: the metadata holds their hashes)."""
    keys = [c.params["metadata"]["event_payload"]["key"] for c in sim.calls_for("chat.postMessage")
            if c.ok and isinstance(c.params.get("metadata"), dict)]
    return Counter(_READABLE.get(k, k) for k in keys)


def status(db, key):
    with db.session() as s:
        return outbox.find(s, TEAM, key)


def test_permanent_errors_fail_once_each_and_are_visible(db):
    with SlackSimulator(workspace(), rate_limits=False) as sim:
        enqueue(db, [("gone", "UGONE"), ("bot", "UOTHERBOT"), ("nobody", "UNOBODY"), ("archived", "CARCHIVED"),
                     ("nobot", "CNOBOT"), ("ok", "UALICE")])
        stats = make_worker(db, sim).drain(20)
        errors = {k: (status(db, k).status, status(db, k).last_error) for k in
                  ("gone", "bot", "nobody", "archived", "nobot", "ok")}
        assert errors["ok"] == ("sent", None)
        assert {k: v for k, v in errors.items() if k != "ok"} == {
            "gone": ("failed", "account_inactive"), "bot": ("failed", "cannot_dm_bot"),
            "nobody": ("failed", "user_not_found"), "archived": ("failed", "is_archived"),
            "nobot": ("failed", "not_in_channel")}
        assert stats["failed"] == 5 and stats["retried"] == 0
        assert len(sim.calls_for("chat.postMessage")) == 6  # none retried


def test_5xx_then_success_is_checked_then_sent_exactly_once(db):
    with SlackSimulator(workspace(), rate_limits=False) as sim:
        sim.fail_next("chat.postMessage", status=503)
        sim.fail_next("chat.postMessage", error="internal_error")
        enqueue(db, [("a", "UALICE"), ("b", "CGENERAL")])
        stats = make_worker(db, sim, threads=1).drain(20)
        assert delivered(sim) == {"a": 1, "b": 1}
        assert stats["retried"] == 2 and stats["resent"] == 2 and stats["sent"] == 2
        assert {c.params["channel"] for c in sim.calls_for("conversations.history")} == {"DALICE", "CGENERAL"}
        a = status(db, "a")
        assert (a.status, a.sent_channel, a.attempts) == ("sent", "DALICE", 1)
        assert a.sent_ts == sim.messages("UALICE")[-1]["ts"]


def test_429_bursts_honour_retry_after_and_never_duplicate(db):
    # Hearth's own pacing set far above Slack's, so the simulator's per-channel limit answers 429s.
    with SlackSimulator(workspace(), rate_limits=True) as sim:
        enqueue(db, [(f"c{i}", "CGENERAL") for i in range(6)])
        sim.fail_next("chat.postMessage", status=429)  # and one injected burst on top
        stats = make_worker(db, sim, threads=3, limits=SlackLimits().scaled(1000)).drain(30)
        assert delivered(sim) == {f"c{i}": 1 for i in range(6)}
        calls = sim.calls_for("chat.postMessage")
        limited = [c for c in calls if c.status == 429]
        assert len(limited) >= 2 and stats["rate_limited"] == len(limited)
        for refused in limited:  # nothing was posted to the workspace within Retry-After (1 s) of a 429
            assert not [c for c in calls if refused.at < c.at < refused.at + 0.999]
        assert all(status(db, f"c{i}").attempts == 0 for i in range(6))


def test_pacing_keeps_a_burst_within_slacks_limits(db):
    with SlackSimulator(workspace(members=120), rate_limits=True, rate_scale=10) as sim:
        enqueue(db, [(f"m{i}", f"UM{i:05d}") for i in range(120)] + [(f"ch{i}", "CCIRCLE") for i in range(12)])
        stats = make_worker(db, sim, threads=4, limits=SlackLimits().scaled(10)).drain(60)
        assert [c for c in sim.calls if c.status == 429] == []
        assert set(delivered(sim).values()) == {1} and len(delivered(sim)) == 132
        assert stats["sent"] == 132
        circle = [c.at for c in sim.calls_for("chat.postMessage") if c.params["channel"] == "CCIRCLE"]
        # ~1/s per channel, scaled by 10: paced by grant time, so judged on spans and windows that tolerate the
        # few milliseconds each call spends in transit on a busy machine, not on each neighbouring pair.
        assert circle[-1] - circle[0] >= 0.1 * (len(circle) - 1) - 0.05
        assert most_in_window(circle, 0.5) <= 6


def test_a_crash_between_sending_and_recording_is_reconciled_not_resent(db):
    with SlackSimulator(workspace(), rate_limits=False) as sim:
        enqueue(db, [("delivered", "UALICE"), ("lost", "UBOB")])
        with db.session() as s:
            outbox.enqueue(s, team_id=TEAM, kind="test", target=["UCARMEN", "UDEV"], payload={"text": "hi"},
                           dedupe_key="group")
            rows = outbox.claim(s, worker_id="dead", limit=10, lease=60)
            past = datetime.now(UTC) - timedelta(minutes=5)
            for r in rows:
                outbox.begin_send(s, r.id, "dead", lease=60, now=past)
        # The dead worker's calls: "delivered" and "group" reached Slack, "lost" never did.
        port = WebApiPort(make_delivery_client(sim.bot_token, sim.base_url))
        port.post_message("UALICE", "hello", metadata=delivery_metadata(sk(db, "delivered")))
        group_channel = port.open_dm(["UCARMEN", "UDEV"])
        port.post_message(group_channel, "hi", metadata=delivery_metadata(sk(db, "group")))
        stats = make_worker(db, sim).drain(20)
        assert delivered(sim) == {"delivered": 1, "lost": 1, "group": 1}
        assert (stats["reconciled"], stats["resent"], stats["sent"]) == (2, 1, 1)
        assert status(db, "group").sent_channel == group_channel
        assert status(db, "delivered").sent_ts == sim.messages("UALICE")[-1]["ts"]


def test_two_workers_racing_send_every_row_once(db):
    with SlackSimulator(workspace(members=300), rate_limits=False) as sim:
        enqueue(db, [(f"m{i}", f"UM{i:05d}") for i in range(300)])
        a = make_worker(db, sim, worker_id="a", threads=4, batch=5).start()
        b = make_worker(db, sim, worker_id="b", threads=4, batch=5).start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                with db.session() as s:
                    if outbox.unfinished(s) == 0:
                        break
                time.sleep(0.05)
        finally:
            a.stop()
            b.stop()
        counts = delivered(sim)
        assert len(counts) == 300 and set(counts.values()) == {1}
        assert a.stats.sent > 0 and b.stats.sent > 0 and a.stats.sent + b.stats.sent == 300


def test_a_worker_killed_with_sigkill_and_restarted_neither_duplicates_nor_loses(db, database_url, db_key, tmp_path):
    n = 150
    with SlackSimulator(workspace(members=n), rate_limits=False) as sim:
        for _ in range(n):  # a slow Slack, so kills land mid-flight
            sim.delay_next("chat.postMessage", 0.01)
        enqueue(db, [(f"m{i}", f"UM{i:05d}") for i in range(n)])
        env = {**{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARTH_", "DATABASE_URL"))},
               "SLACK_BOT_TOKEN": sim.bot_token, "SLACK_API_URL": sim.base_url, "DATABASE_URL": database_url,
               "HEARTH_LOG_LEVEL": "WARNING", "ARCHIVE_URL": str(tmp_path / "archive"), "HEARTH_ENCRYPTION_KEY": db_key}
        rng = random.Random(3)
        kills = 0
        for _ in range(2):
            proc = subprocess.Popen([sys.executable, "-c", HEARTH_WORKER, "worker", "--no-scheduler", "--lease", "2",
                                     "--threads", "3"],
                                    env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            _wait_for_progress(sim, timeout=30)
            time.sleep(rng.uniform(0.05, 0.4))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            kills += 1
        with db.session() as s:
            assert outbox.unfinished(s) > 0  # the kills interrupted real work
        stats = make_worker(db, sim, worker_id="restarted", send_lease=2, claim_lease=2).drain(60)
        counts = delivered(sim)
        assert kills == 2 and len(counts) == n and set(counts.values()) == {1}, counts.most_common(3)
        with db.session() as s:
            assert outbox.status(s).counts["sent"] == n
        assert stats["sent"] + stats["reconciled"] > 0


def _wait_for_progress(sim, timeout):
    before = len(sim.calls_for("chat.postMessage"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(sim.calls_for("chat.postMessage")) > before:
            return
        time.sleep(0.02)
    raise AssertionError("the worker process sent nothing")


@pytest.mark.parametrize("method", ["conversations.history"])
def test_reconciliation_is_paced_and_survives_its_own_429(db, method):
    with SlackSimulator(workspace(), rate_limits=False) as sim:
        enqueue(db, [("k", "CGENERAL")])
        with db.session() as s:
            (r,) = outbox.claim(s, worker_id="dead", limit=1, lease=60)
            outbox.begin_send(s, r.id, "dead", lease=60, now=datetime.now(UTC) - timedelta(minutes=5))
        sim.fail_next(method, status=429)
        stats = make_worker(db, sim).drain(20)
        assert delivered(sim) == {"k": 1} and stats["rate_limited"] == 1
        history = sim.calls_for(method)
        assert len(history) == 2 and history[1].at - history[0].at >= 0.999


def test_the_delivery_client_reports_retry_after_and_reads_history_metadata():
    from slack_app.slack_port import SlackError

    with SlackSimulator(workspace(), rate_limits=False) as sim:
        port = WebApiPort(make_delivery_client(sim.bot_token, sim.base_url))
        sim.fail_next("chat.postMessage", status=429)
        with pytest.raises(SlackError) as info:
            port.post_message("CGENERAL", "hi")
        assert (info.value.status, info.value.error, info.value.retry_after) == (429, "ratelimited", 1.0)
        assert len(sim.calls_for("chat.postMessage")) == 1  # the delivery client never retried by itself
        for i in range(3):
            port.post_message("CGENERAL", f"m{i}", metadata=delivery_metadata(f"k{i}"))
        first = port.history("CGENERAL", limit=2)
        rest = port.history("CGENERAL", limit=2, cursor=first.next_cursor)
        keys = [m.metadata["event_payload"]["key"] for m in first.messages + rest.messages]
        assert keys == ["k2", "k1", "k0"] and rest.next_cursor is None
    with pytest.raises(SlackError) as info:  # nothing listens any more
        port.post_message("CGENERAL", "hi")
    assert info.value.error == "ConnectionRefusedError" and info.value.status is None
