"""Pure rules of the reports workflow: categories, urgencies, statuses, validation, receipts, pseudonyms.

No Slack, no database: everything here is decided from plain values.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

# the keys of what a report is about and how urgent it is, in the order the form offers them; their words are
# in `report_labels.j2` (parts "category" and "urgency")
CATEGORIES: tuple[str, ...] = ("harassment", "discrimination", "safety", "privacy", "spam", "other")
URGENCIES: tuple[str, ...] = ("urgent", "high", "normal")
# how long a case may wait for acknowledgement before moderators are pinged again (issue 9, §7)
SLA: dict[str, timedelta] = {"urgent": timedelta(hours=1), "high": timedelta(hours=4),
                             "normal": timedelta(hours=24)}

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"
STATUSES = (OPEN, ACKNOWLEDGED, RESOLVED)

TEXT_MAX = 3000       # what happened (a plain_text_input's own cap)
NOTE_MAX = 2000       # notes, questions, replies, resolutions
PEOPLE_MAX = 10
SNAPSHOT_MAX = 4000   # a reported message's text, as kept


@dataclass(frozen=True)
class Snapshot:
    """The message a *Report this message* pointed at, as Slack gave it with the shortcut."""

    channel_id: str
    ts: str
    author_id: str | None
    text: str
    permalink: str


@dataclass(frozen=True)
class Submission:
    category: str
    text: str
    urgency: str
    anonymous: bool
    follow_up: bool
    people: tuple[str, ...] = ()
    snapshot: Snapshot | None = None


@dataclass(frozen=True)
class Checked:
    submission: Submission | None
    errors: dict[str, str] = field(default_factory=dict)  # field → error code


def check_submission(*, category: str | None, text: str | None, urgency: str | None, anonymous: bool,
                     follow_up: bool, people: Sequence[str] = (), snapshot: Snapshot | None = None) -> Checked:
    errors: dict[str, str] = {}
    body = (text or "").strip()
    if not body:
        errors["text"] = "empty"
    elif len(body) > TEXT_MAX:
        errors["text"] = "too_long"
    if category not in CATEGORIES:
        errors["category"] = "unknown"
    if urgency not in URGENCIES:
        errors["urgency"] = "unknown"
    chosen = tuple(dict.fromkeys(p for p in people if p))
    if len(chosen) > PEOPLE_MAX:
        errors["people"] = "too_many"
    if errors:
        return Checked(None, errors)
    assert category is not None and urgency is not None
    return Checked(Submission(category=category, text=body, urgency=urgency, anonymous=anonymous,
                              follow_up=follow_up, people=chosen, snapshot=snapshot))


def check_note(text: str | None) -> str | None:
    """The error code of a note, question, reply or resolution; None when it is fine."""
    body = (text or "").strip()
    if not body:
        return "empty"
    if len(body) > NOTE_MAX:
        return "too_long"
    return None


def permalink(domain_url: str | None, channel_id: str, ts: str) -> str:
    """A link to a message without asking Slack (chat.getPermalink): Slack's archives URL."""
    base = (domain_url or "https://slack.com/").rstrip("/")
    return f"{base}/archives/{channel_id}/p{ts.replace('.', '')}"


def canonical(number: int, sub: Submission, nonce: str) -> str:
    """What a receipt is a hash of: the case number, every field submitted and a random nonce (kept sealed
    with the case), so the receipt proves the content without letting anyone guess short texts from it."""
    snap = None
    if sub.snapshot is not None:
        s = sub.snapshot
        snap = {"channel": s.channel_id, "ts": s.ts, "author": s.author_id, "text": s.text}
    doc = {"case": number, "category": sub.category, "text": sub.text, "urgency": sub.urgency,
           "anonymous": sub.anonymous, "follow_up": sub.follow_up, "people": list(sub.people),
           "snapshot": snap, "nonce": nonce}
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def receipt(number: int, sub: Submission, nonce: str) -> str:
    digest = hashlib.sha256(canonical(number, sub, nonce).encode()).hexdigest()[:20].upper()
    return "-".join(digest[i:i + 4] for i in range(0, 20, 4))


def new_nonce() -> str:
    return secrets.token_hex(16)


_ANIMALS = ("Heron", "Otter", "Lynx", "Kestrel", "Badger", "Wren", "Marten", "Ibis", "Hare", "Plover",
            "Stoat", "Finch", "Vole", "Crane", "Robin", "Seal")


def pseudonym() -> str:
    """How an anonymous reporter is named to moderators: random, so it says nothing about who they are."""
    return f"Reporter {secrets.choice(_ANIMALS)}-{secrets.randbelow(90) + 10}"


# ---- triage -----------------------------------------------------------------------------------------

ACTIONS = ("claim", "note", "message", "resolve", "reopen", "urgency", "view")


def allowed(action: str, status: str) -> bool:
    """Which triage action a case in `status` accepts."""
    if action == "claim":
        return status != RESOLVED
    if action == "resolve":
        return status != RESOLVED
    if action == "reopen":
        return status == RESOLVED
    return action in ACTIONS


def overdue(urgency: str, created_at: datetime, now: datetime, status: str) -> bool:
    """A case still waiting for acknowledgement longer than its urgency allows."""
    return status == OPEN and now - created_at >= SLA.get(urgency, SLA["normal"])


AGE_BUCKETS: tuple[tuple[str, timedelta], ...] = (("under a day", timedelta(days=1)),
                                                   ("1–3 days", timedelta(days=3)),
                                                   ("3–7 days", timedelta(days=7)))
OLDEST_BUCKET = "over a week"


def by_age(cases: Sequence[tuple[int, datetime]], now: datetime) -> list[tuple[str, list[int]]]:
    """Open case numbers grouped by age, youngest group first; empty groups left out."""
    groups: dict[str, list[int]] = {}
    for number, created in sorted(cases):
        age = now - created
        label = next((name for name, limit in AGE_BUCKETS if age < limit), OLDEST_BUCKET)
        groups.setdefault(label, []).append(number)
    order = [name for name, _ in AGE_BUCKETS] + [OLDEST_BUCKET]
    return [(name, groups[name]) for name in order if name in groups]
