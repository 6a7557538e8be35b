"""Who counts as an admin, and what admins see on App Home about messages that could not be delivered."""

import pytest

from slack_app import home
from slack_app.admins import counts_as_admin, is_admin
from slack_app.fake_port import FakeSlackPort
from slack_app.slack_port import SlackError
from storage import outbox

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
    fake.add_user("UMEMBER")
    return fake


def test_is_admin_asks_slack_unless_listed_and_says_no_when_slack_cannot_tell(services, slack):
    assert is_admin(services, slack, "ULISTED") and slack.calls("users.info") == []
    assert is_admin(services, slack, "UOWNER")
    assert not is_admin(services, slack, "UMEMBER")
    slack.fail_next("users.info", "ratelimited")
    assert not is_admin(services, slack, "UOWNER")


def test_a_strict_admin_check_raises_when_slack_cannot_tell(services, slack):
    slack.fail_next("users.info", "ratelimited")
    with pytest.raises(SlackError):
        is_admin(services, slack, "UOWNER", strict=True)
    assert is_admin(services, slack, "ULISTED", strict=True)  # listed: Slack is not asked


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
