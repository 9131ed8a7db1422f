"""Delivery channels over apprise: e-mail to one person per URL, Teams to an entity's channel.

Secrets stay out of everything smgov writes: the SMTP password is read from the settings at the
moment a URL is built, never logged or stored; Teams Workflows URLs (carrying a signature)
live only in the apprise YAML file named by SMGOV_APPRISE_CONFIG, reached by tag (`entity-<code>`,
`registry`). Without an SMTP server, e-mail goes to a local maildir under SMGOV_HOME (embedded).
"""

from __future__ import annotations

import contextlib
import contextvars
import email.utils
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import apprise
import apprise.plugins.email.base as _apprise_email
from apprise import AppriseAsset
from apprise.common import PersistentStoreMode

from models.settings import Settings, private_dir

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
    body: str


@dataclass(frozen=True)
class Delivery:
    ok: bool
    detail: str  # a short reason on failure; never a URL, never a secret


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> Delivery: ...


def _asset() -> AppriseAsset:
    # In-memory only: apprise must not write a persistent store of its own anywhere.
    return AppriseAsset(storage_mode=PersistentStoreMode.MEMORY)


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
    """E-mail over SMTP through apprise, one URL per recipient so each result is known."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def _url(self, recipient: str) -> str:
        s = self._settings
        mode = {"none": "insecure", "starttls": "starttls", "ssl": "ssl"}[s.smtp_tls]
        scheme = "mailtos" if s.smtp_tls != "none" else "mailto"
        creds = ""
        if s.smtp_username:
            password = s.smtp_password.get_secret_value() if s.smtp_password else ""
            creds = f"{quote(s.smtp_username, safe='')}:{quote(password, safe='')}@"
        query = (
            f"from={quote(s.smtp_from, safe='')}&to={quote(recipient, safe='@')}"
            f"&mode={mode}&format=text&timeout={int(s.smtp_timeout)}"
        )
        return f"{scheme}://{creds}{s.smtp_host}:{s.smtp_port}?{query}"

    def send(self, message: Outgoing) -> Delivery:
        instance = apprise.Apprise(asset=_asset())
        if not instance.add(self._url(message.recipient)):
            return Delivery(False, "SMTP settings do not form a valid mail URL")
        return _notify(instance, message)


class MaildirChannel:
    """Embedded mode: each message is written as a file to SMGOV_HOME/mail/new (maildir)."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self._root = settings.mail_dir
        self._from = settings.smtp_from

    def send(self, message: Outgoing) -> Delivery:
        for sub in ("tmp", "new", "cur"):
            private_dir(self._root / sub)  # 0700: messages carry one-task links
        mail = EmailMessage()
        mail["From"] = self._from
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail["Message-ID"] = message.message_id
        mail["Date"] = email.utils.formatdate(localtime=False)
        mail.set_content(message.body)
        name = re.sub(r"[^A-Za-z0-9.-]", "_", message.message_id.strip("<>")) + ".eml"
        # Same Message-ID, same file: a repeat after a crash overwrites rather than duplicates.
        fd, tmp = tempfile.mkstemp(dir=self._root / "tmp")
        with os.fdopen(fd, "wb") as handle:
            handle.write(bytes(mail))
        Path(tmp).replace(self._root / "new" / name)
        return Delivery(True, "written to the local mail folder")


class TeamsChannel:
    """Microsoft Teams through Power Automate Workflows URLs held in an apprise YAML file."""

    name = "teams"

    def __init__(self, settings: Settings) -> None:
        self._config = settings.apprise_config

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
        return _notify(instance, message, tag=message.recipient)


def channels_from(settings: Settings) -> dict[str, Channel]:
    """The channels in force: SMTP if configured (else the local mail folder), and Teams."""
    mail: Channel = EmailChannel(settings) if settings.smtp_host else MaildirChannel(settings)
    return {"email": mail, "teams": TeamsChannel(settings)}
