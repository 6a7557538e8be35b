"""Check-in use cases: circle settings, the check-in modal, sharing, peer help and members' preferences.
Rounds (open, remind, close) live in `rounds`.

Each use case is one or a few short transactions that store a change together with the messages it
causes (outbox rows, sent later by the delivery worker). Slack is called directly only to learn things
(is the bot in the channel, is this person an admin) and never inside a transaction. Logs carry ids
and counts, never names or what anyone wrote.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError

from slack_app import preferences
from slack_app.admins import is_admin
from slack_app.checkins import audience, rounds, rules, views
from slack_app.checkins.inputs import CheckinForm, SettingsInput
from slack_app.checkins.outcomes import Choice, Draft, NothingOpen, Refused, Start
from slack_app.checkins.rounds import KIND, round_key, schedule_of
from slack_app.checkins.rules import Sharing
from slack_app.slack_port import SlackError, SlackPort
from storage import checkins as repo
from storage import members, outbox
from storage.checkins import CheckinCircle, CheckinRound, OfferStatus, RoundStatus
from storage.models import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.services import Services

log = logging.getLogger("hearth.checkins")


# ---- circles --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnableResult:
    circle_id: int | None
    errors: dict[str, str]
    next_open_at: datetime | None = None
    problem: str | None = None  # Slack says Hearth cannot post there yet (the admin is told the fix)
    created: bool = False


def enable_circle(services: Services, team_id: str, channel_id: str, given: SettingsInput, *,
                  by: str | None = None, now: datetime | None = None) -> EnableResult:
    """Turn check-ins on (or update them) for a channel; settings errors come back per field.

    Slack is not asked anything here, so the settings modal can answer within Slack's 3 seconds;
    `confirm_circle` checks the channel afterwards."""
    now = now or utcnow()
    tz = given.tz or services.settings.HEARTH_TIMEZONE
    anchor = now.astimezone(ZoneInfo(tz)).date() if rules.is_time_zone(tz) else now.date()
    parsed, errors = rules.validate_settings(
        cadence=given.cadence, day=given.day, local_time=given.local_time, tz=tz, window=given.window,
        remind_before=given.remind_before, sharing=given.sharing, rotate_facilitator=given.rotate, anchor=anchor)
    if not channel_id or channel_id[0] not in "CG":
        errors["channel"] = "bad_channel"
    if errors or parsed is None:
        return EnableResult(None, errors)
    with services.db.session() as s:
        circle = repo.circle(s, team_id, channel_id)
        created = circle is None
        if circle is None:
            circle = CheckinCircle(team_id=team_id, channel_id=channel_id, anchor_date=anchor)
            s.add(circle)
        elif circle.cadence != parsed.schedule.cadence.value:
            circle.anchor_date = anchor  # a new rhythm counts its weeks from now
        _apply_settings(circle, parsed, enabled=given.enabled)
        circle.created_by = by or circle.created_by
        circle.next_open_at = rules.next_open(schedule_of(circle), now) if given.enabled else None
        s.flush()
        result = EnableResult(circle.id, {}, circle.next_open_at, circle.problem, created)
    log.info("checkins.circle_saved circle=%s enabled=%s", result.circle_id, given.enabled)
    return result


def confirm_circle(services: Services, slack: SlackPort, circle_id: int, *, by: str | None = None) -> str | None:
    """Check Hearth can post in the circle's channel; tell the admin who saved the settings (by DM) how
    it went and, if needed, the fix. Returns the problem, if any."""
    with services.db.session() as s:
        channel_id = s.get(CheckinCircle, circle_id).channel_id
    try:
        problem = audience.channel_problem(slack, channel_id)
    except SlackError as exc:  # Slack busy: the first opening checks again
        log.info("checkins.confirm_deferred circle=%s error=%s", circle_id, exc.error)
        problem = None
    with services.db.session() as s:
        circle = s.get(CheckinCircle, circle_id)
        circle.problem = problem
        if by:
            outbox.enqueue(s, team_id=circle.team_id, kind=f"{KIND}.settings", target=by,
                           payload=views.settings_saved(services.copy, circle, problem),
                           dedupe_key=outbox.key(KIND, "settings", circle_id, circle.updated_at.isoformat(), by))
    if problem:
        log.warning("checkins.circle_problem circle=%s problem=%s", circle_id, problem)
    return problem


def _apply_settings(circle: CheckinCircle, parsed: rules.CircleSettings, *, enabled: bool) -> None:
    schedule = parsed.schedule
    circle.enabled = enabled
    circle.cadence = schedule.cadence.value
    circle.weekday = schedule.weekday
    circle.local_time = schedule.local_time.strftime("%H:%M")
    circle.timezone = schedule.tz
    circle.window_minutes = int(schedule.window.total_seconds() // 60)
    circle.remind_before_minutes = int(schedule.remind_before.total_seconds() // 60)
    circle.sharing = parsed.sharing.value
    circle.rotate_facilitator = parsed.rotate_facilitator


def disable_circle(services: Services, team_id: str, channel_id: str) -> bool:
    with services.db.session() as s:
        circle = repo.circle(s, team_id, channel_id)
        if circle is None:
            return False
        circle.enabled = False
        circle.next_open_at = None
        return True


# ---- the check-in modal ---------------------------------------------------------------------------------

def start_checkin(services: Services, team_id: str, user_id: str, *, round_id: int | None = None,
                  now: datetime | None = None) -> Start:
    """`/checkin` (round_id None: the member's open rounds) or a "Check in" button (that round)."""
    now = now or utcnow()
    with services.db.session() as s:
        if round_id is not None:
            found = repo.round_of(s, round_id, user_id)
            if found is None or found.circle.team_id != team_id:
                return Refused("round_missing")
            round_, circle = found.round, found.circle
            if round_.status != RoundStatus.OPEN or round_.closes_at <= now:
                return Refused("round_closed")
            if not in_circle(found.listed, found.participant):  # an old button of someone who left the channel
                return Refused("not_in_circle")
            _take_part(s, found, user_id)
            return _draft(services, circle, round_, found.checkin)
        open_rounds = [found for found in repo.open_rounds_for(s, team_id, user_id)
                       if found.round.closes_at > now and in_circle(found.listed, found.participant)]
        if not open_rounds:
            return NothingOpen(paused=preferences.of(s, team_id, user_id).paused)
        if len(open_rounds) == 1:
            found = open_rounds[0]
            return _draft(services, found.circle, found.round, found.checkin)
        return Choice([(found.round.id, found.circle.channel_id) for found in open_rounds])


def in_circle(listed: bool | None, participant: repo.CheckinParticipant | None) -> bool:
    """Is the member in the circle's channel now? The roster's listing of the channel (kept current by
    membership events) decides; for a channel never listed, the round's own record of who left."""
    if listed is not None:
        return listed
    return participant is None or participant.left_at is None


def _take_part(s: Session, found: repo.RoundOf, user_id: str) -> None:
    """Someone who joined mid-round (or came back) becomes a participant; one who is needs no statement."""
    if found.participant is None or found.participant.left_at is not None:
        repo.add_participant(s, found.round.id, user_id, invited=False)


def _allowed_sharing(circle: CheckinCircle, round_: CheckinRound) -> list[Sharing]:
    allowed = rules.allowed_sharing(Sharing(circle.sharing))
    if round_.facilitator_id is None:  # nobody to read facilitator-only check-ins
        allowed = [m for m in allowed if m is not Sharing.FACILITATOR] or [Sharing.ANONYMOUS]
    return allowed


def _draft(services: Services, circle: CheckinCircle, round_: CheckinRound, existing: repo.Checkin | None) -> Draft:
    return Draft(round_id=round_.id, channel_id=circle.channel_id, closes_at=round_.closes_at,
                 existing=repo.read_checkin(services.crypto, existing) if existing else None,
                 existing_sharing=existing.sharing if existing else None, allowed=_allowed_sharing(circle, round_))


@dataclass(frozen=True)
class SubmitResult:
    errors: dict[str, str] | None = None  # field -> error code ("round" when the round itself is gone)
    closes_at: datetime | None = None  # stored: when the round closes (the member may edit until then)
    edited: bool = False  # an existing check-in was changed (or submitted again unchanged)


def submit_checkin(services: Services, team_id: str, user_id: str, round_id: int | None, form: CheckinForm,
                   *, now: datetime | None = None) -> SubmitResult:
    """Store (or edit) a check-in and share it as chosen; errors are shown inline in the modal."""
    now = now or utcnow()
    for attempt in range(2):  # a double submission may race to insert the same check-in
        try:
            with services.db.session() as s:
                found = repo.round_of(s, round_id, user_id)
                if found is None or found.circle.team_id != team_id:
                    return SubmitResult(errors={"round": "round_missing"})
                round_, circle = found.round, found.circle
                if round_.status != RoundStatus.OPEN or round_.closes_at <= now:
                    return SubmitResult(errors={"round": "round_closed"})
                if not in_circle(found.listed, found.participant):  # left the channel while the modal was open
                    return SubmitResult(errors={"round": "not_in_circle"})
                answers, errors = rules.validate_checkin(form.gratitude, form.challenge, form.offer, form.sharing,
                                                         _allowed_sharing(circle, round_))
                if errors or answers is None:
                    return SubmitResult(errors=errors)
                return _store_and_share(services, s, found, user_id, answers, now)
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _share_key(round_id: int, public_id: str, where: str, version: int | None = None) -> str:
    """Keys of a check-in's messages: the thread post or the facilitator's DM, and one per later edit."""
    return outbox.key(KIND, round_id, public_id, where, *([f"v{version}"] if version else []))


def _store_and_share(services: Services, s: Session, found: repo.RoundOf, user_id: str,
                     answers: rules.CheckinAnswers, now: datetime) -> SubmitResult:
    round_, circle, before = found.round, found.circle, found.checkin
    if before is not None:
        old = repo.read_checkin(services.crypto, before)
        if (old.gratitude, old.challenge, old.offer, before.sharing) == (
                answers.gratitude, answers.challenge, answers.offer, answers.sharing.value):
            return SubmitResult(closes_at=round_.closes_at, edited=True)  # nothing new
    previous_sharing = Sharing(before.sharing) if before else None
    row, created = repo.save_checkin(s, services.crypto, before, round_.id, user_id, gratitude=answers.gratitude,
                                     challenge=answers.challenge, offer=answers.offer, sharing=answers.sharing.value)
    _take_part(s, found, user_id)
    text = repo.CheckinText(answers.gratitude, answers.challenge, answers.offer)
    _share(services, s, circle, round_, row, text, previous_sharing)
    log.info("checkins.submitted round=%s checkin=%s new=%s sharing=%s", round_.id, row.id, created, row.sharing)
    return SubmitResult(closes_at=round_.closes_at, edited=not created)


def _share(services: Services, s: Session, circle: CheckinCircle, round_: CheckinRound, row: repo.Checkin,
           text: repo.CheckinText, previous: Sharing | None) -> None:
    """Post the check-in in the round's thread, or send it to the facilitator; an edit updates the message."""
    team_id, copy = circle.team_id, services.copy
    sharing = Sharing(row.sharing)
    thread_key = _share_key(round_.id, row.public_id, "thread")
    # A check-in's messages are keyed by its public id: a new one (no `previous`) has none yet.
    in_thread = previous is not None and outbox.exists(s, team_id, thread_key)
    if rules.is_shared_in_thread(sharing):
        payload = views.share_message(copy, row, text, named=sharing is Sharing.NAMED)
        if in_thread:
            payload, key = {**payload, "update_of": thread_key}, _share_key(round_.id, row.public_id, "thread",
                                                                             row.version)
        else:
            payload, key = {**payload, "thread_of": round_key(round_.id)}, thread_key
        outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.share", target=circle.channel_id, payload=payload,
                       dedupe_key=key)
        return
    if in_thread:  # moved from the thread to the facilitator only: take it out of the thread
        outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.share", target=circle.channel_id,
                       payload={**views.withdrawn_share(copy), "update_of": thread_key},
                       dedupe_key=_share_key(round_.id, row.public_id, "thread", row.version))
    facilitator = round_.facilitator_id
    if facilitator is None or facilitator == row.user_id:
        return  # the facilitator's own check-in needs no copy for themselves
    dm_key = _share_key(round_.id, row.public_id, "facilitator")
    payload = views.facilitator_share(copy, circle, row, text, _snooze_offer(s, team_id, facilitator))
    if previous is not None and outbox.exists(s, team_id, dm_key):
        payload, key = {**payload, "update_of": dm_key}, _share_key(round_.id, row.public_id, "facilitator",
                                                                     row.version)
    else:
        key = dm_key
    outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.share", target=facilitator, payload=payload, dedupe_key=key)


