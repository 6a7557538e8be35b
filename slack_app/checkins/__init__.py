"""Gratitude-and-challenge check-ins: a steady ritual in a channel with rotating facilitators.

`rules` holds the pure rules, `usecases` the workflow (database + Slack port), `views` the Block Kit,
`jobs` the scheduled actions and `scenario` the `hearth simulate` round.
"""
