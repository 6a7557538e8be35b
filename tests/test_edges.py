"""Hardened edges, probed as an attacker would probe a running `hearth serve` (issue 7, section 4).

The server tests run the real `hearth serve` process (waitress with Hearth's limits); request probes go
through the same waitress server on a thread, signed as Slack signs them.
"""

from __future__ import annotations

import json
import logging
import os
import select
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest

from slack_app.simulator import SlackSimulator, demo_workspace, wait_for
from tests.conftest import SIGNING_SECRET
from tests.test_cli import HEARTH, free_port
from tests.test_oauth_install import oauth_simulator  # noqa: F401 - a fixture

MiB = 1024 * 1024


# ---- the served process ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`hearth serve` as an operator starts it: no --host (so the default), its own SQLite under var/, and
    logging at DEBUG so the secrets test reads everything it could ever log."""
    from storage.crypto import generate_key

    cwd = tmp_path_factory.mktemp("served")
    port = free_port()
    with SlackSimulator(demo_workspace(), rate_limits=False) as sim:
        secrets = {"SLACK_BOT_TOKEN": sim.bot_token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                   "HEARTH_ENCRYPTION_KEY": generate_key()}
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "HEARTH_", "DATABASE_URL"))}
        env |= secrets | {"SLACK_API_URL": sim.base_url, "HEARTH_LOG_LEVEL": "DEBUG"}
        log = open(cwd / "serve.log", "w+")
        proc = subprocess.Popen([HEARTH, "serve", "--port", str(port)], env=env, cwd=cwd, stdout=log,
                                stderr=subprocess.STDOUT, text=True)
        try:
            _wait_healthy(f"http://127.0.0.1:{port}", proc)
            yield Served(port, cwd / "serve.log", secrets, sim)
        finally:
            proc.terminate()
            proc.wait(timeout=15)
            log.close()


@dataclass
class Served:
    port: int
    log: Path
    secrets: dict[str, str]
    simulator: SlackSimulator


def _wait_healthy(url: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as resp:
                assert resp.status == 200
                return
        except OSError:
            assert proc.poll() is None, "hearth serve exited"
            assert time.monotonic() < deadline, "hearth serve did not come up"
            time.sleep(0.2)


def test_serve_listens_on_loopback_unless_asked(served):
    from slack_app.cli import serve

    port = served.port
    assert next(p for p in serve.params if p.name == "host").default == "127.0.0.1"
    listening = _listening_addresses(port)
    assert listening == {"127.0.0.1"}, listening


def _listening_addresses(port: int) -> set[str]:
    """Local addresses of the TCP sockets listening on `port`, read from /proc/net/tcp{,6}."""
    found = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(name).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A = LISTEN
                if len(address) == 8:
                    found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
                else:
                    found.add(address)
    return found


def _stream(port: int, head: bytes, chunk: bytes, limit: int) -> tuple[int, bytes, float]:
    """Send `head`, then `chunk` over and over (up to `limit` bytes) until the server answers or hangs up.
    Returns the body bytes sent, what the server answered and the seconds it took."""
    started = time.monotonic()
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        try:
            while sent < limit:
                readable, _, _ = select.select([sock], [], [], 0)
                if readable:
                    break
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = sock.recv(4096)
        except (ConnectionResetError, TimeoutError):
            pass
    return sent, answer, time.monotonic() - started


def _refused(answer: bytes) -> bool:
    # 413 from waitress, or the connection simply closed on us (reset or EOF) before an answer was read.
    return answer.startswith(b"HTTP/1.1 413") or answer == b""


def test_a_200_mib_unsigned_upload_is_refused_while_it_streams(served):
    port = served.port
    size = 200 * MiB
    head = (f"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    sent, answer, seconds = _stream(port, head, b"x" * 65536, size)
    assert _refused(answer), answer[:200]
    assert sent < 8 * MiB, f"the server read {sent} bytes before refusing"
    assert seconds < 10


def test_a_chunked_upload_is_cut_off_past_the_limit(served):
    port = served.port
    head = (b"POST /slack/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    sent, answer, seconds = _stream(port, head, chunk, 200 * MiB)
    assert _refused(answer), answer[:200]
    # waitress reads chunks up to its limit, then answers; what the kernel's socket buffers took meanwhile
    # (a few MiB on loopback) is never read.
    assert sent < 32 * MiB, f"the server read {sent} bytes before refusing"
    assert seconds < 10


def test_a_body_just_under_the_limit_still_gets_hearths_answer(served):
    port = served.port
    # Over Hearth's own 1 MiB check but within waitress's margin: Hearth answers (unsigned → 413 unread).
    body = b"x" * (1024 * 1024 + 10)
    request = urllib.request.Request(f"http://127.0.0.1:{port}/slack/events", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(request, timeout=10)
    assert err.value.code == 413


def test_a_stalled_client_is_dropped(hearth):
    """A client that sends half a request and waits is disconnected after the channel timeout (30 s in
    production; 1 s here so the test is quick)."""
    from slack_app.server import CHANNEL_TIMEOUT, limits, start_in_thread

    assert limits()["channel_timeout"] == CHANNEL_TIMEOUT == 30
    running = start_in_thread(hearth, channel_timeout=1, cleanup_interval=1)
    try:
        port = int(running.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /slack/events HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            started = time.monotonic()
            closed = sock.recv(4096)
            waited = time.monotonic() - started
    finally:
        running.stop()
    assert closed == b"" or closed.startswith(b"HTTP/1.1 4")
    assert waited < 5


# ---- no input gives a 500 --------------------------------------------------------------------------------

SAMPLES = Path(__file__).parent / "slack_specs" / "payloads" / "bolt-python"
FORM = "application/x-www-form-urlencoded"


def _sample_view(callback_id: str, private_metadata: str = "", values: dict | None = None) -> dict:
    """Slack's own view_submission sample, addressed to the demo workspace and to one of Hearth's modals."""
    payload = json.loads((SAMPLES / "view_submission.json").read_text())
    payload["team"]["id"] = "T0HEARTH"
    payload["user"] = {"id": "UALICE", "username": "alice", "name": "alice", "team_id": "T0HEARTH"}
    payload["view"].update(callback_id=callback_id, private_metadata=private_metadata, team_id="T0HEARTH",
                           app_installed_team_id="T0HEARTH", state={"values": values or {}})
    return payload


def _sample_command(**changes: str | None) -> str:
    """Slack's own slash command sample (form-encoded), for /checkin in the demo workspace."""
    form = dict(parse_qsl((SAMPLES / "slash_command.form.txt").read_text().strip()))
    form |= {"team_id": "T0HEARTH", "user_id": "UALICE", "channel_id": "CGENERAL", "command": "/checkin",
             "text": ""}
    for key, value in changes.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return urlencode(form)


