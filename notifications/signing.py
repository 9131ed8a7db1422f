"""Signed one-task links (the web door). A link's token is `<nonce>.<mac>`: the nonce names a
`link_token` row (who, which task, until when, used or not); the MAC is an HMAC-SHA256 of the
nonce under the web key, which lives in SMGOV_SESSION_SECRET or a 0600 file under home — never
in the database. Messages in the outbox carry a placeholder; the token is only written into a
message as it is sent, so neither the database nor the outbox can open a link."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from models.settings import Settings, key_file

PLACEHOLDER = "{{smgov-link:{nonce}}}"
_PLACEHOLDER = re.compile(r"\{smgov-link:([A-Za-z0-9_\-]{16,64})\}")


def web_key(settings: Settings) -> bytes:
    """SMGOV_SESSION_SECRET, or a random key kept in a 0600 file under home (created atomically:
    concurrent first starts agree on one key)."""
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode()
    return key_file(settings.home_dir / "session.key")


def derived(key: bytes, purpose: str) -> str:
    """A key for one purpose (session cookies, links), so one secret never signs two things."""
    return hmac.new(key, purpose.encode(), hashlib.sha256).hexdigest()


def _mac(key: bytes, nonce: str) -> str:
    digest = hmac.new(derived(key, "link").encode(), nonce.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_for(key: bytes, nonce: str) -> str:
    return f"{nonce}.{_mac(key, nonce)}"


def nonce_of(key: bytes, token: str) -> str | None:
    """The nonce of a genuine token, or None for a forged or mangled one."""
    nonce, _, mac = token.partition(".")
    if not nonce or not mac or not token.isascii():  # compare_digest takes ASCII text only
        return None
    if not hmac.compare_digest(mac.encode(), _mac(key, nonce).encode()):
        return None
    return nonce


def link_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}/link/{token}"


def expand_links(body: str, settings: Settings) -> str:
    """Replace each link placeholder with the signed link (at sending time only)."""
    if "{smgov-link:" not in body or not settings.public_url:
        return body
    key, base = web_key(settings), settings.public_url
    return _PLACEHOLDER.sub(lambda m: link_url(base, token_for(key, m.group(1))), body)
