"""Reports: intake, routing to the moderator channel, triage with access control, and follow-up.

Logs carry case ids and counts only: never a user id, a name, or anything a reporter or moderator wrote.
An anonymous reporter's id lives only sealed in `report_case.reporter_sealed`, and in the recipient of
sensitive outbox rows (sealed, deleted once delivered).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from slack_app import roster
from slack_app.reports import rules, views
from slack_app.reports.ids import ReportView
from slack_app.services import Services
from slack_app.slack_port import SlackError, SlackPort
from storage import outbox
from storage import reports as store
from storage.models import Member, utcnow
from storage.reports import REPORTER, SYSTEM, ReportCase

log = logging.getLogger("hearth.reports")


# ---- intake -----------------------------------------------------------------------------------------

def snapshot_of(shortcut: dict, domain_url: str | None = None) -> rules.Snapshot:
    message = shortcut.get("message") or {}
    channel = (shortcut.get("channel") or {}).get("id") or ""
    ts = str(message.get("ts") or shortcut.get("message_ts") or "")
    text = str(message.get("text") or "")[: rules.SNAPSHOT_MAX]
    author = message.get("user") or message.get("bot_id")
    return rules.Snapshot(channel_id=channel, ts=ts, author_id=str(author) if author else None, text=text,
                          permalink=rules.permalink(domain_url, channel, ts))


def open_intake(services: Services, slack: SlackPort, trigger_id: str, snapshot: rules.Snapshot | None) -> bool:
    try:
        slack.open_view(trigger_id, views.intake_modal(services.copy, snapshot))
    except SlackError as exc:
        log.info("reports.modal_failed error=%s", exc.error)
        return False
    log.info("reports.form_shown about_message=%s", snapshot is not None)
    return True


@dataclass
class Submitted:
    errors: dict[str, str] = field(default_factory=dict)
    view: dict | None = None
    case_id: int | None = None
    created: bool = False


def submit(services: Services, team_id: str, user_id: str, view_id: str, raw: dict) -> Submitted:
    """Store the report (once per modal: a double submission or replay finds the same case)."""
    checked = rules.check_submission(**raw)
    if checked.submission is None:
        return Submitted(errors=checked.errors)
    sub = checked.submission
    crypto = services.crypto
    with services.db.session() as session:
        key = store.submission_key(session, team_id, view_id)
        case = store.by_submission(session, team_id, key)
        if case is not None:
            details = store.open_details(crypto, case)
            log.info("reports.duplicate_submission case=%d", case.id)
            return Submitted(view=views.done_modal(services.copy, case.number, details["receipt"],
                                                   anonymous=case.anonymous, follow_up=case.follow_up),
                             case_id=case.id)
        number = store.next_number(session, team_id)
        nonce = rules.new_nonce()
        receipt = rules.receipt(number, sub, nonce)
        snap = None
        if sub.snapshot is not None:
            s = sub.snapshot
            snap = {"channel": s.channel_id, "ts": s.ts, "author": s.author_id, "text": s.text,
                    "link": s.permalink}
        details = {"text": sub.text, "people": list(sub.people), "snapshot": snap, "nonce": nonce,
                   "receipt": receipt, "follow_up": sub.follow_up}
        now = utcnow()
        case = ReportCase(team_id=team_id, number=number, submission_key=key, category=sub.category,
                          urgency=sub.urgency, status=rules.OPEN, anonymous=sub.anonymous,
                          follow_up=sub.follow_up, reporter_id=None if sub.anonymous else user_id,
                          reporter_sealed=crypto.encrypt(user_id), pseudonym=rules.pseudonym(),
                          details=store.seal_details(crypto, details), card_version=0, reply_waiting=False,
                          created_at=now, updated_at=now)
        session.add(case)
        session.flush()
        store.add_entry(session, crypto, case, REPORTER, "submitted", at=now)
        case_id = case.id
    log.info("reports.submitted case=%d anonymous=%s", case_id, sub.anonymous)
    return Submitted(view=views.done_modal(services.copy, number, receipt, anonymous=sub.anonymous,
                                           follow_up=sub.follow_up),
                     case_id=case_id, created=True)


# ---- the moderator channel --------------------------------------------------------------------------

def configured_channel(services: Services, team_id: str) -> str | None:
    with services.db.session() as session:
        return _configured_channel(session, services, team_id)


def _configured_channel(session: Session, services: Services, team_id: str) -> str | None:
    """The workspace's moderator channel (`/hearth reports`), else the operator's HEARTH_MODERATOR_CHANNEL."""
    return store.moderator_channel(session, team_id) or services.settings.HEARTH_MODERATOR_CHANNEL


def channel_problem(slack: SlackPort, channel_id: str | None) -> str | None:
    """Why a channel cannot be the moderator channel; None when it can."""
    if not channel_id:
        return "not_set"
    try:
        info = slack.channel_info(channel_id)
    except SlackError as exc:
        return "channel_gone" if exc.error in ("channel_not_found", "not_in_channel") else "unreachable"
    if not info.is_private:
        return "public"
    if info.is_archived:
        return "archived"
    if not info.is_member:
        return "not_in_channel"
    return None


def set_channel(services: Services, slack: SlackPort, team_id: str, channel_id: str) -> str | None:
    """Make `channel_id` the workspace's moderator channel; the problem code when it cannot be."""
    problem = channel_problem(slack, channel_id)
    if problem is not None:
        return problem
    with services.db.session() as session:
        store.set_moderator_channel(session, team_id, channel_id)
        waiting = [c.id for c in store.unresolved_cases(session) if c.team_id == team_id and c.channel_id is None]
    for case_id in waiting:  # cases that found no usable channel reach the moderators now
        route(services, slack, team_id, case_id)
    log.info("reports.channel_set rerouted=%d", len(waiting))
    return None


