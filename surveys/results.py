"""Results of one run (or one shown cell) from aggregated counts only.

Input is what SQL can produce without reading answers one by one: the number of answer sets, and counts per
(question id, value). Output is per question the distribution, mean and favourable share, plus the belonging
index, or nothing at all below the minimum. Which cells may be summarised at all is `disclosure`'s decision;
this module adds the per-question check (an optional question answered by fewer than the minimum is withheld
even when the cell is shown).

Belonging index: the mean, over the index statements, of the share who agree or strongly agree, on 0–100.
It is shown only when every index statement is shown (index statements are required, so they always are
when the run is).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from surveys.model import FAVOURABLE_VALUES, Instrument, Question, QuestionKind

Counts = Mapping[tuple[str, int], int]  # (question id, value) → answer sets that gave it


@dataclass(frozen=True)
class QuestionResult:
    question_id: str
    answered: int
    distribution: tuple[tuple[int, int], ...]  # (value, count) for every possible value, in scale order
    mean: float | None  # agreement (1–5) and scale (0–10); None for choices
    favourable: float | None  # agreement only: % agree or strongly agree

    def count(self, value: int) -> int:
        return dict(self.distribution)[value]


@dataclass(frozen=True)
class RunResult:
    survey: str
    version: int
    respondents: int
    min_responses: int
    questions: tuple[QuestionResult, ...]  # shown questions, in the instrument's order
    withheld: tuple[str, ...]  # question ids answered by fewer than the minimum
    index: float | None

    def question(self, question_id: str) -> QuestionResult | None:
        return next((q for q in self.questions if q.question_id == question_id), None)


@dataclass(frozen=True)
class QuestionChange:
    question_id: str
    mean: float | None
    favourable: float | None  # percentage points


@dataclass(frozen=True)
class Change:
    index: float | None  # points on the 0–100 index
    questions: tuple[QuestionChange, ...]


def summarize(
    instrument: Instrument, respondents: int, counts: Counts, min_responses: int | None = None, only: Collection[str] | None = None
) -> RunResult | None:
    """The results of `respondents` answer sets, or None when they are fewer than the minimum (the survey's,
    unless a stricter one fixed at launch is given). `only` limits the questions to those the disclosure
    rules accepted for this cell (see `disclosure.release_by_scope`); the others are withheld."""
    minimum = instrument.settings.min_responses if min_responses is None else min_responses
    if minimum < 1:
        raise ValueError("the minimum must be at least 1")
    _check(instrument, respondents, counts)
    if respondents < minimum:
        return None
    shown: list[QuestionResult] = []
    withheld: list[str] = []
    for question in instrument.counted:
        result = _question(question, counts)
        if result.answered >= minimum and (only is None or question.id in only):
            shown.append(result)
        else:
            withheld.append(question.id)
    by_id = {r.question_id: r for r in shown}
    index: float | None = None
    index_ids = [q.id for q in instrument.index_questions]
    if index_ids and all(i in by_id for i in index_ids):
        shares = [by_id[i].favourable for i in index_ids]
        index = sum(s for s in shares if s is not None) / len(shares)
    return RunResult(instrument.name, instrument.version, respondents, minimum, tuple(shown), tuple(withheld), index)


def change(current: RunResult, previous: RunResult | None) -> Change | None:
    """How a run moved since the previous run of the same survey in the same audience (both must be shown).
    Questions are matched by id; one missing from either run has no change."""
    if previous is None or previous.survey != current.survey:
        return None
    deltas: list[QuestionChange] = []
    for now in current.questions:
        before = previous.question(now.question_id)
        if before is None:
            continue
        deltas.append(QuestionChange(now.question_id, _minus(now.mean, before.mean), _minus(now.favourable, before.favourable)))
    return Change(_minus(current.index, previous.index), tuple(deltas))


def _question(question: Question, counts: Counts) -> QuestionResult:
    distribution = tuple((v, counts.get((question.id, v), 0)) for v in question.values)
    answered = sum(n for _, n in distribution)
    mean = favourable = None
    if answered and question.kind in (QuestionKind.AGREEMENT, QuestionKind.SCALE):
        mean = sum(v * n for v, n in distribution) / answered
    if answered and question.kind is QuestionKind.AGREEMENT:
        favourable = 100.0 * sum(n for v, n in distribution if v in FAVOURABLE_VALUES) / answered
    return QuestionResult(question.id, answered, distribution, mean, favourable)


def _check(instrument: Instrument, respondents: int, counts: Counts) -> None:
    """Counts come from the database; anything impossible means corrupt input, never a guess."""
    if respondents < 0:
        raise ValueError("respondents cannot be negative")
    valid = {q.id: set(q.values) for q in instrument.counted}
    per_question: dict[str, int] = {}
    for (question_id, value), n in counts.items():
        if question_id not in valid:
            raise ValueError(f"counts name a question the survey does not count: {question_id!r}")
        if value not in valid[question_id]:
            raise ValueError(f"question {question_id!r} cannot have the value {value!r}")
        if n < 0:
            raise ValueError("counts cannot be negative")
        per_question[question_id] = per_question.get(question_id, 0) + n
    for question_id, answered in per_question.items():
        if answered > respondents:
            raise ValueError(f"question {question_id!r} has more answers than respondents")


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b