def _snooze_offer(s: Session, team_id: str, user_id: str) -> views.Snooze:
    record = members.by_id(s, team_id, [user_id]).get(user_id)
    return rounds.snooze_offer(utcnow(), record.tz if record else None)


# ---- peer help ------------------------------------------------------------------------------------------

def offer_help(services: Services, team_id: str, helper_id: str, checkin_public_id: str) -> str:
    """"I can help": ask the challenge's owner privately; returns the note shown to the helper."""
    try:
        outcome = _offer_help(services, team_id, helper_id, checkin_public_id)
    except IntegrityError:  # the same helper's double click, racing itself
        outcome = "already"
    return services.copy.render("checkin_help_note.j2", outcome=outcome)


def _offer_help(services: Services, team_id: str, helper_id: str, checkin_public_id: str) -> str:
    with services.db.session() as s:
        row = repo.checkin_by_public_id(s, checkin_public_id)
        round_ = s.get(CheckinRound, row.round_id) if row else None
        circle = s.get(CheckinCircle, round_.circle_id) if round_ else None
        if row is None or circle is None or circle.team_id != team_id or not row.has_challenge:
            return "missing"
        if row.user_id == helper_id:
            return "own"
        if members.in_channel(s, team_id, circle.channel_id, helper_id) is False:
            return "missing"  # a button seen before they left the circle's channel
        offer, created = repo.add_help_offer(s, row.id, helper_id)
        if not created:
            return "already"
        challenge = repo.read_checkin(services.crypto, row).challenge or ""
        outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.help", target=row.user_id,
                       payload=views.help_request(services.copy, circle, offer, helper_id, challenge,
                                                  named=row.sharing == Sharing.NAMED.value,
                                                  snooze=_snooze_offer(s, team_id, row.user_id)),
                       dedupe_key=outbox.key(KIND, "help", offer.public_id, "ask"))
        log.info("checkins.help_offered round=%s checkin=%s offer_id=%s", round_.id, row.id, offer.id)
        return "sent"


