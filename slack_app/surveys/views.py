"""Block Kit of the survey workflow: invitation and reminder DMs, the modal, its confirmation and notes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from slack_app import blocks
from slack_app.surveys.ids import SurveyAction, SurveyView, question_block, question_of_block
from surveys.model import AGREEMENT_LABELS, Instrument, QuestionKind

STORED = ("Your answers are sealed (encrypted) until the survey closes, then stored with no name, no id and "
          "no time, mixed with everyone else's. Hearth keeps a separate note that you took part (so you are "
          "not reminded), with the day only, and deletes it when the survey closes. Nobody, admins included, "
          "can see what you answered; results are shown only when enough people have answered.")


@dataclass(frozen=True)
class SurveyMeta(blocks.Metadata):
    run: str  # the run's public id


def _day(moment: datetime) -> str:
    return moment.strftime("%a %d %b")


def invitation(instrument: Instrument, run_id: str, closes_at: datetime, *, reminder: bool = False) -> dict:
    lead = "A reminder: the survey" if reminder else "A short anonymous survey"
    text = (f"{lead} *{blocks.escape_member_text(instrument.title)}* is open until {_day(closes_at)} (UTC). "
            f"It takes two minutes; nobody can see who answered what.")
    return blocks.message(text, [
        blocks.section(text),
        blocks.actions(blocks.button("Answer the survey", SurveyAction.OPEN_MODAL, value=run_id, style="primary")),
        blocks.context("Answering is optional. Results are shown only when enough people have answered."),
    ])


def survey_modal(instrument: Instrument, run_id: str) -> dict:
    body: list[blocks.Block] = [blocks.section(blocks.escape_member_text(instrument.intro))] if instrument.intro else []
    for q in instrument.questions:
        block_id = question_block(q.id)
        label = q.text
        if q.kind is QuestionKind.AGREEMENT:
            options = [(str(v), AGREEMENT_LABELS[v - 1]) for v in q.values]
            body.append(blocks.radio_input(block_id, label, options, optional=not q.required))
        elif q.kind is QuestionKind.CHOICE:
            body.append(blocks.radio_input(block_id, label, [(str(v), q.label(v)) for v in q.values],
                                           optional=not q.required))
        elif q.kind is QuestionKind.SCALE:
            body.append(blocks.static_select_input(block_id, label, [(str(v), str(v)) for v in q.values],
                                                   optional=not q.required, placeholder="0 to 10"))
        else:
            body.append(blocks.plain_text_input(block_id, label, multiline=True, optional=not q.required,
                                                max_length=3000))
    body.append(blocks.context(STORED))
    return blocks.modal(instrument.title, body, callback_id=SurveyView.SUBMIT, submit="Send anonymously",
                        private_metadata=SurveyMeta(run=run_id))


def read_answers(values: Mapping[str, object]) -> dict[str, str | None]:
    """The modal's state as {question id: the submitted string}."""
    out: dict[str, str | None] = {}
    for block_id, value in values.items():
        question_id = question_of_block(block_id)
        if question_id is not None:
            out[question_id] = None if value is None else str(value)
    return out


def answer_errors(errors: Mapping[str, str]) -> dict[str, str]:
    return blocks.input_errors({question_block(q): message for q, message in errors.items()})


def notice(title: str, text: str) -> dict:
    return blocks.modal(title, [blocks.section(text)], callback_id=SurveyView.DONE, submit=None, close="Close")


def thanks() -> dict:
    return notice("Thank you", "*Your answers are in.* Thank you for taking part.\n\n" + STORED +
                  "\n\nNo message is sent to you or anyone else about your answers.")


ALREADY = "You have already answered this survey — thank you. Each person answers once, so nothing was changed."
CLOSED = "This survey has closed, so answers are no longer taken. Thank you for wanting to take part."
NOT_FOR_YOU = ("This survey is for the members of another channel, so it is not for you; nothing was stored. "
               "If you think that is wrong, ask the admin who launched it.")
MISSING = "That survey could not be found (it may have been from an old message)."


def closed_errors(instrument: Instrument) -> dict[str, str]:
    """A closed survey answered anyway: a friendly error under the first question of the open modal."""
    return blocks.input_errors({question_block(instrument.questions[0].id): CLOSED})
