"""Socket Mode end to end: the simulator's side of the protocol, and Hearth over it (`hearth run`)."""

import json
import signal
import subprocess
import threading

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from slack_app.simulator import wait_for
from slack_app.simulator.socket_mode import MAX_CONNECTIONS
from tests.conftest import PG_URL, SIGNING_SECRET
from tests.hearth_run import HEARTH, HearthRun, free_port, get, run_env

# ---- the simulator speaks Slack's Socket Mode -----------------------------------------------------


def open_url(simulator, token=None):
    return WebClient(base_url=simulator.base_url).apps_connections_open(
        app_token=token or simulator.socket_mode.app_token)["url"]


class RawApp:
    """A bare WebSocket client playing the app, to see exactly what Slack sends."""

    def __init__(self, simulator, ack=True, payload=None):
        self.ws = connect(open_url(simulator)).__enter__()
        self.hello = json.loads(self.ws.recv(timeout=5))
        self.received = []
        self.ack, self.payload = ack, payload
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        try:
            for raw in self.ws:
                envelope = json.loads(raw)
                self.received.append(envelope)
                ack = self.ack(envelope) if callable(self.ack) else self.ack
                if ack:
                    self.ws.send(json.dumps({"envelope_id": envelope["envelope_id"], "payload": self.payload}
                                            if self.payload else {"envelope_id": envelope["envelope_id"]}))
        except Exception:
            pass

    def close(self):
        self.ws.close()


def test_connections_open_needs_the_app_level_token(simulator):
    url = open_url(simulator)
    assert url.startswith("ws://127.0.0.1:")
    with pytest.raises(SlackApiError) as refused:
        open_url(simulator, token=simulator.bot_token)
    assert refused.value.response["error"] == "not_allowed_token_type"
    with pytest.raises(SlackApiError) as unknown:
        open_url(simulator, token="xapp-1-nobody")
    assert unknown.value.response["error"] == "invalid_auth"


def test_connections_open_needs_connections_write_on_the_app_level_token(simulator):
    simulator.socket_mode.app_token_scopes = {"authorizations:read"}  # an app-level token made without it
    with pytest.raises(SlackApiError) as refused:
        open_url(simulator)
    assert (refused.value.response["error"], refused.value.response["needed"]) == ("missing_scope",
                                                                                   "connections:write")
    assert refused.value.response.headers["x-oauth-scopes"] == "authorizations:read"
    simulator.socket_mode.app_token_scopes.add("connections:write")
    assert open_url(simulator).startswith("ws://127.0.0.1:")


def test_hello_then_an_envelope_whose_ack_carries_the_answer(simulator):
    app = RawApp(simulator, payload={"response_action": "clear"})
    try:
        assert app.hello["type"] == "hello" and app.hello["num_connections"] == 1
        assert app.hello["connection_info"]["app_id"] == simulator.workspace.app_id
        delivery = simulator.socket_mode.deliver("interactive", {"type": "view_submission"})
        assert delivery.acked and delivery.payload == {"response_action": "clear"} and delivery.attempts == 1
        [envelope] = app.received
        assert envelope["type"] == "interactive" and envelope["accepts_response_payload"] is True
        assert envelope["envelope_id"] == delivery.envelope_ids[0] and envelope["payload"] == {"type": "view_submission"}
    finally:
        app.close()


def test_a_url_works_once(simulator):
    url = open_url(simulator)
    with connect(url):
        pass
    with pytest.raises(InvalidStatus):
        connect(url)


def test_an_unacked_event_is_retried_with_its_attempt_and_reason(simulator):
    app = RawApp(simulator, ack=lambda envelope: envelope["retry_attempt"] == 1)  # ignores the first delivery
    try:
        delivery = simulator.socket_mode.deliver("events_api", {"type": "event_callback", "event_id": "Ev1"})
        assert delivery.acked and delivery.attempts == 2
        first, retry = app.received
        assert (first["retry_attempt"], first["retry_reason"]) == (0, "")
        assert (retry["retry_attempt"], retry["retry_reason"]) == (1, "timeout")
        assert first["payload"] == retry["payload"] and first["envelope_id"] != retry["envelope_id"]
        assert first["accepts_response_payload"] is False
    finally:
        app.close()


