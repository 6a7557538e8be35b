"""CSV of a run's results, under the same minimum as every other outlet.

One row per (question, value) — long format, so a spreadsheet can pivot it — with the question's summary
repeated on each row. Text that came from a survey file is neutralised against spreadsheet formulas.
Comments are a separate file and follow the comment minimum.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from surveys.disclosure import shown_comments
from surveys.model import Instrument
from surveys.results import Change, RunResult
from surveys.showable import minimum_for, showable_questions

RESULT_COLUMNS = (
    "survey", "version", "respondents", "belonging_index", "question_id", "question", "kind", "value", "label",
    "count", "percent", "answered", "mean", "favourable_percent", "change_mean", "change_favourable",
)


def results_csv(instrument: Instrument, result: RunResult | None, change: Change | None = None) -> str | None:
    """The CSV text, or None when nothing may be shown."""
    questions = showable_questions(instrument, result)
    if result is None or not questions:
        return None
    moved = {q.question_id: q for q in change.questions} if change else {}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for row in questions:
        question = instrument.question(row.question_id)
        delta = moved.get(row.question_id)
        for value, count in row.distribution:
            writer.writerow([
                _text(instrument.name), instrument.version, result.respondents, _number(result.index),
                question.id, _text(question.text), question.kind.value, value, _text(question.label(value)),
                count, _number(100.0 * count / row.answered), row.answered, _number(row.mean), _number(row.favourable),
                _number(delta.mean if delta else None), _number(delta.favourable if delta else None),
            ])
    return out.getvalue()


def breakdown_csv(instrument: Instrument, by: str, result: RunResult | None, change: Change | None,
                  groups: Iterable[tuple[str, RunResult]]) -> str | None:
    """The whole run (group "all") and each shown group of a breakdown, with `breakdown` and `group` columns
    first; None when the run itself may not be shown. Groups are those the disclosure rules let through."""
    total = results_csv(instrument, result, change)
    if total is None:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("breakdown", "group", *RESULT_COLUMNS))
    for name, table in (("all", total), *((g, results_csv(instrument, r)) for g, r in groups)):
        for row in list(csv.reader(io.StringIO(table or "")))[1:]:
            writer.writerow((_text(by), _text(name), *row))
    return out.getvalue()


def comments_csv(instrument: Instrument, result: RunResult | None, comments: Iterable[str]) -> str | None:
    """All comments of a shown run, sorted, one per row — or None below the comment minimum."""
    if result is None or not showable_questions(instrument, result):
        return None
    shown = shown_comments(comments, result.respondents, instrument.settings.comment_min_responses, minimum_for(instrument, result))
    if not shown:
        return None
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("comment",))
    writer.writerows((_text(c),) for c in shown)
    return out.getvalue()


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _text(value: str) -> str:
    # A cell starting with = + - @ (or a tab/CR) is run as a formula by spreadsheets; a leading ' shows it as text.
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
