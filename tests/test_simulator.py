"""The Slack simulator, through a real slack_sdk WebClient over loopback HTTP."""

from __future__ import annotations

import json
import socket
import struct
import time
import types
import urllib.request

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.webhook import WebhookClient

from slack_app.simulator import Channel, RateLimiter, SlackSimulator, User, demo_workspace
from slack_app.simulator.ratelimit import TIER_2, TIER_4
from slack_app.simulator.workspace import DEFAULT_SCOPES
from slack_app.slack_port import SlackError, WebApiPort


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sim(clock):
    with SlackSimulator(demo_workspace(), rate_limits=False, clock=clock) as simulator:
        yield simulator


def client_for(sim: SlackSimulator, token: str | None = "default", **kwargs) -> WebClient:
    return WebClient(token=sim.bot_token if token == "default" else token, base_url=sim.base_url, **kwargs)


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value.response["error"]


MODAL = {
    "type": "modal", "callback_id": "checkin", "title": {"type": "plain_text", "text": "Weekly check-in"},
    "submit": {"type": "plain_text", "text": "Share"}, "private_metadata": "circle=CCIRCLE",
    "blocks": [{"type": "input", "block_id": "gratitude", "label": {"type": "plain_text", "text": "Grateful for"},
                "element": {"type": "plain_text_input", "action_id": "text"}}],
}


# ---- auth -----------------------------------------------------------------------------------------------

def test_auth_test_names_the_bot_and_sends_granted_scopes_in_a_header(sim):
    resp = client_for(sim).auth_test()
    assert (resp["team_id"], resp["user_id"], resp["bot_id"]) == ("T0HEARTH", "UHEARTHBOT", "BHEARTH")
    assert resp["url"] == "https://hearth-demo.slack.com/"
    assert set(resp.headers["x-oauth-scopes"].split(",")) == set(DEFAULT_SCOPES)
    assert WebApiPort(client_for(sim)).auth_test().scopes == frozenset(DEFAULT_SCOPES)


def test_unknown_token_is_invalid_auth_and_no_token_is_not_authed(sim):
    assert error_of(lambda: client_for(sim, "xoxb-wrong").auth_test()) == "invalid_auth"
    assert error_of(lambda: client_for(sim, None).chat_postMessage(channel="CGENERAL", text="hi")) == "not_authed"
    assert sim.messages("CGENERAL") == []


def test_unknown_method_is_reported(sim):
    assert error_of(lambda: client_for(sim).api_call("hearth.nothing")) == "unknown_method"


def test_a_form_post_with_the_token_in_the_body_and_a_get_with_query_params_both_work(sim):
    form = "token=xoxb-sim-token&channel=CGENERAL&text=from+curl&blocks=" + json.dumps(
        [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}])
    with urllib.request.urlopen(urllib.request.Request(sim.base_url + "chat.postMessage", data=form.encode())) as r:
        assert json.loads(r.read())["ok"] is True
    assert sim.messages("CGENERAL")[0]["blocks"][0]["text"]["text"] == "hello"
    with urllib.request.urlopen(sim.base_url + "users.info?token=xoxb-sim-token&user=UEMI") as r:
        assert json.loads(r.read())["user"]["tz"] == "Asia/Tokyo"


def test_missing_scope_names_what_is_needed(sim):
    sim.workspace.scopes.discard("users:read")
    with pytest.raises(SlackApiError) as info:
        client_for(sim).users_info(user="UBOB")
    assert info.value.response["error"] == "missing_scope"
    assert info.value.response["needed"] == "users:read"


# ---- messages ---------------------------------------------------------------------------------------------

