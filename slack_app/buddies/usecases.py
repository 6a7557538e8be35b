"""Buddy introductions: programs, planning and running a round, and members' choices.

A round: list the channel's humans (`slack_app.roster`), drop the paused, gone, skipping and no-DM ones,
match them (`matching.match`, seeded, history and hard constraints from storage), store the round and its
sealed groups, and queue one group DM per group and a kind note to anyone left out, all through the outbox
as sensitive messages (who met whom is never kept in clear), in one transaction.

A round fans out at once: its roster comes from the cache with no per-member lookups (`lookups=False`).
The heads-up a business day before is where the channel's unknown profiles are read (in bulk, after the
heads-ups are written), so by the round nearly everyone is known. Anyone still unknown is matched as a
person on UTC; their group's introduction carries the `resolve_user` flag, and the delivery worker opens
the group DM with only its members who are people (with words naming just them, `REGROUP`). A member whose
group turns out to hold no other person gets the left-out note instead (`ALONE`) and priority next round
(`_left_alone`: read from the last round's groups and the profiles known now).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import combinations
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select, update

from slack_app import preferences
from slack_app.buddies import rules, views
from slack_app.buddies.matching import Plan, match
from slack_app.delivery.worker import ALONE, REGROUP, RESOLVE_USER, resolving
from slack_app.roster import channel_roster, is_human, profile_of, warm
from slack_app.scheduling.cadence import Cadence, next_after, period
from storage import buddies as repo
from storage import members, outbox
from storage import reports as reports_repo
from storage.models import utcnow
from storage.preferences import WHOLE_WORKFLOW

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.services import Services
    from slack_app.slack_port import SlackPort

log = logging.getLogger("hearth.buddies")
KIND = "buddies"


def cadence_of(p: repo.BuddyProgram) -> Cadence:
    return Cadence(kind=p.cadence, weekday=p.weekday, at=p.local_time, tz=p.timezone, anchor=p.anchor_date)


def enable(services: Services, team_id: str, channel_id: str, settings: rules.ProgramSettings, *,
           now: datetime | None = None) -> tuple[repo.BuddyProgram, bool]:
    now = now or utcnow()
    with services.db.session() as s:
        row = repo.program(s, team_id, channel_id)
        created = row is None
        if row is None:
            row = repo.BuddyProgram(team_id=team_id, channel_id=channel_id, anchor_date=now.date())
            s.add(row)
        row.enabled, row.size, row.cadence, row.weekday = True, settings.size, settings.cadence, settings.weekday
        row.local_time, row.timezone, row.opt_in, row.enabled_at = (settings.local_time, settings.timezone,
                                                                    settings.opt_in, now)
        row.mix_channel, row.mix_field, row.window = settings.mix_channel, settings.mix_field, settings.window
        s.flush()
        if settings.opt_in:  # members join with a button: invite them once, in the channel
            outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.join", target=channel_id,
                           payload=views.join_invitation(services.copy, row.id, settings.size),
                           dedupe_key=outbox.key(KIND, row.id, "join_invitation"))
        s.expunge(row)
    log.info("buddies.enabled program=%s created=%s", row.id, created)
    return row, created


def settings_of(p: repo.BuddyProgram) -> rules.ProgramSettings:
    return rules.ProgramSettings(size=p.size, cadence=p.cadence, weekday=p.weekday, local_time=p.local_time,
                                 timezone=p.timezone, opt_in=p.opt_in, mix_channel=p.mix_channel,
                                 mix_field=p.mix_field, window=p.window)


def disable(services: Services, team_id: str, channel_id: str) -> bool:
    with services.db.session() as s:
        row = repo.program(s, team_id, channel_id)
        if row is None:
            return False
        row.enabled = False
    return True


def program(services: Services, team_id: str, channel_id: str) -> repo.BuddyProgram | None:
    with services.db.session() as s:
        row = repo.program(s, team_id, channel_id)
        if row is not None:
            s.expunge(row)
        return row


@dataclass(frozen=True)
class RoundResult:
    status: str  # "opened", "planned" (dry run), "no_program", "disabled", "too_few"
    plan: Plan | None = None
    round_id: int | None = None
    participants: int = 0


def plan_round(services: Services, slack: SlackPort, team_id: str, channel_id: str, *, dry_run: bool = False,
               occurrence: datetime | None = None, now: datetime | None = None) -> RoundResult:
    """Match the program's members now; unless `dry_run`, store the round and queue the introductions."""
    now = now or utcnow()
    prog = program(services, team_id, channel_id)
    if prog is None:
        return RoundResult("no_program")
    if not prog.enabled and not dry_run:
        return RoundResult("disabled")
    # a dry run may take its time to be exact; a round starts at once (see the module docstring)
    roster = channel_roster(services, slack, team_id, channel_id, now=now, lookups=dry_run)
    teams = None
    if prog.mix_channel:  # two "teams": those in the second channel, and everyone else
        other = set(channel_roster(services, slack, team_id, prog.mix_channel, now=now, lookups=dry_run).humans)
        teams = {u: "in" if u in other else "out" for u in roster.humans}
    elif prog.mix_field:  # teams by a profile field's value (opaque keys); no value: a team of one
        with services.db.session() as s:
            keys = members.profile_keys(s, team_id, roster.humans, prog.mix_field)
        teams = {u: keys.get(u, f"alone:{u}") for u in roster.humans}
    if not dry_run:
        with services.db.session() as s:
            _tally_follow_ups(services, s, prog.id, team_id)
    with services.db.session() as s:
        states = repo.members(s, prog.id)
        people = _participants(s, prog.id, team_id, channel_id, prog.opt_in, roster.humans, now)
        seed = rules.round_seed(prog.id, occurrence or now, len(repo.rounds(s, prog.id)))
        plan = match(people, prog.size, seed=seed, history=repo.history(s, services.crypto, prog.id, prog.window),
                     forbidden=repo.forbidden_pairs(s, services.crypto, team_id)
                     | reports_repo.linked_pairs(s, services.crypto, team_id),
                     priority=sorted({u for u, st in states.items() if st.priority}
                                     | _left_alone(s, services, prog.id, team_id)),
                     offsets={u: rules.offset_minutes(roster.tz.get(u, "UTC"), now) for u in people},
                     window=prog.window, teams=teams)
        if dry_run:
            return RoundResult("planned", plan, participants=len(people))
        if not plan.groups and not people:
            log.info("buddies.round_empty program=%s", prog.id)
        rnd = repo.add_round(s, services.crypto, prog.id, seed, plan.groups, occurrence=occurrence,
                             left_out=len(plan.left_out), repeats=plan.quality.repeats,
                             repeat_groups=plan.quality.repeat_groups,
                             follow_up_at=now + period(cadence_of(prog)) / 2)
        unresolved = set(roster.unresolved)
        bank = views.prompts(services.copy)
        for i, group in enumerate(plan.groups):
            outbox.enqueue_sensitive(s, team_id=team_id, kind=f"{KIND}.intro", recipient=group,
                                     payload=_intro(services, group, rules.prompt_for(seed, i, bank), unresolved),
                                     dedupe_key=outbox.key(KIND, rnd.id, "intro", i))
        for user_id in plan.left_out:
            note = views.left_out(services.copy)
            outbox.enqueue_sensitive(s, team_id=team_id, kind=f"{KIND}.left_out", recipient=user_id,
                                     payload=resolving(note, user_id in unresolved),
                                     dedupe_key=outbox.key(KIND, rnd.id, "left_out", user_id))
        repo.after_round(s, prog.id, plan.left_out)
        round_id = rnd.id
    log.info("buddies.round_opened program=%s round=%s groups=%s left_out=%s repeats=%s unresolved_count=%s",
             prog.id, round_id, len(plan.groups), len(plan.left_out), plan.quality.repeats, len(roster.unresolved))
    if roster.unresolved:  # the introductions are on their way: now read the missing profiles in bulk
        warm(services, slack, team_id, roster.unresolved)
    status = "opened" if plan.groups or plan.left_out else "too_few"
    return RoundResult(status, plan, round_id, participants=len(people))


