"""The typed survey model: an instrument is a fixed list of questions plus its anonymity settings.

Every answer is stored as an integer `value` per question (agreement 1–5, scale 0–10, choice = the option's
position), so results can be aggregated in SQL as counts per (question, value). Free text is kept apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

# The anonymity minimum a survey may ask for; below 3 a result is a person, above 10 small teams never see one.
MIN_RESPONSES_RANGE = (3, 10)
DEFAULT_MIN_RESPONSES = 5
DEFAULT_COMMENT_MIN_RESPONSES = 5
# Comments are readable sentences, so their own minimum may be stricter than the numbers' but never looser.
COMMENT_MIN_RESPONSES_MAX = 50
CLOSES_AFTER_DAYS_RANGE = (1, 30)
DEFAULT_CLOSES_AFTER_DAYS = 7


class QuestionKind(str, Enum):
    AGREEMENT = "agreement"  # 5-point: strongly disagree (1) … strongly agree (5)
    CHOICE = "choice"  # one of 2–10 options
    SCALE = "scale"  # 0–10
    TEXT = "text"  # free text; stored encrypted, shown only at its own minimum, never broken down


AGREEMENT_LABELS: tuple[str, ...] = ("Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree")
AGREEMENT_VALUES: tuple[int, ...] = (1, 2, 3, 4, 5)
FAVOURABLE_VALUES: frozenset[int] = frozenset({4, 5})
SCALE_VALUES: tuple[int, ...] = tuple(range(11))


@dataclass(frozen=True)
class Question:
    id: str
    kind: QuestionKind
    text: str
    required: bool = True
    options: tuple[str, ...] = ()  # choice only
    in_index: bool = False  # agreement only: counts toward the belonging index
    # Where the question starts in its file, for messages; not part of the question's identity.
    line: int = field(default=0, compare=False)

    @property
    def values(self) -> tuple[int, ...]:
        """Every value an answer to this question can take, in display order (empty for free text)."""
        if self.kind is QuestionKind.AGREEMENT:
            return AGREEMENT_VALUES
        if self.kind is QuestionKind.SCALE:
            return SCALE_VALUES
        if self.kind is QuestionKind.CHOICE:
            return tuple(range(len(self.options)))
        return ()

    def label(self, value: int) -> str:
        if self.kind is QuestionKind.AGREEMENT:
            return AGREEMENT_LABELS[value - 1]
        if self.kind is QuestionKind.CHOICE:
            return self.options[value]
        return str(value)


@dataclass(frozen=True)
class SurveySettings:
    min_responses: int = DEFAULT_MIN_RESPONSES
    comment_min_responses: int = DEFAULT_COMMENT_MIN_RESPONSES
    share_results: bool = False  # post results to the audience's channel at close (admins always get them)
    closes_after_days: int = DEFAULT_CLOSES_AFTER_DAYS


@dataclass(frozen=True)
class Instrument:
    name: str
    version: int
    title: str
    intro: str
    questions: tuple[Question, ...]
    settings: SurveySettings = SurveySettings()

    def question(self, question_id: str) -> Question:
        for q in self.questions:
            if q.id == question_id:
                return q
        raise KeyError(question_id)

    @property
    def counted(self) -> tuple[Question, ...]:
        """Questions whose answers are counted (everything but free text)."""
        return tuple(q for q in self.questions if q.kind is not QuestionKind.TEXT)

    @property
    def index_questions(self) -> tuple[Question, ...]:
        return tuple(q for q in self.questions if q.in_index)