def test_posting_to_a_user_id_opens_and_uses_their_dm(sim):
    resp = client_for(sim).chat_postMessage(channel="UBOB", text="Welcome to the circle")
    assert resp["channel"] == "DBOB" == sim.dm_channel("UBOB")
    assert [m["text"] for m in sim.messages("DBOB")] == ["Welcome to the circle"]
    assert sim.messages("UBOB") == sim.messages("DBOB")
    again = client_for(sim).conversations_open(users="UBOB")
    assert again["channel"]["id"] == "DBOB" and again["already_open"] is True
    assert sim.dm_channel("UCARMEN") is None


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"channel": "CNOPE", "text": "x"}, "channel_not_found"),
        ({"channel": "GSECRET", "text": "x"}, "channel_not_found"),  # private, bot not in it
        ({"channel": "CNOBOT", "text": "x"}, "not_in_channel"),
        ({"channel": "CARCHIVED", "text": "x"}, "is_archived"),
        ({"channel": "UOTHERBOT", "text": "x"}, "cannot_dm_bot"),
        ({"channel": "UGONE", "text": "x"}, "account_inactive"),
        ({"channel": "UNOBODY", "text": "x"}, "user_not_found"),
        ({"channel": "CGENERAL"}, "no_text"),
        ({"channel": "CGENERAL", "text": "x" * 40001}, "msg_too_long"),
        ({"channel": "CGENERAL", "text": "x", "blocks": [{"type": "divider"}] * 51}, "invalid_blocks"),
        ({"channel": "CGENERAL", "text": "x", "blocks": "not json"}, "invalid_blocks"),
    ],
)
@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")
def test_post_message_errors_are_slacks(sim, kwargs, error):
    sim.workspace.add_channel(Channel("GSECRET", "secret", is_private=True, members={"UALICE"}))
    assert error_of(lambda: client_for(sim).chat_postMessage(**kwargs)) == error
    assert sim.messages(kwargs["channel"]) == []


def test_message_timestamps_are_unique_and_increasing(sim):
    client = client_for(sim)
    stamps = [client.chat_postMessage(channel="CCIRCLE", text=str(i))["ts"] for i in range(5)]
    assert stamps == sorted(stamps, key=float) and len(set(stamps)) == 5
    assert all(len(ts.split(".")[1]) == 6 for ts in stamps)


def test_metadata_is_returned_by_history_only_when_asked_for(sim):
    client = client_for(sim)
    metadata = {"event_type": "checkin_prompt", "event_payload": {"round": 7}}
    first = client.chat_postMessage(channel="CCIRCLE", text="first", metadata=metadata)
    client.chat_postMessage(channel="CCIRCLE", text="reply", thread_ts=first["ts"])
    client.chat_postMessage(channel="CCIRCLE", text="second")
    history = client.conversations_history(channel="CCIRCLE", include_all_metadata=True)
    assert [m["text"] for m in history["messages"]] == ["second", "first"]  # newest first, no thread replies
    assert history["messages"][1]["metadata"] == metadata
    assert "metadata" not in client.conversations_history(channel="CCIRCLE")["messages"][1]
    assert [m.metadata for m in WebApiPort(client).history("CCIRCLE").messages] == [None, metadata]
    assert sim.messages("CCIRCLE")[1]["thread_ts"] == first["ts"]
    assert error_of(lambda: client.conversations_history(channel="CNOBOT")) == "not_in_channel"


