"""Named ids of the check-in workflow's views, actions and blocks, namespaced `checkin.*`."""

from enum import StrEnum


class CheckinView(StrEnum):
    SUBMIT = "checkin.submit"  # the check-in modal
    PICK_CIRCLE = "checkin.pick_circle"  # "which circle?" when several rounds are open
    SETTINGS = "checkin.settings"  # the admin settings modal of `/hearth`
    DONE = "checkin.done"  # a closing note shown in place of a modal


class CheckinAction(StrEnum):
    OPEN_MODAL = "checkin.open_modal"  # "Check in" in the channel, the DMs and App Home
    OFFER_HELP = "checkin.offer_help"  # "I can help" under a shared challenge
    ACCEPT_HELP = "checkin.accept_help"
    DECLINE_HELP = "checkin.decline_help"
    SNOOZE = "checkin.snooze"
    OPT_OUT = "checkin.opt_out"
    RESUME = "checkin.resume"  # App Home: un-pause, un-snooze and rejoin every circle


class CheckinBlock(StrEnum):
    GRATITUDE = "checkin.gratitude"
    CHALLENGE = "checkin.challenge"
    OFFER = "checkin.offer"
    SHARING = "checkin.sharing"
    CIRCLE = "checkin.circle"
    # the settings modal
    SETTINGS_CHANNEL = "checkin.settings.channel"
    SETTINGS_ENABLED = "checkin.settings.enabled"
    SETTINGS_CADENCE = "checkin.settings.cadence"
    SETTINGS_DAY = "checkin.settings.day"
    SETTINGS_TIME = "checkin.settings.time"
    SETTINGS_TIMEZONE = "checkin.settings.timezone"
    SETTINGS_WINDOW = "checkin.settings.window"
    SETTINGS_REMIND = "checkin.settings.remind_before"
    SETTINGS_SHARING = "checkin.settings.sharing"
    SETTINGS_ROTATE = "checkin.settings.rotate"


# Which modal block shows the error of each validated field (see rules.validate_*).
FIELD_BLOCKS = {
    "gratitude": CheckinBlock.GRATITUDE,
    "challenge": CheckinBlock.CHALLENGE,
    "offer": CheckinBlock.OFFER,
    "sharing": CheckinBlock.SHARING,
}
SETTINGS_FIELD_BLOCKS = {
    "channel": CheckinBlock.SETTINGS_CHANNEL,
    "cadence": CheckinBlock.SETTINGS_CADENCE,
    "day": CheckinBlock.SETTINGS_DAY,
    "time": CheckinBlock.SETTINGS_TIME,
    "timezone": CheckinBlock.SETTINGS_TIMEZONE,
    "window": CheckinBlock.SETTINGS_WINDOW,
    "remind_before": CheckinBlock.SETTINGS_REMIND,
    "sharing": CheckinBlock.SETTINGS_SHARING,
}
