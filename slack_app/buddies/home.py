"""What App Home shows about buddy introductions: the programs of the viewer's channels; for admins, every
program with its last round's counts (groups, left out, repeats)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import blocks
from slack_app.buddies import views
from storage import buddies as repo
from storage import members

if TYPE_CHECKING:
    from slack_app.home import Viewer


def section(viewer: Viewer) -> list[dict]:
    with viewer.services.db.session() as s:
        progs = repo.programs(s, viewer.team_id)
        if not progs:
            return []
        is_admin = viewer.is_admin
        if not is_admin:
            mine = members.channels_of(s, viewer.team_id, viewer.user_id, [p.channel_id for p in progs])
            progs = [p for p in progs if p.channel_id in mine]
        if not progs:
            return []
        cards = []
        for p in progs:
            recent = repo.rounds(s, p.id) if is_admin else []
            last = recent[0] if recent else None
            asked = next((r for r in recent if r.followed_up), None)
            met = sum(g.answer == "yes" for g in repo.group_rows(s, asked.id)) if asked else None
            me = repo.member(s, p.id, viewer.user_id)
            cards.append({"program_id": p.id, "welcomer": bool(me and me.welcomer),
                          "channel_id": p.channel_id, "size": p.size, "cadence": p.cadence, "rounds": len(recent),
                          "groups": last.groups if last else 0, "left_out": last.left_out if last else 0,
                          "repeats": last.repeats if last else 0,
                          "met": met, "asked_groups": asked.groups if asked else 0})
    text = viewer.services.copy.render("buddies_home.j2", programs=cards, is_admin=is_admin)
    buttons = [blocks.button(_volunteer_label(c["welcomer"], i if len(cards) > 1 else None),
                             views.VOLUNTEER_ACTION, value=str(c["program_id"])) for i, c in enumerate(cards[:5])]
    return [blocks.divider(), blocks.section(blocks.truncate(text, 3000)), blocks.actions(*buttons)]


def _volunteer_label(welcomer: bool, index: int | None) -> str:
    label = "Stop welcoming newcomers" if welcomer else "Welcome newcomers"
    return label if index is None else f"{label} ({index + 1})"
