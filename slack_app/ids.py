"""Named ids for Slack commands, shortcuts, views and actions, namespaced by workflow."""

from enum import StrEnum


class Command(StrEnum):
    CHECKIN = "/checkin"
    REPORT = "/report"
    BUDDIES = "/buddies"
    HEARTH = "/hearth"


class Shortcut(StrEnum):
    REPORT_GLOBAL = "report.global"
    REPORT_MESSAGE = "report.message"
