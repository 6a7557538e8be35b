"""Block Kit of the reports workflow: the report form, its confirmation, the case card, the details modal and
the small forms of triage. Member text is escaped before it reaches mrkdwn; ids only in private_metadata."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slack_app import blocks
from slack_app.reports import rules
from slack_app.reports.ids import Field, ReportAction, ReportView

ERRORS = {
    ("text", "empty"): "Please say what happened — a sentence is enough.",
    ("text", "too_long"): f"Please keep it under {rules.TEXT_MAX} characters (you can add more when a "
                          "moderator follows up).",
    ("category", "unknown"): "Please pick what this is about.",
    ("urgency", "unknown"): "Please pick how urgent it is.",
    ("people", "too_many"): f"Please name at most {rules.PEOPLE_MAX} people.",
    ("note", "empty"): "Please write something first.",
    ("note", "too_long"): f"Please keep it under {rules.NOTE_MAX} characters.",
}


@dataclass(frozen=True)
class IntakeMeta(blocks.Metadata):
    """What a *Report this message* carries from the shortcut to the submission (empty for `/report`)."""

    channel: str
    ts: str
    author: str
    text: str
    link: str


@dataclass(frozen=True)
class CaseMeta(blocks.Metadata):
    case_id: int


SNAPSHOT_IN_METADATA = 1800  # private_metadata holds 3000 characters, JSON escaping included


def intake_modal(snapshot: rules.Snapshot | None) -> dict:
    who_sees = ("*Who sees what.* Your report goes to the moderators of this workspace, in their private "
                "channel: the channel shows only a case number, category and urgency; what you write is read "
                "only by those moderators, and is stored encrypted. If you submit anonymously, moderators see a "
                "pseudonym instead of your name, and Hearth keeps who you are only encrypted, to pass on their "
                "questions if you allow follow-up.")
    body: list[dict] = [blocks.section(who_sees)]
    if snapshot is not None:
        quoted = (blocks.escape_member_text(blocks.truncate(snapshot.text, 300))
                  or "_(no text: the message may have been deleted, or hold only files)_")
        author = f"<@{snapshot.author_id}>" if snapshot.author_id else "someone"
        body.append(blocks.context(f"You are reporting a message by {author} in <#{snapshot.channel_id}>:"))
        body.append(blocks.section(f">{quoted}"))
        body.append(blocks.context("Moderators will see a copy of this message, even if it is later deleted."))
    body += [
        blocks.static_select_input(Field.CATEGORY, "What is this about?", list(rules.CATEGORIES.items()),
                                   placeholder="Pick one"),
        blocks.plain_text_input(Field.TEXT, "What happened?", multiline=True, max_length=rules.TEXT_MAX,
                                hint="Only the moderators read this."),
        blocks.input_block(Field.PEOPLE, "People involved",
                           {"type": "multi_users_select", "action_id": Field.PEOPLE, "max_selected_items":
                            rules.PEOPLE_MAX}, optional=True),
        blocks.radio_input(Field.URGENCY, "How urgent is it?", list(rules.URGENCIES.items()), initial="normal"),
        blocks.checkboxes_input(Field.OPTIONS, "Options",
                                [("anonymous", "Submit anonymously"),
                                 ("follow_up", "Moderators may message me with questions")],
                                initial=("follow_up",), optional=True,
                                hint="Anonymous: moderators see a pseudonym, never your name. Questions reach "
                                     "you by DM from Hearth, and your answers go back under the pseudonym."),
        blocks.context("If someone is in danger right now, contact your local emergency services."),
    ]
    if snapshot is None:
        return blocks.modal("Report a concern", body, callback_id=ReportView.INTAKE, submit="Send report",
                            close="Cancel", private_metadata={})
    # the snapshot rides in private_metadata (3000 characters, JSON-escaped): as much of its text as fits
    for keep in (SNAPSHOT_IN_METADATA, 900, 400, 150, 0):
        meta = IntakeMeta(channel=snapshot.channel_id, ts=snapshot.ts, author=snapshot.author_id or "",
                          text=blocks.truncate(snapshot.text, keep) if keep else "", link=snapshot.permalink)
        try:
            return blocks.modal("Report a concern", body, callback_id=ReportView.INTAKE, submit="Send report",
                                close="Cancel", private_metadata=meta)
        except blocks.MetadataTooLarge:
            continue
    raise blocks.MetadataTooLarge("a message snapshot's link alone does not fit")


def read_intake(view: dict) -> dict[str, Any]:
    answers = blocks.view_answers(view)
    raw_options, people = answers.get(Field.OPTIONS), answers.get(Field.PEOPLE)
    options = raw_options if isinstance(raw_options, list) else []
    meta = IntakeMeta.read(view)
    snapshot = None
    if meta is not None and meta.channel:
        snapshot = rules.Snapshot(channel_id=meta.channel, ts=meta.ts, author_id=meta.author or None,
                                  text=meta.text, permalink=meta.link)
    return dict(category=answers.get(Field.CATEGORY), text=answers.get(Field.TEXT),
                urgency=answers.get(Field.URGENCY), anonymous="anonymous" in options,
                follow_up="follow_up" in options,
                people=[p for p in people if isinstance(p, str)] if isinstance(people, list) else [],
                snapshot=snapshot)


def errors_for(errors: dict[str, str]) -> dict[str, str]:
    return {(Field.NOTE if f == "note" else f): ERRORS.get((f, code), "Please check this.")
            for f, code in errors.items()}


def done_modal(number: int, receipt: str, *, anonymous: bool, follow_up: bool) -> dict:
    lines = [f"*Thank you. Your report is case #{number}.*",
             "It is stored safely and the moderators will handle it. Hearth will tell you by DM when a moderator "
             "takes it up and when it is resolved"
             + (", and pass on their questions, if they have any." if follow_up else "."),
             f"Your receipt: `{receipt}`\nKeep it: it is a fingerprint of exactly what you sent, so you can "
             "later show what you reported."]
    if anonymous:
        lines.append("You reported anonymously: moderators see a pseudonym, not your name.")
    return blocks.modal("Report sent", [blocks.section("\n\n".join(lines))], callback_id=ReportView.DONE,
                        close="Close")


def note_modal(case_id: int, number: int, kind: ReportView) -> dict:
    label, title, submit = {
        ReportView.NOTE: ("Note for the moderators (not seen by the reporter)", "Add a note", "Add note"),
        ReportView.RESOLVE: ("Resolution (what was done)", "Resolve case", "Resolve"),
        ReportView.QUESTION: ("Your question to the reporter", "Message reporter", "Send"),
        ReportView.REPLY: ("Your answer to the moderators", "Reply", "Send"),
    }[kind]
    head = f"Case #{number}"
    if kind == ReportView.QUESTION:
        head += " — Hearth passes your question on by DM; the reporter's answer comes back to this case."
    if kind == ReportView.REPLY:
        head += " — your answer goes to the moderators of this case only."
    return blocks.modal(title, [blocks.context(head),
                                blocks.plain_text_input(Field.NOTE, label, multiline=True,
                                                        max_length=rules.NOTE_MAX)],
                        callback_id=kind, submit=submit, close="Cancel", private_metadata=CaseMeta(case_id))


def urgency_modal(case_id: int, number: int, current: str) -> dict:
    return blocks.modal("Change urgency", [blocks.radio_input(Field.URGENCY, f"Urgency of case #{number}",
                                                              list(rules.URGENCIES.items()), initial=current)],
                        callback_id=ReportView.URGENCY, submit="Change", close="Cancel",
                        private_metadata=CaseMeta(case_id))


def read_urgency(view: dict) -> str | None:
    value = blocks.view_answers(view).get(Field.URGENCY)
    return value if isinstance(value, str) else None


def read_note(view: dict) -> str | None:
    value = blocks.view_answers(view).get(Field.NOTE)
    return value if isinstance(value, str) else None


def _date(moment: datetime) -> str:
    epoch = int(moment.timestamp())
    return f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment.strftime('%Y-%m-%d %H:%M UTC')}>"


@dataclass(frozen=True)
class CardFacts:
    """What a case card may show: no content, no reporter of an anonymous case."""

    case_id: int
    number: int
    category: str
    urgency: str
    status: str
    assignee_id: str | None
    reporter: str              # "<@U…>" or the pseudonym
    created_at: datetime
    reply_waiting: bool
    escalated: bool


def card(f: CardFacts) -> dict[str, Any]:
    status = {rules.OPEN: "Open — waiting for a moderator", rules.ACKNOWLEDGED: "Acknowledged",
              rules.RESOLVED: "Resolved"}[f.status]
    lines = [f"*Category:* {rules.CATEGORIES.get(f.category, f.category)}",
             f"*Urgency:* {rules.URGENCIES.get(f.urgency, f.urgency)}",
             f"*Status:* {status}",
             f"*Assignee:* {f'<@{f.assignee_id}>' if f.assignee_id else 'nobody yet'}",
             f"*Reporter:* {f.reporter}",
             f"*Opened:* {_date(f.created_at)}"]
    value = str(f.case_id)
    buttons = [blocks.button("View details", ReportAction.VIEW, value=value, style="primary")]
    if f.status != rules.RESOLVED:
        buttons.append(blocks.button("Acknowledge / claim", ReportAction.CLAIM, value=value))
    buttons.append(blocks.button("Add note", ReportAction.NOTE, value=value))
    buttons.append(blocks.button("Message reporter", ReportAction.MESSAGE, value=value))
    buttons.append(blocks.button("Change urgency", ReportAction.URGENCY, value=value))
    if f.status != rules.RESOLVED:
        buttons.append(blocks.button("Escalate", ReportAction.ESCALATE, value=value, style="danger"))
        buttons.append(blocks.button("Resolve", ReportAction.RESOLVE, value=value))
    else:
        buttons.append(blocks.button("Reopen", ReportAction.REOPEN, value=value))
    out = [blocks.header(f"Report — case #{f.number}"), blocks.section("\n".join(lines))]
    notes = []
    if f.reply_waiting:
        notes.append(":speech_balloon: The reporter replied — see *View details*.")
    if f.escalated:
        notes.append(":rotating_light: Escalated (see the audit trail in *View details*).")
    if notes:
        out.append(blocks.context(*notes))
    out.append(blocks.context("Details are in *View details*, never in this channel."))
    out.append(blocks.actions(*buttons, block_id=f"report.card.{f.case_id}"))
    return blocks.message(f"Report case #{f.number}: {status}", out)


def details_modal(f: CardFacts, details: dict[str, Any], trail: list[Any], receipt: str) -> dict:
    snap = details.get("snapshot")
    body: list[dict] = [blocks.section(f"*Case #{f.number}* · {rules.CATEGORIES.get(f.category, f.category)} · "
                                       f"{rules.URGENCIES.get(f.urgency, f.urgency)} · reporter {f.reporter}"),
                        *_long_section("*What happened*", details.get("text"))]
    if details.get("people"):
        body.append(blocks.section("*People involved:* " + ", ".join(f"<@{p}>" for p in details["people"])))
    if snap:
        author = f"<@{snap['author']}>" if snap.get("author") else "someone"
        body.extend(_long_section(f"*Reported message* by {author} in <#{snap['channel']}> (<{snap['link']}|link>)",
                                  snap.get("text") or "_(no text)_"))
    body.append(blocks.context(f"Receipt `{receipt}` · follow-up "
                               f"{'allowed' if details.get('follow_up') else 'not allowed'}"))
    body.append(blocks.divider())
    lines = []
    for e in trail[-40:]:
        actor = f.reporter if e.actor == "reporter" else ("Hearth" if e.actor == "hearth" else f"<@{e.actor}>")
        text = f"• {_date(e.at)} {actor}: *{e.action}*"
        if e.body:
            text += " — " + blocks.escape_member_text(blocks.truncate(e.body, 600))
        lines.append(text)
    for start in range(0, len(lines), 8):
        body.append(blocks.section("\n".join(lines[start:start + 8])))
    return blocks.modal(f"Case #{f.number}", body[:100], callback_id=ReportView.DETAILS, close="Close")


def _long_section(title: str, text: str | None, size: int = 2800) -> list[dict]:
    """A title and member text, over as many sections as it takes (a section holds 3000 characters)."""
    escaped = blocks.escape_member_text(text) or "_(empty)_"
    parts = [escaped[i:i + size] for i in range(0, len(escaped), size)]
    return [blocks.section(title + "\n" + parts[0]), *(blocks.section(p) for p in parts[1:])]


def question_dm(number: int, pseudonym: str, question: str, case_id: int) -> dict[str, Any]:
    text = (f"The moderators have a question about your report (case #{number}):\n>"
            + blocks.escape_member_text(question))
    return blocks.message(f"A question about your report (case #{number})",
                          [blocks.section(text),
                           blocks.context(f"Your answer reaches the moderators as {pseudonym}."),
                           blocks.actions(blocks.button("Reply", ReportAction.REPLY, value=str(case_id)))])


def status_dm(number: int, status: str) -> dict[str, Any]:
    if status == rules.ACKNOWLEDGED:
        text = f"A moderator is now looking at your report (case #{number})."
    elif status == rules.RESOLVED:
        text = (f"Your report (case #{number}) has been resolved. Thank you for speaking up; if something "
                "still worries you, you can report again at any time.")
    else:
        text = f"Your report (case #{number}) has been reopened."
    return blocks.message(text)
