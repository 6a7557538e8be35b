"""Who counts as an admin, and what admins see on App Home about messages that could not be delivered."""

from datetime import timedelta

import pytest

from slack_app import home
from slack_app.admins import ADMIN_FRESH_FOR, counts_as_admin, is_admin
from slack_app.fake_port import FakeSlackPort
from slack_app.slack_port import SlackError
from storage import members, outbox
from storage.members import Profile
from storage.models import utcnow

TEAM = "T0FAKE"


def test_admins_are_workspace_admins_owners_or_listed():
    assert counts_as_admin("UA", is_workspace_admin=True, is_owner=False, configured=())
    assert counts_as_admin("UA", is_workspace_admin=False, is_owner=True, configured=())
    assert counts_as_admin("UA", is_workspace_admin=False, is_owner=False, configured={"UA"})
    assert not counts_as_admin("UB", is_workspace_admin=False, is_owner=False, configured={"UA"})


@pytest.fixture
def services(db):
    from slack_app.copy import Copy
    from slack_app.services import Services
    from slack_app.settings import load_settings
    from slack_app.workflows import WORKFLOWS
    from storage.crypto import Crypto, generate_key

    settings = load_settings(env_file=None, DATABASE_URL=db.url, HEARTH_ADMINS="ULISTED")
    return Services(settings=settings, db=db, crypto=Crypto([generate_key()]), copy=Copy(None, strict=True),
                    archive=None, workflows=WORKFLOWS)


@pytest.fixture
def slack():
    fake = FakeSlackPort(team_id=TEAM)
    fake.add_user("UOWNER", is_owner=True)
    fake.add_user("UOWNER2", is_owner=True)
    fake.add_user("UMEMBER")
    return fake


def test_is_admin_asks_slack_unless_listed_and_says_no_when_slack_cannot_tell(services, slack):
    assert is_admin(services, slack, TEAM, "ULISTED") and slack.calls("users.info") == []
    assert is_admin(services, slack, TEAM, "UOWNER")
    assert not is_admin(services, slack, TEAM, "UMEMBER")
    slack.fail_next("users.info", "ratelimited")
    assert not is_admin(services, slack, TEAM, "UOWNER2")  # never seen, and Slack cannot say: no powers


def test_a_fresh_stored_profile_answers_without_asking_slack_and_a_stale_one_is_refreshed(services, slack, db):
    assert is_admin(services, slack, TEAM, "UOWNER") and not is_admin(services, slack, TEAM, "UMEMBER")
    assert len(slack.calls("users.info")) == 2  # unknown: asked once each, and remembered
    assert is_admin(services, slack, TEAM, "UOWNER") and not is_admin(services, slack, TEAM, "UMEMBER")
    assert len(slack.calls("users.info")) == 2
    # Demoted in Slack: the user_change event rewrites the stored profile, and the next check says no.
    members.store_profiles(db, TEAM, [Profile("UOWNER", "UTC", is_bot=False, is_deleted=False, is_admin=False)])
    assert not is_admin(services, slack, TEAM, "UOWNER")
    # A record older than ADMIN_FRESH_FOR (a missed event) is checked with Slack again.
    members.store_profiles(db, TEAM, [Profile("UMEMBER", "UTC", is_bot=False, is_deleted=False, is_admin=True)],
                           now=utcnow() - ADMIN_FRESH_FOR - timedelta(minutes=1))
    assert not is_admin(services, slack, TEAM, "UMEMBER")
    assert len(slack.calls("users.info")) == 3


def test_a_strict_admin_check_raises_when_slack_cannot_tell(services, slack):
    slack.fail_next("users.info", "ratelimited")
    with pytest.raises(SlackError):
        is_admin(services, slack, TEAM, "UOWNER", strict=True)
    assert is_admin(services, slack, TEAM, "ULISTED", strict=True)  # listed: Slack is not asked


def fail_some(db, errors):
    with db.session() as s:
        outbox.enqueue_many(s, [dict(team_id=TEAM, kind="t", target="U1", payload={"text": "x"}, dedupe_key=f"k{i}")
                                for i in range(len(errors))])
    with db.session() as s:
        rows = outbox.claim(s, worker_id="w", limit=len(errors), lease=60)
        for row, error in zip(rows, errors, strict=True):
            assert outbox.mark_failed(s, row.id, "w", error)


def test_admins_see_undelivered_messages_on_app_home_and_members_do_not(services, slack, db):
    fail_some(db, ["not_in_channel", "not_in_channel", "channel_not_found"])
    shown = str(home.view(services, slack, TEAM, "UOWNER")["blocks"])
    assert "3 messages could not be delivered" in shown and "`not_in_channel`, `channel_not_found`" in shown
    assert "hearth outbox retry-failed" in shown
    assert "could not be delivered" not in str(home.view(services, slack, TEAM, "UMEMBER")["blocks"])


def test_app_home_asks_slack_about_the_viewer_once(services, slack):
    home.view(services, slack, TEAM, "UOWNER")
    assert len(slack.calls("users.info")) == 1  # shared by the check-in and delivery sections


def test_admins_see_a_learned_rate_and_how_long_a_running_fan_out_still_needs(services, slack, db):
    from slack_app.delivery.pacing import SlackLimits
    from storage import ratelimit

    with db.session() as s:
        outbox.enqueue_many(s, [dict(team_id=TEAM, kind="t", target=f"U{i}", payload={"text": "x"},
                                     dedupe_key=f"fan{i}") for i in range(600)])
        ratelimit.limited(s, f"{TEAM}:chat.postMessage", SlackLimits().post_workspace, now=1000.0, hold_for=1.0)
    shown = str(home.view(services, slack, TEAM, "UOWNER")["blocks"])
    assert "Hearth now sends about 540 a minute (configured: 600)" in shown
    assert "600 messages still to send, about 1m 06s" in shown
    assert "still to send" not in str(home.view(services, slack, TEAM, "UMEMBER")["blocks"])


def test_a_few_messages_in_flight_at_the_configured_rate_show_nothing(services, slack, db):
    with db.session() as s:
        outbox.enqueue(s, team_id=TEAM, kind="t", target="U1", payload={"text": "x"}, dedupe_key="one")
    assert "Delivery" not in str(home.view(services, slack, TEAM, "UOWNER")["blocks"])
