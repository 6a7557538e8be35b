"""Reports for operators: `hearth reports channel|list|show|export`, timeliness escalation with a controlled
clock, and key rotation of the sealed report columns."""

from __future__ import annotations

import json
from datetime import timedelta

from click.testing import CliRunner

from slack_app.cli import main
from slack_app.reports import usecases
from storage import outbox
from storage import reports as store
from storage.crypto import Crypto, generate_key
from storage.sealed import encrypted_columns, rotate

TEAM = "T0HEARTH"


def _env(simulator, settings):
    def plain(value):
        return value.get_secret_value() if hasattr(value, "get_secret_value") else value

    return {"SLACK_BOT_TOKEN": plain(settings.SLACK_BOT_TOKEN), "SLACK_API_URL": simulator.base_url,
            "DATABASE_URL": settings.DATABASE_URL, "HEARTH_ENCRYPTION_KEY": plain(settings.HEARTH_ENCRYPTION_KEY),
            "HEARTH_MODERATOR_CHANNEL": "GMODS", "HEARTH_LOG_LEVEL": "WARNING"}


def _report(hearth, slack, *, anonymous, urgency="high", view_id="V1", user="UBOB"):
    raw = dict(category="harassment", text="secret words", urgency=urgency, anonymous=anonymous, follow_up=True,
               people=["UEMI"], snapshot=None)
    result = usecases.submit(hearth.services, TEAM, user, view_id, raw)
    usecases.route(hearth.services, slack, TEAM, result.case_id)
    return result.case_id


