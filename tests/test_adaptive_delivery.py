"""Adaptive pacing end to end: the learned rate lives in the shared rate-limit rows (real database), and
the delivery worker learns it from a simulator whose ceiling Hearth was not told (real HTTP)."""

import pytest

from slack_app.delivery import progress
from slack_app.delivery.pacing import SlackLimits
from slack_app.simulator import SlackSimulator
from storage import outbox, ratelimit
from storage.adaptive import Tuning
from storage.gcra import Rate
from tests.test_outbox_simulator import TEAM, delivered, enqueue, make_worker, workspace

KEY = f"{TEAM}:chat.postMessage"
TEN_PER_S = Rate(600, 60.0)


def test_a_429_lowers_the_rate_every_instance_paces_to(db):
    with db.session() as s:
        assert ratelimit.limited(s, KEY, TEN_PER_S, now=1000.0, hold_for=1.0) == pytest.approx(9.0)
        # a second instance's 429 from the same burst teaches nothing more
        assert ratelimit.limited(s, KEY, TEN_PER_S, now=1000.5, hold_for=1.0) is None
    with db.session() as s:  # another instance reads the learned interval from the row: 1/9 s
        first, _ = ratelimit.reserve(s, KEY, TEN_PER_S, now=1001.0)
        assert first is None  # still held (Retry-After)
        slots = [ratelimit.reserve(s, KEY, TEN_PER_S, now=1001.2, max_wait=5.0)[0] for _ in range(3)]
    assert slots[1] - slots[0] == pytest.approx(1 / 9) and slots[2] - slots[1] == pytest.approx(1 / 9)
    with db.session() as s:
        assert ratelimit.learned_rates(s, f"{TEAM}:") == {KEY: pytest.approx(9.0)}
        assert ratelimit.learned_rates(s, "TOTHER:") == {}


def test_two_episodes_measure_the_real_rate(db):
    with db.session() as s:
        ratelimit.limited(s, KEY, TEN_PER_S, now=1000.0, hold_for=1.0)
        granted = [ratelimit.reserve(s, KEY, TEN_PER_S, now=1001.0 + i / 5)[0] for i in range(50)]
        assert all(g is not None for g in granted)  # 5/s, under the learned 9/s
        learned = ratelimit.limited(s, KEY, TEN_PER_S, now=1011.0, hold_for=1.0)
    assert learned == pytest.approx(5.0 * (1 - Tuning().margin))  # 50 calls in the 10 s since the hold ended


def test_quiet_stretches_raise_the_rate_back_and_pruning_keeps_what_was_learned(db):
    tuning = Tuning()
    with db.session() as s:
        ratelimit.limited(s, KEY, TEN_PER_S, now=1000.0, hold_for=1.0)
        assert ratelimit.prune(s, before=5000.0) == 0  # idle, but the learned rate is kept …
        assert ratelimit.raise_quiet(s, lambda _key: TEN_PER_S, now=1000.0 + tuning.quiet / 2) == {}
        raised = ratelimit.raise_quiet(s, lambda _key: TEN_PER_S, now=1000.0 + tuning.quiet)
        assert raised == {KEY: pytest.approx(9.0 * (1 + tuning.raise_by))}
        for i in range(2, 10):
            ratelimit.raise_quiet(s, lambda _key: TEN_PER_S, now=1000.0 + i * tuning.quiet)
        assert ratelimit.learned_rates(s) == {}  # back at the ceiling
        ratelimit.limited(s, KEY, TEN_PER_S, now=2000.0, hold_for=1.0)
        assert ratelimit.prune(s, before=2000.0 + ratelimit.FORGET_AFTER + 10) == 1  # … until unused for a day


def test_the_worker_learns_an_unannounced_ceiling_from_the_simulator(db):
    """Slack allows 60 posts a minute with a burst of 5 (× 10 scale); Hearth assumes 600. The worker is told
    nothing: its 429s teach it, and everything is delivered once."""
    scale = 10
    with SlackSimulator(workspace(members=150), rate_limits=True, rate_scale=scale, post_message_per_minute=60,
                        post_burst=5) as sim:
        enqueue(db, [(f"m{i}", f"UM{i:05d}") for i in range(150)])
        worker = make_worker(db, sim, threads=4, limits=SlackLimits().scaled(scale),
                             adaptive=Tuning().scaled(scale))
        stats = worker.drain(120)
        assert delivered(sim) == {f"m{i}": 1 for i in range(150)}
        limited = [c for c in sim.calls_for("chat.postMessage") if c.status == 429]
        assert stats["rate_limited"] == len(limited) >= 1
        with db.session() as s:
            learned = ratelimit.learned_rates(s)[KEY] * 60 / scale  # at Slack's speed
            pace = progress.pace(s, SlackLimits().scaled(scale), TEAM)[0]
        assert 30 <= learned < 600
        assert pace.posting.learned and pace.unfinished == 0 and pace.seconds_left == 0


def test_without_learning_the_worker_keeps_the_configured_rate(db):
    with SlackSimulator(workspace(members=40), rate_limits=True, rate_scale=10, post_message_per_minute=60,
                        post_burst=5) as sim:
        enqueue(db, [(f"m{i}", f"UM{i:05d}") for i in range(40)])
        make_worker(db, sim, threads=4, limits=SlackLimits().scaled(10), adaptive=None).drain(60)
        assert delivered(sim) == {f"m{i}": 1 for i in range(40)}
        with db.session() as s:
            assert ratelimit.learned_rates(s) == {}


def test_time_left_of_a_running_fan_out(db):
    enqueue(db, [(f"m{i}", f"UM{i:05d}") for i in range(300)])
    with db.session() as s:
        ratelimit.limited(s, KEY, SlackLimits().post_workspace, now=1000.0, hold_for=1.0)  # 540/min now
        (pace,) = progress.pace(s, SlackLimits())
    assert (pace.team_id, pace.unfinished) == (TEAM, 300)
    assert pace.posting.per_minute == pytest.approx(540) and pace.posting.learned
    assert pace.seconds_left == pytest.approx(300 / 9)
    with db.session() as s:
        assert outbox.unfinished_by_team(s) == {TEAM: 300}


def test_the_worker_resolves_unknown_recipients_as_their_turn_comes(db):
    """Rows written without looking anyone up: a person is asked about once and gets the DM, a bot's row is
    dropped, and a person Hearth already knows costs no call."""
    from storage import members
    from storage.members import Profile

    members.store_profiles(db, TEAM, [Profile("UBOB", "Europe/Berlin", False, False, False)])
    with db.session() as s:
        outbox.enqueue_many(s, [dict(team_id=TEAM, kind="checkin.invite", target=user, dedupe_key=f"inv:{user}",
                                     payload={"text": "hello", "resolve_user": True})
                                for user in ("UALICE", "UOTHERBOT", "UBOB")])
    with SlackSimulator(workspace(), rate_limits=True) as sim:
        stats = make_worker(db, sim).drain(30)
        assert sorted(c.params["channel"] for c in sim.calls_for("chat.postMessage")) == ["UALICE", "UBOB"]
        assert sorted(c.params["user"] for c in sim.calls_for("users.info")) == ["UALICE", "UOTHERBOT"]
    assert stats["sent"] == 2 and stats["skipped"] == 1
    with db.session() as s:
        assert [r.target for r in outbox.rows(s, team_id=TEAM)] == ["UALICE", "UBOB"]
        known = members.by_id(s, TEAM, ["UALICE", "UOTHERBOT"])
        assert known["UOTHERBOT"].is_bot and known["UALICE"].profile_at is not None
