"""Breakdown labels: which groups an answer set may be counted in, and how they are coarsened at close.

A run launched with breakdowns (`channel`: the channels Hearth knows the member is in, for a workspace survey;
`field:tz`: the member's Slack time zone) seals each submission with its labels. At close, the labels an answer
set keeps are decided over the whole run, so that no label combination stored next to answers in a database
dump belongs to fewer than the minimum number of respondents:

- a combination (a *stratum*: all of an answer set's labels together) held by at least k respondents keeps
  its labels;
- a smaller one loses one dimension at a time (profile fields first, then channels), merging with the
  strata it then equals, until it reaches k or has no labels left;
- what is left without labels is "other"; while "other" holds some but fewer than k respondents, the smallest
  kept stratum joins it. So every stored stratum holds 0 or at least k answer sets.

The combination, not each label alone, is what must reach k: two labels that each reach k can meet in one
person. Pure: no Slack, no database.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping

from surveys.disclosure import Label, labels

CHANNEL = "channel"
FIELD = "field:"
FIELDS = {"tz": "time zone"}  # profile fields Hearth keeps for every member (storage.models.Member)
OTHER = ""  # the encoded labels of "other": no labels


class BreakdownError(ValueError):
    """A breakdown nobody can use: the message says why, in one line."""


def parse_breakdowns(words: Iterable[str], *, workspace: bool) -> tuple[str, ...]:
    """Breakdown dimensions from what an admin typed (`channel`, `field:tz`), checked, in canonical order."""
    out: set[str] = set()
    for word in words:
        word = word.strip()
        if not word:
            continue
        if word == CHANNEL:
            if not workspace:
                raise BreakdownError("a breakdown by channel needs a workspace survey (--workspace)")
        elif not (word.startswith(FIELD) and word[len(FIELD):] in FIELDS):
            raise BreakdownError(f"{word!r} is not a breakdown; use channel or "
                                 + " or ".join(f"{FIELD}{f}" for f in FIELDS))
        out.add(word)
    return tuple(sorted(out))


def encode(pairs: Iterable[Label]) -> str:
    """One stratum's labels as stored (canonical JSON; '' for none, i.e. "other")."""
    canonical = labels(*pairs)
    return json.dumps([list(p) for p in canonical], separators=(",", ":")) if canonical else OTHER


def decode(text: str) -> tuple[Label, ...]:
    return labels(*((str(d), str(v)) for d, v in json.loads(text))) if text else ()


def coarsen(sizes: Mapping[tuple[Label, ...], int], k: int) -> dict[tuple[Label, ...], tuple[Label, ...]]:
    """Each stratum → the labels its answer sets are stored with (see the module's rule)."""
    stored = dict(zip(sizes, sizes, strict=True))

    def totals() -> Counter[tuple[Label, ...]]:
        out: Counter[tuple[Label, ...]] = Counter()
        for s, n in sizes.items():
            out[stored[s]] += max(n, 0)
        return out

    dimensions = sorted({d for s in sizes for d, _ in s}, key=lambda d: (d == CHANNEL, d))  # fields go first
    for dimension in dimensions:  # a combination too small loses one dimension at a time, merging with others
        small = {t for t, n in totals().items() if 0 < n < k}
        for s in sizes:
            if stored[s] in small:
                stored[s] = tuple(p for p in stored[s] if p[0] != dimension)
    kept = {t: n for t, n in totals().items() if t and n >= k}
    other = sum(n for t, n in totals().items() if t not in kept)
    while kept and 0 < other < k:
        smallest = min(kept, key=lambda t: (kept[t], t))
        other += kept.pop(smallest)
    return {s: (stored[s] if stored[s] in kept else ()) for s in sizes}
