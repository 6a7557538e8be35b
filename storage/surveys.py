"""Survey tables and their repository functions: runs, who took part, the sealed buffer, the answers.

Anonymity by construction (docs/privacy.md, "Surveys"):
- `survey_participation` says who took part (for reminders and "you already answered") and nothing else:
  a random id, the run and the day. It shares no id with anything an answer is stored in, and is deleted
  when the run closes.
- `survey_buffer` holds each submission sealed (`Sealed`, encrypted with the database's key) while the run
  is open, so nothing is lost on a crash: a random id, the run, the ciphertext; no member, no time.
- At close, `seal_run` decrypts the buffer, shuffles every (question, value) pair of every submission
  together and writes them as `survey_answer` rows (random ids, no member, no time) in ONE transaction,
  with the comments (re-encrypted) in `survey_comment`; the buffer and participation rows are deleted in
  the same transaction, then wiped from the file (SQLite secure_delete + WAL checkpoint; PostgreSQL VACUUM).
- `survey_release` is the disclosure ledger (surveys.disclosure): every cell shown on any outlet, per scope.

Functions take the caller's session, so a change and the messages it causes commit together.
"""

from __future__ import annotations

import json
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    delete,
    exists,
    func,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import ColumnElement

from storage import members
from storage.anonymity import opaque_id, shuffled
from storage.checkins import Cipher, UTCDateTime
from storage.crypto import Crypto
from storage.db import Database
from storage.members import ChannelMember, RosterChannel
from storage.models import Base, utcnow
from storage.sealed import Sealed
from surveys import groups

WORKFLOW = "surveys"  # the name member opt-outs are kept under (`storage.preferences`)


class RunStatus:
    OPEN = "open"
    CLOSED = "closed"


class Audience:
    CHANNEL = "channel"
    WORKSPACE = "workspace"


class SurveyRun(Base):
    """One launch of a survey to one audience. Not anonymous (it is the admin's act); says nothing of answers
    until close, then only how many answered."""

    __tablename__ = "survey_run"
    __table_args__ = (Index("ix_survey_run_team_status", "team_id", "status"),
                      Index("uq_survey_run_open", "team_id", "open_key", unique=True))

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # in buttons and `hearth surveys … ID`
    team_id: Mapped[str] = mapped_column(String(32))
    survey: Mapped[str] = mapped_column(String(40))  # the instrument's name: runs of one name make a series
    version: Mapped[int]
    source: Mapped[str] = mapped_column(Text)  # the instrument's YAML, so results stay readable if the file changes
    audience: Mapped[str] = mapped_column(String(16))  # channel | workspace
    channel_id: Mapped[str | None] = mapped_column(String(32))  # the audience's channel (None: workspace)
    min_responses: Mapped[int]  # fixed at launch
    launched_by: Mapped[str | None] = mapped_column(String(32))  # the admin who gets the results (None: CLI)
    invited: Mapped[int] = mapped_column(default=0)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.OPEN)
    closed_on: Mapped[date | None] = mapped_column(Date)
    respondents: Mapped[int | None]  # set at close
    first_reminder_done: Mapped[bool] = mapped_column(default=False)
    final_reminder_done: Mapped[bool] = mapped_column(default=False)
    # The audience while open, NULL once closed: a unique (team, open_key) index lets the database itself
    # refuse a second open run for one audience, whichever instance or schedule launches it.
    open_key: Mapped[str | None] = mapped_column(String(80))
    breakdowns: Mapped[str] = mapped_column(String(200), default="")  # comma-separated (surveys.groups)
    archive_key: Mapped[str | None] = mapped_column(String(300))  # where its results went at close

    @property
    def dimensions(self) -> tuple[str, ...]:
        return tuple(d for d in self.breakdowns.split(",") if d)

    @property
    def series(self) -> str:
        """Runs whose results may be compared and whose releases share one ledger."""
        return f"{self.survey}:{self.audience}:{self.channel_id or ''}"


class SurveyParticipation(Base):
    """Who took part in an open run: random id, day only; deleted at close."""

    __tablename__ = "survey_participation"
    __table_args__ = (UniqueConstraint("run_id", "user_id", name="uq_survey_participation_run_user"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=opaque_id)
    run_id: Mapped[int] = mapped_column(ForeignKey("survey_run.id", ondelete="CASCADE"))
    user_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date)


