"""What App Home shows about buddy introductions: the programs of the viewer's channels; for admins, every
program with its last rounds' statistics (groups, left out, meet rate, repeat rate)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app import blocks
from slack_app.buddies import rules, views
from storage import buddies as repo
from storage import members

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from slack_app.home import Viewer


def section(viewer: Viewer) -> list[dict]:
    with viewer.reading() as s:
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
            me = repo.member(s, p.id, viewer.user_id)
            cards.append({"program_id": p.id, "welcomer": bool(me and me.welcomer),
                          "channel_id": p.channel_id, "size": p.size, "cadence": p.cadence, "rounds": len(recent),
                          "window": p.window, "stats": [_stats(s, r) for r in recent[:STATS_ROUNDS]]})
    text = viewer.services.copy.render("buddies_home.j2", programs=cards, is_admin=is_admin)
    buttons = [blocks.button(views.label(viewer.services.copy,
                                         "stop_volunteering_button" if c["welcomer"] else "volunteer_button",
                                         index=i + 1 if len(cards) > 1 else None),
                             views.VOLUNTEER_ACTION, value=str(c["program_id"])) for i, c in enumerate(cards[:5])]
    return [blocks.divider(), blocks.section(blocks.truncate(text, 3000)), blocks.actions(*buttons)]


STATS_ROUNDS = 3  # the latest rounds an admin sees statistics of


def _stats(s: Session, r: repo.BuddyRound) -> dict:
    """One round's statistics: meet rate (groups answering "yes" to "Did you meet?", once asked) and repeat
    rate (groups holding a pair that met within the window)."""
    met = sum(g.answer == "yes" for g in repo.group_rows(s, r.id)) if r.followed_up else None
    return {"date": f"{r.created_at:%Y-%m-%d}", "groups": r.groups, "left_out": r.left_out,
            "met": met, "meet_rate": rules.rate(met, r.groups) if met is not None else None,
            "repeat_groups": r.repeat_groups, "repeat_rate": rules.rate(r.repeat_groups, r.groups)}

