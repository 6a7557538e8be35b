"""Survey use cases: launch, open the modal, submit, close (sealing the answers), remind, results.

Submission touches the database only: one participation row and one sealed buffer row in one transaction,
and the modal's ack is the only answer. No DM, no outbox row, no log line, no Slack metadata (docs/privacy.md).

A launch to a channel fans out at once, like a check-in round: the roster comes from the cache with no
per-member lookups (`roster.channel_roster(..., lookups=False)`), the run and its invitations are written,
and only then are the profiles Hearth lacked read in bulk (`roster.warm`). Members still unknown at launch
are invited with the `resolve_user` flag: the delivery worker checks each as its turn comes and drops the
invitation of a bot or a deactivated account. They count towards the audience minimum (`too_small`) as the
humans they almost always are: an unknown bot can only make the audience look one larger, never expose an
answer, because what protects anonymity is the respondent minimum on results (nothing is shown below it),
not the size of the audience. `invited` counts them too, so it may exceed the invitations delivered by the
few unknown bots a channel holds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from slack_app import preferences
from slack_app import roster as roster_service
from slack_app.delivery.rules import Verdict, classify
from slack_app.delivery.worker import resolving
from slack_app.slack_port import PortFactory, SlackError, SlackPort
from slack_app.surveys import views
from storage import members, outbox
from storage import surveys as repo
from storage.anonymity import day_of
from storage.models import utcnow
from storage.surveys import Audience, RunStatus, SurveyRun
from surveys import groups, timing
from surveys.answers import Invalid, read_answers
from surveys.disclosure import Cell, Ledger, Stratum, breakdown_request, release_by_scope
from surveys.loader import InstrumentError, builtin_instrument, parse_instrument
from surveys.model import MIN_RESPONSES_RANGE, Instrument
from surveys.results import Change, RunResult, change, summarize

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.copy import Copy
    from slack_app.services import Services
    from slack_app.settings import Settings

log = logging.getLogger("hearth.surveys")

KIND = "survey"
RESPONDENTS = "respondents"  # the disclosure scope of the respondent count


# ---- instruments ------------------------------------------------------------------------------------------

def load_survey(ref: str) -> tuple[Instrument, str]:
    """A shipped survey by name, or a YAML file by path: the instrument and its source text.
    Raises InstrumentError (line-precise) or KeyError (no such survey)."""
    path = Path(ref)
    if ref.endswith((".yml", ".yaml")) or path.is_file():
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise InstrumentError(ref, []) from None
        return parse_instrument(source, ref), source
    instrument = builtin_instrument(ref)
    source = resources.files("surveys").joinpath("instruments", f"{ref}.yml").read_text(encoding="utf-8")
    return instrument, source


def instrument_of(run: SurveyRun) -> Instrument:
    """The run's survey, with the minimum fixed at its launch (the file's own is only the default)."""
    return _instrument(run.source, run.survey, run.min_responses)


@lru_cache(maxsize=64)
def _instrument(source: str, survey: str, min_responses: int) -> Instrument:
    """Parsed once per source: a survey launch sends every member to the same few runs, and parsing the YAML
    on each open and submission was the largest cost of their acks (bench/load.py). Instruments are frozen."""
    instrument = parse_instrument(source, f"{survey}.yml")
    return replace(instrument, settings=replace(instrument.settings, min_responses=min_responses))


# ---- launch -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LaunchResult:
    status: str  # launched | refused | already_open | slack_busy
    message: str
    run_id: str | None = None
    invited: int = 0
    audience: int = 0
    reason: str | None = None  # why not: a survey_launch_refused.j2 code (too_small, bad_minimum, …)


def launch(services: Services, slack: SlackPort, team_id: str, instrument: Instrument, source: str, *,
           channel_id: str | None, closes: timedelta, min_responses: int | None = None,
           launched_by: str | None = None, breakdowns: tuple[str, ...] = (),
           now: datetime | None = None) -> LaunchResult:
    """Open a run for a channel's humans (or the workspace's, `channel_id=None`) and invite each by DM.
    `breakdowns` (surveys.groups) are the groups its answers may later be broken down by."""
    now = now or utcnow()
    k = instrument.settings.min_responses if min_responses is None else min_responses
    low, high = MIN_RESPONSES_RANGE
    if not low <= k <= high:
        return _refused(services, "refused", "bad_minimum", low=low, high=high)
    with services.db.session() as s:
        if repo.open_run_for(s, team_id, channel_id) is not None:
            return _refused(services, "already_open", "already_open", channel_id=channel_id)
    try:
        people = audience_of(services, slack, team_id, channel_id, lookups=False)
    except SlackError as exc:  # busy: try again; anything lasting (Hearth not in the channel, …): say what
        if classify(exc.error, exc.status) is not Verdict.PERMANENT:
            return _refused(services, "slack_busy", "slack_busy", error=exc.error)
        return _refused(services, "refused", "channel_problem", error=exc.error, channel_id=channel_id)
    humans = people.humans  # unresolved members count: see the module docstring
    if len(humans) < k:
        return replace(_refused(services, "refused", "too_small", audience=len(humans), minimum=k, low=low),
                       audience=len(humans))
    try:
        with services.db.session() as s:
            if repo.open_run_for(s, team_id, channel_id) is not None:
                return _refused(services, "already_open", "already_open_audience")
            invitees = _reachable(s, team_id, humans)
            run = repo.new_run(s, team_id=team_id, survey=instrument.name, version=instrument.version,
                               source=source, audience=Audience.CHANNEL if channel_id else Audience.WORKSPACE,
                               channel_id=channel_id, min_responses=k, launched_by=launched_by,
                               invited=len(invitees), opened_at=now, closes_at=now + closes,
                               breakdowns=",".join(breakdowns))
            payload = views.invitation(services.copy, instrument, run.public_id, run.closes_at)
            # the same words for everyone; the flag only tells the worker to check who they are first
            unresolved = set(people.unresolved)
            outbox.enqueue_many(s, [dict(team_id=team_id, kind=f"{KIND}.invite", target=user_id,
                                         payload=resolving(payload, user_id in unresolved),
                                         dedupe_key=outbox.key(KIND, run.public_id, user_id, "invite"))
                                    for user_id in invitees])
            public_id = run.public_id
    except IntegrityError:  # another instance or schedule opened one for this audience meanwhile
        return _refused(services, "already_open", "already_open_audience")
    log.info("surveys.launched run=%s audience=%s invited=%s min=%s unresolved_count=%s", public_id, len(humans),
             len(invitees), k, len(people.unresolved))
    if people.unresolved:  # the invitations are on their way: now read the missing profiles in bulk
        roster_service.warm(services, slack, team_id, people.unresolved)
    return LaunchResult("launched", "launched", public_id, len(invitees), len(humans))


def _refused(services: Services, status: str, reason: str, **ctx: object) -> LaunchResult:
    """A launch refused, with why in survey_launch_refused.j2's words (lower case: the CLI and Slack lead in)."""
    return LaunchResult(status, services.copy.render("survey_launch_refused.j2", reason=reason, **ctx),
                        reason=reason)


