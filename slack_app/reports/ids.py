"""Named ids of the reports workflow."""

from enum import StrEnum


class ReportView(StrEnum):
    SETTING_UP = "report.setting_up"  # the interim modal: no inputs, no submit, nothing to receive
