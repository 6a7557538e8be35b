"""Hourly housekeeping drops event ids and job runs that can no longer guard against anything."""

from datetime import timedelta

from slack_app.scheduling.registry import JobBook, JobContext
from slack_app.workflows import WORKFLOWS
from storage import events
from storage.models import JobRun, SlackEvent, utcnow


def test_housekeeping_is_a_scheduled_job_that_forgets_only_what_is_old(db):
    book = JobBook(w.jobs for w in WORKFLOWS)
    assert "housekeeping.prune" in {spec.id for spec in book.desired_jobs(db)[0]}

    now = utcnow()
    assert events.first_sighting(db, "EvRECENT", "T1")
    with db.session() as s:
        s.add(SlackEvent(event_id="EvOLD", team_id="T1", received_at=now - timedelta(days=2)))
        for job_id, age, status in [("old", 100, "done"), ("recent", 10, "done"), ("stuck", 100, "running")]:
            s.add(JobRun(job_id=job_id, occurrence=now - timedelta(days=age), action="a", params={},
                         status=status, owner="o"))

    result = book.action("housekeeping.prune")(JobContext(db=db, params={}))

    assert result == {"event_ids": 1, "job_runs": 1, "failed_messages_erased": 0}
    assert not events.first_sighting(db, "EvRECENT", "T1")  # still a retry within the horizon
    assert events.first_sighting(db, "EvOLD", "T1")  # forgotten
    with db.session() as s:
        assert sorted(r.job_id for r in s.query(JobRun)) == ["recent", "stuck"]  # a running one is never dropped
