"""The request path under load: acks keep their own threads, nothing sleeps on a 429 around an ack, and a
modal Slack refuses to open is explained to the member (signed requests into the real app, the simulator
on the other side; the driver fails any ack slower than Slack's 3 seconds)."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from slack_bolt.listener import thread_runner

from slack_app.checkins.ids import CheckinAction
from slack_app.listener_errors import StickyAck
from slack_app.request_path import AfterAck, ListenerExecutor
from slack_app.simulator import wait_for
from slack_app.slack_port import SlackError
from tests.test_checkin_flow import CIRCLE, enable_in_slack, open_round, private_replies


def settle(seconds: float = 1.5) -> None:
    """Give after-ack work time to do something it should not (a retry after Retry-After: 1)."""
    wait_for(lambda: False, timeout=seconds)


# ---- a modal Slack refuses is explained ------------------------------------------------------------------

def test_a_settings_modal_slack_refuses_is_explained_to_the_admin(driver, simulator):
    simulator.fail_next("views.open", error="expired_trigger_id")
    resp = driver.as_member("UALICE").command("/hearth", channel=CIRCLE)
    assert resp.status == 200
    assert wait_for(lambda: private_replies(simulator, "UALICE"))
    [note] = private_replies(simulator, "UALICE")
    assert "didn't let Hearth open that window" in note
    assert simulator.latest_view("UALICE") is None


def test_an_admin_whom_slack_cannot_look_up_is_told_slack_is_busy_not_that_they_are_no_admin(driver, simulator):
    simulator.fail_next("users.info", status=429)
    driver.as_member("UALICE").command("/hearth", channel=CIRCLE)
    assert wait_for(lambda: private_replies(simulator, "UALICE"))
    [note] = private_replies(simulator, "UALICE")
    assert "Slack is very busy" in note and "admin" not in note
    assert simulator.calls_for("views.open") == []


def test_a_checkin_modal_refused_with_429_is_not_retried_and_the_member_is_told(driver, simulator, hearth, slack,
                                                                                  deliver):  # noqa: F811
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    before = len(simulator.calls_for("views.open"))
    simulator.fail_next("views.open", status=429)  # Retry-After: 1
    driver.as_member("UBOB").command("/checkin")
    assert wait_for(lambda: private_replies(simulator, "UBOB"))
    assert "Slack is very busy" in private_replies(simulator, "UBOB")[-1]
    settle()
    assert len(simulator.calls_for("views.open")) == before + 1  # no sleeping retry on the request path
    assert simulator.latest_view("UBOB") is None


def test_a_home_button_whose_modal_is_refused_gets_an_ephemeral_note_in_the_dm(driver, simulator, hearth, slack,
                                                                                 deliver):  # noqa: F811
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    bob = driver.as_member("UBOB")
    bob.open_home()
    assert wait_for(lambda: simulator.home("UBOB") is not None)
    simulator.fail_next("views.open", error="expired_trigger_id")
    home = simulator.home("UBOB")
    resp = driver.block_action("UBOB", CheckinAction.OPEN_MODAL.value, view_id=home["id"])  # no response_url
    assert resp.status == 200
    assert wait_for(lambda: simulator.ephemerals("UBOB"))
    [note] = simulator.ephemerals("UBOB")
    assert note["channel"] == simulator.dm_channel("UBOB")
    assert "didn't let Hearth open that window" in note["text"]


def test_a_checkin_redraws_app_home_only_when_its_modal_was_opened_from_there(driver, simulator, hearth, slack,
                                                                                deliver):  # noqa: F811
    """Any other Home is redrawn when the member next opens it; a redraw per check-in was about a third of the
    load mix's CPU (bench/request_costs.py)."""
    from slack_app.checkins.ids import CheckinBlock

    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    bob = driver.as_member("UBOB")
    bob.open_home()
    assert wait_for(lambda: simulator.home("UBOB") is not None)
    publishes = len(simulator.calls_for("views.publish"))
    bob.command("/checkin", channel=CIRCLE)
    assert bob.submit({CheckinBlock.GRATITUDE: "the weekend"}).json["response_action"] == "update"
    settle()
    assert len(simulator.calls_for("views.publish")) == publishes
    assert "you've checked in" not in str(simulator.home("UBOB")["blocks"])
    bob.open_home()  # what Slack sends when he looks at Home again
    assert wait_for(lambda: "you've checked in" in str(simulator.home("UBOB")["blocks"]))

    thanks = simulator.latest_view("UBOB")["id"]
    driver.block_action("UBOB", CheckinAction.OPEN_MODAL.value, view_id=simulator.home("UBOB")["id"])
    assert wait_for(lambda: simulator.latest_view("UBOB")["id"] != thanks)  # opened after the ack
    publishes = len(simulator.calls_for("views.publish"))
    assert bob.submit({CheckinBlock.GRATITUDE: "the weekend, and tea"}).json["response_action"] == "update"
    assert wait_for(lambda: len(simulator.calls_for("views.publish")) == publishes + 1)


