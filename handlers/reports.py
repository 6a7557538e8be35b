"""`/report` and the *Report a concern* / *Report this message* shortcuts: the interim modal (issue 9 builds
the intake). Ack first, then open the modal while the trigger_id is fresh; if Slack refuses it, the member
still gets the same words privately where Slack gives a way to answer."""

from slack_bolt import Ack, App, Respond

from slack_app.ids import Command, Shortcut
from slack_app.reports import usecases
from slack_app.services import Services
from slack_app.slack_port import SlackPort


def register(app: App) -> None:
    @app.command(Command.REPORT.value)
    def on_report(ack: Ack, command: dict, respond: Respond, services: Services, slack: SlackPort) -> None:
        ack()
        if not usecases.open_setting_up(services, slack, command["trigger_id"], about_message=False):
            respond(response_type="ephemeral", text=usecases.setting_up_note(services, about_message=False))

    @app.global_shortcut(Shortcut.REPORT_GLOBAL.value)
    def on_report_shortcut(ack: Ack, shortcut: dict, services: Services, slack: SlackPort) -> None:
        ack()  # a global shortcut has no response_url: the modal is the only answer Slack allows
        usecases.open_setting_up(services, slack, shortcut["trigger_id"], about_message=False)

    @app.message_shortcut(Shortcut.REPORT_MESSAGE.value)
    def on_report_message(ack: Ack, shortcut: dict, respond: Respond, services: Services, slack: SlackPort) -> None:
        ack()  # the message itself is never read: nothing of it is kept
        if not usecases.open_setting_up(services, slack, shortcut["trigger_id"], about_message=True):
            respond(response_type="ephemeral", replace_original=False,
                    text=usecases.setting_up_note(services, about_message=True))
