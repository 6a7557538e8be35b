"""Buddy introductions end to end: rounds through the use cases the scheduler calls, `/buddies` through
signed requests, the outbox drained by a real delivery worker into the Slack simulator.

#general (CGENERAL) holds six humans (Alice, Bob, Carmen, Dev, Emi, Finn), a deactivated member and two bots.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from itertools import combinations

import pytest

from slack_app.buddies import ritual, rules, usecases
from storage import buddies as repo
from storage.models import utcnow
from tests.conftest import TRANSPORTS
from tests.privacy import assert_logs_carry_no_user_ids, database_dump

TEAM = "T0HEARTH"
CHANNEL = "CGENERAL"
HUMANS = {"UALICE", "UBOB", "UCARMEN", "UDEV", "UEMI", "UFINN"}



def group_dms(simulator, since: int = 0) -> list[set[str]]:
    """The member sets of the group DMs Hearth opened (after the first `since` opens)."""
    opens = [c for c in simulator.calls_for("conversations.open") if c.ok][since:]
    return [set(c.params["users"].split(",")) for c in opens]


def enable(hearth, **settings):
    return usecases.enable(hearth.services, TEAM, CHANNEL, rules.parse_settings(**settings))


def test_a_round_introduces_everyone_in_group_dms(server, simulator, hearth, slack, deliver, caplog):
    caplog.set_level(logging.DEBUG, logger="hearth")
    enable(hearth)
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    assert result.status == "opened" and result.plan is not None
    deliver()
    groups = group_dms(simulator)
    assert sorted(len(g) for g in groups) == [2, 2, 2]
    assert set().union(*groups) == HUMANS  # everyone once; no bots, not the deactivated member
    for call in simulator.calls_for("conversations.open"):
        channel = call.params.get("users")
        assert channel and "UHEARTHBOT" not in channel
    intros = [m for c in simulator.workspace.channels.values() if c.is_mpim for m in simulator.messages(c.id)]
    assert len(intros) == 3
    assert all("buddies" in m["text"] and "Something to start with" in m["text"] for m in intros)
    # Who met whom is never kept in clear: groups are sealed, intros are sensitive (deleted once sent).
    dump = database_dump(hearth.services.db)
    for table in ("buddy_group", "buddy_round", "outbox"):
        assert not any(u in cell for row in dump[table] for cell in row for u in HUMANS), table
    assert_logs_carry_no_user_ids(caplog.records, HUMANS)


def test_skip_never_pair_and_no_repeats_across_rounds(driver, simulator, hearth, slack, deliver):
    enable(hearth)
    with hearth.services.db.session() as s:
        repo.set_never_pair(s, hearth.services.crypto, TEAM, "UALICE", ["UDEV"])
        repo.add_must_not_meet(s, hearth.services.crypto, TEAM, "UBOB", "UEMI")
    usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    deliver()
    first = group_dms(simulator)
    answer = driver.as_member("UBOB").command("/buddies", text="skip", channel=CHANNEL)
    assert "sit out the next round" in answer.json["text"]
    second_result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    deliver()
    second = group_dms(simulator, since=len(first))
    assert "UBOB" not in set().union(*second)
    assert sorted(len(g) for g in second) == [2, 3]
    met = {frozenset(p) for g in first for p in combinations(g, 2)}
    assert not any(frozenset(p) in met for g in second for p in combinations(g, 2))  # 5 people: repeat-free exists
    for g in first + second:
        assert not {"UALICE", "UDEV"} <= g and not {"UBOB", "UEMI"} <= g
    assert second_result.plan is not None and second_result.plan.quality.violations == 0
    third = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)  # the skip is used up
    assert third.plan is not None and "UBOB" in {m for g in third.plan.groups for m in g}


def test_buddies_command_answers_privately(driver, simulator, hearth):
    enable(hearth)
    bob = driver.as_member("UBOB")
    assert "sit out the next round" in bob.command("/buddies", text="skip", channel=CHANNEL).json["text"]
    assert "paused" in bob.command("/buddies", text="pause", channel=CHANNEL).json["text"]
    assert "Welcome back" in bob.command("/buddies", text="resume", channel=CHANNEL).json["text"]
    assert "left" in bob.command("/buddies", text="leave", channel=CHANNEL).json["text"]
    with hearth.services.db.session() as s:
        from slack_app import preferences
        assert preferences.of(s, TEAM, "UBOB", "buddies").opted_out_of("buddies", CHANNEL)
    assert "You're in" in bob.command("/buddies", text="join", channel=CHANNEL).json["text"]
    assert "no buddy introductions" in bob.command("/buddies", text="skip", channel="CCIRCLE").json["text"]
    assert "/buddies skip" in bob.command("/buddies", text="", channel=CHANNEL).json["text"]


def test_paused_and_left_members_are_not_introduced_and_the_odd_one_is_told(simulator, hearth, slack, deliver):
    enable(hearth)
    for user, action in (("UBOB", "pause"), ("UDEV", "leave"), ("UEMI", "skip")):
        usecases.choose(hearth.services, TEAM, CHANNEL, user, action)
    with hearth.services.db.session() as s:  # Alice may meet neither of the two left: she cannot be placed
        repo.set_never_pair(s, hearth.services.crypto, TEAM, "UALICE", ["UCARMEN", "UFINN"])
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    deliver()
    assert result.plan is not None and result.plan.left_out == ["UALICE"]
    assert group_dms(simulator) == [{"UCARMEN", "UFINN"}]
    assert any("first in line next round" in m["text"] for m in simulator.messages(simulator.dm_channel("UALICE")))
    with hearth.services.db.session() as s:
        prog = repo.program(s, TEAM, CHANNEL)
        assert repo.members(s, prog.id)["UALICE"].priority


def test_the_ritual_opens_a_round_once_on_its_cadence(simulator, hearth, slack, deliver):
    prog, _ = enable(hearth, cadence="weekly", day="mon", local_time="10:00", timezone="UTC")
    with hearth.services.db.session() as s:
        s.get(repo.BuddyProgram, prog.id).enabled_at = utcnow() - timedelta(days=8)
    opened = ritual.rituals.open_due(ritual.RITUAL, hearth.services, lambda team: slack)
    again = ritual.rituals.open_due(ritual.RITUAL, hearth.services, lambda team: slack)
    assert (opened, again) == (1, 0)
    deliver()
    assert len(group_dms(simulator)) == 3
    with hearth.services.db.session() as s:
        rounds = repo.rounds(s, prog.id)
        assert len(rounds) == 1 and rounds[0].occurrence is not None


def test_dry_run_sends_nothing(simulator, hearth, slack):
    enable(hearth, size=3)
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL, dry_run=True)
    assert result.status == "planned" and result.plan is not None
    assert sorted(len(g) for g in result.plan.groups) == [3, 3]
    assert not simulator.calls_for("conversations.open")
    with hearth.services.db.session() as s:
        assert repo.rounds(s, repo.program(s, TEAM, CHANNEL).id) == []


def test_cli_enables_plans_runs_and_reports(simulator, database_url, db, tmp_path, monkeypatch):
    from click.testing import CliRunner

    from slack_app.cli import main
    from storage.crypto import generate_key

    monkeypatch.chdir(tmp_path)  # no .env here
    env = {"SLACK_BOT_TOKEN": simulator.bot_token, "SLACK_API_URL": simulator.base_url,
           "DATABASE_URL": database_url, "HEARTH_ENCRYPTION_KEY": generate_key(),
           "ARCHIVE_URL": str(tmp_path / "archive"), "HEARTH_TIMEZONE": "Europe/Berlin"}
    runner = CliRunner()

    def hearth(*args):
        return runner.invoke(main, ["buddies", *args], env=env)

    assert "not set up" in hearth("status", "--channel", CHANNEL).output
    enabled = hearth("enable", "--channel", CHANNEL, "--size", "3", "--cadence", "weekly", "--day", "thu")
    assert enabled.exit_code == 0, enabled.output
    assert "groups of 3, weekly on thu at 10:00 Europe/Berlin" in enabled.output
    for args, field in ((("--size", "9"), "--size"), (("--cadence", "daily"), "--cadence"),
                        (("--day", "someday"), "--day"), (("--time", "25:00"), "--time"),
                        (("--timezone", "Mars/Olympus"), "--timezone"), (("--mix-with", "#team"), "--mix-with"),
                        (("--repeat-window", "0"), "--repeat-window"), (("--mix-field", "name"), "--mix-field"),
                        (("--mix-field", "title", "--mix-with", "CCIRCLE"), "--mix-field")):
        bad = hearth("enable", "--channel", CHANNEL, *args)
        assert bad.exit_code == 2 and field in bad.output and "Traceback" not in bad.output
    mixed = hearth("enable", "--channel", CHANNEL, "--size", "3", "--cadence", "weekly", "--day", "thu",
                   "--mix-field", "title", "--repeat-window", "6")
    assert mixed.exit_code == 0 and "mixing by profile field title; no repeats within 6 rounds" in mixed.output
    assert "mixing by profile field title; no repeats within 6 rounds" in hearth("status", "--channel", CHANNEL).output
    planned = hearth("match", "--channel", CHANNEL, "--dry-run")
    assert planned.exit_code == 0, planned.output
    assert "groups mixing teams: 2 of 2" in planned.output
    assert "6 taking part" in planned.output and "repeats: 0" in planned.output
    assert "constraint violations: 0" in planned.output and "working-hours overlap" in planned.output
    assert not simulator.calls_for("conversations.open")
    assert hearth("match", "--channel", CHANNEL).exit_code == 2  # planning without --dry-run is refused
    ran = hearth("run", "--channel", CHANNEL)
    assert ran.exit_code == 0 and "2 introductions queued for 6 members" in ran.output
    status = hearth("status", "--channel", CHANNEL)
    assert "2 groups, 0 left out, 0 repeats, repeat rate 0%" in status.output
    assert hearth("disable", "--channel", CHANNEL).exit_code == 0
    assert f"{CHANNEL}: off;" in hearth("status", "--channel", CHANNEL).output
    off = hearth("run", "--channel", CHANNEL)
    assert off.exit_code == 2 and "are off" in off.output
    assert hearth("run", "--channel", "CCIRCLE").exit_code == 2


def test_a_scheduled_round_that_cannot_list_the_channel_is_retried(simulator, hearth, slack, deliver):
    prog, _ = enable(hearth, cadence="weekly", day="mon", local_time="10:00", timezone="UTC")
    with hearth.services.db.session() as s:
        s.get(repo.BuddyProgram, prog.id).enabled_at = utcnow() - timedelta(days=8)
    simulator.fail_next("conversations.members", error="ratelimited", status=429, count=5)
    assert ritual.rituals.open_due(ritual.RITUAL, hearth.services, lambda team: slack) == 0
    with hearth.services.db.session() as s:
        assert repo.rounds(s, prog.id) == [] and s.get(repo.BuddyProgram, prog.id).last_occurrence is None
    assert ritual.rituals.open_due(ritual.RITUAL, hearth.services, lambda team: slack) == 1
    deliver()
    assert len(group_dms(simulator)) == 3


def test_a_round_where_everyone_skips_still_completes(simulator, hearth, slack, deliver):
    enable(hearth)
    for user in HUMANS:
        usecases.choose(hearth.services, TEAM, CHANNEL, user, "skip")
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    deliver()
    assert result.status == "too_few" and result.round_id is not None
    assert not simulator.calls_for("conversations.open")
    nxt = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)  # skips were for one round only
    assert nxt.plan is not None and len(nxt.plan.groups) == 3


def test_never_pair_from_slack_is_confidential_and_honoured(driver, simulator, hearth, slack, caplog):
    caplog.set_level(logging.DEBUG, logger="hearth")
    enable(hearth)
    alice = driver.as_member("UALICE")
    answer = alice.command("/buddies", text="never <@UDEV|dev> <@UEMI|emi>", channel=CHANNEL).json["text"]
    assert "never be grouped with <@UDEV>, <@UEMI>" in answer
    assert "<@UDEV>, <@UEMI>" in alice.command("/buddies", text="never", channel=CHANNEL).json["text"]
    assert "Mention the people" in alice.command("/buddies", text="never dev", channel=CHANNEL).json["text"]
    dump = database_dump(hearth.services.db)
    assert not any(u in cell for row in dump["buddy_never_pair"] for cell in row for u in ("UDEV", "UEMI"))
    for seed_round in range(4):
        result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
        assert result.plan is not None, seed_round
        for g in result.plan.groups:
            assert not ({"UALICE", "UDEV"} <= set(g) or {"UALICE", "UEMI"} <= set(g))
    assert "empty now" in alice.command("/buddies", text="never clear", channel=CHANNEL).json["text"]
    assert "list is empty" in alice.command("/buddies", text="never", channel=CHANNEL).json["text"]
    assert_logs_carry_no_user_ids(caplog.records, HUMANS)


def test_app_home_shows_programs_and_admins_see_the_last_round(driver, simulator, hearth, slack):
    from slack_app.simulator import wait_for

    enable(hearth)
    usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    driver.as_member("UALICE").open_home()  # an admin
    assert wait_for(lambda: "3 groups, 0 left out · meet rate not asked yet · repeat rate 0% (0 of 3" in str(
        (simulator.home("UALICE") or {}).get("blocks")))
    driver.as_member("UBOB").open_home()  # a member of #general
    assert wait_for(lambda: "Buddy introductions" in str((simulator.home("UBOB") or {}).get("blocks")))
    bob = str(simulator.home("UBOB")["blocks"])
    assert "groups of 2, biweekly" in bob and "repeat rate" not in bob and "meet rate" not in bob


def test_app_home_shows_the_repeat_rate_of_each_recent_round(driver, simulator, hearth, slack):
    """Six people in two groups of 3: whatever the second round does, each group holds two people of one group
    of the first round, so both groups repeat. Admins see each round's repeat rate beside its meet rate."""
    from slack_app.simulator import wait_for

    enable(hearth, size=3, window=4)
    rates = [usecases.plan_round(hearth.services, slack, TEAM, CHANNEL).plan.quality.repeat_groups for _ in range(2)]
    assert rates == [0, 2]
    with hearth.services.db.session() as s:
        assert [r.repeat_groups for r in repo.rounds(s, repo.program(s, TEAM, CHANNEL).id)] == [2, 0]
    driver.as_member("UALICE").open_home()
    assert wait_for(lambda: "repeat rate 100% (2 of 2 repeat a pair from the last 4 rounds)" in str(
        (simulator.home("UALICE") or {}).get("blocks")))
    assert "meet rate not asked yet · repeat rate 0% (0 of 2" in str(simulator.home("UALICE")["blocks"])


