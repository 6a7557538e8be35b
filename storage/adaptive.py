"""Adaptive pacing: learn the rate Slack really allows from its 429s. Pure arithmetic, no I/O.

Slack documents some limits only loosely ("several hundred messages per minute"), so the configured rate
is a ceiling, not a promise. Each workspace-wide bucket (`storage.ratelimit`) may carry a learned rate
below that ceiling, shared by every instance through its row:

- **Decrease on a 429** (once per episode: the 429s of calls already in flight during the Retry-After hold
  are the same news). The bucket's grant counter says how many calls went out since the previous
  episode's hold ended; when Slack answered 429 at both ends of that stretch, Slack's limiter was empty at
  both, so those calls over that time *measure* its real rate. The new rate is that measurement less a
  margin, but at least a fixed step below the rate that drew the 429 (so it always goes down) and no
  lower than half of it (a bad measurement cannot collapse it). Without a measurement the rate is cut by
  `backoff` (the first 429) or by `step` (a stretch too old to measure: the limit was found again after
  a long quiet time). 429s sooner than `min_window` after an episode began are calls that were already in
  flight: the same episode.
- **Increase after a long quiet stretch**: no 429 for `quiet` seconds raises the rate by a small factor,
  up to the configured ceiling, where the learned rate is dropped (`rate None`). Probing rarely and in
  small steps keeps the 429s a small share of the calls once the limit is found.

The figures are in calls per second of the ceiling's clock; `Tuning.scaled` shortens every duration for
the simulator's compressed time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Tuning:
    margin: float = 0.005        # learned rate = measured rate × (1 - margin)
    step: float = 0.01           # … but at least this much below the rate that drew the 429
    floor: float = 0.5           # … and never below this share of it
    backoff: float = 0.9         # no measurement: rate × backoff
    min_window: float = 5.0      # 429s this soon after an episode began belong to it (calls in flight)
    max_window: float = 600.0    # a stretch longer than this measures nothing (the limiter refilled meanwhile)
    quiet: float = 300.0         # no 429 for this long: raise the rate …
    raise_by: float = 0.03       # … by this factor, up to the ceiling
    min_rate: float = 1 / 60     # never slower than one call a minute

    def scaled(self, factor: float) -> Tuning:
        """Durations divided by `factor` (the simulator runs `factor` times faster than Slack)."""
        return replace(self, min_window=self.min_window / factor, max_window=self.max_window / factor,
                       quiet=self.quiet / factor, min_rate=self.min_rate * factor)


DEFAULT = Tuning()


@dataclass(frozen=True)
class Learned:
    """What a bucket row remembers about its key's real rate."""

    rate: float | None = None      # calls per second learned; None: the configured ceiling
    changed_at: float = 0.0        # when the rate last changed (a 429 episode or a raise)
    mark_at: float | None = None   # when the last 429 episode's hold ended (a new episode starts after it)
    mark_grants: int = 0           # the bucket's grant counter at that episode


def current(learned: Learned, ceiling: float) -> float:
    """The rate to pace to now: the learned one, never above the configured ceiling."""
    return min(ceiling, learned.rate) if learned.rate is not None else ceiling


def on_limited(learned: Learned, *, now: float, hold: float, grants: int, ceiling: float,
               tuning: Tuning = DEFAULT) -> Learned | None:
    """Slack answered 429 with Retry-After `hold` at `now`, the bucket having granted `grants` calls so far.
    The new state, or None when this 429 belongs to the episode already accounted for: during its hold,
    or sooner than `min_window` after it began (calls that were already in flight)."""
    if learned.mark_at is not None and now < max(learned.mark_at, learned.changed_at + tuning.min_window):
        return None
    rate = current(learned, ceiling)
    if learned.mark_at is None:
        new = rate * tuning.backoff
    elif now - learned.mark_at > tuning.max_window:
        new = rate * (1 - tuning.step)
    else:
        measured = (grants - learned.mark_grants) / (now - learned.mark_at)
        new = min(rate * (1 - tuning.step), max(rate * tuning.floor, measured * (1 - tuning.margin)))
    return Learned(rate=max(tuning.min_rate, new), changed_at=now, mark_at=now + hold, mark_grants=grants)


def on_quiet(learned: Learned, *, now: float, ceiling: float, tuning: Tuning = DEFAULT) -> Learned | None:
    """Raise a learned rate after `tuning.quiet` seconds without a 429; None when nothing changes."""
    if learned.rate is None or now - learned.changed_at < tuning.quiet:
        return None
    raised = learned.rate * (1 + tuning.raise_by)
    return replace(learned, rate=None if raised >= ceiling else raised, changed_at=now)


def seconds_for(calls: int, rate: float) -> float:
    """How long `calls` more calls take at `rate` per second (what a running fan-out still needs)."""
    return calls / rate if rate > 0 else float("inf")
