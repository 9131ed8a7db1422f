"""Who may read what at the web door, and the web door's server-side sessions (issue 18).

Reading is scoped through the authority model's roles (services.authority.roles_at): a person
reads their own tasks and what they filed; an entity's requests, assessments, custody pages and
dashboard need a role at that entity (head, officer-in-charge, delegate); registry officers read
everything (1.1(b)). Anything else is "not found" — the same answer as an id that does not exist,
so ids cannot be probed. `may_read` is the one place to fold into a policy table later.

A web session is a `web_session` row; the browser's cookie holds only its random id. A session
ends at sign-out, when `session_hours` run out, and at once when its person is no longer active
or their entity or roles differ from those at sign-in (separation, reassignment, a role given or
withdrawn: 4.2, 3.1): every request checks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import or_, select, update
from sqlmodel import col

from models.errors import NotFound, R
from models.ids import row_id
from models.tables import (
    Account,
    AccountRequest,
    Assessment,
    EntityRole,
    Obligation,
    Staff,
    WebSession,
)
from services.authority import may
from services.context import Ctx


def held_roles(ctx: Ctx, staff: Staff) -> list[str]:
    """Every role `staff` holds now, as sorted `entity:role` (empty when not active)."""
    if staff.status != "active":
        return []
    rows = ctx.session.execute(
        select(col(EntityRole.entity_code), col(EntityRole.role)).where(
            col(EntityRole.staff_index) == staff.index_number,
            col(EntityRole.starts_at) <= ctx.now,
            or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > ctx.now),
        )
    ).all()
    return sorted(f"{entity}:{role}" for entity, role in rows)


def _fingerprint(ctx: Ctx, staff: Staff) -> str:
    parts = [staff.status, staff.entity_code or "", str(staff.registry_officer)]
    parts += held_roles(ctx, staff)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def reads_entity(ctx: Ctx, staff: Staff, entity_code: str) -> bool:
    """Whether `staff` may read `entity_code`'s requests, assessments, custody and dashboard:
    the policy table's `read` rows, as for every read and act (its own list of roles once
    kept the entity's staff from the pages the table lets them read)."""
    verdict = may(
        ctx.session, actor=staff.index_number, action="read", entity_code=entity_code, at=ctx.now
    )
    return verdict.allowed


def _own_task(ctx: Ctx, staff: Staff, subjects: list[str]) -> bool:
    found = ctx.session.execute(
        select(col(Obligation.id))
        .where(
            col(Obligation.assignee) == staff.index_number,
            col(Obligation.subject).in_(subjects),
            col(Obligation.state) == "open",
        )
        .limit(1)
    ).first()
    return found is not None


def may_read(ctx: Ctx, *, staff_index: str, subject: str) -> None:
    """Raise NotFound unless `staff_index` may read `subject` (`request:12`, `assessment:3`,
    `account:7`, `entity:OHCHR`); the message is the one a missing id gets."""
    kind, _, ref = subject.partition(":")
    missing = NotFound(kind or "subject", R("no record {ref}"), ref=ref or subject)
    staff = ctx.session.get(Staff, staff_index)
    if staff is None or staff.status != "active":
        raise missing
    if staff.registry_officer:
        return
    entity: str | None = None
    subjects = [subject]
    if kind == "request" and ref.isdigit():
        request = ctx.session.get(AccountRequest, number) if (number := row_id(ref)) else None
        if request is not None:
            if request.requested_by == staff.index_number:
                return
            entity = request.entity_code
    elif kind == "assessment" and ref.isdigit():
        assessment = ctx.session.get(Assessment, number) if (number := row_id(ref)) else None
        if assessment is not None:
            account = ctx.session.get(Account, assessment.account_id)
            entity = account.entity_code if account else None
            subjects.append(f"account:{assessment.account_id}")
    elif kind == "account" and ref.isdigit():
        account = ctx.session.get(Account, number) if (number := row_id(ref)) else None
        entity = account.entity_code if account else None
    elif kind == "entity":
        entity = ref
    if entity is None:
        raise missing
    if reads_entity(ctx, staff, entity) or _own_task(ctx, staff, subjects):
        return
    raise missing


# ---- server-side sessions ----------------------------------------------------------------------


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


@dataclass(frozen=True)
class Who:
    """The person a live session signs in, and the one task a link session is limited to."""

    staff: str
    name: str
    entity: str
    scope: str | None


def start(ctx: Ctx, *, staff_index: str, scope: str | None, how: str) -> str:
    """Open a session for an active staff member; returns its id (for the cookie only)."""
    staff = ctx.session.get(Staff, staff_index)
    if staff is None or staff.status != "active":
        raise NotFound("session", f"staff member {staff_index} is not active staff")
    sid = secrets.token_urlsafe(32)
    ctx.session.add(
        WebSession(
            id_hash=_hash(sid),
            staff_index=staff_index,
            scope=scope,
            fingerprint=_fingerprint(ctx, staff),
            created_at=ctx.now,
            expires_at=ctx.now + dt.timedelta(hours=ctx.settings.session_hours),
        )
    )
    ctx.session.flush()
    ctx.audit(
        actor=staff_index,
        action="web.signin",
        subject=scope or f"staff:{staff_index}",
        after={"how": how},
    )
    return sid


def resume(ctx: Ctx, sid: str) -> Who | None:
    """The person of a live session, or None: unknown, ended, expired — or ended here and now
    because its person was separated, reassigned or their roles changed since sign-in."""
    if not sid or not sid.isascii() or len(sid) > 100:
        return None
    row = ctx.session.get(WebSession, _hash(sid))
    if row is None or row.ended_at is not None:
        return None
    if row.expires_at <= ctx.now:
        return None
    staff = ctx.session.get(Staff, row.staff_index)
    why = None
    if staff is None or staff.status != "active":
        why = "not active staff"
    elif _fingerprint(ctx, staff) != row.fingerprint:
        why = "entity or roles changed"
    if why is not None or staff is None:
        end_all(ctx, staff_index=row.staff_index, why=why or "not active staff")
        return None
    return Who(staff.index_number, staff.name, staff.entity_code or "", row.scope)  # "": unplaced


def end(ctx: Ctx, sid: str) -> None:
    """Sign-out: the session ends now; its cookie opens nothing afterwards."""
    if not sid or not sid.isascii():
        return
    row = ctx.session.get(WebSession, _hash(sid))
    if row is not None and row.ended_at is None:
        row.ended_at, row.ended_why = ctx.now, "signed out"
        ctx.session.add(row)
        ctx.audit(actor=row.staff_index, action="web.signout", subject=f"staff:{row.staff_index}")


def end_all(ctx: Ctx, *, staff_index: str, why: str) -> int:
    """End every live session of a person (separation, reassignment, a role change)."""
    ended = ctx.session.execute(
        update(WebSession)
        .where(col(WebSession.staff_index) == staff_index, col(WebSession.ended_at).is_(None))
        .values(ended_at=ctx.now, ended_why=why[:40])
    ).rowcount  # type: ignore[attr-defined]  # an UPDATE returns a CursorResult
    if ended:
        ctx.audit(
            actor="smgov",
            action="web.sessions.end",
            subject=f"staff:{staff_index}",
            after={"ended": ended, "why": why},
        )
    return int(ended or 0)
