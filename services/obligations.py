"""Obligations: every rule that sets a deadline opens one; the sweep reminds until it is met.

An obligation's `key` names the duty (e.g. `entry:12` — account 12's 3.4 entry must be complete);
opening the same duty twice returns the one already open, so every process is idempotent. When an
obligation closes its key is suffixed with `#<id>`, freeing the name for a later duty of its kind.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import col

from models.clock import days_left, iso
from models.errors import Refused
from models.reminders import ReminderPolicy, stage_starts_at
from models.settings import Settings
from models.tables import Entity, Obligation
from services.context import Ctx

STATES = ("open", "met", "withdrawn")


def policy_from(settings: Settings) -> ReminderPolicy:
    return ReminderPolicy(
        days_before=tuple(settings.remind_days_before),
        overdue_every=settings.overdue_every_days,
        escalate_head_after=settings.escalate_head_after_days,
        escalate_registry_after=settings.escalate_registry_after_days,
    )


def find_open(ctx: Ctx, key: str) -> Obligation | None:
    return ctx.session.execute(
        select(Obligation).where(col(Obligation.key) == key, col(Obligation.state) == "open")
    ).scalar_one_or_none()


def obligation_values(
    *,
    key: str,
    clause: str,
    kind: str,
    subject: str,
    entity_code: str,
    tz: str,
    assignee: str,
    due_at: dt.datetime,
    now: dt.datetime,
    policy: ReminderPolicy,
    detail: str | None = None,
) -> dict[str, Any]:
    """The column values of a new open obligation, first reminder stage scheduled (also used for
    set-based inserts by imports and campaigns)."""
    first = policy.next_stage(-10_000)
    return {
        "key": key,
        "clause": clause,
        "kind": kind,
        "subject": subject,
        "entity_code": entity_code,
        "assignee": assignee,
        "due_at": due_at,
        "state": "open",
        "created_at": now,
        "next_stage": first,
        "next_stage_at": stage_starts_at(due_at, first, tz),
        "detail": detail[:500] if detail else None,
    }


def open_obligation(
    ctx: Ctx,
    *,
    key: str,
    clause: str,
    kind: str,
    subject: str,
    entity: Entity,
    assignee: str,
    due_at: dt.datetime,
    actor: str,
    detail: str | None = None,
) -> Obligation:
    """Open the duty `key` unless it is already open (then it is returned unchanged)."""
    existing = find_open(ctx, key)
    if existing is not None:
        if existing.assignee != assignee:
            reassign(ctx, existing, assignee=assignee, actor=actor)
        return existing
    ob = Obligation(
        **obligation_values(
            key=key,
            clause=clause,
            kind=kind,
            subject=subject,
            entity_code=entity.code,
            tz=entity.timezone,
            assignee=assignee,
            due_at=due_at,
            now=ctx.now,
            policy=policy_from(ctx.settings),
            detail=detail,
        )
    )
    ctx.session.add(ob)
    ctx.session.flush()
    ctx.audit(
        actor=actor,
        action="obligation.open",
        subject=f"obligation:{ob.id}",
        after=obligation_view(ctx, ob, entity.timezone),
    )
    return ob


def close(ctx: Ctx, ob: Obligation, *, state: str, reason: str, actor: str) -> None:
    """Meet or withdraw: reminders stop from the next sweep on."""
    if ob.state != "open":
        raise Refused("obligation", f"obligation {ob.id} is already {ob.state}")
    ob.state = state
    ob.closed_at = ctx.now
    ob.closed_reason = reason[:500]
    ob.next_stage_at = None
    ob.key = f"{ob.key}#{ob.id}"[:200]
    ctx.session.add(ob)
    ctx.session.flush()
    ctx.audit(
        actor=actor,
        action=f"obligation.{state}",
        subject=f"obligation:{ob.id}",
        after={"state": state, "reason": reason},
    )


def close_key(ctx: Ctx, key: str, *, state: str, reason: str, actor: str) -> Obligation | None:
    ob = find_open(ctx, key)
    if ob is not None:
        close(ctx, ob, state=state, reason=reason, actor=actor)
    return ob


def reassign(ctx: Ctx, ob: Obligation, *, assignee: str, actor: str) -> None:
    """The new assignee takes over: the sweep sends them the latest stage due at its next run."""
    before = ob.assignee
    ob.assignee = assignee
    ob.next_stage_at = ctx.now
    ctx.session.add(ob)
    ctx.session.flush()
    ctx.audit(
        actor=actor,
        action="obligation.reassign",
        subject=f"obligation:{ob.id}",
        before={"assignee": before},
        after={"assignee": assignee},
    )


def obligation_view(ctx: Ctx, ob: Obligation, tz: str) -> dict[str, Any]:
    return {
        "id": ob.id,
        "clause": ob.clause,
        "kind": ob.kind,
        "subject": ob.subject,
        "entity": ob.entity_code,
        "assignee": ob.assignee,
        "due_at": iso(ob.due_at),
        "days_left": days_left(ob.due_at, ctx.now, tz),
        "state": ob.state if ob.closed_at is None or ob.closed_at <= ctx.now else "open",
    }


def list_obligations(
    ctx: Ctx, *, entity: str | None = None, state: str | None = None, assignee: str | None = None
) -> list[dict[str, Any]]:
    """Obligations as they stood at `ctx.now`: created by then; open unless closed by then."""
    if state is not None and state not in STATES:
        raise Refused("--state", f"must be one of {', '.join(STATES)}")
    query = (
        select(Obligation, col(Entity.timezone))
        .join(Entity, col(Entity.code) == col(Obligation.entity_code))
        .where(col(Obligation.created_at) <= ctx.now)
        .order_by(col(Obligation.due_at), col(Obligation.id))
    )
    if entity:
        query = query.where(col(Obligation.entity_code) == entity)
    if assignee:
        query = query.where(col(Obligation.assignee) == assignee)
    if state == "open":
        query = query.where(
            or_(col(Obligation.closed_at).is_(None), col(Obligation.closed_at) > ctx.now)
        )
    elif state is not None:
        query = query.where(col(Obligation.state) == state, col(Obligation.closed_at) <= ctx.now)
    return [obligation_view(ctx, ob, tz) for ob, tz in ctx.session.execute(query).all()]
