"""Authority: may person P do action A on subject S at time T? (3.1, 3.7, 1.1(b)).

One function, `may`, answers it by reading the policy table (`models.policy.POLICY`) and the roles P
holds at T, derived from the registry (who is head then, whose appointment covers T, who holds a
written authorization for the account). Every service asks here, through `require`, for writes and
for reads done on a person's behalf; a refusal is audited by the runner (services.context.run).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, or_, select
from sqlmodel import Session, col

from models.errors import NotAuthorized, NotFound
from models.policy import CONDITIONS, MAX_ACTING_DAYS, Rule, rules_for
from models.tables import Authorization, EntityRole, Staff
from services.context import Ctx

OPERATOR = "operator"  # the one who installs smgov: names no staff index


def roles_at(
    *,
    session: Session,
    staff: Staff,
    entity_code: str | None,
    at: dt.datetime,
    account_id: int | None = None,
) -> set[str]:
    """The roles `staff` holds for `entity_code` (and account `account_id`) at instant `at`.
    A staff member who is not active holds none."""
    roles: set[str] = set()
    if staff.status != "active":
        return roles
    if staff.registry_officer:
        roles.add("registry-officer")
    if entity_code is not None:
        if staff.entity_code == entity_code:
            roles.add("staff")
        rows = session.execute(
            select(col(EntityRole.role)).where(
                col(EntityRole.entity_code) == entity_code,
                col(EntityRole.staff_index) == staff.index_number,
                col(EntityRole.starts_at) <= at,
                or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > at),
            )
        ).scalars()
        roles.update(rows)
    if account_id is not None:
        held = session.execute(
            select(col(Authorization.id))
            .where(
                col(Authorization.account_id) == account_id,
                col(Authorization.staff_index) == staff.index_number,
                col(Authorization.granted_at) <= at,
                or_(col(Authorization.revoked_at).is_(None), col(Authorization.revoked_at) > at),
            )
            .limit(1)
        ).first()
        if held is not None:
            roles.add("authorized-staff")
    return roles


def current_head(*, session: Session, entity_code: str, at: dt.datetime) -> str | None:
    """Who acts as head of entity at `at`: an officer-in-charge in period, else the head."""
    return heads_of(session=session, entity_codes=[entity_code], at=at).get(entity_code)


def head_in_office(*, session: Session, entity_code: str, at: dt.datetime) -> str | None:
    """The head of entity in office at `at` (an officer-in-charge is not one); None: vacant."""
    return session.execute(
        select(col(EntityRole.staff_index)).where(
            col(EntityRole.entity_code) == entity_code,
            col(EntityRole.role) == "head",
            col(EntityRole.starts_at) <= at,
            or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > at),
        )
    ).scalar()


def heads_in_period(
    *, session: Session, entity_codes: Iterable[str], at: dt.datetime
) -> list[tuple[str, str, str]]:
    """(entity, role, index) of each head and officer-in-charge in period at `at`, the heads
    first."""
    return [
        (code, role, index)
        for code, role, index in session.execute(
            select(col(EntityRole.entity_code), col(EntityRole.role), col(EntityRole.staff_index))
            .where(
                col(EntityRole.entity_code).in_(set(entity_codes)),
                col(EntityRole.role).in_(("head", "officer-in-charge")),
                col(EntityRole.starts_at) <= at,
                or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > at),
            )
            .order_by(col(EntityRole.role))  # 'head' sorts before 'officer-in-charge'
        )
    ]


def heads_of(*, session: Session, entity_codes: Iterable[str], at: dt.datetime) -> dict[str, str]:
    """Who acts as head of each entity at `at` (entities with nobody are left out): an
    officer-in-charge in period prevails over the head."""
    rows = heads_in_period(session=session, entity_codes=entity_codes, at=at)
    return {entity_code: index for entity_code, _, index in rows}


def has_registry_officers(session: Session) -> bool:
    """Has the registry named a registry officer yet? (Then the operator bootstraps no more.)"""
    return bool(
        session.execute(select(exists().where(col(Staff.registry_officer).is_(True)))).scalar()
    )


def acting_person(ctx: Ctx, index: str) -> Staff:
    """The person named with --by, who must be in the registry."""
    staff = ctx.session.get(Staff, index)
    if staff is None:
        raise NotFound("--by", f"staff member {index} is not in the registry")
    return staff


@dataclass(frozen=True)
class Verdict:
    """The answer of `may`: allowed or not, the rule that decided, and why in words."""

    allowed: bool
    clause: str
    reason: str
    rule: Rule | None = None


def _condition_holds(
    condition: str,
    *,
    session: Session,
    actor: str,
    entity_code: str | None,
    at: dt.datetime,
    target: str | None,
    period: tuple[dt.datetime, dt.datetime | None] | None,
) -> bool:
    if condition == "not-self":
        return target is None or target != actor
    if condition == "own":
        return target is None or target == actor
    if condition == "head-vacant":
        return entity_code is not None and (
            head_in_office(session=session, entity_code=entity_code, at=at) is None
        )
    if condition == "bounded":
        if period is None:
            return False
        start, end = period
        return end is not None and end - start <= dt.timedelta(days=MAX_ACTING_DAYS + 1)
    if condition == "empty-registry":
        return not has_registry_officers(session)
    raise ValueError(f"unknown condition {condition}")  # the policy table names only the above


def may(
    session: Session,
    *,
    actor: str,
    action: str,
    entity_code: str | None,
    at: dt.datetime,
    account_id: int | None = None,
    target: str | None = None,
    period: tuple[dt.datetime, dt.datetime | None] | None = None,
) -> Verdict:
    """May `actor` (a staff index, or `operator`) do `action` for `entity_code` (on account
    `account_id`, to person `target`, for `period`) at `at`? Read from the policy table."""
    rules = rules_for(action)
    if not rules:
        return Verdict(False, "3.1", f"no rule lets anyone {action}")
    if actor == OPERATOR:
        held = {"operator"}
    else:
        staff = session.get(Staff, actor)
        if staff is None:
            return Verdict(False, rules[0].clause, f"staff member {actor} is not in the registry")
        held = roles_at(
            session=session, staff=staff, entity_code=entity_code, at=at, account_id=account_id
        )
    failed: list[tuple[Rule, str]] = []
    for rule in rules:
        if rule.role not in held:
            continue
        broken = [
            c
            for c in rule.conditions
            if not _condition_holds(
                c,
                session=session,
                actor=actor,
                entity_code=entity_code,
                at=at,
                target=target,
                period=period,
            )
        ]
        if not broken:
            return Verdict(True, rule.clause, f"{rule.role}: {rule.what}", rule)
        failed.append((rule, broken[0]))
    if failed:
        rule, condition = failed[0]
        return Verdict(False, rule.clause, f"as {rule.role}: {CONDITIONS[condition]}", rule)
    who = " or ".join(sorted({rule.role for rule in rules}))
    where = f" for {entity_code}" if entity_code else ""
    return Verdict(False, rules[0].clause, f"needs {who}{where}")


def require(
    ctx: Ctx,
    *,
    actor: str,
    action: str,
    entity_code: str | None,
    subject: str,
    account_id: int | None = None,
    target: str | None = None,
    period: tuple[dt.datetime, dt.datetime | None] | None = None,
    field: str = "--by",
    audit_as: str | None = None,
) -> Staff | None:
    """Return the acting staff member (None for the operator), or raise NotAuthorized (which the
    runner audits)."""
    staff = None if actor == OPERATOR else acting_person(ctx, actor)
    verdict = may(
        ctx.session,
        actor=actor,
        action=action,
        entity_code=entity_code,
        at=ctx.now,
        account_id=account_id,
        target=target,
        period=period,
    )
    if not verdict.allowed:
        raise NotAuthorized(
            field,
            f"{actor} may not {action}: {verdict.reason}",
            verdict.clause,
            actor=actor,
            action=audit_as or action,
            subject=subject,
        )
    return staff