@dataclass(frozen=True)
class HelpAnswer:
    """How an offer of help now stands after the owner's click (`status` "missing" for an unknown offer)."""

    status: str
    helper_id: str | None = None
    accepted: bool = False


def answer_help(services: Services, team_id: str, owner_id: str, offer_public_id: str, *, accept: bool,
                now: datetime | None = None) -> HelpAnswer:
    """The owner accepts (Hearth opens a group DM introducing the two) or declines (nobody is told)."""
    now = now or utcnow()
    copy = services.copy
    with services.db.session() as s:
        offer = repo.help_offer(s, offer_public_id)
        row = s.get(repo.Checkin, offer.checkin_id) if offer else None
        if offer is None or row is None or row.user_id != owner_id:
            return HelpAnswer("missing")
        if offer.status != OfferStatus.OFFERED:  # a second click, or the other button after the first
            return HelpAnswer(offer.status, offer.helper_id, offer.status == OfferStatus.ACCEPTED)
        offer.status = OfferStatus.ACCEPTED if accept else OfferStatus.DECLINED
        offer.decided_at = now
        if accept:
            challenge = repo.read_checkin(services.crypto, row).challenge or ""
            outbox.enqueue(s, team_id=team_id, kind=f"{KIND}.help", target=[owner_id, offer.helper_id],
                           payload=views.help_intro(copy, owner_id, offer.helper_id, challenge),
                           dedupe_key=outbox.key(KIND, "help", offer.public_id, "intro"))
        log.info("checkins.help_decided offer_id=%s accepted=%s", offer.id, accept)
        return HelpAnswer(offer.status, offer.helper_id, accept)


