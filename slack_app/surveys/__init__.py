"""The survey workflow in Slack: launch, invitations, the modal, closing, reminders and results delivery.

The engine (instruments, disclosure rules, results, chart, CSV) is the pure top-level `surveys` package;
storage is `storage.surveys`. See docs/privacy.md ("Surveys") for what is stored when.
"""
