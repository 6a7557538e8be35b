"""storage.members: channel listings kept current by events, and profiles with their freshness and errors."""

from __future__ import annotations

from datetime import UTC, datetime

from storage import members
from storage.members import Profile

T = "T1"
NOW = datetime(2024, 6, 3, 8, 0, tzinfo=UTC)


def test_a_listing_replaces_the_last_one_and_events_keep_it_current(db):
    with db.session() as s:
        assert members.in_channel(s, T, "C1", "UA") is None  # never listed: nothing is known
    members.replace_channel(db, T, "C1", ["UA", "UB", "UC"], now=NOW)
    members.replace_channel(db, T, "C1", ["UB", "UC", "UD"], now=NOW)
    with db.session() as s:
        assert [members.in_channel(s, T, "C1", u) for u in ("UA", "UB", "UD")] == [False, True, True]
        assert members.listings(s, T) == [("C1", NOW, 3)]
    members.left(db, T, "C1", "UB")
    members.joined(db, T, "C1", "UA")
    members.joined(db, T, "C1", "UA")  # Slack's retry of the same event
    members.joined(db, T, "C2", "UA")  # a channel Hearth never listed is not tracked
    with db.session() as s:
        assert members.in_channel(s, T, "C1", "UB") is False and members.in_channel(s, T, "C1", "UA") is True
        assert members.in_channel(s, T, "C2", "UA") is None
        # of these channels, those UB is in: C2 was never listed, so nothing says UB is not there
        assert members.channels_of(s, T, "UB", ["C1", "C2"]) == {"C2"}
        assert members.in_channel(s, "T2", "C1", "UA") is None  # another workspace's channel of the same id



def test_a_listing_that_changes_nothing_moments_after_the_last_writes_nothing(db):
    from datetime import timedelta

    from sqlalchemy import event

    statements: list[str] = []

    def seen(_conn, _cursor, sql, *_):
        statements.append(sql.split()[0])

    members.replace_channel(db, T, "C1", ["UA", "UB"], now=NOW)
    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        members.replace_channel(db, T, "C1", ["UB", "UA"], now=NOW + timedelta(seconds=30))  # as it was
        as_it_was = list(statements)
        statements.clear()
        members.replace_channel(db, T, "C1", ["UB", "UA", "UB"], now=NOW + members.RELIST_MARK)  # a minute on
        a_minute_on = list(statements)
        statements.clear()
        members.replace_channel(db, T, "C1", ["UB", "UC"], now=NOW + members.RELIST_MARK + timedelta(seconds=1))
        changed = list(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert as_it_was == ["SELECT"]  # read, found as it was: nothing written
    assert "UPDATE" in a_minute_on  # marked listed again, so a day-old listing is never taken for a fresh one
    assert {"DELETE", "INSERT"} <= set(changed)  # who left and who joined, however recent the last listing
    with db.session() as s:
        assert members.listing(s, T, "C1") == (NOW + members.RELIST_MARK + timedelta(seconds=1), ["UB", "UC"])

def test_profiles_are_upserted_in_one_go_and_a_read_clears_an_earlier_error(db):
    members.remember(db, T, "UA")
    members.mark_unreadable(db, T, {"UA": "fatal_error", "UB": "user_not_found"})
    with db.session() as s:
        assert [(m.user_id, m.profile_error) for m in members.unreadable(s, T)] == [
            ("UA", "fatal_error"), ("UB", "user_not_found")]
    members.store_profiles(db, T, [Profile("UA", "Asia/Tokyo", False, False, True),
                                   Profile("UC", None, True, False, False)], now=NOW)
    a, c = members.get(db, T, "UA"), members.get(db, T, "UC")
    assert (a.tz, a.is_admin, a.profile_error, members.aware(a.profile_at)) == ("Asia/Tokyo", True, None, NOW)
    assert c.is_bot and c.tz is None
    with db.session() as s:
        assert [m.user_id for m in members.unreadable(s, T)] == ["UB"]
        assert members.count(s, T) == 3


def test_profile_fields_are_kept_as_opaque_keys_that_match_equal_values(db):
    from slack_app.roster import profile_of
    from slack_app.slack_port import user_of

    def user(uid, **profile):
        return {"id": uid, "tz": "UTC", "profile": {"real_name": "Someone", **profile}}

    people = [user("UA", title="Engineer", fields={"Xf01TEAM": {"value": "Platform", "alt": ""}}),
              user("UB", title="  engineer ", fields={"Xf01TEAM": {"value": "Growth", "alt": ""}}),
              user("UC", title=""), user("UD")]
    members.store_profiles(db, T, [profile_of(user_of(u)) for u in people], now=NOW)
    with db.session() as s:
        titles = members.profile_keys(s, T, ["UA", "UB", "UC", "UD"], "title")
        teams = members.profile_keys(s, T, ["UA", "UB", "UC", "UD"], "Xf01TEAM")
    assert set(titles) == {"UA", "UB"} and titles["UA"] == titles["UB"]  # case and spacing do not count
    assert set(teams) == {"UA", "UB"} and teams["UA"] != teams["UB"]
    assert "Engineer" not in members.get(db, T, "UA").profile_keys and "Platform" not in titles["UA"] + teams["UA"]
    members.store_profiles(db, T, [profile_of(user_of(user("UA")))], now=NOW)  # the title was cleared in Slack
    with db.session() as s:
        assert members.profile_keys(s, T, ["UA"], "title") == {}


def test_writers_racing_on_the_same_members_both_succeed(db):
    """Instances listing the same 600 members at once (a round opening while another warms profiles page by page):
    neither fails on the other's new rows, and each member has one row with the last profile written."""
    from concurrent.futures import ThreadPoolExecutor

    people = [f"U{i:04d}" for i in range(600)]

    def write(tz: str, order: list[str], chunk: int) -> None:
        for start in range(0, len(order), chunk):  # users.list pages, say: a commit each
            members.store_profiles(db, T, [Profile(u, tz, False, False, False) for u in order[start:start + chunk]],
                                   now=NOW)
        members.replace_channel(db, T, "C1", order, now=NOW)

    for _ in range(3):
        with ThreadPoolExecutor(3) as pool:
            done = [pool.submit(write, "UTC", people, 600), pool.submit(write, "Asia/Tokyo", people[::-1], 50),
                    pool.submit(write, "UTC", people[300:] + people[:300], 20)]
        for future in done:
            future.result()
        with db.session() as s:
            assert members.count(s, T) == 600
            assert {m.tz for m in members.by_id(s, T, people).values()} <= {"UTC", "Asia/Tokyo"}
            assert members.listings(s, T) == [("C1", NOW, 600)]