# ---- pause, resume, snooze, opt out ---------------------------------------------------------------------

def pause(services: Services, team_id: str, user_id: str) -> str:
    """Paused until they resume: a shared preference, so every workflow leaves them be."""
    with services.db.session() as s:
        preferences.pause(s, team_id, user_id)
    log.info("checkins.paused")
    return services.copy.render("checkin_preference.j2", change="paused")


def resume(services: Services, team_id: str, user_id: str) -> str:
    """Back from a pause or snooze, and back in every circle the member had opted out of."""
    with services.db.session() as s:
        preferences.resume(s, team_id, user_id)
        rejoined = preferences.opt_in(s, team_id, user_id, repo.WORKFLOW)
    log.info("checkins.resumed circles_rejoined=%s", rejoined)
    return services.copy.render("checkin_preference.j2", change="resumed")


def snooze(services: Services, team_id: str, user_id: str, until_text: str, *, now: datetime | None = None) -> str:
    """"Snooze until …" from a DM: the button carries the instant it offered (ISO 8601)."""
    now = now or utcnow()
    try:
        until = datetime.fromisoformat(until_text)
    except (TypeError, ValueError):
        until = None
    if until is None or until.tzinfo is None or until <= now:  # an old or odd button: the usual span from today
        until = rules.snooze_until(now, "UTC")
    with services.db.session() as s:
        preferences.pause_until(s, team_id, user_id, until)
    log.info("checkins.snoozed")
    return services.copy.render("checkin_preference.j2", change="snoozed", until=views.slack_date(until, "{date_long}"))


