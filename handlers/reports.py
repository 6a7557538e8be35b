"""`/report`, the *Report* shortcuts, the report form, and the buttons and forms of triage and follow-up.

Thin: ack first (modals open while the trigger_id is fresh), then a use case. Every click on a case card is
checked against the moderator channel's current members (asked of Slack each time); anyone else gets an
ephemeral refusal, and the attempt is audited.
"""

from __future__ import annotations

from collections.abc import Callable

from slack_bolt import Ack, App, Respond

from slack_app import blocks
from slack_app.ids import Command, Shortcut
from slack_app.reports import usecases, views
from slack_app.reports.ids import ReportAction, ReportView
from slack_app.request_path import AfterAck
from slack_app.services import Services
from slack_app.slack_port import SlackError, SlackPort


def _refused(services: Services) -> str:
    return services.copy.render("report_refused.j2")


def _could_not_open(services: Services) -> str:
    return services.copy.render("report_could_not_open.j2")


def _triage(services: Services, outcome: str) -> str:
    return services.copy.render("report_triage.j2", outcome=outcome)


def _ephemeral(respond: Respond, text: str) -> None:
    try:
        respond(response_type="ephemeral", replace_original=False, text=text)
    except Exception:  # noqa: BLE001 - an expired response_url: nothing else can reach the member here
        pass


def _open(services: Services, slack: SlackPort, respond: Respond, trigger_id: str, view: dict) -> None:
    try:
        slack.open_view(trigger_id, view)
    except SlackError:
        _ephemeral(respond, _triage(services, "window_failed"))


