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
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlmodel import col

from models.clock import iso
from models.errors import NotAuthorized, Refused
from models.tables import Assessment, LinkToken, Obligation, Staff
from notifications.signing import PLACEHOLDER, nonce_of, token_for, web_key
from services.context import Ctx

NONCE_BYTES = 16


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


@dataclass(frozen=True)
class Grant:
    """What a redeemed link lets its holder do: act as `staff` on `task` only."""

    staff: str
    task: str


def redeem(ctx: Ctx, token: str) -> Grant:
    """Use a link once. A link that is forged, unknown, already used, expired, or whose staff
    member is no longer active is refused (and the refusal audited); nothing else changes."""
    nonce = nonce_of(web_key(ctx.settings), token)
    query = select(LinkToken).where(col(LinkToken.nonce) == (nonce or ""))
    if ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    row = ctx.session.execute(query).scalar_one_or_none() if nonce else None
    if row is None:
        raise Refused("link", "this link is not valid: ask for a new one or sign in")
    subject = f"link:{row.nonce}"
    if row.used_at is not None:
        raise NotAuthorized(
            "link",
            f"this link was already used on {iso(row.used_at)}; each link works once",
            actor=row.staff_index,
            action="link.redeem",
            subject=subject,
        )
    if row.expires_at <= ctx.now:
        raise NotAuthorized(
            "link",
            f"this link expired on {iso(row.expires_at)}",
            actor=row.staff_index,
            action="link.redeem",
            subject=subject,
        )
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


def task_of_obligation(ctx: Ctx, obligation_id: int) -> str:
    """The subject a reminder's link opens: the request to decide, the open assessment, or the
    account whose credentials or entry are due."""
    ob = ctx.session.get(Obligation, obligation_id)
    if ob is None:
        raise Refused("task", f"no task {obligation_id}")
    if ob.kind in ("initial-assessment", "reassessment"):
        account_id = int(ob.subject.partition(":")[2])
        open_id = ctx.session.execute(
            select(col(Assessment.id)).where(
                col(Assessment.account_id) == account_id, col(Assessment.state) == "open"
            )
        ).scalar()
        if open_id is not None:
            return f"assessment:{open_id}"
    return ob.subject


def reminder_step(ctx: Ctx, staff_index: str | None, ob: Obligation, step: str) -> str:
    """A reminder line's "what to do": the command, and the recipient's own link when the web
    door is configured."""
    if not ctx.settings.public_url or not staff_index or ob.id is None:
        return step
    link = browser_link(ctx, staff_index=staff_index, task=task_of_obligation(ctx, ob.id))
    return f"{step} — or in the browser: {link}"
