"""Delivery channels: e-mail to one person per message over SMTP (a connection kept for a
delivery run; the outbox runs several at once), Teams to an entity's channel through apprise (one
HTTP session per run).

Secrets stay out of everything smgov writes: the SMTP password is read from the settings at the
moment the connection logs in, never logged or stored; Teams Workflows URLs (carrying a signature)
live only in the apprise YAML file named by SMGOV_APPRISE_CONFIG, reached by tag (`entity-<code>`,
`registry`). Without an SMTP server, e-mail goes to a local maildir under SMGOV_HOME (embedded).
"""

from __future__ import annotations

import contextlib
import email.policy
import io
import os
import re
import smtplib
import socket
import ssl
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.generator import BytesGenerator
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from models.settings import Settings, private_dir
from notifications.cards import resolve, workflows_payload
from notifications.mime import compose, envelope

if TYPE_CHECKING:
    # apprise (with requests, urllib3, markdown: ~0.15 s) is imported where Teams is reached,
    # so a process that sends no Teams message never loads it (start-up time, issue 20)
    import apprise
    import requests
    from apprise import AppriseAsset
    from apprise.plugins.workflows import NotifyWorkflows


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
    # the server would not take a new connection (down, or it allows no more): another of the
    # run's connections may still deliver this message
    unconnected: bool = False


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> Delivery: ...


Finish = Callable[[], Delivery]  # the step past which the server may have the message


