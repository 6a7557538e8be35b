"""Check-in use cases against the database and an in-memory Slack (FakeSlackPort).

What the use cases cause is read from the outbox (what the delivery worker will send), the fake's
transcript (what was asked of Slack directly) and the check-in tables.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete

from slack_app.checkins import home, ritual, rounds, usecases, views
from slack_app.checkins.ids import CheckinBlock
from slack_app.checkins.outcomes import Choice, Draft, NothingOpen
from slack_app.fake_port import FakeSlackPort
from storage import checkins as repo
from storage.checkins import CheckinParticipant
from storage.models import utcnow

TEAM = "T0FAKE"
CIRCLE = "CCIRCLE"
NOW = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)  # Monday 10:00 in Berlin
HUMANS = ["UANA", "UBEN", "UCAS", "UDIA"]


@pytest.fixture
def services(db, tmp_path):
    from slack_app.copy import Copy
    from slack_app.services import Services
    from slack_app.settings import load_settings
    from slack_app.workflows import WORKFLOWS
    from storage.crypto import Crypto, generate_key

    settings = load_settings(env_file=None, DATABASE_URL=db.url, HEARTH_ADMINS="UADMIN",
                             HEARTH_TIMEZONE="Europe/Berlin")
    return Services(settings=settings, db=db, crypto=Crypto([generate_key()]), copy=Copy(None), archive=None,
                    workflows=WORKFLOWS)


@pytest.fixture
def slack():
    fake = FakeSlackPort(team_id=TEAM)
    for user in HUMANS:
        fake.add_user(user, tz="Europe/Berlin")
    fake.add_user("UADMIN", is_admin=True)
    fake.add_user("UBOT", is_bot=True)
    fake.add_user("UOTHERBOT", is_bot=True)
    fake.add_user("UGONE", is_deleted=True)
    fake.add_channel(CIRCLE, [*HUMANS, "UBOT", "UOTHERBOT", "UGONE"])
    fake.add_channel("CNOBOT", ["UANA", "UBEN"], bot_is_member=False)
    fake.add_channel("CARCHIVED", ["UANA", "UBOT"], is_archived=True)
    fake.add_channel("CSOLO", ["UANA", "UBOT"])
    return fake


def enable(services, channel=CIRCLE, **given):
    result = usecases.enable_circle(services, TEAM, channel, usecases.SettingsInput(**given), by="UADMIN", now=NOW)
    assert result.errors == {}
    return result


def stored(services, key):
    """A dedupe key as the outbox stores it (an opaque hash)."""
    from storage import outbox as repo

    with services.db.session() as s:
        return repo.stored_key(s, key)


def outbox(db, kind=None):
    """The outbox rows, decrypted (their payloads are sealed at rest)."""
    from storage import outbox as repo

    with db.session() as s:
        return repo.rows(s, kind=kind)


def open_round(services, slack, channel=CIRCLE, now=NOW):
    result = rounds.open_round(services, slack, TEAM, channel, now=now)
    assert result.status == "opened", result
    return result


def answers(gratitude="my neighbours", challenge=None, offer=None, sharing="named"):
    """The modal's state as Slack sends it, read as the listener reads it."""
    values = {CheckinBlock.GRATITUDE: gratitude, CheckinBlock.CHALLENGE: challenge, CheckinBlock.OFFER: offer,
              CheckinBlock.SHARING: sharing}
    return views.read_checkin(values)


def submit(services, user, round_id, now=NOW + timedelta(hours=1), **kw):
    """A submission, with its errors shown on the modal's blocks as the listener shows them."""
    result = usecases.submit_checkin(services, TEAM, user, round_id, answers(**kw), now=now)
    return replace(result, errors=views.checkin_errors(services.copy, result.errors) if result.errors else None)


# ---- setup ----------------------------------------------------------------------------------------------

def test_enabling_stores_the_settings_and_the_next_opening_in_the_circle_time_zone(services):
    result = enable(services, day="tue", local_time="09:30", window="36h")
    assert result.created
    assert result.next_open_at == datetime(2024, 6, 4, 7, 30, tzinfo=UTC)  # Tue 09:30 Berlin (CEST)
    with services.db.session() as s:
        circle = repo.circle(s, TEAM, CIRCLE)
        assert (circle.cadence, circle.weekday, circle.local_time, circle.timezone) == ("weekly", 1, "09:30",
                                                                                         "Europe/Berlin")
        assert circle.window == timedelta(hours=36) and circle.remind_before == timedelta(hours=18)


def test_bad_settings_come_back_per_field_and_nothing_is_saved(services):
    result = usecases.enable_circle(services, TEAM, "not-a-channel",
                                    usecases.SettingsInput(window="forever", tz="Nowhere/Land"), now=NOW)
    assert result.errors == {"channel": "bad_channel", "window": "bad_duration", "timezone": "unknown_timezone"}
    with services.db.session() as s:
        assert repo.circles(s, TEAM) == []


