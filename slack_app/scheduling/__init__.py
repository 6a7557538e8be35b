"""Scheduling: cadences (pure), the action registry, APScheduler with a persistent job store, leadership.

Workflows use `slack_app.scheduling.registry` (register_action, register_job_source, JobSpec) and
`slack_app.scheduling.cadence.Cadence`; `slack_app.runtime.start_background` runs the rest.
"""