def test_envelopes_are_spread_over_the_open_connections_up_to_ten(simulator):
    apps = [RawApp(simulator) for _ in range(MAX_CONNECTIONS)]
    try:
        with pytest.raises(InvalidStatus):
            connect(open_url(simulator))  # an eleventh connection is refused
        for i in range(2 * MAX_CONNECTIONS):
            assert simulator.socket_mode.deliver("slash_commands", {"command": "/hearth", "n": i}).acked
        assert [len(a.received) for a in apps] == [2] * MAX_CONNECTIONS
    finally:
        for a in apps:
            a.close()


def test_disconnect_warning_and_refresh_reach_the_app(simulator):
    app = RawApp(simulator, ack=False)
    try:
        simulator.socket_mode.disconnect("warning")
        simulator.socket_mode.disconnect("refresh_requested")
        assert wait_for(lambda: [e.get("reason") for e in app.received] == ["warning", "refresh_requested"])
        assert all(e["type"] == "disconnect" for e in app.received)
    finally:
        app.close()


# ---- Hearth over Socket Mode ---------------------------------------------------------------------

@pytest.fixture
def socket_driver(socket_connection, simulator):
    from slack_app.simulator import SlackDriver

    return SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True)


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_hearth_reconnects_on_disconnect_and_keeps_answering(socket_driver, simulator, reason):
    gateway = simulator.socket_mode
    assert socket_driver.command("UALICE", "/hearth", text="help").status == 200
    gateway.disconnect(reason)
    # The client opens its new connection before it closes the old one.
    assert wait_for(lambda: gateway.connections_made == 2 and gateway.connection_count == 1)
    assert len(simulator.calls_for("apps.connections.open")) == 2
    resp = socket_driver.command("UALICE", "/hearth", text="help")
    assert resp.status == 200 and "/checkin" in resp.json["text"]


@pytest.mark.parametrize("loss", ["drop", "refresh_requested"])
def test_work_acked_before_the_connection_goes_still_finishes(socket_driver, simulator, loss):
    from slack_app.reports.ids import ReportView

    gateway = simulator.socket_mode
    # The command is acked at once; its listener then waits on Slack for the modal while the connection goes.
    simulator.delay_next("views.open", 1.5)
    assert socket_driver.command("UBOB", "/report", channel="CCIRCLE").status == 200
    assert simulator.calls_for("views.open") == [], "the listener is still in flight"
    if loss == "drop":
        gateway.drop()
    else:
        gateway.disconnect(loss)
    assert wait_for(lambda: gateway.connections_made >= 2 and gateway.connection_count == 1, timeout=15)
    assert wait_for(lambda: len(simulator.calls_for("views.open")) == 1, timeout=5)
    assert [c.ok for c in simulator.calls_for("views.open")] == [True]
    assert simulator.latest_view("UBOB")["callback_id"] == ReportView.INTAKE
    # ...and the new connection carries the member's next step.
    assert socket_driver.command("UBOB", "/hearth", text="help").status == 200