def channel_from_slash(services: Services, slack: SlackPort, team_id: str, user_id: str,
                       channel_id: str | None) -> str:
    """`/hearth reports`: an admin makes the channel they type it in the moderator channel."""
    from slack_app.admins import is_admin

    def answer(outcome: str) -> str:
        return services.copy.render("report_channel_answer.j2", outcome=outcome)

    try:
        admin = is_admin(services, slack, team_id, user_id, strict=True)
    except SlackError:
        return answer("busy")
    if not admin:
        return answer("not_admin")
    problem = set_channel(services, slack, team_id, channel_id or "")
    return answer(problem or "set")


def route(services: Services, slack: SlackPort, team_id: str, case_id: int) -> str | None:
    """Bring a new case to the moderators, or warn the admins; the problem code, if any.

    The card goes to the moderator channel; but if one of its members is among the people involved, the
    case goes by DM to the other moderators and the escalation contacts instead, never to a channel that
    person reads."""
    with services.db.reader() as session:  # a case already routed asks nothing of Slack
        case = store.get(session, case_id)
        if case is None or case.channel_id is not None:
            return None
        involved = set(store.open_details(services.crypto, case)["people"])
        channel = _configured_channel(session, services, team_id)
    problem = channel_problem(slack, channel)
    fallback_admins: list[str] = []
    moderators: list[str] = []
    if problem is None:
        try:
            moderators = roster.channel_roster(services, slack, team_id, str(channel)).humans
        except SlackError as exc:
            log.info("reports.members_failed error=%s", exc.error)
            problem = "unreachable"
    moderator_involved = bool(involved & set(moderators))
    if problem is not None or moderator_involved:
        fallback_admins = _slack_admins(slack)
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.channel_id is not None:  # routed meanwhile (the sweep met the after-ack run)
            return None
        if problem is None and not moderator_involved:
            case.channel_id = channel
            store.add_entry(session, services.crypto, case, SYSTEM, "posted to moderators")
            outbox.enqueue(session, team_id=team_id, kind="report.card", target=str(channel),
                           payload=views.card(services.copy, _facts(case)), dedupe_key=_card_key(case))
        else:  # the channel may not read it: read who else may, only now (one more statement)
            contacts = [a for a in _admins(session, services, team_id) + fallback_admins if a not in involved]
            escalation = [a for a in _escalation_contacts(services) or contacts if a not in involved]
            recipients = sorted({m for m in moderators if m not in involved} | set(escalation))
            if problem is None and not recipients:
                problem = "all_involved"  # nobody may read it: stored, and visible to operators (`hearth reports`)
            if problem is None:
                case.channel_id = channel
                case.dm_recipients = services.crypto.encrypt(",".join(recipients))
                store.add_entry(session, services.crypto, case, SYSTEM, "sent by DM: a moderator is involved",
                                f"to {len(recipients)} moderators and escalation contacts")
                for target, key in _card_targets(services, case):
                    outbox.enqueue(session, team_id=team_id, kind="report.card", target=target,
                                   payload=views.card(services.copy, _facts(case)), dedupe_key=key)
            else:
                store.add_entry(session, services.crypto, case, SYSTEM, f"not posted: {problem}")
                for admin in sorted(set(contacts)):
                    # sensitive: an admin may be the (anonymous) reporter, and no row may name them in clear
                    outbox.enqueue_sensitive(session, team_id=team_id, kind="report.admin_warning",
                                             recipient=admin, payload={"text": services.copy.render(
                                                 "report_admin_warning.j2", number=case.number, problem=problem)},
                                             dedupe_key=outbox.key("report", case.id, admin, "unrouted"))
    log.info("reports.routed case=%d problem=%s", case_id, problem or "none")
    return problem


