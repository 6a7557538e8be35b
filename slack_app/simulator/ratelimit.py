"""Slack's Web API rate limits as token buckets: pure, with an injectable clock.

Slack allows each app a number of calls per minute per workspace and method ("tiers"), tolerating
occasional bursts; chat.postMessage is instead limited to about one message per second per channel
under a workspace-wide ceiling. A bucket's capacity is the burst it tolerates; it refills at the rate.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    per_minute: float
    burst: int


TIER_1 = Limit(1, 1)
TIER_2 = Limit(20, 5)
TIER_3 = Limit(50, 10)
TIER_4 = Limit(100, 20)
AUTH_TEST = Limit(600, 100)  # "special": Slack lets apps call auth.test far more often than tier 4
POST_PER_CHANNEL = Limit(60, 3)

METHOD_LIMITS: dict[str, Limit] = {
    "auth.test": AUTH_TEST,
    "users.info": TIER_4,
    "users.list": TIER_2,
    "conversations.members": TIER_4,
    "conversations.info": TIER_3,
    "conversations.history": TIER_3,
    "conversations.replies": TIER_3,
    "conversations.open": TIER_3,
    "conversations.join": TIER_3,
    "chat.update": TIER_3,
    "chat.postEphemeral": TIER_4,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
    "files.getUploadURLExternal": TIER_4,
    "files.completeUploadExternal": TIER_4,
    "oauth.v2.access": TIER_4,
}
DEFAULT_LIMIT = TIER_3


class TokenBucket:
    def __init__(self, limit: Limit, scale: float, now: float) -> None:
        self.capacity = max(1.0, round(limit.burst * scale))
        self.per_second = limit.per_minute * scale / 60
        self.tokens = self.capacity
        self.updated = now

    def wait(self, now: float) -> float:
        """Seconds until one call is allowed (0 when one is allowed now)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now
        # The tolerance keeps float rounding from refusing a call made exactly on time.
        return 0.0 if self.tokens >= 1 - 1e-9 else (1 - self.tokens) / self.per_second

    def take(self) -> None:
        self.tokens -= 1


class RateLimiter:
    """`check()` spends one call, or answers the Retry-After (seconds) when over a limit.

    `post_message_per_minute` is the workspace-wide chat.postMessage ceiling, which Slack documents only as
    "several hundred per minute": set it apart from what Hearth assumes (600) to try Hearth against a Slack
    it was not told about. `post_burst` (calls; default ten seconds' worth) and `tier_burst` (a factor on
    every method's and conversation's burst) make Slack less tolerant of bursts. Retry-After is Slack's
    whole seconds, divided by `scale` (so fractional when time runs faster).

    Not thread-safe by itself: the simulator calls it under its own lock.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic, scale: float = 1.0,
                 post_message_per_minute: float = 600, post_burst: float | None = None,
                 tier_burst: float = 1.0) -> None:
        if scale <= 0 or tier_burst <= 0:
            raise ValueError("scale and tier_burst must be positive")
        self.clock = clock
        self.scale = scale
        self.tier_burst = tier_burst
        burst = post_burst if post_burst is not None else post_message_per_minute / 6
        self.workspace_posts = Limit(post_message_per_minute, max(1, int(burst)))
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}

    def check(self, workspace: str, method: str, channel: str | None = None) -> float | None:
        if method == "chat.postMessage":
            keys = [((workspace, method, channel or ""), self._tier(POST_PER_CHANNEL)),
                    ((workspace, method), self.workspace_posts)]
        else:
            keys = [((workspace, method), self._tier(METHOD_LIMITS.get(method, DEFAULT_LIMIT)))]
        now = self.clock()
        buckets = [self._bucket(key, limit, now) for key, limit in keys]
        # Spend from every bucket or from none, so a refused call costs nothing.
        wait = max(b.wait(now) for b in buckets)
        if wait > 0:
            return max(1, math.ceil(wait * self.scale)) / self.scale
        for bucket in buckets:
            bucket.take()
        return None

    def _tier(self, limit: Limit) -> Limit:
        return limit if self.tier_burst == 1 else Limit(limit.per_minute, max(1, int(limit.burst * self.tier_burst)))

    def _bucket(self, key: tuple[str, ...], limit: Limit, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(limit, self.scale, now)
        return bucket


def most_in_window(times: list[float], width: float) -> int:
    """The most calls at any `width`-second window of `times`: what a rate limit over that window saw."""
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - width:
            j += 1
        best = max(best, i - j + 1)
    return best
