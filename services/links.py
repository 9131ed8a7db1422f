"""One-task links for the web door: every reminder and request e-mail leads, in one click, to the
page where its recipient does what is due.

A link is bound to one staff member and one task (a subject such as `request:12` or
`account:7`), is single-use and expires after `link_ttl_days`. Its token is a random nonce
signed with a key kept outside the database (notifications.signing): the `link_token` row holds
the nonce, never the token, and messages in the outbox hold a placeholder that becomes the link
only as the message is sent. Redeeming a link signs its holder in for that one task only; what
they may then do is still decided by the same services and authority rules as the CLI (3.1(a),
3.7, 4.2).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, select
from sqlmodel import col

from database import chunks, insert_rows
from models.errors import NotAuthorized, Refused
from models.tables import Assessment, LinkToken, Staff
from notifications.i18n import M, Msg, instant
from notifications.signing import PLACEHOLDER, nonce_of, token_for, web_key
from services.context import Ctx

NONCE_BYTES = 16
LINK_TOKEN = LinkToken.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely


def issue(ctx: Ctx, *, staff_index: str, task: str) -> str:
    """Record a fresh link for `staff_index` to do `task`; returns its nonce."""
    nonce = secrets.token_urlsafe(NONCE_BYTES)
    ctx.session.add(
        LinkToken(
            nonce=nonce,
            staff_index=staff_index,
            task=task,
            issued_at=ctx.now,
            expires_at=ctx.now + dt.timedelta(days=ctx.settings.link_ttl_days),
        )
    )
    ctx.session.flush()
    return nonce


def token(ctx: Ctx, nonce: str) -> str:
    """The signed token of a link (what the e-mail carries; never stored)."""
    return token_for(web_key(ctx.settings), nonce)


def browser_link(ctx: Ctx, *, staff_index: str | None, task: str) -> str | None:
    """The placeholder of a new link to put in a message to `staff_index`, or None when no web
    door is configured or the recipient is not one staff member (the registry team, Teams)."""
    if not ctx.settings.public_url or not staff_index:
        return None
    return PLACEHOLDER.format(nonce=issue(ctx, staff_index=staff_index, task=task))


class Spent(Refused):
    """A genuine link that can no longer be used: already used, expired, or its staff member
    is no longer active."""


RefusalT = TypeVar("RefusalT", bound=Refused)


def _used(at: dt.datetime) -> str:
    return f"this link was already used on {instant(at, 'en')}; each link works once"


def _used_words(at: dt.datetime) -> Msg:
    return M("This link was already used on {when}; each link works once.", when=at)


def _expired(at: dt.datetime) -> str:
    return f"this link expired on {instant(at, 'en')}"


def _expired_words(at: dt.datetime) -> Msg:
    return M("This link expired on {when}: ask for a new one or sign in.", when=at)


def _worded(refusal: RefusalT, words: Msg) -> RefusalT:
    """A refusal with its message for the web door's reader (`Refused.words`)."""
    refusal.words = words
    return refusal


@dataclass(frozen=True)
class Preview:
    """What a link is for and who it is for (the page GET shows, with one button)."""

    staff: str
    name: str
    task: str
    expires_at: dt.datetime


def _row(ctx: Ctx, token: str, *, lock: bool) -> LinkToken:
    nonce = nonce_of(web_key(ctx.settings), token)
    query = select(LinkToken).where(col(LinkToken.nonce) == (nonce or ""))
    if lock and ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row: LinkToken | None = ctx.session.execute(query).scalar_one_or_none() if nonce else None
    if row is None:
        raise Refused("link", "this link is not valid: ask for a new one or sign in")
    return row


def preview(ctx: Ctx, token: str) -> Preview:
    """What a link would do, without using it. Mail scanners (Microsoft Defender Safe Links),
    previews and pre-fetching GET every URL in a message before the person does: a GET or HEAD
    changes nothing and audits nothing, so the link is still there for its owner, whose own
    POST (redeem) is what counts (3.1(a))."""
    row = _row(ctx, token, lock=False)
    if row.used_at is not None:
        raise _worded(Spent("link", _used(row.used_at)), _used_words(row.used_at))
    if row.expires_at <= ctx.now:
        raise _worded(Spent("link", _expired(row.expires_at)), _expired_words(row.expires_at))
    staff = ctx.session.get(Staff, row.staff_index)
    if staff is None or staff.status != "active":
        raise Spent("link", f"staff member {row.staff_index} is not active staff", "4.2")
    return Preview(row.staff_index, staff.name, row.task, row.expires_at)


@dataclass(frozen=True)
class Grant:
    """What a redeemed link lets its holder do: act as `staff` on `task` only."""

    staff: str
    task: str


