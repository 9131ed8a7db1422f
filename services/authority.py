"""Authority: may person P do action A for entity E at time T? (3.1, 3.7). Every service asks here.

- `registry.write`: keep an entity's registry data — its head, an officer-in-charge acting as head
  at that time, a data-entry delegate the head named, or a registry officer (1.1(b), 3.1(c)).
- `authorize`: grant or withdraw written authorization to run an account — the head or the
  officer-in-charge only (3.7, 4.2).
- `entity.manage`: appoint officers-in-charge and delegates — the head, or a registry officer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import or_, select
from sqlmodel import Session, col

from models.errors import NotAuthorized, NotFound
from models.tables import EntityRole, Staff
from services.context import Ctx

ACTIONS: dict[str, tuple[frozenset[str], str]] = {
    "registry.write": (
        frozenset({"head", "officer-in-charge", "delegate", "registry-officer"}),
        "3.1(c)",
    ),
    "authorize": (frozenset({"head", "officer-in-charge"}), "3.7"),
    "entity.manage": (frozenset({"head", "officer-in-charge", "registry-officer"}), "3.1"),
}


def roles_at(*, session: Session, staff: Staff, entity_code: str, at: dt.datetime) -> set[str]:
    """The roles `staff` holds for `entity_code` at instant `at`."""
    roles: set[str] = set()
    if staff.status != "active":
        return roles
    if staff.registry_officer:
        roles.add("registry-officer")
    rows = session.execute(
        select(col(EntityRole.role)).where(
            col(EntityRole.entity_code) == entity_code,
            col(EntityRole.staff_index) == staff.index_number,
            col(EntityRole.starts_at) <= at,
            or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > at),
        )
    ).scalars()
    roles.update(rows)
    return roles


def current_head(*, session: Session, entity_code: str, at: dt.datetime) -> str | None:
    """Who acts as head of entity at `at`: an officer-in-charge in period, else the head."""
    return heads_of(session=session, entity_codes=[entity_code], at=at).get(entity_code)


def heads_of(*, session: Session, entity_codes: Iterable[str], at: dt.datetime) -> dict[str, str]:
    """Who acts as head of each entity at `at` (entities with nobody are left out)."""
    rows = session.execute(
        select(col(EntityRole.entity_code), col(EntityRole.role), col(EntityRole.staff_index))
        .where(
            col(EntityRole.entity_code).in_(set(entity_codes)),
            col(EntityRole.role).in_(("head", "officer-in-charge")),
            col(EntityRole.starts_at) <= at,
            or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > at),
        )
        .order_by(col(EntityRole.role))  # 'head' sorts first: an officer-in-charge prevails
    ).all()
    return {entity_code: index for entity_code, _, index in rows}


def acting_person(ctx: Ctx, index: str) -> Staff:
    """The person named with --by, who must be in the registry."""
    staff = ctx.session.get(Staff, index)
    if staff is None:
        raise NotFound("--by", f"staff member {index} is not in the registry")
    return staff


def require(ctx: Ctx, *, actor: str, action: str, entity_code: str, subject: str) -> Staff:
    """Return the acting staff member, or raise NotAuthorized (which the runner audits)."""
    allowed, clause = ACTIONS[action]
    staff = acting_person(ctx, actor)
    held = roles_at(session=ctx.session, staff=staff, entity_code=entity_code, at=ctx.now)
    if not held & allowed:
        who = " or ".join(sorted(allowed))
        raise NotAuthorized(
            "--by",
            f"staff member {actor} may not {action} for {entity_code}: needs {who}",
            clause,
            actor=actor,
            action=action,
            subject=subject,
        )
    return staff