@dataclass(frozen=True)
class People:
    humans: list[str]  # unresolved ones included: they are likely people
    unresolved: tuple[str, ...] = ()  # profile unknown (`lookups=False`): the delivery worker checks each


def audience_of(services: Services, slack: SlackPort, team_id: str, channel_id: str | None, *,
                lookups: bool = True) -> People:
    """The humans a run is for: a channel's (the roster; `lookups=False`: without asking Slack about anyone
    first), or the workspace's (one paged users.list: it describes everyone, so nobody is left unresolved)."""
    if channel_id is not None:
        roster = roster_service.channel_roster(services, slack, team_id, channel_id, lookups=lookups)
        return People(roster.humans, roster.unresolved)
    people = [roster_service.profile_of(u) for u in slack.list_users()]
    members.store_profiles(services.db, team_id, people)
    return People(sorted(p.user_id for p in people if roster_service.is_human(p)))


def _reachable(s: Session, team_id: str, user_ids: list[str]) -> list[str]:
    prefs = preferences.of_many(s, team_id, user_ids, repo.WORKFLOW)
    return [u for u in user_ids if not (prefs[u].no_dms or prefs[u].opted_out_of(repo.WORKFLOW))]


# ---- the modal --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Plan:
    view: dict | None = None
    note: str | None = None


