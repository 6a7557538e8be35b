"""The simulator's answer for a failed Web API call: Slack's error code plus any extra fields."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.error, **self.extra}


def invalid_arguments(*messages: str) -> ApiError:
    """Slack's answer to a malformed view or block: each message names the JSON pointer at fault."""
    return ApiError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {m}" for m in messages]})