def test_confirming_a_channel_without_the_bot_tells_the_admin_the_fix(services, slack):
    result = enable(services, channel="CNOBOT")
    assert usecases.confirm_circle(services, slack, result.circle_id, by="UADMIN") == "not_in_channel"
    [dm] = outbox(services.db, "checkin.settings")
    assert dm.target == "UADMIN"
    assert "/invite @hearth" in dm.payload["text"]


def test_only_admins_get_the_settings_modal(services, slack):
    assert not usecases.open_settings(services, slack, TEAM, "UBEN", CIRCLE, "trigger-1")
    assert slack.calls("views.open") == []
    assert usecases.open_settings(services, slack, TEAM, "UADMIN", CIRCLE, "trigger-2")
    [opened] = slack.calls("views.open")
    assert opened["view"]["callback_id"] == "checkin.settings"


def test_the_settings_modal_saves_a_circle(services):
    values = {CheckinBlock.SETTINGS_CHANNEL: CIRCLE, CheckinBlock.SETTINGS_ENABLED: "on",
              CheckinBlock.SETTINGS_CADENCE: "biweekly", CheckinBlock.SETTINGS_DAY: "fri",
              CheckinBlock.SETTINGS_TIME: "16:00", CheckinBlock.SETTINGS_TIMEZONE: "America/New_York",
              CheckinBlock.SETTINGS_WINDOW: "2d", CheckinBlock.SETTINGS_REMIND: "",
              CheckinBlock.SETTINGS_SHARING: "anonymous", CheckinBlock.SETTINGS_ROTATE: "on"}
    def save(values):
        result = usecases.save_settings(services, TEAM, "UADMIN", views.read_settings_channel(values),
                                        views.read_settings(values))
        return result.circle_id, views.settings_errors(services.copy, result.errors)

    circle_id, errors = save(values)
    assert errors == {} and circle_id
    _, errors = save({**values, CheckinBlock.SETTINGS_TIME: "4pm"})
    assert set(errors) == {CheckinBlock.SETTINGS_TIME}


# ---- opening --------------------------------------------------------------------------------------------

