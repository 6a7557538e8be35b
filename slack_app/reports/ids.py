"""Named ids of the reports workflow: modals (callback ids), buttons (action ids) and form fields."""

from enum import StrEnum


class ReportView(StrEnum):
    INTAKE = "report.intake"            # the report form
    DONE = "report.done"                # the confirmation (case number and receipt)
    NOTE = "report.note"                # a moderator's note
    RESOLVE = "report.resolve"          # a resolution
    QUESTION = "report.question"        # a moderator's question to the reporter
    REPLY = "report.reply"              # the reporter's answer
    DETAILS = "report.details"          # what moderators read (no submit)
    URGENCY = "report.urgency"          # change a case's urgency


class ReportAction(StrEnum):
    VIEW = "report.view"
    CLAIM = "report.claim"
    NOTE = "report.add_note"
    MESSAGE = "report.message_reporter"
    RESOLVE = "report.resolve"
    REOPEN = "report.reopen"
    URGENCY = "report.change_urgency"
    ESCALATE = "report.escalate"
    REPLY = "report.reply"              # the Reply button of a relayed question (in the reporter's DM)


class Field(StrEnum):
    CATEGORY = "category"
    TEXT = "text"
    PEOPLE = "people"
    URGENCY = "urgency"
    OPTIONS = "options"                 # checkboxes: anonymous, follow_up
    NOTE = "note"