def test_heads_up_a_business_day_before_with_skip_this_round(driver, simulator, hearth, slack, deliver):
    from slack_app.buddies import views
    from slack_app.scheduling.cadence import next_after

    prog, _ = enable(hearth, cadence="weekly", day="mon", local_time="10:00", timezone="Europe/Berlin")
    nxt = next_after(usecases.cadence_of(prog), utcnow())
    announce = rules.heads_up_at(nxt, "Europe/Berlin")
    assert announce.astimezone(nxt.tzinfo).weekday() == 4  # Friday before a Monday round
    assert usecases.heads_up_due(hearth.services, lambda team: slack, now=announce - timedelta(minutes=1)) == 0
    assert usecases.heads_up_due(hearth.services, lambda team: slack, now=announce + timedelta(minutes=1)) == 6
    assert usecases.heads_up_due(hearth.services, lambda team: slack, now=announce + timedelta(minutes=6)) == 0
    deliver()
    assert all(any("come round again" in m["text"] for m in simulator.messages(simulator.dm_channel(u)))
               for u in HUMANS)
    driver.as_member("UBOB").click(views.SKIP_ACTION)
    from slack_app.simulator import wait_for
    assert wait_for(lambda: any("sit out the next round" in (p["body"].get("text") or "")
                                for p in simulator.response_url_posts()))
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    assert result.plan is not None and "UBOB" not in {m for g in result.plan.groups for m in g}


