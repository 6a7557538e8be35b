"""Buddy rules that need no Slack and no database: program settings, who takes part, prompts, seeds."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_app.buddies.matching import DEFAULT_WINDOW, MAX_SIZE, MIN_SIZE
from slack_app.scheduling.cadence import KINDS, WEEKDAYS

DEFAULT_CADENCE = "biweekly"
CADENCES = ("weekly", "biweekly", "fourweekly")  # the shared cadence's every-N-weeks kinds

PAUSE_AT_MOST = timedelta(days=366)


def pause_end(words: list[str], now: datetime) -> datetime | None:
    """When `/buddies pause until 2026-12-24` (or `pause 2w`, `pause 10d`) ends, as the start of that UTC day;
    None when the words are neither, or the date is past or more than a year ahead."""
    text = " ".join(w for w in words if w != "until")
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=ZoneInfo("UTC"))
    except ValueError:
        unit = {"d": 1, "w": 7}.get(text[-1:]) if text[:-1].isdigit() else None
        if unit is None:
            return None
        day = (now + timedelta(days=int(text[:-1]) * unit)).astimezone(ZoneInfo("UTC"))
        day = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if now < day <= now + PAUSE_AT_MOST else None


class SettingsError(ValueError):
    def __init__(self, field: str, code: str) -> None:
        super().__init__(f"{field}: {code}")
        self.field, self.code = field, code


@dataclass(frozen=True)
class ProgramSettings:
    size: int = 2
    cadence: str = DEFAULT_CADENCE
    weekday: int = 0
    local_time: str = "10:00"
    timezone: str = "UTC"
    opt_in: bool = False
    mix_channel: str | None = None
    mix_field: str | None = None
    window: int = DEFAULT_WINDOW


MAX_WINDOW = 52  # a year of weekly rounds
CUSTOM_FIELD = re.compile(r"Xf[A-Z0-9]{4,}")  # a Slack custom profile field id


def parse_settings(*, size: int = 2, cadence: str = DEFAULT_CADENCE, day: str = "mon", local_time: str = "10:00",
                   timezone: str = "UTC", opt_in: bool = False, mix_channel: str | None = None,
                   mix_field: str | None = None, window: int = DEFAULT_WINDOW) -> ProgramSettings:
    """Typed settings from what an admin typed; SettingsError(field, code) names the first bad one."""
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise SettingsError("size", "size_out_of_range")
    if not 1 <= window <= MAX_WINDOW:
        raise SettingsError("repeat-window", "window_out_of_range")
    if mix_field is not None and mix_field != "title" and not CUSTOM_FIELD.fullmatch(mix_field):
        raise SettingsError("mix-field", "unknown_field")
    if mix_field is not None and mix_channel is not None:
        raise SettingsError("mix-field", "mix_both")
    if cadence not in CADENCES or cadence not in KINDS:
        raise SettingsError("cadence", "unknown_cadence")
    if day.lower()[:3] not in WEEKDAYS:
        raise SettingsError("day", "unknown_day")
    try:
        hour, minute = (int(x) for x in local_time.split(":"))
        if not (0 <= hour < 24 and 0 <= minute < 60):
            raise ValueError
    except ValueError:
        raise SettingsError("time", "bad_time") from None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError("timezone", "unknown_timezone") from None
    if mix_channel is not None and (mix_channel[:1] not in ("C", "G") or not mix_channel[1:].isalnum()):
        raise SettingsError("mix-with", "bad_channel")
    return ProgramSettings(size=size, cadence=cadence, weekday=WEEKDAYS.index(day.lower()[:3]),
                           local_time=f"{hour:02d}:{minute:02d}", timezone=timezone, opt_in=opt_in,
                           mix_channel=mix_channel, mix_field=mix_field, window=window)


DAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


CHANNEL_MENTION = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>")  # how Slack sends a #channel in a command


def read_words(words: list[str], current: ProgramSettings | None, default_tz: str) -> ProgramSettings:
    """`/hearth buddies [2..8] [weekly|biweekly|fourweekly] [mon] [10:00] [Europe/Berlin] [opt-in] [#team |
    mix=title | mix=Xf… | mix=off] [window=12]`: settings from the words an admin typed, in any order, on top
    of the program's current ones; SettingsError names the first problem (the word itself, for a word that is
    none of these)."""
    base = current or ProgramSettings(timezone=default_tz)
    given: dict = dict(size=base.size, cadence=base.cadence, day=WEEKDAYS[base.weekday], local_time=base.local_time,
                       timezone=base.timezone, opt_in=base.opt_in, mix_channel=base.mix_channel,
                       mix_field=base.mix_field, window=base.window)
    for word in words:
        low = word.lower()
        mention = CHANNEL_MENTION.fullmatch(word)
        if mention:  # mix with a second channel's members (instead of a profile field)
            given["mix_channel"], given["mix_field"] = mention.group(1), None
        elif low.startswith("mix="):
            value = word[4:]
            given["mix_channel"] = None
            given["mix_field"] = None if value.lower() == "off" else "title" if value.lower() == "title" else value
        elif low.startswith("window="):
            if not low[7:].isdigit():
                raise SettingsError("repeat-window", "window_out_of_range")
            given["window"] = int(low[7:])
        elif low.isdigit():
            given["size"] = int(low)
        elif low in CADENCES:
            given["cadence"] = low
        elif low in WEEKDAYS or low in DAY_NAMES:
            given["day"] = low[:3]
        elif ":" in low:
            given["local_time"] = low
        elif low in ("opt-in", "optin"):
            given["opt_in"] = True
        elif "/" in word or word.upper() == "UTC":
            given["timezone"] = word
        else:
            raise SettingsError(word, "unknown_word")
    return parse_settings(**given)


@dataclass(frozen=True)
class MemberState:
    paused: bool = False
    opted_out: bool = False
    skip_next: bool = False
    joined: bool = False


def participants(humans: list[str], states: Mapping[str, MemberState], *, opt_in: bool) -> list[str]:
    """Who is matched this round: the channel's humans, less those paused, gone, skipping, or (in an opt-in
    program) not joined."""
    out = []
    for user_id in humans:
        st = states.get(user_id, MemberState())
        if st.paused or st.opted_out or st.skip_next or (opt_in and not st.joined):
            continue
        out.append(user_id)
    return out


def rate(count: int, total: int) -> str:
    """A share as a whole percentage ("—" for none of nothing)."""
    return f"{round(100 * count / total)}%" if total else "—"


def round_seed(program_id: int, when: datetime, salt: int = 0) -> int:
    """A seed for a round, stored with it so the round can be reproduced."""
    digest = hashlib.sha256(f"{program_id}:{when.isoformat()}:{salt}".encode()).digest()
    return int.from_bytes(digest[:7], "big")


def prompt_for(seed: int, group_index: int, bank: Sequence[str]) -> str:
    """A group's conversation starter from the prompt bank (`buddies_prompts.j2`), chosen from the seed."""
    return bank[(seed + group_index) % len(bank)] if bank else ""


def offset_minutes(tz: str, at: datetime) -> int:
    """A member's UTC offset in minutes at `at` (their zone's, 0 when unknown)."""
    try:
        off = at.astimezone(ZoneInfo(tz)).utcoffset()
    except (ZoneInfoNotFoundError, ValueError):
        return 0
    return int(off.total_seconds() // 60) if off is not None else 0


def heads_up_at(occurrence: datetime, tz: str) -> datetime:
    """One business day before a round, on the program's clock: Friday for a Monday round (a Sunday or
    Saturday round too)."""
    local = occurrence.astimezone(ZoneInfo(tz))
    before = local - timedelta(days=1)
    while before.weekday() >= 5:  # Saturday, Sunday
        before -= timedelta(days=1)
    return before.astimezone(occurrence.tzinfo)
