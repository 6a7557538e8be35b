"""`/report` and the *Report* shortcuts, through signed requests into the real app and the Slack simulator.

Until the intake exists (issue 9) they open an honest modal. Checked as the adversary of docs/privacy.md
would: the database is unchanged, the only Slack call is the modal, and no log line names anyone.
"""

from __future__ import annotations

import logging

import pytest

from slack_app import copy as copy_module
from slack_app.reports import views
from slack_app.reports.ids import ReportView
from slack_app.simulator import wait_for
from tests.privacy import assert_logs_carry_no_user_ids, database_dump

MEMBERS = ("UBOB", "UALICE")


def _is_the_interim_modal(view: dict, *, about_message: bool) -> None:
    assert view["callback_id"] == ReportView.SETTING_UP
    assert view["title"]["text"] == "Report a concern"
    assert not view.get("submit")  # it can only be closed …
    assert not [b for b in view["blocks"] if b["type"] == "input"]  # … and asks for nothing
    text = str(view["blocks"])
    assert "still being set up" in text and "nothing about you was stored" in text
    assert "workspace admin or a moderator you trust" in text
    assert ("not kept a copy of that message" in text) is about_message


@pytest.fixture
def watched(simulator, db, caplog):
    """The flow's Slack calls, database and logs, from a clean start."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="hearth")
    simulator.clear_calls()
    return database_dump(db)


@pytest.mark.parametrize("how", ["command", "global", "message"])
def test_report_entry_points_open_an_honest_modal_and_keep_nothing(driver, simulator, db, caplog, watched, how):
    if how == "command":
        resp = driver.command("UBOB", "/report", channel="CCIRCLE")
    elif how == "global":
        resp = driver.global_shortcut("UBOB", "report.global")
    else:
        resp = driver.message_shortcut("UBOB", "report.message", "CCIRCLE", "1700000000.000100",
                                       message_text="something hurtful", message_user="UALICE")
    assert resp.status == 200 and not resp.late
    assert not resp.body_text  # a plain ack: the answer is the modal
    assert wait_for(lambda: simulator.latest_view("UBOB") is not None)
    _is_the_interim_modal(simulator.latest_view("UBOB"), about_message=how == "message")

    assert [c.method for c in simulator.calls] == ["views.open"]  # nobody else hears of it
    assert database_dump(db) == watched  # not a row written: nothing to find in a dump
    assert "reports.setting_up_shown" in caplog.text
    assert "something hurtful" not in caplog.text
    assert_logs_carry_no_user_ids(caplog.records, MEMBERS)


@pytest.mark.parametrize(("how", "about_message"), [("command", False), ("message", True)])
def test_when_slack_refuses_the_modal_the_member_is_told_privately(driver, simulator, how, about_message):
    simulator.fail_next("views.open", error="expired_trigger_id")
    if how == "command":
        resp = driver.command("UBOB", "/report")
    else:
        resp = driver.message_shortcut("UBOB", "report.message", "CCIRCLE", "1700000000.000100")
    assert resp.status == 200
    assert wait_for(lambda: simulator.response_url_posts())
    [post] = simulator.response_url_posts()
    assert post["body"]["response_type"] == "ephemeral"
    assert "still being set up" in post["body"]["text"]
    assert ("not kept a copy" in post["body"]["text"]) is about_message
    assert simulator.latest_view("UBOB") is None


def test_the_modal_names_hearths_admins_as_people_to_contact():
    copy = copy_module.Copy()
    view = views.setting_up_modal(copy, ["UFINN", "UALICE"], about_message=False)
    assert "<@UALICE>, <@UFINN> look after Hearth here" in str(view["blocks"])
    assert "look after Hearth" not in str(views.setting_up_modal(copy, [], about_message=False)["blocks"])


def test_buddies_help_and_unknown_subcommands_answer_privately_and_record_nothing(driver, simulator, db, watched):
    for text in ("", "help", "anything"):
        resp = driver.command("UBOB", "/buddies", text=text)
        assert resp.status == 200
        assert resp.json["response_type"] == "ephemeral"
        assert "/buddies skip" in resp.json["text"] and "/buddies never @someone" in resp.json["text"]
    assert "no buddy introductions" in driver.command("UBOB", "/buddies", text="skip").json["text"]
    assert simulator.calls == []
    assert database_dump(db) == watched