def test_heads_up_dates():
    from datetime import UTC, datetime
    monday = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert rules.heads_up_at(monday, "UTC") == datetime(2026, 12, 4, 9, 0, tzinfo=UTC)  # Friday
    wednesday = datetime(2026, 12, 9, 9, 0, tzinfo=UTC)
    assert rules.heads_up_at(wednesday, "UTC") == datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
    sunday = datetime(2026, 12, 13, 9, 0, tzinfo=UTC)
    assert rules.heads_up_at(sunday, "UTC") == datetime(2026, 12, 11, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_did_you_meet_and_three_unanswered_pause_with_one_click_resume(driver, simulator, hearth, slack, deliver):
    from slack_app.buddies import views
    from slack_app.simulator import wait_for

    enable(hearth)
    later = utcnow() + timedelta(days=8)  # halfway through a two-week round

    def round_and_follow_up():
        usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
        assert usecases.follow_up_due(hearth.services, now=utcnow()) == 0  # not halfway yet
        asked = usecases.follow_up_due(hearth.services, now=later)
        assert usecases.follow_up_due(hearth.services, now=later) == 0  # once per round
        deliver()
        return asked

    assert round_and_follow_up() == 3
    driver.as_member("UALICE").click("buddies.met_yes")
    assert wait_for(lambda: any("Lovely" in (p["body"].get("text") or "") for p in simulator.response_url_posts()))
    driver.as_member("UALICE").open_home()  # an admin sees the meet rate
    assert wait_for(lambda: "meet rate 33% (1 of 3 met)" in str(
        (simulator.home("UALICE") or {}).get("blocks")))
    assert round_and_follow_up() == 3  # nobody answers this one …
    assert round_and_follow_up() == 3  # … nor this one
    usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)  # three in a row unanswered: paused
    deliver()
    notified = [u for u in HUMANS
                if simulator.dm_channel(u)
                and any("paused them for you" in m["text"] for m in simulator.messages(simulator.dm_channel(u)))]
    alice_partners = set()
    with hearth.services.db.session() as s:
        prog = repo.program(s, TEAM, CHANNEL)
        first = repo.rounds(s, prog.id)[-1]
        for g in repo.groups_of(s, hearth.services.crypto, first.id):
            if "UALICE" in g:
                alice_partners = set(g)
        from slack_app import preferences
        assert not any(preferences.of(s, TEAM, u).paused for u in HUMANS)  # not Hearth's shared pause: check-ins go on

    def planned():
        plan = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL, dry_run=True).plan
        return {m for g in plan.groups for m in g} | set(plan.left_out)

    paused = HUMANS - planned()
    assert paused == set(notified) == HUMANS - alice_partners  # the group that answered once is not paused
    usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    deliver()
    assert sum("paused them for you" in m["text"] for u in paused
               for m in simulator.messages(simulator.dm_channel(u))) == len(paused)  # told once
    someone, other = sorted(paused)[:2]
    driver.as_member(someone).click(views.RESUME_ACTION)
    assert wait_for(lambda: any("Welcome back" in (p["body"].get("text") or "")
                                for p in simulator.response_url_posts()))
    assert wait_for(lambda: someone in planned())
    assert "Welcome back" in driver.as_member(other).command("/buddies", text="resume", channel=CHANNEL).json["text"]
    assert HUMANS - planned() == paused - {someone, other}


