"""Block Kit of the reports workflow: the report form, its confirmation, the case card, the details modal and
the small forms of triage. Member text is escaped before it reaches mrkdwn; ids only in private_metadata.

Every word comes from a `report_*.j2` template (so communities can reword it): short ones from
`report_labels.j2` by `label`, longer messages from a template of their own. Member text reaches templates
as plain variables, which `Copy` escapes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from markupsafe import Markup

from slack_app import blocks
from slack_app.reports import rules
from slack_app.reports.ids import Field, ReportAction, ReportView

if TYPE_CHECKING:
    from slack_app.copy import Copy


# ---- words ----------------------------------------------------------------------------------------------

def label(copy: Copy, part: str, **ctx: object) -> str:
    """Short mrkdwn words (a context line, a section's title)."""
    return copy.render("report_labels.j2", part=part, **ctx)


def plain(copy: Copy, part: str, **ctx: object) -> str:
    """Short words for plain_text fields (titles, buttons, labels, options): values shown as typed."""
    return copy.text("report_labels.j2", part=part, **ctx)


def error_text(copy: Copy, field: str, code: str) -> str:
    return copy.text("report_errors.j2", field=field, code=code, text_max=rules.TEXT_MAX,
                     people_max=rules.PEOPLE_MAX, note_max=rules.NOTE_MAX)


def category_name(copy: Copy, key: str) -> str:
    return plain(copy, "category", key=key)


def urgency_name(copy: Copy, key: str) -> str:
    return plain(copy, "urgency", key=key)


def _categories(copy: Copy) -> list[tuple[str, str]]:
    return [(key, category_name(copy, key)) for key in rules.CATEGORIES]


def _urgencies(copy: Copy) -> list[tuple[str, str]]:
    return [(key, urgency_name(copy, key)) for key in rules.URGENCIES]


def _user(user_id: str | None) -> Markup | None:
    """`<@…>` of a Slack id as Slack gave it (a message's author may be a bot: `B…`)."""
    return Markup(f"<@{user_id}>") if user_id else None


def _conversation(channel_id: str) -> Markup:
    return Markup(f"<#{channel_id}>")


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


def intake_modal(copy: Copy, snapshot: rules.Snapshot | None) -> dict:
    body: list[dict] = [blocks.section(copy.render("report_who_sees.j2"))]
    if snapshot is not None:
        quoted = (blocks.escape_member_text(blocks.truncate(snapshot.text, 300))
                  or label(copy, "snapshot_no_text"))
        body.append(blocks.context(label(copy, "reporting_message", author=_user(snapshot.author_id),
                                         channel_ref=_conversation(snapshot.channel_id))))
        body.append(blocks.section(f">{quoted}"))
        body.append(blocks.context(label(copy, "snapshot_kept")))
    body += [
        blocks.static_select_input(Field.CATEGORY, plain(copy, "category_label"), _categories(copy),
                                   placeholder=plain(copy, "category_placeholder")),
        blocks.plain_text_input(Field.TEXT, plain(copy, "text_label"), multiline=True, max_length=rules.TEXT_MAX,
                                hint=plain(copy, "text_hint")),
        blocks.input_block(Field.PEOPLE, plain(copy, "people_label"),
                           {"type": "multi_users_select", "action_id": Field.PEOPLE, "max_selected_items":
                            rules.PEOPLE_MAX}, optional=True),
        blocks.radio_input(Field.URGENCY, plain(copy, "urgency_label"), _urgencies(copy), initial="normal"),
        blocks.checkboxes_input(Field.OPTIONS, plain(copy, "options_label"),
                                [("anonymous", plain(copy, "option_anonymous")),
                                 ("follow_up", plain(copy, "option_follow_up"))],
                                initial=("follow_up",), optional=True, hint=plain(copy, "options_hint")),
        blocks.context(label(copy, "emergency")),
    ]
    title, submit, close = plain(copy, "intake_title"), plain(copy, "intake_submit"), plain(copy, "cancel")
    if snapshot is None:
        return blocks.modal(title, body, callback_id=ReportView.INTAKE, submit=submit, close=close,
                            private_metadata={})
    # the snapshot rides in private_metadata (3000 characters, JSON-escaped): as much of its text as fits
    for keep in (SNAPSHOT_IN_METADATA, 900, 400, 150, 0):
        meta = IntakeMeta(channel=snapshot.channel_id, ts=snapshot.ts, author=snapshot.author_id or "",
                          text=blocks.truncate(snapshot.text, keep) if keep else "", link=snapshot.permalink)
        try:
            return blocks.modal(title, body, callback_id=ReportView.INTAKE, submit=submit, close=close,
                                private_metadata=meta)
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


def errors_for(copy: Copy, errors: dict[str, str]) -> dict[str, str]:
    return {(Field.NOTE if f == "note" else f): error_text(copy, f, code) for f, code in errors.items()}


def done_modal(copy: Copy, number: int, receipt: str, *, anonymous: bool, follow_up: bool) -> dict:
    text = copy.render("report_done.j2", number=number, receipt=receipt, anonymous=anonymous, follow_up=follow_up)
    return blocks.modal(plain(copy, "done_title"), [blocks.section(text)], callback_id=ReportView.DONE,
                        close=plain(copy, "close"))


_FORMS = {ReportView.NOTE: "note", ReportView.RESOLVE: "resolve", ReportView.QUESTION: "question",
          ReportView.REPLY: "reply"}


def note_modal(copy: Copy, case_id: int, number: int, kind: ReportView) -> dict:
    form = _FORMS[kind]
    head = label(copy, "form_head", number=number, kind=form)
    return blocks.modal(plain(copy, f"{form}_title"),
                        [blocks.context(head),
                         blocks.plain_text_input(Field.NOTE, plain(copy, f"{form}_label"), multiline=True,
                                                 max_length=rules.NOTE_MAX)],
                        callback_id=kind, submit=plain(copy, f"{form}_submit"), close=plain(copy, "cancel"),
                        private_metadata=CaseMeta(case_id))


def urgency_modal(copy: Copy, case_id: int, number: int, current: str) -> dict:
    return blocks.modal(plain(copy, "urgency_title"),
                        [blocks.radio_input(Field.URGENCY, plain(copy, "urgency_field", number=number),
                                            _urgencies(copy), initial=current)],
                        callback_id=ReportView.URGENCY, submit=plain(copy, "urgency_submit"),
                        close=plain(copy, "cancel"), private_metadata=CaseMeta(case_id))


def read_urgency(view: dict) -> str | None:
    value = blocks.view_answers(view).get(Field.URGENCY)
    return value if isinstance(value, str) else None


def read_note(view: dict) -> str | None:
    value = blocks.view_answers(view).get(Field.NOTE)
    return value if isinstance(value, str) else None


def _date(moment: datetime) -> Markup:
    epoch = int(moment.timestamp())
    return Markup(f"<!date^{epoch}^{{date_short_pretty}} {{time}}|{moment.strftime('%Y-%m-%d %H:%M UTC')}>")


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


def _reporter(f: CardFacts) -> Markup:
    """`reporter` is built by the use cases from an id or Hearth's own pseudonym, never typed by a member."""
    return Markup(f.reporter)


def card(copy: Copy, f: CardFacts) -> dict[str, Any]:
    status = plain(copy, f"status_{f.status}")
    text = copy.render("report_card.j2", category=category_name(copy, f.category),
                       urgency=urgency_name(copy, f.urgency), status=status, assignee_id=f.assignee_id,
                       reporter=_reporter(f), opened=_date(f.created_at))
    value = str(f.case_id)

    def button(part: str, action: ReportAction, style: Literal["primary", "danger"] | None = None) -> dict:
        return blocks.button(plain(copy, part), action, value=value, style=style)

    buttons = [button("view_button", ReportAction.VIEW, style="primary")]
    if f.status != rules.RESOLVED:
        buttons.append(button("claim_button", ReportAction.CLAIM))
    buttons.append(button("note_button", ReportAction.NOTE))
    buttons.append(button("message_button", ReportAction.MESSAGE))
    buttons.append(button("urgency_button", ReportAction.URGENCY))
    if f.status != rules.RESOLVED:
        buttons.append(button("escalate_button", ReportAction.ESCALATE, style="danger"))
        buttons.append(button("resolve_button", ReportAction.RESOLVE))
    else:
        buttons.append(button("reopen_button", ReportAction.REOPEN))
    out = [blocks.header(plain(copy, "card_header", number=f.number)), blocks.section(text)]
    notes = []
    if f.reply_waiting:
        notes.append(label(copy, "card_reply_waiting"))
    if f.escalated:
        notes.append(label(copy, "card_escalated"))
    if notes:
        out.append(blocks.context(*notes))
    out.append(blocks.context(label(copy, "card_details_elsewhere")))
    out.append(blocks.actions(*buttons, block_id=f"report.card.{f.case_id}"))
    return blocks.message(plain(copy, "card_text", number=f.number, status=status), out)


def details_modal(copy: Copy, f: CardFacts, details: dict[str, Any], trail: list[Any], receipt: str) -> dict:
    snap = details.get("snapshot")
    head = label(copy, "details_head", number=f.number, category=category_name(copy, f.category),
                 urgency=urgency_name(copy, f.urgency), reporter=_reporter(f))
    body: list[dict] = [blocks.section(head),
                        *_long_section(copy, label(copy, "what_happened"), details.get("text"))]
    if details.get("people"):
        body.append(blocks.section(label(copy, "people_involved",
                                         people=[_user(p) for p in details["people"]])))
    if snap:
        author = _user(snap.get("author")) or label(copy, "someone")
        title = label(copy, "reported_message", author=author, channel_ref=_conversation(snap["channel"]),
                      link=Markup(snap["link"]))
        body.extend(_long_section(copy, title, snap.get("text") or None, empty=label(copy, "no_text")))
    body.append(blocks.context(label(copy, "details_receipt", receipt=receipt,
                                     follow_up=bool(details.get("follow_up")))))
    body.append(blocks.divider())
    lines = []
    for e in trail[-40:]:
        actor = (_reporter(f) if e.actor == "reporter"
                 else label(copy, "trail_hearth") if e.actor == "hearth" else _user(e.actor))
        lines.append(label(copy, "trail_line", at=_date(e.at), actor=Markup(actor), action=e.action,
                           body=blocks.truncate(e.body, 600) if e.body else None))
    for start in range(0, len(lines), 8):
        body.append(blocks.section("\n".join(lines[start:start + 8])))
    return blocks.modal(plain(copy, "details_title", number=f.number), body[:100], callback_id=ReportView.DETAILS,
                        close=plain(copy, "close"))


def _long_section(copy: Copy, title: str, text: str | None, size: int = 2800, *, empty: str | None = None) -> list[dict]:
    """A title and member text, over as many sections as it takes (a section holds 3000 characters)."""
    escaped = blocks.escape_member_text(text) or empty or label(copy, "empty")
    parts = [escaped[i:i + size] for i in range(0, len(escaped), size)]
    return [blocks.section(title + "\n" + parts[0]), *(blocks.section(p) for p in parts[1:])]


def question_dm(copy: Copy, number: int, pseudonym: str, question: str, case_id: int) -> dict[str, Any]:
    text = copy.render("report_question_dm.j2", number=number, question=question)
    return blocks.message(plain(copy, "question_dm_text", number=number),
                          [blocks.section(text),
                           blocks.context(label(copy, "answer_as", pseudonym=Markup(pseudonym))),
                           blocks.actions(blocks.button(plain(copy, "reply_button"), ReportAction.REPLY,
                                                        value=str(case_id)))])


def status_dm(copy: Copy, number: int, status: str) -> dict[str, Any]:
    return blocks.message(copy.render("report_status_dm.j2", number=number, status=status))
