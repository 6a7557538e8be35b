"""The baseline of bench/load.py: a Bolt app that only acks, served exactly as `hearth serve` serves Hearth.

Over HTTP: same WSGI front (request screening, Bolt's own signature check), same waitress settings and threads, same
listener executor, same Web API client: only Hearth's middleware and listeners are missing, so the gap
between the two is what Hearth's own work costs. With --app-token it is served over Socket Mode instead, as
`hearth run` serves Hearth: Bolt's SocketModeHandler on slack_sdk's built-in client, same ping interval and
concurrency.

    python -m bench._bare --port 3001 --signing-secret S --api-url URL --token xoxb-… [--processes N]
                          [--app-token xapp-…]
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys

from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from waitress import create_server

from slack_app.processes import run_in_processes
from slack_app.request_path import listener_executor
from slack_app.server import limits, listening_socket
from slack_app.slack_port import make_request_client
from slack_app.socket_mode import CONCURRENCY, PING_INTERVAL
from slack_app.web import wsgi_for

ANY = re.compile(".*")


def bare_app(signing_secret: str, token: str, api_url: str) -> App:
    bolt = App(name="bare.bolt", signing_secret=signing_secret, client=make_request_client(token, api_url),
               listener_executor=listener_executor(), logger=logging.getLogger("bare.bolt"))

    def just_ack(ack: Ack) -> None:
        ack()

    for listen in (bolt.command, bolt.action, bolt.view, bolt.shortcut):
        listen(ANY)(just_ack)
    bolt.event(ANY)(lambda: None)  # Bolt acks events itself
    return bolt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, help="serve over HTTP on this port")
    ap.add_argument("--app-token", help="serve over Socket Mode with this app-level token instead")
    ap.add_argument("--signing-secret", required=True)
    ap.add_argument("--api-url", required=True)
    ap.add_argument("--token", required=True)
    ap.add_argument("--processes", type=int, default=1, help="as `hearth serve --processes` (HTTP only)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    bolt = bare_app(args.signing_secret, args.token, args.api_url)
    if args.app_token:
        SocketModeHandler(bolt, args.app_token, ping_interval=PING_INTERVAL, concurrency=CONCURRENCY).start()
        return
    if args.port is None:
        ap.error("give --port (HTTP) or --app-token (Socket Mode)")
    wsgi = wsgi_for(bolt, args.signing_secret, health=lambda: True)
    sock = listening_socket(args.host, args.port)

    def serve(index: int = 0) -> None:
        create_server(wsgi, sockets=[sock], **limits()).run()

    if args.processes == 1:
        serve()
    else:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # in each process, as `hearth serve` unwinds
        sys.exit(run_in_processes(args.processes, serve, [sock]))


if __name__ == "__main__":
    main()
