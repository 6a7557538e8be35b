"""What admins see of surveys on App Home: open surveys, and the trend of recent results.

Every number shown goes through the same disclosure ledger as the other outlets (`usecases.results_of`);
a run below its minimum shows only that nothing can be shown. Members see nothing here (their invitation
DM holds the button), so App Home says nothing about who has answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import blocks
from slack_app.surveys import usecases
from storage import surveys as repo
from storage.surveys import RunStatus

if TYPE_CHECKING:
    from slack_app.home import Viewer

SHOWN_RUNS = 8


def section(viewer: Viewer) -> list[dict]:
    with viewer.services.db.session() as s:
        if not repo.runs_of(s, viewer.team_id, limit=1):
            return []
    if not viewer.is_admin:  # asked only when there is something to show (it may cost a Slack call)
        return []
    with viewer.services.db.session() as s:
        runs = repo.runs_of(s, viewer.team_id, limit=SHOWN_RUNS)
        lines = []
        for run in runs:
            where = f"<#{run.channel_id}>" if run.channel_id else "the workspace"
            if run.status == RunStatus.OPEN:
                lines.append(f"• *{run.survey}* for {where}: open until {run.closes_at:%a %d %b %H:%M} UTC, "
                             f"{run.invited} invited")
                continue
            found = usecases.results_of(s, viewer.services, run)
            if found.result is None:
                lines.append(f"• *{run.survey}* for {where}, closed {run.closed_on}: fewer than {found.minimum} "
                             "responses, so nothing is shown")
                continue
            index = f"belonging index {found.result.index:.0f}/100" if found.result.index is not None else "results"
            moved = ""
            if found.change is not None and found.change.index is not None:
                moved = f" ({found.change.index:+.0f} since the previous run)"
            lines.append(f"• *{run.survey}* for {where}, closed {run.closed_on}: {found.result.respondents} "
                         f"responses, {index}{moved}")
    return [blocks.divider(), blocks.section("*Surveys* (admins only; details with `hearth surveys results ID`)\n"
                                             + "\n".join(lines))]
