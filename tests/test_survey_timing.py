"""When a survey closes and reminds (pure)."""

from datetime import UTC, datetime, timedelta

from surveys import timing

OPEN = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_closes_parses_days_and_hours_within_the_allowed_range():
    assert timing.parse_closes("5d", 7) == timedelta(days=5)
    assert timing.parse_closes(" 36H ", 7) == timedelta(hours=36)
    assert timing.parse_closes(None, 7) == timedelta(days=7)
    for bad in ("0d", "12h", "31d", "5", "five days", "-2d"):
        assert timing.parse_closes(bad, 7) is None, bad


def test_reminders_three_days_in_and_one_day_before_close_each_once():
    closes = OPEN + timedelta(days=7)

    def due(days, **done):
        return timing.reminder_due(OPEN, closes, OPEN + timedelta(days=days), first_done=done.get("first", False),
                                   final_done=done.get("final", False))

    assert due(2.9) is None
    assert due(3) == "first"
    assert due(4, first=True) is None
    assert due(6) == "final" and due(6, first=True) == "final"
    assert due(6.5, first=True, final=True) is None
    assert due(7) is None  # closed: no reminder


def test_a_short_survey_has_only_the_final_reminder_and_a_one_day_one_none():
    two = OPEN + timedelta(days=2)
    assert timing.first_reminder_at(OPEN, two) is None and timing.final_reminder_at(OPEN, two) == OPEN + timedelta(days=1)
    one = OPEN + timedelta(days=1)
    assert timing.final_reminder_at(OPEN, one) is None
    assert timing.reminder_due(OPEN, one, OPEN + timedelta(hours=23), first_done=False, final_done=False) is None
