"""Delivery channels: e-mail to one person per message over SMTP (one connection per delivery
run), Teams to an entity's channel through apprise.

Secrets stay out of everything smgov writes: the SMTP password is read from the settings at the
moment the connection logs in, never logged or stored; Teams Workflows URLs (carrying a signature)
live only in the apprise YAML file named by SMGOV_APPRISE_CONFIG, reached by tag (`entity-<code>`,
`registry`). Without an SMTP server, e-mail goes to a local maildir under SMGOV_HOME (embedded).
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from models.settings import Settings, private_dir
from notifications.cards import resolve, workflows_payload
from notifications.mime import compose, envelope

if TYPE_CHECKING:
    # apprise (with requests, urllib3, markdown: ~0.15 s) is imported where Teams is reached,
    # so a process that sends no Teams message never loads it (start-up time, issue 20)
    import apprise
    from apprise import AppriseAsset


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
    from apprise import AppriseAsset
    from apprise.common import PersistentStoreMode

    return AppriseAsset(storage_mode=PersistentStoreMode.MEMORY)


_asset = apprise_asset


def _notify(instance: apprise.Apprise, message: Outgoing, tag: Any = None) -> Delivery:
    import apprise

    for service in instance:
        service.request_rate_per_sec = 0  # apprise waits 5.5 s between sends otherwise
    kwargs: dict[str, Any] = {
        "body": message.body,
        "title": message.subject,
        "body_format": apprise.NotifyFormat.TEXT,
    }
    if tag is not None:
        kwargs["tag"] = tag
    result = instance.notify(**kwargs)
    if result:
        return Delivery(True, "delivered")
    status = getattr(result, "status", None)
    return Delivery(False, f"not delivered ({getattr(status, 'name', 'FAILURE').lower()})")


class EmailChannel:
    """E-mail over SMTP, one recipient per message so each result is known. The message is
    composed by notifications.mime (multipart/alternative, Content-Language, List-Id, the stable
    Message-ID). One connection (and one TLS context) serves a whole delivery run: opened at the
    first message, reused for the next, reopened once when a reused connection has gone (the
    server closed it while idle); `close()` ends it. (apprise opened a connection and built a TLS
    context — about 18 ms, even with TLS off — for every message: a third of the mail server's
    own pace.)"""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._tls: ssl.SSLContext | None = None

    def _context(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return self._tls

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        host, port, timeout = s.smtp_host or "", s.smtp_port, s.smtp_timeout
        name = socket.gethostname()  # not getfqdn(): a DNS lookup per connection
        conn: smtplib.SMTP
        if s.smtp_tls == "ssl":
            conn = smtplib.SMTP_SSL(
                host, port, local_hostname=name, timeout=timeout, context=self._context()
            )
        else:
            conn = smtplib.SMTP(host, port, local_hostname=name, timeout=timeout)
        try:
            if s.smtp_tls == "starttls":
                conn.starttls(context=self._context())
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                conn.login(s.smtp_username, password)
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        return conn

    def send(self, message: Outgoing) -> Delivery:
        mail = compose(message, self._settings)
        sender, recipients = envelope(self._settings, message.recipient)
        while True:
            fresh = self._smtp is None
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.send_message(mail, from_addr=sender, to_addrs=recipients)
                return Delivery(True, "delivered")
            except smtplib.SMTPRecipientsRefused:
                self._reset()
                return Delivery(False, "not delivered (recipient refused)")
            except smtplib.SMTPResponseException as exc:
                self._reset()
                return Delivery(False, f"not delivered (SMTP {exc.smtp_code})")
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                if fresh:  # a new connection failed: the server is down or refuses us
                    return Delivery(False, f"not delivered ({type(exc).__name__})")
                # a reused connection had gone: once more on a new one

    def _reset(self) -> None:
        """After a refusal: the connection stays, its transaction reset (or it is dropped)."""
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self.close()

    def close(self) -> None:
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


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
            private_dir(self._root / sub)  # 0700: messages carry one-task links
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
        self._instance: apprise.Apprise | None = None  # loaded once per run, at the first send
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
        import apprise

        config = apprise.AppriseConfig(asset=_asset())
        config.add(str(Path(self._config).expanduser()))
        instance = apprise.Apprise(asset=_asset())
        instance.add(config)
        return instance

    def send(self, message: Outgoing) -> Delivery:
        if self._instance is None:
            self._instance = self._load()
        instance = self._instance
        if instance is None:
            return Delivery(False, "no apprise configuration for Teams")
        # The card goes through apprise's Workflows plugin (its URL, signature, transport and
        # result), which would otherwise build a plain card of its own from title and body: each
        # Workflows service posts ours for this message. The instance serves a whole run, so a
        # message without a card takes the plugin's own again, never the previous message's.
        payload = (
            workflows_payload(resolve(message.rich, self._public_url)) if message.rich else None
        )
        from apprise.plugins.workflows import NotifyWorkflows

        for service in instance:
            if isinstance(service, NotifyWorkflows):
                if payload is None:
                    service.__dict__.pop("gen_payload", None)
                else:
                    service.gen_payload = _fixed(payload)  # type: ignore[method-assign]  # our card, this message only
        return _notify(instance, message, tag=message.recipient)


def channels_from(settings: Settings) -> dict[str, Channel]:
    """The channels in force: SMTP if configured (else the local mail folder), and Teams."""
    mail: Channel = EmailChannel(settings) if settings.smtp_host else MaildirChannel(settings)
    return {"email": mail, "teams": TeamsChannel(settings)}