def test_history_pages_and_time_bounds(sim):
    client = client_for(sim)
    stamps = [client.chat_postMessage(channel="CCIRCLE", text=str(i))["ts"] for i in range(5)]
    page = client.conversations_history(channel="CCIRCLE", limit=2)
    assert [m["text"] for m in page["messages"]] == ["4", "3"] and page["has_more"] is True
    rest = client.conversations_history(channel="CCIRCLE", limit=10, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["2", "1", "0"] and rest["has_more"] is False
    window = client.conversations_history(channel="CCIRCLE", oldest=stamps[1], latest=stamps[4])
    assert [m["text"] for m in window["messages"]] == ["3", "2"]


def test_update_only_the_bots_own_existing_messages(sim):
    client = client_for(sim)
    posted = client.chat_postMessage(channel="CCIRCLE", text="draft")
    client.chat_update(channel="CCIRCLE", ts=posted["ts"], text="final")
    assert sim.messages("CCIRCLE")[0]["text"] == "final"
    theirs = sim.member_message("UBOB", "CCIRCLE", "my own words")
    assert error_of(lambda: client.chat_update(channel="CCIRCLE", ts=theirs["ts"], text="x")) == "cant_update_message"
    assert error_of(lambda: client.chat_update(channel="CCIRCLE", ts="1.000001", text="x")) == "message_not_found"


def test_update_without_blocks_keeps_them_and_an_empty_list_removes_them(sim):
    client = client_for(sim)
    blocks = [{"type": "section", "block_id": "b1", "text": {"type": "mrkdwn", "text": "Ready?"}}]
    ts = client.chat_postMessage(channel="CCIRCLE", text="Ready?", blocks=blocks)["ts"]
    kept = client.chat_update(channel="CCIRCLE", ts=ts, text="Done")["message"]
    assert (kept["text"], kept["blocks"]) == ("Done", blocks)
    assert sim.messages("CCIRCLE")[0]["blocks"] == blocks  # members still see the blocks, not "Done"
    client.chat_update(channel="CCIRCLE", ts=ts, text="Done", blocks=[])
    assert (sim.messages("CCIRCLE")[0]["text"], sim.messages("CCIRCLE")[0]["blocks"]) == ("Done", None)


def test_the_port_replaces_the_whole_message_so_a_text_only_update_drops_the_blocks(sim):
    port = WebApiPort(client_for(sim))
    button = {"type": "actions", "elements": [{"type": "button", "action_id": "go",
                                               "text": {"type": "plain_text", "text": "Check in"}}]}
    posted = port.post_message("CCIRCLE", "Round 3 is open", [button])
    port.update_message("CCIRCLE", posted.ts, "Round 3 has closed")
    assert (sim.messages("CCIRCLE")[0]["text"], sim.messages("CCIRCLE")[0]["blocks"]) == ("Round 3 has closed", None)
    port.update_message("CCIRCLE", posted.ts, "Round 3 is open again", [button])
    assert sim.messages("CCIRCLE")[0]["blocks"][0]["elements"][0]["action_id"] == "go"


def test_ephemeral_messages_reach_members_of_the_channel_only(sim):
    client = client_for(sim)
    resp = client.chat_postEphemeral(channel="CCIRCLE", user="UBOB", text="only you see this")
    assert sim.ephemerals("UBOB") == [{"channel": "CCIRCLE", "user": "UBOB", "text": "only you see this",
                                       "blocks": None, "thread_ts": None, "message_ts": resp["message_ts"]}]
    assert sim.messages("CCIRCLE") == []
    assert error_of(lambda: client.chat_postEphemeral(channel="CCIRCLE", user="UCARMEN", text="x")) \
        == "user_not_in_channel"


# ---- conversations and users ----------------------------------------------------------------------------

def test_group_dm_has_one_id_per_set_of_people(sim):
    client = client_for(sim)
    first = client.conversations_open(users="UALICE,UBOB")["channel"]["id"]
    assert client.conversations_open(users="UBOB,UALICE")["channel"]["id"] == first
    assert client.conversations_open(users=["UALICE", "UBOB", "UDEV"])["channel"]["id"] != first
    assert error_of(lambda: client.conversations_info(channel=first)) == "missing_scope"  # needs mpim:read
    sim.workspace.scopes.add("mpim:read")
    assert client.conversations_info(channel=first)["channel"]["is_mpim"] is True
    assert set(client.conversations_members(channel=first)["members"]) == {"UALICE", "UBOB", "UHEARTHBOT"}
    nine = ",".join(f"U{i}" for i in range(9))
    assert error_of(lambda: client.conversations_open(users=nine)) == "too_many_users"
    assert error_of(lambda: client.conversations_open(users="UALICE,UNOBODY")) == "user_not_found"
    assert error_of(lambda: client.conversations_open(users="UGONE")) == "user_disabled"
    assert error_of(lambda: client.conversations_open(users="")) == "users_list_not_supplied"


def test_conversations_open_takes_one_to_eight_users_as_a_comma_separated_string(sim):
    for i in range(3):
        sim.workspace.add_user(User(f"UEXTRA{i}", f"extra{i}", f"Extra {i}"))
    eight = ["UALICE", "UBOB", "UCARMEN", "UDEV", "UEMI", "UFINN", "UEXTRA0", "UEXTRA1"]
    client = client_for(sim)
    group = client.conversations_open(users=eight)["channel"]["id"]  # slack_sdk joins the list with commas
    assert sim.calls_for("conversations.open")[-1].params["users"] == ",".join(eight)
    assert sim.workspace.channels[group].members == {*eight, "UHEARTHBOT"}
    assert error_of(lambda: client.conversations_open(users=[*eight, "UEXTRA2"])) == "too_many_users"
    with pytest.raises(SlackApiError) as info:  # a JSON array as it is, which Slack does not take
        client.api_call("conversations.open", json={"users": ["UALICE", "UBOB"]})
    assert info.value.response["error"] == "invalid_arguments"
    assert "[json-pointer:/users]" in info.value.response["response_metadata"]["messages"][0]
    assert client.api_call("conversations.open", json={"users": "UALICE,UBOB"})["channel"]["id"].startswith("G")


def test_a_limit_above_slacks_maximum_gives_a_full_page_and_a_cursor(sim):
    crowd = {f"U{i:05d}" for i in range(1500)}
    sim.workspace.add_channel(Channel("CBIG", "big", members={"UHEARTHBOT", *crowd}))
    client = client_for(sim)
    first = client.conversations_members(channel="CBIG", limit=5000)
    assert len(first["members"]) == 1000 and first["response_metadata"]["next_cursor"]
    rest = client.conversations_members(channel="CBIG", limit=5000, cursor=first["response_metadata"]["next_cursor"])
    assert len(rest["members"]) == 501 and rest["response_metadata"]["next_cursor"] == ""
    assert len(WebApiPort(client).channel_members("CBIG")) == 1501  # the port follows the cursor
    for i in range(1001):
        sim.member_message("UALICE", "CCIRCLE", str(i))
    history = client.conversations_history(channel="CCIRCLE", limit=2000)
    assert len(history["messages"]) == 1000 and history["has_more"] is True


def test_members_are_paginated_with_cursors(sim):
    client = client_for(sim)
    pages, cursor = [], None
    while True:
        resp = client.conversations_members(channel="CGENERAL", limit=3, cursor=cursor)
        pages.append(resp["members"])
        cursor = resp["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert [len(p) for p in pages] == [3, 3, 2]
    assert sorted(sum(pages, [])) == sorted(sim.workspace.channels["CGENERAL"].members)
    assert WebApiPort(client).channel_members("CGENERAL") == sum(pages, [])
    assert error_of(lambda: client.conversations_members(channel="CGENERAL", cursor="bm9wZQ==")) == "invalid_cursor"


def test_private_channels_are_invisible_unless_the_bot_is_in_them(sim):
    sim.workspace.add_channel(Channel("GSECRET", "secret", is_private=True, members={"UALICE"}))
    client = client_for(sim)
    for call in (client.conversations_info, client.conversations_members):
        assert error_of(lambda call=call: call(channel="GSECRET")) == "channel_not_found"
    mods = client.conversations_info(channel="GMODS")["channel"]
    assert (mods["is_private"], mods["is_member"], mods["name"]) == (True, True, "hearth-moderators")
    assert client.conversations_info(channel="CNOBOT")["channel"]["is_member"] is False
    assert client.conversations_info(channel="CARCHIVED")["channel"]["is_archived"] is True


def test_users_info_has_slacks_user_shape(sim):
    user = client_for(sim).users_info(user="UFINN")["user"]
    assert (user["tz"], user["tz_offset"], user["is_owner"], user["is_bot"], user["deleted"]) == \
        ("Europe/Dublin", 0, True, False, False)
    assert user["profile"]["real_name"] == "Finn Byrne" and user["profile"]["display_name"] == "finn"
    assert WebApiPort(client_for(sim)).user_info("UGONE").is_human is False
    assert error_of(lambda: client_for(sim).users_info(user="UNOBODY")) == "user_not_found"
    members = client_for(sim).users_list(limit=4)
    assert len(members["members"]) == 4 and members["response_metadata"]["next_cursor"]


# ---- views ----------------------------------------------------------------------------------------------

def test_a_trigger_opens_one_modal_for_its_member_once(sim):
    client = client_for(sim)
    trigger = sim.issue_trigger("UBOB")
    view = client.views_open(trigger_id=trigger, view=MODAL)["view"]
    assert view["id"].startswith("V") and view["callback_id"] == "checkin" and view["state"] == {"values": {}}
    assert sim.latest_view("UBOB")["id"] == view["id"] and sim.latest_view("UALICE") is None
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=MODAL)) == "exchanged_trigger_id"
    assert error_of(lambda: client.views_open(trigger_id="1.2.3", view=MODAL)) == "invalid_trigger_id"