REGROUP_UP_TO = 3  # unknown members in a group for which the words of every smaller group are written ahead


def _intro(services: Services, group: list[str], prompt: str, unresolved: set[str]) -> dict:
    """A group's introduction; with members of unknown profile, flagged for the worker, with the words for
    each smaller group they could leave behind (up to 2**3 variants: a few KB, encrypted, deleted once sent;
    with more unknown members the words name everyone) and the left-out note for one left alone."""
    payload = views.intro(services.copy, group, prompt)
    unsure = [u for u in group if u in unresolved]
    if not unsure:
        return payload
    smaller = {}
    if len(unsure) <= REGROUP_UP_TO:
        for k in range(1, len(unsure) + 1):
            for gone in combinations(unsure, k):
                rest = [u for u in group if u not in gone]
                if len(rest) >= 2:
                    smaller[",".join(sorted(rest))] = views.intro(services.copy, rest, prompt)
    return {**payload, RESOLVE_USER: True, REGROUP: smaller, ALONE: views.left_out(services.copy)}


def _left_alone(s: Session, services: Services, program_id: int, team_id: str) -> set[str]:
    """Members of the last round whose group held no other person after all (the others turned out to be
    bots or deactivated accounts): they were not really introduced, so they come first this round."""
    last = repo.rounds(s, program_id, 1)
    if not last:
        return set()
    groups = [repo.members_of(services.crypto, g) for g in repo.group_rows(s, last[0].id)]
    known = members.by_id(s, team_id, sorted({u for g in groups for u in g}))
    alone = set()
    for group in groups:
        people = [u for u in group if not ((m := known.get(u)) is not None and m.profile_at is not None
                                           and (m.is_bot or m.is_deleted))]
        if len(people) == 1:
            alone.add(people[0])
    return alone