ROUTE_GRACE = timedelta(minutes=1)  # routing runs just after the ack; a case older than this without it was missed


def route_missed(services: Services, ports: Callable[[str], SlackPort], now: datetime | None = None) -> int:
    """Route the cases whose routing never ran or never finished: it runs after the ack, where a full pool
    drops it and a stopped process loses it, and a report must reach the moderators all the same."""
    now = now or datetime.now(UTC)
    with services.db.session() as session:
        missed = store.never_routed(session, now - ROUTE_GRACE)
    for team_id, case_id in missed:
        route(services, ports(team_id), team_id, case_id)
    if missed:
        log.info("reports.route_missed count=%d", len(missed))
    return len(missed)


def _admins(session: Session, services: Services, team_id: str) -> list[str]:
    from sqlalchemy import select

    known = set(session.scalars(select(Member.user_id).where(Member.team_id == team_id, Member.is_admin,
                                                             Member.is_deleted.is_(False), Member.is_bot.is_(False))))
    return sorted(known | set(services.settings.admins))


def _escalation_contacts(services: Services) -> list[str]:
    """HEARTH_ESCALATION_CONTACTS (e.g. a safeguarding lead); when none are configured, Hearth's admins are."""
    return sorted(services.settings.escalation_contacts)


def _slack_admins(slack: SlackPort) -> list[str]:
    """Workspace admins and owners as Slack says (the warning must reach someone even before Hearth's
    roster knows who the admins are)."""
    try:
        return [u.id for u in slack.list_users() if u.is_human and (u.is_admin or u.is_owner)]
    except SlackError as exc:
        log.info("reports.admins_unknown error=%s", exc.error)
        return []


def _card_key(case: ReportCase, recipient: str | None = None) -> str:
    if recipient:
        return outbox.key("report", case.team_id, case.id, "card", recipient)
    return outbox.key("report", case.team_id, case.id, "card")


def _dm_recipients(services: Services, case: ReportCase) -> list[str]:
    return services.crypto.decrypt(case.dm_recipients).split(",") if case.dm_recipients else []


def _card_targets(services: Services, case: ReportCase) -> list[tuple[str, str]]:
    """Where the case's card is: (conversation or user, dedupe key of its first post)."""
    if case.channel_id is None:
        return []
    if case.dm_recipients:
        return [(u, _card_key(case, u)) for u in _dm_recipients(services, case)]
    return [(case.channel_id, _card_key(case))]


def _facts(case: ReportCase) -> views.CardFacts:
    reporter = case.pseudonym if case.anonymous else f"<@{case.reporter_id}>"
    return views.CardFacts(case_id=case.id, number=case.number, category=case.category, urgency=case.urgency,
                           status=case.status, assignee_id=case.assignee_id, reporter=reporter,
                           created_at=case.created_at, reply_waiting=case.reply_waiting,
                           escalated=case.escalated_at is not None)


def _refresh_card(session: Session, services: Services, case: ReportCase) -> None:
    """Update the card in place (chat.update through the outbox) wherever it was posted."""
    targets = _card_targets(services, case)
    if not targets:
        return
    case.card_version += 1
    for target, key in targets:
        outbox.enqueue(session, team_id=case.team_id, kind="report.card_update", target=target,
                       payload={**views.card(services.copy, _facts(case)), "update_of": key},
                       dedupe_key=outbox.key(key, case.card_version))


def _tell_reporter(session: Session, services: Services, case: ReportCase, kind: str, payload: dict,
                   step: object) -> None:
    """A DM to the reporter: a sensitive outbox row (recipient sealed, row deleted once delivered)."""
    reporter = services.crypto.decrypt(case.reporter_sealed)
    outbox.enqueue_sensitive(session, team_id=case.team_id, kind=kind, recipient=reporter, payload=payload,
                             dedupe_key=outbox.key("report", case.team_id, case.id, reporter, kind, step))