class SurveyBuffer(Base):
    """One submission, sealed until close: no member, no time."""

    __tablename__ = "survey_buffer"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=opaque_id)
    run_id: Mapped[int] = mapped_column(ForeignKey("survey_run.id", ondelete="CASCADE"), index=True)
    sealed: Mapped[str] = mapped_column(Sealed)


class SurveyAnswer(Base):
    """One counted answer of a closed run: a question and a value. Written shuffled, all at once, at close."""

    __tablename__ = "survey_answer"
    __table_args__ = (Index("ix_survey_answer_run_question", "run_id", "question_id", "value"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=opaque_id)
    run_id: Mapped[int] = mapped_column(ForeignKey("survey_run.id", ondelete="CASCADE"))
    question_id: Mapped[str] = mapped_column(String(32))
    value: Mapped[int] = mapped_column(Integer)
    labels: Mapped[str] = mapped_column(String(400), default="")  # its stratum, coarsened (surveys.groups)


class SurveyGroup(Base):
    """How many answer sets of a closed run carry each stored stratum (0 or at least the minimum, by
    construction): the population the disclosure rules weigh breakdowns against."""

    __tablename__ = "survey_group"

    run_id: Mapped[int] = mapped_column(ForeignKey("survey_run.id", ondelete="CASCADE"), primary_key=True)
    labels: Mapped[str] = mapped_column(String(400), primary_key=True)
    respondents: Mapped[int]


class SurveyGroupCount(Base):
    """`survey_count` per stored stratum, for runs with more than one (breakdowns read these, not answers)."""

    __tablename__ = "survey_group_count"

    run_id: Mapped[int] = mapped_column(ForeignKey("survey_run.id", ondelete="CASCADE"), primary_key=True)
    labels: Mapped[str] = mapped_column(String(400), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int]


class SurveyCount(Base):
    """How many answer sets gave each value to each question of a closed run, aggregated in SQL at close
    (a sealed run never changes): results and trends read these few rows, never the answers one by one."""

    __tablename__ = "survey_count"

    run_id: Mapped[int] = mapped_column(ForeignKey("survey_run.id", ondelete="CASCADE"), primary_key=True)
    question_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int]


class SurveyComment(Base):
    """One free-text answer of a closed run, encrypted; shown only at the comment minimum, sorted."""

    __tablename__ = "survey_comment"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=opaque_id)
    run_id: Mapped[int] = mapped_column(ForeignKey("survey_run.id", ondelete="CASCADE"), index=True)
    question_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Sealed)