def test_a_trigger_expires_after_three_seconds(sim, clock):
    trigger = sim.issue_trigger("UBOB")
    clock.advance(3.01)
    assert error_of(lambda: client_for(sim).views_open(trigger_id=trigger, view=MODAL)) == "expired_trigger_id"
    assert sim.latest_view("UBOB") is None
    client_for(sim).views_open(trigger_id=sim.issue_trigger("UBOB"), view=MODAL)
    late = sim.issue_trigger("UBOB")
    clock.advance(3.01)
    assert error_of(lambda: client_for(sim).views_push(trigger_id=late, view=MODAL)) == "expired_trigger_id"
    assert len(sim.views("UBOB")) == 1


@pytest.mark.parametrize(
    ("change", "pointer"),
    [
        ({"title": {"type": "plain_text", "text": "x" * 25}}, "/view/title/text"),
        ({"blocks": [{"type": "divider"}] * 101}, "/view/blocks"),
        ({"private_metadata": "x" * 3001}, "/view/private_metadata"),
        ({"type": "home"}, "/view/type"),
        ({"submit": None}, "/view/submit"),
    ],
)
def test_invalid_views_are_refused_like_slack_and_keep_the_trigger(sim, change, pointer):
    trigger = sim.issue_trigger("UBOB")
    with pytest.raises(SlackApiError) as info:
        client_for(sim).views_open(trigger_id=trigger, view={**MODAL, **change})
    assert info.value.response["error"] == "invalid_arguments"
    assert any(pointer in m for m in info.value.response["response_metadata"]["messages"])
    assert client_for(sim).views_open(trigger_id=trigger, view=MODAL)["ok"]