def may_answer(found: repo.RunFor, now: datetime) -> str | None:
    """Why this member cannot answer this run now (a `views` note code), or None."""
    run = found.run
    if run.status != RunStatus.OPEN or run.closes_at <= now:
        return views.CLOSED
    if run.audience == Audience.CHANNEL and not found.listed:
        return views.NOT_FOR_YOU
    if found.took_part:
        return views.ALREADY
    return None


def open_survey(services: Services, team_id: str, user_id: str, public_id: str | None,
                now: datetime | None = None) -> Plan:
    now = now or utcnow()
    with services.db.reader() as s:
        found = repo.run_for(s, team_id, public_id or "", user_id)
        if found is None:
            return Plan(note=views.note(services.copy, views.MISSING))
        problem = may_answer(found, now)
        if problem:
            return Plan(note=views.note(services.copy, problem))
        return Plan(view=views.survey_modal(services.copy, instrument_of(found.run), found.run.public_id))


def _labels(s: Session, run: SurveyRun, user_id: str) -> list[tuple[str, str]]:
    """The member's breakdown labels, sealed with their answers (coarsened over the whole run at close)."""
    out: list[tuple[str, str]] = []
    if groups.CHANNEL in run.dimensions:  # the channels Hearth knows (lists) that the member is in
        known = [c for c, _, _ in members.listings(s, run.team_id)]
        out += [(groups.CHANNEL, c) for c in sorted(members.channels_of(s, run.team_id, user_id, known))]
    if f"{groups.FIELD}tz" in run.dimensions:
        profile = members.by_id(s, run.team_id, [user_id]).get(user_id)
        if profile is not None and profile.tz:
            out.append((f"{groups.FIELD}tz", profile.tz))
    return out


@dataclass(frozen=True)
class SubmitResult:
    ack: dict = field(default_factory=dict)  # the whole ack body (update to a view, or inline errors)


def submit(services: Services, team_id: str, user_id: str, public_id: str | None, raw: dict[str, str | None],
           now: datetime | None = None) -> SubmitResult:
    """Store one member's answers sealed, apart from the note that they took part; answer in the ack only.
    One transaction, holding the run open from the first read (a close waits for it)."""
    now = now or utcnow()
    try:
        with services.db.session() as s:
            found = repo.run_for(s, team_id, public_id or "", user_id, answering=True)
            if found is None:
                return SubmitResult({"response_action": "update", "view": views.notice(services.copy, views.MISSING)})
            instrument = instrument_of(found.run)
            problem = may_answer(found, now)
            if problem == views.CLOSED:
                return SubmitResult(views.closed_errors(services.copy, instrument))
            if problem:
                return SubmitResult({"response_action": "update", "view": views.notice(services.copy, problem)})
            answers = read_answers(instrument, raw)
            if isinstance(answers, Invalid):
                return SubmitResult(views.answer_errors(services.copy, answers.errors))
            repo.record_submission(s, services.crypto, found.run.id, user_id, day=day_of(now),
                                   values=answers.values, texts=answers.texts, labels=_labels(s, found.run, user_id))
    except IntegrityError:  # a double click or a replayed request: the first answer stands
        return SubmitResult({"response_action": "update", "view": views.notice(services.copy, views.ALREADY)})
    return SubmitResult({"response_action": "update", "view": views.thanks(services.copy)})


# ---- results ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Group:
    """One shown group of a breakdown: its label value and its results."""

    value: str
    result: RunResult


