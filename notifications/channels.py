"""Delivery channels over apprise: e-mail to one person per URL, Teams to an entity's channel.

Secrets stay out of everything smgov writes: the SMTP password is read from the settings at the
moment a URL is built, never logged or stored; Teams Workflows URLs (carrying a signature)
live only in the apprise YAML file named by SMGOV_APPRISE_CONFIG, reached by tag (`entity-<code>`,
`registry`). Without an SMTP server, e-mail goes to a local maildir under SMGOV_HOME (embedded).
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import re
import smtplib
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import apprise
import apprise.plugins.email.base as _apprise_email
from apprise import AppriseAsset
from apprise.common import PersistentStoreMode
from apprise.plugins.workflows import NotifyWorkflows

from models.settings import Settings
from notifications.cards import resolve, workflows_payload
from notifications.mime import compose, envelope

# apprise always stamps a fresh Message-ID; a re-sent outbox message must carry the *same* one so
# that mail clients fold a repeat (at-least-once delivery, never two different copies). apprise
# calls the module-level `make_msgid` once per message: we answer with the outbox's Message-ID
# while a send is in progress (a context variable, so concurrent threads do not mix them up).
_MESSAGE_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "smgov_msgid", default=None
)
_original_make_msgid = _apprise_email.make_msgid  # type: ignore[attr-defined]  # apprise imports it, no re-export


def _stable_make_msgid(*args: Any, **kwargs: Any) -> str:
    value = _MESSAGE_ID.get()
    return value if value else str(_original_make_msgid(*args, **kwargs))


_apprise_email.make_msgid = _stable_make_msgid  # type: ignore[attr-defined]  # patching apprise's import


@contextlib.contextmanager
def _message_id(value: str) -> Iterator[None]:
    token = _MESSAGE_ID.set(value)
    try:
        yield
    finally:
        _MESSAGE_ID.reset(token)


@dataclass(frozen=True)
class Outgoing:
    """One message to one recipient (an e-mail address, or a Teams tag)."""

    message_id: str
    recipient: str
    subject: str
    body: str  # the plain-text part
    rich: str | None = None  # e-mail: the HTML part (same content); Teams: an Adaptive Card (JSON)
    language: str = "en"  # the reader's official language (Content-Language)


@dataclass(frozen=True)
class Delivery:
    ok: bool
    detail: str  # a short reason on failure; never a URL, never a secret


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> Delivery: ...


def apprise_asset() -> AppriseAsset:
    """In-memory only: apprise must not write a persistent store of its own anywhere."""
    return AppriseAsset(storage_mode=PersistentStoreMode.MEMORY)


_asset = apprise_asset


def _notify(instance: apprise.Apprise, message: Outgoing, tag: Any = None) -> Delivery:
    for service in instance:
        service.request_rate_per_sec = 0  # apprise waits 5.5 s between sends otherwise
    kwargs: dict[str, Any] = {
        "body": message.body,
        "title": message.subject,
        "body_format": apprise.NotifyFormat.TEXT,
    }
    if tag is not None:
        kwargs["tag"] = tag
    with _message_id(message.message_id):
        result = instance.notify(**kwargs)
    if result:
        return Delivery(True, "delivered")
    status = getattr(result, "status", None)
    return Delivery(False, f"not delivered ({getattr(status, 'name', 'FAILURE').lower()})")


class EmailChannel:
    """E-mail over SMTP, one message per recipient so each result is known. The message is
    composed by notifications.mime (multipart/alternative, Content-Language, List-Id, the stable
    Message-ID) and handed to the server as it is."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def send(self, message: Outgoing) -> Delivery:
        s = self._settings
        mail = compose(message, s)
        sender, recipients = envelope(s, message.recipient)
        try:
            with smtp_session(s) as server:
                server.send_message(mail, from_addr=sender, to_addrs=recipients)
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(False, f"not delivered ({type(exc).__name__})")
        return Delivery(True, "delivered")


@contextlib.contextmanager
def smtp_session(settings: Settings) -> Iterator[smtplib.SMTP]:
    """A connection to the configured SMTP server: TLS as configured, signed in if a user name is
    set (the password read here, never logged)."""
    s = settings
    assert s.smtp_host is not None
    server: smtplib.SMTP
    if s.smtp_tls == "ssl":
        server = smtplib.SMTP_SSL(
            s.smtp_host, s.smtp_port, timeout=s.smtp_timeout, context=ssl.create_default_context()
        )
    else:
        server = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
    try:
        server.ehlo()
        if s.smtp_tls == "starttls":
            server.starttls(context=ssl.create_default_context())
            server.ehlo()
        if s.smtp_username:
            password = s.smtp_password.get_secret_value() if s.smtp_password else ""
            server.login(s.smtp_username, password)
        yield server
    finally:
        with contextlib.suppress(OSError, smtplib.SMTPException):
            server.quit()


class MaildirChannel:
    """Embedded mode: each message is written as a file to SMGOV_HOME/mail/new (maildir)."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self._root = settings.mail_dir
        self._settings = settings

    def send(self, message: Outgoing) -> Delivery:
        for sub in ("tmp", "new", "cur"):
            (self._root / sub).mkdir(parents=True, exist_ok=True)
        mail = compose(message, self._settings)
        name = re.sub(r"[^A-Za-z0-9.-]", "_", message.message_id.strip("<>")) + ".eml"
        # Same Message-ID, same file: a repeat after a crash overwrites rather than duplicates.
        fd, tmp = tempfile.mkstemp(dir=self._root / "tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(mail))
        Path(tmp).replace(self._root / "new" / name)
        return Delivery(True, "written to the local mail folder")


def _fixed(payload: dict[str, Any]) -> Any:
    def gen_payload(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return payload

    return gen_payload


class TeamsChannel:
    """Microsoft Teams through Power Automate Workflows URLs held in an apprise YAML file."""

    name = "teams"

    def __init__(self, settings: Settings) -> None:
        self._config = settings.apprise_config
        self._public_url = settings.public_url

    def tags(self) -> set[str]:
        """Which tags the configuration serves (so only reachable channels get messages)."""
        instance = self._load()
        if instance is None:
            return set()
        found: set[str] = set()
        for service in instance:
            found.update(str(t) for t in getattr(service, "tags", ()))
        return found

    def _load(self) -> apprise.Apprise | None:
        if self._config is None or not Path(self._config).expanduser().is_file():
            return None
        config = apprise.AppriseConfig(asset=_asset())
        config.add(str(Path(self._config).expanduser()))
        instance = apprise.Apprise(asset=_asset())
        instance.add(config)
        return instance

    def send(self, message: Outgoing) -> Delivery:
        instance = self._load()
        if instance is None:
            return Delivery(False, "no apprise configuration for Teams")
        if message.rich:
            # The card goes through apprise's Workflows plugin (its URL, signature, transport
            # and result), which would otherwise build a plain card of its own from title and
            # body: each Workflows service of this message posts ours instead.
            payload = workflows_payload(resolve(message.rich, self._public_url))
            for service in instance:
                if isinstance(service, NotifyWorkflows):
                    service.gen_payload = _fixed(payload)  # type: ignore[method-assign]  # our card, this send only
        return _notify(instance, message, tag=message.recipient)


def channels_from(settings: Settings) -> dict[str, Channel]:
    """The channels in force: SMTP if configured (else the local mail folder), and Teams."""
    mail: Channel = EmailChannel(settings) if settings.smtp_host else MaildirChannel(settings)
    return {"email": mail, "teams": TeamsChannel(settings)}