def test_an_opt_in_program_matches_only_those_who_join(driver, simulator, hearth, slack, deliver):
    from slack_app.buddies import views
    from slack_app.simulator import wait_for

    enable(hearth, opt_in=True)
    deliver()
    assert any("press *Join*" in m["text"] for m in simulator.messages(CHANNEL))
    assert usecases.plan_round(hearth.services, slack, TEAM, CHANNEL).status == "too_few"  # nobody joined yet
    for user in ("UBOB", "UDEV", "UEMI"):
        driver.as_member(user).click(views.JOIN_ACTION)
    assert wait_for(lambda: sum("You're in" in (p["body"].get("text") or "")
                                for p in simulator.response_url_posts()) == 3)
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    assert result.plan is not None and result.plan.groups and \
        sorted(m for g in result.plan.groups for m in g) == ["UBOB", "UDEV", "UEMI"]


def test_a_newcomer_meets_a_volunteer_welcomer_once(driver, simulator, hearth, deliver):
    from slack_app.buddies import views
    from slack_app.simulator import wait_for

    usecases.enable(hearth.services, TEAM, "CCIRCLE", rules.parse_settings())
    dev = driver.as_member("UDEV")
    dev.open_home()
    assert wait_for(lambda: "Welcome newcomers" in str((simulator.home("UDEV") or {}).get("blocks")))
    dev.click(views.VOLUNTEER_ACTION)
    assert wait_for(lambda: "Stop welcoming newcomers" in str((simulator.home("UDEV") or {}).get("blocks")))
    simulator.join("UFINN", "CCIRCLE")
    driver.member_joined_channel("UFINN", "CCIRCLE")
    driver.member_joined_channel("UOTHERBOT", "CCIRCLE")  # a bot is nobody's newcomer
    wait_for(lambda: _queued_welcomes(hearth) >= 1)
    driver.member_joined_channel("UFINN", "CCIRCLE")  # left and came back: at most once per person
    import time
    time.sleep(0.5)  # the welcome is decided after the ack
    assert _queued_welcomes(hearth) == 1
    with hearth.services.db.session() as s:  # "soon after": it waits a few minutes; let it go now
        from storage.models import OutboxMessage
        for row in s.query(OutboxMessage).filter(OutboxMessage.kind == "buddies.welcome"):
            row.next_attempt_at = utcnow()
    deliver()
    assert group_dms(simulator) == [{"UFINN", "UDEV"}]
    welcome = [m for c in simulator.workspace.channels.values() if c.is_mpim for m in simulator.messages(c.id)]
    assert len(welcome) == 1 and "Welcome to" in welcome[0]["text"]


