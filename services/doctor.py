"""`smgov doctor`: the set-up a deployment needs, checked without changing anything.

Each check answers ok, warn or error with one line a person can act on; any error makes the
command exit 1. Nothing is sent and nothing is written: the database is only read, the SMTP
server is greeted (EHLO, STARTTLS, AUTH when configured) and left before MAIL FROM, the apprise
file is parsed, and no key file is created. No secret appears in a result."""

from __future__ import annotations

import smtplib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import inspect, select
from sqlmodel import Session, col

from database import is_current, make_engine
from models.settings import Settings
from models.tables import Entity
from notifications.channels import apprise_asset, smtp_session


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # "ok", "warn" or "error"
    detail: str

    def view(self) -> dict[str, Any]:
        return asdict(self)


def _database(settings: Settings) -> tuple[Check, set[str] | None]:
    url = settings.resolved_database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return Check("database", "error", "no database yet: run 'smgov db upgrade'"), None
    engine = make_engine(url)
    try:
        if "alembic_version" not in inspect(engine).get_table_names():
            return Check("database", "error", "no smgov schema: run 'smgov db upgrade'"), None
        if not is_current(engine):
            return Check("database", "error", "schema out of date: run 'smgov db upgrade'"), None
        with Session(engine) as session:
            codes = set(session.execute(select(col(Entity.code))).scalars())
        return Check("database", "ok", f"reachable and migrated ({engine.dialect.name})"), codes
    except Exception as exc:  # any driver error is the finding itself
        return Check("database", "error", f"not reachable: {type(exc).__name__}"), None
    finally:
        engine.dispose()


def _keys(settings: Settings) -> list[Check]:
    found = []
    for name, value, file in (
        ("audit key", settings.audit_key, "audit.key"),
        ("session secret", settings.session_secret, "session.key"),
    ):
        env = "SMGOV_" + name.upper().replace(" ", "_")
        if value is not None:
            found.append(Check(name, "ok", f"{env} is set"))
        elif (settings.home_dir / file).is_file():
            found.append(Check(name, "ok", f"key file {settings.home_dir / file}"))
        elif settings.resolved_database_url.startswith("sqlite"):
            found.append(Check(name, "warn", f"{env} unset: a key file is made on first use"))
        else:
            found.append(Check(name, "error", f"{env} unset (required with a shared database)"))
    return found


def _smtp(settings: Settings) -> Check:
    if not settings.smtp_host:
        return Check(
            "smtp", "warn", f"SMGOV_SMTP_HOST unset: mail goes to {settings.mail_dir} only"
        )
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    steps = ["EHLO"] + (["STARTTLS"] if settings.smtp_tls == "starttls" else [])
    steps += ["AUTH"] if settings.smtp_username else []
    try:
        with smtp_session(settings) as server:
            server.noop()
    except smtplib.SMTPAuthenticationError:
        return Check("smtp", "error", f"{where}: AUTH refused for {settings.smtp_username}")
    except smtplib.SMTPNotSupportedError as exc:
        return Check("smtp", "error", f"{where}: {exc}")
    except (OSError, smtplib.SMTPException) as exc:
        return Check("smtp", "error", f"{where}: not reachable ({type(exc).__name__})")
    return Check("smtp", "ok", f"{where}: {', '.join(steps)} accepted (nothing sent)")


