"""Settings, from the environment (prefix SMGOV_). docs/reference/settings.md is generated from
this class (`scripts/docs.py`): each field's description is its line there.

Secrets (SMTP password, HR webhook secret, audit key) are `SecretStr`: they print as '**********'
and are read with `.get_secret_value()` only at the point of use, never stored or logged.

An empty or whitespace-only value is unset, in the environment and in SMGOV_SECRETS_DIR alike (an
empty key must never become a key: issue 18). The three keys (audit, session, HR webhook) must be
at least 32 bytes, and on PostgreSQL — a database several homes may share — the audit key and the
session secret must be given explicitly, since per-home key files would differ.
"""

from __future__ import annotations

import datetime as dt
import errno
import os
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from models.clock import check_timezone
from models.errors import Refused
from models.languages import OFFICIAL_LANGUAGES, environment_language

#: The URL schemes of the databases smgov runs on (SMGOV_DATABASE_URL).
DATABASE_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")


class Settings(BaseSettings):
    """Every setting smgov reads. Defaults suit the embedded mode on one laptop."""

    model_config = SettingsConfigDict(
        env_prefix="SMGOV_",
        extra="ignore",
        hide_input_in_errors=True,  # never echo a secret
    )

    home: Path = Field(
        default=Path("~/.smgov"),
        description="smgov's files: SQLite database, local mail folder, audit and session key "
        "files",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a SQLite file (`sqlite:////path/smgov.db`) or a "
        "PostgreSQL database (`postgresql+psycopg://user@host/db`); any other is refused at "
        "start; unset: `sqlite:///$SMGOV_HOME/smgov.db`",
    )
    issuance_date: dt.date | None = Field(
        default=None,
        description="the bulletin's date of issuance (5.1): accounts created before it are due "
        "60 days after it (3.4)",
    )
    default_timezone: str = Field(
        default="UTC", description="timezone of an entity added without `--timezone`"
    )
    language: str = Field(
        default_factory=environment_language,
        description="the language of the CLI's output for people (2.3): ar, zh, en, fr, ru or es; "
        "unset: the environment's locale (`LC_ALL`, `LC_MESSAGES`, `LANG`) when it is one of them, "
        "else en. `--json` output is the same in every language",
    )

    smtp_host: str | None = Field(
        default=None,
        description="SMTP server; unset: messages are written to `$SMGOV_HOME/mail/new`",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP port")
    smtp_tls: Literal["none", "starttls", "ssl"] = Field(
        default="starttls",
        description="`none`, `starttls` (upgrade the connection) or `ssl` (TLS from the start)",
    )
    smtp_from: str = Field(default="smgov <smgov@localhost>", description="sender")
    smtp_username: str | None = Field(default=None, description="SMTP AUTH user")
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP AUTH password; never stored or logged"
    )
    smtp_timeout: float = Field(default=15.0, gt=0, description="SMTP timeout, seconds")
    smtp_connections: int = Field(
        default=4,
        ge=1,
        le=32,
        description="SMTP connections a delivery run opens at once, where the server allows (one "
        "first; a connection the server refuses leaves the work to fewer); each message is "
        "recorded before the next is handed over, whatever their number",
    )

    registry_email: str | None = Field(
        default=None,
        description="the registry team (Department of Global Communications): escalations from "
        "day 14",
    )
    security_email: str | None = Field(
        default=None, description="Department of Safety and Security (4.1(d))"
    )
    hr_webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC secret of the HR webhook (32 bytes or more)"
    )
    scim_token: SecretStr | None = Field(
        default=None,
        description="bearer token of the SCIM door `/scim/v2` (at least 32 bytes, e.g. "
        "`openssl rand -hex 32`); unset or blank: SCIM is off (404)",
    )
    audit_key: SecretStr | None = Field(
        default=None,
        description="HMAC key of the audit chain, 32 bytes or more; unset: a random key in "
        "`$SMGOV_HOME/audit.key`; set it in production (and keep it out of the database's "
        "reach); required on PostgreSQL",
    )
    apprise_config: Path | None = Field(
        default=None,
        description="apprise YAML with Teams Workflows URLs tagged `entity-<code>` (lower case) "
        "and `registry`; the URLs carry a signature and never enter the database",
    )

    public_url: str | None = Field(
        default=None,
        description="the web door's address, e.g. `https://smgov.un.org`; set, every reminder "
        "and request e-mail to a staff member carries that person's one-task link",
    )
    link_ttl_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="an e-mailed link expires after this many days (and works once)",
    )
    session_secret: SecretStr | None = Field(
        default=None,
        description="signs web session cookies and e-mailed links, 32 bytes or more; unset: a "
        "random key in `$SMGOV_HOME/session.key`; never stored in the database; required on "
        "PostgreSQL",
    )
    session_hours: int = Field(default=8, ge=1, le=72, description="a web session's lifetime")
    cookie_secure: bool = Field(
        default=True,
        description="session cookies are sent over HTTPS only (browsers also accept them from "
        "`http://127.0.0.1`)",
    )
    oidc_issuer: str | None = Field(
        default=None,
        description='OpenID Connect issuer for "Sign in", e.g. '
        "`https://login.microsoftonline.com/<tenant>/v2.0`",
    )
    oidc_client_id: str | None = Field(
        default=None,
        description="the app registration at the identity provider; redirect URI "
        "`<public URL>/signin/callback`",
    )
    oidc_client_secret: SecretStr | None = Field(
        default=None, description="the app registration's secret"
    )
    oidc_email_claim: str = Field(
        default="email",
        description="the ID token claim matched (case-insensitively) to a staff member's e-mail",
    )

    remind_days_before: tuple[int, ...] = Field(
        default=(7, 3, 1), description="reminder stages before the due day (JSON list)"
    )
    overdue_every_days: int = Field(default=7, ge=1, description="reminder interval while overdue")
    escalate_head_after_days: int = Field(
        default=1, ge=0, description="days overdue before the head of entity is told"
    )
    escalate_registry_after_days: int = Field(
        default=14, ge=0, description="days overdue before the registry team is told"
    )
    handover_days: int = Field(
        default=2,
        ge=0,
        description="days to hand over an account's credentials after a separation or "
        "reassignment (4.2)",
    )
    rotation_days: int = Field(
        default=180,
        ge=1,
        description="credentials are rotated at least this often; each rotation is an "
        "obligation (4.2)",
    )
    attestation_days: int = Field(
        default=180,
        ge=1,
        description="heads confirm their entity's entries at least this often (3.1(c))",
    )
    decision_days: int = Field(
        default=10,
        ge=1,
        le=365,
        description="days a head has to decide a request for a new account (smgov policy)",
    )
    assessment_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="days a head has to complete an assessment (3.3; smgov policy)",
    )
    survey_timeout_seconds: int = Field(
        default=600,
        ge=1,
        description="how long a reassessment campaign over several batches waits for one "
        "batch's duplication survey (3.2(a)), run in a process of its own; a survey that sends "
        "nothing in that time (held up by a lock, or a database that stopped answering) is "
        "stopped and the batch fails, writing nothing",
    )
    closure_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="days to close an account on its platform after withdrawal (3.8; smgov policy)",
    )
    reassessment_months: int = Field(
        default=12,
        ge=1,
        le=60,
        description="months between an entity's reassessment campaigns (3.2, 3.3; smgov policy)",
    )
    digest_max_lines: int = Field(
        default=200,
        ge=1,
        le=5_000,
        description="the duties a reminder e-mail lists at most, the most urgent first; the others "
        "are counted by entity, with the commands that list them all (the subject counts every "
        "duty; a Teams card lists 20)",
    )
    outbox_max_attempts: int = Field(
        default=8, ge=1, description="delivery attempts before a message is dead-lettered"
    )
    claim_lease_seconds: int = Field(
        default=30,
        ge=5,
        description="how long a deliverer's claim on a message lasts (real time)",
    )

    max_body_bytes: int = Field(
        default=1_000_000,
        ge=1_000,
        description="the largest HR webhook body accepted (413 beyond, counted while read)",
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """An empty or whitespace value is no value: the setting keeps its default (unset)."""
        if isinstance(data, dict):
            return {
                k: v
                for k, v in data.items()
                if not (isinstance(v, str | SecretStr) and not _text(v).strip())
            }
        return data

    @field_validator("audit_key", "session_secret", "hr_webhook_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None, info: Any) -> SecretStr | None:
        if value is None:
            return None
        stripped = value.get_secret_value().strip()
        if len(stripped.encode()) < MIN_KEY_BYTES:
            raise ValueError(
                f"must be at least {MIN_KEY_BYTES} bytes "
                "(e.g. `python3 -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return SecretStr(stripped)

    @model_validator(mode="after")
    def _shared_database_needs_shared_keys(self) -> Settings:
        if self.resolved_database_url.startswith("postgresql"):
            missing = [
                f"SMGOV_{name.upper()}"
                for name in ("audit_key", "session_secret")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(
                    f"{' and '.join(missing)} must be set on PostgreSQL: every process and home "
                    "sharing the database needs the same keys (no per-home key file)"
                )
        return self

    @field_validator("database_url")
    @classmethod
    def _one_of_our_databases(cls, value: str | None) -> str | None:
        """SQLite or PostgreSQL, named as SQLAlchemy names them; the value itself is never
        repeated (it may hold a password)."""
        if value is None:
            return None
        url = value.strip()
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in DATABASE_SCHEMES:
            raise ValueError(
                "must be a sqlite:/// or postgresql+psycopg:// URL (smgov runs on SQLite and "
                "PostgreSQL), e.g. postgresql+psycopg://smgov@db.example/smgov"
            )
        if scheme == "sqlite" and (rest == "/" or "?" in rest):
            raise ValueError(
                "a SQLite URL names its file and nothing else: sqlite:////var/lib/smgov/smgov.db"
            )
        from sqlalchemy.engine import make_url  # only when a URL is set

        try:
            make_url(url).port  # noqa: B018 (reading the port parses the host and port)
        except Exception:  # any parse failure: SQLAlchemy raises several kinds
            raise ValueError(
                "is not a URL SQLAlchemy can read (a host in [brackets] closed, a port of digits)"
            ) from None
        return url

    @field_validator("language")
    @classmethod
    def _official(cls, value: str) -> str:
        code = value.strip().lower()
        if code not in OFFICIAL_LANGUAGES:
            raise ValueError("must be one of ar, zh, en, fr, ru, es (official languages, 2.3)")
        return code

    @field_validator("default_timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            return check_timezone(value)
        except Refused as exc:
            raise ValueError(str(exc)) from exc

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Settings come from the environment, then from the secrets directory named by
        SMGOV_SECRETS_DIR (one file per setting, named like its variable, e.g.
        `SMGOV_SMTP_PASSWORD`, as Docker and systemd credentials provide them) — nowhere else."""
        folder = os.environ.get("SMGOV_SECRETS_DIR")
        if not folder:
            return (init_settings, env_settings)
        if not Path(folder).is_dir():
            raise ValueError(f"SMGOV_SECRETS_DIR: {folder} is not a directory")
        return (
            init_settings,
            env_settings,
            SecretsSettingsSource(settings_cls, secrets_dir=folder),
        )

    @property
    def home_dir(self) -> Path:
        """`home` with ~ expanded."""
        return self.home.expanduser()

    @property
    def resolved_database_url(self) -> str:
        """The database URL in force (the SQLite default lives under home)."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.home_dir / 'smgov.db'}"

    @property
    def mail_dir(self) -> Path:
        """Where messages go when no SMTP server is configured (embedded mode)."""
        return self.home_dir / "mail"


MIN_KEY_BYTES = 32


def _text(value: str | SecretStr) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def private_dir(path: Path) -> Path:
    """Create `path` (and its parents) if need be; a directory smgov creates is 0700 whatever
    the umask."""
    path = path.expanduser()
    missing: list[Path] = []
    step = path
    while not step.exists():
        missing.append(step)
        step = step.parent
    for folder in reversed(missing):  # mkdir(parents=True) would give parents the umask's mode
        try:
            folder.mkdir(mode=0o700)
        except FileExistsError:  # another process made it at the same moment
            continue
        folder.chmod(0o700)
    return path


def key_file(path: Path) -> bytes:
    """The key kept in `path`, made on first use. Concurrent first starts agree on one key: the
    new key is written in full to a private temporary file (O_CREAT|O_EXCL, 0600), then linked
    into place, which fails if another process got there first — its key is then the key. (A
    rename would replace the winner's file after it had been used.) A key file that is empty or
    shorter than 32 bytes is refused, never used."""
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, secrets.token_hex(32).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
        finally:
            tmp.unlink()
    key = path.read_bytes().strip()
    if len(key) < MIN_KEY_BYTES:
        raise Refused(
            "key file", f"{path} holds fewer than {MIN_KEY_BYTES} bytes: remove it or fix it"
        )
    return key