def _queued_welcomes(hearth) -> int:
    from sqlalchemy import func, select

    from storage.models import OutboxMessage
    with hearth.services.db.session() as s:
        return s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "buddies.welcome"))


def test_mixing_with_a_second_channel(simulator, hearth, slack):
    # #gratitude-circle holds Alice, Bob, Dev and Emi: each group mixes one of them with Carmen or Finn.
    enable(hearth, size=3, mix_channel="CCIRCLE")
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL, dry_run=True)
    assert result.plan is not None and sorted(len(g) for g in result.plan.groups) == [3, 3]
    outsiders = {"UCARMEN", "UFINN"}
    assert all(len(set(g) & outsiders) == 1 for g in result.plan.groups)


def test_mixing_by_a_profile_field_keeps_only_opaque_keys(simulator, hearth, slack):
    # Titles: Alice, Bob and Emi are engineers (Emi's typed " engineer"), Carmen and Dev designers, Finn has none.
    from storage import members

    enable(hearth, size=2, mix_field="title")
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL, dry_run=True)
    assert result.plan is not None and result.plan.quality.mixed == 3
    engineers = {"UALICE", "UBOB", "UEMI"}
    assert all(len(set(g) & engineers) == 1 for g in result.plan.groups)  # never two engineers together
    assert "groups mixing teams: 3 of 3" in result.plan.quality.lines()
    with hearth.services.db.session() as s:
        keys = members.profile_keys(s, TEAM, sorted(HUMANS), "title")
    assert set(keys) == HUMANS - {"UFINN"} and keys["UALICE"] == keys["UEMI"] != keys["UCARMEN"]
    dump = str(database_dump(hearth.services.db)).lower()
    assert "engineer" not in dump and "designer" not in dump  # only keyed hashes are kept