def opt_out(services: Services, team_id: str, user_id: str, circle_id: int) -> str:
    """Leave one circle's check-ins (a per-workflow opt-out scoped to the circle's channel)."""
    with services.db.session() as s:
        circle = s.get(CheckinCircle, circle_id)
        if circle is None or circle.team_id != team_id:
            return services.copy.render("checkin_preference.j2", change="missing")
        preferences.opt_out(s, team_id, user_id, repo.WORKFLOW, circle.channel_id)
        channel_id = circle.channel_id
    log.info("checkins.opted_out circle=%s", circle_id)
    return services.copy.render("checkin_preference.j2", change="opted_out", channel_id=channel_id)


# ---- admins ---------------------------------------------------------------------------------------------

def open_settings(services: Services, slack: SlackPort, team_id: str, user_id: str, channel_id: str | None,
                  trigger_id: str) -> bool:
    """`/hearth` for an admin: the settings modal of the channel it was typed in. False for non-admins;
    SlackError when Slack cannot say who is an admin, or refuses the modal."""
    if not is_admin(services, slack, team_id, user_id, strict=True):
        return False
    with services.db.session() as s:
        circle = repo.circle(s, team_id, channel_id) if channel_id else None
        view = views.settings_modal(services.copy, circle, channel_id, services.settings.HEARTH_TIMEZONE)
    slack.open_view(trigger_id, view)
    return True


def save_settings(services: Services, team_id: str, user_id: str, channel_id: str,
                  given: SettingsInput) -> EnableResult:
    """The settings modal's submission (the modal is only ever opened for admins): the circle, or
    field -> error code for inline errors. No Slack call, so the ack is quick."""
    return enable_circle(services, team_id, channel_id, given, by=user_id)
