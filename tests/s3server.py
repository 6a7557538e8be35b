"""S3 over real HTTP for tests: moto's server on loopback, started once per test session.

Use it from a test module by importing the fixture (pytest picks up imported fixtures):

    from tests.s3server import s3_endpoint  # noqa: F401  (fixture)

    def test_something(s3_endpoint):
        archive = S3Archive(s3_endpoint.bucket, prefix=unique_prefix())   # boto3 finds the server itself

`s3_endpoint` starts the server, points boto3 at it through the environment (AWS_ENDPOINT_URL, fake
credentials, region; a developer's ~/.aws files are hidden) for the rest of the session, and creates
the bucket `S3Endpoint.bucket`. Tests share that bucket, so each should use its own prefix.
Outside pytest, `start_moto_server()` / `aws_env()` do the same by hand.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

BUCKET = "hearth-archive-test"
REGION = "us-east-1"


@dataclass(frozen=True)
class S3Endpoint:
    url: str  # http://127.0.0.1:<port>
    bucket: str
    region: str = REGION


def start_moto_server():
    """Start moto's threaded server on a free loopback port; returns (server, url). Call server.stop()."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # port 0: the OS picks
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def aws_env(url: str) -> dict[str, str]:
    """Variables that make boto3 talk to `url` with throwaway credentials."""
    return {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": "/nonexistent/hearth-tests/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/hearth-tests/aws-credentials",
    }


def unique_prefix() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[S3Endpoint]:
    import boto3

    server, url = start_moto_server()
    with pytest.MonkeyPatch.context() as mp:
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            mp.delenv(name, raising=False)
        for name, value in aws_env(url).items():
            mp.setenv(name, value)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        try:
            yield S3Endpoint(url=url, bucket=BUCKET)
        finally:
            server.stop()
