"""Circle membership is checked on every path: someone removed from a circle's channel no longer sees its
offers on App Home, cannot check in to it, and an old *Check in* button does not re-admit them. Signed
requests into the real app, the Slack simulator on the other side."""

from __future__ import annotations

from slack_app import roster
from slack_app.checkins.ids import CheckinAction, CheckinBlock
from slack_app.simulator import wait_for
from storage import checkins as repo
from tests.test_checkin_flow import (
    CIRCLE,
    TEAM,
    current_round,
    enable_in_slack,
    open_round,
    private_replies,
)


def leave(driver, simulator, user: str) -> None:
    simulator.workspace.channels[CIRCLE].members.discard(user)
    resp = driver.event({"type": "member_left_channel", "user": user, "channel": CIRCLE, "channel_type": "C",
                         "team": TEAM})
    assert resp.status == 200


def participant(hearth, user: str):
    with hearth.services.db.session() as s:
        return repo.participant(s, current_round(hearth).id, user)


def home_text(simulator, user: str) -> str:
    return str((simulator.home(user) or {}).get("blocks"))


def test_an_old_check_in_button_does_not_readmit_someone_who_left(driver, simulator, hearth, slack, deliver):  # noqa: F811
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    leave(driver, simulator, "UBOB")
    assert wait_for(lambda: participant(hearth, "UBOB").left_at is not None)

    bob = driver.as_member("UBOB")
    bob.click(CheckinAction.OPEN_MODAL)  # the button of his invitation DM, still in his DMs
    assert wait_for(lambda: (simulator.latest_view("UBOB") or {}).get("callback_id") == "checkin.done")
    assert "no longer in" in str(simulator.latest_view("UBOB")["blocks"])
    assert participant(hearth, "UBOB").left_at is not None  # still out: not re-admitted

    resp = bob.command("/checkin")  # nor through the command: no round is offered
    assert resp.status == 200 and "no check-in round open" in resp.json["text"]
    with hearth.services.db.session() as s:
        assert repo.checkin(s, current_round(hearth).id, "UBOB") is None
        assert repo.open_rounds_for(s, TEAM, "UBOB") == []


def test_a_modal_opened_before_leaving_cannot_be_submitted_after(driver, simulator, hearth, slack, deliver):  # noqa: F811
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    dev = driver.as_member("UDEV")
    dev.click(CheckinAction.OPEN_MODAL)
    assert dev.latest_view()["callback_id"] == "checkin.submit"
    leave(driver, simulator, "UDEV")
    assert wait_for(lambda: participant(hearth, "UDEV").left_at is not None)
    resp = driver.submit_view("UDEV", dev.latest_view()["id"], {CheckinBlock.GRATITUDE: "the sea"})
    assert resp.status == 200 and resp.json["response_action"] == "errors"
    assert "no longer in this circle" in str(resp.json["errors"])
    with hearth.services.db.session() as s:
        assert repo.checkin(s, current_round(hearth).id, "UDEV") is None


def test_slash_checkin_offers_no_round_of_a_channel_left(driver, simulator, hearth, slack, deliver):  # noqa: F811
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    leave(driver, simulator, "UEMI")
    assert wait_for(lambda: participant(hearth, "UEMI").left_at is not None)
    resp = driver.as_member("UEMI").command("/checkin")
    assert resp.status == 200 and "no check-in round open" in resp.json["text"]
    assert "checkin.submit" not in str(simulator.latest_view("UEMI") or {})  # no check-in modal opened


def test_app_home_drops_the_circle_and_its_offers_after_leaving_and_rejoining_brings_them_back(
        driver, simulator, hearth, slack, deliver):  # noqa: F811
    enable_in_slack(driver, hearth)
    open_round(hearth, slack, deliver)
    dev = driver.as_member("UDEV")
    dev.click(CheckinAction.OPEN_MODAL)
    dev.submit({CheckinBlock.GRATITUDE: "tea", CheckinBlock.OFFER: "Rust pairing", CheckinBlock.SHARING: "named"})
    bob = driver.as_member("UBOB")
    bob.open_home()
    assert wait_for(lambda: "Rust pairing" in home_text(simulator, "UBOB"))

    leave(driver, simulator, "UBOB")
    assert wait_for(lambda: participant(hearth, "UBOB").left_at is not None)
    bob.open_home()
    assert wait_for(lambda: "Rust pairing" not in home_text(simulator, "UBOB"))
    assert f"<#{CIRCLE}>" not in home_text(simulator, "UBOB")

    # back in the channel (Slack tells Hearth): the circle, its offers and the button work again
    driver.member_joined_channel("UBOB", CIRCLE)
    # the event is handled after its ack: App Home asked before then would rightly still leave the circle out
    assert wait_for(lambda: roster.in_channel(hearth.services, TEAM, CIRCLE, "UBOB"))
    bob.open_home()
    assert wait_for(lambda: "Rust pairing" in home_text(simulator, "UBOB"))
    bob.click(CheckinAction.OPEN_MODAL)
    assert wait_for(lambda: (simulator.latest_view("UBOB") or {}).get("callback_id") == "checkin.submit")
    assert participant(hearth, "UBOB").left_at is None
    assert not any("no longer" in t for t in private_replies(simulator, "UBOB"))
