"""What admins see of surveys on App Home: open surveys, and the trend of recent results.

Every number shown goes through the same disclosure ledger as the other outlets (`usecases.results_of`);
a run below its minimum shows only that nothing can be shown. Members see nothing here (their invitation
DM holds the button), so App Home says nothing about who has answered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import blocks
from slack_app.surveys import schedules, usecases
from storage import survey_schedules
from storage import surveys as repo
from storage.surveys import RunStatus

if TYPE_CHECKING:
    from slack_app.home import Viewer

SHOWN_RUNS = 8


def section(viewer: Viewer) -> list[dict]:
    if not viewer.is_admin:  # asked once per drawing (the roster's section asks first): most viewers stop here
        return []
    with viewer.reading() as s:
        if not repo.runs_of(s, viewer.team_id, limit=1) and not survey_schedules.all_schedules(s, viewer.team_id):
            return []
    planned = schedules.scheduled(viewer.services, viewer.team_id)
    with viewer.services.db.session() as s:
        runs = []
        for run in repo.runs_of(s, viewer.team_id, limit=SHOWN_RUNS):
            line: dict[str, object] = {"survey": run.survey, "channel_id": run.channel_id}
            if run.status == RunStatus.OPEN:
                runs.append({**line, "state": "open", "closes": f"{run.closes_at:%a %d %b %H:%M}",
                             "invited": run.invited})
                continue
            found = usecases.results_of(s, viewer.services, run)
            line.update(closed_on=str(run.closed_on))
            if found.result is None:
                runs.append({**line, "state": "withheld", "minimum": found.minimum})
                continue
            index = f"{found.result.index:.0f}" if found.result.index is not None else None
            moved = None
            if found.change is not None and found.change.index is not None:
                moved = f"{found.change.index:+.0f}"
            runs.append({**line, "state": "shown", "respondents": found.result.respondents, "index": index,
                         "change": moved})
    plans = [{"survey": p.survey, "channel_id": p.channel_id, "when": p.when,
              "next": f"{p.next_launch:%a %d %b %H:%M}", "last": p.last_outcome} for p in planned]
    return [blocks.divider(),
            blocks.section(viewer.services.copy.render("survey_home.j2", runs=runs, schedules=plans))]
