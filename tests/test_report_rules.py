"""The pure rules of reports: validation, receipts, pseudonyms, triage states, timeliness."""

from datetime import UTC, datetime, timedelta

from slack_app.copy import Copy
from slack_app.reports import rules


def _check(**over):
    given = dict(category="harassment", text=" it happened ", urgency="normal", anonymous=False, follow_up=True,
                 people=["UEMI", "UEMI", ""])
    return rules.check_submission(**{**given, **over})


def test_a_good_submission_is_trimmed_and_people_are_deduplicated():
    checked = _check()
    assert checked.errors == {}
    assert checked.submission.text == "it happened" and checked.submission.people == ("UEMI",)


def test_bad_input_names_each_field():
    assert _check(text="  ").errors == {"text": "empty"}
    assert _check(text="x" * (rules.TEXT_MAX + 1)).errors == {"text": "too_long"}
    assert _check(text="x" * rules.TEXT_MAX).errors == {}
    assert _check(category="gossip", urgency=None).errors == {"category": "unknown", "urgency": "unknown"}
    assert _check(people=[f"U{i}" for i in range(rules.PEOPLE_MAX + 1)]).errors == {"people": "too_many"}
    assert rules.check_note("") == "empty" and rules.check_note("x" * (rules.NOTE_MAX + 1)) == "too_long"
    assert rules.check_note(" ok ") is None


def test_a_receipt_fingerprints_exactly_what_was_sent():
    sub = _check().submission
    nonce = rules.new_nonce()
    receipt = rules.receipt(7, sub, nonce)
    assert receipt == rules.receipt(7, sub, nonce)  # can be shown again later
    assert len(receipt) == 24 and receipt.count("-") == 4
    assert receipt != rules.receipt(7, _check(text="it happened!").submission, nonce)
    assert receipt != rules.receipt(8, sub, nonce)
    assert receipt != rules.receipt(7, sub, rules.new_nonce())  # short texts cannot be guessed from it


def test_pseudonyms_are_random_and_name_nobody():
    names = {rules.pseudonym() for _ in range(50)}
    assert len(names) > 10 and all(n.startswith("Reporter ") for n in names)


def test_triage_actions_follow_the_status():
    assert rules.allowed("claim", rules.OPEN) and rules.allowed("resolve", rules.ACKNOWLEDGED)
    assert not rules.allowed("resolve", rules.RESOLVED) and rules.allowed("reopen", rules.RESOLVED)
    assert not rules.allowed("reopen", rules.OPEN)


def test_a_case_is_overdue_once_its_urgency_time_passed_unacknowledged():
    t0 = datetime(2026, 12, 3, 8, tzinfo=UTC)
    assert not rules.overdue("urgent", t0, t0 + timedelta(minutes=59), rules.OPEN)
    assert rules.overdue("urgent", t0, t0 + timedelta(hours=1), rules.OPEN)
    assert not rules.overdue("high", t0, t0 + timedelta(hours=3), rules.OPEN)
    assert rules.overdue("normal", t0, t0 + timedelta(hours=24), rules.OPEN)
    assert not rules.overdue("urgent", t0, t0 + timedelta(hours=5), rules.ACKNOWLEDGED)


def test_a_permalink_is_built_without_asking_slack():
    assert rules.permalink("https://demo.slack.com", "C1", "1700000000.000100") == \
        "https://demo.slack.com/archives/C1/p1700000000000100"


def test_open_cases_are_grouped_by_age_for_the_digest():
    now = datetime(2026, 12, 10, tzinfo=UTC)
    cases = [(3, now - timedelta(hours=2)), (1, now - timedelta(days=9)), (2, now - timedelta(days=2)),
             (4, now - timedelta(days=1))]
    assert rules.by_age(cases, now) == [("under a day", [3]), ("1–3 days", [2, 4]), ("over a week", [1])]
    assert rules.by_age([], now) == []


def test_the_form_keeps_as_much_of_a_long_reported_message_as_slack_allows():
    from slack_app import blocks
    from slack_app.reports import views

    for text in ("a" * 4000, "😡" * 4000, '"\\' * 2000):
        snap = rules.Snapshot("C1", "1700000000.000100", "UEMI", text, "https://x.slack.com/archives/C1/p1")
        view = views.intake_modal(Copy(None, strict=True), snap)
        kept = views.IntakeMeta.read(view)
        assert kept is not None and kept.channel == "C1" and kept.author == "UEMI"
        assert text.startswith(kept.text.rstrip(blocks.ELLIPSIS)) and len(view["private_metadata"]) <= 3000


def test_the_details_modal_shows_a_long_report_whole():
    from slack_app.reports import views

    facts = views.CardFacts(case_id=1, number=1, category="other", urgency="normal", status="open",
                            assignee_id=None, reporter="Reporter Wren-12",
                            created_at=datetime(2026, 12, 3, tzinfo=UTC), reply_waiting=False, escalated=False)
    text = "".join(f"{i:04d} " for i in range(600))  # 3000 characters
    view = views.details_modal(Copy(None, strict=True), facts,
                               {"text": text, "people": [], "snapshot": None, "follow_up": True}, [], "ABCD")
    shown = "".join(b["text"]["text"] for b in view["blocks"] if b["type"] == "section")
    assert "0000 " in shown and "0599 " in shown and "…" not in shown