def _participants(s: Session, program_id: int, team_id: str, channel_id: str, opt_in: bool, humans: list[str],
                  now: datetime) -> list[str]:
    states = repo.members(s, program_id)
    prefs = preferences.of_many(s, team_id, humans, workflow=repo.WORKFLOW)
    member_states = {
        u: rules.MemberState(
            paused=p.paused or p.snoozed_at(now) is not None or p.no_dms
            or bool(states.get(u) and states[u].unanswered >= UNANSWERED_LIMIT),
            opted_out=p.opted_out_of(repo.WORKFLOW, channel_id),
            skip_next=bool(states.get(u) and states[u].skip_next),
            joined=bool(states.get(u) and states[u].joined))
        for u, p in prefs.items()}
    return rules.participants(humans, member_states, opt_in=opt_in)


UNANSWERED_LIMIT = 3


def _tally_follow_ups(services: Services, s: Session, program_id: int, team_id: str) -> None:
    """Before a new round: count the last round's unanswered "Did you meet?" per member (an answer resets
    it); a member at 3 in a row is paused in this program (the count stays at the limit until they resume:
    not Hearth's shared pause, which would stop their check-ins too), with a kind notice and a one-click
    resume."""
    last = next((r for r in repo.rounds(s, program_id, 1) if r.followed_up and not r.tallied), None)
    if last is None:
        return
    last.tallied = True
    paused_count = 0
    for group in repo.group_rows(s, last.id):
        for user_id in repo.members_of(services.crypto, group):
            row = repo.member(s, program_id, user_id, create=True)
            assert row is not None
            row.unanswered = 0 if group.answer else row.unanswered + 1
            if row.unanswered == UNANSWERED_LIMIT:
                outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.paused", target=user_id,
                               payload=views.paused_notice(services.copy, program_id),
                               dedupe_key=outbox.key(KIND, last.id, "paused", user_id))
                paused_count += 1
    if paused_count:
        log.info("buddies.paused_unanswered program=%d paused_count=%d", program_id, paused_count)


def follow_up_due(services: Services, *, now: datetime | None = None) -> int:
    """Halfway through each round, "Did you meet?" in each group's DM (once per round, whoever wakes it)."""
    now = now or utcnow()
    with services.db.session() as s:
        due = [r.id for r in s.scalars(select(repo.BuddyRound).where(
            repo.BuddyRound.follow_up_at <= now, repo.BuddyRound.followed_up.is_(False)))]
    asked = 0
    for round_id in due:
        with services.db.session() as s:
            if not s.execute(update(repo.BuddyRound).where(repo.BuddyRound.id == round_id,
                                                           repo.BuddyRound.followed_up.is_(False))
                             .values(followed_up=True)).rowcount:
                continue
            rnd = s.get(repo.BuddyRound, round_id)
            prog = s.get(repo.BuddyProgram, rnd.program_id) if rnd else None
            if rnd is None or prog is None:
                continue
            for i, group in enumerate(repo.group_rows(s, round_id)):
                outbox.enqueue_sensitive(s, team_id=prog.team_id, kind=f"{KIND}.follow_up",
                                         recipient=repo.members_of(services.crypto, group),
                                         payload=views.follow_up(services.copy, group.id),
                                         dedupe_key=outbox.key(KIND, round_id, "follow_up", i))
                asked += 1
        log.info("buddies.follow_up round=%s", round_id)
    return asked


def answer_follow_up(services: Services, user_id: str, value: str, answer: str) -> bool:
    """Record a group's answer to "Did you meet?"; only a member of the group can give it."""
    if not value.isdigit():
        return False
    with services.db.session() as s:
        group = s.get(repo.BuddyGroup, int(value))
        if group is None or user_id not in repo.members_of(services.crypto, group):
            return False
        group.answer = answer
    return True


