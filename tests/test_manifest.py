"""manifest.yml against Slack's official manifest schema, and against what Hearth's code expects of it."""

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT7

from slack_app import ids, manifest
from slack_app.manifest import MANIFEST_PATH, bot_scopes, dump, http_variant, load_manifest

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "tests" / "slack_specs" / "manifest"  # vendored: see tests/slack_specs/SOURCES.md
SCHEMA_DIR = SPECS / "slackapi-manifest-schema"
# manifest.schema.json refers to the versioned schemas by their published URLs; serve them from disk.
PUBLISHED = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/schemas/"

# What each bot event needs; a new event has to be added here, which makes one think about its scope.
EVENT_SCOPES = {
    "app_home_opened": set(),
    "member_joined_channel": {"channels:read", "groups:read"},
    "member_left_channel": {"channels:read", "groups:read"},
    "user_change": {"users:read"},  # Slack's events reference: both need users:read
    "team_join": {"users:read"},
    "app_uninstalled": set(),
    "tokens_revoked": set(),
}


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    def resource(path: Path) -> Resource:
        return Resource.from_contents(json.loads(path.read_text()), default_specification=DRAFT7)

    registry = Registry().with_resources(
        (PUBLISHED + p.name, resource(p)) for p in (SCHEMA_DIR / "schemas").glob("manifest.schema.*.json"))
    schema = json.loads((SCHEMA_DIR / "manifest.schema.json").read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, registry=registry)


def errors(validator: Draft7Validator, document: dict) -> list[str]:
    """Every leaf error: the schema is a oneOf over manifest versions, whose own message says nothing."""
    def leaves(e: ValidationError) -> list[ValidationError]:
        return [leaf for c in e.context for leaf in leaves(c)] if e.context else [e]

    found = (leaf for e in validator.iter_errors(document) for leaf in leaves(e))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in found]


def test_manifest_path_is_the_repository_manifest():
    assert MANIFEST_PATH == REPO / "manifest.yml"
    assert load_manifest() == yaml.safe_load(MANIFEST_PATH.read_text())


def test_socket_mode_manifest_is_valid(validator):
    m = load_manifest()
    assert errors(validator, m) == []
    assert m["_metadata"]["major_version"] == 1
    assert m["settings"]["socket_mode_enabled"] is True
    assert "redirect_urls" not in m["oauth_config"]
    assert all("url" not in c for c in m["features"]["slash_commands"])
    assert "request_url" not in m["settings"]["interactivity"]
    assert "request_url" not in m["settings"]["event_subscriptions"]


def test_http_variant_is_valid_and_points_everything_at_one_endpoint(validator):
    m = http_variant("https://hearth.example.org/")
    assert errors(validator, m) == []
    endpoint = "https://hearth.example.org/slack/events"
    assert m["settings"]["socket_mode_enabled"] is False
    assert {c["url"] for c in m["features"]["slash_commands"]} == {endpoint}
    assert m["settings"]["interactivity"] == {"is_enabled": True, "request_url": endpoint}
    assert m["settings"]["event_subscriptions"]["request_url"] == endpoint
    assert m["oauth_config"]["redirect_urls"] == ["https://hearth.example.org/slack/oauth_redirect"]
    assert bot_scopes(m) == bot_scopes()
    assert load_manifest()["settings"]["socket_mode_enabled"] is True  # the file itself is untouched


def test_dump_round_trips_in_manifest_order():
    m = http_variant("https://hearth.example.org")
    text = dump(m)
    assert yaml.safe_load(text) == m
    top_level = [line.split(":")[0] for line in text.splitlines() if re.match(r"\w", line)]
    assert top_level == list(m)


@pytest.mark.parametrize("sample", [
    SCHEMA_DIR / "tests" / "manifests" / "v1" / "manifest.invalid.json",
    SCHEMA_DIR / "tests" / "manifests" / "v2" / "manifest.invalid.json",
    SPECS / "samples" / "manifest.broken.yaml",
], ids=lambda p: "/".join(p.parts[-2:]))
def test_the_schema_rejects_invalid_manifests(validator, sample):
    assert errors(validator, yaml.safe_load(sample.read_text()))


