"""What admins see of delivery on App Home: messages that could not be delivered, and how to resend them;
the rate Hearth sends at when Slack taught it a lower one, and how long a running fan-out still needs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import blocks
from slack_app.cli_support import age
from slack_app.delivery import progress
from slack_app.delivery.pacing import SlackLimits
from storage import outbox

if TYPE_CHECKING:
    from slack_app.home import Viewer

RUNNING_FOR = 10.0  # seconds of sending left from which admins see a fan-out's progress


def section(viewer: Viewer) -> list[dict]:
    if not viewer.is_admin:
        return []
    with viewer.services.db.session() as session:
        status = outbox.status(session, viewer.team_id)
        pace = progress.pace(session, SlackLimits(), viewer.team_id)[0]
    out = []
    copy = viewer.services.copy
    running = pace.seconds_left >= RUNNING_FOR  # a handful of messages in flight is not worth a line
    if running or pace.posting.learned:
        out += [blocks.divider(), blocks.section(copy.render(
            "home_delivery_pace.j2", learned=pace.posting.learned, posting=f"{pace.posting.per_minute:,.0f}",
            configured=f"{pace.posting.configured_per_minute:,.0f}", unfinished=pace.unfinished if running else 0,
            left=age(pace.seconds_left)))]
    failed = status.counts.get(outbox.FAILED, 0)
    if failed:
        reasons = list(status.failed_by_error)[:3]
        out += [blocks.divider(), blocks.section(copy.render("home_delivery_failed.j2", failed=failed, reasons=reasons))]
    return out
