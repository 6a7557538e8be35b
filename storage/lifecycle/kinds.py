"""What the archive takes, one small spec per kind: its tables, the age that makes a record old, which records
are finished, and what must never leave the database. A new column is archived as it is; a new personal
column is one word in `people`; a new table is one `Part`.

A kind is a unit of a root row and its children (a check-in round with its participants, check-ins and help
offers): units are archived, deleted and restored whole.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Table

Row = dict[str, Any]

MANIFESTS = "manifests"  # manifests/<run>.json; every other key is <team>/<kind>/<YYYY-MM-DD>/<name>.jsonl.gz
ALL_TEAMS = "all"        # the partition of records that belong to no workspace (job runs)


@dataclass(frozen=True)
class Part:
    """One table of a kind. The first part of a kind is its root."""

    table: str
    link: str | None = None      # the column naming the parent's id (None: the root)
    parent: str | None = None    # the parent part's table when it is not the root (one level: grandchildren)
    anonymous: bool = False      # random ids are dropped; rows are read in random-id order (no submission order)
    people: tuple[str, ...] = ()  # columns holding one member's id: rows *owned* by the member when listed in `owner`
    owner: tuple[str, ...] = ()   # of `people`: a row whose column names the forgotten member is removed
    sealed_people: tuple[str, ...] = ()  # sealed columns holding a member id or a JSON list of them
    clean: Callable[[Row], Row] | None = None  # privacy rule applied to every row on its way out
    only: Callable[[Table], ColumnElement[bool]] | None = None  # roots whose rows of this part may leave at all


@dataclass(frozen=True)
class Via:
    """The root's workspace is on another table: root.<fk> = <table>.id, team = <table>.<column>."""

    table: str
    fk: str
    column: str = "team_id"


@dataclass(frozen=True)
class Kind:
    name: str
    parts: tuple[Part, ...]
    age: str                      # a root column (datetime or date): older than the retention → archived
    team: str | Via | None        # a root column, a join, or None (the ALL_TEAMS partition)
    retention_days: int
    done: Callable[[Table], ColumnElement[bool]] | None = None  # only finished records are archived
    label: str = ""

    @property
    def root(self) -> Part:
        return self.parts[0]

    def parent_link(self, p: Part) -> str:
        """For a grandchild part: the column of its parent that names the root."""
        link = next(x.link for x in self.parts if x.table == p.parent)
        if link is None:
            raise ValueError(f"{p.table}: its parent must be a child of the root")
        return link


def _anonymous_reporter(row: Row) -> Row:
    """An anonymous reporter's identity (kept sealed in the database to relay follow-ups) never leaves it."""
    if row.get("anonymous"):
        row["reporter_sealed"] = None
        row["reporter_id"] = None
    return row


def _shown(run: Table) -> ColumnElement[bool]:
    """Answers of a run below its minimum were never shown anywhere; they are not archived either."""
    return run.c.respondents >= run.c.min_responses


