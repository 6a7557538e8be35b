"""Encryption at rest: round trips, tamper and wrong-key detection, rotation, and how keys are loaded."""

import base64
import logging
import stat

import pytest
from pydantic import SecretStr

from slack_app.settings import SettingsError
from storage.crypto import Crypto, DecryptionError, default_dev_key_path, generate_key, keyed_hash, load_crypto

SECRET = "my challenge this week is asking for help"


def test_round_trip_of_text_and_bytes_without_leaking_plaintext():
    crypto = Crypto([generate_key()])
    token = crypto.encrypt(SECRET)
    assert SECRET not in token and token != crypto.encrypt(SECRET)  # randomised
    assert crypto.decrypt(token) == SECRET
    assert crypto.decrypt(crypto.encrypt("ünïcødé ✓")) == "ünïcødé ✓"
    blob = bytes(range(256))
    assert crypto.decrypt_bytes(crypto.encrypt_bytes(blob)) == blob


def test_tampered_token_is_rejected():
    crypto = Crypto([generate_key()])
    raw = bytearray(base64.urlsafe_b64decode(crypto.encrypt(SECRET)))
    raw[-40] ^= 0x01  # flip one bit of the ciphertext
    with pytest.raises(DecryptionError):
        crypto.decrypt(base64.urlsafe_b64encode(bytes(raw)).decode())
    for garbage in ("", "not a token", "xoxb-plain-token", "ü"):
        with pytest.raises(DecryptionError):
            crypto.decrypt(garbage)


def test_wrong_key_fails_and_the_error_does_not_show_the_data():
    token = Crypto([generate_key()]).encrypt(SECRET)
    with pytest.raises(DecryptionError) as info:
        Crypto([generate_key()]).decrypt(token)
    assert SECRET not in str(info.value) and token not in str(info.value)


def test_rotation_moves_tokens_to_the_newest_key():
    old, new = generate_key(), generate_key()
    before = Crypto([old]).encrypt(SECRET)
    both = Crypto([new, old])
    assert both.decrypt(before) == SECRET  # old key still decrypts
    assert both.needs_rotation(before)

    rotated = both.rotate(before)
    assert not both.needs_rotation(rotated)
    assert Crypto([new]).decrypt(rotated) == SECRET
    with pytest.raises(DecryptionError):
        Crypto([old]).decrypt(rotated)
    assert not both.needs_rotation(both.encrypt(SECRET))  # new data uses the first key
    with pytest.raises(DecryptionError):
        Crypto([new]).rotate(before)  # a key that is gone cannot be rotated from


def test_a_dated_token_shows_only_its_day_and_keeps_it_through_a_rotation():
    from datetime import UTC, date, datetime

    old, new = generate_key(), generate_key()
    token = Crypto([old]).encrypt_dated("answers", date(2026, 12, 3))
    midnight = int(datetime(2026, 12, 3, tzinfo=UTC).timestamp())
    stamp = lambda t: int.from_bytes(base64.urlsafe_b64decode(t)[1:9], "big")  # noqa: E731  (clear in every token)
    assert stamp(token) == midnight and Crypto([old]).decrypt(token) == "answers"
    rotated = Crypto([new, old]).rotate(token)
    assert stamp(rotated) == midnight and Crypto([new]).decrypt(rotated) == "answers"


def test_setting_with_several_keys_newest_first():
    old, new = generate_key(), generate_key()
    token = Crypto([old]).encrypt(SECRET)
    crypto = load_crypto(f" {new} , {old} ", production=True)
    assert crypto.key_count == 2 and crypto.decrypt(token) == SECRET
    assert Crypto([new]).decrypt(crypto.encrypt(SECRET)) == SECRET
    assert new not in repr(crypto)


@pytest.mark.parametrize(
    "setting", ["not-a-key", "c2hvcnQ=", f"{generate_key()},broken"], ids=["not-base64", "too-short", "second-broken"]
)
def test_malformed_key_is_one_line_with_the_fix(setting):
    with pytest.raises(SettingsError) as info:
        load_crypto(setting, production=True)
    message = str(info.value)
    assert message.startswith("HEARTH_ENCRYPTION_KEY is not a valid key")
    assert "hearth keygen" in message and "\n" not in message
    assert "broken" not in message and "not-a-key" not in message  # key material is never echoed


@pytest.mark.parametrize("setting", [None, "", " , "])
def test_production_without_a_key_refuses_to_start(setting, tmp_path):
    with pytest.raises(SettingsError) as info:
        load_crypto(setting, production=True, development=True, dev_key_path=tmp_path / "dev.key")
    assert str(info.value) == (
        "HEARTH_ENCRYPTION_KEY is not set: production keeps tokens, check-ins and queued messages encrypted with "
        "it. Generate one with `hearth keygen` and set it."
    )
    assert not (tmp_path / "dev.key").exists()


