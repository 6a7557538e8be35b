"""A logging filter that takes Slack user ids out of every log record before a handler writes it.

Hearth's rule is that log lines carry ids of things and counts, never of people (docs/privacy.md): a line
`user=U…` written the moment someone answers links them to an anonymous answer for whoever reads the logs.
The code follows the rule (tests/privacy.py checks flows); this filter is the safety net for what slips
through, Bolt's and the libraries' own lines included. It is installed on the root handlers by
`cli_support.configure_logging`, so it sees every record that reaches a log, and it is pure (no Slack).

What it redacts:
- anything shaped like a real Slack user id (U or W, then 8 or more capitals and digits, with a digit),
- a mention `<@U…>` or `<@U…|name>` (the name too),
- the value of a key that names a person (`user=UBOB`, `'user': 'UBOB'`, `"user_id": "W0…"`), whatever its
  shape, so short ids (the simulator's `UBOB`) are caught where the context says they are people.
"""

from __future__ import annotations

import logging
import re

REDACTED = "U…"

# Keys whose value is a person; a count is never written under these names (`members=4` is a count: not here).
PERSON_KEYS = ("user", "user_id", "users", "member", "member_id", "facilitator", "reporter", "inviter",
               "assignee", "helper", "recipient", "by")
_ID = r"[UW][A-Z0-9]{2,}"
_KEYS = "|".join(PERSON_KEYS)

_SLACK_SHAPED = re.compile(r"(?<![A-Za-z0-9])[UW](?=[A-Z0-9]*[0-9])[A-Z0-9]{8,}(?![A-Za-z0-9])")
_MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>")
_KEY_EQUALS = re.compile(rf"\b((?:{_KEYS})=)({_ID}(?:,{_ID})*)(?![A-Za-z0-9])")
_KEY_QUOTED = re.compile(rf"""(['"](?:{_KEYS})['"]\s*:\s*['"])({_ID})(?=['"])""")


def redact(text: str) -> str:
    """`text` with every Slack user id it can recognise replaced by `U…`."""
    text = _MENTION.sub("<@" + REDACTED + ">", text)
    text = _KEY_EQUALS.sub(lambda m: m.group(1) + REDACTED, text)
    text = _KEY_QUOTED.sub(lambda m: m.group(1) + REDACTED, text)
    return _SLACK_SHAPED.sub(REDACTED, text)


class RedactUserIds(logging.Filter):
    """Rewrites a record's message (its template and args, merged) and its traceback text, then lets it pass."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: logging reports it itself, with no arguments to leak
            record.args = None
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install(logger: logging.Logger | None = None) -> None:
    """Put the filter on every handler of `logger` (default: the root logger), once each."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactUserIds) for f in handler.filters):
            handler.addFilter(RedactUserIds())
