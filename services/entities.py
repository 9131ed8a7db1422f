"""Entities (1.1(c)), their heads and officers-in-charge (3.1), and staff members."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlmodel import col

from models.clock import check_timezone, iso, start_of_local_day
from models.errors import NotFound, R, Refused
from models.languages import check_preferred_language
from models.registry import MAX_NAME, check_code, check_email, check_entity_kind, check_text
from models.tables import Authorization, Entity, EntityRole, Obligation, Staff
from services.authority import OPERATOR, current_head, head_in_office, require
from services.context import Ctx


def find_entity(ctx: Ctx, code: str) -> Entity | None:
    """The entity with this code, whatever its case (`dgc` is `DGC`), or None."""
    text = code.strip()
    entity = ctx.session.get(Entity, text)
    if entity is None and text:
        entity = ctx.session.execute(
            select(Entity).where(func.upper(col(Entity.code)) == text.upper())
        ).scalar_one_or_none()
    return entity


def get_entity(ctx: Ctx, code: str, *, field: str = "--entity") -> Entity:
    entity = find_entity(ctx, code)
    if entity is None:
        raise NotFound(field, R("entity {code} is not in the registry"), code=code)
    return entity


def get_staff(ctx: Ctx, index: str, *, field: str = "--staff") -> Staff:
    staff = ctx.session.get(Staff, index.strip())
    if staff is None:
        raise NotFound(field, R("staff member {index} is not in the registry"), index=index)
    return staff


def staff_name(ctx: Ctx, index: str | None) -> str | None:
    """A staff member's name as the registry holds it (None for nobody or someone unknown):
    what a page shows beside an index number."""
    person = ctx.session.get(Staff, index) if index else None
    return person.name if person is not None else None


def add_entity(ctx: Ctx, *, code: str, name: str, kind: str, timezone: str) -> Entity:
    """Add an entity of the Secretariat (1.1(c)); staff representative bodies refused (1.1(a))."""
    kind_value = check_entity_kind(kind)
    entity = Entity(
        code=check_code("code", code),
        name=check_text("--name", name, limit=MAX_NAME),
        kind=kind_value,
        timezone=check_timezone(timezone, field="--timezone"),
        created_at=ctx.now,
    )
    known = find_entity(ctx, entity.code)
    if known is not None:  # codes are case-insensitive: dgc is DGC
        raise Refused("code", f"entity {known.code} is already in the registry", "1.1(b)")
    ctx.session.add(entity)
    ctx.session.flush()
    ctx.audit(
        actor=OPERATOR,
        action="entity.add",
        subject=f"entity:{entity.code}",
        after=entity_view(ctx, entity),
    )
    return entity


def address_holder(ctx: Ctx, names: set[str], *, besides: str | None = None) -> str | None:
    """The staff member (other than `besides`) whose e-mail or user name is one of `names`
    (case-folded), if any: one person per address, whatever its case, for every door that
    adds or changes staff (a sign-in finds its person by the address, and would find two)."""
    query = select(col(Staff.index_number)).where(
        or_(
            func.lower(col(Staff.email)).in_(names),
            func.lower(func.coalesce(col(Staff.user_name), col(Staff.email))).in_(names),
        )
    )
    if besides is not None:
        query = query.where(col(Staff.index_number) != besides)
    return ctx.session.execute(query.limit(1)).scalar_one_or_none()


def add_staff(
    ctx: Ctx,
    *,
    index: str,
    name: str,
    email: str,
    entity: str,
    language: str = "en",
    registry_officer: bool = False,
    by: str = OPERATOR,
) -> Staff:
    """Add a staff member with contact details (3.4(d)). Naming a registry officer (1.1(b)) is
    the operator's act only while the registry has none; afterwards a registry officer names
    them with --by (never themselves), and the act is audited."""
    if registry_officer:
        require(
            ctx,
            actor=by,
            action="name.registry-officer",
            entity_code=None,
            subject=f"staff:{index}",
            target=index.strip(),
        )
    staff = Staff(
        index_number=check_code("index", index),
        name=check_text("--name", name, limit=MAX_NAME),
        email=check_email("--email", email),
        entity_code=get_entity(ctx, entity).code,
        language=check_preferred_language(language),
        status="active",
        status_effective_at=ctx.now,
        registry_officer=registry_officer,
        created_at=ctx.now,
    )
    if ctx.session.get(Staff, staff.index_number) is not None:
        raise Refused("index", f"staff member {staff.index_number} is already in the registry")
    holder = address_holder(ctx, {staff.email.casefold()})
    if holder is not None:
        raise Refused("--email", f"{staff.email} is already the address of staff member {holder}")
    ctx.session.add(staff)
    ctx.session.flush()
    ctx.audit(
        actor=by if registry_officer else OPERATOR,
        action="staff.add",
        subject=f"staff:{staff.index_number}",
        after=staff_view(ctx, staff),
    )
    return staff


def name_registry_officer(ctx: Ctx, *, index: str, by: str) -> Staff:
    """Name a staff member already in the registry a registry officer (1.1(b)): a registry
    officer's act, never for themselves (models.policy: `name.registry-officer`), audited; only
    active staff (4.2). The way back for one whose post ended with a move or a separation: it
    is never given back by a return."""
    staff = get_staff(ctx, index)
    require(
        ctx,
        actor=by,
        action="name.registry-officer",
        entity_code=None,
        subject=f"staff:{staff.index_number}",
        target=staff.index_number,
    )
    _require_active(staff, "INDEX")
    if staff.registry_officer:
        raise Refused("INDEX", f"staff member {staff.index_number} is a registry officer already")
    staff.registry_officer = True
    ctx.session.add(staff)
    ctx.session.flush()
    ctx.audit(
        actor=by,
        action="staff.registry-officer",
        subject=f"staff:{staff.index_number}",
        after={"registry_officer": True},
    )
    return staff


def _end_roles(ctx: Ctx, entity_code: str, role: str) -> list[str]:
    """End now every appointment to `role` at the entity still running or yet to start (one
    yet to start ends before it begins); returns whose were ended."""
    where = (
        col(EntityRole.entity_code) == entity_code,
        col(EntityRole.role) == role,
        or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > ctx.now),
    )
    ended = list(ctx.session.execute(select(col(EntityRole.staff_index)).where(*where)).scalars())
    ctx.session.execute(update(EntityRole).where(*where).values(ends_at=ctx.now))
    return ended


def _require_active(staff: Staff, field: str) -> None:
    if staff.status != "active":
        raise Refused(
            field, f"staff member {staff.index_number} is {staff.status}, not active", "4.2"
        )


def set_head(ctx: Ctx, *, code: str, staff_index: str, by: str = OPERATOR) -> EntityRole:
    """Name the head of entity (1.1(c)); the previous head's role ends now, and so does any
    officer-in-charge's appointment (one made while the post was vacant never outlives the
    vacancy); their open duties (and those the registry team held meanwhile) pass to the new
    head.

    The operator names heads only while the registry has no registry officer; afterwards a
    registry officer does, with --by, never naming themselves (models.policy)."""
    entity = get_entity(ctx, code, field="code")
    staff = get_staff(ctx, staff_index)
    require(
        ctx,
        actor=by,
        action="set-head",
        entity_code=entity.code,
        subject=f"entity:{entity.code}",
        target=staff.index_number,
    )
    _require_active(staff, "--staff")
    before = head_in_office(session=ctx.session, entity_code=entity.code, at=ctx.now)
    _end_roles(ctx, entity.code, "head")
    # an officer-in-charge acts for a head who is absent or whose post is vacant (3.1): never
    # beside a head just named, who appoints one again if need be
    acting = (
        _end_roles(ctx, entity.code, "officer-in-charge") if before != staff.index_number else []
    )
    role = EntityRole(
        entity_code=entity.code,
        staff_index=staff.index_number,
        role="head",
        starts_at=ctx.now,
        granted_by=by,
    )
    ctx.session.add(role)
    ctx.session.flush()
    moved = move_duties(
        ctx,
        entity.code,
        from_=[x for x in (before, "registry") if x and x != staff.index_number],
        to=current_head(session=ctx.session, entity_code=entity.code, at=ctx.now)
        or staff.index_number,
        actor=by,
    )
    ctx.audit(
        actor=by,
        action="entity.set-head",
        subject=f"entity:{entity.code}",
        before={"head": before},
        after={"head": staff.index_number, "duties_moved": moved, "acting_ended": acting},
    )
    return role


def move_duties(ctx: Ctx, entity_code: str, *, from_: list[str], to: str, actor: str) -> int:
    """Hand every open duty of the entity assigned to one of `from_` to `to` (set-based); the
    sweep reminds the new assignee at its next run. Returns how many moved."""
    if not from_:
        return 0
    moved = ctx.session.execute(
        update(Obligation)
        .where(
            col(Obligation.entity_code) == entity_code,
            col(Obligation.state) == "open",
            col(Obligation.assignee).in_(from_),
        )
        .values(assignee=to, next_stage_at=ctx.now)
    )
    count = int(getattr(moved, "rowcount", 0) or 0)
    if count:
        ctx.audit(
            actor=actor,
            action="obligation.reassign",
            subject=f"entity:{entity_code}",
            before={"assignees": from_},
            after={"assignee": to, "duties": count},
        )
    return count


def appoint(
    ctx: Ctx,
    *,
    code: str,
    staff_index: str,
    role: str,
    by: str,
    starts_on: dt.date | None = None,
    ends_on: dt.date | None = None,
) -> EntityRole:
    """Appoint an officer-in-charge for a bounded period, or name a data-entry delegate (3.1).

    Who may (models.policy): an officer-in-charge is appointed by the head, or by a registry
    officer only while the head's post is vacant; a delegate is named by the head (or the
    officer-in-charge). Nobody appoints or extends themselves."""
    if role not in ("officer-in-charge", "delegate"):
        raise Refused("role", "must be officer-in-charge or delegate", "3.1")
    entity = get_entity(ctx, code, field="code")
    staff = get_staff(ctx, staff_index)
    starts = start_of_local_day(starts_on, entity.timezone) if starts_on else ctx.now
    ends = start_of_local_day(ends_on + dt.timedelta(days=1), entity.timezone) if ends_on else None
    if ends is not None and ends <= starts:
        raise Refused("--to", "must not be before --from")
    require(
        ctx,
        actor=by,
        action=f"appoint.{role}",
        entity_code=entity.code,
        subject=f"entity:{entity.code}",
        target=staff.index_number,
        period=(starts, ends),
    )
    _require_active(staff, "--staff")
    appointment = EntityRole(
        entity_code=entity.code,
        staff_index=staff.index_number,
        role=role,
        starts_at=starts,
        ends_at=ends,
        granted_by=by,
    )
    ctx.session.add(appointment)
    ctx.session.flush()
    moved = 0
    if role == "officer-in-charge" and starts <= ctx.now:
        vacant = head_in_office(session=ctx.session, entity_code=entity.code, at=ctx.now) is None
        if vacant:  # the registry team held the head's duties: the officer-in-charge takes them
            moved = move_duties(
                ctx, entity.code, from_=["registry"], to=staff.index_number, actor=by
            )
    ctx.audit(
        actor=by,
        action=f"entity.{role}",
        subject=f"entity:{entity.code}",
        after={"staff": staff.index_number, "from": iso(starts), "to": iso(ends), "moved": moved},
    )
    return appointment


def entity_view(ctx: Ctx, entity: Entity) -> dict[str, Any]:
    return {
        "code": entity.code,
        "name": entity.name,
        "kind": entity.kind,
        "timezone": entity.timezone,
        "head": current_head(session=ctx.session, entity_code=entity.code, at=ctx.now),
    }


def list_entities(ctx: Ctx) -> list[dict[str, Any]]:
    rows = ctx.session.execute(select(Entity).order_by(col(Entity.code))).scalars().all()
    return [entity_view(ctx, e) for e in rows]


def staff_view(ctx: Ctx, staff: Staff) -> dict[str, Any]:
    auths = (
        ctx.session.execute(
            select(Authorization)
            .where(col(Authorization.staff_index) == staff.index_number)
            .order_by(col(Authorization.id))
        )
        .scalars()
        .all()
    )
    return {
        "index": staff.index_number,
        "name": staff.name,
        "email": staff.email,
        "entity": staff.entity_code,
        "language": staff.language,
        "status": staff.status,
        "status_effective_at": iso(staff.status_effective_at),
        "registry_officer": staff.registry_officer,
        # the directory's department when it names no entity (SCIM): placed by an alias
        "directory_department": staff.directory_department,
        "unplaced": staff.entity_code is None or staff.directory_department is not None,
        "authorizations": [
            {
                "account": a.account_id,
                "role": a.role,
                "granted_on": iso(a.granted_at),
                "revoked_on": iso(a.revoked_at),
                "reference": a.reference,
            }
            for a in auths
        ],
    }


def list_staff(
    ctx: Ctx, *, entity: str | None = None, unplaced: bool = False
) -> list[dict[str, Any]]:
    query = select(Staff).order_by(col(Staff.index_number))
    if entity:
        query = query.where(col(Staff.entity_code) == get_entity(ctx, entity).code)
    if unplaced:  # provisioned by the directory with a department no entity answers to
        query = query.where(
            or_(col(Staff.entity_code).is_(None), col(Staff.directory_department).is_not(None))
        )
    return [staff_view(ctx, s) for s in ctx.session.execute(query).scalars().all()]
