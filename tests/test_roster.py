"""The roster against the Slack simulator: what opening rounds costs in Slack calls, profiles kept fresh by
events, and members whose profile Slack will not give (still invited, shown to admins)."""

from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner

from slack_app import roster
from slack_app.checkins import rounds, usecases
from slack_app.checkins.inputs import SettingsInput
from slack_app.simulator import wait_for
from slack_app.simulator.workspace import Channel, User
from storage import checkins as repo
from storage import members, outbox
from storage.models import utcnow

TEAM = "T0HEARTH"
BIG = "CBIG"


def crowd(simulator, n: int, channel: str = BIG) -> list[str]:
    """A channel of `n` people (in three time zones) plus Hearth and another app's bot."""
    ids = [f"UP{i:05d}" for i in range(n)]
    zones = ["Europe/Berlin", "America/Chicago", "Asia/Tokyo"]
    for i, uid in enumerate(ids):
        simulator.workspace.add_user(User(uid, f"p{i}", f"Person {i}", tz=zones[i % 3]))
    simulator.workspace.add_channel(Channel(channel, "big", members={"UHEARTHBOT", "UOTHERBOT", *ids}))
    return ids


def enable(services, channel: str) -> None:
    assert usecases.enable_circle(services, TEAM, channel, SettingsInput(tz="UTC")).errors == {}


def calls(simulator, method: str) -> int:
    return len(simulator.calls_for(method))


def test_a_1000_member_channel_opens_rounds_without_1000_profile_calls(simulator, services, slack):
    people = crowd(simulator, 1000)
    simulator.workspace.channels[BIG].members.add("UGUEST")  # not in users.list (think Slack Connect)
    enable(services, BIG)
    simulator.clear_calls()

    first = rounds.open_round(services, slack, TEAM, BIG)
    # Nobody is looked up before the invitations are written: all 1,003 are invited at once (the worker
    # drops the two bots' invitations when their turn comes), and the round's facilitator is no unknown one.
    assert first.status == "opened" and first.invited == 1003
    pages = simulator.calls_for("conversations.members")
    assert len(pages) == 6 and {c.params.get("limit") for c in pages} == {"200"}  # 1,003 members, 200 a page
    with services.db.session() as s:
        rows = outbox.rows(s, team_id=TEAM, kind="checkin.invite")
    assert len(rows) == 1003 and all(r.payload.get("resolve_user") for r in rows)
    # once they are written, the profiles are read in bulk: one paged listing of the workspace …
    assert 0 < calls(simulator, "users.list") <= 6
    assert [c.params["user"] for c in simulator.calls_for("users.info")] == ["UGUEST"]  # … and the one it lacks
    with services.db.session() as s:
        record = members.by_id(s, TEAM, [people[1]])[people[1]]
        assert record.tz == "America/Chicago" and record.profile_at is not None
        assert members.in_channel(s, TEAM, BIG, people[999]) is True

    rounds.close_round(services, TEAM, BIG)
    simulator.clear_calls()
    second = rounds.open_round(services, slack, TEAM, BIG)
    assert second.status == "opened" and second.invited == 1001
    # the second round costs nothing but the unreadable guest's profile: the listing is fresh in the cache
    assert calls(simulator, "users.info") == 1 and calls(simulator, "users.list") == 0
    assert calls(simulator, "conversations.members") == 0


def test_a_few_unknown_members_are_read_one_by_one_and_only_once(simulator, services, slack):
    crowd(simulator, 10, channel="CSMALL")
    enable(services, "CSMALL")
    simulator.clear_calls()
    result = roster.channel_roster(services, slack, TEAM, "CSMALL")
    assert len(result.humans) == 10 and result.unreadable == []
    assert calls(simulator, "users.info") == 12 and calls(simulator, "users.list") == 0  # 10 people + 2 bots
    assert "UOTHERBOT" not in result.humans and "UHEARTHBOT" not in result.humans
    simulator.clear_calls()
    roster.channel_roster(services, slack, TEAM, "CSMALL")
    assert calls(simulator, "users.info") == 0


def test_long_stale_profiles_are_read_again(simulator, services, slack):
    crowd(simulator, 3, channel="CSMALL")
    roster.channel_roster(services, slack, TEAM, "CSMALL")
    simulator.clear_calls()
    later = utcnow() + roster.PROFILE_STALE_AFTER + timedelta(hours=1)
    roster.channel_roster(services, slack, TEAM, "CSMALL", now=later)
    assert calls(simulator, "users.info") == 5  # 3 people + 2 bots


