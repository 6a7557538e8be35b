"""Web API calls on kept-alive connections (`slack_app.web_transport`), against the simulator over real HTTP."""

from __future__ import annotations

import os

import pytest
from slack_sdk import WebClient

from slack_app import web_transport
from slack_app.simulator import SlackSimulator, demo_workspace
from slack_app.slack_port import SlackError, WebApiPort, make_client, make_delivery_client, make_request_client


@pytest.fixture
def sim():
    with SlackSimulator(demo_workspace(), rate_limits=False) as s:
        yield s


def test_calls_in_turn_share_one_connection(sim):
    port = WebApiPort(make_delivery_client(sim.bot_token, sim.base_url))
    for i in range(5):
        port.post_message("CGENERAL", f"m{i}")
    assert len(sim.calls_for("chat.postMessage")) == 5
    assert sim.connections_accepted == 1  # urllib's way opened one per call


def test_bolts_request_client_keeps_its_token_workspace_and_handlers_on_the_pool(sim):
    client = WebClient(token=sim.bot_token, base_url=sim.base_url, timeout=5, team_id="T1",
                       retry_handlers=make_request_client(None, sim.base_url).retry_handlers)
    copy = web_transport.pooled(client)
    assert isinstance(copy, web_transport.PooledWebClient)
    assert (copy.token, copy.base_url, copy.timeout, copy.default_params) == (sim.bot_token, sim.base_url, 5,
                                                                              {"team_id": "T1"})
    assert copy.retry_handlers is client.retry_handlers and copy.headers == client.headers
    WebApiPort(copy).auth_test()
    WebApiPort(copy).auth_test()
    assert sim.connections_accepted == 1


def test_an_error_status_reaches_slack_sdk_as_urllib_reported_it(sim):
    port = WebApiPort(make_client(sim.bot_token, sim.base_url, max_retries=0))
    sim.fail_next("chat.postMessage", status=503)
    with pytest.raises(SlackError) as info:
        port.post_message("CGENERAL", "hi")
    assert (info.value.status, info.value.error) == (503, "fatal_error")  # the body Slack sent with it
    sim.fail_next("chat.postMessage", status=429)
    with pytest.raises(SlackError) as info:
        port.post_message("CGENERAL", "hi")
    assert (info.value.status, info.value.retry_after) == (429, 1.0)
    port.post_message("CGENERAL", "after")  # the connection is still good for the next call
    assert sim.connections_accepted == 1


def test_the_request_client_retries_a_5xx_once_on_the_pool(sim):
    port = WebApiPort(make_request_client(sim.bot_token, sim.base_url))
    sim.fail_next("chat.postMessage", status=500)
    port.post_message("CGENERAL", "hi")
    assert len(sim.calls_for("chat.postMessage")) == 2


def test_no_answer_in_time_is_named_a_timeout(sim):
    port = WebApiPort(make_delivery_client(sim.bot_token, sim.base_url, timeout=1))
    sim.delay_next("chat.postMessage", 2.5)
    with pytest.raises(SlackError) as info:
        port.post_message("CGENERAL", "hi")
    assert (info.value.error, info.value.status) == ("TimeoutError", None)  # maybe delivered: reconcile


def test_a_stopped_slack_closes_the_kept_connection_and_refuses_the_next():
    with SlackSimulator(demo_workspace(), rate_limits=False) as sim:
        port = WebApiPort(make_delivery_client(sim.bot_token, sim.base_url))
        port.post_message("CGENERAL", "hi")
    with pytest.raises(SlackError) as info:
        port.post_message("CGENERAL", "hi")
    assert info.value.error == "ConnectionRefusedError"  # never connected: safe to send again


def test_a_forked_process_opens_connections_of_its_own(sim):
    WebApiPort(make_client(sim.bot_token, sim.base_url)).auth_test()
    parent_pool = web_transport._manager()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: a pool of its own, and the parent's connection left alone
        ok = web_transport._pool is None and web_transport._manager() is not parent_pool
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    assert web_transport._manager() is parent_pool


@pytest.fixture
def tls(tmp_path):
    """A server context for 127.0.0.1, and the certificate a client must trust for it."""
    import ssl

    from bench.web_api_calls import certificate

    cert_file, key_file = certificate(tmp_path)
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert_file, key_file)
    return server_side, cert_file


def test_over_https_calls_share_one_connection_and_its_handshake(tls, monkeypatch):
    server_side, cert_file = tls
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # as a system's CA bundle: the client verifies it
    with SlackSimulator(demo_workspace(), rate_limits=False, tls=server_side) as sim:
        assert sim.base_url.startswith("https://")
        port = WebApiPort(make_client(sim.bot_token, sim.base_url))
        for i in range(3):
            port.post_message("CGENERAL", f"m{i}")
        assert len(sim.calls_for("chat.postMessage")) == 3 and sim.connections_accepted == 1


def test_a_certificate_the_client_does_not_trust_is_refused(tls, monkeypatch):
    server_side, _cert_file = tls
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    with SlackSimulator(demo_workspace(), rate_limits=False, tls=server_side) as sim:
        port = WebApiPort(make_delivery_client(sim.bot_token, sim.base_url))
        with pytest.raises(SlackError) as info:
            port.post_message("CGENERAL", "hi")
        assert info.value.error == "SSLCertVerificationError" and sim.calls_for("chat.postMessage") == []


def test_respond_posts_share_the_kept_connection_and_a_refusal_is_slacks_answer(sim):
    """Bolt's respond() as Hearth's listeners get it: each post on the kept connection, the dict form too, and a
    used-up response_url answered as slack_sdk's own WebhookClient reports it (a 404 response, not an exception)."""
    respond = web_transport.PooledRespond(response_url=sim.new_response_url("UBOB", "CGENERAL"))
    sent = [respond("one", response_type="ephemeral"), respond({"text": "two", "replace_original": False})]
    sent += [respond(f"more {i}") for i in range(3)]
    refused = respond("a sixth")
    assert [r.status_code for r in sent] == [200] * 5
    assert [p["body"] for p in sim.response_url_posts()[:2]] == [
        {"text": "one", "response_type": "ephemeral"}, {"text": "two", "replace_original": False}]
    assert (refused.status_code, refused.body) == (404, "expired_url")
    assert [p["body"]["text"] for p in sim.refused_response_url_posts()] == ["a sixth"]
    assert sim.connections_accepted == 1  # Bolt's own Respond opened one per post


def test_hearths_listeners_respond_on_the_kept_connection(driver, simulator):
    """Hearth's listeners get `PooledRespond` as `respond`: `/checkin pause` and `resume` answer through it, and
    the second answer opens no connection of its own."""
    from slack_app.simulator import wait_for

    driver.command("UBOB", "/checkin", "pause")
    assert wait_for(lambda: len(simulator.response_url_posts()) == 1)
    opened = simulator.connections_accepted
    driver.command("UBOB", "/checkin", "resume")
    assert wait_for(lambda: len(simulator.response_url_posts()) == 2)
    assert simulator.connections_accepted == opened
    assert all(p["body"]["response_type"] == "ephemeral" for p in simulator.response_url_posts())