KINDS: tuple[Kind, ...] = (
    Kind("checkins", label="check-in rounds with their check-ins and help offers", age="closes_at",
         team=Via("checkin_circle", "circle_id"), retention_days=180, done=lambda t: t.c.status == "closed",
         parts=(Part("checkin_round", people=("facilitator_id",)),
                Part("checkin_participant", link="round_id", people=("user_id",), owner=("user_id",)),
                Part("checkin", link="round_id", people=("user_id",), owner=("user_id",)),
                Part("checkin_help_offer", link="checkin_id", parent="checkin", people=("helper_id",),
                     owner=("helper_id",)))),
    Kind("surveys", label="closed survey runs: shuffled answers, counts and sealed comments", age="closed_on",
         team="team_id", retention_days=365, done=lambda t: t.c.status == "closed",
         parts=(Part("survey_run", people=("launched_by",)),
                Part("survey_answer", link="run_id", anonymous=True, only=_shown),
                Part("survey_count", link="run_id", only=_shown),
                Part("survey_group", link="run_id", only=_shown),
                Part("survey_group_count", link="run_id", only=_shown),
                Part("survey_comment", link="run_id", anonymous=True, only=_shown))),
    Kind("buddies", label="buddy rounds with their (sealed) groups", age="created_at",
         team=Via("buddy_program", "program_id"), retention_days=180,
         parts=(Part("buddy_round"), Part("buddy_group", link="round_id", sealed_people=("members",)))),
    Kind("reports", label="resolved reports with their audit trail", age="updated_at", team="team_id",
         retention_days=730, done=lambda t: t.c.status == "resolved",
         parts=(Part("report_case", people=("reporter_id", "assignee_id"),
                     sealed_people=("reporter_sealed", "dm_recipients"), clean=_anonymous_reporter),
                Part("report_entry", link="case_id", people=("actor",)))),
    Kind("delivery", label="the delivery log (sent and failed messages)", age="created_at", team="team_id",
         retention_days=90, done=lambda t: t.c.status.in_(("sent", "failed")),
         parts=(Part("outbox", people=("target",), owner=("target",), sealed_people=("target",)),)),
    Kind("jobruns", label="finished job runs", age="occurrence", team=None, retention_days=30,
         done=lambda t: t.c.status != "running", parts=(Part("job_run"),)),
)

BY_NAME: Mapping[str, Kind] = {k.name: k for k in KINDS}


def kind(name: str) -> Kind:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown kind {name!r}; use one of {', '.join(BY_NAME)}") from None


def parse_days(text: str) -> int:
    """'30d', '30', '6w', '1y' → days; ValueError with an example otherwise."""
    t = text.strip().lower()
    units = {"d": 1, "w": 7, "m": 30, "y": 365}
    n, unit = (t[:-1], t[-1]) if t and t[-1] in units else (t, "d")
    if not n.isdigit() or int(n) < 1:
        raise ValueError(f"{text!r} is not a span of days; use e.g. 30d, 6w or 1y")
    return int(n) * units[unit]


def retention(overrides: str = "") -> dict[str, int]:
    """Days per kind: the defaults above, overridden by HEARTH_ARCHIVE_RETENTION ('checkins=90d,reports=2y')."""
    days = {k.name: k.retention_days for k in KINDS}
    for item in (p.strip() for p in overrides.split(",")):
        if not item:
            continue
        name, _, span = item.partition("=")
        kind(name.strip())
        days[name.strip()] = parse_days(span)
    return days


@dataclass(frozen=True)
class ObjectName:
    team: str
    kind: str
    day: str
    name: str

    @property
    def key(self) -> str:
        return f"{self.team}/{self.kind}/{self.day}/{self.name}"


def parse_key(key: str) -> ObjectName | None:
    """The partition of an archive object's key; None for manifests and anything else."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] == MANIFESTS or parts[1] not in BY_NAME or not parts[3].endswith(".jsonl.gz"):
        return None
    return ObjectName(*parts)


@dataclass
class Forgetting:
    """What forgetting one member does to a row of a part: None (drop the row) or the row without them."""

    user_id: str
    open_sealed: Callable[[str], str]
    seal: Callable[[str], str]
    changed: int = field(default=0)

    def row(self, part: Part, row: Row) -> Row | None:
        if any(row.get(c) == self.user_id for c in part.owner):
            self.changed += 1
            return None
        out = dict(row)
        for c in part.people:
            if out.get(c) == self.user_id:
                out[c] = None if c != "actor" else "forgotten"
        for c in part.sealed_people:
            value = out.get(c)
            if isinstance(value, str) and value:
                out[c] = self._sealed(value)
        if out != row:
            self.changed += 1
        return out

    def _sealed(self, token: str) -> str:
        import json

        try:
            plain = self.open_sealed(token)
        except Exception:  # not a token (a plain channel id in a partial column) or another key: left alone
            return token
        if plain == self.user_id:
            return self.seal("")
        try:
            value = json.loads(plain)
        except ValueError:
            return token
        if isinstance(value, list) and self.user_id in value:
            return self.seal(json.dumps([v for v in value if v != self.user_id]))
        return token