def test_people_linked_by_an_unresolved_report_are_never_grouped_until_it_is_resolved(hearth, slack):
    from storage import reports as report_store

    services = hearth.services
    enable(hearth)
    with services.db.session() as s:  # Bob reported something involving Carmen (anonymously)
        case = report_store.ReportCase(
            team_id=TEAM, number=1, submission_key="k", category="other", urgency="normal", status="open",
            anonymous=True, follow_up=False, reporter_id=None, reporter_sealed=services.crypto.encrypt("UBOB"),
            pseudonym="Reporter 1", details=report_store.seal_details(services.crypto, {"people": ["UCARMEN"]}))
        s.add(case)
    nows = [utcnow() + timedelta(days=i) for i in range(5)]

    def paired(now):
        plan = usecases.plan_round(services, slack, TEAM, CHANNEL, dry_run=True, now=now).plan
        return any({"UBOB", "UCARMEN"} <= set(g) for g in plan.groups)

    assert not any(paired(now) for now in nows)
    with services.db.session() as s:
        s.get(report_store.ReportCase, case.id).status = "resolved"
    assert all(paired(now) for now in nows)  # without it, the best match pairs them (near time zones)


def test_pause_until_a_date_is_a_shared_preference_and_bad_dates_get_an_example(driver, hearth, slack):
    from slack_app import preferences

    enable(hearth)
    bob = driver.as_member("UBOB")
    answer = bob.command("/buddies", text="pause until 2099-01-01", channel=CHANNEL).json["text"]
    assert "/buddies pause until" in answer and "paused" not in answer  # beyond a year: refused, with an example
    when = (utcnow() + timedelta(days=20)).strftime("%Y-%m-%d")
    answer = bob.command("/buddies", text=f"pause until {when}", channel=CHANNEL).json["text"]
    assert "paused for you until" in answer
    with hearth.services.db.session() as s:
        pref = preferences.of(s, TEAM, "UBOB")
        assert pref.snoozed_at(utcnow()) is not None and pref.snoozed_at(utcnow() + timedelta(days=21)) is None
    planned = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL, dry_run=True).plan
    assert "UBOB" not in {m for g in planned.groups for m in g}
    assert "paused for you until" in bob.command("/buddies", text="pause 2w", channel=CHANNEL).json["text"]
    assert "/buddies pause until" in bob.command("/buddies", text="pause someday", channel=CHANNEL).json["text"]


def test_an_admin_sets_up_buddy_introductions_with_slash_hearth_in_the_channel(driver, simulator, hearth):
    from slack_app.simulator import wait_for

    def answer(user, text):
        before = len(simulator.response_url_posts())
        assert driver.command(user, "/hearth", text=text, channel=CHANNEL).status == 200
        assert wait_for(lambda: len(simulator.response_url_posts()) > before)
        return simulator.response_url_posts()[-1]["body"]["text"]

    assert "Only Hearth's admins" in answer("UBOB", "buddies 3 weekly")
    assert usecases.program(hearth.services, TEAM, CHANNEL) is None
    said = answer("UALICE", "buddies 3 weekly tue 09:30 Europe/Berlin")
    assert "on in" in said and "groups of 3, weekly on Tue at 09:30 (Europe/Berlin)" in said
    prog = usecases.program(hearth.services, TEAM, CHANNEL)
    assert (prog.size, prog.cadence, prog.weekday, prog.local_time, prog.timezone) == (3, "weekly", 1, "09:30",
                                                                                      "Europe/Berlin")
    assert "groups of 2, weekly on Tue" in answer("UALICE", "buddies 2")  # the rest is kept
    assert "didn't understand `sometimes`" in answer("UALICE", "buddies sometimes")
    assert "2 to 8" in answer("UALICE", "buddies 12")
    assert "time zone" in answer("UALICE", "buddies Mars/Olympus")
    assert usecases.program(hearth.services, TEAM, CHANNEL).size == 2  # bad words change nothing
    assert "are off" in answer("UALICE", "buddies off")
    assert not usecases.program(hearth.services, TEAM, CHANNEL).enabled


