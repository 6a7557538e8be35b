"""How fast Hearth may call Slack: pure arithmetic, no I/O.

Each limit is a generic cell rate algorithm (GCRA) bucket that keeps one number, its *theoretical
arrival time* (TAT). A caller *reserves* a slot: it gets the instant it may call (never earlier than
now, at most `max_wait` ahead), and the TAT moves on by one interval. Because every grant moves the
TAT by at least one interval, grants in any window of W seconds never exceed `burst + W / interval`,
whoever asks and whatever their clocks say (a clock ahead by δ gains at most δ worth of grants once,
never a higher sustained rate). `storage.ratelimit` runs the very same arithmetic as one conditional
UPDATE in the database, so every instance and thread shares one TAT per key.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


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


# Slack's published limits (docs.slack.dev/apis/web-api/rate-limits): chat.postMessage is "special":
# about one message per second per conversation, plus a workspace-wide ceiling of several hundred per
# minute; Tier 3 methods (conversations.open/history/replies, chat.update) allow 50+ per minute.
TIER_3 = Rate(50, 60.0, burst=2)


@dataclass(frozen=True)
class SlackLimits:
    """The limits the delivery worker paces itself to, per workspace (and per conversation for posts)."""

    post_per_channel: Rate = Rate(1, 1.0)
    post_workspace: Rate = Rate(600, 60.0)
    tiers: dict[str, Rate] = field(default_factory=lambda: {
        "conversations.open": TIER_3,
        "conversations.history": TIER_3,
        "conversations.replies": TIER_3,
        "chat.update": TIER_3,
    })

    def for_method(self, method: str) -> Rate:
        if method == "chat.postMessage":
            return self.post_workspace
        return self.tiers.get(method, TIER_3)

    def scaled(self, factor: float) -> SlackLimits:
        """All limits multiplied by `factor` (the simulator's rate scale, for short benchmarks)."""
        return SlackLimits(
            post_per_channel=self.post_per_channel.scaled(factor),
            post_workspace=self.post_workspace.scaled(factor),
            tiers={m: r.scaled(factor) for m, r in self.tiers.items()},
        )
