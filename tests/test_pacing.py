"""Pure delivery rules: GCRA pacing, error classification, backoff with jitter."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slack_app.delivery import rules
from slack_app.delivery.pacing import SlackLimits
from slack_app.delivery.rules import Verdict
from slack_app.simulator.ratelimit import most_in_window
from storage import gcra as pacing
from storage.gcra import Rate


def grants(calls: list[float], rate: Rate, max_wait: float, tat: float = 0.0) -> list[float]:
    out = []
    for now in calls:
        g = pacing.reserve(tat, now, rate, max_wait)
        if g is not None:
            assert g.at >= now and g.at <= now + max_wait + 1e-9
            out.append(g.at)
            tat = g.tat
    return out


rates = st.builds(Rate, count=st.floats(1, 1000), per=st.sampled_from([1.0, 60.0]), burst=st.integers(1, 10))


@settings(max_examples=200, deadline=None)
@given(rate=rates, max_wait=st.floats(0, 5), gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=300),
       width=st.floats(0.01, 30))
def test_grants_never_exceed_the_rate_in_any_window(rate, max_wait, gaps, width):
    now, calls = 1000.0, []
    for g in gaps:
        now += g
        calls.append(now)
    times = grants(calls, rate, max_wait)
    assert most_in_window(times, width) <= rate.burst + width / rate.interval + 1e-6


@settings(max_examples=100, deadline=None)
@given(rate=rates, skew=st.floats(0, 2), offsets=st.lists(st.floats(-1, 1), min_size=50, max_size=300),
       width=st.floats(0.5, 30))
def test_instances_with_skewed_clocks_gain_at_most_the_skew(rate, skew, offsets, width):
    """Two instances whose clocks differ by up to `skew` share one TAT: the sustained rate holds."""
    tat, true_now, times = 0.0, 1000.0, []
    for off in offsets:
        true_now += rate.interval / 3
        seen = true_now + off * skew
        g = pacing.reserve(tat, seen, rate, 0.0)
        if g is not None:
            tat = g.tat
            times.append(true_now + (g.at - seen))  # when it really calls
    assert most_in_window(times, width) <= rate.burst + (width + 2 * skew) / rate.interval + 1e-6


def test_a_saturated_bucket_grants_exactly_at_the_rate():
    rate = Rate(600, 60.0)  # 10/s
    tat, now, sent = 0.0, 0.0, []
    while now < 10:
        g = pacing.reserve(tat, now, rate, max_wait=0.0)
        if g:
            tat = g.tat
            sent.append(g.at)
        now += 0.001
    assert len(sent) in (100, 101)


def test_reservation_queues_callers_up_to_max_wait_then_refuses():
    rate = Rate(1, 1.0)
    g1 = pacing.reserve(0.0, 100.0, rate, max_wait=2.0)
    g2 = pacing.reserve(g1.tat, 100.0, rate, max_wait=2.0)
    g3 = pacing.reserve(g2.tat, 100.0, rate, max_wait=2.0)
    assert (g1.at, g2.at, g3.at) == (100.0, 101.0, 102.0)
    assert pacing.reserve(g3.tat, 100.0, rate, max_wait=2.0) is None
    assert pacing.ready_at(g3.tat, rate, 2.0) == pytest.approx(101.0)


def test_burst_lets_that_many_through_back_to_back():
    rate = Rate(60, 60.0, burst=3)
    tat = 0.0
    ats = []
    for _ in range(3):
        g = pacing.reserve(tat, 50.0, rate)
        ats.append(g.at)
        tat = g.tat
    assert ats == [50.0, 50.0, 50.0]
    assert pacing.reserve(tat, 50.0, rate) is None


def test_hold_pushes_everyone_back():
    assert pacing.hold(10.0, 30.0) == 30.0
    assert pacing.hold(40.0, 30.0) == 40.0
    rate = Rate(60, 60.0)
    assert pacing.reserve(pacing.hold(0.0, 30.0), 20.0, rate) is None
    assert pacing.reserve(pacing.hold(0.0, 30.0), 30.0, rate).at == 30.0


def test_limits_per_method_and_scaling():
    limits = SlackLimits()
    assert limits.for_method("chat.postMessage").per_second == pytest.approx(10)
    assert limits.for_method("conversations.open").count == 50
    assert limits.post_per_channel.per_second == 1
    fast = limits.scaled(10)
    assert fast.for_method("conversations.history").count == 500
    assert fast.post_workspace.per_second == pytest.approx(100)


def test_rates_are_validated():
    with pytest.raises(ValueError):
        Rate(0)
    with pytest.raises(ValueError):
        Rate(1, burst=0)


@pytest.mark.parametrize("error,status,verdict", [
    ("ratelimited", 429, Verdict.RATE_LIMITED),
    ("ratelimited", 200, Verdict.RATE_LIMITED),
    ("http_429", 429, Verdict.RATE_LIMITED),
    ("user_not_found", 200, Verdict.PERMANENT),
    ("account_inactive", 200, Verdict.PERMANENT),
    ("cannot_dm_bot", 200, Verdict.PERMANENT),
    ("channel_not_found", 200, Verdict.PERMANENT),
    ("is_archived", 200, Verdict.PERMANENT),
    ("not_in_channel", 200, Verdict.PERMANENT),
    ("invalid_auth", 200, Verdict.PERMANENT),
    ("some_new_error_code", 200, Verdict.PERMANENT),
    ("internal_error", 200, Verdict.UNCERTAIN),
    ("fatal_error", 500, Verdict.UNCERTAIN),
    ("http_503", 503, Verdict.UNCERTAIN),
    ("service_unavailable", 200, Verdict.RETRY),
    ("request_timeout", 200, Verdict.RETRY),
    ("ConnectionRefusedError", None, Verdict.RETRY),
    ("TimeoutError", None, Verdict.UNCERTAIN),
    ("ConnectionResetError", None, Verdict.UNCERTAIN),
    ("RemoteDisconnected", None, Verdict.UNCERTAIN),
])
def test_classification(error, status, verdict):
    assert rules.classify(error, status) is verdict


@given(attempt=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_backoff_grows_is_capped_and_jittered(attempt, seed):
    delay = rules.backoff(attempt, base=2.0, cap=600.0, rand=random.Random(seed))
    step = min(600.0, 2.0 * 2 ** (attempt - 1))
    assert step / 2 <= delay <= step


def test_backoff_spreads_retries():
    rand = random.Random(1)
    delays = {round(rules.backoff(5, rand=rand), 3) for _ in range(50)}
    assert len(delays) > 40


def test_targets():
    assert rules.is_user_target("U123") and rules.is_user_target("W123")
    assert not rules.is_user_target("C123") and not rules.is_user_target("U1,U2")
    assert rules.is_group_target("U1,U2")
    assert rules.join_users(["U2", "U1", "U2"]) == "U1,U2"
    with pytest.raises(ValueError):
        rules.join_users([f"U{i}" for i in range(9)])
