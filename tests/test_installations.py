"""slack_sdk's OAuth stores on our migrated tables, with tokens encrypted at rest (SQLite and PostgreSQL)."""

import time

import pytest
from slack_sdk.oauth.installation_store import Bot, Installation
from sqlalchemy import MetaData, Text, text

from storage.crypto import Crypto, DecryptionError, generate_key
from storage.installations import TOKEN_COLUMNS, EncryptedInstallationStore, oauth_state_store, rotate_tokens

CLIENT_ID = "111.222"


def installation(team_id="T1", *, user_id="U1", installed_at=None, n=1) -> Installation:
    return Installation(
        app_id="A1", team_id=team_id, team_name="Team", user_id=user_id,
        bot_token=f"xoxb-bot-{team_id}-{n}", bot_id="B1", bot_user_id="UBOT", bot_scopes=["chat:write", "im:write"],
        bot_refresh_token=f"xoxe-1-bot-{team_id}-{n}", bot_token_expires_in=43200,
        user_token=f"xoxp-user-{team_id}-{n}", user_scopes=["identify"], user_refresh_token=f"xoxe-1-user-{team_id}-{n}",
        user_token_expires_in=43200, token_type="bot", installed_at=installed_at or time.time(),
    )


@pytest.fixture
def crypto():
    return Crypto([generate_key()])


@pytest.fixture
def store(db, crypto):
    return EncryptedInstallationStore(CLIENT_ID, db, crypto)


def raw_rows(db, table):
    with db.engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings()]


def test_store_tables_line_up_with_the_migration(db, store):
    reflected = MetaData()
    reflected.reflect(db.engine, only=["slack_installations", "slack_bots"])
    for table in (store.installations, store.bots):
        migrated = reflected.tables[table.name]
        assert set(table.c.keys()) == set(migrated.c.keys()), table.name
        for name in TOKEN_COLUMNS:
            if name in migrated.c:
                assert isinstance(migrated.c[name].type, Text), f"{table.name}.{name} must hold long ciphertext"
    with pytest.raises(RuntimeError, match="migrations"):
        store.create_tables()


def test_tokens_are_encrypted_at_rest_and_plain_when_found(db, store, crypto):
    inst = installation()
    store.save(inst)

    for table in ("slack_installations", "slack_bots"):
        (row,) = raw_rows(db, table)
        for name in TOKEN_COLUMNS:
            if name in row:
                assert row[name] and not row[name].startswith("xox"), f"{table}.{name} stored in plain text"
                assert crypto.decrypt(row[name]) == getattr(inst, name)

    bot = store.find_bot(enterprise_id=None, team_id="T1")
    assert (bot.bot_token, bot.bot_refresh_token, bot.bot_id) == (inst.bot_token, inst.bot_refresh_token, "B1")
    assert bot.bot_scopes == ["chat:write", "im:write"]
    found = store.find_installation(enterprise_id=None, team_id="T1", user_id="U1")
    assert (found.bot_token, found.user_token, found.user_refresh_token) == (
        inst.bot_token, inst.user_token, inst.user_refresh_token)
    assert store.find_bot(enterprise_id=None, team_id="T2") is None


def test_the_newest_bot_wins_and_a_bot_saved_alone_is_encrypted(db, store):
    store.save(installation(installed_at=time.time() - 60, n=1))
    store.save(installation(n=2))
    assert store.find_bot(enterprise_id=None, team_id="T1").bot_token == "xoxb-bot-T1-2"

    # Bolt's token rotation saves a refreshed bot on its own.
    store.save_bot(Bot(app_id="A1", team_id="T1", bot_token="xoxb-refreshed", bot_id="B1", bot_user_id="UBOT",
                       installed_at=time.time() + 1))
    assert store.find_bot(enterprise_id=None, team_id="T1").bot_token == "xoxb-refreshed"
    # find_installation fills in the latest bot token, which it compares after decryption.
    assert store.find_installation(enterprise_id=None, team_id="T1", user_id="U1").bot_token == "xoxb-refreshed"
    assert all(not r["bot_token"].startswith("xox") for r in raw_rows(db, "slack_bots"))


def test_saving_the_same_installation_again_updates_in_place(db, store):
    inst = installation()
    store.save(inst)
    inst.bot_token = "xoxb-updated"
    store.save(inst)
    assert len(raw_rows(db, "slack_bots")) == 1
    assert store.find_bot(enterprise_id=None, team_id="T1").bot_token == "xoxb-updated"


def test_uninstall_and_token_revocation_delete_rows(db, store):
    store.save(installation("T1"))
    store.save(installation("T2", user_id="U2"))
    store.save(installation("T2", user_id="U3"))

    store.delete_installation(enterprise_id=None, team_id="T2", user_id="U2")  # tokens_revoked for one user
    assert [r["user_id"] for r in raw_rows(db, "slack_installations") if r["team_id"] == "T2"] == ["U3"]

    store.delete_bot(enterprise_id=None, team_id="T2")  # tokens_revoked for the bot
    assert store.find_bot(enterprise_id=None, team_id="T2") is None

    store.delete_all(enterprise_id=None, team_id="T1")  # app_uninstalled
    assert store.find_bot(enterprise_id=None, team_id="T1") is None
    assert store.find_installation(enterprise_id=None, team_id="T1") is None
    assert {r["team_id"] for r in raw_rows(db, "slack_installations")} == {"T2"}


def test_a_store_with_another_key_cannot_read_tokens(db, store):
    store.save(installation())
    stranger = EncryptedInstallationStore(CLIENT_ID, db, Crypto([generate_key()]))
    with pytest.raises(DecryptionError):
        stranger.find_bot(enterprise_id=None, team_id="T1")


def test_rotate_tokens_re_encrypts_every_row_under_the_newest_key(db):
    old, new = generate_key(), generate_key()
    EncryptedInstallationStore(CLIENT_ID, db, Crypto([old])).save(installation("T1"))
    EncryptedInstallationStore("other-client", db, Crypto([old])).save(installation("T2"))

    rotating = EncryptedInstallationStore(CLIENT_ID, db, Crypto([new, old]))
    assert rotate_tokens(rotating) == 4  # two installations + two bots, whatever their client id
    assert rotate_tokens(rotating) == 0  # already on the newest key

    new_only = EncryptedInstallationStore(CLIENT_ID, db, Crypto([new]))
    assert new_only.find_bot(enterprise_id=None, team_id="T1").bot_token == "xoxb-bot-T1-1"
    assert new_only.find_installation(enterprise_id=None, team_id="T1").user_refresh_token == "xoxe-1-user-T1-1"
    with pytest.raises(DecryptionError):
        EncryptedInstallationStore(CLIENT_ID, db, Crypto([old])).find_bot(enterprise_id=None, team_id="T1")
    assert all(not r["bot_token"].startswith("xox") for r in raw_rows(db, "slack_bots"))


def test_rotate_tokens_names_the_row_it_cannot_read(db):
    EncryptedInstallationStore(CLIENT_ID, db, Crypto([generate_key()])).save(installation())
    with pytest.raises(DecryptionError, match=r"slack_installations row \d+: bot_token") as info:
        rotate_tokens(EncryptedInstallationStore(CLIENT_ID, db, Crypto([generate_key()])))
    assert "xox" not in str(info.value)


def test_oauth_state_is_issued_once_and_expires(db):
    states = oauth_state_store(db)
    state = states.issue()
    assert states.consume(state) is True
    assert states.consume(state) is False  # single use
    assert states.consume("never-issued") is False

    expired = oauth_state_store(db, expiration_seconds=-1).issue()
    assert states.consume(expired) is False
