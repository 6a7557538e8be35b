"""Breakdowns (by channel, by a profile field) and the archive outlet, end to end: signed submissions into the
real app, the sealing at close (labels coarsened so no stored group is smaller than the minimum), results by
group through the disclosure ledger on the CLI and in CSV, and the results written to the archive (a folder,
and S3 on moto's server) under the same rules.

The test workspace: the demo's six people (Alice, Bob, Carmen, Dev, Emi, Finn) and two teams Hearth knows:
#team-a (Alice, Bob, Carmen) and #team-b (Dev, Emi, Finn).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from datetime import timedelta

import pytest

from slack_app import roster
from slack_app.simulator.workspace import Channel
from slack_app.surveys import archive_outlet, usecases
from slack_app.surveys.ids import SurveyAction, question_block
from storage import surveys as repo
from storage.archive import S3Archive
from surveys.groups import BreakdownError, coarsen, decode, encode, parse_breakdowns
from surveys.loader import builtin_instrument
from tests.privacy import database_dump
from tests.s3server import s3_endpoint, unique_prefix  # noqa: F401  (fixture)
from tests.test_survey_cli import cli  # noqa: F401  (fixture)

TEAM = "T0HEARTH"
TEAM_A, TEAM_B, SOLO = "CTEAMA", "CTEAMB", "CSOLO"
A_MEMBERS, B_MEMBERS = ("UALICE", "UBOB", "UCARMEN"), ("UDEV", "UEMI", "UFINN")
QUESTIONS = [q.id for q in builtin_instrument("belonging").counted]


# ---- the pure rules -----------------------------------------------------------------------------------------

def ch(*ids):
    return tuple(sorted(("channel", c) for c in ids))


def test_strata_below_the_minimum_become_other_and_other_reaches_the_minimum_or_is_empty():
    assert coarsen({ch("A"): 4, ch("B"): 3}, 3) == {ch("A"): ch("A"), ch("B"): ch("B")}
    # B's two go to "other", which is then too small: the smallest kept stratum (C) joins it
    assert coarsen({ch("A"): 5, ch("B"): 2, ch("C"): 3}, 3) == {ch("A"): ch("A"), ch("B"): (), ch("C"): ()}
    # people with no label are "other" already
    assert coarsen({ch("A"): 3, (): 3}, 3) == {ch("A"): ch("A"), (): ()}
    # a combination is a stratum of its own, even when each of its channels is large
    assert coarsen({ch("A"): 5, ch("B"): 4, ch("A", "B"): 1}, 3) == {ch("A"): ch("A"), ch("B"): (), ch("A", "B"): ()}
    # too few in all: nothing keeps a label
    assert coarsen({ch("A"): 2}, 3) == {ch("A"): ()}


def test_labels_are_stored_in_one_canonical_form_and_breakdowns_are_checked():
    assert encode([("channel", "B"), ("channel", "A")]) == encode([("channel", "A"), ("channel", "B")])
    assert decode(encode(ch("A", "B"))) == ch("A", "B") and encode([]) == "" and decode("") == ()
    assert parse_breakdowns(["field:tz", "channel", "channel"], workspace=True) == ("channel", "field:tz")
    with pytest.raises(BreakdownError, match="workspace survey"):
        parse_breakdowns(["channel"], workspace=False)
    with pytest.raises(BreakdownError, match="field:tz"):
        parse_breakdowns(["field:email"], workspace=True)


# ---- end to end -------------------------------------------------------------------------------------------


@pytest.fixture
def teams(simulator, hearth, slack):
    """Two team channels (and, for some tests, a one-person channel) that Hearth is in and has listed."""
    bot = simulator.workspace.bot_user_id

    def make(*, solo: bool = False):
        channels = [(TEAM_A, A_MEMBERS), (TEAM_B, B_MEMBERS)] + ([(SOLO, ("UALICE",))] if solo else [])
        for channel_id, people in channels:
            simulator.workspace.add_channel(Channel(channel_id, channel_id.lower(), members={bot, *people}))
            roster.channel_roster(hearth.services, slack, TEAM, channel_id)

    return make


def launch_workspace(hearth, slack, *, k=3, breakdowns=("channel",)):
    instrument, source = usecases.load_survey("belonging")
    started = usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id=None,
                              closes=timedelta(days=5), min_responses=k, launched_by="UFINN", breakdowns=breakdowns)
    assert started.status == "launched", started.message
    return started.run_id


def answer_through_slack(driver, deliver, answers: dict[str, int]):
    deliver()  # the invitations, with their button
    for user, value in answers.items():
        member = driver.as_member(user)
        member.click(SurveyAction.OPEN_MODAL)
        resp = member.submit({question_block(q): str(value) for q in QUESTIONS})
        assert resp.json["response_action"] == "update"


def test_a_workspace_survey_is_broken_down_by_channel_on_the_cli_and_in_csv(driver, hearth, slack, teams, cli,
                                                                          tmp_path, deliver):
    teams()
    run_id = launch_workspace(hearth, slack)
    answer_through_slack(driver, deliver, {**dict.fromkeys(A_MEMBERS, 5), **dict.fromkeys(B_MEMBERS, 2)})
    usecases.close(hearth.services, TEAM, run_id, slack)

    out = tmp_path / "by-channel.csv"
    shown = cli("results", run_id, "--by", "channel", "--csv", str(out))
    assert shown.exit_code == 0, shown.output
    assert "6 responses" in shown.output
    assert "— channel CTEAMA: 3 responses —" in shown.output and "— channel CTEAMB: 3 responses —" in shown.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    belong = {(r["group"], r["value"]): r["count"] for r in rows if r["question_id"] == "belong"}
    assert belong[("all", "5")] == "3" and belong[("CTEAMA", "5")] == "3" and belong[("CTEAMB", "2")] == "3"
    assert belong[("CTEAMA", "2")] == "0"
    # a breakdown the run was not launched with is refused in one line (its answers carry no such labels)
    tz = cli("results", run_id, "--by", "field:tz")
    assert tz.exit_code == 2 and "--breakdown field:tz" in tz.output


def test_labels_below_the_minimum_are_coarsened_at_close_and_never_shown(driver, hearth, slack, teams, cli,
                                                                          deliver):
    teams(solo=True)  # Alice alone is in #solo: her label combination would single her out
    run_id = launch_workspace(hearth, slack)
    answer_through_slack(driver, deliver, {"UALICE": 1, "UBOB": 4, "UCARMEN": 4, "UDEV": 3, "UEMI": 3, "UFINN": 3})
    usecases.close(hearth.services, TEAM, run_id, slack)

    dump = database_dump(hearth.services.db)
    stored = {row for table in ("survey_answer", "survey_group") for row in map(str, dump[table])}
    assert not any(SOLO in row for row in stored)  # Alice's combination was 1 person: not kept
    assert not any(TEAM_A in row for row in stored)  # then "other" (1) took team A's 2 to reach 3
    with hearth.services.db.session() as s:
        run = repo.run_by_public_id(s, TEAM, run_id)
        assert sorted(repo.strata_of(s, run.id).values()) == [3, 3]
        assert set(map(decode, repo.strata_of(s, run.id))) == {(), ch(TEAM_B)}
        by_group = repo.counts_by_stratum(s, run.id)  # aggregated at close, per stored group
        assert set(by_group) == set(repo.strata_of(s, run.id))
        assert by_group[encode(ch(TEAM_B))][("belong", 3)] == 3 and by_group[""][("belong", 4)] == 2

    shown = cli("results", run_id, "--by", "channel").output
    # team B (3) and its complement (3) may be shown; there is no team A or #solo group left to show
    assert "— channel CTEAMB: 3 responses —" in shown
    assert "CTEAMA" not in shown and SOLO not in shown


def test_a_group_whose_complement_is_too_small_is_withheld_across_outlets_and_runs(hearth, slack, teams, cli,
                                                                                  driver, deliver):
    teams()
    run_id = launch_workspace(hearth, slack, breakdowns=("channel", "field:tz"))
    answer_through_slack(driver, deliver, dict.fromkeys((*A_MEMBERS, "UDEV", "UEMI", "UFINN"), 4))
    usecases.close(hearth.services, TEAM, run_id, slack)
    # every time zone of the demo is one person's: all coarsened away, so nothing to show by time zone
    assert "No groups to show by field:tz" in cli("results", run_id, "--by", "field:tz").output
    by_channel = cli("results", run_id, "--by", "channel").output
    assert "CTEAMA: 3 responses" in by_channel and "CTEAMB: 3 responses" in by_channel
    # the ledger remembers: asking again (another outlet) shows the same cells, and nothing new
    assert cli("results", run_id, "--by", "channel").output == by_channel
    with hearth.services.db.session() as s:
        cells = {(c.scope, c.where) for c in repo.releases(s, TEAM, "belonging:workspace:")}
    assert ("respondents", (("channel", TEAM_A),)) in cells and ("respondents", ()) in cells


def test_closing_writes_the_disclosed_results_to_the_archive_folder(driver, hearth, slack, teams, deliver):
    teams()
    run_id = launch_workspace(hearth, slack)
    answer_through_slack(driver, deliver, {**dict.fromkeys(A_MEMBERS, 5), **dict.fromkeys(B_MEMBERS, 3)})
    usecases.close(hearth.services, TEAM, run_id, slack)
    archive = hearth.services.archive
    [key] = archive.list("surveys/")
    assert key.startswith(f"surveys/{TEAM}/workspace/belonging/") and key.endswith(f"-{run_id}.json")
    doc = json.loads(archive.get(key))
    assert doc["respondents"] == 6 and doc["results"]["respondents"] == 6
    belong = next(q for q in doc["results"]["questions"] if q["id"] == "belong")
    assert {d["value"]: d["count"] for d in belong["distribution"]} == {1: 0, 2: 0, 3: 3, 4: 0, 5: 3}
    assert doc["results"]["comments"] == []  # none written; the comment minimum (5) would apply
    raw = archive.get(key).decode()
    assert "CTEAM" not in raw and not any(u in raw for u in (*A_MEMBERS, *B_MEMBERS))  # no groups, no people
    with hearth.services.db.session() as s:
        assert repo.run_by_public_id(s, TEAM, run_id).archive_key == key


def test_a_run_below_the_minimum_archives_no_results(hearth, slack):
    instrument, source = usecases.load_survey("belonging")
    started = usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id="CCIRCLE",
                              closes=timedelta(days=5), min_responses=3)
    usecases.submit(hearth.services, TEAM, "UBOB", started.run_id,
                    {**{q: "5" for q in QUESTIONS}, "comment": "only me"})
    usecases.close(hearth.services, TEAM, started.run_id)
    [key] = hearth.services.archive.list("surveys/")
    raw = hearth.services.archive.get(key).decode()
    doc = json.loads(raw)
    assert doc["results"] is None and doc["respondents"] == 1 and doc["minimum"] == 3
    assert "only me" not in raw and '"count"' not in raw


def test_the_archive_outlet_writes_to_s3_and_retries_a_failed_write(hearth, slack, s3_endpoint):  # noqa: F811
    instrument, source = usecases.load_survey("belonging")
    broken = dataclasses.replace(hearth.services, archive=S3Archive("no-such-bucket", "hearth"))
    started = usecases.launch(broken, slack, TEAM, instrument, source, channel_id="CCIRCLE",
                              closes=timedelta(days=5), min_responses=3)
    for user in ("UALICE", "UBOB", "UDEV"):
        usecases.submit(broken, TEAM, user, started.run_id, {q: "4" for q in QUESTIONS})
    assert usecases.close(broken, TEAM, started.run_id).status == "closed"  # the close itself stands
    with hearth.services.db.session() as s:
        assert repo.run_by_public_id(s, TEAM, started.run_id).archive_key is None
    bucket = S3Archive(s3_endpoint.bucket, f"hearth/{unique_prefix()}")
    fixed = dataclasses.replace(hearth.services, archive=bucket)
    assert archive_outlet.archive_pending(fixed) == 1  # the close sweep's retry
    assert archive_outlet.archive_pending(fixed) == 0
    [key] = bucket.list("surveys/")
    assert json.loads(bucket.get(key))["results"]["respondents"] == 3


def test_the_archived_object_is_the_same_bytes_whenever_it_is_written(hearth, slack):
    instrument, source = usecases.load_survey("belonging")
    started = usecases.launch(hearth.services, slack, TEAM, instrument, source, channel_id="CCIRCLE",
                              closes=timedelta(days=5), min_responses=3)
    for user in ("UALICE", "UBOB", "UDEV"):
        usecases.submit(hearth.services, TEAM, user, started.run_id, {q: "4" for q in QUESTIONS})
    usecases.close(hearth.services, TEAM, started.run_id)
    with hearth.services.db.session() as s:
        run = repo.run_by_public_id(s, TEAM, started.run_id)
        again = archive_outlet.document(run, usecases.results_of(s, hearth.services, run))
        key = run.archive_key
    assert hearth.services.archive.get(key) == again
