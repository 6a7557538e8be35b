"""Bolt listeners, one module per workflow, each with `register(app)`.

Listeners are thin: ack, parse, call a use case, answer. They reach use cases through
`context["services"]` and Slack through `context["slack"]` (both set by `build_app`).
"""

from slack_bolt import App

from handlers import checkins, fallbacks, hearth_command, home, membership


def register_all(app: App) -> None:
    for module in (home, hearth_command, membership, checkins):
        module.register(app)
    fallbacks.register(app)  # last: Bolt takes the first listener that matches
