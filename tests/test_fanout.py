"""Survey launches and buddy rounds fan out at once (issue 13): against the Slack simulator, no per-member
lookup happens before the rows are written, and members whose profile was unknown are resolved by the
delivery worker — a bot or a deactivated account is never written to, and nobody is left with one."""

from __future__ import annotations

import logging
from datetime import timedelta

from slack_app.buddies import rules, usecases
from slack_app.delivery.worker import ALONE, REGROUP, RESOLVE_USER
from slack_app.scheduling.cadence import next_after
from slack_app.simulator.workspace import Channel, User
from slack_app.surveys import usecases as surveys
from storage import buddies as buddies_repo
from storage import members, outbox
from tests.privacy import assert_logs_carry_no_user_ids

TEAM = "T0HEARTH"
BIG = "CBIG"
NOT_PEOPLE = {"UHEARTHBOT", "UOTHERBOT", "UGONE", "UBOT1", "UBOT2"}  # bots and a deactivated account


def crowd(simulator, n: int) -> list[str]:
    """A channel of `n` people Hearth has never seen (more than the roster looks up one by one), Hearth,
    three other bots and a deactivated member."""
    ids = [f"UP{i:05d}" for i in range(n)]
    for i, uid in enumerate(ids):
        simulator.workspace.add_user(User(uid, f"p{i}", f"Person {i}", tz="Europe/Berlin"))
    for bot in ("UBOT1", "UBOT2"):
        simulator.workspace.add_user(User(bot, bot.lower(), "Some Bot", is_bot=True))
    simulator.workspace.add_channel(Channel(BIG, "big", members={*NOT_PEOPLE, *ids}))
    return ids


class Watched:
    """The Slack port, noting each call made before any row of the fan-out (`kind`) was written."""

    def __init__(self, port, services, kind: str) -> None:
        self.port, self.services, self.kind, self.before = port, services, kind, []

    def __getattr__(self, name: str):
        method = getattr(self.port, name)

        def call(*args, **kwargs):
            with self.services.db.session() as s:
                if not outbox.rows(s, team_id=TEAM, kind=self.kind):
                    self.before.append(name)
            return method(*args, **kwargs)

        return call


def dm_texts(simulator, user: str) -> list[str]:
    return [m.get("text") or "" for m in simulator.messages(user)] if simulator.dm_channel(user) else []


# ---- surveys ----------------------------------------------------------------------------------------------

def test_a_survey_launch_writes_its_invitations_before_asking_about_anyone(simulator, services, slack, deliver,
                                                                              caplog):
    caplog.set_level(logging.DEBUG, logger="hearth")
    people = crowd(simulator, 40)
    simulator.clear_calls()
    simulator.fail_next("users.list", error="internal_error")  # warming fails: the worker asks about each
    instrument, source = surveys.load_survey("belonging")
    watched = Watched(slack, services, "survey.invite")
    started = surveys.launch(services, watched, TEAM, instrument, source, channel_id=BIG, closes=timedelta(days=5),
                             min_responses=5, launched_by="UP00000")
    # the unknown bots and the deactivated member count towards the audience until the worker knows better
    assert started.status == "launched" and started.audience == 45 and started.invited == 45
    with services.db.session() as s:
        rows = outbox.rows(s, team_id=TEAM, kind="survey.invite")
    assert len(rows) == 45 and all(r.payload.get(RESOLVE_USER) for r in rows)
    assert watched.before == ["channel_members"]  # no per-member lookup before the invitations are written
    assert [c.method for c in simulator.calls] == ["conversations.members", "users.list"]  # then the warm-up

    simulator.clear_calls()
    stats = deliver()
    posted = {c.params["channel"] for c in simulator.calls_for("chat.postMessage")}
    assert posted == set(people)  # not one invitation to a bot or the deactivated account
    assert stats["skipped"] == len(NOT_PEOPLE) and stats["failed"] == 0
    assert len(simulator.calls_for("users.info")) == 45  # each asked about once, as their turn came …
    with services.db.session() as s:
        known = members.by_id(s, TEAM, [*people, *NOT_PEOPLE])
    assert all(m.profile_at is not None for m in known.values())  # … and kept
    # privacy as before: neither the metadata Slack got nor the stored keys name anyone
    for call in simulator.calls_for("chat.postMessage"):
        assert call.params["channel"] not in str(call.params.get("metadata"))
    with services.db.session() as s:
        assert not any(u in r.dedupe_key for r in outbox.rows(s, team_id=TEAM) for u in people)
    assert_logs_carry_no_user_ids(caplog.records, people)