def test_opening_posts_the_prompt_and_invites_each_reachable_human_by_dm(services, slack):
    enable(services)
    result = open_round(services, slack)
    assert result.invited == 4 and result.facilitator in HUMANS
    [prompt] = outbox(services.db, "checkin.round")
    assert prompt.target == CIRCLE
    assert any(b.get("type") == "actions" for b in prompt.payload["blocks"])
    invites = outbox(services.db, "checkin.invite")
    assert sorted(r.target for r in invites) == HUMANS  # not bots, not the deactivated member
    guide = next(r for r in invites if r.target == result.facilitator)
    others = [r for r in invites if r.target != result.facilitator]
    assert guide.payload["text"] != others[0].payload["text"]  # the facilitator gets the guide
    for dm in invites:  # every DM offers snooze and opt-out
        actions = [e["action_id"] for b in dm.payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
        assert {"checkin.snooze", "checkin.opt_out"} <= set(actions)


def test_taking_part_adds_a_member_once_and_readmits_one_who_left(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    left_at = NOW + timedelta(hours=1)
    with services.db.session() as s:
        repo.participant(s, round_id, "UCAS").left_at = left_at
    with services.db.session() as s:
        repo.add_participant(s, round_id, "UNEW", invited=False)  # joined mid-round
        repo.add_participant(s, round_id, "UANA", invited=False)  # already there: left as it is
        repo.add_participant(s, round_id, "UCAS", invited=False)  # came back
    with services.db.session() as s:
        rows = {p.user_id: (p.invited, p.left_at) for p in repo.participants(s, round_id)}
    assert rows == {"UANA": (True, None), "UBEN": (True, None), "UCAS": (True, None), "UDIA": (True, None),
                    "UNEW": (False, None)}


def test_a_round_is_read_with_whether_the_member_takes_part_and_is_in_the_channel(services, slack):
    from storage import members
    from storage.members import ChannelMember, RosterChannel

    enable(services)
    round_id = open_round(services, slack).round_id
    members.left(services.db, TEAM, CIRCLE, "UCAS")
    with services.db.session() as s:
        ben, cas, stranger = (repo.round_of(s, round_id, user) for user in ("UBEN", "UCAS", "UZED"))
        assert (ben.listed, cas.listed, stranger.listed) == (True, False, False)
        assert ben.participant.user_id == "UBEN" and ben.participant.left_at is None
        assert stranger.participant is None
        s.execute(delete(ChannelMember))
        s.execute(delete(RosterChannel))
        assert repo.round_of(s, round_id, "UBEN").listed is None  # never listed: the round's record decides


def test_a_click_a_slash_checkin_and_a_new_check_in_read_once_and_write_only_what_is_new(services, slack):
    from sqlalchemy import event

    enable(services)
    round_id = open_round(services, slack).round_id
    statements: list[str] = []

    def seen(_conn, _cursor, sql, *_):
        statements.append(sql.split()[0])

    event.listen(services.db.engine, "before_cursor_execute", seen)
    try:
        assert isinstance(usecases.start_checkin(services, TEAM, "UBEN", round_id=round_id, now=NOW), Draft)
        taking_part = list(statements)
        statements.clear()
        assert isinstance(usecases.start_checkin(services, TEAM, "UANA", now=NOW), Draft)  # /checkin
        slash_checkin = list(statements)
        with services.db.session() as s:
            s.execute(delete(CheckinParticipant).where(CheckinParticipant.user_id == "UBEN"))
        statements.clear()
        assert isinstance(usecases.start_checkin(services, TEAM, "UBEN", round_id=round_id, now=NOW), Draft)
        joined_mid_round = list(statements)
        statements.clear()
        assert submit(services, "UCAS", round_id).errors is None
        new_check_in = list(statements)
    finally:
        event.remove(services.db.engine, "before_cursor_execute", seen)
    assert taking_part == ["SELECT"]  # invited when the round opened: the round, their place in it, the channel
    assert slash_checkin == ["SELECT"]  # their open rounds, with the same
    # the check-in and its message: a new check-in's messages are not looked for (they are keyed by its new id)
    assert new_check_in == ["SELECT", "INSERT", "INSERT"], new_check_in
    assert joined_mid_round == ["SELECT", "INSERT"]  # someone who joined mid-round becomes a participant
    with services.db.session() as s:
        assert repo.participant(s, round_id, "UBEN") is not None


def test_a_round_is_read_with_its_circle_and_the_members_own_check_in(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    submit(services, "UBEN", round_id, gratitude="the river walk")
    with services.db.session() as s:
        mine = repo.round_of(s, round_id, "UBEN")
        theirs = repo.round_of(s, round_id, "UANA")
        assert repo.round_of(s, round_id + 1, "UBEN") is None
        assert repo.round_of(s, None, "UBEN") is None
    assert mine is not None and theirs is not None
    assert mine.round.id == theirs.round.id == round_id and mine.circle.channel_id == CIRCLE
    assert mine.checkin is not None and mine.checkin.user_id == "UBEN"
    assert repo.read_checkin(services.crypto, mine.checkin).gratitude == "the river walk"
    assert theirs.checkin is None


def test_opening_twice_opens_one_round(services, slack):
    enable(services)
    first = open_round(services, slack)
    again = rounds.open_round(services, slack, TEAM, CIRCLE, now=NOW + timedelta(minutes=1))
    assert again.status == "already_open" and again.round_id == first.round_id
    assert len(outbox(services.db, "checkin.invite")) == 4


def test_opted_out_paused_and_snoozed_members_are_not_invited(services, slack):
    circle_id = enable(services).circle_id
    usecases.opt_out(services, TEAM, "UANA", circle_id)
    usecases.pause(services, TEAM, "UBEN")
    usecases.snooze(services, TEAM, "UCAS", "2024-06-20T00:00:00+00:00", now=NOW)
    result = open_round(services, slack)
    assert [r.target for r in outbox(services.db, "checkin.invite")] == ["UDIA"]
    assert result.facilitator == "UDIA"
    usecases.resume(services, TEAM, "UANA")
    usecases.resume(services, TEAM, "UBEN")
    rounds.close_round(services, TEAM, CIRCLE, now=NOW + timedelta(days=2))
    open_round(services, slack, now=NOW + timedelta(days=7))
    assert sorted(r.target for r in outbox(services.db, "checkin.invite"))[:3] == ["UANA", "UBEN", "UDIA"]


@pytest.mark.parametrize(("channel", "problem"), [("CNOBOT", "not_in_channel"), ("CARCHIVED", "archived"),
                                                  ("CDELETED", "channel_gone")])
def test_a_channel_hearth_cannot_post_in_keeps_the_round_waiting_and_tells_admins(services, slack, channel, problem):
    enable(services, channel=channel)
    result = rounds.open_round(services, slack, TEAM, channel, now=NOW)
    assert (result.status, result.problem) == ("blocked", problem)
    [dm] = outbox(services.db, "checkin.problem")
    assert dm.target == "UADMIN"
    assert outbox(services.db, "checkin.round") == []
    # trying again (the job does, every minute) neither duplicates the round nor the admin message
    rounds.open_round(services, slack, TEAM, channel, now=NOW + timedelta(minutes=1))
    assert len(outbox(services.db, "checkin.problem")) == 1
    with services.db.session() as s:
        circle = repo.circle(s, TEAM, channel)
        assert [r.status for r in repo.rounds_of(s, circle.id)] == ["pending"]


def test_a_waiting_round_opens_once_the_bot_is_invited(services, slack):
    enable(services, channel="CNOBOT")
    blocked = rounds.open_round(services, slack, TEAM, "CNOBOT", now=NOW)
    slack.add_channel("CNOBOT", ["UANA", "UBEN", "UBOT"])  # someone typed /invite @hearth
    assert ritual.open_due(services, lambda team: slack, now=NOW + timedelta(minutes=5)) == 1
    with services.db.session() as s:
        round_ = s.get(repo.CheckinRound, blocked.round_id)
        assert round_.status == "open"
        assert round_.closes_at == NOW + timedelta(minutes=5, hours=48)  # a full window from when it opened
    assert len(outbox(services.db, "checkin.invite")) == 2


def test_a_circle_of_one_works(services, slack):
    enable(services, channel="CSOLO")
    result = open_round(services, slack, channel="CSOLO")
    assert result.facilitator == "UANA"
    assert submit(services, "UANA", result.round_id).errors is None
    closed = rounds.close_round(services, TEAM, "CSOLO", now=NOW + timedelta(hours=48))
    assert closed.summary.checked_in == 1 and closed.next_facilitator == "UANA"


def test_facilitators_rotate_fairly_across_rounds(services, slack):
    enable(services)
    seen = []
    for week in range(8):
        start = NOW + timedelta(weeks=week)
        result = open_round(services, slack, now=start)
        seen.append(result.facilitator)
        closed = rounds.close_round(services, TEAM, CIRCLE, now=start + timedelta(hours=48))
        assert closed.next_facilitator not in seen[-3:] or len(set(seen[-4:])) == 4
    assert sorted(seen[:4]) == HUMANS and seen[4:] == seen[:4]


def test_a_scheduled_opening_notes_the_next_one_across_a_daylight_saving_change(services, slack):
    enable(services)  # Mondays 10:00 Europe/Berlin
    autumn = datetime(2024, 10, 21, 8, 0, tzinfo=UTC)  # Monday 10:00 CEST
    with services.db.session() as s:
        circle_id = repo.circle(s, TEAM, CIRCLE).id
    assert ritual.open_due(services, lambda team: slack, now=autumn, key=str(circle_id)) == 1
    with services.db.session() as s:
        assert repo.circle(s, TEAM, CIRCLE).next_open_at == datetime(2024, 10, 28, 9, 0, tzinfo=UTC)


# ---- submitting -----------------------------------------------------------------------------------------

def test_a_check_in_is_stored_encrypted_and_shared_in_the_thread_under_the_name(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    result = submit(services, "UBEN", round_id, gratitude="  the river walk ", challenge="sleep", offer="bread")
    assert result.errors is None and not result.edited and result.closes_at > NOW
    assert submit(services, "UBEN", round_id, gratitude="the river walk", challenge="sleep", offer="bread").edited
    with services.db.session() as s:
        row = repo.checkin(s, round_id, "UBEN")
        assert "river" not in row.gratitude and "sleep" not in row.challenge  # ciphertext at rest
        text = repo.read_checkin(services.crypto, row)
    assert (text.gratitude, text.challenge, text.offer) == ("the river walk", "sleep", "bread")
    [share] = outbox(services.db, "checkin.share")
    assert share.target == CIRCLE and share.payload["thread_of"] == stored(services, rounds.round_key(round_id))
    assert "<@UBEN>" in share.payload["text"] and "the river walk" in share.payload["text"]
    buttons = [e for b in share.payload["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [b["action_id"] for b in buttons] == ["checkin.offer_help"]


def test_anonymous_shares_carry_no_name(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    submit(services, "UBEN", round_id, challenge="money worries", sharing="anonymous")
    [share] = outbox(services.db, "checkin.share")
    assert "UBEN" not in str(share.payload)


def test_facilitator_only_check_ins_go_to_the_facilitator_alone(services, slack):
    enable(services, sharing="facilitator")
    opened = open_round(services, slack)
    member = next(u for u in HUMANS if u != opened.facilitator)
    submit(services, member, opened.round_id, sharing="facilitator")
    [share] = outbox(services.db, "checkin.share")
    assert share.target == opened.facilitator and "thread_of" not in share.payload
    errors = submit(services, member, opened.round_id, sharing="named").errors  # more open than the circle
    assert set(errors) == {CheckinBlock.SHARING}


def test_member_text_cannot_ping_everyone_or_inject_formatting(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    submit(services, "UBEN", round_id, gratitude="<!channel> <@UANA> <https://evil|click> & more")
    [share] = outbox(services.db, "checkin.share")
    for text in (share.payload["text"], str(share.payload["blocks"])):
        assert "<!channel>" not in text and "<@UANA>" not in text and "<https://evil" not in text
        assert "&lt;!channel&gt;" in text


@pytest.mark.parametrize(("fields", "block"), [
    ({"gratitude": "   "}, CheckinBlock.GRATITUDE),
    ({"gratitude": "x" * 1001}, CheckinBlock.GRATITUDE),
    ({"challenge": "y" * 1001}, CheckinBlock.CHALLENGE),
    ({"offer": "z" * 301}, CheckinBlock.OFFER),
])
def test_bad_input_comes_back_as_an_inline_error_and_nothing_is_stored(services, slack, fields, block):
    enable(services)
    round_id = open_round(services, slack).round_id
    result = submit(services, "UBEN", round_id, **fields)
    assert set(result.errors) == {block} and result.errors[block]
    with services.db.session() as s:
        assert repo.checkin(s, round_id, "UBEN") is None


def test_editing_updates_the_shared_message_and_a_double_submission_is_one_check_in(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    submit(services, "UBEN", round_id, gratitude="tea")
    submit(services, "UBEN", round_id, gratitude="tea")  # the same submission again
    submit(services, "UBEN", round_id, gratitude="tea and cake")
    shares = outbox(services.db, "checkin.share")
    assert len(shares) == 2
    assert shares[1].payload["update_of"] == shares[0].dedupe_key and "cake" in shares[1].payload["text"]
    with services.db.session() as s:
        assert len(repo.checkins_of_round(s, round_id)) == 1


def test_moving_a_shared_check_in_to_facilitator_only_takes_it_out_of_the_thread(services, slack):
    enable(services)
    opened = open_round(services, slack)
    member = next(u for u in HUMANS if u != opened.facilitator)
    submit(services, member, opened.round_id, gratitude="tea")
    submit(services, member, opened.round_id, gratitude="tea", sharing="facilitator")
    first, withdrawn, private = outbox(services.db, "checkin.share")
    assert withdrawn.payload["update_of"] == first.dedupe_key and "tea" not in withdrawn.payload["text"]
    assert private.target == opened.facilitator


def test_submitting_after_the_round_closed_is_a_friendly_modal_error(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    rounds.close_round(services, TEAM, CIRCLE, now=NOW + timedelta(hours=3))
    result = submit(services, "UBEN", round_id, now=NOW + timedelta(hours=4))
    assert set(result.errors) == {CheckinBlock.GRATITUDE}
    assert "closed" in result.errors[CheckinBlock.GRATITUDE]
    late = submit(services, "UBEN", round_id, now=NOW + timedelta(hours=49))
    assert set(late.errors) == {CheckinBlock.GRATITUDE}


def test_checkin_command_opens_the_modal_asks_which_circle_or_says_nothing_is_open(services, slack):
    assert usecases.start_checkin(services, TEAM, "UANA", now=NOW) == NothingOpen(paused=False)
    enable(services)
    round_id = open_round(services, slack).round_id
    start = usecases.start_checkin(services, TEAM, "UANA", now=NOW)
    assert isinstance(start, Draft) and start.round_id == round_id
    assert views.start_view(services.copy, start)["callback_id"] == "checkin.submit"
    enable(services, channel="CSOLO")
    open_round(services, slack, channel="CSOLO")
    start = usecases.start_checkin(services, TEAM, "UANA", now=NOW)
    assert isinstance(start, Choice) and round_id in {r for r, _ in start.rounds} and len(start.rounds) == 2
    assert views.start_view(services.copy, start)["callback_id"] == "checkin.pick_circle"
    picked = usecases.start_checkin(services, TEAM, "UANA", round_id=round_id, now=NOW)
    assert views.start_view(services.copy, picked)["callback_id"] == "checkin.submit"


def test_the_modal_shows_the_existing_check_in_for_editing(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    submit(services, "UBEN", round_id, gratitude="the sea")
    start = usecases.start_checkin(services, TEAM, "UBEN", round_id=round_id, now=NOW)
    assert isinstance(start, Draft) and start.existing.gratitude == "the sea"
    assert "the sea" in str(views.start_view(services.copy, start))


# ---- peer help ------------------------------------------------------------------------------------------

def _shared_challenge(services, slack, sharing="named"):
    enable(services)
    round_id = open_round(services, slack).round_id
    submit(services, "UBEN", round_id, challenge="learning to drive", sharing=sharing)
    with services.db.session() as s:
        return round_id, repo.checkin(s, round_id, "UBEN").public_id


def test_offering_help_asks_the_owner_privately_and_accepting_opens_a_group_dm(services, slack):
    round_id, public_id = _shared_challenge(services, slack)
    assert "privately" in usecases.offer_help(services, TEAM, "UCAS", public_id)
    assert "already" in usecases.offer_help(services, TEAM, "UCAS", public_id)
    [ask] = outbox(services.db, "checkin.help")
    assert ask.target == "UBEN" and "<@UCAS>" in ask.payload["text"]
    offer_id = next(e["value"] for b in ask.payload["blocks"] if b["type"] == "actions" for e in b["elements"]
                    if e["action_id"] == "checkin.accept_help")
    assert not usecases.answer_help(services, TEAM, "UCAS", offer_id, accept=True).accepted  # not the owner
    answer = usecases.answer_help(services, TEAM, "UBEN", offer_id, accept=True)
    assert (answer.status, answer.helper_id) == ("accepted", "UCAS")
    assert answer.accepted
    usecases.answer_help(services, TEAM, "UBEN", offer_id, accept=True)  # a second click
    intro = outbox(services.db, "checkin.help")[1:]
    assert [r.target for r in intro] == ["UBEN,UCAS"]
    assert "learning to drive" in intro[0].payload["text"]


def test_declining_tells_nobody_and_helping_yourself_is_kindly_refused(services, slack):
    _, public_id = _shared_challenge(services, slack)
    own = usecases.offer_help(services, TEAM, "UBEN", public_id)
    assert own == services.copy.render("checkin_help_note.j2", outcome="own")
    assert outbox(services.db, "checkin.help") == []
    usecases.offer_help(services, TEAM, "UDIA", public_id)
    [ask] = outbox(services.db, "checkin.help")
    offer_id = ask.payload["blocks"][-1]["elements"][1]["value"]
    assert not usecases.answer_help(services, TEAM, "UBEN", offer_id, accept=False).accepted
    assert len(outbox(services.db, "checkin.help")) == 1


# ---- reminders and closing ------------------------------------------------------------------------------

def test_one_reminder_goes_only_to_members_still_here_who_have_not_checked_in(services, slack):
    enable(services)
    round_id = open_round(services, slack).round_id
    submit(services, "UANA", round_id)
    slack.members[CIRCLE].remove("UDIA")  # left the channel mid-round
    usecases.snooze(services, TEAM, "UCAS", "2024-06-10T00:00:00+00:00", now=NOW)
    remind_at = NOW + timedelta(hours=24)
    assert rounds.remind_due(services, lambda team: slack, now=remind_at - timedelta(minutes=1)) == 0
    assert rounds.remind_due(services, lambda team: slack, now=remind_at) == 1
    assert rounds.remind_due(services, lambda team: slack, now=remind_at + timedelta(hours=1)) == 0
    assert [r.target for r in outbox(services.db, "checkin.reminder")] == ["UBEN"]


def test_closing_posts_counts_only_and_chooses_the_next_facilitator(services, slack):
    enable(services)
    opened = open_round(services, slack)
    submit(services, "UANA", opened.round_id, challenge="a secret worry", sharing="anonymous")
    submit(services, "UBEN", opened.round_id, gratitude="friends")
    with services.db.session() as s:
        public_id = repo.checkin(s, opened.round_id, "UANA").public_id
    usecases.offer_help(services, TEAM, "UCAS", public_id)
    assert rounds.close_due(services, now=NOW + timedelta(hours=47)) == 0
    assert rounds.close_due(services, now=NOW + timedelta(hours=48)) == 1
    [summary] = outbox(services.db, "checkin.summary")
    assert summary.payload["thread_of"] == stored(services, rounds.round_key(opened.round_id))
    assert "secret" not in summary.payload["text"] and "friends" not in summary.payload["text"]
    for count in ("2 checked in", "1 challenge shared", "1 offer of help", "0 accepted"):
        assert count in summary.payload["text"]
    closed_prompt = outbox(services.db, "checkin.round")[-1]
    assert closed_prompt.payload["update_of"] == stored(services, rounds.round_key(opened.round_id))
    assert "actions" not in str([b["type"] for b in closed_prompt.payload["blocks"]])
    with services.db.session() as s:
        following = repo.circle(s, TEAM, CIRCLE).next_facilitator_id
    assert following in HUMANS and following != opened.facilitator
    again = rounds.close_round(services, TEAM, CIRCLE, now=NOW + timedelta(hours=49))
    assert again.status == "not_open" and len(outbox(services.db, "checkin.summary")) == 1
    assert open_round(services, slack, now=NOW + timedelta(weeks=1)).facilitator == following


# ---- App Home -------------------------------------------------------------------------------------------

def test_home_shows_circles_streaks_past_check_ins_named_offers_and_admin_participation(services, slack):
    enable(services)
    for week in range(3):
        start = NOW + timedelta(weeks=week)
        round_id = open_round(services, slack, now=start).round_id
        submit(services, "UANA", round_id, now=start + timedelta(hours=1), gratitude=f"week {week}")
        if week == 2:
            submit(services, "UBEN", round_id, now=start + timedelta(hours=1), offer="bike repairs")
            submit(services, "UCAS", round_id, now=start + timedelta(hours=1), offer="secret skill",
                   sharing="anonymous")
            break
        rounds.close_round(services, TEAM, CIRCLE, now=start + timedelta(hours=48))
    data = home.home_data(services, TEAM, "UANA", admin=True, now=NOW + timedelta(weeks=2, hours=2))
    [card] = data.circles
    assert card.checked_in and card.round_id == round_id and card.streak == 3
    assert [p.text.gratitude for p in data.past] == ["week 2", "week 1", "week 0"]
    assert [(o.user_id, o.offer) for o in data.offers] == [("UBEN", "bike repairs")]
    [stats] = data.admin
    assert [(r.members, r.checked_in) for r in stats.rounds] == [(4, 3), (4, 1), (4, 1)]
    member_view = home.home_data(services, TEAM, "UDIA", admin=False, now=NOW + timedelta(weeks=2, hours=2))
    assert member_view.admin is None and member_view.circles[0].streak == 0
    assert not member_view.circles[0].checked_in and not member_view.circles[0].opted_out
    with services.db.session() as s:  # not among the open round's participants (paused when it opened, say)
        s.execute(delete(CheckinParticipant).where(CheckinParticipant.round_id == round_id,
                                                   CheckinParticipant.user_id == "UDIA"))
    [left_out] = home.home_data(services, TEAM, "UDIA", admin=False, now=NOW + timedelta(weeks=2, hours=2)).circles
    assert left_out.round_id == round_id and not left_out.checked_in  # the open round is still offered
    usecases.opt_out(services, TEAM, "UDIA", card.circle_id)  # their own choice shows on their Home only
    later = NOW + timedelta(weeks=2, hours=3)
    assert home.home_data(services, TEAM, "UDIA", admin=False, now=later).circles[0].opted_out
    assert not home.home_data(services, TEAM, "UANA", admin=False, now=later).circles[0].opted_out


def test_home_blocks_are_valid_and_offer_resume_when_paused(services, slack):
    from slack_app.checkins import views

    enable(services)
    open_round(services, slack)
    usecases.pause(services, TEAM, "UANA")
    blocks = views.home_blocks(services.copy, home.home_data(services, TEAM, "UANA", admin=True, now=NOW))
    assert "checkin.resume" in str(blocks)


def test_the_published_home_shows_a_pause_and_a_snooze_read_with_the_members_row(services, slack):
    from slack_app import home as app_home

    enable(services)
    open_round(services, slack)

    def shown() -> str:
        app_home.show(services, slack, TEAM, "UANA")
        return str(slack.calls("views.publish")[-1]["view"]["blocks"])

    assert "checkin.resume" not in shown()  # no preferences set: the defaults
    usecases.pause(services, TEAM, "UANA")
    assert "checkin.resume" in shown()
    usecases.resume(services, TEAM, "UANA")
    assert "checkin.resume" not in shown()
    until = (utcnow() + timedelta(days=7)).replace(microsecond=0)
    usecases.snooze(services, TEAM, "UANA", until.isoformat())
    home_now = shown()
    assert "checkin.resume" in home_now and f"<!date^{int(until.timestamp())}^" in home_now


def test_an_admin_with_very_many_circles_still_gets_a_home_slack_accepts(services, slack):
    from slack_app import home as app_home

    for i in range(120):  # 120 circles: a participation line each for the admin, beyond 100 blocks
        channel = f"CMANY{i:03d}"
        slack.add_channel(channel, ["UADMIN", "UBOT"])
        enable(services, channel=channel)
    app_home.show(services, slack, TEAM, "UADMIN")
    [published] = slack.calls("views.publish")
    shown = published["view"]["blocks"]
    assert len(shown) == 100 and "more than fits" in str(shown[-1])


def test_a_known_members_home_is_drawn_in_one_transaction_and_a_new_members_row_is_written_first(services,
                                                                                                 slack):
    from sqlalchemy import event

    from slack_app import home as app_home
    from storage import members

    enable(services)
    open_round(services, slack)
    begun = []

    def began(_connection) -> None:
        begun.append(1)

    event.listen(services.db.engine, "begin", began)
    try:
        assert members.get(services.db, TEAM, "UNEW") is None  # not in any channel Hearth has listed
        units = len(begun)
        app_home.show(services, slack, TEAM, "UNEW")  # their first Home
        first, units = len(begun) - units, len(begun)
        app_home.show(services, slack, TEAM, "UNEW")
        again = len(begun) - units
    finally:
        event.remove(services.db.engine, "begin", began)
    assert first == 3  # looked for, written, then drawn
    assert members.get(services.db, TEAM, "UNEW") is not None
    assert again == 1  # a Home is a quarter of a busy day's requests: one unit of work each
    first_home, second_home = (call["view"] for call in slack.calls("views.publish"))
    assert second_home["blocks"] == first_home["blocks"]
    assert "checkin.home" in [b.get("block_id") for b in second_home["blocks"]]



def test_a_members_home_reads_their_circles_with_the_listing_and_their_opt_outs_in_one_statement(services, slack):
    from sqlalchemy import event

    from slack_app import home as app_home

    enable(services)
    round_id = open_round(services, slack).round_id
    submit(services, "UBEN", round_id)
    statements: list[str] = []

    def seen(_conn, _cursor, sql, *_):
        statements.append(sql)

    event.listen(services.db.engine, "before_cursor_execute", seen)
    try:
        app_home.show(services, slack, TEAM, "UBEN")
    finally:
        event.remove(services.db.engine, "before_cursor_execute", seen)
    tables = [sql.split()[1].split(".")[0] for sql in statements]  # what each statement reads first
    # their row with their pause and snooze; their circles with the channel's listing and their opt-outs; their
    # rounds of the circle; their past check-ins; the circle's offers; the buddy programs
    assert tables == ["member", "checkin_circle", "checkin_round", "checkin", "checkin", "buddy_program"], tables
    [card] = home.home_data(services, TEAM, "UBEN", admin=False, now=NOW).circles
    assert card.checked_in and not card.opted_out

# ---- words and limits -----------------------------------------------------------------------------------

def test_every_view_and_message_fits_slacks_limits(services, slack):
    from slack_sdk.models.blocks import Block
    from slack_sdk.models.views import View

    from slack_app.checkins import views

    enable(services)
    opened = open_round(services, slack)
    member = next(u for u in HUMANS if u != opened.facilitator)
    long_text = {"gratitude": "g" * 1000, "challenge": "c" * 1000, "offer": "o" * 300}
    modal = views.start_view(services.copy, usecases.start_checkin(services, TEAM, member, round_id=opened.round_id,
                                                                   now=NOW))
    submitted = submit(services, member, opened.round_id, **long_text)
    with services.db.session() as s:
        circle = repo.circle(s, TEAM, CIRCLE)
        thanks = views.thanks_modal(services.copy, submitted.closes_at, edited=submitted.edited)
        modals = [modal, thanks, views.pick_circle_modal(services.copy, [(1, "C1"), (2, "C2")]),
                  views.notice_modal(services.copy, "round_closed"),
                  views.settings_modal(services.copy, circle, CIRCLE, "UTC"),
                  views.settings_modal(services.copy, None, None, "UTC")]
    for view in modals:
        View(**view).validate_json()
        assert len(view["title"]["text"]) <= 24
    rounds.close_round(services, TEAM, CIRCLE, now=NOW + timedelta(hours=5))
    for row in outbox(services.db):
        assert row.payload["text"] and len(row.payload["text"]) <= 4000
        assert len(row.payload["blocks"]) <= 50
        for block in row.payload["blocks"]:
            Block.parse(block).validate_json()
    home_view = {"type": "home", "blocks": views.home_blocks(services.copy, home.home_data(
        services, TEAM, member, admin=True, now=NOW + timedelta(hours=1)))}
    View(**home_view).validate_json()


def test_a_community_can_reword_check_ins_from_its_own_templates(db, tmp_path, slack):
    from slack_app.copy import Copy
    from slack_app.services import Services
    from slack_app.settings import load_settings
    from slack_app.workflows import WORKFLOWS
    from storage.crypto import Crypto, generate_key

    (tmp_path / "checkin_round_open.j2").write_text("¡Hora del check-in en {{ channel_id|channel }}!")
    settings = load_settings(env_file=None, DATABASE_URL=db.url, HEARTH_TEMPLATES_DIR=str(tmp_path))
    services = Services(settings=settings, db=db, crypto=Crypto([generate_key()]),
                        copy=Copy(settings.HEARTH_TEMPLATES_DIR), archive=None, workflows=WORKFLOWS)
    enable(services)
    open_round(services, slack)
    [prompt] = outbox(db, "checkin.round")
    assert prompt.payload["text"] == f"¡Hora del check-in en <#{CIRCLE}>!"
    others = outbox(db, "checkin.invite")[1:]  # the rest keeps Hearth's own words
    assert others and all("check-in round is open" in r.payload["text"] for r in others)


def test_a_busy_slack_defers_the_opening_without_bothering_admins(services, slack):
    enable(services)
    slack.fail_next("conversations.members", "ratelimited", status=429, retry_after=3)
    result = rounds.open_round(services, slack, TEAM, CIRCLE, now=NOW)
    assert result.status == "deferred"
    assert outbox(services.db, "checkin.problem") == [] and outbox(services.db, "checkin.round") == []
    assert ritual.open_due(services, lambda team: slack, now=NOW + timedelta(minutes=1)) == 1
    assert len(outbox(services.db, "checkin.invite")) == 4


# ---- scheduled jobs -------------------------------------------------------------------------------------

def test_each_enabled_circle_gets_an_opening_job_on_its_own_clock_across_daylight_saving(services, slack):
    from slack_app.checkins import jobs
    from slack_app.scheduling.trigger import fire_times, trigger_for

    enable(services)  # Mondays 10:00 Europe/Berlin
    enable(services, channel="CSOLO", cadence="biweekly", day="fri", local_time="17:00", tz="America/New_York")
    usecases.disable_circle(services, TEAM, "CSOLO")
    with services.db.session() as s:
        [spec] = jobs.JOBS.sources["checkins"](s)
    assert spec.action == "checkins.open_round" and spec.params["team_id"] == TEAM
    fires = fire_times(trigger_for(spec.cadence), datetime(2024, 3, 20, tzinfo=UTC),
                       datetime(2024, 4, 2, tzinfo=UTC))
    assert fires == [datetime(2024, 3, 25, 9, 0, tzinfo=UTC), datetime(2024, 4, 1, 8, 0, tzinfo=UTC)]


def test_the_declared_actions_open_remind_and_close(services, slack):
    from slack_app.scheduling.registry import JobBook, JobContext

    get_action = JobBook(w.jobs for w in services.workflows).action

    circle_id = enable(services).circle_id
    ctx = JobContext(db=services.db, params={"team_id": TEAM, "key": str(circle_id)}, services=services,
                     ports=lambda team: slack)
    get_action("checkins.open_round")(ctx)
    assert len(outbox(services.db, "checkin.invite")) == 4
    sweep = JobContext(db=services.db, params={}, services=services, ports=lambda team: slack)
    assert get_action("checkins.open_due")(sweep) == 0  # nothing waiting, nothing overdue
    assert get_action("checkins.remind_due")(sweep) == 0  # not yet
    assert get_action("checkins.close_due")(sweep) == 0
