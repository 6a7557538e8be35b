"""`/buddies` with no program, help or an unknown word: a private answer, and nothing recorded or sent."""

from __future__ import annotations

from tests.privacy import database_dump


def test_buddies_help_and_unknown_subcommands_answer_privately_and_record_nothing(driver, simulator, db):
    simulator.clear_calls()
    before = database_dump(db)
    for text in ("", "help", "anything"):
        resp = driver.command("UBOB", "/buddies", text=text)
        assert resp.status == 200
        assert resp.json["response_type"] == "ephemeral"
        assert "/buddies skip" in resp.json["text"] and "/buddies never @someone" in resp.json["text"]
    assert "no buddy introductions" in driver.command("UBOB", "/buddies", text="skip").json["text"]
    assert simulator.calls == []
    assert database_dump(db) == before


def test_pause_end_reads_a_date_or_a_span_and_refuses_the_past_far_future_and_nonsense():
    from datetime import UTC, datetime

    from slack_app.buddies.rules import pause_end

    now = datetime(2026, 12, 3, 15, 0, tzinfo=UTC)
    assert pause_end(["until", "2026-12-24"], now) == datetime(2026, 12, 24, tzinfo=UTC)
    assert pause_end(["2026-12-24"], now) == datetime(2026, 12, 24, tzinfo=UTC)
    assert pause_end(["2w"], now) == datetime(2026, 12, 17, tzinfo=UTC)
    assert pause_end(["10d"], now) == datetime(2026, 12, 13, tzinfo=UTC)
    for words in (["until", "2026-12-01"], ["until", "2028-01-01"], ["someday"], ["w"], ["until"], ["0d"]):
        assert pause_end(words, now) is None, words


def test_read_words_takes_settings_in_any_order_on_top_of_the_current_ones():
    import pytest

    from slack_app.buddies.rules import ProgramSettings, SettingsError, read_words

    fresh = read_words(["fourweekly", "14:00", "4", "Friday", "opt-in"], None, "Europe/Berlin")
    assert fresh == ProgramSettings(size=4, cadence="fourweekly", weekday=4, local_time="14:00",
                                    timezone="Europe/Berlin", opt_in=True)
    assert read_words(["3"], fresh, "UTC") == ProgramSettings(size=3, cadence="fourweekly", weekday=4,
                                                              local_time="14:00", timezone="Europe/Berlin", opt_in=True)
    for words, field in ((["monthly"], "monthly"), (["9"], "size"), (["25:00"], "time"), (["Mars/Base"], "timezone")):
        with pytest.raises(SettingsError) as raised:
            read_words(words, None, "UTC")
        assert raised.value.field == field


def test_window_and_mix_field_are_checked_and_kept_when_an_admin_changes_other_settings():
    import pytest

    from slack_app.buddies.rules import ProgramSettings, SettingsError, parse_settings, read_words

    current = parse_settings(size=3, mix_field="Xf01ABCDEF", window=6)
    assert (current.mix_field, current.window) == ("Xf01ABCDEF", 6)
    assert read_words(["weekly"], current, "UTC") == ProgramSettings(size=3, cadence="weekly",
                                                                     mix_field="Xf01ABCDEF", window=6)
    for given, code in (({"window": 0}, "window_out_of_range"), ({"window": 53}, "window_out_of_range"),
                        ({"mix_field": "real_name"}, "unknown_field"),
                        ({"mix_field": "title", "mix_channel": "CTEAM"}, "mix_both")):
        with pytest.raises(SettingsError) as raised:
            parse_settings(**given)
        assert raised.value.code == code


def test_read_words_sets_mixing_and_the_repeat_window():
    import pytest

    from slack_app.buddies.rules import SettingsError, parse_settings, read_words

    current = parse_settings(size=3, window=6)
    mixed = read_words(["<#CTEAM01|platform>", "window=8"], current, "UTC")
    assert (mixed.mix_channel, mixed.mix_field, mixed.window, mixed.size) == ("CTEAM01", None, 8, 3)
    by_title = read_words(["mix=title"], mixed, "UTC")  # one way of mixing at a time: the field replaces the channel
    assert (by_title.mix_channel, by_title.mix_field, by_title.window) == (None, "title", 8)
    assert read_words(["mix=Xf01ABCDEF"], by_title, "UTC").mix_field == "Xf01ABCDEF"
    assert read_words(["mix=off"], by_title, "UTC").mix_field is None
    assert read_words(["weekly"], by_title, "UTC").mix_field == "title"  # kept when other settings change
    for words, code in ((["window=0"], "window_out_of_range"), (["window=lots"], "window_out_of_range"),
                        (["mix=real_name"], "unknown_field")):
        with pytest.raises(SettingsError) as raised:
            read_words(words, current, "UTC")
        assert raised.value.code == code
