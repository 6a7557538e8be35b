"""The property of issue 8, through the real storage and use cases: no combination of outlets (the Slack text,
App Home, the CLI with breakdowns, CSV, the archive), breakdowns (by channel, by time zone) and runs reveals a
group of fewer than the minimum — neither in what the outlets show nor in the labels left in the database.

Each example seals two runs of one survey series for a workspace with random people (their channels, time
zone and answer) through `storage.surveys` (labels coarsened at close), then asks the outlets in a random
order, each through `usecases.results_of` and its renderer. The attacker holds everything shown: each shown
result is a sum over the answer sets of its cell, so the test rebuilds which answer sets each release summed
and asks the linear-algebra oracle of test_survey_disclosure whether any combination isolates fewer than k.
(Labels coarsened at close make every stored group of a sealed run hold k, so here the ledger is defence in
depth; its own rule, with groups of any size and runs that change, is tested in test_survey_disclosure.)
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from slack_app.surveys import archive_outlet, usecases
from storage import surveys as repo
from surveys.disclosure import Cell, Stratum, labels
from surveys.export import breakdown_csv, results_csv
from surveys.groups import coarsen, decode
from surveys.loader import builtin_instrument
from tests.test_survey_disclosure import _smallest_exposed_group

INSTRUMENT = builtin_instrument("belonging")
_, SOURCE = usecases.load_survey("belonging")
QUESTIONS = [q.id for q in INSTRUMENT.counted]
CHANNELS = ("C1", "C2", "C3")
ZONES = ("Europe/Berlin", "Asia/Tokyo")
OUTLETS = ("slack", "home", "cli", "csv", "archive")
BYS = (None, "channel", "field:tz")

person = st.tuples(st.frozensets(st.sampled_from(CHANNELS), max_size=2), st.sampled_from(ZONES),
                   st.integers(min_value=1, max_value=5))
request = st.tuples(st.sampled_from(OUTLETS), st.integers(min_value=0, max_value=1), st.sampled_from(BYS))


def services_for(db):
    from slack_app.copy import Copy
    from slack_app.services import Services
    from slack_app.settings import load_settings
    from slack_app.workflows import WORKFLOWS

    return Services(settings=load_settings(env_file=None, DATABASE_URL=db.url), db=db, crypto=db.crypto,
                    copy=Copy(None), archive=None, workflows=WORKFLOWS)


def strata_of(people) -> list[tuple]:
    return [labels(*(("channel", c) for c in chans), ("field:tz", tz)) for chans, tz, _ in people]


def seal(services, team: str, people, k: int, day: int) -> str:
    """One closed run of `people` (answers sealed with their labels, then sealed as at close); its public id."""
    opened = datetime(2026, 1, day, tzinfo=UTC)
    with services.db.session() as s:
        run = repo.new_run(s, team_id=team, survey=INSTRUMENT.name, version=INSTRUMENT.version, source=SOURCE,
                           audience=repo.Audience.WORKSPACE, channel_id=None, min_responses=k, invited=len(people),
                           opened_at=opened, closes_at=opened + timedelta(days=3), breakdowns="channel,field:tz")
        for i, (stratum, (_, _, value)) in enumerate(zip(strata_of(people), people, strict=True)):
            repo.record_submission(s, services.crypto, run.id, f"U{i}", day=opened.date(),
                                   values=[(q, value) for q in QUESTIONS], texts=[], labels=list(stratum))
        s.execute(update(repo.SurveyRun).where(repo.SurveyRun.id == run.id)
                  .values(status=repo.RunStatus.CLOSED, open_key=None))
        s.refresh(run)
        repo.seal_run(s, services.crypto, run, today=date(2026, 1, day + 3))
        return run.public_id


def render(outlet: str, services, run, found) -> str:
    """What the outlet puts in front of someone (every outlet renders from the same `Results`)."""
    copy = services.copy
    if outlet == "csv":
        table = (breakdown_csv(found.instrument, found.by, found.result, found.change,
                               [(g.value, g.result) for g in found.groups]) if found.by
                 else results_csv(found.instrument, found.result, found.change))
        return table or ""
    if outlet == "archive":
        return archive_outlet.document(run, found).decode()
    parts = [found.text(copy)]
    if outlet == "cli":
        from slack_app.surveys import views

        parts += [views.results_text(copy, found.instrument, g.result, plain=True) for g in found.groups]
    return "\n".join(parts)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(runs=st.tuples(st.lists(person, min_size=0, max_size=12), st.lists(person, min_size=0, max_size=12)),
       requests=st.lists(request, min_size=1, max_size=8), k=st.integers(min_value=3, max_value=5))
def test_no_outlet_breakdown_or_run_reveals_fewer_than_the_minimum(db, runs, requests, k):
    services = services_for(db)
    team = f"T{uuid.uuid4().hex[:10]}"  # one community per example: its own runs and ledger
    ids = [seal(services, team, people, k, day) for day, people in ((1, runs[0]), (10, runs[1]))]

    # The database dump: every stored group holds at least k answer sets, and answers carry only those labels.
    stored_of: dict[tuple[str, int], tuple] = {}  # (run, person) → the labels their answers were stored with
    for run_id, people in zip(ids, runs, strict=True):
        sizes = Counter(strata_of(people))
        mapping = coarsen(sizes, k)
        with services.db.session() as s:
            run = repo.run_by_public_id(s, team, run_id)
            groups = repo.strata_of(s, run.id)
            answer_labels = set(s.scalars(select(repo.SurveyAnswer.labels).where(repo.SurveyAnswer.run_id == run.id)))
        # a labelled group holds at least k; "other" too, unless it is the whole (withheld) run
        assert all(n >= k for label, n in groups.items() if label), groups
        assert groups.get("", k) >= k or groups == {"": len(people)}, groups
        assert answer_labels <= set(groups)
        stored = Counter(mapping[st_] for st_ in strata_of(people))
        assert {decode(label): n for label, n in groups.items()} == dict(stored)  # storage applied the rule
        for i, st_ in enumerate(strata_of(people)):
            stored_of[(run_id, i)] = mapping[st_]

    index = {key: n for n, key in enumerate(stored_of)}
    released: set[frozenset[int]] = set()

    def members(cell: Cell) -> frozenset[int]:
        return frozenset(index[(r, i)] for (r, i), st_ in stored_of.items() if cell.contains(Stratum(r, st_)))

    for outlet, which, by in requests:
        with services.db.session() as s:
            run = repo.run_by_public_id(s, team, ids[which])
            found = usecases.results_of(s, services, run, by)
            shown = render(outlet, services, run, found)
        cells: list[tuple[Cell, int]] = []
        if found.result is not None:
            cells.append((Cell.of(ids[which]), found.result.respondents))
            assert str(found.result.respondents) in shown
        else:
            assert "mean" not in shown and '"count"' not in shown  # nothing but why it is withheld
        if found.change is not None and which == 1:  # the change shows the previous run's total too
            cells.append((Cell.of(ids[0]), len(runs[0])))
        for g in found.groups:
            cells.append((Cell.of(ids[which], where=[(by, g.value)]), g.result.respondents))
            assert found.result is not None  # groups only beside a shown total (their complement is known)
        for cell, respondents in cells:
            group = members(cell)
            assert len(group) == respondents >= k, "an outlet showed a group below the minimum"
            released.add(group)
        if outlet == "archive":
            assert json.loads(shown).get("results") is None or found.result is not None

    exposed = _smallest_exposed_group(released, len(index), k)
    assert exposed is None, f"releases {sorted(map(sorted, released))} single out answer sets {sorted(exposed)}"
