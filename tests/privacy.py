"""Test helpers that read what a flow left behind the way the adversary of docs/privacy.md would."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from slack_app.log_privacy import redact


def _text(record: logging.LogRecord) -> str:
    parts = [record.getMessage()]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(parts)


def assert_logs_carry_no_user_ids(records: Iterable[logging.LogRecord], ids: Iterable[str]) -> None:
    """No record names any of `ids` (the flow's members), nor anything shaped like a Slack user id.

    Give it `caplog.records` of a test that did *not* install the redacting filter: it checks what the code
    writes, so a line that would only be saved by the filter still fails here.
    """
    records = list(records)
    assert records, "no log records: was caplog's level set low enough to see the flow?"
    wanted = [i for i in ids if i]
    assert wanted, "give the user ids of the flow's members"
    pattern = re.compile(r"(?<![A-Za-z0-9])(" + "|".join(map(re.escape, wanted)) + r")(?![A-Za-z0-9])")
    leaks = []
    for record in records:
        text = _text(record)
        if pattern.search(text) or redact(text) != text:
            leaks.append(f"{record.name} {record.levelname}: {record.msg!r}")
    assert not leaks, "log lines naming members:\n" + "\n".join(leaks)
