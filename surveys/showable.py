"""One last check every outlet makes before it renders a result: the minimum, measured on the result itself.

`summarize` already returns nothing below the minimum; outlets check again (defence in depth), so a result
built by hand, by a future code path or with a looser minimum than the survey's can never reach a person.
"""

from __future__ import annotations

from surveys.model import Instrument
from surveys.results import QuestionResult, RunResult


def minimum_for(instrument: Instrument, result: RunResult) -> int:
    """The stricter of the survey's own minimum and the one fixed when this run was launched."""
    return max(instrument.settings.min_responses, result.min_responses)


def showable_questions(instrument: Instrument, result: RunResult | None) -> tuple[QuestionResult, ...]:
    """The result's questions that may be shown, or () when the result itself may not be."""
    if result is None or result.survey != instrument.name:
        return ()
    k = minimum_for(instrument, result)
    if result.respondents < k:
        return ()
    return tuple(q for q in result.questions if k <= q.answered <= result.respondents)