@pytest.mark.parametrize(("change", "complaint"), [
    (lambda m: m["features"]["slash_commands"][0].update(command="checkin"), "does not match"),
    (lambda m: m["features"]["shortcuts"][1].update(name="Report this message to the mods"), "is too long"),
    (lambda m: m["settings"].update(socket_mode_enabled="yes"), "is not of type 'boolean'"),
    (lambda m: m["display_information"].update(long_description="Too short."), "is too short"),
])
def test_the_schema_rejects_a_broken_hearth_manifest(validator, change, complaint):
    m = load_manifest()
    change(m)
    assert any(complaint in e for e in errors(validator, m)), errors(validator, m)


@pytest.mark.parametrize("sample", [
    SCHEMA_DIR / "tests" / "manifests" / "v1" / "manifest.valid.json",
    SCHEMA_DIR / "tests" / "manifests" / "v2" / "manifest.valid.json",
    SPECS / "samples" / "manifest.valid.yaml",
], ids=lambda p: "/".join(p.parts[-2:]))
def test_the_schema_accepts_valid_manifests(validator, sample):
    assert errors(validator, yaml.safe_load(sample.read_text())) == []


def test_every_command_and_shortcut_of_the_code_is_in_the_manifest():
    features = load_manifest()["features"]
    commands = {c["command"]: c for c in features["slash_commands"]}
    assert set(commands) == {c.value for c in ids.Command}
    for command in commands.values():
        assert command["description"] and command["usage_hint"]
        # Only /buddies takes mentions (`/buddies never @someone`): escaped, Slack sends ids, not names.
        assert command["should_escape"] is (command["command"] == "/buddies")
    shortcuts = {s["callback_id"]: s for s in features["shortcuts"]}
    assert set(shortcuts) == {s.value for s in ids.Shortcut}
    assert (shortcuts["report.global"]["type"], shortcuts["report.global"]["name"]) == ("global", "Report a concern")
    assert (shortcuts["report.message"]["type"], shortcuts["report.message"]["name"]) == ("message",
                                                                                          "Report this message")


def test_app_home_bot_user_and_settings():
    m = load_manifest()
    assert m["features"]["app_home"] == {
        "home_tab_enabled": True, "messages_tab_enabled": True, "messages_tab_read_only_enabled": True}
    assert m["features"]["bot_user"] == {"display_name": "hearth", "always_online": True}
    settings = m["settings"]
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["org_deploy_enabled"] is False and settings["token_rotation_enabled"] is False


def test_display_information_meets_the_schema_rules_jsonschema_cannot_check():
    info = load_manifest()["display_information"]
    schema = json.loads((SCHEMA_DIR / "schemas" / "manifest.schema.1.0.0.json").read_text())
    rule = schema["definitions"]["app-manifests.v1.display_information.schema"]["properties"]["background_color"]
    assert re.fullmatch(rule["regex"], info["background_color"])  # "regex" is not a JSON Schema keyword
    assert info["name"] == "Hearth"


def documented_scopes() -> list[str]:
    """The scope column of the README's bot-scope table."""
    lines = (REPO / "README.md").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Scope"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        scope, why = (cell.strip() for cell in line.strip("|").split("|")[:2])
        assert why, f"{scope} has no reason"
        rows.append(scope.strip("`"))
    return rows


def test_bot_scopes_are_exactly_the_documented_least_privilege_list():
    documented = documented_scopes()
    assert len(documented) == len(set(documented))
    assert bot_scopes() == frozenset(documented)
    assert not bot_scopes() & {"chat:write.public", "channels:join", "users:read.email", "im:read", "mpim:read"}
    assert not any(s.startswith("admin") for s in bot_scopes())
    assert "user" not in load_manifest()["oauth_config"]["scopes"]


def test_every_bot_event_has_the_scopes_it_needs():
    events = load_manifest()["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == set(EVENT_SCOPES)
    for event in events:
        assert EVENT_SCOPES[event] <= bot_scopes(), event


def test_every_event_a_handler_listens_to_is_subscribed():
    # A listener for an event the manifest does not subscribe to would silently never run.
    listened = set()
    for module in (REPO / "handlers").glob("*.py"):
        listened |= set(re.findall(r"@app\.event\(\s*\"([a-z_]+)\"", module.read_text()))
    assert listened, "no event listeners found: has the handlers layout changed?"
    assert listened <= set(load_manifest()["settings"]["event_subscriptions"]["bot_events"])


def test_bot_scopes_reads_a_given_manifest():
    assert manifest.bot_scopes({"oauth_config": {"scopes": {"bot": ["chat:write"]}}}) == {"chat:write"}