def test_a_dropped_connection_mid_flow_loses_nothing_and_doubles_nothing(socket_driver, simulator, db, hearth):
    from storage import members
    from storage.models import SlackEvent

    ran = []

    @hearth.bolt.middleware  # after Hearth's own: sees only the events let through to the listeners
    def count(body, next):
        if body.get("type") == "event_callback":
            ran.append(body["event_id"])
        return next()

    gateway = simulator.socket_mode
    # Bob joins a circle's channel; the connection is lost right after Slack sent the event, so its ack may
    # never arrive: Slack retries it (over the new connection) and Hearth must handle it exactly once.
    simulator.join("UBOB", "CCIRCLE")
    first = _event(simulator, {"type": "member_joined_channel", "user": "UBOB", "channel": "CCIRCLE",
                               "channel_type": "C", "team": simulator.workspace.team_id})
    sent = gateway.deliver("events_api", first, drop_after_send=True)
    assert sent.acked, "acked, on the first attempt over the new connection or on a retry"
    # A silently dead socket is noticed by the client's session monitor (a few ping intervals; 1 s here).
    assert wait_for(lambda: gateway.connections_made >= 2 and gateway.connection_count == 1, timeout=15)
    assert wait_for(lambda: first["event_id"] in ran)

    # Mid-flow: an event, then the connection drops, then the member carries on.
    carmen = socket_driver.member_joined_channel("UCARMEN", "CCIRCLE")
    gateway.drop()
    assert wait_for(lambda: gateway.connections_made >= 3 and gateway.connection_count == 1, timeout=15)
    home = socket_driver.app_home_opened("UCARMEN")
    assert carmen.status == home.status == 200
    assert wait_for(lambda: simulator.home("UCARMEN") is not None)
    assert members.get(db, "T0HEARTH", "UCARMEN") is not None

    # Slack's own retry of an event Hearth already handled changes nothing.
    assert socket_driver.member_joined_channel("UCARMEN", "CCIRCLE", event_id=carmen.event_id,
                                               retry_num=1).status == 200
    wait_for(lambda: len(ran) > 3, timeout=0.5)
    assert sorted(ran) == sorted([first["event_id"], carmen.event_id, home.event_id])  # each once
    with db.session() as s:
        assert s.query(SlackEvent).count() == 2  # a row per event (a Home open is only drawn again), retries none


def test_a_report_form_submitted_after_the_connection_dropped_makes_one_case(socket_driver, simulator, hearth):
    from slack_app.reports.ids import ReportView
    from storage import reports as store

    gateway = simulator.socket_mode
    assert socket_driver.command("UBOB", "/report", channel="CCIRCLE").status == 200
    assert wait_for(lambda: (simulator.latest_view("UBOB") or {}).get("callback_id") == ReportView.INTAKE)
    gateway.drop()  # while Bob is filling the form in
    assert wait_for(lambda: gateway.connections_made >= 2 and gateway.connection_count == 1, timeout=15)
    view = simulator.latest_view("UBOB")
    answers = {"category": "harassment", "text": "Emi keeps mocking me in threads", "urgency": "high",
               "options": ["follow_up"]}
    resp = socket_driver.submit_view("UBOB", view["id"], answers)
    assert resp.status == 200 and resp.view_error is None and resp.json["response_action"] == "update"
    with hearth.services.db.session() as s:
        assert [c.number for c in store.cases(s, "T0HEARTH")] == [1]


def test_hearth_without_connections_write_says_which_scope_the_app_level_token_lacks(hearth, simulator):
    from slack_app.settings import SettingsError
    from slack_app.socket_mode import SocketModeConnection

    simulator.socket_mode.app_token_scopes = set()
    with pytest.raises(SettingsError) as refused:
        SocketModeConnection(hearth, simulator.socket_mode.app_token, ping_interval=1).start()
    assert "apps.connections.open answered missing_scope" in str(refused.value)
    assert "connections:write" in str(refused.value)
    assert simulator.socket_mode.connections_made == 0


def test_stopping_acks_the_envelopes_in_hand_refuses_new_ones_then_closes(hearth, socket_connection, simulator):
    from slack_app.simulator import SlackDriver

    gateway = simulator.socket_mode
    entered, release = threading.Event(), threading.Event()

    @hearth.bolt.middleware
    def slow_to_ack(body, next):  # an envelope still in hand, its ack not sent, when the stop begins
        if body.get("text") == "help slowly":
            entered.set()
            release.wait(10)
        return next()

    member = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True)
    in_hand = []
    first = threading.Thread(target=lambda: in_hand.append(member.command("UALICE", "/hearth", text="help slowly")))
    first.start()
    assert entered.wait(5)
    stopping = threading.Thread(target=socket_connection.stop, kwargs={"timeout": 10})
    stopping.start()
    assert wait_for(lambda: socket_connection._handler.draining)
    # Sent while stopping: left unacked (Slack shows its error for a command, retries an event elsewhere).
    late = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True, timeout=1.0, raise_on_late_ack=False)
    assert late.command("UBOB", "/hearth", text="help").status == 504
    assert gateway.connection_count == 1, "the socket stays open while an envelope in hand awaits its ack"
    release.set()
    first.join(10)
    stopping.join(15)
    [answer] = in_hand
    assert answer.status == 200 and "/checkin" in answer.json["text"]
    assert wait_for(lambda: gateway.connection_count == 0)
    assert gateway.late_acks == 0