@pytest.mark.parametrize("timestamp", ["²", "٣٣", "9" * 400, "１２３", "-5", "1e9", ""])
def test_a_malformed_timestamp_header_is_refused_not_a_500(driver, timestamp):
    resp = driver.post_raw(_sample_command(), content_type=FORM, sign=False,
                           headers={"X-Slack-Request-Timestamp": timestamp.encode(),  # raw UTF-8 bytes on the wire
                                    "X-Slack-Signature": "v0=" + "0" * 64})
    assert resp.status == 401, resp.body_text


def test_a_signed_view_submission_without_type_is_400(driver):
    payload = _sample_view("checkin.submit")
    del payload["type"]
    assert driver._interaction(payload).status == 400


def test_a_signed_view_whose_view_has_no_type_is_400(driver):
    payload = _sample_view("checkin.submit")
    del payload["view"]["type"]  # Bolt's middleware read view["type"]: a KeyError and a 500
    resp = driver._interaction(payload)
    assert resp.status == 400 and resp.body_text == "view has no type"


def test_a_signed_workflow_step_view_without_its_step_is_400(driver):
    payload = _sample_view("checkin.submit")
    payload["view"]["type"] = "workflow_step"  # Bolt then reads payload["workflow_step"]
    resp = driver._interaction(payload)
    assert resp.status == 400 and resp.body_text == "workflow step view has no step"


