"""The archive outlet: at close, a run's disclosed results go to the archive (storage/archive.py: a folder, or
S3 when ARCHIVE_URL says so), as one JSON object per run.

Only what every other outlet may show is written, decided by the same disclosure ledger (`results_of`):
aggregates of a run at or above its minimum, questions answered by at least the minimum, comments only at
their own minimum (sorted) — never an answer row, never a group. The object holds no time finer than the
closing day, so its bytes are the same whenever it is written: a retry after a failed write (the close sweep
calls `archive_pending`) is a no-op or completes it, and the archive never holds two versions.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from storage.archive import ArchiveError
from storage.surveys import RunStatus, SurveyRun, audience_key
from surveys.disclosure import shown_comments
from surveys.model import Question
from surveys.results import QuestionResult
from surveys.showable import minimum_for, showable_questions

if TYPE_CHECKING:
    from slack_app.services import Services
    from slack_app.surveys.usecases import Results

log = logging.getLogger("hearth.surveys")
FORMAT = 1


def key_of(run: SurveyRun) -> str:
    return f"surveys/{run.team_id}/{audience_key(run.channel_id)}/{run.survey}/{run.closed_on}-{run.public_id}.json"


def document(run: SurveyRun, found: Results) -> bytes:
    """The archived object: the run, and its results exactly as far as they may be shown."""
    instrument, result = found.instrument, found.result
    questions = showable_questions(instrument, result)
    shown = None
    if result is not None and questions:
        shown = {
            "respondents": result.respondents,
            "belonging_index": result.index,
            "questions": [_question(instrument.question(q.question_id), q) for q in questions],
            "change": None if found.change is None else {
                "belonging_index": found.change.index,
                "questions": [{"id": c.question_id, "mean": c.mean, "favourable_percent": c.favourable}
                              for c in found.change.questions]},
            "comments": list(shown_comments(found.comments, result.respondents,
                                            instrument.settings.comment_min_responses,
                                            minimum_for(instrument, result))),
        }
    doc = {"format": FORMAT, "kind": "survey_results", "survey": instrument.name, "version": instrument.version,
           "title": instrument.title, "run": run.public_id, "audience": run.audience, "channel_id": run.channel_id,
           "closed_on": str(run.closed_on), "minimum": found.minimum, "invited": run.invited,
           "respondents": run.respondents, "results": shown}
    return json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True).encode("utf-8")


def _question(asked: Question, q: QuestionResult) -> dict:
    return {"id": q.question_id, "text": asked.text, "kind": asked.kind.value, "answered": q.answered,
            "distribution": [{"value": v, "label": asked.label(v), "count": n} for v, n in q.distribution],
            "mean": q.mean, "favourable_percent": q.favourable}


def archive_run(services: Services, run_pk: int) -> str | None:
    """Write a closed run's results to the archive once; the object's key, or None (no archive, not closed,
    or the archive failed: logged, and the close sweep tries again)."""
    from slack_app.surveys.usecases import results_of  # the use cases call this module at close

    if services.archive is None:
        return None
    with services.db.session() as s:
        run = s.get(SurveyRun, run_pk)
        if run is None or run.status != RunStatus.CLOSED:
            return None
        if run.archive_key:
            return run.archive_key
        key, data, public_id = key_of(run), document(run, results_of(s, services, run)), run.public_id
    try:
        services.archive.put(key, data)
    except ArchiveError as exc:  # the type only: the message names the bucket, never content, but keep it short
        log.warning("surveys.archive_failed run=%s error=%s", public_id, type(exc).__name__)
        return None
    with services.db.session() as s:
        s.execute(update(SurveyRun).where(SurveyRun.id == run_pk).values(archive_key=key))
    log.info("surveys.archived run=%s", public_id)
    return key


def archive_pending(services: Services) -> int:
    """Archive every closed run whose results are not in the archive yet (a write that failed at close)."""
    if services.archive is None:
        return 0
    with services.db.session() as s:
        pending = list(s.scalars(select(SurveyRun.id).where(SurveyRun.status == RunStatus.CLOSED,
                                                            SurveyRun.archive_key.is_(None))
                                 .order_by(SurveyRun.id)))
    return sum(archive_run(services, pk) is not None for pk in pending)
