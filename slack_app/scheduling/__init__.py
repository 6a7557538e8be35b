"""Scheduling: the one calendar (`cadence`, pure), rituals (`rituals`, the one path a due opening takes),
named actions and jobs (`registry`), APScheduler with a persistent job store and its trigger adapter
(`scheduler`, `trigger`), and leadership. Workflows declare jobs in `slack_app.workflows`;
`slack_app.runtime.start_background` runs the rest.
"""
