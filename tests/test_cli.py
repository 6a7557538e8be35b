"""The `hearth` command as a person runs it: real processes, one-line errors, no tracebacks."""

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml

from slack_app.simulator import wait_for
from storage import outbox
from storage.db import Database
from tests.conftest import PG_URL, SIGNING_SECRET

HEARTH = shutil.which("hearth") or str(Path(sys.executable).with_name("hearth"))


def hearth(*args, env=None, cwd, timeout=60):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARTH_", "DATABASE_URL", "ARCHIVE_URL"))}
    return subprocess.run([HEARTH, *args], env={**base, **(env or {})}, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def test_run_without_tokens_explains_in_two_lines(tmp_path):
    result = hearth("run", cwd=tmp_path)
    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 2
    assert "manifest.yml" in result.stdout and "hearth simulate" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("args", "env", "starts_with"),
    [
        (["db", "upgrade"], {"DATABASE_URL": "mysql://db/x"}, "hearth: DATABASE_URL must be"),
        (["db", "upgrade"], {"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "hearth: cannot reach the database"),
        (["serve"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "hearth: SLACK_SIGNING_SECRET is not set"),
        (["run"], {"SLACK_BOT_TOKEN": "xoxb-1"}, "hearth: SLACK_APP_TOKEN is not set"),
        (["serve"], {"HEARTH_TIMEZONE": "Nowhere/City"}, "hearth: HEARTH_TIMEZONE 'Nowhere/City' is not a known time zone"),
        (["manifest", "--request-url", "http://plain.example.org"], {}, "hearth: --request-url must be an https:// URL"),
    ],
)
def test_bad_settings_stop_with_one_line(tmp_path, args, env, starts_with):
    result = hearth(*args, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(starts_with)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_db_upgrade_migrates_an_sqlite_file(tmp_path):
    result = hearth("db", "upgrade", env={"DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "database is at revision" in result.stdout
    current = hearth("db", "current", env={"DATABASE_URL": f"sqlite:///{tmp_path}/h.db"}, cwd=tmp_path)
    assert "run `hearth db upgrade`" not in current.stdout


def test_manifest_http_variant_fills_request_urls(tmp_path):
    result = hearth("manifest", "--request-url", "https://example.org", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["event_subscriptions"]["request_url"] == "https://example.org/slack/events"
    assert settings["interactivity"]["request_url"] == "https://example.org/slack/events"
    assert {c["url"] for c in manifest["features"]["slash_commands"]} == {"https://example.org/slack/events"}


def test_keygen_prints_a_usable_key(tmp_path):
    from storage.crypto import load_crypto

    key = hearth("keygen", cwd=tmp_path).stdout.strip()
    crypto = load_crypto(key, production=True)
    assert crypto.decrypt(crypto.encrypt("hello")) == "hello"


# `hearth simulate` always runs on its embedded SQLite file, whatever the pass: once is enough (about 40 s).
@pytest.mark.skipif(bool(PG_URL), reason="runs in the SQLite pass: simulate always uses its embedded SQLite file")
@pytest.mark.parametrize(("args", "refusal"), [((), "refused: HTTP 401"),
                                               (("--socket-mode",), "app-level token is refused: invalid_auth")])
def test_simulate_tells_the_whole_story_on_the_embedded_defaults(tmp_path, args, refusal):
    result = hearth("simulate", *args, cwd=tmp_path, timeout=240)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in ("App Home of Alice updated", "only Alice sees: *Hearth* helps", refusal,
                     "(0 extra App Home publishes)", "modal opened for Alice: Check-in settings",
                     "#gratitude-circle (in thread)  Hearth: *@Bob checked in*", "group DM (Bob, Dev)",
                     "2 checked in · 1 challenge shared · 1 offer of help · 1 accepted",
                     "== Reporting a concern", "modal opened for Bob: Report a concern (5 inputs)", "Report sent",
                     "== An anonymous survey", "modal opened for Carmen: How are we doing?", "5 responses",
                     "== Buddy introductions", "you're this round's buddies"):
        assert expected in out, expected
    assert (tmp_path / "var" / "simulate.db").exists()  # the embedded default: SQLite under ./var/
    assert "Traceback" not in result.stderr


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("no_worker", [False, True], ids=["with-worker", "no-worker"])
def test_serve_answers_signed_requests_and_rejects_unsigned_ones(tmp_path, simulator, no_worker):
    from slack_app.simulator import SlackDriver
    from storage.crypto import Crypto, generate_key

    port = free_port()
    key = generate_key()
    env = {"SLACK_BOT_TOKEN": simulator.bot_token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": simulator.base_url, "HEARTH_ENCRYPTION_KEY": key}
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARTH_", "DATABASE_URL"))}
    flags = ["--no-worker"] if no_worker else []
    proc = subprocess.Popen([HEARTH, "serve", "--host", "127.0.0.1", "--port", str(port), *flags], env={**base, **env},
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                    assert resp.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "hearth serve did not come up"
                time.sleep(0.2)
        driver = SlackDriver(url + "/slack/events", SIGNING_SECRET, simulator)
        signed = driver.command("UALICE", "/hearth", text="help zebra-quartz")
        assert signed.status == 200 and signed.json["response_type"] == "ephemeral"
        unsigned = driver.post_raw("command=%2Fhearth&text=help", content_type="application/x-www-form-urlencoded",
                                   sign=False)
        assert unsigned.status == 401
        assert (tmp_path / "var" / "hearth.db").exists()  # the embedded default database

        # The delivery worker runs inside `hearth serve` (or, with --no-worker, in `hearth worker`): a queued
        # message reaches Slack.
        served = Database(f"sqlite:///{tmp_path / 'var' / 'hearth.db'}", crypto=Crypto([key]))
        with served.session() as session:
            outbox.enqueue(session, team_id="T0HEARTH", kind="test.ping", target="UBOB",
                           payload={"text": "ping"}, dedupe_key="serve-test-ping")
        served.dispose()
        if no_worker:
            assert not wait_for(lambda: simulator.calls_for("chat.postMessage"), timeout=2)
            drained = subprocess.run([HEARTH, "worker", "--drain"], env={**base, **env}, cwd=tmp_path,
                                     capture_output=True, text=True, timeout=60)
            assert drained.returncode == 0, drained.stderr
        assert wait_for(lambda: simulator.calls_for("chat.postMessage"), timeout=15)
    finally:
        proc.terminate()
        output = proc.communicate(timeout=10)[0]
    assert proc.returncode == 0  # SIGTERM is a clean stop
    if no_worker:  # nothing but the listeners ran here
        assert "worker=off" in output and "delivery.stopped" not in output and "leader." not in output
    else:
        assert "delivery.stopped" in output and "leader.released" in output  # the worker and the scheduler let go
    assert "zebra-quartz" not in output  # logs never carry what members typed
    assert "Traceback" not in output
    assert stat.S_IMODE((tmp_path / "var" / "hearth.db").stat().st_mode) == 0o600  # the database is private


def test_serve_without_a_key_outside_development_mode_says_how_to_make_one(tmp_path):
    env = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": SIGNING_SECRET, "XDG_CONFIG_HOME": str(tmp_path / "cfg")}
    result = hearth("serve", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("hearth: HEARTH_ENCRYPTION_KEY is not set") and "hearth keygen" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "cfg").exists() and not list(tmp_path.glob("var/*.key"))  # no key was made up


def test_worker_without_a_key_says_so_in_one_line(tmp_path):
    result = hearth("worker", "--drain", env={"SLACK_BOT_TOKEN": "xoxb-1"}, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("hearth: HEARTH_ENCRYPTION_KEY is not set")
    assert "Traceback" not in result.stderr
