"""Errors a person can fix by changing a setting; the CLI prints them as one line, never a traceback."""


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line meant for a person."""