def test_views_update_checks_the_hash_and_push_stacks(sim):
    client = client_for(sim)
    opened = client.views_open(trigger_id=sim.issue_trigger("UDEV"), view=MODAL)["view"]
    renamed = {**MODAL, "title": {"type": "plain_text", "text": "Thank you"}}
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=renamed)["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    assert error_of(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"], view=MODAL)) \
        == "hash_conflict"
    assert error_of(lambda: client.views_update(view_id="VNOPE", view=MODAL)) == "not_found"
    pushed = client.views_push(trigger_id=sim.issue_trigger("UDEV"), view=MODAL)["view"]
    assert [v["id"] for v in sim.views("UDEV")] == [opened["id"], pushed["id"]]
    assert pushed["previous_view_id"] == opened["id"] and pushed["root_view_id"] == opened["id"]


def test_views_publish_stores_the_home_tab(sim):
    client = client_for(sim)
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}
    first = client.views_publish(user_id="UEMI", view=home)["view"]
    second = client.views_publish(user_id="UEMI", view=home)["view"]
    assert first["id"] == second["id"] == sim.home("UEMI")["id"]
    assert sim.home("UEMI")["blocks"][0]["block_id"]  # Slack fills in block ids
    assert error_of(lambda: client.views_publish(user_id="UEMI", view=MODAL)) == "invalid_arguments"


# ---- response_url ---------------------------------------------------------------------------------------