# ---- triage -----------------------------------------------------------------------------------------

def _triage(services: Services, outcome: str, number: int | None = None) -> str:
    """What a moderator is told after a button on a case card (`report_triage.j2`)."""
    return services.copy.render("report_triage.j2", outcome=outcome, number=number)


MEMBERS_FRESH_FOR = 60.0  # seconds a form's submission may rely on the membership its opening click checked
_members_seen: dict[tuple[str, str], tuple[float, frozenset[str]]] = {}


def _channel_members(slack: SlackPort, team_id: str, channel: str, *, fresh: bool) -> frozenset[str]:
    """conversations.members, asked on every click (`fresh`); a form's submission may use the answer its
    opening click got within the last minute, so its ack never waits on Slack."""
    seen = _members_seen.get((team_id, channel))
    if not fresh and seen is not None and time.monotonic() - seen[0] < MEMBERS_FRESH_FOR:
        return seen[1]
    members = frozenset(slack.channel_members(channel))
    _members_seen[(team_id, channel)] = (time.monotonic(), members)
    return members


def may_act(services: Services, slack: SlackPort, team_id: str, case_id: int | None, user_id: str,
            what: str, *, fresh: bool = True) -> bool:
    """Whether `user_id` may act on the case: a current member of its moderator channel (asked of Slack on
    every click with conversations.members; a form's submission may rely on its opening click's answer for a
    minute), or one of those the case was sent to by DM; and never one of the people involved. A refusal is
    audited."""
    with services.db.session() as session:
        case = store.get(session, case_id) if case_id is not None else None
        if case is None or case.team_id != team_id:
            return False
        channel = case.channel_id or configured_channel(services, team_id)
        involved = set(store.open_details(services.crypto, case)["people"])
        by_dm = set(_dm_recipients(services, case))
    members: frozenset[str] = frozenset()
    if channel and user_id not in involved and user_id not in by_dm:
        try:
            members = _channel_members(slack, team_id, channel, fresh=fresh)
        except SlackError as exc:
            log.info("reports.members_failed error=%s", exc.error)
    if user_id not in involved and (user_id in by_dm or user_id in members):
        return True
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is not None:
            store.add_entry(session, services.crypto, case, user_id, f"refused: {what}")
    log.info("reports.refused case=%s action=%s", case_id, what)
    return False


def claim(services: Services, team_id: str, user_id: str, case_id: int) -> str:
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.team_id != team_id:
            return _triage(services, "gone")
        if case.status == rules.RESOLVED:
            return _triage(services, "claim_resolved", case.number)
        first = case.status == rules.OPEN
        case.status, case.assignee_id, case.updated_at = rules.ACKNOWLEDGED, user_id, utcnow()
        if first:
            case.acknowledged_at = case.updated_at
        store.add_entry(session, services.crypto, case, user_id, "acknowledged" if first else "claimed")
        _refresh_card(session, services, case)
        if first:
            _tell_reporter(session, services, case, "report.status",
                           views.status_dm(services.copy, case.number, rules.ACKNOWLEDGED), "acknowledged")
        number = case.number
    log.info("reports.claimed case=%d", case_id)
    return _triage(services, "claimed", number)


def add_note(services: Services, team_id: str, user_id: str, case_id: int, text: str | None, *,
             view_id: str | None = None) -> str | None:
    """The error code of the note, or None once it is stored."""
    problem = rules.check_note(text)
    if problem:
        return problem
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.team_id != team_id:
            return "gone"
        ref = store.view_ref(session, view_id)
        if store.has_ref(session, case.id, ref):
            return None  # the same note submitted twice
        store.add_entry(session, services.crypto, case, user_id, "note", (text or "").strip(), ref=ref)
    log.info("reports.note case=%d", case_id)
    return None


def resolve(services: Services, team_id: str, user_id: str, case_id: int, text: str | None, *,
            view_id: str | None = None) -> str | None:
    problem = rules.check_note(text)
    if problem:
        return problem
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.team_id != team_id:
            return "gone"
        if case.status == rules.RESOLVED:
            return None  # a second submission of the same resolution
        case.status, case.updated_at, case.reply_waiting = rules.RESOLVED, utcnow(), False
        entry = store.add_entry(session, services.crypto, case, user_id, "resolved", (text or "").strip())
        _refresh_card(session, services, case)
        _tell_reporter(session, services, case, "report.status", views.status_dm(services.copy, case.number, rules.RESOLVED),
                       f"resolved-{entry.id}")
    log.info("reports.resolved case=%d", case_id)
    return None


