"""Block Kit of the survey workflow: invitation and reminder DMs, the modal, its confirmation and notes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from slack_app import blocks
from slack_app.copy import Copy
from slack_app.surveys.ids import SurveyAction, SurveyView, question_block, question_of_block
from surveys.answers import MAX_COMMENT
from surveys.disclosure import shown_comments
from surveys.model import Instrument, QuestionKind
from surveys.results import Change, RunResult
from surveys.showable import minimum_for, showable_questions

# Why a member cannot answer (the `note` of survey_notes.j2): codes, so the use cases can tell them apart.
ALREADY = "already"
CLOSED = "closed"
NOT_FOR_YOU = "not_for_you"
MISSING = "missing"


def label(copy: Copy, part: str, **ctx: object) -> str:
    """A short word of survey_labels.j2 (buttons, titles, placeholders), as plain text."""
    return copy.text("survey_labels.j2", part=part, **ctx).strip()


def note(copy: Copy, code: str) -> str:
    """Why a member cannot answer, in their words (survey_notes.j2)."""
    return copy.render("survey_notes.j2", note=code)


@dataclass(frozen=True)
class SurveyMeta(blocks.Metadata):
    run: str  # the run's public id


def _day(moment: datetime) -> str:
    return moment.strftime("%a %d %b")


def invitation(copy: Copy, instrument: Instrument, run_id: str, closes_at: datetime, *,
               reminder: bool = False) -> dict:
    text = copy.render("survey_invitation.j2", reminder=reminder, title=instrument.title, closes=_day(closes_at))
    return blocks.message(text, [
        blocks.section(text),
        blocks.actions(blocks.button(label(copy, "answer_button"), SurveyAction.OPEN_MODAL, value=run_id,
                                     style="primary")),
        blocks.context(copy.render("survey_labels.j2", part="invitation_note")),
    ])


def survey_modal(copy: Copy, instrument: Instrument, run_id: str) -> dict:
    body: list[blocks.Block] = [blocks.section(blocks.escape_member_text(instrument.intro))] if instrument.intro else []
    for q in instrument.questions:
        block_id = question_block(q.id)
        text = q.text
        if q.kind is QuestionKind.AGREEMENT:
            options = [(str(v), label(copy, "agreement", value=v)) for v in q.values]
            body.append(blocks.radio_input(block_id, text, options, optional=not q.required))
        elif q.kind is QuestionKind.CHOICE:
            body.append(blocks.radio_input(block_id, text, [(str(v), q.label(v)) for v in q.values],
                                           optional=not q.required))
        elif q.kind is QuestionKind.SCALE:
            body.append(blocks.static_select_input(block_id, text, [(str(v), str(v)) for v in q.values],
                                                   optional=not q.required, placeholder=label(copy, "scale_placeholder")))
        else:
            body.append(blocks.plain_text_input(block_id, text, multiline=True, optional=not q.required,
                                                max_length=MAX_COMMENT))
    body.append(blocks.context(copy.render("survey_stored.j2")))
    return blocks.modal(instrument.title, body, callback_id=SurveyView.SUBMIT, submit=label(copy, "modal_submit"),
                        private_metadata=SurveyMeta(run=run_id))


def read_answers(values: Mapping[str, object]) -> dict[str, str | None]:
    """The modal's state as {question id: the submitted string}."""
    out: dict[str, str | None] = {}
    for block_id, value in values.items():
        question_id = question_of_block(block_id)
        if question_id is not None:
            out[question_id] = None if value is None else str(value)
    return out


def answer_errors(copy: Copy, errors: Mapping[str, str]) -> dict[str, str]:
    """Inline errors: each question's code from surveys.answers, worded by survey_errors.j2."""
    return blocks.input_errors({question_block(q): copy.text("survey_errors.j2", code=code, limit=MAX_COMMENT)
                                for q, code in errors.items()})


def notice(copy: Copy, code: str) -> dict:
    """A modal that only says why the answers were not taken (survey_notes.j2)."""
    return blocks.modal(label(copy, "notice_title"), [blocks.section(note(copy, code))], callback_id=SurveyView.DONE,
                        submit=None, close=label(copy, "close"))


def thanks(copy: Copy) -> dict:
    return blocks.modal(label(copy, "thanks_title"), [blocks.section(copy.render("survey_thanks.j2"))],
                        callback_id=SurveyView.DONE, submit=None, close=label(copy, "close"))


def closed_errors(copy: Copy, instrument: Instrument) -> dict[str, str]:
    """A closed survey answered anyway: a friendly error under the first question of the open modal."""
    return blocks.input_errors({question_block(instrument.questions[0].id): note(copy, CLOSED)})


def results_text(copy: Copy, instrument: Instrument, result: RunResult | None, change: Change | None = None,
                 comments: Iterable[str] = (), *, respondents: int | None = None, minimum: int | None = None,
                 still_open: bool = False, plain: bool = False) -> str:
    """A run's results in survey_results.j2's words (mrkdwn, or `plain` for the terminal), or why none are shown."""
    render = copy.text if plain else copy.render
    if still_open:
        return render("survey_results.j2", state="open", title=instrument.title)
    questions = showable_questions(instrument, result)
    if result is None or not questions:
        k = minimum if minimum is not None else instrument.settings.min_responses
        return render("survey_results.j2", state="withheld", title=instrument.title, answered=respondents, minimum=k)
    moved = {q.question_id: q for q in change.questions} if change else {}
    rows = []
    for row in questions:
        question = instrument.question(row.question_id)
        delta = moved.get(row.question_id)
        rows.append({
            "text": question.text,
            "favourable": f"{row.favourable:.0f}" if row.favourable is not None else None,
            "mean": f"{row.mean:.1f}" if row.mean is not None else None,
            "choices": ([{"label": question.label(v), "n": n} for v, n in row.distribution]
                        if question.kind is QuestionKind.CHOICE else []),
            "delta": f"{delta.favourable:+.0f}" if delta is not None and delta.favourable is not None else None,
        })
    since = f"{change.index:+.0f}" if change is not None and change.index is not None else None
    shown = shown_comments(comments, result.respondents, instrument.settings.comment_min_responses,
                           minimum_for(instrument, result))
    return render("survey_results.j2", state="shown", title=instrument.title, respondents=result.respondents,
                  index=f"{result.index:.0f}" if result.index is not None else None, since=since, questions=rows,
                  withheld=len(result.withheld), comments=list(shown))