def test_show_and_export_never_print_an_anonymous_reporters_identity(hearth, slack, simulator, app_settings,
                                                                       tmp_path):
    _report(hearth, slack, anonymous=True, view_id="V1")
    _report(hearth, slack, anonymous=False, view_id="V2", user="UDEV")
    env = _env(simulator, app_settings)
    listed = CliRunner().invoke(main, ["reports", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "harassment" in listed.output and "secret" not in listed.output and "UBOB" not in listed.output

    refused = CliRunner().invoke(main, ["reports", "show", "1", "--as", "UDEV"], env=env)  # not a moderator
    assert refused.exit_code == 2 and "may not read case #1" in refused.output and "secret" not in refused.output
    shown = CliRunner().invoke(main, ["reports", "show", "1", "--as", "UALICE"], env=env)
    assert shown.exit_code == 0, shown.output
    assert "secret words" in shown.output and "Reporter " in shown.output and "UBOB" not in shown.output
    assert "UDEV" in CliRunner().invoke(main, ["reports", "show", "2", "--as", "UFINN"], env=env).output

    out = tmp_path / "cases.jsonl"
    exported = CliRunner().invoke(main, ["reports", "export", "--as", "UALICE", "--out", str(out)], env=env)
    assert exported.exit_code == 0 and "2 cases" in exported.output
    docs = [json.loads(line) for line in out.read_text().splitlines()]
    assert [d["case"] for d in docs] == [1, 2] and "UBOB" not in out.read_text()
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    with hearth.services.db.session() as s:
        actions = [e.action for e in store.entries(s, hearth.services.crypto, store.by_number(s, TEAM, 1).id)]
    assert {"shown (cli)", "exported (cli)", "refused: show (cli)"} <= set(actions)

    missing = CliRunner().invoke(main, ["reports", "show", "9", "--as", "UALICE"], env=env)
    assert missing.exit_code == 2 and "no case #9" in missing.output and "Traceback" not in missing.output


def test_the_channel_command_refuses_a_public_channel_in_one_line(hearth, simulator, app_settings):
    env = _env(simulator, app_settings)
    refused = CliRunner().invoke(main, ["reports", "channel", "CGENERAL"], env=env)
    assert refused.exit_code == 2 and "public" in refused.output
    bad = CliRunner().invoke(main, ["reports", "channel", "nonsense!"], env=env)
    assert bad.exit_code == 2 and "not a channel id" in bad.output
    ok = CliRunner().invoke(main, ["reports", "channel", "GMODS"], env=env)
    assert ok.exit_code == 0 and "GMODS" in ok.output
    with hearth.services.db.session() as s:
        assert store.moderator_channel(s, TEAM) == "GMODS"


def test_an_unacknowledged_case_is_escalated_once_after_its_urgency_time(hearth, slack):
    case_id = _report(hearth, slack, anonymous=True, urgency="high")
    with hearth.services.db.session() as s:
        created = store.get(s, case_id).created_at
    assert usecases.escalate_overdue(hearth.services, now=created + timedelta(hours=3, minutes=59)) == 0
    assert usecases.escalate_overdue(hearth.services, now=created + timedelta(hours=4)) == 1
    assert usecases.escalate_overdue(hearth.services, now=created + timedelta(hours=9)) == 0  # once
    with hearth.services.db.session() as s:
        pings = outbox.rows(s, kind="report.escalation")
        [ping] = [p for p in pings if p.target == "GMODS"]
        assert "<!here>" in ping.payload["text"] and "#1" in ping.payload["text"]
        contacts = [p for p in pings if p.target != "GMODS"]
        assert contacts and all(p.sensitive and p.target in ("UALICE", "UFINN") for p in contacts)  # the admins
        assert not any("secret" in p.payload["text"] for p in pings)
        assert any(e.action.startswith("escalated") for e in store.entries(s, hearth.services.crypto, case_id))
        assert outbox.rows(s, kind="report.card_update")  # the card shows it

    usecases.claim(hearth.services, TEAM, "UALICE", _report(hearth, slack, anonymous=False, urgency="urgent",
                                                             view_id="V9"))
    assert usecases.escalate_overdue(hearth.services, now=created + timedelta(days=3)) == 0  # acknowledged


def test_key_rotation_reaches_every_sealed_report_column(hearth, slack, app_settings):
    case_id = _report(hearth, slack, anonymous=True)
    usecases.add_note(hearth.services, TEAM, "UALICE", case_id, "a private note")
    names = {str(c) for c in encrypted_columns()}
    assert {"report_case.details", "report_case.reporter_sealed", "report_entry.body"} <= names
    db, old_key, new_key = hearth.services.db, app_settings.HEARTH_ENCRYPTION_KEY, generate_key()
    old_key = old_key.get_secret_value() if hasattr(old_key, "get_secret_value") else old_key
    new = Crypto([new_key, old_key])
    report = rotate(db, new, [c for c in encrypted_columns() if c.table.startswith("report_")])
    assert report.rewritten["report_case.details"] == 1 and report.rewritten["report_entry.body"] == 1
    only_new = Crypto([new_key])
    with db.session() as s:
        case = store.get(s, case_id)
        assert only_new.decrypt(case.reporter_sealed) == "UBOB"
        assert store.open_details(only_new, case)["text"] == "secret words"


def test_the_daily_digest_lists_open_cases_by_age_with_numbers_only(hearth, slack):
    first = _report(hearth, slack, anonymous=True, view_id="V1")
    _report(hearth, slack, anonymous=False, view_id="V2")
    usecases.resolve(hearth.services, TEAM, "UALICE", _report(hearth, slack, anonymous=False, view_id="V3"), "done")
    with hearth.services.db.session() as s:
        created = store.get(s, first).created_at
    # Two runs within one UTC day, whatever the hour the test runs at (from 23:00, an hour later was tomorrow).
    morning = (created + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    assert usecases.digest(hearth.services, now=morning) == 1
    assert usecases.digest(hearth.services, now=morning + timedelta(hours=1)) == 1  # same day: one row
    with hearth.services.db.session() as s:
        [row] = outbox.rows(s, kind="report.digest")
    assert row.target == "GMODS"
    assert "2 open cases, 2 not yet acknowledged" in row.payload["text"] and "#1, #2" in row.payload["text"]
    assert "#3" not in row.payload["text"] and "secret" not in row.payload["text"]


def test_a_case_about_every_moderator_and_admin_stays_stored_for_operators(hearth, slack, simulator):
    raw = dict(category="harassment", text="about the moderators", urgency="urgent", anonymous=True,
               follow_up=False, people=["UALICE", "UFINN"], snapshot=None)
    case_id = usecases.submit(hearth.services, TEAM, "UBOB", "V1", raw).case_id
    assert usecases.route(hearth.services, slack, TEAM, case_id) == "all_involved"
    with hearth.services.db.session() as s:
        case = store.get(s, case_id)
        assert case.channel_id is None
        assert [e.action for e in store.entries(s, hearth.services.crypto, case_id)][-1] == "not posted: all_involved"
        assert not outbox.rows(s)  # nothing to the channel, nothing to those involved
    # neither of them may open it from anywhere
    assert not usecases.may_act(hearth.services, slack, TEAM, case_id, "UALICE", "view details")