# ---- App Home after the ack, never sleeping on Retry-After ------------------------------------------------

def test_a_home_refused_with_429_is_dropped_with_a_log_and_drawn_at_the_next_open(driver, simulator, caplog):
    caplog.set_level(logging.INFO, logger="hearth")
    simulator.fail_next("views.publish", status=429)
    bob = driver.as_member("UBOB")
    assert bob.open_home().status == 200
    assert wait_for(lambda: "after_ack.failed job=home.publish error=ratelimited" in caplog.text)
    settle()
    assert len(simulator.calls_for("views.publish")) == 1  # not retried after Retry-After
    assert simulator.home("UBOB") is None
    bob.open_home()
    assert wait_for(lambda: simulator.home("UBOB") is not None)


def test_a_home_opened_again_unchanged_is_not_published_again(driver, simulator, hearth, slack, deliver,  # noqa: F811
                                                                caplog):
    """Members open Home often, and each views.publish spends Slack's quota for it (about 100 a minute per
    workspace). app_home_opened carries the Home Slack shows, whose fingerprint says if a new one would differ."""
    caplog.set_level(logging.INFO, logger="hearth")
    enable_in_slack(driver, hearth)
    bob = driver.as_member("UBOB")
    bob.open_home()
    assert wait_for(lambda: simulator.home("UBOB") is not None)
    before = simulator.home("UBOB")
    publishes = len(simulator.calls_for("views.publish"))
    for unchanged in (1, 2):
        assert bob.open_home().status == 200
        assert wait_for(lambda: caplog.text.count("home.unchanged") == unchanged)  # noqa: B023
    assert len(simulator.calls_for("views.publish")) == publishes

    open_round(hearth, slack, deliver)  # a round opens in Bob's circle: his Home has something new
    bob.open_home()
    assert wait_for(lambda: len(simulator.calls_for("views.publish")) > publishes)
    after = simulator.home("UBOB")
    assert after["blocks"] != before["blocks"] and after["private_metadata"] != before["private_metadata"]
    assert caplog.text.count("home.unchanged") == 2


def test_commands_are_acked_in_time_during_a_burst_of_home_opens_answered_429(driver, simulator):
    """Before the after-ack pool, each of these Home opens slept on Retry-After twice on one of Bolt's five
    listener threads, and the commands behind them were acked after Slack's 3 s (LateAck)."""
    simulator.fail_next("views.publish", status=429, count=1000)
    members = [u for u in simulator.workspace.users.values() if not (u.is_bot or u.deleted)]
    opens = [threading.Thread(target=driver.app_home_opened, args=(members[i % len(members)].id,))
             for i in range(30)]
    for t in opens:
        t.start()
    for t in opens:
        t.join()
    for user, command in (("UBOB", "/checkin"), ("UALICE", "/hearth"), ("UDEV", "/checkin")):
        assert driver.command(user, command, channel=CIRCLE).status == 200  # LateAck if over 3 s
    assert not driver.late_acks
    assert wait_for(lambda: simulator.latest_view("UALICE") is not None)  # the settings modal still opened


def test_requests_leave_the_level_of_hearths_loggers_alone(driver):
    """Bolt configures the logger named after the app at every request; Hearth's own must keep their level."""
    hearth_logger = logging.getLogger("hearth")
    before = hearth_logger.level
    try:
        hearth_logger.setLevel(logging.DEBUG)
        driver.as_member("UBOB").open_home()
        driver.command("UBOB", "/checkin", "help")
        assert hearth_logger.level == logging.DEBUG
    finally:
        hearth_logger.setLevel(before)