class SurveyRelease(Base):
    """The disclosure ledger: one cell released on some outlet, in one scope, with its size at release."""

    __tablename__ = "survey_release"
    __table_args__ = (UniqueConstraint("team_id", "series", "scope", "cell", name="uq_survey_release_cell"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    series: Mapped[str] = mapped_column(String(120))
    scope: Mapped[str] = mapped_column(String(40))  # "respondents" or a question id
    cell: Mapped[str] = mapped_column(Text)  # JSON: {"runs": [...], "where": [[dim, value], ...]}
    size: Mapped[int]


# ---- runs -------------------------------------------------------------------------------------------------

def audience_key(channel_id: str | None) -> str:
    """One audience (a channel, or the workspace) as one string: the key of its open run and its schedules."""
    return channel_id or Audience.WORKSPACE


def new_run(s: Session, **values: object) -> SurveyRun:
    """A new open run. The caller's flush raises IntegrityError when the audience already has an open run."""
    channel_id = values.get("channel_id")
    is_open = values.get("status", RunStatus.OPEN) == RunStatus.OPEN
    run = SurveyRun(public_id=secrets.token_hex(8),  # hex: never starts with "-" on a command line
                    open_key=audience_key(channel_id if isinstance(channel_id, str) else None) if is_open else None,
                    **values)
    s.add(run)
    s.flush()
    return run


# Built once (storage/db.py says why).
_RUN_BY_PUBLIC_ID = select(SurveyRun).where(SurveyRun.team_id == bindparam("team_id"),
                                            SurveyRun.public_id == bindparam("public_id"))
# A run by its public id with what a member's answer depends on, built once: every "Answer" click and answer.
_RUN_FOR = members.join_listing(
    select(SurveyRun,
           exists().where(SurveyParticipation.run_id == SurveyRun.id,
                          SurveyParticipation.user_id == bindparam("user_id")),
           RosterChannel.id, ChannelMember.id),
    SurveyRun.team_id, SurveyRun.channel_id,
).where(SurveyRun.team_id == bindparam("team_id"), SurveyRun.public_id == bindparam("public_id"))
# Holding the run as it is read until the transaction ends: a close (an UPDATE of the run, then sealing) waits
# for an answer in flight, so the sealing neither misses nor orphans it (SQLite serialises writers instead).
_RUN_FOR_ANSWER = _RUN_FOR.with_for_update(read=True, of=SurveyRun)


def run_by_public_id(s: Session, team_id: str, public_id: str) -> SurveyRun | None:
    return s.scalars(_RUN_BY_PUBLIC_ID, {"team_id": team_id, "public_id": public_id}).first()


@dataclass(frozen=True)
class RunFor:
    """A run as one member may answer it: whether they took part already, and whether the last listing of the
    run's channel has them in it (None: the workspace's run, or a channel never listed)."""

    run: SurveyRun
    took_part: bool
    listed: bool | None


def run_for(s: Session, team_id: str, public_id: str, user_id: str, *, answering: bool = False) -> RunFor | None:
    """The run and what `user_id`'s answer depends on, in one statement; `answering`: held open (see above)
    until the caller's transaction ends."""
    found = s.execute(_RUN_FOR_ANSWER if answering else _RUN_FOR,
                      {"team_id": team_id, "public_id": public_id, "user_id": user_id}).first()
    if found is None:
        return None
    run, took_part, roster_id, member_id = found
    return RunFor(run, bool(took_part), members.listed(roster_id, member_id))


def open_run_for(s: Session, team_id: str, channel_id: str | None) -> SurveyRun | None:
    """The open run whose audience is this channel (None: the workspace)."""
    return s.scalars(select(SurveyRun).where(SurveyRun.team_id == team_id, SurveyRun.status == RunStatus.OPEN,
                                             _audience_is(channel_id))).first()


def latest_closed_run(s: Session, team_id: str, channel_id: str | None) -> SurveyRun | None:
    return s.scalars(select(SurveyRun).where(SurveyRun.team_id == team_id, SurveyRun.status == RunStatus.CLOSED,
                                             _audience_is(channel_id))
                     .order_by(SurveyRun.closes_at.desc(), SurveyRun.id.desc())).first()


def previous_run(s: Session, run: SurveyRun) -> SurveyRun | None:
    """The closed run of the same survey and audience before `run`."""
    return s.scalars(select(SurveyRun).where(
        SurveyRun.team_id == run.team_id, SurveyRun.survey == run.survey, SurveyRun.audience == run.audience,
        SurveyRun.status == RunStatus.CLOSED, _audience_is(run.channel_id), SurveyRun.id < run.id,
    ).order_by(SurveyRun.id.desc())).first()


def _audience_is(channel_id: str | None) -> ColumnElement[bool]:
    if channel_id is None:
        return SurveyRun.audience == Audience.WORKSPACE
    return (SurveyRun.audience == Audience.CHANNEL) & (SurveyRun.channel_id == channel_id)


def open_runs(s: Session) -> list[SurveyRun]:
    return list(s.scalars(select(SurveyRun).where(SurveyRun.status == RunStatus.OPEN).order_by(SurveyRun.id)))


def runs_to_close(s: Session, now: datetime) -> list[SurveyRun]:
    return list(s.scalars(select(SurveyRun).where(SurveyRun.status == RunStatus.OPEN, SurveyRun.closes_at <= now)
                          .order_by(SurveyRun.id)))


_RUNS_OF = (select(SurveyRun).where(SurveyRun.team_id == bindparam("team_id")).order_by(SurveyRun.id.desc())
            .limit(bindparam("limit")))  # built once: every App Home lists them


def runs_of(s: Session, team_id: str, *, limit: int = 20) -> list[SurveyRun]:
    return list(s.scalars(_RUNS_OF, {"team_id": team_id, "limit": limit}))


# ---- taking part --------------------------------------------------------------------------------------------

def participants(s: Session, run_id: int) -> set[str]:
    return set(s.scalars(select(SurveyParticipation.user_id).where(SurveyParticipation.run_id == run_id)))


def submissions(s: Session, run_id: int) -> int:
    return s.scalar(select(func.count()).select_from(SurveyBuffer).where(SurveyBuffer.run_id == run_id)) or 0


def record_submission(s: Session, cipher: Crypto, run_id: int, user_id: str, *, day: date,
                      values: Sequence[tuple[str, int]], texts: Sequence[tuple[str, str]],
                      labels: Sequence[tuple[str, str]] = ()) -> None:
    """Who took part and what they answered, in two tables that share nothing but the run. The caller's
    transaction fails with IntegrityError when the member already took part (one answer per member).
    Two plain INSERTs: nothing reads these rows back, so the ORM's unit of work only cost (this transaction
    timed alone: 0.69 ms of CPU with it, 0.43 without)."""
    s.execute(_TAKING_PART, {"run_id": run_id, "user_id": user_id, "day": day})  # the unique check, before sealing
    payload = json.dumps({"v": [list(v) for v in values], "t": [list(t) for t in texts],
                          "l": [list(p) for p in labels]}, separators=(",", ":"))
    s.execute(_BUFFERED, {"run_id": run_id, "sealed": cipher.encrypt_dated(_padded(payload), day)})


_TAKING_PART = SurveyParticipation.__table__.insert()  # its random id from the column's default, as before
_BUFFERED = SurveyBuffer.__table__.insert()


# While a run is open its buffer row can be paired with the participation row written in the same transaction
# (docs/privacy.md). Without the key, the token's length would still tell whether that member commented, or
# skipped an optional question: payloads are padded to a multiple of this many characters (JSON whitespace,
# so `json.loads` reads them unchanged). Only a comment longer than about one block shows its rough length.
PAD_BLOCK = 1024


def _padded(payload: str) -> str:
    return payload + " " * (-len(payload) % PAD_BLOCK)


# ---- closing ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sealing:
    """How many rows a close sealed: counts only (what was answered never leaves `seal_run`)."""

    respondent_count: int
    answer_rows: int
    comment_rows: int


def seal_run(s: Session, cipher: Crypto, run: SurveyRun, *, today: date) -> Sealing:
    """Move the buffer into answer rows, shuffled, in the caller's transaction; erase buffer and participation.
    The caller has already moved the run out of `open` (conditionally), so this runs once per run."""
    if s.get_bind().dialect.name == "sqlite":
        s.execute(text("PRAGMA secure_delete=ON"))  # freed pages are zeroed, not left readable in the file
    buffered = list(s.scalars(select(SurveyBuffer.sealed).where(SurveyBuffer.run_id == run.id)))
    opened = [json.loads(cipher.decrypt(token)) for token in buffered]
    strata = [groups.labels(*((str(d), str(v)) for d, v in o.get("l", ()))) for o in opened]
    stored = groups.coarsen(Counter(strata), run.min_responses)  # no stored stratum smaller than k
    answers: list[dict[str, object]] = []
    comments: list[dict[str, object]] = []
    for o, stratum in zip(opened, strata, strict=True):
        label = groups.encode(stored[stratum])
        answers += [{"id": opaque_id(), "run_id": run.id, "question_id": q, "value": int(v), "labels": label}
                    for q, v in o["v"]]
        comments += [{"id": opaque_id(), "run_id": run.id, "question_id": q, "text": t} for q, t in o["t"]]
    answers = shuffled(answers)
    comments = [dict(c, text=cipher.encrypt_dated(str(c["text"]), today)) for c in shuffled(comments)]
    if answers:
        s.execute(SurveyAnswer.__table__.insert(), answers)
    if comments:
        s.execute(SurveyComment.__table__.insert(), comments)
    sizes = Counter(groups.encode(stored[st]) for st in strata)
    if sizes:
        s.execute(SurveyGroup.__table__.insert(), [{"run_id": run.id, "labels": label, "respondents": n}
                                                   for label, n in sorted(sizes.items())])
    if len(sizes) > 1:  # counts per group, aggregated once in SQL like the run's own
        s.execute(SurveyGroupCount.__table__.insert().from_select(
            ["run_id", "labels", "question_id", "value", "n"],
            select(SurveyAnswer.run_id, SurveyAnswer.labels, SurveyAnswer.question_id, SurveyAnswer.value,
                   func.count())
            .where(SurveyAnswer.run_id == run.id)
            .group_by(SurveyAnswer.run_id, SurveyAnswer.labels, SurveyAnswer.question_id, SurveyAnswer.value)))
    aggregate_counts(s, run.id)
    s.execute(delete(SurveyBuffer).where(SurveyBuffer.run_id == run.id))
    s.execute(delete(SurveyParticipation).where(SurveyParticipation.run_id == run.id))
    run.respondents = len(buffered)
    run.closed_on = today
    return Sealing(len(buffered), len(answers), len(comments))


def wipe_freed_space(db: Database) -> bool:
    """After a sealing commits: no deleted buffer row stays readable in the database's files. False when
    SQLite's WAL could not be emptied (a reader held it): the erased ciphertext may then stay in the
    database or -wal file until the next checkpoint (hourly housekeeping runs one)."""
    if db.is_sqlite:
        return db.checkpoint_wal()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM survey_buffer")
        conn.exec_driver_sql("VACUUM survey_participation")
    return True


# ---- results: aggregated in SQL -----------------------------------------------------------------------------

def aggregate_counts(s: Session, run_id: int) -> None:
    """Count a run's answers per (question, value) in SQL, once, as it is sealed."""
    s.execute(delete(SurveyCount).where(SurveyCount.run_id == run_id))
    s.execute(SurveyCount.__table__.insert().from_select(
        ["run_id", "question_id", "value", "n"],
        select(SurveyAnswer.run_id, SurveyAnswer.question_id, SurveyAnswer.value, func.count())
        .where(SurveyAnswer.run_id == run_id)
        .group_by(SurveyAnswer.run_id, SurveyAnswer.question_id, SurveyAnswer.value)))


def counts(s: Session, run_id: int) -> dict[tuple[str, int], int]:
    return counts_many(s, [run_id])[run_id]


def counts_many(s: Session, run_ids: Sequence[int]) -> dict[int, dict[tuple[str, int], int]]:
    """Counts per (question, value) of many runs (a trend): runs × questions × values rows."""
    out: dict[int, dict[tuple[str, int], int]] = {r: {} for r in run_ids}
    rows = s.execute(select(SurveyCount.run_id, SurveyCount.question_id, SurveyCount.value, SurveyCount.n)
                     .where(SurveyCount.run_id.in_(list(run_ids))))
    for run_id, q, v, n in rows:
        out[run_id][(q, int(v))] = int(n)
    return out


def strata_of(s: Session, run_id: int) -> dict[str, int]:
    """Respondents per stored stratum (encoded labels) of a closed run; {} for a run sealed before breakdowns."""
    return {label: n for label, n in s.execute(select(SurveyGroup.labels, SurveyGroup.respondents)
                                               .where(SurveyGroup.run_id == run_id))}


def counts_by_stratum(s: Session, run_id: int) -> dict[str, dict[tuple[str, int], int]]:
    """Counts per (question, value) in each stored stratum of a run with several (kept at close)."""
    out: dict[str, dict[tuple[str, int], int]] = {}
    rows = s.execute(select(SurveyGroupCount.labels, SurveyGroupCount.question_id, SurveyGroupCount.value,
                            SurveyGroupCount.n).where(SurveyGroupCount.run_id == run_id))
    for label, q, v, n in rows:
        out.setdefault(label, {})[(q, int(v))] = int(n)
    return out


def comments_of(s: Session, cipher: Cipher, run_id: int) -> list[str]:
    return [cipher.decrypt(t) for t in s.scalars(select(SurveyComment.text).where(SurveyComment.run_id == run_id))]


# ---- the disclosure ledger --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ReleasedCell:
    scope: str
    runs: tuple[str, ...]
    where: tuple[tuple[str, str], ...]
    size: int


def releases(s: Session, team_id: str, series: str) -> list[ReleasedCell]:
    out = []
    for r in s.scalars(select(SurveyRelease).where(SurveyRelease.team_id == team_id, SurveyRelease.series == series)):
        cell = json.loads(r.cell)
        out.append(ReleasedCell(r.scope, tuple(cell["runs"]), tuple((d, v) for d, v in cell["where"]), r.size))
    return out


def record_releases(s: Session, team_id: str, series: str, cells: Iterable[ReleasedCell]) -> None:
    known = {(c.scope, c.runs, c.where) for c in releases(s, team_id, series)}
    for c in cells:
        if (c.scope, c.runs, c.where) in known:
            continue
        cell = json.dumps({"runs": sorted(c.runs), "where": [list(p) for p in c.where]}, sort_keys=True)
        s.add(SurveyRelease(team_id=team_id, series=series, scope=c.scope, cell=cell, size=c.size))
