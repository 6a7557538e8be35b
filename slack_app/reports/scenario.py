"""The reports chapter of `hearth simulate`: an anonymous report of a message, its card in the private
moderator channel, triage, a question relayed to the reporter and their anonymous answer, the resolution.

Every step goes through the real app (signed requests from the driver), and the outbox is drained by a real
delivery worker, so what is printed is what Slack saw.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from slack_app.reports.ids import ReportAction, ReportView
from slack_app.simulator.driver import SlackDriver, wait_for
from slack_app.simulator.server import SlackSimulator
from slack_app.simulator.story import Story
from storage import reports as store

if TYPE_CHECKING:
    from slack_app.app import Hearth


def scenario_reports(driver: SlackDriver, simulator: SlackSimulator, hearth: Hearth) -> list[str]:
    services = hearth.services
    team_id = simulator.workspace.team_id
    story = Story(simulator, hearth)
    step = story.step

    def top(user: str, callback_id: str) -> None:
        wait_for(lambda: (simulator.latest_view(user) or {}).get("callback_id") == callback_id)

    def status() -> str:
        with services.db.session() as s:
            found = store.cases(s, team_id)
            return found[-1].status if found else "none"

    def routed() -> bool:
        with services.db.session() as s:
            found = store.cases(s, team_id)
            return bool(found and found[-1].channel_id)

    bob, alice = driver.as_member("UBOB"), driver.as_member("UALICE")
    driver.message_shortcut("UBOB", "report.message", "CGENERAL", "1700000000.000100",
                            message_text="(a hurtful message)", message_user="UEMI")
    top("UBOB", ReportView.INTAKE)
    step("Bob picks *Report this message* on a message in #general: the form says who will see what")
    bob.submit({"category": "harassment", "text": "(what happened)", "urgency": "high",
                "options": ["anonymous", "follow_up"]})
    wait_for(routed)
    step("Bob reports anonymously: the modal confirms case #1 with a receipt; the card in the private "
         "moderator channel shows a pseudonym and no content")

    alice.click(ReportAction.CLAIM)
    wait_for(lambda: status() == "acknowledged")
    step("Alice (a moderator) acknowledges it: the card is updated in place, Bob hears by DM")

    alice.click(ReportAction.MESSAGE)
    top("UALICE", ReportView.QUESTION)
    alice.submit({"note": "(a question)"})
    step("Alice asks the reporter a question: Hearth relays it by DM with a Reply button")

    bob.click(ReportAction.REPLY)
    top("UBOB", ReportView.REPLY)
    bob.submit({"note": "(an answer)"})
    step("Bob answers: it reaches the case under the pseudonym, and the card says a reply arrived")

    before = len(simulator.response_url_posts())
    driver.block_action("UDEV", ReportAction.VIEW, message=_card(simulator), channel="GMODS")
    wait_for(lambda: len(simulator.response_url_posts()) > before)
    step("Dev, who is not a moderator, tries *View details*: refused privately, and the attempt is audited")

    alice.click(ReportAction.RESOLVE)
    top("UALICE", ReportView.RESOLVE)
    alice.submit({"note": "(what was done)"})
    wait_for(lambda: status() == "resolved")
    step("Alice resolves the case: the card says so, Bob hears by DM; nothing Bob wrote is in any channel")
    return story.lines


def _card(simulator: SlackSimulator) -> dict:
    return next(m for m in reversed(simulator.messages("GMODS")) if "case #" in (m.get("text") or ""))
