"""Survey listeners: the "Answer the survey" button and the survey modal.

Submission answers in the ack only (the confirmation view or inline errors): nothing else happens when a
member answers — no DM, no outbox row, no log line, no App Home refresh (docs/privacy.md, "Surveys").
"""

from __future__ import annotations

from slack_bolt import Ack, App, Respond

from slack_app import blocks, request_path
from slack_app.services import Services
from slack_app.slack_port import SlackPort
from slack_app.surveys import usecases, views
from slack_app.surveys.ids import SurveyAction, SurveyView


def register(app: App) -> None:
    @app.action(SurveyAction.OPEN_MODAL.value)
    def on_open(ack: Ack, body: dict, action: dict, respond: Respond, services: Services, slack: SlackPort,
                team_id: str) -> None:
        ack()
        user_id = body["user"]["id"]
        value = action.get("value")
        plan = usecases.open_survey(services, team_id, user_id, value if isinstance(value, str) else None)
        if plan.view is not None:
            request_path.open_or_explain(slack, services.copy, respond, user_id, body["trigger_id"], plan.view)
        elif plan.note:
            respond(response_type="ephemeral", replace_original=False, text=plan.note)

    @app.view(SurveyView.SUBMIT.value)
    def on_submit(ack: Ack, body: dict, view: dict, services: Services, team_id: str) -> None:
        meta = views.SurveyMeta.read(view)
        result = usecases.submit(services, team_id, body["user"]["id"], meta.run if meta else None,
                                 views.read_answers(blocks.view_answers(view)))
        ack(**result.ack)

    @app.view(SurveyView.DONE.value)
    def on_done(ack: Ack) -> None:
        ack()
