"""Generic cell rate algorithm (GCRA) arithmetic: pure, no I/O.

Each limit is a bucket that keeps one number, its *theoretical arrival time* (TAT). A caller *reserves* a
slot: it gets the instant it may call (never earlier than now, at most `max_wait` ahead), and the TAT moves
on by one interval. Because every grant moves the TAT by at least one interval, grants in any window of W
seconds never exceed `burst + W / interval`, whoever asks and whatever their clocks say (a clock ahead by δ
gains at most δ worth of grants once, never a higher sustained rate). `storage.ratelimit` runs the very same
arithmetic as one conditional UPDATE in the database, so every instance and thread shares one TAT per key;
it lives here, below both, so storage never imports the app.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Rate:
    """`count` calls per `per` seconds; up to `burst` of them back to back."""

    count: float
    per: float = 60.0
    burst: int = 1

    def __post_init__(self) -> None:
        if self.count <= 0 or self.per <= 0 or self.burst < 1:
            raise ValueError("a rate needs count > 0, per > 0 and burst >= 1")

    @property
    def interval(self) -> float:
        return self.per / self.count

    @property
    def tolerance(self) -> float:
        return self.interval * (self.burst - 1)

    @property
    def per_second(self) -> float:
        return self.count / self.per

    def scaled(self, factor: float) -> Rate:
        return replace(self, count=self.count * factor)


@dataclass(frozen=True)
class Grant:
    at: float   # when the caller may make its call (>= now)
    tat: float  # the bucket's new theoretical arrival time


def reserve(tat: float, now: float, rate: Rate, max_wait: float = 0.0) -> Grant | None:
    """Reserve the next slot of a bucket whose TAT is `tat`, or None if it is more than `max_wait` away."""
    start = tat - rate.tolerance
    if start > now + max_wait:
        return None
    return Grant(at=max(now, start), tat=max(tat, now) + rate.interval)


def ready_at(tat: float, rate: Rate, max_wait: float = 0.0) -> float:
    """The earliest instant at which `reserve` would grant (for a caller who was refused)."""
    return tat - rate.tolerance - max_wait


def hold(tat: float, until: float) -> float:
    """A 429 said "not before `until`": nobody gets a slot before then."""
    return max(tat, until)
