"""Durable delivery: the outbox worker that paces, retries and reconciles what Hearth sends to Slack.

Workflows never call this package: they write outbox rows with `storage.outbox.enqueue` inside their own
transaction; the `DeliveryWorker` (started by `slack_app.runtime.start_background` or `hearth worker`)
sends them.
"""
