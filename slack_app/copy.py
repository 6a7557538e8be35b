"""All member-facing words: Jinja2 templates rendered to Slack mrkdwn.

A community rewords Hearth by putting a template of the same name in HEARTH_TEMPLATES_DIR; it wins over
the built-in one in `slack_app/templates/`. Override templates are untrusted code, so they run in Jinja's
immutable sandbox: no attribute tricks into Python internals, no mutating what they are given.

Escaping: every `{{ value }}` is escaped unless it is `Markup` (what `|mention`, `|channel` and `|safe`
return). Jinja's autoescaping does that (and keeps it right through `~`, `|join` and the like); it writes
HTML escapes, so the rendered text is then turned into Slack's escaping: the quote entities Slack would
show literally become quotes again, and bare @channel/@here/@everyone are defused. What remains escaped
is exactly `escape_member_text`: a member's words can never ping, mention or disguise a link. A template
that means to broadcast writes `<!here>`, which is template text and left alone.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, tzinfo
from datetime import date as Date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    FileSystemLoader,
    PackageLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    Undefined,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

from slack_app.blocks import defuse_broadcasts

log = logging.getLogger("hearth.copy")

_USER_ID = re.compile(r"[UW][A-Z0-9]+")
_CHANNEL_ID = re.compile(r"[CG][A-Z0-9]+")
# markupsafe also escapes quotes, which Slack would show as entities. Restoring them is safe: a member's own
# "&" is already "&amp;", so "&#34;"/"&#39;" in the output can only have come from escaping.
_HTML_ONLY = {"&#34;": '"', "&#39;": "'"}
_SLACK_ESCAPES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


_WORDS_KEPT = 2048  # far more than Hearth's templates have parts: a bound, not a size


class MissingTemplate(LookupError):
    """No template of that name, neither in HEARTH_TEMPLATES_DIR nor built in."""


class _Strict(StrictUndefined):
    """Printing a missing value fails; `{% if value %}` is how a template marks a value optional."""

    def __bool__(self) -> bool:
        return False


class Copy:
    def __init__(self, templates_dir: Path | None = None, *, strict: bool = False) -> None:
        """`strict` makes printing an undefined variable an error (for tests); otherwise it renders empty,
        so a community template naming a variable that does not exist degrades instead of failing a member."""
        self.templates_dir = templates_dir
        builtin = PackageLoader("slack_app", "templates")
        self.env = self._environment(ChoiceLoader([FileSystemLoader(templates_dir), builtin]) if templates_dir
                                     else builtin, strict)
        # A broken community template (a typo in a tag, a sandbox violation) must not cost a member their
        # message: the built-in wording stands in for it.
        self._builtin = self._environment(builtin, strict) if templates_dir else self.env
        # A label, a placeholder, a button: the same words for every member, rendered once. A check-in modal
        # is about 15 of them, and each render took ~25 µs of the click's ack (bench/request_costs.py).
        self._words: dict[tuple[str, str], str] = {}

    @staticmethod
    def _environment(loader: BaseLoader, strict: bool) -> ImmutableSandboxedEnvironment:
        env = ImmutableSandboxedEnvironment(
            loader=loader,
            autoescape=True,
            finalize=_blank_none,
            undefined=_Strict if strict else Undefined,
            trim_blocks=True,  # a {% tag %} on its own line leaves no blank line in the message
            lstrip_blocks=True,
            # Compiled once: checking every template file's mtime on each render was a stat() per label on
            # the ack path (bench/load.py). Edited community templates take effect at the next start.
            auto_reload=False,
        )
        env.filters.update(mention=mention, channel=channel, date=format_date, time=format_time)
        return env

    def render(self, name: str, **ctx: Any) -> str:
        """Slack mrkdwn, surrounding whitespace stripped."""
        if len(ctx) == 1 and isinstance(ctx.get("part"), str):  # one fixed word of a labels template
            key = (name, ctx["part"])
            word = self._words.get(key)
            if word is None:
                word = self._render(name, ctx)
                if len(self._words) < _WORDS_KEPT:
                    self._words[key] = word
            return word
        return self._render(name, ctx)

    def _render(self, name: str, ctx: dict[str, Any]) -> str:
        try:
            html = self.env.get_template(name).render(**ctx)
        except TemplateNotFound:
            where = f"{self.templates_dir} or " if self.templates_dir else ""
            raise MissingTemplate(f"no template {name!r} in {where}Hearth's built-in templates") from None
        except TemplateError as exc:
            if self._builtin is self.env or not self._has_builtin(name):
                raise  # our own template is broken: a bug for the tests to catch, not to hide
            log.warning("copy.override_failed template=%s error=%s", name, type(exc).__name__)
            html = self._builtin.get_template(name).render(**ctx)
        for entity, char in _HTML_ONLY.items():
            html = html.replace(entity, char)
        return defuse_broadcasts(html).strip()

    def _has_builtin(self, name: str) -> bool:
        try:
            self._builtin.get_template(name)
        except TemplateNotFound:
            return False
        return True

    def text(self, name: str, **ctx: Any) -> str:
        """Plain text, for plain_text fields (labels, buttons, titles) and the terminal, where Slack
        parses nothing: member values appear exactly as typed."""
        return re.sub("&(?:lt|gt|amp);", lambda m: _SLACK_ESCAPES[m.group()], self.render(name, **ctx))


def _blank_none(value: Any) -> Any:
    return "" if value is None else value


def mention(user_id: Any) -> Markup:
    """`<@U…>`: Slack shows the member's current name. Only an id passes, never free text."""
    if not isinstance(user_id, str) or not _USER_ID.fullmatch(user_id):
        raise ValueError(f"not a Slack user id: {user_id!r}")
    return Markup(f"<@{user_id}>")


def channel(channel_id: Any) -> Markup:
    if not isinstance(channel_id, str) or not _CHANNEL_ID.fullmatch(channel_id):
        raise ValueError(f"not a Slack channel id: {channel_id!r}")
    return Markup(f"<#{channel_id}>")


def format_date(value: Date, tz: str | tzinfo | None = None) -> str:
    """"Mon 3 Mar 2025", on the calendar of `tz` when given (naive datetimes are taken as UTC)."""
    if isinstance(value, datetime):
        value = _local(value, tz)
    return f"{value:%a} {value.day} {value:%b %Y}"


def format_time(value: datetime, tz: str | tzinfo | None = None) -> str:
    """"14:05" (24-hour), on the clock of `tz` when given."""
    return f"{_local(value, tz):%H:%M}"


def _local(value: datetime, tz: str | tzinfo | None) -> datetime:
    if tz is None:
        return value
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(zone)