@pytest.mark.parametrize("simulator", [{"socket_ping_interval": None}], indirect=True)  # Slack's side never pings
def test_stopping_does_not_wait_for_a_frame_to_arrive(hearth, simulator):
    """slack_sdk's close waits for the receiving thread, blocked in recv until a frame comes or its timeout ends
    (3 s: every stop took up to that much longer). With no timeout and no frame coming, a stop must still end:
    it wakes the recv itself."""
    from slack_app.simulator import SlackDriver
    from slack_app.socket_mode import SocketModeConnection

    connection = SocketModeConnection(hearth, simulator.socket_mode.app_token, ping_interval=600).start()
    session = connection.client.current_session
    assert session is not None and session.sock is not None
    session.sock.settimeout(None)  # the next recv waits for a frame, however long
    # An envelope and its ack: the receiving thread has read a frame since, so it now waits without a timeout.
    member = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True)
    assert member.command("UALICE", "/hearth", text="help").status == 200
    stopping = threading.Thread(target=connection.stop, kwargs={"timeout": 5}, daemon=True)
    stopping.start()
    stopping.join(20)
    assert not stopping.is_alive(), "the stop waited for a frame that never comes"
    assert wait_for(lambda: simulator.socket_mode.connection_count == 0)
    assert not connection.client.is_connected()

def _event(simulator, event):
    import secrets

    ws = simulator.workspace
    return {"type": "event_callback", "team_id": ws.team_id, "api_app_id": ws.app_id, "event": event,
            "event_id": "Ev" + secrets.token_hex(5).upper(), "event_time": 1700000000,
            "authorizations": [{"team_id": ws.team_id, "user_id": ws.bot_user_id, "is_bot": True}]}


# ---- `hearth run`: a real process, stopped with SIGTERM ----------------------------------------------

@pytest.mark.parametrize("no_worker", [False, True], ids=["with-worker", "no-worker"])
def test_hearth_run_serves_over_socket_mode_and_sigterm_finishes_in_flight_work(simulator, tmp_path, no_worker):
    env = run_env(simulator, tmp_path)
    proc = subprocess.Popen([HEARTH, "run", *(["--no-worker"] if no_worker else [])], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert simulator.socket_mode.wait_for_connections(1, timeout=30), "hearth run connected"
        from slack_app.simulator import SlackDriver

        driver = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True)
        assert driver.command("UALICE", "/hearth", text="help").json["response_type"] == "ephemeral"
        # A report's modal opens after the ack; Slack is slow to answer it while the process is told to stop.
        simulator.delay_next("views.open", 1.5)
        assert driver.command("UALICE", "/report").status == 200
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert [c.ok for c in simulator.calls_for("views.open")] == [True]  # the listener in flight finished
    assert simulator.socket_mode.connection_count == 0
    assert "socket.closed drained=True" in output
    assert "Traceback" not in output
    # the delivery worker and the scheduler ran here, unless --no-worker left them to `hearth worker`
    assert ("delivery.stopped" in output and "leader." in output) is not no_worker
    assert ("delivery." in output or "leader." in output) is not no_worker


