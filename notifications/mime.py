"""An outbox message as the e-mail people expect: `multipart/alternative` with the plain text
first and the accessible HTML part second (mail clients show the last part they can), the
reader's `Content-Language`, a `List-Id` so rules and filters can sort smgov's mail, marked as
automatic (RFC 3834), and the outbox's own stable Message-ID (at-least-once delivery folds in mail
clients: a repeat carries the same Message-ID)."""

from __future__ import annotations

import email.utils
from email.headerregistry import Address
from email.message import EmailMessage
from typing import Protocol

from models.settings import Settings


class Composable(Protocol):
    @property
    def message_id(self) -> str: ...
    @property
    def recipient(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def body(self) -> str: ...
    @property
    def rich(self) -> str | None: ...
    @property
    def language(self) -> str: ...


def list_id(settings: Settings) -> str:
    """ "smgov <smgov.un.example>": named after the sending domain (RFC 2919)."""
    _, address = email.utils.parseaddr(settings.smtp_from)
    domain = address.rpartition("@")[2] or "localhost"
    return f"smgov <smgov.{domain}>"


def _subject(text: str) -> str:
    """A subject in a non-Latin script keeps its spaces: Python's header folder drops the space
    between an encoded word and a plain one ("Entity OHCHR" came out "EntityOHCHR" in Chinese
    subjects); no-break spaces travel inside the encoded words and show as spaces. Latin-script
    subjects fold without loss and are left as they are (filters match their words)."""
    beyond_latin = any(ch.isalpha() and ord(ch) > 0x24F for ch in text)
    return text.replace(" ", "\u00a0") if beyond_latin else text


def compose(message: Composable, settings: Settings) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = settings.smtp_from
    mail["To"] = message.recipient
    mail["Subject"] = _subject(message.subject)
    mail["Message-ID"] = message.message_id
    mail["Date"] = email.utils.formatdate(localtime=False)
    mail["List-Id"] = list_id(settings)
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body, subtype="plain", charset="utf-8")
    if message.rich:
        mail.add_alternative(message.rich, subtype="html", charset="utf-8")
    # After the content: setting the content clears every Content-* header.
    mail["Content-Language"] = message.language
    return mail


def envelope(settings: Settings, recipient: str) -> tuple[str, list[str]]:
    """The SMTP envelope: sender address and recipient list."""
    _, sender = email.utils.parseaddr(settings.smtp_from)
    return sender or str(Address(addr_spec="smgov@localhost")), [recipient]
