"""`hearth keys rotate`: every encrypted value moves to the newest key, so the old key can really be dropped.

Runs on the real migrated database (SQLite, or PostgreSQL with HEARTH_TEST_DATABASE_URL)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from click.testing import CliRunner
from slack_sdk.oauth.installation_store import Installation
from sqlalchemy import MetaData, String, Text, select

from slack_app.cli import main
from storage import outbox, sealed
from storage.checkins import Checkin, CheckinCircle, CheckinRound, read_checkin, save_checkin
from storage.crypto import Crypto, DecryptionError, generate_key, looks_encrypted
from storage.db import Database
from storage.installations import EncryptedInstallationStore

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
def rotate_cli(database_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("SLACK_BOT_TOKEN", "SLACK_CLIENT_ID", "HEARTH_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ARCHIVE_URL", str(tmp_path / "archive"))

    def invoke(keys: str):
        monkeypatch.setenv("HEARTH_ENCRYPTION_KEY", keys)
        return CliRunner().invoke(main, ["keys", "rotate"], catch_exceptions=False)

    return invoke


def fill(db, crypto: Crypto) -> int:
    """One of everything Hearth encrypts: tokens, a check-in, a pending, a failed and a sensitive message."""
    db.crypto = crypto
    EncryptedInstallationStore("C1", db, crypto).save(Installation(
        app_id="A1", team_id="T1", user_id="UADMIN", bot_token="xoxb-secret", bot_id="B1", bot_user_id="UBOT",
        user_token="xoxp-secret", installed_at=NOW.timestamp()))
    with db.session() as s:
        circle = CheckinCircle(team_id="T1", channel_id="CCIRCLE", cadence="weekly", weekday=0, local_time="09:00",
                               timezone="UTC", window_minutes=60, remind_before_minutes=30, sharing="named",
                               anchor_date=date(2026, 11, 30))
        s.add(circle)
        s.flush()
        round_ = CheckinRound(circle_id=circle.id, number=1, status="open", opens_at=NOW,
                              remind_at=NOW + timedelta(hours=1), closes_at=NOW + timedelta(hours=2))
        s.add(round_)
        s.flush()
        save_checkin(s, crypto, None, round_.id, "UALICE", gratitude="green tea", challenge="sleep", offer=None,
                     sharing="named")
        outbox.enqueue(s, team_id="T1", kind="t", target="UBOB", payload={"text": "pending words"}, dedupe_key="p")
        outbox.enqueue(s, team_id="T1", kind="t", target="UCARMEN", payload={"text": "failing words"},
                       dedupe_key="f")
        outbox.enqueue_sensitive(s, team_id="T1", kind="t", recipient="UDEV", payload={"text": "secret words"},
                                 dedupe_key="s")
        (failing,) = [r for r in outbox.claim(s, worker_id="w", limit=10, lease=60) if r.target == "UCARMEN"]
        assert outbox.mark_failed(s, failing.id, "w", "user_not_found")
    return round_.id


def sealed_values(db):
    """Every value anywhere in the database that is a Fernet token, found without the registry."""
    meta = MetaData()
    meta.reflect(db.engine)
    found = []
    with db.engine.connect() as conn:
        for table in meta.sorted_tables:
            for col in table.columns:
                if isinstance(col.type, String | Text):
                    found += [(f"{table.name}.{col.name}", v) for v in conn.scalars(select(col))
                              if isinstance(v, str) and looks_encrypted(v)]
    return found


def test_rotation_moves_every_encrypted_column_so_the_old_key_can_be_dropped(db, rotate_cli):
    old, new = generate_key(), generate_key()
    round_id = fill(db, Crypto([old]))
    before = sealed_values(db)
    assert {name for name, _ in before} >= {
        "slack_installations.bot_token", "slack_installations.user_token", "slack_bots.bot_token",
        "checkin.gratitude", "checkin.challenge", "outbox.payload", "outbox.target", "hearth_secret.value"}
    # The registry knows every column that holds ciphertext (a workflow's Sealed columns are found on their own).
    assert {name for name, _ in before} <= {str(c) for c in sealed.encrypted_columns()}

    result = rotate_cli(f"{new},{old}")
    assert result.exit_code == 0, result.output
    assert "outbox.payload: 3 re-encrypted" in result.output and "outbox.target: 1 re-encrypted" in result.output
    assert "remove the older key" in result.output
    assert "checkin.gratitude: 1 re-encrypted" in result.output

    only_new, only_old = Crypto([new]), Crypto([old])
    for _name, value in sealed_values(db):
        only_new.decrypt(value)  # every value now opens with the new key alone…
        with pytest.raises(DecryptionError):
            only_old.decrypt(value)  # …and no longer with the old one
    assert len(sealed_values(db)) == len(before)

    # With the old key gone, everything still reads.
    db.crypto = only_new
    inst = EncryptedInstallationStore("C1", db, only_new).find_installation(enterprise_id=None, team_id="T1")
    assert (inst.bot_token, inst.user_token) == ("xoxb-secret", "xoxp-secret")
    with db.session() as s:
        row = s.scalars(select(Checkin).where(Checkin.round_id == round_id)).one()
        assert read_checkin(only_new, row).gratitude == "green tea"
        texts = sorted(r.payload["text"] for r in outbox.rows(s))
        assert texts == ["failing words", "pending words", "secret words"]
        assert {r.target for r in outbox.rows(s)} == {"UBOB", "UCARMEN", "UDEV"}
        # Opaque keys do not change with the key: a message queued before the rotation is still found,
        # and queueing it again is still ignored.
        assert outbox.find(s, "T1", "p").payload == {"text": "pending words"}
        outbox.enqueue(s, team_id="T1", kind="t", target="UBOB", payload={"text": "again"}, dedupe_key="p")
        assert len(outbox.rows(s)) == 3

    again = rotate_cli(new)  # idempotent: nothing is left to move
    assert again.exit_code == 0 and "Done: 0 value(s) re-encrypted" in again.output


def test_rotation_without_the_key_a_value_was_made_with_stops_and_names_it(db, rotate_cli):
    old = generate_key()
    fill(db, Crypto([old]))
    result = rotate_cli(generate_key())
    assert result.exit_code == 2
    assert "cannot be decrypted with any key in HEARTH_ENCRYPTION_KEY" in result.output
    assert "green tea" not in result.output and "xoxb" not in result.output


def test_a_plain_payload_from_before_the_upgrade_is_read_then_sealed_by_the_rotation(db, rotate_cli):
    key = generate_key()
    db.crypto = Crypto([key])
    with db.session() as s:
        outbox.enqueue(s, team_id="T1", kind="t", target="UBOB", payload={"text": "x"}, dedupe_key="legacy")
        s.execute(outbox.TT.update().values(payload='{"text": "written before 0005"}', dedupe_key="legacy"))
    started = Database(db.url, crypto=db.crypto)  # a Hearth started on a database that holds such a row
    with started.session() as s:
        assert outbox.find(s, "T1", "legacy").payload == {"text": "written before 0005"}
        assert outbox.enqueue(s, team_id="T1", kind="t", target="UBOB", payload={"text": "again"},
                              dedupe_key="legacy") is None and len(outbox.rows(s)) == 1  # still deduplicated
    started.dispose()
    assert rotate_cli(key).exit_code == 0
    ((name, value),) = [(n, v) for n, v in sealed_values(db) if n.startswith("outbox.")]
    assert name == "outbox.payload" and Crypto([key]).decrypt(value) == '{"text": "written before 0005"}'
