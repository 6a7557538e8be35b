"""Reading one submission against its instrument: typed values, or error codes keyed by question id.

The modal (built later) maps each question id to an input block and hands over what Slack sent as plain
strings; this module decides what is a valid answer, so the rule lives in one pure place. An answer set holds
no member, time or order: it is only the values, which is all the sealed buffer ever needs to store.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from surveys.model import Instrument, QuestionKind

MAX_COMMENT = 3000  # Slack's plain_text_input maximum


@dataclass(frozen=True)
class AnswerSet:
    values: tuple[tuple[str, int], ...]  # (question id, value) for each counted question answered
    texts: tuple[tuple[str, str], ...]  # (question id, text) for each free-text answer given


@dataclass(frozen=True)
class Invalid:
    errors: Mapping[str, str]  # question id → what to fix, as a code (worded by slack_app's survey_errors.j2)


def read_answers(instrument: Instrument, raw: Mapping[str, str | None]) -> AnswerSet | Invalid:
    """`raw` maps question ids to what was submitted (None or "" for nothing); unknown ids are ignored."""
    values: list[tuple[str, int]] = []
    texts: list[tuple[str, str]] = []
    errors: dict[str, str] = {}
    for question in instrument.questions:
        given = (raw.get(question.id) or "").strip()
        if not given:
            if question.required:
                free = question.kind is QuestionKind.TEXT
                errors[question.id] = "answer_required" if free else "choice_required"
            continue
        if question.kind is QuestionKind.TEXT:
            if len(given) > MAX_COMMENT:
                errors[question.id] = "too_long"
            else:
                texts.append((question.id, given))
            continue
        try:
            value = int(given)
        except ValueError:
            value = -1
        if value not in question.values:
            errors[question.id] = "not_a_choice"
            continue
        values.append((question.id, value))
    if errors:
        return Invalid(errors)
    return AnswerSet(tuple(values), tuple(texts))