def redeem(ctx: Ctx, token: str) -> Grant:
    """Use a link once (the POST of the button its page shows, never a GET). A link that is
    forged, unknown, already used, expired, or whose staff member is no longer active is refused
    (and the refusal audited); nothing else changes."""
    row = _row(ctx, token, lock=True)
    subject = f"link:{row.nonce}"
    if row.used_at is not None:
        refusal = NotAuthorized(
            "link", _used(row.used_at), actor=row.staff_index, action="link.redeem", subject=subject
        )
        raise _worded(refusal, _used_words(row.used_at))
    if row.expires_at <= ctx.now:
        refusal = NotAuthorized(
            "link",
            _expired(row.expires_at),
            actor=row.staff_index,
            action="link.redeem",
            subject=subject,
        )
        raise _worded(refusal, _expired_words(row.expires_at))
    staff = ctx.session.get(Staff, row.staff_index)
    if staff is None or staff.status != "active":
        raise NotAuthorized(
            "link",
            f"staff member {row.staff_index} is not active staff",
            "4.2",
            actor=row.staff_index,
            action="link.redeem",
            subject=subject,
        )
    row.used_at = ctx.now
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit(actor=row.staff_index, action="link.redeem", subject=row.task)
    return Grant(row.staff_index, row.task)


def staff_by_email(ctx: Ctx, email: str) -> Staff:
    """The active staff member an identity provider's e-mail claim names (OpenID sign-in)."""
    found: list[Staff] = list(
        ctx.session.execute(
            select(Staff).where(func.lower(col(Staff.email)) == email.lower())
        ).scalars()
    )
    if len(found) != 1:
        raise Refused("sign-in", f"{email} is not one staff member in the registry")
    if found[0].status != "active":
        raise NotAuthorized(
            "sign-in",
            f"staff member {found[0].index_number} is {found[0].status}",
            "4.2",
            actor=found[0].index_number,
            action="signin",
            subject=f"staff:{found[0].index_number}",
        )
    return found[0]


def tasks_of(ctx: Ctx, duties: Iterable[tuple[int, str, str]]) -> dict[int, str]:
    """The subject each reminder's link opens, for (obligation id, kind, subject) rows: the open
    assessment of an account to assess, else the subject itself (a request to decide, an account
    whose credentials or entry are due). One query for the whole batch."""
    rows = list(duties)
    assessed = {
        int(subject.partition(":")[2])
        for _, kind, subject in rows
        if kind in ("initial-assessment", "reassessment")
    }
    open_assessment: dict[int, int] = {}
    ids = sorted(assessed)
    for batch in chunks(ids):
        for account_id, assessment_id in ctx.session.execute(
            select(col(Assessment.account_id), col(Assessment.id)).where(
                col(Assessment.account_id).in_(batch),
                col(Assessment.state) == "open",
            )
        ):
            open_assessment[account_id] = assessment_id
    tasks: dict[int, str] = {}
    for oid, kind, subject in rows:
        account_id = int(subject.partition(":")[2]) if subject.startswith("account:") else None
        if kind in ("initial-assessment", "reassessment") and account_id in open_assessment:
            tasks[oid] = f"assessment:{open_assessment[account_id]}"
        else:
            tasks[oid] = subject
    return tasks


class LinkBatch:
    """Links for a batch of messages, issued in memory and written in one INSERT (a sweep puts
    one in every line to a named person: thousands at a time)."""

    def __init__(self, ctx: Ctx) -> None:
        self._ctx = ctx
        self.enabled = bool(ctx.settings.public_url)
        self._rows: list[dict[str, object]] = []

    def placeholder(self, *, staff_index: str | None, task: str) -> str | None:
        """The placeholder of a new link for `staff_index` to do `task` (None when no web door
        is configured or the recipient is not one staff member)."""
        if not self.enabled or not staff_index:
            return None
        nonce = secrets.token_urlsafe(NONCE_BYTES)
        self._rows.append(
            {
                "nonce": nonce,
                "staff_index": staff_index,
                "task": task,
                "issued_at": self._ctx.now,
                "expires_at": self._ctx.now + dt.timedelta(days=self._ctx.settings.link_ttl_days),
            }
        )
        return PLACEHOLDER.format(nonce=nonce)

    def write(self) -> None:
        insert_rows(self._ctx.session, LINK_TOKEN, self._rows)
        self._rows.clear()


def with_link(step: str, link: str | None) -> str:
    """A reminder line's "what to do": the command, and the recipient's own link if any."""
    return step if link is None else f"{step} — or in the browser: {link}"