def test_user_change_and_team_join_events_keep_profiles_fresh(driver, simulator, services, slack):
    crowd(simulator, 3, channel="CSMALL")
    roster.channel_roster(services, slack, TEAM, "CSMALL")
    moved = simulator.workspace.users["UP00000"]
    moved.tz = "Pacific/Auckland"
    assert driver.event({"type": "user_change", "user": moved.to_api(TEAM)}).status == 200
    assert wait_for(lambda: members.get(services.db, TEAM, "UP00000").tz == "Pacific/Auckland")
    newcomer = simulator.workspace.add_user(User("UNEW", "new", "New Person", tz="Africa/Lagos", is_admin=True))
    assert driver.event({"type": "team_join", "user": newcomer.to_api(TEAM)}).status == 200
    assert wait_for(lambda: getattr(members.get(services.db, TEAM, "UNEW"), "tz", None) == "Africa/Lagos")
    assert members.get(services.db, TEAM, "UNEW").is_admin
    # a deactivation arrives as user_change: the next round leaves them out without asking Slack
    gone = simulator.workspace.users["UP00001"]
    gone.deleted = True
    driver.event({"type": "user_change", "user": gone.to_api(TEAM)})
    assert wait_for(lambda: members.get(services.db, TEAM, "UP00001").is_deleted)
    simulator.clear_calls()
    result = roster.channel_roster(services, slack, TEAM, "CSMALL")
    assert result.humans == ["UP00000", "UP00002"] and result.tz["UP00000"] == "Pacific/Auckland"
    assert calls(simulator, "users.info") == 0
    # a malformed event is ignored, not an error
    assert driver.event({"type": "user_change", "user": "UP00000"}).status == 200


def test_a_member_whose_profile_cannot_be_read_is_still_invited_and_admins_see_it(
        driver, simulator, services, slack, app_settings):
    simulator.workspace.channels["CCIRCLE"].members.add("UGHOST")  # in the channel; users.info: user_not_found
    enable(services, "CCIRCLE")
    simulator.fail_next("users.info", status=503, count=3)  # Slack is down while Alice is asked, retries too
    opened = rounds.open_round(services, slack, TEAM, "CCIRCLE")
    assert opened.status == "opened"
    with services.db.session() as s:
        current = repo.current_round(s, repo.circle(s, TEAM, "CCIRCLE").id)
        invited = {p.user_id for p in repo.participants(s, current.id) if p.invited}
    assert invited == {"UALICE", "UBOB", "UDEV", "UEMI", "UGHOST"}  # nobody silently dropped
    missing = {m.user_id: m.error for m in roster.unreadable(services, TEAM)}
    assert missing == {"UALICE": "fatal_error", "UGHOST": "user_not_found"}  # the simulated 503 says fatal_error

    # Alice (a workspace admin) opens App Home and is told; Bob is not
    driver.app_home_opened("UALICE")
    assert wait_for(lambda: "would not tell Hearth" in str(simulator.home("UALICE")))
    assert "UGHOST" in str(simulator.home("UALICE"))
    driver.app_home_opened("UBOB")
    assert wait_for(lambda: simulator.home("UBOB") is not None)
    assert "would not tell Hearth" not in str(simulator.home("UBOB"))

    # operators see it too
    from slack_app.cli import main

    out = CliRunner().invoke(main, ["roster", "status"], env=cli_env(simulator, app_settings))
    assert out.exit_code == 0, out.output
    assert "UGHOST: user_not_found" in out.output and "CCIRCLE: 6 member(s)" in out.output

    # once Slack answers again, the next listing reads them and the note goes away
    roster.channel_roster(services, slack, TEAM, "CCIRCLE")
    assert [m.user_id for m in roster.unreadable(services, TEAM)] == ["UGHOST"]


def test_roster_refresh_cli_refuses_a_bad_channel_kindly(simulator, app_settings, db):
    from slack_app.cli import main

    env = cli_env(simulator, app_settings)
    out = CliRunner().invoke(main, ["roster", "refresh", "nonsense"], env=env)
    assert out.exit_code == 2 and "not a channel id" in out.output and "Traceback" not in out.output
    out = CliRunner().invoke(main, ["roster", "refresh", "CNOBOT"], env=env)
    assert out.exit_code == 0, out.output
    assert "CNOBOT: 3 people" in out.output


def cli_env(simulator, settings) -> dict[str, str]:
    def plain(value):  # settings may hold secrets as SecretStr
        return value.get_secret_value() if hasattr(value, "get_secret_value") else value

    return {"SLACK_BOT_TOKEN": plain(settings.SLACK_BOT_TOKEN), "SLACK_API_URL": simulator.base_url,
            "DATABASE_URL": settings.DATABASE_URL, "HEARTH_ENCRYPTION_KEY": plain(settings.HEARTH_ENCRYPTION_KEY)}