def resume(services: Services, team_id: str, user_id: str, value: str = "") -> None:
    """The notice's one click: back in the program it names (an older notice names none: the shared
    pause ends, as it did then)."""
    with services.db.session() as s:
        prog = s.get(repo.BuddyProgram, int(value)) if value.isdigit() else None
        if prog is None or prog.team_id != team_id:
            preferences.resume(s, team_id, user_id)
            return
        row = repo.member(s, prog.id, user_id)
        if row is not None:
            row.unanswered = 0


def claim_occurrence(services: Services, program_id: int, occurrence: datetime) -> bool:
    """Claim a scheduled round once, whoever wakes it (a conditional update on the program)."""
    with services.db.session() as s:
        done = s.execute(update(repo.BuddyProgram).where(
            repo.BuddyProgram.id == program_id, repo.BuddyProgram.enabled.is_(True),
            or_(repo.BuddyProgram.last_occurrence.is_(None), repo.BuddyProgram.last_occurrence < occurrence),
        ).values(last_occurrence=occurrence))
        return bool(done.rowcount)


def release_occurrence(services: Services, program_id: int, occurrence: datetime, previous: datetime | None) -> None:
    """Give a claimed occurrence back (its round could not run), so the next sweep tries it again."""
    with services.db.session() as s:
        s.execute(update(repo.BuddyProgram).where(repo.BuddyProgram.id == program_id,
                                                  repo.BuddyProgram.last_occurrence == occurrence)
                  .values(last_occurrence=previous))


def heads_up_due(services: Services, slack_for: Callable[[str], SlackPort], *, now: datetime | None = None) -> int:
    """One business day before each program's next scheduled round, a DM to each member who would take part,
    with "Skip this round". Claimed per occurrence (a conditional update), so it is sent once."""
    now = now or utcnow()
    with services.db.session() as s:
        work = []
        for p in repo.programs(s):
            nxt = next_after(cadence_of(p), max(now, p.enabled_at))
            if rules.heads_up_at(nxt, p.timezone) <= now and p.heads_up_for != nxt:
                work.append((p.id, p.team_id, p.channel_id, p.opt_in, p.timezone, nxt))
    sent = 0
    for program_id, team_id, channel_id, opt_in, tz, nxt in work:
        with services.db.session() as s:
            claimed = s.execute(update(repo.BuddyProgram).where(
                repo.BuddyProgram.id == program_id,
                or_(repo.BuddyProgram.heads_up_for.is_(None), repo.BuddyProgram.heads_up_for != nxt),
            ).values(heads_up_for=nxt)).rowcount
        if not claimed:
            continue
        slack = slack_for(team_id)
        roster = channel_roster(services, slack, team_id, channel_id, now=now, lookups=False)
        when = nxt.astimezone(ZoneInfo(tz)).strftime("%A at %H:%M ") + tz
        unresolved = set(roster.unresolved)
        with services.db.session() as s:
            people = _participants(s, program_id, team_id, channel_id, opt_in, roster.humans, now)
            payload = views.heads_up(services.copy, channel_id, program_id, when)
            for user_id in people:
                outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.heads_up", target=user_id,
                               payload=resolving(payload, user_id in unresolved),
                               dedupe_key=outbox.key(KIND, program_id, nxt.isoformat(), "heads_up", user_id))
        sent += len(people)
        log.info("buddies.heads_up program=%s members=%s unresolved_count=%s", program_id, len(people),
                 len(unresolved))
        if unresolved:  # a business day before the round: who is a person, and where, is known by then
            warm(services, slack, team_id, roster.unresolved)
    return sent


def choose_from_button(services: Services, team_id: str, user_id: str, value: str,
                       action: str) -> tuple[str, str | None]:
    """A button naming a program (by id): skip its next round, or join it."""
    with services.db.session() as s:
        prog = s.get(repo.BuddyProgram, int(value)) if value.isdigit() else None
        channel_id = prog.channel_id if prog is not None and prog.team_id == team_id else None
    return choose(services, team_id, channel_id, user_id, action), channel_id


# --- members' choices (/buddies) -----------------------------------------------------------------------------

def pause_until(services: Services, team_id: str, user_id: str, until: datetime) -> str:
    """`/buddies pause until DATE`: a shared "paused until" (every workflow leaves them be until then)."""
    with services.db.session() as s:
        preferences.pause_until(s, team_id, user_id, until)
    return "paused_until"