def test_a_response_url_takes_five_posts_within_thirty_minutes(sim, clock):
    url = sim.new_response_url("UBOB", "CGENERAL")
    answers = [WebhookClient(url).send(text=f"note {i}") for i in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert answers[-1].body == "expired_url"
    assert [p["body"]["text"] for p in sim.response_url_posts()] == [f"note {i}" for i in range(5)]
    assert [p["body"]["text"] for p in sim.refused_response_url_posts()] == ["note 5"]
    later = sim.new_response_url("UBOB", "CGENERAL")
    clock.advance(29 * 60)
    assert WebhookClient(later).send(text="still in time").status_code == 200
    clock.advance(61)
    assert WebhookClient(later).send(text="too late").status_code == 404
    assert "too late" not in "\n".join(sim.transcript())


# ---- files and OAuth ------------------------------------------------------------------------------------

def test_files_upload_v2_end_to_end(sim):
    resp = client_for(sim).files_upload_v2(channel="GMODS", filename="report.csv", content=b"a,b\n1,2\n",
                                           title="Report", initial_comment="This week")
    file_id = resp["file"]["id"]
    [shared] = sim.files("GMODS")
    assert (shared["id"], shared["title"], shared["content"], shared["size"]) == (file_id, "Report", b"a,b\n1,2\n", 8)
    assert sim.messages("GMODS")[0]["files"] == [file_id]
    assert [c.method for c in sim.calls] == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert WebApiPort(client_for(sim)).upload_file("CCIRCLE", "b.txt", b"x").startswith("F")
    assert error_of(lambda: client_for(sim).files_upload_v2(channel="CNOBOT", filename="c", content=b"x")) \
        == "not_in_channel"


def test_oauth_code_is_exchanged_once_for_a_working_bot_token(clock):
    with SlackSimulator(demo_workspace(), rate_limits=False, clock=clock, client_id="cid",
                        client_secret="secret") as sim:
        client = WebClient(base_url=sim.base_url)
        code = sim.issue_oauth_code("UFINN")
        granted = client.oauth_v2_access(client_id="cid", client_secret="secret", code=code)
        assert (granted["token_type"], granted["bot_user_id"], granted["authed_user"]["id"]) == \
            ("bot", "UHEARTHBOT", "UFINN")
        assert granted["team"] == {"id": "T0HEARTH", "name": "Hearth Demo"} and granted["enterprise"] is None
        assert client_for(sim, granted["access_token"]).auth_test()["team_id"] == "T0HEARTH"
        assert error_of(lambda: client.oauth_v2_access(client_id="cid", client_secret="secret", code=code)) \
            == "invalid_code"
        assert error_of(lambda: client.oauth_v2_access(client_id="cid", client_secret="guess",
                                                       code=sim.issue_oauth_code("UFINN"))) == "bad_client_secret"


# ---- rate limits and faults -----------------------------------------------------------------------------

def test_posting_too_fast_in_one_channel_is_429_and_the_retry_handler_gets_through(clock, monkeypatch):
    with SlackSimulator(demo_workspace(), clock=clock) as sim:
        client = client_for(sim)
        for i in range(3):  # the tolerated burst
            client.chat_postMessage(channel="CCIRCLE", text=str(i))
        with pytest.raises(SlackApiError) as info:
            client.chat_postMessage(channel="CCIRCLE", text="too fast")
        assert info.value.response.status_code == 429
        assert info.value.response.headers["Retry-After"] == "1"
        assert info.value.response["error"] == "ratelimited"
        with pytest.raises(SlackError) as port_error:
            WebApiPort(client).post_message("CCIRCLE", "still too fast")
        assert (port_error.value.status, port_error.value.retry_after) == (429, 1.0)
        assert client.chat_postMessage(channel="UBOB", text="another channel")["ok"]

        slept: list[float] = []

        def sleep(seconds: float) -> None:  # the handler's wait passes on the simulator's clock instead
            slept.append(seconds)
            clock.advance(seconds)

        monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=sleep))
        patient = client_for(sim, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
        assert patient.chat_postMessage(channel="CCIRCLE", text="patient")["ok"]
        assert len(slept) == 1 and slept[0] >= 1
        assert [c.status for c in sim.calls_for("chat.postMessage")] == [200, 200, 200, 429, 429, 200, 429, 200]


def test_rate_limits_can_be_switched_off_or_scaled(clock):
    with SlackSimulator(demo_workspace(), rate_limits=False, clock=clock) as sim:
        assert all(client_for(sim).chat_postMessage(channel="CCIRCLE", text="x")["ok"] for _ in range(10))
    with SlackSimulator(demo_workspace(), rate_scale=4, clock=clock) as sim:
        assert all(client_for(sim).chat_postMessage(channel="CCIRCLE", text="x")["ok"] for _ in range(12))
        assert error_of(lambda: client_for(sim).chat_postMessage(channel="CCIRCLE", text="x")) == "ratelimited"


def test_injected_faults_answer_first_then_calls_succeed(sim):
    sim.fail_next("users.info", status=503)
    with pytest.raises(SlackApiError) as info:
        client_for(sim).users_info(user="UBOB")
    assert info.value.response.status_code == 503
    sim.fail_next("users.info", status=503, count=2)
    retrying = client_for(sim, retry_handlers=[ServerErrorRetryHandler(
        max_retry_count=2, interval_calculator=FixedValueRetryIntervalCalculator(0.01))])
    assert retrying.users_info(user="UBOB")["user"]["id"] == "UBOB"
    sim.fail_next("chat.postMessage", error="fatal_error")
    assert error_of(lambda: client_for(sim).chat_postMessage(channel="CCIRCLE", text="x")) == "fatal_error"
    assert client_for(sim).chat_postMessage(channel="CCIRCLE", text="x")["ok"]
    assert [c.status for c in sim.calls_for("users.info")] == [503, 503, 503, 200]


def test_delay_next_holds_the_answer(sim):
    sim.delay_next("auth.test", 0.2)
    started = time.monotonic()
    assert client_for(sim).auth_test()["ok"]
    assert time.monotonic() - started >= 0.2


# ---- recording and transcript ---------------------------------------------------------------------------

def test_every_call_is_recorded_with_decoded_params(sim, clock):
    client_for(sim).chat_postMessage(channel="CCIRCLE", text="hi", blocks=[{"type": "divider"}])
    clock.advance(5)
    with pytest.raises(SlackApiError):
        client_for(sim, "xoxb-wrong").users_info(user="UBOB")
    first, second = sim.calls
    assert (first.method, first.params["blocks"], first.token, first.status, first.ok, first.error) == \
        ("chat.postMessage", [{"type": "divider"}], "xoxb-sim-token", 200, True, None)
    assert (second.method, second.ok, second.error, second.at - first.at) == ("users.info", False, "invalid_auth", 5)
    assert sim.calls_for("users.info") == [second]
    sim.clear_calls()
    assert sim.calls == []


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing:UserWarning")  # blocks-only DM
def test_transcript_says_what_each_person_saw(sim):
    client = client_for(sim)
    client.chat_postMessage(channel="CCIRCLE", text="Check-in time\nfor everyone")
    client.chat_postMessage(channel="UALICE", blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}])
    group = client.conversations_open(users="UALICE,UBOB")["channel"]["id"]
    client.chat_postMessage(channel=group, text="Meet your buddy")
    client.chat_postEphemeral(channel="CGENERAL", user="UBOB", text="Only for you")
    client.views_open(trigger_id=sim.issue_trigger("UBOB"), view=MODAL)
    client.views_publish(user_id="UALICE", view={"type": "home", "blocks": []})
    client.files_upload_v2(channel="GMODS", filename="report.csv", content=b"x")
    assert sim.transcript() == [
        "#gratitude-circle  Hearth: Check-in time for everyone",
        "DM to Alice  Hearth: Hi",
        "group DM (Alice, Bob)  Hearth: Meet your buddy",
        "ephemeral to Bob in #general: Only for you",
        "modal opened for Bob: Weekly check-in (1 inputs)",
        "App Home of Alice updated",
        "file uploaded to #hearth-moderators: report.csv",
    ]