def test_conversation_starters_come_from_a_prompt_bank_a_community_can_reword(simulator, hearth, slack, deliver,
                                                                               tmp_path):
    from dataclasses import replace

    from slack_app.buddies import views
    from slack_app.copy import Copy

    assert len(views.prompts(hearth.services.copy)) >= 8  # the built-in bank, one starter a line
    (tmp_path / "buddies_prompts.j2").write_text("What's your team's best-kept secret & why?\n\n"
                                                 "Tea or coffee?\n")
    services = replace(hearth.services, copy=Copy(tmp_path))
    enable(hearth)
    usecases.plan_round(services, slack, TEAM, CHANNEL)
    deliver()
    intros = [m["text"] for c in simulator.workspace.channels.values() if c.is_mpim for m in simulator.messages(c.id)]
    assert len(intros) == 3
    ours = ("*Something to start with:* What's your team's best-kept secret & why?",  # as written: template text
            "*Something to start with:* Tea or coffee?")
    assert all(any(p in text for p in ours) for text in intros), intros


def test_a_member_removed_from_the_channel_is_never_introduced_again(driver, simulator, hearth, slack, deliver):
    """Removed from #general: no heads-up, no round; removed from #gratitude-circle after volunteering to
    welcome newcomers there: never a newcomer's buddy."""
    from slack_app.scheduling.cadence import next_after
    from slack_app.simulator import wait_for
    from storage import members

    def remove(user, channel):
        simulator.workspace.channels[channel].members.discard(user)
        assert driver.event({"type": "member_left_channel", "user": user, "channel": channel, "channel_type": "C",
                             "team": TEAM}).status == 200

        def gone() -> bool:  # Bolt acks an event before its listener runs
            with hearth.services.db.session() as s:
                return members.in_channel(s, TEAM, channel, user) is False
        assert wait_for(gone)

    prog, _ = enable(hearth)
    first = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    assert "UEMI" in {m for g in first.plan.groups for m in g}
    remove("UEMI", CHANNEL)
    nxt = next_after(usecases.cadence_of(prog), utcnow())
    assert usecases.heads_up_due(hearth.services, lambda team: slack,
                                 now=rules.heads_up_at(nxt, prog.timezone) + timedelta(minutes=1)) == 5
    for _ in range(3):
        result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
        assert result.participants == 5 and "UEMI" not in {m for g in result.plan.groups for m in g}
        assert "UEMI" not in result.plan.left_out

    usecases.enable(hearth.services, TEAM, "CCIRCLE", rules.parse_settings())
    usecases.plan_round(hearth.services, slack, TEAM, "CCIRCLE", dry_run=True)  # the circle is listed
    assert usecases.volunteer(hearth.services, TEAM, "UDEV", str(usecases.program(hearth.services, TEAM,
                                                                                  "CCIRCLE").id)) is True
    remove("UDEV", "CCIRCLE")
    simulator.join("UFINN", "CCIRCLE")
    assert usecases.member_joined(hearth.services, slack, TEAM, "CCIRCLE", "UFINN") is False  # no welcomer left
    assert _queued_welcomes(hearth) == 0


def test_rejoin_after_leave_brings_a_member_back_to_that_channels_introductions_only(driver, hearth, slack):
    enable(hearth)
    usecases.enable(hearth.services, TEAM, "CCIRCLE", rules.parse_settings())
    bob = driver.as_member("UBOB")

    def planned(channel):
        plan = usecases.plan_round(hearth.services, slack, TEAM, channel, dry_run=True).plan
        return {m for g in plan.groups for m in g} | set(plan.left_out)

    for channel in (CHANNEL, "CCIRCLE"):
        assert "left" in bob.command("/buddies", text="leave", channel=channel).json["text"]
        assert "UBOB" not in planned(channel)
    assert "You're in" in bob.command("/buddies", text="rejoin", channel=CHANNEL).json["text"]
    assert "UBOB" in planned(CHANNEL)
    assert "UBOB" not in planned("CCIRCLE")  # still left there


def test_a_rounds_stored_seed_reproduces_its_groups(simulator, hearth, slack):
    """From what is stored (the seed, the earlier rounds' sealed groups, the never-pair lists) and the
    round's members, `match` gives back exactly the groups the round introduced; another seed would not."""
    from slack_app.buddies.matching import match
    from slack_app.simulator.workspace import Channel, User

    services = hearth.services
    people = [f"UP{i:03d}" for i in range(20)]  # one time zone: only the seed tells groupings apart
    for uid in people:
        simulator.workspace.add_user(User(uid, uid.lower(), uid, tz="Europe/Berlin"))
    simulator.workspace.add_channel(Channel("CSEEDS", "seeds", members={"UHEARTHBOT", *people}))
    prog, _ = usecases.enable(services, TEAM, "CSEEDS", rules.parse_settings(size=3))
    with services.db.session() as s:
        repo.set_never_pair(s, services.crypto, TEAM, people[0], people[1:4])
    start = utcnow()
    for i in range(2):
        usecases.plan_round(services, slack, TEAM, "CSEEDS", now=start + timedelta(days=14 * i))
    with services.db.session() as s:
        first, last = reversed(repo.rounds(s, prog.id))
        history = [repo.groups_of(s, services.crypto, first.id)]
        stored = sorted(map(sorted, repo.groups_of(s, services.crypto, last.id)))
        forbidden = repo.forbidden_pairs(s, services.crypto, TEAM)
    assert sum(map(len, stored)) == 20

    def groups(seed):
        plan = match(people, prog.size, seed=seed, history=history, forbidden=forbidden,
                     offsets=dict.fromkeys(people, 60), window=prog.window)
        return sorted(map(sorted, plan.groups))

    assert groups(last.seed) == stored
    assert groups(last.seed + 1) != stored  # it is the seed that decides