def reopen(services: Services, team_id: str, user_id: str, case_id: int) -> str:
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.team_id != team_id:
            return _triage(services, "gone")
        if case.status != rules.RESOLVED:
            return _triage(services, "reopen_not_resolved", case.number)
        case.status = rules.ACKNOWLEDGED if case.acknowledged_at else rules.OPEN
        case.updated_at = utcnow()
        store.add_entry(session, services.crypto, case, user_id, "reopened")
        _refresh_card(session, services, case)
        number = case.number
    log.info("reports.reopened case=%d", case_id)
    return _triage(services, "reopened", number)


def details_view(services: Services, team_id: str, user_id: str, case_id: int) -> dict | None:
    """The details modal (audited: who read the case, when)."""
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.team_id != team_id:
            return None
        store.add_entry(session, services.crypto, case, user_id, "viewed details")
        details = store.open_details(services.crypto, case)
        trail = store.entries(session, services.crypto, case.id)
        return views.details_modal(services.copy, _facts(case), details, trail, details["receipt"])


def case_number(services: Services, case_id: int) -> int | None:
    with services.db.session() as session:
        case = store.get(session, case_id)
        return case.number if case else None


def can_follow_up(services: Services, case_id: int) -> bool:
    with services.db.session() as session:
        case = store.get(session, case_id)
        return bool(case and case.follow_up)


# ---- follow-up: a moderator's question, the reporter's answer ---------------------------------------

def ask(services: Services, team_id: str, user_id: str, case_id: int, text: str | None, *,
        view_id: str | None = None) -> str | None:
    problem = rules.check_note(text)
    if problem:
        return problem
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.team_id != team_id:
            return "gone"
        if not case.follow_up:
            return "no_follow_up"
        question, ref = (text or "").strip(), store.view_ref(session, view_id)
        if store.has_ref(session, case.id, ref):
            return None  # the same question submitted twice: asked once
        entry = store.add_entry(session, services.crypto, case, user_id, "asked reporter", question, ref=ref)
        if case.reply_waiting:  # answered by a new question: the card stops saying a reply is waiting
            case.reply_waiting = False
            _refresh_card(session, services, case)
        _tell_reporter(session, services, case, "report.question",
                       views.question_dm(services.copy, case.number, case.pseudonym, question, case.id), f"q-{entry.id}")
    log.info("reports.asked case=%d", case_id)
    return None


def is_reporter(services: Services, team_id: str, user_id: str, case_id: int | None) -> bool:
    """Whether `user_id` reported the case (compared with the sealed id: nothing in clear to look up)."""
    if case_id is None:
        return False
    with services.db.session() as session:
        case = store.get(session, case_id)
        return bool(case and case.team_id == team_id and services.crypto.decrypt(case.reporter_sealed) == user_id)


def reply(services: Services, team_id: str, user_id: str, case_id: int, text: str | None, *,
          view_id: str | None = None) -> str | None:
    problem = rules.check_note(text)
    if problem:
        return problem
    if not is_reporter(services, team_id, user_id, case_id):
        return "gone"
    with services.db.session() as session:
        case = store.get(session, case_id)
        assert case is not None
        ref = store.view_ref(session, view_id)
        if store.has_ref(session, case.id, ref):
            return None  # the same answer submitted twice
        store.add_entry(session, services.crypto, case, REPORTER, "reporter replied", (text or "").strip(), ref=ref)
        case.reply_waiting = True
        case.updated_at = utcnow()
        _refresh_card(session, services, case)
    log.info("reports.replied case=%d", case_id)
    return None


def reply_modal(services: Services, case_id: int) -> dict | None:
    number = case_number(services, case_id)
    return views.note_modal(services.copy, case_id, number, ReportView.REPLY) if number is not None else None


# ---- timeliness -------------------------------------------------------------------------------------

