"""bench.load's floor (bench/_bare.py --writes) does the least work of each kind of its mix, and that work for real:
`floor_vs_bare` bounds what an app answering that mix can reach, so the floor must not skip any of it.
Signed requests through the real floor process, its Slack calls as the simulator received them."""

from __future__ import annotations

import sys
from pathlib import Path

from sqlalchemy import create_engine, text

from bench import _common as bench
from slack_app.simulator import SlackDriver, wait_for

from .conftest import SIGNING_SECRET

ROOT = Path(__file__).resolve().parent.parent


def test_the_floor_opens_modals_publishes_homes_and_stores_each_submission(simulator, tmp_path) -> None:
    url = f"sqlite:///{tmp_path}/floor.db"
    port = bench.free_port()
    proc, endpoint = bench.serve_process(
        [sys.executable, "-m", "bench._bare", "--signing-secret", SIGNING_SECRET, "--api-url", simulator.base_url,
         "--token", simulator.bot_token, "--writes", url, "--port", str(port)], port, tmp_path, "floor", cwd=ROOT)
    try:
        driver = SlackDriver(endpoint, SIGNING_SECRET, simulator)
        helped = driver.command("UALICE", "/hearth", "help")
        assert helped.status == 200 and "Help." in helped.body_text
        assert not simulator.calls_for("views.open")

        assert driver.command("UBOB", "/checkin").status == 200
        assert wait_for(lambda: simulator.latest_view("UBOB") is not None)
        assert [c.params["view"]["title"]["text"] for c in simulator.calls_for("views.open")] == ["Floor"]

        assert driver.app_home_opened("UCARMEN").status == 200
        assert wait_for(lambda: simulator.calls_for("views.publish"))
        assert simulator.calls_for("views.publish")[0].params["user_id"] == "UCARMEN"

        submitted = driver.submit_view("UBOB", simulator.latest_view("UBOB")["id"])
        assert submitted.status == 200
        with create_engine(url).connect() as c:  # stored before the ack
            assert c.execute(text("SELECT count(*) FROM bench_floor")).scalar() == 1
    finally:
        bench.stop_process(proc)