@dataclass(frozen=True)
class Results:
    run_id: str
    instrument: Instrument
    status: str
    respondents: int | None
    minimum: int
    result: RunResult | None
    change: Change | None
    comments: tuple[str, ...]
    by: str | None = None  # the breakdown asked for, if any
    groups: tuple[Group, ...] = ()  # the groups that may be shown, largest first
    groups_withheld: int = 0  # groups that may not (too small, or their complement would be)

    def text(self, copy: Copy, *, plain: bool = False) -> str:
        """The results in survey_results.j2's words: Slack mrkdwn, or `plain` text for the terminal."""
        return views.results_text(copy, self.instrument, self.result, self.change, self.comments,
                                  respondents=self.respondents, minimum=self.minimum,
                                  still_open=self.status != RunStatus.CLOSED, plain=plain)


class BreakdownUnavailable(ValueError):
    """The run was not launched with that breakdown (its answers carry no such labels)."""


def results_of(s: Session, services: Services, run: SurveyRun, by: str | None = None) -> Results:
    """The run's results as every outlet may show them, optionally broken down `by` a dimension the run was
    launched with: the disclosure ledger decides what is shown, and records the release."""
    instrument = instrument_of(run)
    k = max(instrument.settings.min_responses, run.min_responses)
    if by is not None and by not in run.dimensions:
        raise BreakdownUnavailable(by)
    if run.status != RunStatus.CLOSED:
        return Results(run.public_id, instrument, run.status, None, k, None, None, (), by)
    previous = repo.previous_run(s, run)
    runs = [r for r in (run, previous) if r is not None]
    populations: dict[str, dict[Stratum, int]] = {RESPONDENTS: {}}
    stratum_counts: dict[Stratum, dict[tuple[str, int], int]] = {}
    for r in runs:  # every stored stratum of every run involved, so the ledger sees what it released before
        strata = repo.strata_of(s, r.id) or {groups.OTHER: r.respondents or 0}
        if len(strata) == 1:  # one stratum: its counts are the run's own, aggregated at close
            per = {label: repo.counts(s, r.id) for label in strata}
        else:
            per = repo.counts_by_stratum(s, r.id)
        for label, n in strata.items():
            stratum = Stratum(r.public_id, groups.decode(label))
            populations[RESPONDENTS][stratum] = n
            stratum_counts[stratum] = per.get(label, {})
            for q in instrument.counted:
                answered = sum(c for (qid, _), c in stratum_counts[stratum].items() if qid == q.id)
                populations.setdefault(q.id, {})[stratum] = answered
    requested = [Cell.of(r.public_id) for r in runs]
    if by is not None:
        requested += breakdown_request([run.public_id], by, populations[RESPONDENTS])[1:]
    decisions = release_by_scope(_ledgers(s, run), requested, populations, k)
    _record(s, run, decisions, populations)

    def summary(cell: Cell) -> RunResult | None:
        if cell not in decisions[RESPONDENTS].shown:
            return None
        only = [q for q, d in decisions.items() if q != RESPONDENTS and cell in d.shown]
        counts: dict[tuple[str, int], int] = {}
        for stratum, c in stratum_counts.items():
            if cell.contains(stratum):
                for key, n in c.items():
                    counts[key] = counts.get(key, 0) + n
        return summarize(instrument, cell.size(populations[RESPONDENTS]), counts, k, only=only)

    result = summary(Cell.of(run.public_id))
    before = summary(Cell.of(previous.public_id)) if previous is not None else None
    moved = change(result, before) if result is not None else None
    comments: tuple[str, ...] = ()
    if result is not None:
        comments = tuple(repo.comments_of(s, services.crypto, run.id))
    shown_groups: list[Group] = []
    for cell in requested[len(runs):]:
        found = summary(cell)
        if found is not None:
            shown_groups.append(Group(cell.where[0][1], found))
    withheld = len(requested) - len(runs) - len(shown_groups)
    return Results(run.public_id, instrument, run.status, run.respondents, k, result, moved, comments, by,
                   tuple(shown_groups), withheld)


def _ledgers(s: Session, run: SurveyRun) -> dict[str, Ledger]:
    released: dict[str, dict[Cell, int]] = {}
    for c in repo.releases(s, run.team_id, run.series):
        released.setdefault(c.scope, {})[Cell(frozenset(c.runs), c.where)] = c.size
    return {scope: Ledger(cells) for scope, cells in released.items()}