def choose(services: Services, team_id: str, channel_id: str | None, user_id: str, action: str) -> str:
    """Apply a member's choice; the outcome names the answer to show them."""
    with services.db.session() as s:
        if action == "pause":
            preferences.pause(s, team_id, user_id)
            return "paused"
        if action == "resume":  # the shared pause, and any program that paused them for unanswered intros
            preferences.resume(s, team_id, user_id)
            repo.resume_everywhere(s, team_id, user_id)
            return "resumed"
        prog = repo.program(s, team_id, channel_id) if channel_id else None
        if prog is None or not prog.enabled:
            return "no_program"
        if action == "skip":
            row = repo.member(s, prog.id, user_id, create=True)
            assert row is not None
            row.skip_next = True
            return "skipped"
        if action == "leave":
            preferences.opt_out(s, team_id, user_id, repo.WORKFLOW, prog.channel_id)
            row = repo.member(s, prog.id, user_id)
            if row is not None:
                row.joined = False
            return "left"
        if action == "join":
            # back in this channel's introductions only: leaving another program's stays left
            preferences.opt_in(s, team_id, user_id, repo.WORKFLOW, scopes=[WHOLE_WORKFLOW, prog.channel_id])
            row = repo.member(s, prog.id, user_id, create=True)
            assert row is not None
            row.joined = True
            return "joined"
    return "help"


MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")


def never_pair(services: Services, team_id: str, user_id: str, words: str, raw: str) -> tuple[str, list[str]]:
    """`/buddies never @a @b` adds to the member's confidential list, `never clear` empties it, `never` shows
    it. Returns the outcome and the people to show (only ever to the member themself)."""
    mentioned = [u for u in MENTION.findall(raw) if u != user_id]
    with services.db.session() as s:
        current = repo.never_pair(s, services.crypto, team_id, user_id)
        if words.strip() == "clear":
            repo.set_never_pair(s, services.crypto, team_id, user_id, [])
            return "never_cleared", []
        if mentioned:
            repo.set_never_pair(s, services.crypto, team_id, user_id, current + mentioned)
            return "never_added", sorted(set(current + mentioned))
        if words.strip():
            return "never_help", []
        return "never_list", current


WELCOME_AFTER = timedelta(minutes=10)  # "soon after" joining: time to look around first


def member_joined(services: Services, slack: SlackPort, team_id: str, channel_id: str, user_id: str, *,
                  now: datetime | None = None) -> bool:
    """Someone joined a program's channel: introduce them to a volunteer welcomer, at most once per person.
    Runs after the ack (it may ask Slack whether a never-seen member is a person)."""
    now = now or utcnow()
    with services.db.session() as s:
        prog = repo.program(s, team_id, channel_id)
        if prog is None or not prog.enabled:
            return False
        profile = members.by_id(s, team_id, [user_id]).get(user_id)
        known = profile is not None and profile.profile_at is not None
        if known and (profile.is_bot or profile.is_deleted):  # type: ignore[union-attr]
            return False
    if not known and not is_human(profile_of(slack.user_info(user_id))):
        return False
    with services.db.session() as s:
        prog = repo.program(s, team_id, channel_id)
        if prog is None:
            return False
        row = repo.member(s, prog.id, user_id, create=True)
        assert row is not None
        if row.welcomed:
            return False
        volunteers = sorted(u for u, m in repo.members(s, prog.id).items() if m.welcomer and u != user_id)
        prefs = preferences.of_many(s, team_id, volunteers, workflow=repo.WORKFLOW)
        # A volunteer who has since left the channel is never introduced again (member_left_channel keeps
        # the listing current; a channel never listed counts everyone in).
        volunteers = [u for u in volunteers if not (prefs[u].paused or prefs[u].snoozed_at(now) or prefs[u].no_dms
                                                    or prefs[u].opted_out_of(repo.WORKFLOW, channel_id)
                                                    or members.in_channel(s, team_id, channel_id, u) is False)]
        if not volunteers:
            return False
        welcomer = volunteers[rules.round_seed(prog.id, now) % len(volunteers)]
        row.welcomed = True
        outbox.enqueue_sensitive(s, team_id=team_id, kind=f"{KIND}.welcome", recipient=[user_id, welcomer],
                                 payload=views.welcome(services.copy, user_id, welcomer, channel_id),
                                 dedupe_key=outbox.key(KIND, prog.id, "welcome", user_id),
                                 not_before=now + WELCOME_AFTER)
    log.info("buddies.welcome_queued program=%s", prog.id)
    return True


def volunteer(services: Services, team_id: str, user_id: str, value: str) -> bool | None:
    """Toggle the member's "welcome newcomers" offer for a program; the new state (None: no such program)."""
    with services.db.session() as s:
        prog = s.get(repo.BuddyProgram, int(value)) if value.isdigit() else None
        if prog is None or prog.team_id != team_id:
            return None
        row = repo.member(s, prog.id, user_id, create=True)
        assert row is not None
        row.welcomer = not row.welcomer
        return row.welcomer
