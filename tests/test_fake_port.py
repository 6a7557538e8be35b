"""The fake port answers like Slack (checked against the simulator's answers in test_slack_port)."""

import pytest

from slack_app.fake_port import FakeSlackPort
from slack_app.slack_port import SlackError, SlackPort


def make() -> FakeSlackPort:
    fake = FakeSlackPort()
    fake.add_user("UALICE", tz="Europe/Berlin")
    fake.add_user("UROBOT", is_bot=True)
    fake.add_user("UGONE", is_deleted=True)
    fake.add_channel("CPUBLIC", ["UALICE"])
    fake.add_channel("CNOBOT", ["UALICE"], bot_is_member=False)
    fake.add_channel("GSECRET", ["UALICE"], is_private=True, bot_is_member=False)
    return fake


def test_it_satisfies_the_port_protocol():
    port: SlackPort = make()  # a type checker holds this line to the protocol
    assert port.auth_test().team_id == "T0FAKE"


def test_dm_by_user_id_and_the_errors_slack_gives():
    fake = make()
    assert fake.post_message("UALICE", "hi").channel.startswith("D")
    for target, error in [("UROBOT", "cannot_dm_bot"), ("UGONE", "account_inactive"), ("UNOPE", "user_not_found"),
                          ("CNOBOT", "not_in_channel"), ("GSECRET", "channel_not_found"), ("CMISSING", "channel_not_found")]:
        with pytest.raises(SlackError) as info:
            fake.post_message(target, "hi")
        assert info.value.error == error
    assert [c["channel"] for c in fake.calls("chat.postMessage")][:2] == ["UALICE", "UROBOT"]


def test_group_dm_is_stable_for_the_same_people_and_capped_at_eight():
    fake = make()
    assert fake.open_dm(["UB", "UA"]) == fake.open_dm(["UA", "UB"])
    with pytest.raises(SlackError, match="too_many_users"):
        fake.open_dm([f"U{i}" for i in range(9)])


def test_injected_failure_happens_once():
    fake = make()
    fake.fail_next("views.publish", "invalid_arguments")
    with pytest.raises(SlackError):
        fake.publish_home("UALICE", {"type": "home", "blocks": []})
    fake.publish_home("UALICE", {"type": "home", "blocks": []})
    assert len(fake.calls("views.publish")) == 2