def _apprise(settings: Settings, entities: set[str] | None) -> Check:
    path = settings.apprise_config
    if path is None:
        return Check("teams", "warn", "SMGOV_APPRISE_CONFIG unset: no Teams messages")
    path = Path(path).expanduser()
    if not path.is_file():
        return Check("teams", "error", f"SMGOV_APPRISE_CONFIG: {path} does not exist")
    import apprise  # only where an apprise file is named (a sweep's start-up time, issue 20)

    config = apprise.AppriseConfig(asset=apprise_asset())
    if not config.add(str(path)):
        return Check("teams", "error", f"SMGOV_APPRISE_CONFIG: {path} cannot be read")
    instance = apprise.Apprise(asset=apprise_asset())
    instance.add(config)
    services = list(instance)
    if not services:
        return Check("teams", "error", f"SMGOV_APPRISE_CONFIG: {path} holds no valid URL")
    tags: set[str] = set()
    for service in services:
        tags.update(str(t) for t in getattr(service, "tags", ()))
    known = {"registry"} | {f"entity-{c.lower()}" for c in entities or ()}
    unknown = sorted(t for t in tags if t not in known)
    if unknown and entities is not None:
        return Check(
            "teams",
            "error",
            f"unknown tag(s) {', '.join(unknown)}: "
            "use 'registry' or 'entity-<code>' of an entity in the registry",
        )
    return Check("teams", "ok", f"{len(services)} channel(s), tags: {', '.join(sorted(tags))}")


def _addresses(settings: Settings) -> list[Check]:
    found = []
    for name, value, env, why in (
        ("registry team", settings.registry_email, "SMGOV_REGISTRY_EMAIL", "escalations (3.1)"),
        ("security", settings.security_email, "SMGOV_SECURITY_EMAIL", "incidents (4.1(d))"),
    ):
        if value and "@" in value:
            found.append(Check(name, "ok", f"{env} = {value}"))
        elif value:
            found.append(Check(name, "error", f"{env} = {value!r} is not an e-mail address"))
        else:
            found.append(Check(name, "error", f"{env} unset: nobody receives {why}"))
    return found


def _issuance(settings: Settings) -> Check:
    if settings.issuance_date is None:
        return Check(
            "issuance date", "error", "SMGOV_ISSUANCE_DATE unset: the 3.4 inventory has no anchor"
        )
    return Check("issuance date", "ok", f"SMGOV_ISSUANCE_DATE = {settings.issuance_date}")


def _public_url(settings: Settings) -> Check:
    url = settings.public_url
    if not url:
        if settings.session_secret is not None:
            return Check(
                "web door",
                "warn",
                "SMGOV_SESSION_SECRET set but SMGOV_PUBLIC_URL unset: "
                "mails carry commands, not links",
            )
        return Check("web door", "ok", "SMGOV_PUBLIC_URL unset: mails carry commands, not links")
    parts = urlsplit(url)
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return Check("web door", "error", f"SMGOV_PUBLIC_URL = {url!r} is not an http(s) URL")
    if parts.scheme != "https" and not local:
        return Check("web door", "error", f"SMGOV_PUBLIC_URL = {url}: links need https")
    if settings.session_secret is None and not settings.resolved_database_url.startswith("sqlite"):
        return Check(
            "web door",
            "error",
            "SMGOV_PUBLIC_URL set without SMGOV_SESSION_SECRET: links signed on one machine "
            "do not open on another",
        )
    return Check("web door", "ok", f"links lead to {url}")


def diagnose(settings: Settings) -> list[Check]:
    """Every check, in the order a person fixes them."""
    database, entities = _database(settings)
    return [
        database,
        *_keys(settings),
        _smtp(settings),
        _apprise(settings, entities),
        *_addresses(settings),
        _issuance(settings),
        _public_url(settings),
    ]


def delivery_notes(settings: Settings) -> list[str]:
    """What a sweep's summary must say about who cannot be told (honest escalation)."""
    notes = []
    teams_registry = False
    path = settings.apprise_config
    if path is not None and not Path(path).expanduser().is_file():
        notes.append(f"Teams: not configured ({path} does not exist)")
    elif path is not None:
        import apprise

        config = apprise.AppriseConfig(asset=apprise_asset())
        config.add(str(Path(path).expanduser()))
        instance = apprise.Apprise(asset=apprise_asset())
        instance.add(config)
        teams_registry = any("registry" in getattr(s, "tags", ()) for s in instance)
    if not settings.registry_email and not teams_registry:
        notes.append("registry team: not configured (SMGOV_REGISTRY_EMAIL)")
    return notes