def _escalate(session: Session, services: Services, case: ReportCase, reason: str) -> None:
    """A ping where the card is (`@here` in the channel, a DM to each recipient of a DM-routed case) and a DM
    to each escalation contact (HEARTH_ESCALATION_CONTACTS, else Hearth's admins) who is not involved;
    sensitive, as a contact may be the reporter."""
    def text(broadcast: bool) -> str:
        return services.copy.render("report_escalation.j2", number=case.number, reason=reason, broadcast=broadcast,
                                    urgency=views.urgency_name(services.copy, case.urgency))

    for target, key in _card_targets(services, case):
        ping = text(broadcast=target[0] in "CG")
        outbox.enqueue(session, team_id=case.team_id, kind="report.escalation", target=target,
                       payload={"text": ping}, dedupe_key=outbox.key(key, "escalation", case.card_version))
    involved = set(store.open_details(services.crypto, case)["people"])
    already = set(_dm_recipients(services, case))
    for admin in _escalation_contacts(services) or _admins(session, services, case.team_id):
        if admin not in involved and admin not in already:
            outbox.enqueue_sensitive(session, team_id=case.team_id, kind="report.escalation", recipient=admin,
                                     payload={"text": text(broadcast=False)},
                                     dedupe_key=outbox.key("report", case.id, admin, "escalation", case.card_version))


def escalate_overdue(services: Services, now: datetime | None = None) -> int:
    """Escalate cases still unacknowledged past their urgency's time (once per case)."""
    now = now or datetime.now(UTC)
    count = 0
    with services.db.session() as session:
        for case in store.open_cases(session):
            if case.escalated_at is not None or case.channel_id is None:
                continue
            if not rules.overdue(case.urgency, case.created_at, now, case.status):
                continue
            case.escalated_at = now
            store.add_entry(session, services.crypto, case, SYSTEM, "escalated: not acknowledged in time", at=now)
            _refresh_card(session, services, case)
            _escalate(session, services, case, "overdue")
            count += 1
    if count:
        log.info("reports.escalated count=%d", count)
    return count


def escalate(services: Services, team_id: str, user_id: str, case_id: int) -> str:
    """A moderator escalates a case by hand: the escalation contacts are told (audited)."""
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.team_id != team_id:
            return _triage(services, "gone")
        case.escalated_at = utcnow()
        store.add_entry(session, services.crypto, case, user_id, "escalated")
        _refresh_card(session, services, case)
        _escalate(session, services, case, "by_hand")
        number = case.number
    log.info("reports.escalated_by_hand case=%d", case_id)
    return _triage(services, "escalated", number)


def change_urgency(services: Services, team_id: str, user_id: str, case_id: int, urgency: str | None) -> str | None:
    if urgency not in rules.URGENCIES:
        return "unknown"
    with services.db.session() as session:
        case = store.get(session, case_id)
        if case is None or case.team_id != team_id:
            return "gone"
        if case.urgency != urgency:
            store.add_entry(session, services.crypto, case, user_id, f"urgency {case.urgency} → {urgency}")
            case.urgency, case.updated_at = urgency, utcnow()
            _refresh_card(session, services, case)
    log.info("reports.urgency case=%d", case_id)
    return None


def urgency_modal(services: Services, case_id: int) -> dict | None:
    with services.db.session() as session:
        case = store.get(session, case_id)
        return views.urgency_modal(services.copy, case.id, case.number, case.urgency) if case else None


def digest(services: Services, now: datetime | None = None) -> int:
    """The daily digest in each workspace's moderator channel: open cases by age, counts and case numbers
    only (cases sent by DM because a moderator is involved are left out). How many digests were queued."""
    now = now or datetime.now(UTC)
    sent = 0
    with services.db.session() as session:
        teams: dict[str, list[ReportCase]] = {}
        for case in store.unresolved_cases(session):
            if case.channel_id and not case.dm_recipients:
                teams.setdefault(case.team_id, []).append(case)
        for team_id, open_ in teams.items():
            channel = _configured_channel(session, services, team_id)
            if not channel:
                continue
            groups = rules.by_age([(c.number, c.created_at) for c in open_], now)
            unclaimed = sum(1 for c in open_ if c.status == rules.OPEN)
            text = services.copy.render("report_digest.j2", total=len(open_), unclaimed=unclaimed, groups=groups)
            outbox.enqueue(session, team_id=team_id, kind="report.digest", target=channel, payload={"text": text},
                           dedupe_key=outbox.key("report", team_id, "digest", now.date().isoformat()))
            sent += 1
    log.info("reports.digest workspaces=%d", sent)
    return sent
