"""What to do after a Slack call failed, and how long to wait before trying again: pure rules."""

from __future__ import annotations

import random
import re
from enum import Enum


class Verdict(str, Enum):
    PERMANENT = "permanent"        # it will fail the same way again: mark the row failed, for admins to see
    RATE_LIMITED = "rate_limited"  # not delivered; wait for Retry-After (no attempt is used up)
    RETRY = "retry"                # not delivered; try again after a backoff
    UNCERTAIN = "uncertain"        # it may have been delivered: reconcile with history before any resend


# Errors that say "this message can never go to this target as it stands".
PERMANENT_ERRORS = frozenset({
    "user_not_found", "users_not_found", "account_inactive", "user_disabled", "cannot_dm_bot",
    "channel_not_found", "is_archived", "not_in_channel", "restricted_action",
    "restricted_action_read_only_channel", "restricted_action_thread_only_channel",
    "restricted_action_non_threadable_channel", "msg_too_long", "no_text", "too_many_attachments",
    "invalid_blocks", "invalid_blocks_format", "invalid_metadata_format", "invalid_metadata_schema",
    "metadata_too_large", "metadata_must_be_sent_from_app", "message_not_found", "cant_update_message",
    "edit_window_closed", "too_many_users", "not_enough_users", "invalid_auth", "not_authed",
    "token_revoked", "token_expired", "no_permission", "missing_scope",
    "not_allowed_token_type", "ekm_access_denied", "team_access_not_granted", "invalid_arguments",
    "invalid_arg_name", "invalid_array_arg", "invalid_charset", "invalid_form_data", "invalid_post_type",
    "missing_post_type", "method_deprecated", "deprecated_endpoint", "as_user_not_supported",
    "duplicate_message_not_found", "unknown_method",
    # Hearth's own codes for rows it cannot even try to send.
    "not_installed", "invalid_payload", "parent_failed", "parent_missing", "unverified",
})

# Slack says the server may have done part of the work before it failed ("It's possible some aspect of the
# operation succeeded before the error was raised"), so the message may exist.
_MAYBE_DONE = frozenset({"internal_error", "fatal_error"})
# Slack refused before doing anything.
_NOT_DONE = frozenset({"service_unavailable", "request_timeout", "team_added_to_org"})
# The connection never reached Slack, so nothing can have been delivered.
_NEVER_CONNECTED = frozenset({"ConnectionRefusedError", "gaierror", "NameResolutionError"})
# Slack's error codes are snake_case; connection errors are named by their exception type (CamelCase).
_SLACK_CODE = re.compile(r"[a-z0-9_]+")


def classify(error: str, status: int | None = None) -> Verdict:
    """Slack's error code (or the connection error's type name) and HTTP status → what to do."""
    if status == 429 or error == "ratelimited":
        return Verdict.RATE_LIMITED
    if error in _NEVER_CONNECTED or error in _NOT_DONE:
        return Verdict.RETRY
    if error in _MAYBE_DONE or (status is not None and status >= 500):
        return Verdict.UNCERTAIN
    if status is None and not _SLACK_CODE.fullmatch(error):
        # No HTTP answer (the error is a connection error's type name, e.g. TimeoutError, RemoteDisconnected):
        # the request may have been processed.
        return Verdict.UNCERTAIN
    # Slack answered (HTTP 200 with ok=false, or 4xx): it rejected the call and will again.
    return Verdict.PERMANENT


def backoff(attempt: int, *, base: float = 2.0, cap: float = 600.0, rand: random.Random | None = None) -> float:
    """Seconds to wait after the `attempt`-th failure: exponential, capped, with "equal jitter".

    Half of the delay is fixed, half random, so retries spread out (no thundering herd after an outage)
    yet never come back sooner than half the exponential step.
    """
    step = min(cap, base * 2 ** max(0, attempt - 1))
    r = (rand or random).random()
    return step / 2 + r * step / 2


def is_group_target(target: str) -> bool:
    """A target of several users (comma-separated) is a group DM that has to be opened first."""
    return "," in target


def is_user_target(target: str) -> bool:
    return target[:1] in ("U", "W") and not is_group_target(target)


def join_users(users: list[str] | tuple[str, ...]) -> str:
    if not 1 <= len(users) <= 8:
        raise ValueError("a group DM holds 1 to 8 people besides the bot")
    return ",".join(sorted(set(users)))


def split_users(target: str) -> list[str]:
    return target.split(",")
