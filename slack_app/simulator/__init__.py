"""A local Slack for tests and `hearth simulate`: a Web API simulator and a driver that plays Slack's side.

    with SlackSimulator(demo_workspace()) as sim:          # Web API at sim.base_url
        driver = SlackDriver(app_events_url, signing_secret, sim)
        driver.as_member("UALICE").command("/checkin")     # signed, like Slack
        print("\\n".join(sim.transcript()))

It also speaks Socket Mode (`sim.socket_mode`, see socket_mode.py): `SlackDriver(None, secret, sim,
socket_mode=True)` sends the same payloads as envelopes to an app connected with `sim.socket_mode.app_token`.
"""

from slack_app.simulator.driver import ACK_DEADLINE, LateAck, Member, Response, SlackDriver, wait_for
from slack_app.simulator.errors import ApiError
from slack_app.simulator.ratelimit import Limit, RateLimiter
from slack_app.simulator.server import Call, SlackSimulator
from slack_app.simulator.workspace import DEFAULT_SCOPES, Channel, User, Workspace, demo_workspace

__all__ = [
    "ACK_DEADLINE", "DEFAULT_SCOPES", "ApiError", "Call", "Channel", "LateAck", "Limit", "Member", "RateLimiter",
    "Response", "SlackDriver", "SlackSimulator", "User", "Workspace", "demo_workspace", "wait_for",
]
