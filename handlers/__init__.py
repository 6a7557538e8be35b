"""Bolt listeners, one module per workflow, each with `register(app)`; `slack_app.workflows` lists them.

Listeners are thin: ack, parse, call a use case, answer. Bolt injects `services` (slack_app.services.Services),
`slack` (a SlackPort for this request's workspace), `after_ack` (the bounded pool for best-effort work after
the ack, slack_app.request_path) and `team_id` by parameter name, from the context that `build_app`'s
middleware fills. Nothing on a listener thread sleeps on a 429 (see slack_app/request_path.py).
`fallbacks` is registered last by `build_app`, whatever the list holds.
"""
