"""Settings from the environment and an optional `.env` file.

Everything is validated at start-up; a bad value becomes one `SettingsError` line that names the
variable and how to fix it, which the CLI prints instead of a traceback.

Secrets (tokens, the signing and client secrets, the encryption key) are `SecretStr`: a repr, a log line or
an error message shows `**********`; code that needs the value asks for it with `reveal()`. A password in
`DATABASE_URL` is masked in the settings' repr too.
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_serializer, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from storage.archive import S3Options
from storage.errors import SettingsError

__all__ = ["SECRET_SETTINGS", "Environment", "Settings", "SettingsError", "load_settings", "reveal"]

DEFAULT_SLACK_API_URL = "https://slack.com/api/"
VAR_DIR = Path("var")


class Environment(str, Enum):
    development = "development"
    production = "production"


# How to fix each setting, shown when it is malformed.
_HINTS: dict[str, str] = {
    "SLACK_API_URL": "use an http(s) URL ending in /api/, e.g. https://slack.com/api/",
    "DATABASE_URL": "use e.g. sqlite:///var/hearth.db or postgresql://user@host:5432/hearth",
    "ARCHIVE_URL": "use a folder path (e.g. var/archive) or s3://bucket/prefix",
    "HEARTH_ENCRYPTION_KEY": "generate one with `hearth keygen`; several keys may be given comma-separated, newest first",
    "HEARTH_TIMEZONE": "use an IANA zone name such as Europe/Berlin or UTC",
    "HEARTH_TEMPLATES_DIR": "point it at an existing folder of .j2 templates, or unset it",
    "HEARTH_MODERATOR_CHANNEL": "use the channel id (C…/G…) of a private channel, or unset it",
    "HEARTH_ENV": "use development or production",
    "HEARTH_ADMINS": "use comma-separated Slack user ids, e.g. U0123,U0456",
    "HEARTH_ESCALATION_CONTACTS": "use comma-separated Slack user ids, e.g. U0123,U0456",
    "HEARTH_LOG_LEVEL": "use DEBUG, INFO, WARNING or ERROR",
    "HEARTH_FAILED_MESSAGE_RETENTION_DAYS": "use a whole number of days from 1 to 3650 (default 14)",
    "HEARTH_ARCHIVE_RETENTION": "use kind=span pairs, e.g. checkins=180d,reports=2y,delivery=90d",
    "ARCHIVE_S3_SSE": "use AES256 (SSE-S3) or aws:kms (SSE-KMS, with ARCHIVE_S3_KMS), or unset it",
    "ARCHIVE_S3_OBJECT_LOCK_MODE": "use GOVERNANCE or COMPLIANCE (the bucket needs Object Lock), or unset it",
    "ARCHIVE_S3_OBJECT_LOCK_DAYS": "use a whole number of days from 0 to 36500",
    "ARCHIVE_S3_MULTIPART_MB": "use a whole number of MB from 5 to 5120",
}


# Every setting that holds a secret; each is a `SecretStr` (a test keeps this list and the types in step).
SECRET_SETTINGS_NAMES = ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SLACK_CLIENT_SECRET",
                         "HEARTH_ENCRYPTION_KEY")
SECRET_SETTINGS = frozenset(SECRET_SETTINGS_NAMES)


def reveal(secret: SecretStr | None) -> str | None:
    """The value of a secret setting, for the one call that needs it (never for a log line)."""
    return None if secret is None else secret.get_secret_value()


def _mask_password(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=True, frozen=True
    )

    SLACK_BOT_TOKEN: SecretStr | None = None
    SLACK_SIGNING_SECRET: SecretStr | None = None
    SLACK_APP_TOKEN: SecretStr | None = None
    SLACK_CLIENT_ID: str | None = None
    SLACK_CLIENT_SECRET: SecretStr | None = None
    SLACK_API_URL: str = DEFAULT_SLACK_API_URL
    DATABASE_URL: str = f"sqlite:///{VAR_DIR / 'hearth.db'}"
    ARCHIVE_URL: str = str(VAR_DIR / "archive")
    HEARTH_ENCRYPTION_KEY: SecretStr | None = None
    HEARTH_MODERATOR_CHANNEL: str | None = None
    HEARTH_TIMEZONE: str = "UTC"
    HEARTH_TEMPLATES_DIR: Path | None = None
    HEARTH_ENV: Environment = Environment.development
    HEARTH_ADMINS: str = Field(default="", description="extra Hearth admins besides workspace admins")
    # Who is told when a report is escalated or concerns a moderator (default: Hearth's admins).
    HEARTH_ESCALATION_CONTACTS: str = Field(default="", description="user ids told of escalated reports")
    HEARTH_LOG_LEVEL: str = "INFO"
    # Days a message that could not be delivered keeps its (encrypted) words for an admin's retry.
    HEARTH_FAILED_MESSAGE_RETENTION_DAYS: int = Field(default=14, ge=1, le=3650)
    # Days each kind stays in the database before the nightly archive run moves it (storage.lifecycle.kinds).
    HEARTH_ARCHIVE_RETENTION: str = ""
    ARCHIVE_S3_SSE: str | None = None
    ARCHIVE_S3_KMS: str | None = None
    ARCHIVE_S3_STORAGE_CLASS: str | None = None
    ARCHIVE_S3_OBJECT_LOCK_MODE: str | None = None
    ARCHIVE_S3_OBJECT_LOCK_DAYS: int = Field(default=0, ge=0, le=36500)
    ARCHIVE_S3_MULTIPART_MB: int = Field(default=64, ge=5, le=5120)

    @field_validator(*SECRET_SETTINGS_NAMES)
    @classmethod
    def _empty_secret_is_unset(cls, v: SecretStr | None) -> SecretStr | None:
        return v if reveal(v) else None

    @field_validator("SLACK_BOT_TOKEN")
    @classmethod
    def _bot_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return v

    @field_validator("SLACK_APP_TOKEN")
    @classmethod
    def _app_token(cls, v: SecretStr | None) -> SecretStr | None:
        if v is not None and not v.get_secret_value().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return v

    @field_validator("SLACK_API_URL")
    @classmethod
    def _api_url(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise ValueError("is not an http(s) URL")
        return v if v.endswith("/") else v + "/"

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, v: str) -> str:
        scheme = urlparse(v).scheme.split("+")[0]
        if scheme not in ("sqlite", "postgresql", "postgres"):
            raise ValueError("must be an sqlite:// or postgresql:// URL")
        return v

    @field_validator("ARCHIVE_URL")
    @classmethod
    def _archive_url(cls, v: str) -> str:
        parsed = urlparse(v)
        if parsed.scheme == "s3" and not parsed.netloc:
            raise ValueError("names no bucket")
        if parsed.scheme not in ("", "s3", "file"):
            raise ValueError(f"has an unsupported scheme {parsed.scheme!r}")
        return v

    @field_validator("HEARTH_ARCHIVE_RETENTION")
    @classmethod
    def _archive_retention(cls, v: str) -> str:
        from storage.lifecycle.kinds import retention

        retention(v)  # raises ValueError naming the kind or span
        return v

    @field_validator("ARCHIVE_S3_SSE")
    @classmethod
    def _sse(cls, v: str | None) -> str | None:
        if v and v not in ("AES256", "aws:kms"):
            raise ValueError(f"{v!r} is not a server-side encryption")
        return v or None

    @field_validator("ARCHIVE_S3_OBJECT_LOCK_MODE")
    @classmethod
    def _lock_mode(cls, v: str | None) -> str | None:
        if v and v.upper() not in ("GOVERNANCE", "COMPLIANCE"):
            raise ValueError(f"{v!r} is not an Object Lock mode")
        return v.upper() if v else None

    @field_validator("HEARTH_TIMEZONE")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{v!r} is not a known time zone") from None
        return v

    @field_validator("HEARTH_TEMPLATES_DIR")
    @classmethod
    def _templates_dir(cls, v: Path | None) -> Path | None:
        if v is not None and not v.is_dir():
            raise ValueError(f"{v} is not a folder")
        return v

    @field_validator("HEARTH_MODERATOR_CHANNEL")
    @classmethod
    def _moderator_channel(cls, v: str | None) -> str | None:
        if v and not (v[0] in "CG" and v[1:].isalnum()):
            raise ValueError("is not a channel id")
        return v or None

    @field_validator("HEARTH_ADMINS", "HEARTH_ESCALATION_CONTACTS")
    @classmethod
    def _user_ids(cls, v: str) -> str:
        if any(not (u[:1] in "UW" and u[1:].isalnum()) for u in (p.strip() for p in v.split(",")) if u):
            raise ValueError("is not a list of user ids")
        return v

    @field_validator("HEARTH_LOG_LEVEL")
    @classmethod
    def _log_level(cls, v: str) -> str:
        if v.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("is not a log level")
        return v.upper()

    @field_serializer("DATABASE_URL")
    def _database_url_dumped(self, v: str) -> str:
        return _mask_password(v)  # as SecretStr fields dump as "**********"

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        """pydantic's repr, with a password in DATABASE_URL masked (SecretStr fields mask themselves)."""
        for name, value in super().__repr_args__():
            yield name, (_mask_password(value) if name == "DATABASE_URL" else value)

    # ---- derived views -------------------------------------------------------------------
    @property
    def admins(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.HEARTH_ADMINS.split(",") if u.strip())

    @property
    def escalation_contacts(self) -> frozenset[str]:
        return frozenset(u.strip() for u in self.HEARTH_ESCALATION_CONTACTS.split(",") if u.strip())

    @property
    def archive_retention(self) -> dict[str, int]:
        from storage.lifecycle.kinds import retention

        return retention(self.HEARTH_ARCHIVE_RETENTION)

    @property
    def s3_options(self) -> S3Options:
        return S3Options(sse=self.ARCHIVE_S3_SSE, kms_key_id=self.ARCHIVE_S3_KMS,
                         storage_class=self.ARCHIVE_S3_STORAGE_CLASS, lock_mode=self.ARCHIVE_S3_OBJECT_LOCK_MODE,
                         lock_days=self.ARCHIVE_S3_OBJECT_LOCK_DAYS, multipart_mb=self.ARCHIVE_S3_MULTIPART_MB)

    @property
    def oauth_enabled(self) -> bool:
        return bool(self.SLACK_CLIENT_ID and self.SLACK_CLIENT_SECRET)

    @property
    def has_slack_credentials(self) -> bool:
        return bool(self.SLACK_BOT_TOKEN or self.oauth_enabled)

    @property
    def is_production(self) -> bool:
        return self.HEARTH_ENV is Environment.production

    @property
    def explicit_development(self) -> bool:
        """HEARTH_ENV=development was set (environment, .env or argument), not merely the default: only then
        may Hearth make up an encryption key."""
        return "HEARTH_ENV" in self.model_fields_set and self.HEARTH_ENV is Environment.development

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.HEARTH_TIMEZONE)

    def require(self, *names: str, why: str) -> None:
        """Fail with one line when a setting needed for `why` is missing."""
        for name in names:
            if not getattr(self, name):
                raise SettingsError(f"{name} is not set: {why}. Set it in the environment or in .env.")


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Read settings, turning validation errors into one readable `SettingsError` line."""
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "settings"
        reason = str(err["msg"]).removeprefix("Value error, ")
        reason = reason[:1].lower() + reason[1:]
        hint = _HINTS.get(name, "check its value")
        raise SettingsError(f"{name} {reason}; {hint}.") from None
    if settings.is_production:
        settings.require("HEARTH_ENCRYPTION_KEY", why="production keeps tokens and reports encrypted with it")
    if settings.SLACK_CLIENT_ID and not settings.SLACK_CLIENT_SECRET:
        raise SettingsError("SLACK_CLIENT_SECRET is not set while SLACK_CLIENT_ID is; set both for OAuth or neither.")
    return settings