def register(app: App) -> None:
    @app.command(Command.REPORT.value)
    def on_report(ack: Ack, command: dict, respond: Respond, services: Services, slack: SlackPort) -> None:
        ack()
        if not usecases.open_intake(services, slack, command["trigger_id"], None):
            respond(response_type="ephemeral", text=_could_not_open(services))

    @app.global_shortcut(Shortcut.REPORT_GLOBAL.value)
    def on_report_shortcut(ack: Ack, shortcut: dict, services: Services, slack: SlackPort) -> None:
        ack()  # a global shortcut has no response_url: the modal is the only answer Slack allows
        usecases.open_intake(services, slack, shortcut["trigger_id"], None)

    @app.message_shortcut(Shortcut.REPORT_MESSAGE.value)
    def on_report_message(ack: Ack, shortcut: dict, respond: Respond, services: Services, slack: SlackPort) -> None:
        ack()
        domain = (shortcut.get("team") or {}).get("domain")
        snapshot = usecases.snapshot_of(shortcut, f"https://{domain}.slack.com" if domain else None)
        if not usecases.open_intake(services, slack, shortcut["trigger_id"], snapshot):
            _ephemeral(respond, _could_not_open(services))

    @app.view(ReportView.INTAKE.value)
    def on_intake(ack: Ack, body: dict, view: dict, services: Services, slack: SlackPort, team_id: str,
                  after_ack: AfterAck) -> None:
        result = usecases.submit(services, team_id, body["user"]["id"], view["id"], views.read_intake(view))
        if result.errors:
            ack(response_action="errors", errors=views.errors_for(services.copy, result.errors))
            return
        ack(response_action="update", view=result.view)
        if result.created and result.case_id is not None:
            after_ack.low_priority("reports.route", usecases.route, services, slack, team_id, result.case_id)

    @app.view(ReportView.DONE.value)
    @app.view(ReportView.DETAILS.value)
    def on_nothing(ack: Ack) -> None:
        ack()

    # ---- the case card -------------------------------------------------------------------------------

    def _allowed(services: Services, slack: SlackPort, team_id: str, body: dict, action: dict,
                 respond: Respond, what: str) -> int | None:
        case_id = blocks.as_int(action.get("value"))
        if not usecases.may_act(services, slack, team_id, case_id, body["user"]["id"], what):
            _ephemeral(respond, _refused(services))
            return None
        return case_id

    @app.action(ReportAction.VIEW.value)
    def on_view(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                team_id: str) -> None:
        ack()
        case_id = _allowed(services, slack, team_id, body, action, respond, "view details")
        if case_id is not None:
            view = usecases.details_view(services, team_id, body["user"]["id"], case_id)
            if view is not None:
                _open(services, slack, respond, body["trigger_id"], view)

    @app.action(ReportAction.CLAIM.value)
    def on_claim(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                 team_id: str) -> None:
        ack()
        case_id = _allowed(services, slack, team_id, body, action, respond, "claim")
        if case_id is not None:
            _ephemeral(respond, usecases.claim(services, team_id, body["user"]["id"], case_id))

    @app.action(ReportAction.REOPEN.value)
    def on_reopen(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                  team_id: str) -> None:
        ack()
        case_id = _allowed(services, slack, team_id, body, action, respond, "reopen")
        if case_id is not None:
            _ephemeral(respond, usecases.reopen(services, team_id, body["user"]["id"], case_id))

    @app.action(ReportAction.ESCALATE.value)
    def on_escalate(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                    team_id: str) -> None:
        ack()
        case_id = _allowed(services, slack, team_id, body, action, respond, "escalate")
        if case_id is not None:
            _ephemeral(respond, usecases.escalate(services, team_id, body["user"]["id"], case_id))

    @app.action(ReportAction.URGENCY.value)
    def on_urgency(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                   team_id: str) -> None:
        ack()
        case_id = _allowed(services, slack, team_id, body, action, respond, "change urgency")
        view = usecases.urgency_modal(services, case_id) if case_id is not None else None
        if view is not None:
            _open(services, slack, respond, body["trigger_id"], view)

    @app.view(ReportView.URGENCY.value)
    def on_urgency_submit(ack: Ack, body: dict, view: dict, services: Services, slack: SlackPort,
                          team_id: str) -> None:
        meta = views.CaseMeta.read(view)
        user_id = body["user"]["id"]
        case_id = meta.case_id if meta else None
        if case_id is None or not usecases.may_act(services, slack, team_id, case_id, user_id, "change urgency",
                                                   fresh=False):
            ack(response_action="errors", errors={"urgency": _refused(services)})
            return
        if usecases.change_urgency(services, team_id, user_id, case_id, views.read_urgency(view)):
            ack(response_action="errors", errors={"urgency": views.error_text(services.copy, "urgency", "pick")})
            return
        ack()

    def _form(kind: ReportView, what: str) -> Callable[..., None]:
        def open_form(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                      team_id: str) -> None:
            ack()
            case_id = _allowed(services, slack, team_id, body, action, respond, what)
            if case_id is None:
                return
            if kind == ReportView.QUESTION and not usecases.can_follow_up(services, case_id):
                _ephemeral(respond, _triage(services, "no_follow_up"))
                return
            number = usecases.case_number(services, case_id)
            if number is not None:
                _open(services, slack, respond, body["trigger_id"], views.note_modal(services.copy, case_id, number, kind))
        return open_form

    app.action(ReportAction.NOTE.value)(_form(ReportView.NOTE, "add note"))
    app.action(ReportAction.RESOLVE.value)(_form(ReportView.RESOLVE, "resolve"))
    app.action(ReportAction.MESSAGE.value)(_form(ReportView.QUESTION, "message reporter"))

    def _submitted(kind: ReportView, what: str, run: Callable[..., str | None]) -> Callable[..., None]:
        def on_submit(ack: Ack, body: dict, view: dict, services: Services, slack: SlackPort,
                      team_id: str) -> None:
            meta = views.CaseMeta.read(view)
            user_id = body["user"]["id"]
            case_id = meta.case_id if meta else None
            if kind != ReportView.REPLY and not usecases.may_act(services, slack, team_id, case_id, user_id, what,
                                                                 fresh=False):
                ack(response_action="errors", errors={"note": _refused(services)})
                return
            problem = (run(services, team_id, user_id, case_id, views.read_note(view), view_id=view.get("id"))
                       if case_id else "gone")
            if problem in ("empty", "too_long", "no_follow_up"):
                ack(response_action="errors", errors=views.errors_for(services.copy, {"note": problem}))
            elif problem:
                ack(response_action="errors", errors=views.errors_for(services.copy, {"note": "gone"}))
            else:
                ack()
        return on_submit

    app.view(ReportView.NOTE.value)(_submitted(ReportView.NOTE, "add note", usecases.add_note))
    app.view(ReportView.RESOLVE.value)(_submitted(ReportView.RESOLVE, "resolve", usecases.resolve))
    app.view(ReportView.QUESTION.value)(_submitted(ReportView.QUESTION, "message reporter", usecases.ask))
    app.view(ReportView.REPLY.value)(_submitted(ReportView.REPLY, "reply", usecases.reply))

    # ---- the reporter's side -------------------------------------------------------------------------

    @app.action(ReportAction.REPLY.value)
    def on_reply(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                 team_id: str) -> None:
        ack()
        case_id = blocks.as_int(action.get("value"))
        view = usecases.reply_modal(services, case_id) if case_id is not None else None
        if view is None or not usecases.is_reporter(services, team_id, body["user"]["id"], case_id):
            _ephemeral(respond, _triage(services, "cannot_answer"))
            return
        _open(services, slack, respond, body["trigger_id"], view)