def test_hearth_run_with_a_wrong_app_token_says_so_in_one_line(simulator, tmp_path):
    env = run_env(simulator, tmp_path, SLACK_APP_TOKEN="xapp-1-not-this-app")
    result = subprocess.run([HEARTH, "run"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "hearth: Socket Mode could not connect (apps.connections.open answered invalid_auth)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_hearth_run_on_a_taken_http_port_says_so_in_one_line(simulator, tmp_path):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = subprocess.run([HEARTH, "run", "--http-port", str(port)], env=run_env(simulator, tmp_path),
                                cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert f"hearth: --http-port cannot listen on 127.0.0.1:{port} (Address already in use)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert simulator.socket_mode.connections_made == 0


def test_hearth_run_http_port_answers_the_health_check_beside_socket_mode(simulator, database_url, db, db_key,
                                                                        tmp_path):
    from slack_app.simulator import SlackDriver

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = run_env(simulator, tmp_path, DATABASE_URL=database_url, HEARTH_ENCRYPTION_KEY=db_key)
    with HearthRun(env, "--http-port", str(port), log=tmp_path / "run.log") as run:
        assert simulator.socket_mode.wait_for_connections(1, timeout=30), "hearth run connected"
        run.wait_listening(url + "/healthz")
        assert get(url + "/healthz") == (200, json.dumps({"status": "ok", "database": "reachable"}))
        # Slack's requests come over the socket: the listener takes no events, signed or not, and (OAuth not
        # being configured) offers no install page.
        over_http = SlackDriver(url + "/slack/events", SIGNING_SECRET, simulator)
        assert over_http.command("UALICE", "/hearth", text="help").status == 404
        assert get(url + "/slack/install")[0] == 404
        over_socket = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True)
        assert "/checkin" in over_socket.command("UALICE", "/hearth", text="help").json["text"]
        assert run.stop() == 0, run.output
    assert f"http.listening host=127.0.0.1 port={port} events=off oauth=off" in run.output
    assert "socket.closed drained=True" in run.output and "Traceback" not in run.output
    with pytest.raises(OSError):
        get(url + "/healthz", timeout=1)  # closed with the process


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: the database is made unreachable by cutting its network "
                                       "path, which an SQLite file does not have")
def test_hearth_run_health_check_is_503_while_the_database_is_unreachable(simulator, database_url, db, db_key,
                                                                          tmp_path):
    from sqlalchemy.engine import make_url

    target = make_url(database_url)
    path = CuttablePath(target.host or "127.0.0.1", target.port or 5432)
    port = free_port()
    url = f"http://127.0.0.1:{port}/healthz"
    through = target.set(host="127.0.0.1", port=path.port).render_as_string(hide_password=False)
    env = run_env(simulator, tmp_path, DATABASE_URL=through, HEARTH_ENCRYPTION_KEY=db_key)
    try:
        with HearthRun(env, "--http-port", str(port), "--no-worker", log=tmp_path / "run.log") as run:
            run.wait_listening(url)
            assert get(url)[0] == 200
            path.sever()
            status, body = get(url)
            assert (status, json.loads(body)) == (503, {"status": "unavailable", "database": "unreachable"})
            path.restore()
            assert get(url)[0] == 200  # a new connection once the database is back
            assert run.stop() == 0, run.output
    finally:
        path.close()


class CuttablePath:
    """A loopback TCP forwarder to the database that a test cuts, as a network failure would: open
    connections are closed and new ones refused until `restore`."""

    def __init__(self, host: str, port: int) -> None:
        import socket

        self.target = (host, port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._cut = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._cut.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._sockets += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src, dst) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            _close(src, dst)

    def sever(self) -> None:
        self._cut.set()
        with self._lock:
            _close(*self._sockets)
            self._sockets.clear()

    def restore(self) -> None:
        self._cut.clear()

    def close(self) -> None:
        self._listener.close()
        self.sever()


def _close(*sockets) -> None:
    import socket

    for s in sockets:
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        s.close()


# ---- two instances on one PostgreSQL -----------------------------------------------------------------