def test_a_survey_launch_warms_the_profiles_so_the_worker_rarely_asks(simulator, services, slack, deliver):
    people = crowd(simulator, 40)
    instrument, source = surveys.load_survey("belonging")
    started = surveys.launch(services, slack, TEAM, instrument, source, channel_id=BIG, closes=timedelta(days=5),
                             min_responses=5)
    assert started.status == "launched"
    simulator.clear_calls()
    stats = deliver()
    assert simulator.calls_for("users.info") == []  # the bulk read after the rows answered for everyone
    assert {c.params["channel"] for c in simulator.calls_for("chat.postMessage")} == set(people)
    assert stats["skipped"] == len(NOT_PEOPLE)


# ---- buddies ----------------------------------------------------------------------------------------------

def test_a_buddy_round_is_matched_and_written_before_asking_about_anyone(simulator, services, slack, deliver,
                                                                            caplog):
    caplog.set_level(logging.DEBUG, logger="hearth")
    people = crowd(simulator, 40)
    lone = people[0]
    usecases.enable(services, TEAM, BIG, rules.parse_settings(size=2))
    with services.db.session() as s:  # `lone` may meet no other person: their group can only hold bots
        buddies_repo.set_never_pair(s, services.crypto, TEAM, lone, people[1:])
    simulator.clear_calls()
    simulator.fail_next("users.list", error="internal_error")  # warming fails: the worker asks about each

    watched = Watched(slack, services, "buddies.intro")
    result = usecases.plan_round(services, watched, TEAM, BIG)
    assert result.status == "opened" and result.plan is not None
    assert result.participants == 45  # the unknown ones are matched as people on UTC
    assert watched.before == ["channel_members"]
    assert [c.method for c in simulator.calls] == ["conversations.members", "users.list"]

    deliver()
    opened = [set(c.params["users"].split(",")) for c in simulator.calls_for("conversations.open") if c.ok]
    assert all(not (g & NOT_PEOPLE) for g in opened)  # no conversation with a bot or a deactivated account
    opened = [g for g in opened if len(g) > 1]  # the group DMs (a DM is opened for a note to one alone)
    for group in result.plan.groups:
        humans = set(group) - NOT_PEOPLE
        if len(humans) >= 2:  # introduced to each other, in words that name only them
            assert humans in opened
            (intro,) = simulator.messages(next(c for c in simulator.conversations_of(min(humans))
                                               if set(simulator.workspace.channels[c].members) - {"UHEARTHBOT"}
                                               == humans))
            assert not any(f"<@{u}>" in intro["text"] for u in NOT_PEOPLE)
        elif humans:  # nobody to meet after all: told kindly, and first in line next round
            (alone,) = humans
            assert alone not in set().union(*opened)
            assert any("first in line next round" in t for t in dm_texts(simulator, alone))
    assert lone not in set().union(*opened)
    assert any("first in line next round" in t for t in dm_texts(simulator, lone))
    for user in NOT_PEOPLE:
        assert not dm_texts(simulator, user)
    assert_logs_carry_no_user_ids(caplog.records, people)

    # next round: everyone is known now; the one left alone comes first when someone must sit out (against two
    # who were really introduced: someone the seed paired with a bot would have the same priority)
    met = sorted(u for g in result.plan.groups if len(set(g) - NOT_PEOPLE) >= 2 for u in g if u not in NOT_PEOPLE)
    a, b = met[:2]
    with services.db.session() as s:
        buddies_repo.set_never_pair(s, services.crypto, TEAM, lone, [a])
    for user in people[1:]:
        if user not in (a, b):
            usecases.choose(services, TEAM, BIG, user, "skip")
    simulator.clear_calls()
    second = usecases.plan_round(services, slack, TEAM, BIG)
    assert second.participants == 3 and simulator.calls_for("users.info") == []
    assert second.plan is not None and [set(g) for g in second.plan.groups] == [{lone, b}]
    assert second.plan.left_out == [a]


