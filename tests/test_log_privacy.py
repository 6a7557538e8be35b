"""The redacting log filter, and the helper that checks a flow's logs for user ids."""

from __future__ import annotations

import io
import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slack_app import cli_support, log_privacy
from slack_app.log_privacy import RedactUserIds, redact
from tests.privacy import assert_logs_carry_no_user_ids


@pytest.mark.parametrize(("line", "expected"), [
    ("checkins.paused user=UBOB", "checkins.paused user=U…"),
    ("sent to U024BE7LH in C0123", "sent to U… in C0123"),
    ("enterprise member W012A3CDE left", "enterprise member U… left"),
    ("text mentions <@UALICE> and <@U024BE7LH|alice>", "text mentions <@U…> and <@U…>"),
    ("users=UBOB,UDEV done", "users=U… done"),
    ("{'user': 'UEMI', 'team': 'T0HEARTH'}", "{'user': 'U…', 'team': 'T0HEARTH'}"),
    ('{"user_id": "UEMI"}', '{"user_id": "U…"}'),
    ("facilitator=UDEV round=3", "facilitator=U… round=3"),
])
def test_redact_takes_user_ids_out(line, expected):
    assert redact(line) == expected


@pytest.mark.parametrize("line", [
    "checkins.round_opened circle=4 round=9 members=12 invited=11",
    "scheduler.started owner=host-1:123 jobs=4",
    "job.ran job=checkins.open team=T0HEARTH channel=C024BE7LH",
    "UPDATE outbox SET status=? WHERE id=? UTC WARNING",
    "sim.call method=users.info status=200 error=None",
    "user=none of them",  # not an id: left alone
])
def test_redact_leaves_ids_of_things_counts_and_words_alone(line):
    assert redact(line) == line


def _capture(level: int = logging.INFO) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    handler.addFilter(RedactUserIds())
    logger = logging.getLogger("hearth.test_log_privacy")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(level)
    return logger, stream


def test_the_filter_redacts_arguments_and_tracebacks():
    logger, stream = _capture()
    logger.info("checkins.resumed user=%s circles=%d", "UBOB", 2)
    logger.info("mention %s", "<@U024BE7LH>")
    try:
        raise KeyError("U024BE7LH")
    except KeyError:
        logger.exception("lookup failed")
    out = stream.getvalue()
    assert "UBOB" not in out and "U024BE7LH" not in out
    assert "checkins.resumed user=U… circles=2" in out
    assert "KeyError" in out and "lookup failed" in out  # the line itself survives, only the id goes


def test_the_filter_survives_a_broken_format_string():
    logger, stream = _capture()
    logger.info("broken %s %s", "UBOB")  # logging reports its own error; the filter must not raise
    assert "UBOB" not in stream.getvalue()


def test_hearths_logging_setup_installs_the_filter_on_every_root_handler(monkeypatch):
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    monkeypatch.setattr(root, "handlers", [handler])
    monkeypatch.setattr(root, "level", root.level)
    cli_support.configure_logging("INFO")
    cli_support.configure_logging("INFO")  # twice: still one filter
    assert sum(isinstance(f, RedactUserIds) for f in handler.filters) == 1
    logging.getLogger("hearth.bolt").warning("listener failed for user=%s", "UEMI")
    assert "user=U…" in stream.getvalue() and "UEMI" not in stream.getvalue()


def test_install_defaults_to_the_root_logger(monkeypatch):
    handler = logging.NullHandler()
    monkeypatch.setattr(logging.getLogger(), "handlers", [handler])
    log_privacy.install()
    assert any(isinstance(f, RedactUserIds) for f in handler.filters)


def _record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("hearth.x", logging.INFO, __file__, 1, msg, args, None)


def test_the_helper_fails_on_a_named_member_or_a_slack_shaped_id():
    with pytest.raises(AssertionError, match="checkins.paused"):
        assert_logs_carry_no_user_ids([_record("checkins.paused user=%s", "UBOB")], ["UBOB"])
    with pytest.raises(AssertionError):
        assert_logs_carry_no_user_ids([_record("to %s", "UBOB")], ["UBOB"])  # no key: the id itself
    with pytest.raises(AssertionError):
        assert_logs_carry_no_user_ids([_record("dm %s", "U024BE7LH")], ["UBOB"])  # someone else, Slack-shaped


def test_the_helper_passes_ids_of_things_and_counts():
    assert_logs_carry_no_user_ids([_record("round=%s members=%d", 3, 4), _record("UBOBCAT tools")], ["UBOB"])


def test_the_helper_refuses_to_check_nothing():
    with pytest.raises(AssertionError, match="no log records"):
        assert_logs_carry_no_user_ids([], ["UBOB"])
    with pytest.raises(AssertionError, match="give the user ids"):
        assert_logs_carry_no_user_ids([_record("x")], [])


def test_serving_a_request_leaves_hearths_own_log_levels_alone(driver, caplog):
    # Bolt re-levels the logger named after its app on each request; it must not be Hearth's root logger.
    caplog.set_level(logging.DEBUG, logger="hearth")
    bolt_logger = logging.getLogger("hearth.bolt")
    before = bolt_logger.level
    bolt_logger.setLevel(logging.WARNING)  # as `configure_logging("WARNING")` leaves it
    try:
        assert driver.command("UBOB", "/hearth", text="help").status == 200
        assert logging.getLogger("hearth").level == logging.DEBUG
    finally:
        bolt_logger.setLevel(before)


_SLACK_ID = st.from_regex(r"[UW][A-Z0-9]{7,10}[0-9]", fullmatch=True)
_SEPARATOR = st.sampled_from([" ", "=", ",", "(", ")", "'", '"', ":", "\n", "<@", ">", "/"])


@given(_SLACK_ID, _SEPARATOR, _SEPARATOR, st.text(alphabet="abc xyz.=", max_size=20))
def test_a_slack_shaped_id_never_survives_whatever_surrounds_it(user_id, before, after, words):
    line = f"{words}{before}{user_id}{after}{words}"
    assert user_id not in redact(line)