def _record(s: Session, run: SurveyRun, decisions: dict, populations: dict) -> None:
    cells = []
    for scope, decision in decisions.items():
        for cell, size in decision.ledger.released.items():
            cells.append(repo.ReleasedCell(scope, tuple(sorted(cell.runs)), cell.where, size))
    repo.record_releases(s, run.team_id, run.series, cells)


def find_run(services: Services, team_id: str, *, run_id: str | None, channel_id: str | None, workspace: bool,
             closed: bool | None = None) -> str | None:
    """The public id of the run an admin named: by id, or the open (closed=False) / latest closed run of an
    audience."""
    with services.db.session() as s:
        if run_id:
            run = repo.run_by_public_id(s, team_id, run_id)
        elif closed:
            run = repo.latest_closed_run(s, team_id, None if workspace else channel_id)
        else:
            run = repo.open_run_for(s, team_id, None if workspace else channel_id)
        return run.public_id if run else None


def results(services: Services, team_id: str, public_id: str, by: str | None = None) -> Results | None:
    """Raises BreakdownUnavailable when the run was not launched with breakdown `by`."""
    with services.db.session() as s:
        run = repo.run_by_public_id(s, team_id, public_id)
        return results_of(s, services, run, by) if run else None


# ---- closing ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CloseResult:
    status: str  # closed | not_open | missing
    respondents: int = 0
    results: Results | None = None
    chart_uploaded: bool = False


def results_recipients(settings: Settings, launched_by: str | None) -> list[str]:
    """Who gets a run's results by DM at close: the admin who launched it; for a run launched without one
    (the CLI or a schedule without `--by`), Hearth's configured admins (HEARTH_ADMINS). Possibly nobody:
    the results are then on App Home and `hearth surveys results` only (the CLI says so at launch)."""
    return [launched_by] if launched_by else sorted(settings.admins)


def close(services: Services, team_id: str, public_id: str, slack: SlackPort | None = None,
          now: datetime | None = None) -> CloseResult:
    """Close a run: seal its answers (one transaction), erase the buffer, DM the results to the admin who
    launched it, or to Hearth's admins (text through the outbox; the chart uploaded when a Slack port is
    given)."""
    now = now or utcnow()
    with services.db.session() as s:
        run = repo.run_by_public_id(s, team_id, public_id)
        if run is None:
            return CloseResult("missing")
        moved = s.execute(update(SurveyRun).where(SurveyRun.id == run.id, SurveyRun.status == RunStatus.OPEN)
                          .values(status=RunStatus.CLOSED, open_key=None)).rowcount
        if not moved:
            return CloseResult("not_open")
        s.refresh(run)
        sealing = repo.seal_run(s, services.crypto, run, today=day_of(now))
        run_pk = run.id
        found = results_of(s, services, run)
        admins = results_recipients(services.settings, run.launched_by)
        text = "\n".join([services.copy.render("survey_closed.j2", channel=False), found.text(services.copy)])
        for admin in admins:  # the same words, through the same ledger, whoever receives them
            outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.results", target=admin, payload={"text": text},
                           dedupe_key=outbox.key(KIND, public_id, "results", admin))
        channel = run.channel_id if found.instrument.settings.share_results and found.result is not None else None
        if channel:  # the survey says so: the audience sees what the admins see (never below the minimum)
            text = "\n".join([services.copy.render("survey_closed.j2", channel=True), found.text(services.copy)])
            outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.results", target=channel, payload={"text": text},
                           dedupe_key=outbox.key(KIND, public_id, "results", "channel"))
    if not repo.wipe_freed_space(services.db):
        log.warning("surveys.wipe_deferred run=%s respondent_count=%d: a reader holds the SQLite WAL, so the "
                    "erased buffer may stay in the database files until the hourly housekeeping checkpoint",
                    public_id, sealing.respondent_count)
    from slack_app.surveys.archive_outlet import archive_run  # it reads results through `results_of`

    archive_run(services, run_pk)
    log.info("surveys.closed run=%s respondent_count=%d answer_rows=%d comment_rows=%d", public_id,
             sealing.respondent_count, sealing.answer_rows, sealing.comment_rows)
    uploaded = False
    for admin in admins if slack is not None else ():
        uploaded = _upload_chart(slack, admin, found, dm=True) or uploaded
    if channel and slack is not None:
        _upload_chart(slack, channel, found, dm=False)
    return CloseResult("closed", sealing.respondent_count, found, uploaded)


