"""Benchmark: what one Web API call or response_url post costs the caller, on a connection of its own (slack_sdk's
`WebClient`, Bolt's `respond()`) and on a kept-alive one (`slack_app.web_transport`), over HTTPS as Slack serves it
and over plain HTTP.

    .venv/bin/python -m bench.web_api_calls [--calls 200] [--rounds 8] [--label latest]

The simulator serves over TLS with a certificate for 127.0.0.1 made for the run (its CA given to both clients
through SSL_CERT_FILE, as a system's CA bundle would be). Each client sends `views.publish` with a 30-block Home
(the request path's most common call) in rounds, the two alternated; then the same for an ephemeral note posted
to a request's response_url (Bolt's `respond()` against Hearth's `PooledRespond`). Per call: the calling
thread's CPU and the wall time, the median over rounds. Loopback has no round trip, so the wall time saved
against Slack is larger: a new TLS connection costs two round trips before the request (TCP, then TLS 1.3's
handshake) that a kept connection does not.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import ipaddress
import os
import ssl
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from slack_bolt import Respond
from slack_sdk import WebClient

from bench import _common as bench
from slack_app.simulator import SlackSimulator, demo_workspace
from slack_app.web_transport import PooledRespond, PooledWebClient

NOTE = "Your check-in is saved. " * 8  # an ephemeral note's length
HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 200}}] * 30}


def certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (P-256, as many public sites use): its PEM and its key's."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hearth-bench")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def publishing(sim: SlackSimulator) -> dict[str, Callable[[], object]]:
    """views.publish of a 30-block Home: slack_sdk's WebClient, and Hearth's on kept-alive connections."""
    clients = {"new_connection_per_call": WebClient(token=sim.bot_token, base_url=sim.base_url),
               "kept_alive": PooledWebClient(token=sim.bot_token, base_url=sim.base_url)}
    return {name: functools.partial(client.views_publish, user_id="UALICE", view=HOME)
            for name, client in clients.items()}


def responding(sim: SlackSimulator) -> dict[str, Callable[[], object]]:
    """An ephemeral note to a request's own response_url: Bolt's respond(), and Hearth's `PooledRespond`."""
    def post(respond: type[Respond]) -> Callable[[], object]:
        return lambda: respond(response_url=sim.new_response_url("UALICE", "CGENERAL"))(NOTE, response_type="ephemeral")
    return {"new_connection_per_call": post(Respond), "kept_alive": post(PooledRespond)}


def measure(callers: dict[str, Callable[[], object]], calls: int, rounds: int) -> dict[str, dict[str, float]]:
    cpu: dict[str, list[float]] = {name: [] for name in callers}
    wall: dict[str, list[float]] = {name: [] for name in callers}
    for call in callers.values():
        call()  # warm: imports, the pool's first connection
    for _ in range(rounds):
        for name, call in callers.items():
            started_cpu, started = time.thread_time(), time.perf_counter()
            for _ in range(calls):
                call()
            cpu[name].append((time.thread_time() - started_cpu) / calls * 1000)
            wall[name].append((time.perf_counter() - started) / calls * 1000)
    result = {name: {"cpu_ms": round(statistics.median(cpu[name]), 3), "wall_ms": round(statistics.median(wall[name]), 3)}
              for name in callers}
    new, kept = result["new_connection_per_call"], result["kept_alive"]
    result["ratio"] = {"cpu": round(kept["cpu_ms"] / new["cpu_ms"], 3), "wall": round(kept["wall_ms"] / new["wall_ms"], 3)}
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200, help="calls per round and client")
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--label", default="latest")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cert_file, key_file = certificate(Path(tmp))
        os.environ["SSL_CERT_FILE"] = str(cert_file)  # this process's clients trust the run's certificate
        server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_side.load_cert_chain(cert_file, key_file)
        result: dict[str, object] = {"calls_per_round": args.calls, "rounds": args.rounds}
        for scheme, tls in (("https", server_side), ("http", None)):
            with SlackSimulator(demo_workspace(), rate_limits=False, tls=tls) as sim:
                result[scheme] = measure(publishing(sim), args.calls, args.rounds)
                result[f"{scheme}_respond"] = measure(responding(sim), args.calls, args.rounds)
    bench.write(f"web_api_calls_{args.label}", result,
                f"python -m bench.web_api_calls --calls {args.calls} --rounds {args.rounds} --label {args.label}")


if __name__ == "__main__":
    main()