def test_without_explicit_development_mode_no_key_is_made_up(tmp_path):
    with pytest.raises(SettingsError) as info:
        load_crypto(None, dev_key_path=tmp_path / "dev.key")
    message = str(info.value)
    assert "hearth keygen" in message and "HEARTH_ENV=development" in message and "\n" not in message
    assert not (tmp_path / "dev.key").exists()


def test_development_key_is_created_once_private_and_reused(tmp_path, caplog):
    path = tmp_path / "config" / "hearth" / "dev.key"
    with caplog.at_level(logging.WARNING, logger="hearth.crypto"):
        first = load_crypto(None, development=True, dev_key_path=path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert list(path.parent.iterdir()) == [path]  # no temp file left behind
    warnings = [r for r in caplog.records if r.name == "hearth.crypto" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "development only" in warnings[0].getMessage() and "production" in warnings[0].getMessage()
    key = path.read_text()
    assert key.strip() not in warnings[0].getMessage()

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="hearth.crypto"):
        second = load_crypto("", development=True, dev_key_path=path)
    assert path.read_text() == key  # reused, not regenerated
    assert second.decrypt(first.encrypt(SECRET)) == SECRET
    assert not [r for r in caplog.records if r.name == "hearth.crypto"]  # said once per process


def test_the_development_key_lives_in_the_user_config_folder_never_beside_the_database(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    database = tmp_path / "var" / "hearth.db"
    crypto = load_crypto(None, development=True, database_path=database)
    assert default_dev_key_path() == tmp_path / "config" / "hearth" / "dev.key"
    assert default_dev_key_path().exists() and not (tmp_path / "var").exists()
    assert crypto.decrypt(crypto.encrypt(SECRET)) == SECRET

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "var" / ".."  / "var"))  # a config folder = the DB's
    (tmp_path / "var").mkdir()
    with pytest.raises(SettingsError, match="would sit beside the database it protects"):
        load_crypto(None, development=True, database_path=tmp_path / "var" / "hearth" / "hearth.db")


def test_an_old_development_key_beside_the_database_moves_to_the_config_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    old_key = generate_key()
    (tmp_path / "var").mkdir()
    (tmp_path / "var" / "hearth-dev.key").write_text(old_key + "\n")
    token = Crypto([old_key]).encrypt(SECRET)
    crypto = load_crypto(None, development=True, database_path=tmp_path / "var" / "hearth.db")
    assert crypto.decrypt(token) == SECRET  # what the old key sealed stays readable
    assert not (tmp_path / "var" / "hearth-dev.key").exists()
    assert default_dev_key_path().read_text().strip() == old_key


def test_configured_key_wins_over_the_development_key(tmp_path):
    key = generate_key()
    crypto = load_crypto(key, development=True, dev_key_path=tmp_path / "dev.key")
    assert Crypto([key]).decrypt(crypto.encrypt(SECRET)) == SECRET
    assert not (tmp_path / "dev.key").exists()


def test_a_secret_setting_is_read_without_being_shown():
    key = generate_key()
    crypto = load_crypto(SecretStr(key), production=True)
    assert Crypto([key]).decrypt(crypto.encrypt(SECRET)) == SECRET


def test_broken_development_key_file_names_the_file(tmp_path):
    path = tmp_path / "dev.key"
    path.write_text("garbage\n")
    with pytest.raises(SettingsError, match="development key file .*dev.key is not a valid key"):
        load_crypto(None, development=True, dev_key_path=path)


def test_keyed_hashes_match_and_hide_their_text():
    secret, other = b"s" * 32, b"o" * 32
    stored = keyed_hash(secret, "checkin:7:UALICE:invite")
    assert stored == keyed_hash(secret, "checkin:7:UALICE:invite") != keyed_hash(secret, "checkin:7:UBOB:invite")
    assert "UALICE" not in stored and len(stored) <= 64
    assert keyed_hash(other, "checkin:7:UALICE:invite") != stored  # keyed: no secret, no guessing


def test_development_mode_counts_only_when_it_is_set_explicitly(monkeypatch):
    from slack_app.settings import load_settings

    monkeypatch.delenv("HEARTH_ENV", raising=False)
    assert not load_settings(env_file=None).explicit_development  # the default alone makes up no key
    assert load_settings(env_file=None, HEARTH_ENV="development").explicit_development
    monkeypatch.setenv("HEARTH_ENV", "development")
    assert load_settings(env_file=None).explicit_development
    monkeypatch.setenv("HEARTH_ENV", "production")
    assert not load_settings(env_file=None, HEARTH_ENCRYPTION_KEY=generate_key()).explicit_development