@pytest.mark.parametrize("team_id", [None, ""])
def test_a_signed_command_without_team_id_is_400(driver, team_id):
    resp = driver.post_raw(_sample_command(team_id=team_id), content_type=FORM)
    assert resp.status == 400 and resp.body_text == "command has no team"


def test_the_command_sample_itself_is_answered(driver):
    resp = driver.post_raw(_sample_command(), content_type=FORM)
    assert resp.status == 200 and resp.json["response_type"] == "ephemeral"


@pytest.mark.parametrize("metadata", [json.dumps({"round_id": "abc"}), json.dumps({"round_id": 1.5}), "[1, 2]",
                                      "{not json", "9" * 2000, json.dumps({"round_id": "9" * 400})])
def test_a_non_numeric_private_metadata_id_gets_a_kind_answer(driver, metadata):
    resp = driver._interaction(_sample_view("checkin.submit", metadata))
    assert resp.status == 200
    assert resp.json["response_action"] == "errors"
    assert "can't be found" in resp.json["errors"]["checkin.gratitude"]


@pytest.mark.parametrize("value", ["abc", "", "9" * 400, "-1", "1.5"])
def test_a_non_numeric_option_value_gets_a_kind_answer(driver, value):
    values = {"checkin.circle": {"pick": {"type": "static_select", "selected_option": {
        "text": {"type": "plain_text", "text": "x"}, "value": value}}}}
    resp = driver._interaction(_sample_view("checkin.pick_circle", values=values))
    assert resp.status == 200 and resp.json["response_action"] == "update"
    assert "can't be found" in json.dumps(resp.json["view"])


@pytest.mark.parametrize("action_id", ["checkin.open_modal", "checkin.opt_out", "checkin.snooze",
                                       "checkin.offer_help", "checkin.accept_help"])
@pytest.mark.parametrize("value", ["abc", "9" * 400])
def test_a_non_numeric_button_value_is_acked_and_answered_kindly(driver, simulator, action_id, value):
    resp = driver.block_action("UALICE", action_id, value=value)
    assert resp.status == 200 and not resp.late
    assert wait_for(lambda: simulator.response_url_posts() or simulator.calls_for("views.open"))


# ---- a listener that raises ------------------------------------------------------------------------------

class Boom(Exception):
    pass


SECRET_WORDS = "zebra-quartz-confidential"  # what a member typed: it must reach no log line


def _raising_workflow():
    from slack_app.workflow import Workflow

    def listeners(app):
        @app.action("demo.after_ack")
        def after_ack(ack):
            ack()
            raise Boom(SECRET_WORDS)

        @app.action("demo.before_ack")
        def before_ack(ack):
            raise Boom(SECRET_WORDS)

        @app.view("demo.before_ack")
        def view_before_ack(ack):
            raise KeyError(SECRET_WORDS)

        @app.command("/checkin")  # listed before check-ins' own /checkin listener, so it wins
        def command_after_ack(ack):
            ack(response_type="ephemeral", text="on it")
            raise Boom(SECRET_WORDS)

    return Workflow(name="raising", listeners=(listeners,))


@pytest.fixture
def raising_driver(app_settings, db, simulator):
    from slack_app.app import build_app
    from slack_app.server import start_in_thread
    from slack_app.services import build_services
    from slack_app.simulator import SlackDriver
    from slack_app.workflows import WORKFLOWS

    workflows = (_raising_workflow(), *WORKFLOWS)
    hearth = build_app(app_settings, services=build_services(app_settings, db=db, workflows=workflows))
    running = start_in_thread(hearth)
    try:
        yield SlackDriver(running.events_url, SIGNING_SECRET, simulator)
    finally:
        running.stop()