@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_two_instances_share_the_envelopes_with_one_scheduler_leader(app_settings, db, simulator):
    from slack_app.app import build_app
    from slack_app.runtime import start_background
    from slack_app.services import build_services
    from slack_app.simulator import SlackDriver
    from slack_app.socket_mode import SocketModeConnection
    from slack_app.workflows import WORKFLOWS

    apps = [build_app(app_settings, services=build_services(app_settings, db=db, workflows=WORKFLOWS))
            for _ in range(2)]
    seen = {0: 0, 1: 0}

    def counting(i):
        def middleware(next):
            seen[i] += 1
            return next()
        return middleware

    for i, app in enumerate(apps):
        app.bolt.middleware(counting(i))
    backgrounds = [start_background(app.services, worker=False, leader_retry_interval=0.2) for app in apps]
    connections = [SocketModeConnection(app, simulator.socket_mode.app_token, ping_interval=1).start() for app in apps]
    try:
        assert simulator.socket_mode.wait_for_connections(2)
        driver = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True)
        for _ in range(3):
            assert driver.command("UALICE", "/hearth", text="help").status == 200
        joined = driver.member_joined_channel("UBOB", "CCIRCLE")
        for retry in (1, 2):  # Slack's retries go to whichever connection; the shared database runs it once
            driver.member_joined_channel("UBOB", "CCIRCLE", event_id=joined.event_id, retry_num=retry)
        # Each envelope reached exactly one instance, both took a share, and the retries stopped at the dedupe
        # (the counting middleware runs after it): three commands and one event.
        assert wait_for(lambda: seen[0] + seen[1] >= 4)
        wait_for(lambda: seen[0] + seen[1] > 4, timeout=0.5)
        assert seen[0] + seen[1] == 4 and min(seen.values()) >= 1
        assert wait_for(lambda: sum(b.is_leader for b in backgrounds) == 1)
    finally:
        for c in connections:
            c.stop(timeout=5)
        for b in backgrounds:
            b.stop()


@pytest.mark.skipif(not PG_URL, reason="PostgreSQL-only: runs in the PostgreSQL pass")
def test_two_hearth_run_processes_handle_each_envelope_once_with_one_scheduler_leader(simulator, database_url, db,
                                                                                      db_key, tmp_path):
    from sqlalchemy import text

    from slack_app.reports.ids import ReportView
    from slack_app.simulator import SlackDriver
    from storage import reports as store
    from storage.models import SlackEvent

    gateway = simulator.socket_mode
    env = run_env(simulator, tmp_path, DATABASE_URL=database_url, HEARTH_ENCRYPTION_KEY=db_key)
    runs = [HearthRun(env, log=tmp_path / f"run{i}.log") for i in range(2)]
    try:
        assert gateway.wait_for_connections(2, timeout=30), "both processes connected"
        driver = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True)
        # Commands answered in the ack, and commands opening a modal; then the modals submitted (interactions).
        for user in ("UALICE", "UBOB", "UCARMEN", "UDAN"):
            assert "/checkin" in driver.command(user, "/hearth", text="help").json["text"]
        reporters = ("UBOB", "UCARMEN")
        for user in reporters:
            assert driver.command(user, "/report", channel="CCIRCLE").status == 200
        assert wait_for(lambda: all((simulator.latest_view(u) or {}).get("callback_id") == ReportView.INTAKE
                                    for u in reporters))
        answers = {"category": "harassment", "text": "Emi keeps mocking me in threads", "urgency": "high",
                   "options": ["follow_up"]}
        for user in reporters:
            resp = driver.submit_view(user, simulator.latest_view(user)["id"], answers)
            assert resp.status == 200 and resp.json["response_action"] == "update"
        # Events, and Slack's retries of one of them (they go to whichever connection is next).
        homes = {user: driver.app_home_opened(user) for user in ("UALICE", "UBOB", "UCARMEN")}
        joined = driver.member_joined_channel("UDAN", "CCIRCLE")
        for retry in (1, 2):
            assert driver.member_joined_channel("UDAN", "CCIRCLE", event_id=joined.event_id,
                                                retry_num=retry).status == 200
        assert all(h.status == 200 for h in (*homes.values(), joined))

        # Each envelope was handled exactly once, whichever process took it.
        def published():
            return sorted(c.params["user_id"] for c in simulator.calls_for("views.publish"))

        def told():
            return [c for c in simulator.calls_for("chat.postMessage") if c.params.get("channel") == "GMODS"]

        assert wait_for(lambda: published() == ["UALICE", "UBOB", "UCARMEN"])
        assert [c.ok for c in simulator.calls_for("views.open")] == [True, True]
        with db.session() as s:
            assert [c.number for c in store.cases(s, "T0HEARTH")] == [1, 2]
            assert s.query(SlackEvent).count() == 1  # the join, once; Home opens are drawn again, not recorded
        assert wait_for(lambda: len(told()) == 2), "the moderators hear of each case once (the workers share the outbox)"
        wait_for(lambda: len(published()) > 3 or len(told()) > 2, timeout=0.5)
        assert len(published()) == 3 and len(told()) == 2
        assert gateway.late_acks == 0

        # Both are candidates for the scheduler's advisory lock; exactly one holds it.
        with db.engine.connect() as conn:
            candidates, holders = conn.execute(text(
                "SELECT count(DISTINCT a.pid), count(l.pid) FROM pg_stat_activity a "
                "LEFT JOIN pg_locks l ON l.pid = a.pid AND l.locktype = 'advisory' AND l.granted "
                "WHERE a.datname = current_database() AND a.application_name = 'hearth-leader'")).one()
        assert (candidates, holders) == (2, 1)
    finally:
        for run in runs:
            run.terminate()
        codes = [run.stop() for run in runs]
    outputs = [run.output for run in runs]
    assert codes == [0, 0], outputs
    assert all("socket.closed drained=True" in o and "Traceback" not in o for o in outputs)
    # Both processes took a share of the envelopes (the lines their listeners log)...
    handled = ("reports.form_shown", "reports.submitted", "method=views.publish", "event.duplicate")
    assert all(any(line in o for line in handled) for o in outputs), outputs
    assert [sum(o.count(line) for o in outputs) for line in handled] == [2, 2, 3, 2]
    # ...and one of them led the scheduler.
    assert sorted("leader.elected" in o for o in outputs) == [False, True]
    assert sum(o.count("scheduler.started") for o in outputs) == 1


