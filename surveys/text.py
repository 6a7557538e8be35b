"""Results as plain text (Slack mrkdwn-safe and terminal-friendly), under the same rules as every outlet."""

from __future__ import annotations

from collections.abc import Iterable

from surveys.disclosure import shown_comments
from surveys.model import Instrument, QuestionKind
from surveys.results import Change, RunResult
from surveys.showable import minimum_for, showable_questions


def results_lines(instrument: Instrument, result: RunResult | None, change: Change | None = None,
                  comments: Iterable[str] = (), *, respondents: int | None = None, minimum: int | None = None) -> list[str]:
    """Lines describing a run's results, or one line saying why nothing can be shown."""
    questions = showable_questions(instrument, result)
    if result is None or not questions:
        k = minimum if minimum is not None else instrument.settings.min_responses
        got = f"{respondents} answered; " if respondents is not None else ""
        return [f"{instrument.title}: {got}results are shown only from {k} respondents, so none are shown."]
    moved = {q.question_id: q for q in change.questions} if change else {}
    lines = [f"{instrument.title}: {result.respondents} responses"]
    if result.index is not None:
        since = ""
        if change is not None and change.index is not None:
            since = f" ({change.index:+.0f} since last time)"
        lines.append(f"Belonging index: {result.index:.0f}/100{since}")
    for row in questions:
        question = instrument.question(row.question_id)
        parts = []
        if row.favourable is not None:
            parts.append(f"{row.favourable:.0f}% agree")
        if row.mean is not None:
            parts.append(f"mean {row.mean:.1f}")
        if question.kind is QuestionKind.CHOICE:
            parts.append(", ".join(f"{question.label(v)}: {n}" for v, n in row.distribution))
        delta = moved.get(row.question_id)
        if delta is not None and delta.favourable is not None:
            parts.append(f"{delta.favourable:+.0f} pts")
        lines.append(f"• {question.text} — {'; '.join(parts)}")
    if result.withheld:
        lines.append(f"({len(result.withheld)} question(s) had too few answers to show.)")
    shown = shown_comments(comments, result.respondents, instrument.settings.comment_min_responses,
                           minimum_for(instrument, result))
    if shown:
        lines.append(f"Comments ({len(shown)}, in no particular order):")
        lines += [f"> {c}" for c in shown]
    return lines
