"""Reading a submission against its survey: typed values or kind messages per question."""

from __future__ import annotations

import pytest

from surveys.answers import AnswerSet, Invalid, read_answers
from surveys.loader import builtin_instrument, parse_instrument

BELONGING = builtin_instrument("belonging")
MIXED = parse_instrument(
    "name: m\ntitle: M\nquestions:\n"
    "  - {id: agree, kind: agreement, text: A}\n"
    "  - {id: pick, kind: choice, text: P, options: [x, y]}\n"
    "  - {id: nps, kind: scale, text: S, required: false}\n"
    "  - {id: note, kind: text, text: T}\n",
)


def test_a_full_belonging_submission_reads_as_values_and_an_optional_comment():
    raw = {q.id: "4" for q in BELONGING.counted} | {"comment": "  Glad to be here  "}
    answers = read_answers(BELONGING, raw)
    assert isinstance(answers, AnswerSet)
    assert dict(answers.values) == {q.id: 4 for q in BELONGING.counted}
    assert answers.texts == (("comment", "Glad to be here"),)
    without = read_answers(BELONGING, {q.id: "5" for q in BELONGING.counted})
    assert isinstance(without, AnswerSet) and without.texts == ()


def test_missing_required_answers_are_named_kindly():
    result = read_answers(MIXED, {"agree": "", "pick": None, "nps": "", "note": "   "})
    assert isinstance(result, Invalid)
    assert result.errors == {"agree": "choice_required", "pick": "choice_required"}  # worded by survey_errors.j2


@pytest.mark.parametrize(
    ("qid", "value"), [("agree", "0"), ("agree", "6"), ("agree", "x"), ("pick", "2"), ("nps", "11"), ("nps", "-1"), ("nps", "1e3")]
)
def test_values_outside_the_question_are_refused(qid, value):
    raw = {"agree": "3", "pick": "1", "nps": "7"} | {qid: value}
    result = read_answers(MIXED, raw)
    assert isinstance(result, Invalid) and list(result.errors) == [qid]


def test_edges_of_each_scale_and_long_comments():
    ok = read_answers(MIXED, {"agree": "1", "pick": "0", "nps": "10", "note": "n" * 3000, "ghost": "9"})
    assert isinstance(ok, AnswerSet) and dict(ok.values) == {"agree": 1, "pick": 0, "nps": 10}
    long = read_answers(MIXED, {"agree": "5", "pick": "1", "note": "n" * 3001})
    assert isinstance(long, Invalid) and long.errors == {"note": "too_long"}