def test_an_event_sent_to_an_instance_that_is_stopping_is_retried_to_the_other_and_runs_once(app_settings, db,
                                                                                             simulator):
    from slack_app.app import build_app
    from slack_app.services import build_services
    from slack_app.simulator import SlackDriver
    from slack_app.socket_mode import SocketModeConnection
    from slack_app.workflows import WORKFLOWS

    gateway = simulator.socket_mode
    apps = [build_app(app_settings, services=build_services(app_settings, db=db, workflows=WORKFLOWS))
            for _ in range(2)]
    hold, entered, release = threading.Event(), threading.Event(), threading.Event()

    @apps[0].bolt.middleware
    def held(body, next):  # the stopping instance keeps one envelope in hand, so its socket stays open a while
        if body.get("command") and hold.is_set():
            hold.clear()
            entered.set()
            release.wait(15)
        return next()

    connections = [SocketModeConnection(app, gateway.app_token, ping_interval=1).start() for app in apps]
    stopping = threading.Thread(target=connections[0].stop, kwargs={"timeout": 20})
    try:
        assert gateway.wait_for_connections(2)
        # The held command is acked late (the member would see Slack's error); that is not what is tested here.
        driver = SlackDriver(None, SIGNING_SECRET, simulator, socket_mode=True, raise_on_late_ack=False)
        hold.set()
        commands = [threading.Thread(target=driver.command, args=("UALICE", "/hearth"), kwargs={"text": "help"})
                    for _ in range(2)]  # one of two reaches the first instance (envelopes alternate)
        for c in commands:
            c.start()
        assert entered.wait(5)
        stopping.start()
        assert wait_for(lambda: connections[0]._handler.draining)
        # Two App Home events: at least one lands on the stopping instance, which leaves it unacked; Slack's
        # retry reaches the other instance, and each event runs exactly once.
        sent = [gateway.deliver("events_api", _event(simulator, {"type": "app_home_opened", "user": user,
                                                                 "channel": "D" + user[1:], "tab": "home"}))
                for user in ("UBOB", "UCARMEN")]
        assert all(d.acked for d in sent) and sum(d.attempts for d in sent) >= 3
        assert wait_for(lambda: len(simulator.calls_for("views.publish")) == 2)
        wait_for(lambda: len(simulator.calls_for("views.publish")) > 2, timeout=0.5)
        assert sorted(c.params["user_id"] for c in simulator.calls_for("views.publish")) == ["UBOB", "UCARMEN"]
        release.set()
        for c in commands:
            c.join(10)
        stopping.join(20)
        assert gateway.connection_count == 1 and gateway.late_acks == 0
    finally:
        release.set()
        if stopping.ident is None:
            connections[0].stop(timeout=5)
        else:
            stopping.join(20)
        connections[1].stop(timeout=5)