def test_a_listener_raising_after_ack_keeps_its_ack_and_tells_the_member(raising_driver, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    resp = raising_driver.block_action("UALICE", "demo.after_ack")
    assert resp.status == 200 and resp.elapsed < 2.5  # not Bolt's 3-second wait for an ack it had
    assert wait_for(lambda: simulator.response_url_posts())
    time.sleep(0.3)
    texts = [p["body"].get("text", "") for p in simulator.response_url_posts()]
    assert len(texts) == 1 and "something went wrong on Hearth's side" in texts[0]  # not "not set up"
    _assert_logged_without_content(caplog, "block_actions", "demo.after_ack")


def test_a_command_raising_after_ack_keeps_its_answer(raising_driver, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    resp = raising_driver.command("UALICE", "/checkin")
    assert resp.status == 200 and resp.elapsed < 2.5
    assert resp.json == {"response_type": "ephemeral", "text": "on it"}
    assert wait_for(lambda: simulator.response_url_posts())
    _assert_logged_without_content(caplog, "command", "/checkin")


def test_a_listener_raising_before_ack_gets_a_kind_answer_not_a_500(raising_driver, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    resp = raising_driver.block_action("UALICE", "demo.before_ack")
    assert resp.status == 200 and resp.elapsed < 2.5
    view = _sample_view("demo.before_ack")
    resp = raising_driver._interaction(view)
    assert resp.status == 200 and resp.json["response_action"] == "update"
    assert "something went wrong on Hearth's side" in json.dumps(resp.json["view"])
    _assert_logged_without_content(caplog, "view_submission", "demo.before_ack")


def _assert_logged_without_content(caplog, kind: str, request_id: str) -> None:
    failures = [r.getMessage() for r in caplog.records if r.name == "hearth.listener"]
    assert any(f"kind={kind} id={request_id}" in line for line in failures), failures
    everything = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    assert SECRET_WORDS not in everything
    assert not any(r.exc_info for r in caplog.records if r.name.startswith(("hearth", "slack_bolt")))


# ---- secrets ---------------------------------------------------------------------------------------------

def test_every_secret_setting_is_a_secret_str():
    from pydantic import SecretStr

    from slack_app.settings import SECRET_SETTINGS, Settings

    secret_like = {name for name in Settings.model_fields
                   if any(word in name for word in ("TOKEN", "SECRET", "KEY", "PASSWORD"))}
    assert secret_like == SECRET_SETTINGS
    for name in SECRET_SETTINGS:
        assert Settings.model_fields[name].annotation == SecretStr | None, name


def test_no_secret_in_the_repr_of_settings():
    from slack_app.settings import load_settings, reveal
    from storage.crypto import generate_key

    values = {"SLACK_BOT_TOKEN": "xoxb-bot-4242", "SLACK_SIGNING_SECRET": "signing-4242",
              "SLACK_APP_TOKEN": "xapp-app-4242", "SLACK_CLIENT_ID": "123.456", "SLACK_CLIENT_SECRET": "client-4242",
              "HEARTH_ENCRYPTION_KEY": generate_key()}
    settings = load_settings(env_file=None, DATABASE_URL="postgresql://hearth:db-pass-4242@db:5432/hearth", **values)
    shown = "\n".join([repr(settings), str(settings), f"{settings}", settings.model_dump_json(),
                       repr(settings.model_dump())])
    for value in [*values.values(), "db-pass-4242"]:
        if value != "123.456":  # the client id is public
            assert value not in shown
    assert "postgresql://hearth:***@db:5432/hearth" in repr(settings)
    assert settings.DATABASE_URL.endswith("db-pass-4242@db:5432/hearth")  # the value itself is intact
    assert {name: reveal(getattr(settings, name)) for name in values if name != "SLACK_CLIENT_ID"} == {
        k: v for k, v in values.items() if k != "SLACK_CLIENT_ID"}


def test_an_empty_secret_is_unset():
    from slack_app.settings import load_settings

    settings = load_settings(env_file=None, SLACK_BOT_TOKEN="", HEARTH_ENCRYPTION_KEY="", SLACK_SIGNING_SECRET="")
    assert settings.SLACK_BOT_TOKEN is None and settings.HEARTH_ENCRYPTION_KEY is None
    assert settings.SLACK_SIGNING_SECRET is None


def test_a_malformed_token_is_reported_without_its_value():
    from slack_app.settings import SettingsError, load_settings

    with pytest.raises(SettingsError) as err:
        load_settings(env_file=None, SLACK_BOT_TOKEN="xoxp-user-token-4242")
    assert "xoxp-user-token-4242" not in str(err.value)
    assert str(err.value).startswith("SLACK_BOT_TOKEN must be a bot token")


def test_hearth_serve_logs_no_secret_even_at_debug(served):
    from slack_app.simulator import SlackDriver

    driver = SlackDriver(f"http://127.0.0.1:{served.port}/slack/events", SIGNING_SECRET, served.simulator)
    assert driver.command("UALICE", "/checkin").status == 200  # the bot token and the key are in use
    driver.app_home_opened("UALICE")
    assert wait_for(lambda: served.simulator.home("UALICE") is not None, timeout=10)
    time.sleep(0.5)
    logged = served.log.read_text()
    assert "http.listening" in logged and "DEBUG" in logged  # the log is really being read
    for name, value in served.secrets.items():
        assert value not in logged, f"{name} appears in hearth serve's log"


# ---- OAuth states ----------------------------------------------------------------------------------------

def test_unauthenticated_install_page_views_cannot_grow_the_state_table(oauth_simulator, database_url, db, tmp_path,
                                                                        monkeypatch):
    from sqlalchemy import func, insert, select

    from slack_app.app import build_app
    from slack_app.server import start_in_thread
    from slack_app.services import build_services
    from slack_app.settings import load_settings
    from slack_app.workflows import WORKFLOWS
    from storage import installations
    from storage.crypto import generate_key
    from tests.test_oauth_install import CLIENT_ID, CLIENT_SECRET, fetch

    assert installations.MAX_OAUTH_STATES == 1000
    monkeypatch.setattr(installations, "MAX_OAUTH_STATES", 25)  # the same rule, reached with fewer requests
    settings = load_settings(env_file=None, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_CLIENT_ID=CLIENT_ID,
                             SLACK_CLIENT_SECRET=CLIENT_SECRET, SLACK_API_URL=oauth_simulator.base_url,
                             DATABASE_URL=database_url, ARCHIVE_URL=str(tmp_path / "archive"),
                             HEARTH_ENCRYPTION_KEY=generate_key())
    hearth = build_app(settings, services=build_services(settings, db=db, workflows=WORKFLOWS))
    store = hearth.oauth_flow.settings.state_store
    table = store.oauth_states
    # Leftovers from long ago: expired states nobody consumed.
    with db.engine.begin() as conn:
        conn.execute(insert(table), [{"state": f"old-{i}", "expire_at": datetime(2020, 1, 1)} for i in range(40)])

    def count() -> int:
        with db.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(table)).scalar_one()

    running = start_in_thread(hearth)
    try:
        sizes = []
        for _ in range(120):
            status, _, _ = fetch(running.url + "/slack/install")
            assert status == 200
            sizes.append(count())
    finally:
        running.stop()
    assert max(sizes) <= 25 and sizes[-1] == 25  # bounded, not 160
    with db.engine.connect() as conn:
        kept = conn.execute(select(table.c.state)).scalars().all()
    assert not [s for s in kept if s.startswith("old-")]  # expired states went first
    assert store.consume(kept[-1])  # the newest state, a real admin's, still works