def test_transcript_shows_mentions_channels_and_dates_as_members_read_them(sim):
    client = client_for(sim)
    client.chat_postMessage(channel="CCIRCLE", text="Hi <@UBOB>, see <#CGENERAL> and <#CCIRCLE|circle> until "
                            "<!date^1796217136^{date_short_pretty}|Wed 02 Dec> &lt;3 <!here>")
    assert sim.transcript() == ["#gratitude-circle  Hearth: Hi @Bob, see #general and #circle until Wed 02 Dec <3 @here"]


# ---- the pure rate limiter ------------------------------------------------------------------------------

def test_a_tier_allows_its_burst_then_answers_retry_after_until_refilled(clock):
    limiter = RateLimiter(clock=clock)
    assert [limiter.check("T1", "users.list") for _ in range(TIER_2.burst)] == [None] * TIER_2.burst
    assert limiter.check("T1", "users.list") == 3  # 20/min: one call every 3 seconds
    clock.advance(2.9)
    assert limiter.check("T1", "users.list") == 1
    clock.advance(0.1)
    assert limiter.check("T1", "users.list") is None
    assert limiter.check("T2", "users.list") is None  # another workspace has its own budget
    assert all(limiter.check("T1", "users.info") is None for _ in range(TIER_4.burst))


def test_post_message_is_per_channel_under_a_workspace_ceiling(clock):
    limiter = RateLimiter(clock=clock, post_message_per_minute=60)  # ceiling tolerates a burst of 10
    assert [limiter.check("T1", "chat.postMessage", "C1") for _ in range(4)] == [None, None, None, 1]
    assert all(limiter.check("T1", "chat.postMessage", f"C{i}") is None for i in range(2, 9))
    assert limiter.check("T1", "chat.postMessage", "C9") == 1  # the workspace ceiling, not C9's own
    clock.advance(1)
    assert limiter.check("T1", "chat.postMessage", "C9") is None  # the refused call spent nothing from C9


