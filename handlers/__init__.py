"""Bolt listeners, one module per workflow, each with `register(app)`; `slack_app.workflows` lists them.

Listeners are thin: ack, parse, call a use case, answer. Bolt injects `services` (slack_app.services.Services),
`slack` (a SlackPort for this request's workspace) and `team_id` by parameter name, from the context that
`build_app`'s middleware fills. `fallbacks` is registered last by `build_app`, whatever the list holds.
"""
