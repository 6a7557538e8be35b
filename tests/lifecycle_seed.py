"""Records of every archived kind, old and recent, written straight into the tables (tests and bench/archive.py)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from storage.anonymity import opaque_id
from storage.crypto import Crypto
from storage.db import Database
from storage.lifecycle.archiver import tables

TEAM = "T0HEARTH"
OLD = datetime(2023, 1, 15, 12, 30, tzinfo=UTC)
RECENT = datetime.now(UTC) - timedelta(days=1)
SECRET_WORDS = "grateful for the soup"


def seed_all(db: Database, crypto: Crypto, *, when: datetime = OLD) -> dict[str, int]:
    """One record (a unit) of every kind at `when`, plus an unfinished one that must stay; rows per kind."""
    ts = tables()
    with db.session() as s:
        circle = s.execute(ts["checkin_circle"].insert().values(
            team_id=TEAM, channel_id=f"C{opaque_id()[:8].upper()}", enabled=True, cadence="weekly", weekday=0,
            local_time="09:00", timezone="UTC", window_minutes=60, remind_before_minutes=30, sharing="circle",
            rotate_facilitator=True, anchor_date=date(2024, 1, 1), created_at=when, updated_at=when)
            .returning(ts["checkin_circle"].c.id)).scalar_one()
        rounds = []
        for status in ("closed", "open"):
            rounds.append(s.execute(ts["checkin_round"].insert().values(
                circle_id=circle, number=len(rounds) + 1, status=status, opens_at=when, remind_at=when,
                closes_at=when + timedelta(hours=2), facilitator_id="UALICE").returning(ts["checkin_round"].c.id)
            ).scalar_one())
        for r in rounds:
            for user in ("UALICE", "UBOB"):
                s.execute(ts["checkin_participant"].insert().values(round_id=r, user_id=user, invited=True))
                c = s.execute(ts["checkin"].insert().values(
                    round_id=r, user_id=user, public_id=opaque_id()[:16], gratitude=crypto.encrypt(SECRET_WORDS),
                    challenge=None, offer=None, has_challenge=False, has_offer=False, sharing="circle", version=1,
                    created_at=when, updated_at=when).returning(ts["checkin"].c.id)).scalar_one()
                s.execute(ts["checkin_help_offer"].insert().values(
                    checkin_id=c, helper_id="UCAROL" if user == "UALICE" else "UALICE", public_id=opaque_id()[:16],
                    status="offered", created_at=when))
        for status, respondents in (("closed", 6), ("closed", 3), ("open", None)):
            run = s.execute(ts["survey_run"].insert().values(
                public_id=opaque_id()[:16], team_id=TEAM, survey="belonging", version=1, source="{}",
                audience="workspace", min_responses=5, launched_by="UALICE", invited=10, opened_at=when,
                closes_at=when, status=status, closed_on=when.date() if status == "closed" else None,
                respondents=respondents, first_reminder_done=True, final_reminder_done=True)
                .returning(ts["survey_run"].c.id)).scalar_one()
            s.execute(ts["survey_answer"].insert(), [
                {"id": opaque_id(), "run_id": run, "question_id": "q1", "value": v % 5 + 1} for v in range(12)])
            s.execute(ts["survey_count"].insert(), [{"run_id": run, "question_id": "q1", "value": 1, "n": 12}])
            s.execute(ts["survey_comment"].insert(), [
                {"id": opaque_id(), "run_id": run, "question_id": "q9", "text": crypto.encrypt(SECRET_WORDS)}])
        program = s.execute(ts["buddy_program"].insert().values(
            team_id=TEAM, channel_id=f"C{opaque_id()[:8].upper()}", enabled=True, size=2, cadence="weekly",
            weekday=0, local_time="09:00", timezone="UTC", anchor_date=date(2024, 1, 1), opt_in=False, window=12,
            enabled_at=when).returning(ts["buddy_program"].c.id)).scalar_one()
        brnd = s.execute(ts["buddy_round"].insert().values(
            program_id=program, seed=42, groups=1, left_out=0, repeats=0, created_at=when, followed_up=True,
            tallied=True).returning(ts["buddy_round"].c.id)).scalar_one()
        s.execute(ts["buddy_group"].insert().values(round_id=brnd, members=crypto.encrypt(json.dumps(["UALICE", "UBOB"]))))
        for number, (status, anonymous) in enumerate((("resolved", True), ("resolved", False), ("open", False)), 1):
            case = s.execute(ts["report_case"].insert().values(
                team_id=TEAM, number=number, submission_key=opaque_id(), category="harassment", urgency="normal",
                status=status, anonymous=anonymous, follow_up=True, reporter_id=None if anonymous else "UDAVE",
                reporter_sealed=crypto.encrypt("UDAVE"), pseudonym="Quiet Otter",
                details=crypto.encrypt(json.dumps({"text": SECRET_WORDS})), assignee_id="UALICE", card_version=1,
                reply_waiting=False, created_at=when, updated_at=when).returning(ts["report_case"].c.id)).scalar_one()
            for action in ("submitted", "resolved"):
                s.execute(ts["report_entry"].insert().values(case_id=case, actor="UALICE", action=action,
                                                             body=crypto.encrypt(SECRET_WORDS), at=when))
        s.execute(ts["outbox"].insert(), [
            dict(team_id=TEAM, kind="checkin.prompt", target=target, payload="", sensitive=False,
                 dedupe_key=opaque_id(), status=status, attempts=1, next_attempt_at=when, created_at=when)
            for target, status in (("UALICE", "sent"), ("UBOB", "failed"), ("UBOB", "pending"))])
        s.execute(ts["job_run"].insert(), [
            dict(job_id=f"demo.{status}", occurrence=when, action="demo", params={}, status=status, owner="o",
                 started_at=when) for status in ("done", "running")])
    # rows of the finished units (what must leave the database): checkins 1+2+2+2, surveys 3 runs' worth below
    return {"checkins": 7, "surveys": 1 + 12 + 1 + 1 + 1, "buddies": 2, "reports": 2 * 3, "delivery": 2, "jobruns": 1}


def seed_delivery(db: Database, rows: int, *, when: datetime = OLD, chunk: int = 50_000) -> None:
    """`rows` sent messages of the delivery log (the benchmark's load), spread over a few days."""
    ts = tables()
    payload = {"team_id": TEAM, "kind": "checkin.prompt", "payload": "", "sensitive": False, "status": "sent",
               "attempts": 1, "sent_channel": "D0123456", "sent_ts": "1700000000.000100"}
    done = 0
    while done < rows:
        n = min(chunk, rows - done)
        with db.session() as s:
            s.execute(ts["outbox"].insert(), [
                dict(payload, target=f"U{(done + i) % 5000:08d}", dedupe_key=f"k{done + i}",
                     next_attempt_at=when, created_at=when + timedelta(seconds=(done + i) * 0.2),
                     sent_at=when) for i in range(n)])
        done += n