def test_rate_scale_multiplies_rates_and_bursts(clock):
    limiter = RateLimiter(clock=clock, scale=10)
    assert all(limiter.check("T1", "users.list") is None for _ in range(TIER_2.burst * 10))
    assert limiter.check("T1", "users.list") == pytest.approx(0.3)  # Slack's 3 s, ten times faster
    clock.advance(0.3)  # 200/min
    assert limiter.check("T1", "users.list") is None


def test_the_upload_url_also_takes_a_multipart_upload(sim):
    client = client_for(sim)
    target = client.files_getUploadURLExternal(filename="notes.txt", length=5)
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nhello\r\n--XyZ--\r\n")
    request = urllib.request.Request(target["upload_url"], data=body,
                                     headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    with urllib.request.urlopen(request) as resp:
        assert resp.status == 200
    client.files_completeUploadExternal(files=[{"id": target["file_id"], "title": "Notes"}], channel_id="CCIRCLE")
    assert sim.files("CCIRCLE")[0]["content"] == b"hello"
    assert error_of(lambda: client.files_completeUploadExternal(files=[{"id": target["file_id"]}],
                                                                channel_id="CCIRCLE")) == "file_not_found"


def test_replies_list_a_thread_oldest_first_with_its_parent_leading(sim):
    client = client_for(sim)
    metadata = {"event_type": "hearth_delivery", "event_payload": {"outbox_id": 7}}
    parent = client.chat_postMessage(channel="CCIRCLE", text="parent")["ts"]
    first = client.chat_postMessage(channel="CCIRCLE", text="one", thread_ts=parent, metadata=metadata)["ts"]
    client.chat_postMessage(channel="CCIRCLE", text="two", thread_ts=parent)
    client.chat_postMessage(channel="CCIRCLE", text="elsewhere")
    thread = client.conversations_replies(channel="CCIRCLE", ts=parent, include_all_metadata=True)
    assert [m["text"] for m in thread["messages"]] == ["parent", "one", "two"]
    assert thread["messages"][1]["metadata"] == metadata and thread["messages"][1]["thread_ts"] == parent
    later = client.conversations_replies(channel="CCIRCLE", ts=parent, oldest=first)
    assert [m["text"] for m in later["messages"]] == ["parent", "two"]
    page = client.conversations_replies(channel="CCIRCLE", ts=parent, limit=2)
    rest = client.conversations_replies(channel="CCIRCLE", ts=parent, cursor=page["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["two"] and page["has_more"] and not rest["has_more"]
    assert error_of(lambda: client.conversations_replies(channel="CCIRCLE", ts="1.000001")) == "thread_not_found"
    assert [m.metadata for m in WebApiPort(client).replies("CCIRCLE", parent).messages] == [None, metadata, None]


def test_a_ceiling_and_bursts_hearth_is_not_told(clock):
    """The simulator can play a Slack whose workspace ceiling is lower than Hearth assumes and whose bursts
    are small: 300 posts a minute with a burst of 3, and every tier's burst halved."""
    limiter = RateLimiter(clock=clock, post_message_per_minute=300, post_burst=3, tier_burst=0.5)
    assert [limiter.check("T1", "chat.postMessage", f"C{i}") for i in range(4)] == [None, None, None, 1]
    clock.advance(0.2)  # 5 a second
    assert limiter.check("T1", "chat.postMessage", "C9") is None
    assert [limiter.check("T1", "users.list") for _ in range(3)] == [None, None, 3]  # Tier 2's burst 5 → 2


def test_a_caller_gone_before_its_answer_is_no_traceback(sim, capsys):
    sim.delay_next("auth.test", 0.3)
    host, port = sim.base_url.split("//")[1].split("/")[0].split(":")
    conn = socket.create_connection((host, int(port)))
    conn.sendall(b"POST /api/auth.test HTTP/1.1\r\nHost: slack\r\nContent-Length: 0\r\n\r\n")
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()  # gone, with a reset: the simulator's answer, written after its delay, finds no one
    deadline = time.monotonic() + 5
    while not any(c.method == "auth.test" for c in sim.calls) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the answer's write, after the call was recorded
    assert [c.method for c in sim.calls] == ["auth.test"]
    assert "Traceback" not in capsys.readouterr().err
    assert client_for(sim).auth_test()["ok"]  # and it goes on answering
