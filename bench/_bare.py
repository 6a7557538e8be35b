"""The baseline of bench/load.py: a Bolt app that only acks, served exactly as `hearth serve` serves Hearth.

Over HTTP: same WSGI front (request screening, Bolt's own signature check), same waitress settings and threads, same
listener executor, same Web API client: only Hearth's middleware and listeners are missing, so the gap
between the two is what Hearth's own work costs. With --app-token it is served over Socket Mode instead, as
`hearth run` serves Hearth: Bolt's SocketModeHandler on slack_sdk's built-in client, same ping interval and
concurrency.

    python -m bench._bare --port 3001 --signing-secret S --api-url URL --token xoxb-… [--processes N]
                          [--app-token xapp-…] [--writes DATABASE_URL]

--writes makes it the floor: each kind of request does the least that any app answering bench/load.py's mix
must do for it, and no more. A modal submission (a check-in, a survey answer, a report) stores one row (its kind
and the time) in a transaction of its own on that database before its ack, through `storage.db.Database` as
Hearth does; a command or button that opens a modal in Hearth opens a one-block modal (views.open, with the
request's trigger); `/… help` answers in its ack; an App Home open publishes a one-block Home (views.publish).
Its throughput beside the bare app's bounds what an app doing this mix's work can reach.
"""

from __future__ import annotations

import argparse
import logging
import re
import signal
import sys
from datetime import UTC, datetime

from slack_bolt import Ack, App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table
from waitress import create_server

from slack_app.processes import run_in_processes
from slack_app.request_path import listener_executor
from slack_app.server import limits, listening_socket
from slack_app.slack_port import make_request_client
from slack_app.socket_mode import CONCURRENCY, PING_INTERVAL
from slack_app.web import wsgi_for
from storage.db import Database

ANY = re.compile(".*")


FLOOR = Table("bench_floor", MetaData(), Column("id", Integer, primary_key=True), Column("kind", String(32)),
              Column("at", DateTime(timezone=True)))


def _least(text: str) -> list[dict]:
    return [{"type": "section", "text": {"type": "plain_text", "text": text}}]


MODAL = {"type": "modal", "callback_id": "floor", "title": {"type": "plain_text", "text": "Floor"},
         "blocks": _least("A modal.")}
HOME = {"type": "home", "blocks": _least("A Home.")}


def bare_app(signing_secret: str, token: str, api_url: str, writes: Database | None = None) -> App:
    """Acks only; with `writes`, the floor (see the module's docstring)."""
    bolt = App(name="bare.bolt", signing_secret=signing_secret, client=make_request_client(token, api_url),
               listener_executor=listener_executor(), logger=logging.getLogger("bare.bolt"))
    store = FLOOR.insert()

    def submitted(ack: Ack, body: dict) -> None:
        if writes is not None:
            with writes.session() as s:
                s.execute(store, {"kind": body["view"].get("callback_id", "")[:32], "at": datetime.now(UTC)})
        ack()

    def opens_modal(ack: Ack, body: dict, client: WebClient) -> None:
        if writes is None:
            ack()
        elif body.get("command") and body.get("text", "").strip() == "help":
            ack(text="Help.")
        else:
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=MODAL)

    def event(event: dict, client: WebClient) -> None:  # Bolt acks events itself, before its listener
        if writes is not None and event.get("type") == "app_home_opened":
            client.views_publish(user_id=event["user"], view=HOME)

    bolt.view(ANY)(submitted)
    for listen in (bolt.command, bolt.action, bolt.shortcut):
        listen(ANY)(opens_modal)
    bolt.event(ANY)(event)
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
    ap.add_argument("--writes", metavar="DATABASE_URL", help="the floor: the least work of each kind (its rows on this database)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    writes = Database(args.writes) if args.writes else None
    if writes is not None:
        FLOOR.create(writes.engine, checkfirst=True)
        writes.dispose()  # each process opens connections of its own
    bolt = bare_app(args.signing_secret, args.token, args.api_url, writes)
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