# ---- the bounded pool itself ------------------------------------------------------------------------------

def test_the_after_ack_pool_drops_work_beyond_its_bound_and_frees_slots_when_done(caplog):
    caplog.set_level(logging.INFO, logger="hearth")
    pool = AfterAck(threads=1, queue=1)
    release = threading.Event()
    done: list[int] = []
    try:
        assert pool.submit("slow", release.wait)
        assert pool.submit("queued", done.append, 1)
        assert not pool.submit("dropped", done.append, 2)
        assert pool.dropped == 1
        assert "after_ack.dropped job=dropped reason=busy" in caplog.text
        release.set()
        assert wait_for(lambda: done == [1])
        assert wait_for(lambda: pool.submit("later", done.append, 3))
        assert wait_for(lambda: done == [1, 3])
    finally:
        release.set()
        pool.shutdown()


def test_the_after_ack_pool_logs_slack_errors_and_crashes_by_name_only(caplog):
    caplog.set_level(logging.INFO, logger="hearth")
    pool = AfterAck(threads=1, queue=2)

    def refused() -> None:
        raise SlackError("views.publish", "ratelimited", 429, retry_after=1)

    def broken() -> None:
        raise ValueError("secret member text")

    pool.submit("home.publish", refused)
    pool.submit("home.other", broken)
    pool.shutdown(wait=True)
    assert "after_ack.failed job=home.publish error=ratelimited" in caplog.text
    assert "after_ack.crashed job=home.other" in caplog.text


@pytest.mark.parametrize("method", ["views.publish", "users.info"])
def test_the_request_path_client_does_not_sleep_on_429(simulator, method):
    from slack_app.slack_port import WebApiPort, make_request_client

    port = WebApiPort(make_request_client(simulator.bot_token, simulator.base_url))
    simulator.fail_next(method, status=429)
    with pytest.raises(SlackError) as refused:
        if method == "users.info":
            port.user_info("UBOB")
        else:
            port.publish_home("UBOB", {"type": "home", "blocks": []})
    assert refused.value.status == 429 and refused.value.retry_after == 1
    assert len(simulator.calls_for(method)) == 1


# ---- acks wake their request's thread ---------------------------------------------------------------------

class _CountingTime:
    """thread_runner's `time` module, counting the 10 ms sleeps of Bolt's loop that waits for an ack."""

    def __init__(self) -> None:
        self.sleeps = 0

    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        time.sleep(seconds)


def test_bolt_never_polls_for_an_ack_the_listener_gives(driver, monkeypatch):
    """Every request waited for Bolt's next 10 ms look at its ack (p50 11 ms even for `/hearth help`)."""
    clock = _CountingTime()
    monkeypatch.setattr(thread_runner, "time", clock)
    assert driver.command("UALICE", "/hearth", "help", channel=CIRCLE).status == 200
    assert driver.command("UBOB", "/checkin", channel=CIRCLE).status == 200
    assert driver.as_member("UBOB").open_home().status == 200
    assert clock.sleeps == 0


def test_the_listener_executor_returns_once_the_ack_is_given_while_the_listener_goes_on():
    pool = ListenerExecutor(max_workers=2)
    ack, go_on = StickyAck(), threading.Event()

    def listener() -> None:
        ack()
        go_on.wait(5)

    future = pool.submit(listener)
    assert ack.response is not None and not future.done()  # submit waited for the ack, not for the end
    go_on.set()
    pool.shutdown(wait=True)


def test_the_listener_executor_stops_waiting_when_the_listener_ends_without_an_ack():
    pool = ListenerExecutor(max_workers=2)
    ack = StickyAck()

    def failing() -> None:
        raise RuntimeError("before the ack")

    future = pool.submit(failing)
    assert future.done() and ack.response is None
    later = threading.Event()
    second = pool.submit(later.wait, 5)  # a lazy listener, after the first: not waited for
    assert not second.done()
    later.set()
    pool.shutdown(wait=True)