def test_the_heads_up_is_where_a_programs_profiles_are_read(simulator, services, slack, deliver):
    people = crowd(simulator, 40)
    usecases.enable(services, TEAM, BIG, rules.parse_settings(size=2))
    with services.db.session() as s:
        prog = buddies_repo.program(s, TEAM, BIG)
        nxt = next_after(usecases.cadence_of(prog), prog.enabled_at)
    simulator.clear_calls()
    watched = Watched(slack, services, "buddies.heads_up")
    sent = usecases.heads_up_due(services, lambda team: watched, now=rules.heads_up_at(nxt, "UTC") + timedelta(minutes=1))
    assert sent == 45 and watched.before == ["channel_members"]
    assert "users.list" in [c.method for c in simulator.calls]  # read in bulk once the heads-ups are written
    deliver()
    assert all(dm_texts(simulator, u) for u in people) and not any(dm_texts(simulator, u) for u in NOT_PEOPLE)

    # the round, a business day later, knows everyone: no bot is matched, nothing is left to resolve
    simulator.clear_calls()
    result = usecases.plan_round(services, slack, TEAM, BIG, occurrence=nxt, now=nxt)
    assert result.participants == 40 and result.plan is not None
    assert not set().union(*map(set, result.plan.groups)) & NOT_PEOPLE
    assert {c.method for c in simulator.calls} <= {"conversations.members"}  # at most a new listing
    with services.db.session() as s:
        assert not any(r.payload.get(RESOLVE_USER) for r in outbox.rows(s, team_id=TEAM, kind="buddies.intro"))


# ---- the worker's side of a group DM ----------------------------------------------------------------------

def test_the_worker_opens_a_group_dm_with_only_its_people(services, simulator, slack, deliver):
    """A group written before its members were known: the bot and the deactivated account are dropped, the
    smaller group gets its own words, one left alone gets the note, and a group of nobody is dropped."""
    def payload(text: str, **extra) -> dict:
        return {"text": text, RESOLVE_USER: True, **extra}

    with services.db.session() as s:
        outbox.enqueue_sensitive(s, team_id=TEAM, kind="buddies.intro", recipient=["UALICE", "UBOB", "UOTHERBOT"],
                                 payload=payload("all three", **{REGROUP: {"UALICE,UBOB": {"text": "two of you"}},
                                                                 ALONE: {"text": "alone"}}),
                                 dedupe_key="g1")
        outbox.enqueue_sensitive(s, team_id=TEAM, kind="buddies.intro", recipient=["UCARMEN", "UGONE"],
                                 payload=payload("both", **{ALONE: {"text": "alone"}}), dedupe_key="g2")
        outbox.enqueue_sensitive(s, team_id=TEAM, kind="buddies.intro", recipient=["UOTHERBOT", "UGONE"],
                                 payload=payload("nobody"), dedupe_key="g3")
        outbox.enqueue_sensitive(s, team_id=TEAM, kind="buddies.intro", recipient=["UDEV", "UEMI"],
                                 payload=payload("plain pair"), dedupe_key="g4")
    stats = deliver()
    assert stats["sent"] == 3 and stats["skipped"] == 1 and stats["failed"] == 0
    opened = sorted(c.params["users"] for c in simulator.calls_for("conversations.open"))
    assert opened == ["UALICE,UBOB", "UCARMEN", "UDEV,UEMI"]
    texts = {c.params["channel"]: c.params["text"] for c in simulator.calls_for("chat.postMessage")}
    assert sorted(texts.values()) == ["alone", "plain pair", "two of you"]
    assert dm_texts(simulator, "UCARMEN") == ["alone"]
    with services.db.session() as s:
        assert outbox.rows(s, team_id=TEAM) == []  # sensitive rows: gone once delivered or dropped
