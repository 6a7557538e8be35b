"""Members' preferences, the one place every workflow asks "may Hearth message this person about X now?".

Shared: paused (until they resume), paused until an instant (a snooze), no DMs at all. On top: per-workflow
opt-outs, for a whole workflow or for one channel of it (one circle's check-ins). Functions take the caller's
session so a preference changes in the same transaction as what it affects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from storage import members
from storage import preferences as repo
from storage.preferences import WHOLE_WORKFLOW


@dataclass(frozen=True)
class Preferences:
    paused: bool = False
    paused_until: datetime | None = None
    no_dms: bool = False
    opted_out: frozenset[tuple[str, str]] = frozenset()  # (workflow, scope); scope "" = the whole workflow

    def snoozed_at(self, now: datetime) -> datetime | None:
        """The snooze still running at `now`, if any."""
        return self.paused_until if self.paused_until is not None and self.paused_until > now else None

    def opted_out_of(self, workflow: str, scope: str = WHOLE_WORKFLOW) -> bool:
        return (workflow, WHOLE_WORKFLOW) in self.opted_out or (workflow, scope) in self.opted_out


def of(s: Session, team_id: str, user_id: str, workflow: str | None = None) -> Preferences:
    return of_many(s, team_id, [user_id], workflow).get(user_id, Preferences())


def of_many(s: Session, team_id: str, user_ids: list[str], workflow: str | None = None) -> dict[str, Preferences]:
    """Everyone's preferences in two queries; people who never set one get the defaults."""
    rows = repo.preferences(s, team_id, user_ids)
    outs: dict[str, set[tuple[str, str]]] = {}
    if workflow is not None:
        for o in repo.opt_outs(s, team_id, workflow, user_ids):
            outs.setdefault(o.user_id, set()).add((o.workflow, o.scope))
    return {user_id: shared(rows.get(user_id), frozenset(outs.get(user_id, ()))) for user_id in user_ids}


def shared(row: repo.Preference | None, opted_out: frozenset[tuple[str, str]] = frozenset()) -> Preferences:
    """The preferences a member's row holds (the defaults when they have none), with these opt-outs."""
    if row is None:
        return Preferences(opted_out=opted_out)
    return Preferences(paused=bool(row.paused), paused_until=members.aware(row.paused_until),
                       no_dms=bool(row.no_dms), opted_out=opted_out)


def pause(s: Session, team_id: str, user_id: str) -> None:
    repo.preference(s, team_id, user_id, create=True).paused = True  # type: ignore[union-attr]


def pause_until(s: Session, team_id: str, user_id: str, until: datetime) -> None:
    repo.preference(s, team_id, user_id, create=True).paused_until = until  # type: ignore[union-attr]


def resume(s: Session, team_id: str, user_id: str) -> None:
    """Back from a pause and a snooze (opt-outs are undone by `opt_in`)."""
    row = repo.preference(s, team_id, user_id)
    if row is not None:
        row.paused, row.paused_until = False, None


def set_no_dms(s: Session, team_id: str, user_id: str, no_dms: bool) -> None:
    repo.preference(s, team_id, user_id, create=True).no_dms = no_dms  # type: ignore[union-attr]


def opt_out(s: Session, team_id: str, user_id: str, workflow: str, scope: str = WHOLE_WORKFLOW) -> None:
    repo.add_opt_out(s, team_id, user_id, workflow, scope)


def opt_in(s: Session, team_id: str, user_id: str, workflow: str, scopes: Iterable[str] | None = None) -> int:
    """Back in every scope of the workflow (or only `scopes`); returns how many opt-outs ended."""
    return repo.remove_opt_outs(s, team_id, user_id, workflow, scopes)