@runtime_checkable
class Staged(Channel, Protocol):
    """A channel that sends in two steps: `begin` does everything that leaves the server
    without the message (or fails), the returned `Finish` the one step that hands it over, so
    that a caller can record each outcome before the next message is handed over while several
    connections prepare theirs."""

    def begin(self, message: Outgoing) -> Delivery | Finish: ...


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
    first message (or by `open()`), reused for the next, reopened once when a reused connection
    has gone (the server closed it while idle); `close()` ends it. (apprise opened a connection
    and built a TLS context — about 18 ms, even with TLS off — for every message: a third of the
    mail server's own pace.)

    A message goes in two steps (`begin`, then the `Finish` it returns): the envelope and the
    whole text, then the line that ends the text, after which the server has the message. Only
    the second needs to wait its turn when several connections deliver at once."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._smtp: smtplib.SMTP | None = None
        self._tls: ssl.SSLContext | None = None
        self._in_text = False  # a message's text sent, its end not yet

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
            # the line that ends a message follows its text at once (a write of its own, that
            # Nagle's algorithm would hold until the server's delayed ACK: 40 ms a message)
            if conn.sock is not None:
                conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if s.smtp_tls == "starttls":
                conn.starttls(context=self._context())
            if s.smtp_username:
                password = s.smtp_password.get_secret_value() if s.smtp_password else ""
                conn.login(s.smtp_username, password)
            conn.ehlo_or_helo_if_needed()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        return conn

    def open(self) -> bool:
        """Connect now (if not connected): whether the server took the connection."""
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except (smtplib.SMTPException, OSError):
                return False
        return True

    def send(self, message: Outgoing) -> Delivery:
        begun = self.begin(message)
        return begun if isinstance(begun, Delivery) else begun()

    def begin(self, message: Outgoing) -> Delivery | Finish:
        """MAIL, RCPT, DATA and the text (dot-stuffed), all but the final `.`: a failure here
        leaves the server without the message, and a reused connection that has gone is
        replaced once."""
        mail = compose(message, self._settings)
        sender, recipients = envelope(self._settings, message.recipient)
        while True:
            fresh = self._smtp is None
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                smtp = self._smtp
                refused = _envelope(smtp, mail, sender, recipients)
                if refused is not None:
                    return refused
                self._in_text = True
                return lambda: self._finish(smtp)
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                if fresh:  # a new connection failed: the server is down or refuses us
                    return Delivery(False, f"not delivered ({_reason(exc)})", True)
                # a reused connection had gone: once more on a new one

    def _finish(self, smtp: smtplib.SMTP) -> Delivery:
        """The end of the text: the server answers whether it takes the message."""
        self._in_text = False
        try:
            code, _ = smtp.docmd(".")
        except (smtplib.SMTPException, OSError) as exc:
            self.close()  # it may have the message: recorded as a failure, sent again later
            return Delivery(False, f"not delivered ({_reason(exc)})")
        if code == 250:
            return Delivery(True, "delivered")
        self._reset(code)
        return Delivery(False, f"not delivered (SMTP {code})")

    def _reset(self, code: int = 0) -> None:
        """After a refusal: the connection stays, its transaction reset (or it is dropped:
        after 421 the server closes it)."""
        if self._smtp is not None:
            if code == 421:
                self.close()
                return
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self.close()

    def close(self) -> None:
        """QUIT, or, in the middle of a message's text (a run that stops there), hang up: the
        server then drops the message it never saw the end of."""
        if self._smtp is not None:
            smtp, self._smtp = self._smtp, None
            if self._in_text:
                self._in_text = False
                smtp.close()
                return
            try:
                smtp.quit()
            except (smtplib.SMTPException, OSError):
                smtp.close()


def _envelope(
    smtp: smtplib.SMTP, mail: EmailMessage, sender: str, recipients: list[str]
) -> Delivery | None:
    """MAIL FROM, RCPT TO, DATA and the message's text without the line that ends it, as
    `smtplib.SMTP.send_message` would send them; a refusal (the connection reset, ready for
    the next message) or None. A lost connection raises, as in smtplib."""
    international = any(not a.isascii() for a in (sender, *recipients))
    if international and not smtp.has_extn("smtputf8"):
        return Delivery(False, "not delivered (the server takes no SMTPUTF8 address)")
    text = _wire(mail, utf8=international)
    options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
    if smtp.does_esmtp and smtp.has_extn("size"):
        options.append(f"size={len(text)}")
    code, _ = smtp.mail(sender, options)
    if code == 250:
        for recipient in recipients:
            code, _ = smtp.rcpt(recipient)
            if code not in (250, 251):
                return _refused(smtp, code, "recipient refused")
        code, _ = smtp.docmd("data")
        if code == 354:
            # in pieces: the timeout then bounds a wait without progress, not the whole text (a
            # registry digest of tens of megabytes to a relay shared by the run's connections
            # may well take longer than SMGOV_SMTP_TIMEOUT, and smtplib's one sendall would fail
            # it every time)
            view = memoryview(text)
            for start in range(0, len(view), _PIECE):
                smtp.send(view[start : start + _PIECE])
            return None
    return _refused(smtp, code, f"SMTP {code}")


_PIECE = 1 << 20  # bytes of a message's text sent at a time


def _reason(exc: BaseException) -> str:
    """A failure in a few words: the reply code, or the kind of error (never the server's text)."""
    if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code > 0:
        return f"SMTP {exc.smtp_code}"
    return type(exc).__name__


def _refused(smtp: smtplib.SMTP, code: int, reason: str) -> Delivery:
    if code in (421, -1):  # the server closes the connection: as if it had gone
        smtp.close()
        raise smtplib.SMTPServerDisconnected(f"{code}")
    smtp.rset()
    return Delivery(False, f"not delivered ({reason})")


def _wire(mail: EmailMessage, *, utf8: bool) -> bytes:
    """The message as it travels after DATA: CRLF line ends, lines starting with a dot doubled,
    ending in CRLF (the `.` line that ends it is sent apart)."""
    out = io.BytesIO()
    BytesGenerator(out, policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP).flatten(mail)
    text = out.getvalue().replace(b"\n.", b"\n..")  # smtplib's (?m)^\. at C speed
    if text.startswith(b"."):
        text = b"." + text
    return text if text.endswith(b"\r\n") else text + b"\r\n"


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


class _Posting:
    """`requests` as apprise's Workflows plugin sees it once `_through` a session: the module
    itself, but `post` goes through the session (its connection kept alive, its TLS context
    kept)."""

    def __init__(self, session: requests.Session) -> None:
        self._session = session

    def __getattr__(self, name: str) -> Any:
        import requests

        return getattr(requests, name)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self._session.post(url, **kwargs)


def _through(service: NotifyWorkflows, session: requests.Session) -> bool:
    """Let this Workflows service post through `session`, its own code otherwise unchanged.

    apprise 2.0 has no way to hand a plugin an HTTP session: `NotifyWorkflows.send` calls the
    module-level `requests.post`, which builds a session, opens a connection and shakes hands
    (TLS) for every message, and closes it. Here the service's `send` becomes the plugin's own
    function (same code, defaults and closure) in whose globals the name `requests` is a
    `_Posting`: URL, signature, headers, timeouts, verification and result stay apprise's, for
    this one object only (no module of apprise is changed). If a later apprise posts some other
    way, the service is left as it is (False): still correct, only not reusing the session
    (tests/test_delivery.py counts the connections)."""
    send = type(service).send
    code = getattr(send, "__code__", None)
    if code is None or "requests" not in code.co_names:
        return False
    scope = {**send.__globals__, "requests": _Posting(session)}
    own = types.FunctionType(code, scope, send.__name__, send.__defaults__, send.__closure__)
    own.__kwdefaults__ = send.__kwdefaults__
    service.send = types.MethodType(own, service)  # type: ignore[method-assign]  # this object's own
    return True


def _fixed(payload: dict[str, Any]) -> Any:
    def gen_payload(*args: Any, **kwargs: Any) -> dict[str, Any]:
        return payload

    return gen_payload


class TeamsChannel:
    """Microsoft Teams through Power Automate Workflows URLs held in an apprise YAML file. The
    configuration is loaded once per run, at the first message, and the run's posts share one
    HTTP session (one connection kept alive per endpoint); `close()` ends it."""

    name = "teams"

    def __init__(self, settings: Settings) -> None:
        self._config = settings.apprise_config
        self._instance: apprise.Apprise | None = None  # loaded once per run, at the first send
        self._session: requests.Session | None = None
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
        import requests
        from apprise.plugins.workflows import NotifyWorkflows

        if self._instance is None:
            self._instance = self._load()
            if self._instance is not None:
                self._session = requests.Session()
                for service in self._instance:
                    if isinstance(service, NotifyWorkflows):
                        _through(service, self._session)
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
        for service in instance:
            if isinstance(service, NotifyWorkflows):
                if payload is None:
                    service.__dict__.pop("gen_payload", None)
                else:
                    service.gen_payload = _fixed(payload)  # type: ignore[method-assign]  # our card, this message only
        return _notify(instance, message, tag=message.recipient)

    def close(self) -> None:
        if self._session is not None:
            session, self._session, self._instance = self._session, None, None
            session.close()


def channels_from(settings: Settings) -> dict[str, Channel]:
    """The channels in force: SMTP if configured (else the local mail folder), and Teams."""
    mail: Channel = EmailChannel(settings) if settings.smtp_host else MaildirChannel(settings)
    return {"email": mail, "teams": TeamsChannel(settings)}