def test_a_round_of_one_completes_and_tells_them_kindly_and_a_stranger_cannot_answer_for_a_group(
        driver, simulator, hearth, slack, deliver):
    enable(hearth, opt_in=True)
    usecases.choose(hearth.services, TEAM, CHANNEL, "UCARMEN", "join")
    result = usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)  # fewer than 2: still a round
    deliver()
    assert result.status == "opened" and result.round_id is not None and result.plan.left_out == ["UCARMEN"]
    assert not [c for c in simulator.calls_for("conversations.open") if "," in c.params["users"]]
    assert any("first in line next round" in m["text"] for m in simulator.messages(simulator.dm_channel("UCARMEN")))
    with hearth.services.db.session() as s:
        assert repo.members(s, repo.program(s, TEAM, CHANNEL).id)["UCARMEN"].priority
    usecases.choose(hearth.services, TEAM, CHANNEL, "UDEV", "join")
    usecases.plan_round(hearth.services, slack, TEAM, CHANNEL)
    usecases.follow_up_due(hearth.services, now=utcnow() + timedelta(days=8))
    with hearth.services.db.session() as s:
        (group,) = repo.group_rows(s, repo.rounds(s, repo.program(s, TEAM, CHANNEL).id)[0].id)
    assert not usecases.answer_follow_up(hearth.services, "UBOB", str(group.id), "yes")  # not in the group
    assert usecases.answer_follow_up(hearth.services, "UDEV", str(group.id), "couldnt")
    with hearth.services.db.session() as s:
        assert s.get(repo.BuddyGroup, group.id).answer == "couldnt"


def test_buddy_button_words_come_from_a_template_a_community_can_reword(tmp_path):
    from slack_app.buddies import views
    from slack_app.copy import Copy

    def buttons(message):
        return [e["text"]["text"] for b in message["blocks"] if b["type"] == "actions" for e in b["elements"]]

    built_in = Copy(strict=True)
    assert buttons(views.follow_up(built_in, 7)) == ["Yes!", "Not yet", "We couldn't"]
    assert buttons(views.paused_notice(built_in, 7)) == ["Resume introductions"]
    assert buttons(views.join_invitation(built_in, 7, 2)) == ["Join"]
    assert views.label(built_in, "volunteer_button", index=2) == "Welcome newcomers (2)"
    (tmp_path / "buddies_labels.j2").write_text('{% if part == "met_yes" %}Ja!{% elif part == "met_not_yet" %}'
                                                'Noch nicht{% else %}Leider nicht{% endif %}')
    assert buttons(views.follow_up(Copy(tmp_path), 7)) == ["Ja!", "Noch nicht", "Leider nicht"]


def test_an_admin_sets_mixing_and_the_repeat_window_with_slash_hearth(driver, simulator, hearth):
    from slack_app.simulator import wait_for

    def answer(text):
        before = len(simulator.response_url_posts())
        assert driver.command("UALICE", "/hearth", text=text, channel=CHANNEL).status == 200
        assert wait_for(lambda: len(simulator.response_url_posts()) > before)
        return simulator.response_url_posts()[-1]["body"]["text"]

    said = answer("buddies 3 <#CCIRCLE|gratitude-circle> window=6")
    assert "mixing <#CCIRCLE> with everyone else; no pair meets again within 6 rounds" in said
    prog = usecases.program(hearth.services, TEAM, CHANNEL)
    assert (prog.size, prog.mix_channel, prog.mix_field, prog.window) == (3, "CCIRCLE", None, 6)
    assert "mixing people whose title differs" in answer("buddies mix=title")
    assert "from 1 to 52" in answer("buddies window=99")
    assert "mix=title" in answer("buddies mix=name")
    prog = usecases.program(hearth.services, TEAM, CHANNEL)
    assert (prog.mix_channel, prog.mix_field, prog.window) == (None, "title", 6)
    assert "mixing" not in answer("buddies mix=off")
