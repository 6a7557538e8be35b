"""How fast Hearth may call Slack: Slack's published limits, as GCRA rates (`storage.gcra`).

The arithmetic itself lives in `storage.gcra`, shared with `storage.ratelimit`, which runs it as one
conditional UPDATE per key so that every instance and thread shares one bucket.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.gcra import Rate

# Slack's published limits (docs.slack.dev/apis/web-api/rate-limits): chat.postMessage is "special":
# about one message per second per conversation, plus a workspace-wide ceiling of several hundred per
# minute; Tier 3 methods (conversations.open/history/replies, chat.update) allow 50+ per minute.
TIER_3 = Rate(50, 60.0, burst=2)
TIER_4 = Rate(100, 60.0, burst=2)


@dataclass(frozen=True)
class SlackLimits:
    """The limits the delivery worker paces itself to, per workspace (and per conversation for posts)."""

    post_per_channel: Rate = Rate(1, 1.0)
    post_workspace: Rate = Rate(600, 60.0, burst=4)
    tiers: dict[str, Rate] = field(default_factory=lambda: {
        "conversations.open": TIER_3,
        "conversations.history": TIER_3,
        "conversations.replies": TIER_3,
        "chat.update": TIER_3,
        "users.info": TIER_4,
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
