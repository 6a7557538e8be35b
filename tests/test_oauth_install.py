"""Multi-workspace install over OAuth, through the real app and the simulator's oauth.v2.access: install page →
Slack's consent (simulated) → redirect → encrypted installation → the new workspace is served with its own token
→ revocation forgets it. In HTTP mode, and through a real `hearth run` (pages on its --http-port, Slack's
requests over Socket Mode)."""

import re
import urllib.parse
import urllib.request

import pytest
from sqlalchemy import text

from slack_app.simulator import SlackDriver, SlackSimulator, demo_workspace, wait_for
from tests.conftest import SIGNING_SECRET
from tests.hearth_run import HearthRun, free_port, run_env

CLIENT_ID, CLIENT_SECRET = "111.222", "oauth-client-secret"


@pytest.fixture
def oauth_simulator():
    with SlackSimulator(demo_workspace(), bot_token="xoxb-unused", rate_limits=False, client_id=CLIENT_ID,
                        client_secret=CLIENT_SECRET) as sim:
        yield sim


@pytest.fixture
def oauth_app(oauth_simulator, database_url, db, tmp_path):
    from slack_app.app import build_app
    from slack_app.server import start_in_thread
    from slack_app.services import build_services
    from slack_app.settings import load_settings
    from slack_app.workflows import WORKFLOWS
    from storage.crypto import generate_key

    settings = load_settings(env_file=None, SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_CLIENT_ID=CLIENT_ID,
                             SLACK_CLIENT_SECRET=CLIENT_SECRET, SLACK_API_URL=oauth_simulator.base_url,
                             DATABASE_URL=database_url, ARCHIVE_URL=str(tmp_path / "archive"),
                             HEARTH_ENCRYPTION_KEY=generate_key())
    hearth = build_app(settings, services=build_services(settings, db=db, workflows=WORKFLOWS))
    running = start_in_thread(hearth)
    yield hearth, running
    running.stop()


def fetch(url, cookie=None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


def test_a_workspace_installs_over_oauth_and_is_served_with_its_own_encrypted_token(oauth_app, oauth_simulator, db):
    _, running = oauth_app
    issued = install(running.url, oauth_simulator, db)
    served_then_forgotten(SlackDriver(running.events_url, SIGNING_SECRET, oauth_simulator), oauth_simulator, issued, db)


def test_hearth_run_offers_the_install_pages_on_its_http_port_and_serves_the_workspace_over_socket_mode(
        oauth_simulator, database_url, db, db_key, tmp_path):
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = run_env(oauth_simulator, tmp_path, DATABASE_URL=database_url, HEARTH_ENCRYPTION_KEY=db_key,
                  SLACK_CLIENT_ID=CLIENT_ID, SLACK_CLIENT_SECRET=CLIENT_SECRET)
    del env["SLACK_BOT_TOKEN"]  # tokens come from installs
    with HearthRun(env, "--http-port", str(port), log=tmp_path / "run.log") as run:
        assert oauth_simulator.socket_mode.wait_for_connections(1, timeout=30), "hearth run connected"
        run.wait_listening(url + "/healthz")
        issued = install(url, oauth_simulator, db)
        over_socket = SlackDriver(None, SIGNING_SECRET, oauth_simulator, socket_mode=True)
        served_then_forgotten(over_socket, oauth_simulator, issued, db)
        assert run.stop() == 0, run.output
    assert "oauth=on" in run.output and "Traceback" not in run.output


def install(base_url, oauth_simulator, db):
    """An admin installs the app through Hearth's pages at `base_url`; the bot token Slack issued."""
    status, headers, page = fetch(base_url + "/slack/install")
    assert status == 200
    # Bolt's state cookie is Secure (https only); over loopback http the test carries it as a browser would.
    state_cookie = headers["Set-Cookie"].split(";")[0]
    authorize = re.search(r'href="([^"]+oauth/v2/authorize[^"]+)"', page).group(1).replace("&amp;", "&")
    query = urllib.parse.parse_qs(urllib.parse.urlparse(authorize).query)
    assert query["client_id"] == [CLIENT_ID] and "chat:write" in query["scope"][0].split(",")

    # The admin approves in Slack, which sends the browser back with a one-time code and the same state.
    code = oauth_simulator.issue_oauth_code("UFINN")
    status, _, page = fetch(base_url + "/slack/oauth_redirect?" +
                            urllib.parse.urlencode({"code": code, "state": query["state"][0]}), state_cookie)
    assert status == 200, page
    with db.engine.connect() as conn:
        stored = conn.execute(text("SELECT bot_token FROM slack_bots WHERE team_id = 'T0HEARTH'")).scalar()
    assert len(oauth_simulator.calls_for("oauth.v2.access")) == 1
    [issued] = [t for t in oauth_simulator.state.tokens if t != "xoxb-unused"]
    assert stored and issued not in stored  # encrypted at rest
    return issued


def served_then_forgotten(driver, oauth_simulator, issued, db):
    # Slack now sends this workspace's requests; Hearth answers them with the installed token.
    assert driver.app_home_opened("UALICE").status == 200
    assert wait_for(lambda: oauth_simulator.home("UALICE") is not None)
    assert {c.token for c in oauth_simulator.calls_for("views.publish")} == {issued}

    # Revoking the token (or uninstalling) forgets the installation.
    driver.event({"type": "tokens_revoked", "tokens": {"bot": ["UHEARTHBOT"]}})
    with db.engine.connect() as conn:
        assert wait_for(lambda: conn.execute(text("SELECT count(*) FROM slack_bots")).scalar() == 0)


def test_a_redirect_with_a_forged_state_installs_nothing(oauth_app, oauth_simulator, db):
    _, running = oauth_app
    status, _, _ = fetch(running.url + "/slack/oauth_redirect?code=" + oauth_simulator.issue_oauth_code("UFINN")
                         + "&state=forged", "slack-app-oauth-state=forged")
    assert status in (400, 401, 403)
    assert oauth_simulator.calls_for("oauth.v2.access") == []
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM slack_bots")).scalar() == 0


def test_an_installed_workspace_is_authorized_without_asking_slack_before_every_ack(oauth_app, oauth_simulator, db):
    """Bolt's default authorize for installs called auth.test before every ack: a Web API round trip on the
    request path, and once Slack answered it 429 (it allows a burst of about 100) requests went unanswered."""
    _, running = oauth_app
    issued = install(running.url, oauth_simulator, db)
    driver = SlackDriver(running.events_url, SIGNING_SECRET, oauth_simulator)
    oauth_simulator.clear_calls()
    help_text = driver.command("UALICE", "/hearth", "help").json["text"]
    assert len(oauth_simulator.calls_for("auth.test")) == 1  # the workspace's first request, once per token

    oauth_simulator.fail_next("auth.test", error="ratelimited", count=100)
    for user in ("UALICE", "UBOB", "UCARMEN") * 5:
        assert driver.command(user, "/hearth", "help").json["text"] == help_text
    assert driver.app_home_opened("UBOB").status == 200
    assert wait_for(lambda: oauth_simulator.home("UBOB") is not None)
    assert len(oauth_simulator.calls_for("auth.test")) == 1
    assert {c.token for c in oauth_simulator.calls_for("views.publish")} == {issued}

    # An uninstall still ends it at once: each request reads the installation, only Slack's answer is kept.
    driver.event({"type": "app_uninstalled"})
    with db.engine.connect() as conn:
        assert wait_for(lambda: conn.execute(text("SELECT count(*) FROM slack_bots")).scalar() == 0)
    assert driver.command("UALICE", "/hearth", "help").json != {"text": help_text}