def _upload_chart(slack: SlackPort, target: str, found: Results, *, dm: bool) -> bool:
    from surveys.chart import render_png  # matplotlib: loaded only when a chart is drawn

    png = render_png(found.instrument, found.result, found.change)
    if png is None:
        return False
    try:
        channel = slack.open_dm([target]) if dm else target
        slack.upload_file(channel, f"{found.instrument.name}-results.png", png, title=found.instrument.title)
    except SlackError as exc:
        log.warning("surveys.chart_failed run=%s error=%s", found.run_id, exc.error)
        return False
    return True


def close_due(services: Services, slack_for: PortFactory, now: datetime | None = None) -> int:
    """Close the runs whose time has come; also archive results a failed archive write left behind."""
    from slack_app.surveys.archive_outlet import archive_pending

    now = now or utcnow()
    archive_pending(services)
    with services.db.session() as s:
        due = [(r.team_id, r.public_id) for r in repo.runs_to_close(s, now)]
    closed = 0
    for team_id, public_id in due:
        slack = _port(slack_for, team_id)
        closed += close(services, team_id, public_id, slack, now).status == "closed"
    return closed


def _port(slack_for: PortFactory, team_id: str) -> SlackPort | None:
    try:
        return slack_for(team_id) if slack_for is not None else None
    except Exception:  # no token for this workspace: the text still goes through the outbox
        return None


# ---- reminders --------------------------------------------------------------------------------------------

def remind_due(services: Services, slack_for: PortFactory, now: datetime | None = None) -> int:
    """Remind the audience members who have not taken part (3 days in, 1 day before close): each run once
    per reminder. Reminders are sensitive outbox rows (deleted once delivered): who had not answered by
    then is not kept."""
    now = now or utcnow()
    with services.db.session() as s:
        due = [(r.id, r.team_id, which) for r in repo.open_runs(s)
               if (which := timing.reminder_due(r.opened_at, r.closes_at, now, first_done=r.first_reminder_done,
                                                final_done=r.final_reminder_done))]
    sent = 0
    for run_id, team_id, which in due:
        slack = _port(slack_for, team_id)
        if slack is None:
            continue
        sent += _remind(services, slack, run_id, which)
    return sent


def _remind(services: Services, slack: SlackPort, run_id: int, which: str) -> int:
    with services.db.session() as s:
        run = s.get(SurveyRun, run_id)
        if run is None:
            return 0
        team_id, channel_id, public_id = run.team_id, run.channel_id, run.public_id
    try:
        humans = audience_of(services, slack, team_id, channel_id).humans  # days after launch: a reminder may wait
    except SlackError:
        return 0  # the next sweep tries again
    flag = SurveyRun.final_reminder_done if which == "final" else SurveyRun.first_reminder_done
    with services.db.session() as s:
        claimed = s.execute(update(SurveyRun).where(SurveyRun.id == run_id, flag.is_(False),
                                                    SurveyRun.status == RunStatus.OPEN)
                            .values({flag.key: True, **({"first_reminder_done": True} if which == "final" else {})})
                            ).rowcount
        if not claimed:
            return 0
        run = s.get(SurveyRun, run_id)
        assert run is not None
        done = repo.participants(s, run_id)
        targets = [u for u in _reachable(s, team_id, humans) if u not in done]
        payload = views.invitation(services.copy, instrument_of(run), public_id, run.closes_at, reminder=True)
        for user_id in targets:
            outbox.enqueue_sensitive(s, team_id=team_id, kind=f"{KIND}.remind", recipient=user_id, payload=payload,
                                     dedupe_key=outbox.key(KIND, public_id, user_id, which))
    log.info("surveys.reminded run=%s which=%s reminders=%s", public_id, which, len(targets))
    return len(targets)
