"""Settings, from the environment (prefix SMGOV_). The README's settings table mirrors this class.

Secrets (SMTP password, HR webhook secret, audit key) are `SecretStr`: they print as '**********'
and are read with `.get_secret_value()` only at the point of use, never stored or logged.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

from models.clock import check_timezone
from models.errors import Refused


class Settings(BaseSettings):
    """Every setting smgov reads. Defaults suit the embedded mode on one laptop."""

    model_config = SettingsConfigDict(env_prefix="SMGOV_", extra="ignore")

    home: Path = Field(default=Path("~/.smgov"), description="where smgov keeps its files")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default: SQLite file smgov.db under home"
    )
    issuance_date: dt.date | None = Field(
        default=None,
        description="the bulletin's date of issuance (5.1): anchor of the 3.4 inventory",
    )
    default_timezone: str = Field(default="UTC", description="timezone for entities given none")

    smtp_host: str | None = Field(default=None, description="SMTP server; unset: local mail folder")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_tls: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_from: str = "smgov <smgov@localhost>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_timeout: float = Field(default=15.0, gt=0)

    registry_email: str | None = Field(
        default=None, description="the registry team of the Department of Global Communications"
    )
    security_email: str | None = Field(
        default=None, description="Department of Safety and Security"
    )
    hr_webhook_secret: SecretStr | None = None
    scim_token: SecretStr | None = Field(
        default=None,
        description="bearer token of the SCIM door (/scim/v2); unset or blank: SCIM off",
    )
    audit_key: SecretStr | None = Field(
        default=None, description="HMAC key of the audit chain; unset: a key file under home"
    )
    apprise_config: Path | None = Field(
        default=None, description="apprise YAML with Teams Workflows URLs tagged entity-<code>"
    )

    public_url: str | None = Field(
        default=None,
        description="the web door's address (e.g. https://smgov.un.org); set: e-mails carry links",
    )
    link_ttl_days: int = Field(default=7, ge=1, le=90, description="one-task e-mail links expire")
    session_secret: SecretStr | None = Field(
        default=None, description="signs web session cookies; unset: a key file under home"
    )
    session_hours: int = Field(default=8, ge=1, le=72, description="a web session's lifetime")
    cookie_secure: bool = Field(default=True, description="session cookies only over HTTPS")
    oidc_issuer: str | None = Field(
        default=None, description="OpenID Connect issuer URL (e.g. Microsoft Entra ID tenant)"
    )
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None
    oidc_email_claim: str = Field(
        default="email", description="the ID token claim holding the staff member's e-mail"
    )

    remind_days_before: tuple[int, ...] = (7, 3, 1)
    overdue_every_days: int = Field(default=7, ge=1)
    escalate_head_after_days: int = Field(default=1, ge=0)
    escalate_registry_after_days: int = Field(default=14, ge=0)
    handover_days: int = Field(default=2, ge=0, description="credential handover deadline (4.2)")
    rotation_days: int = Field(default=180, ge=1, description="credential rotation interval (4.2)")
    attestation_days: int = Field(default=180, ge=1, description="heads attest entries (3.1(c))")
    decision_days: int = Field(default=10, ge=1, le=365, description="heads decide requests")
    assessment_days: int = Field(default=30, ge=1, le=365, description="heads assess (3.3)")
    closure_days: int = Field(default=30, ge=1, le=365, description="close withdrawn (3.8)")
    reassessment_months: int = Field(
        default=12, ge=1, le=60, description="months between reassessments (3.2, 3.3)"
    )
    outbox_max_attempts: int = Field(default=8, ge=1)
    claim_lease_seconds: int = Field(default=30, ge=5)

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
