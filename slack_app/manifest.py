"""manifest.yml: the app an admin creates in Slack, and what Hearth reads from it (its bot scopes).

The file is the single source: OAuth asks for `bot_scopes()`, `hearth doctor` checks the token holds
them, and `hearth manifest --request-url …` derives the HTTP-mode variant from it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

MANIFEST_PATH = Path(__file__).resolve().parents[1] / "manifest.yml"
EVENTS_PATH = "/slack/events"  # Bolt's default endpoint: commands, interactivity and events alike
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def bot_scopes(manifest: Mapping[str, Any] | None = None) -> frozenset[str]:
    manifest = manifest if manifest is not None else load_manifest()
    return frozenset(manifest["oauth_config"]["scopes"]["bot"])


def http_variant(request_url: str, manifest: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The manifest for HTTP mode behind `request_url` (the public base URL of `hearth serve`): Slack
    posts everything to one endpoint, and OAuth installs return to the redirect URL. New keys sit where
    Slack's own manifest exports put them."""
    variant = copy.deepcopy(dict(manifest if manifest is not None else load_manifest()))
    base = request_url.rstrip("/")
    endpoint = base + EVENTS_PATH
    commands = variant["features"]["slash_commands"]
    variant["features"]["slash_commands"] = [{"command": c["command"], **_first(c, "url", endpoint)} for c in commands]
    settings = variant["settings"]
    settings["interactivity"]["request_url"] = endpoint
    settings["event_subscriptions"] = _first(settings["event_subscriptions"], "request_url", endpoint)
    settings["socket_mode_enabled"] = False
    variant["oauth_config"] = _first(variant["oauth_config"], "redirect_urls", [base + OAUTH_REDIRECT_PATH])
    return variant


def dump(manifest: Mapping[str, Any]) -> str:
    """YAML in the manifest's own key order, ready to paste."""
    return yaml.safe_dump(dict(manifest), sort_keys=False, allow_unicode=True, width=120)


def _first(mapping: Mapping[str, Any], key: str, value: Any) -> dict[str, Any]:
    return {key: value, **{k: v for k, v in mapping.items() if k != key}}
