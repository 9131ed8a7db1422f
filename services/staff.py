"""Staff from the identity provider (joiners, movers, leavers) and from files: provision, update,
deactivate, list and import, one transaction each.

Whatever the door (SCIM from Microsoft Entra ID or Okta, `smgov staff update`, `smgov staff
import`), a change of a person's standing goes through the HR inbox and its rules
(services.separation), exactly as the HR webhook's events do: leaving (`active` false, or the user
deleted) is a separation effective now, a move to another entity a reassignment, re-activation a
return, which restores the status and never the written authorizations (3.7). The events are
recorded and their first step applied in the same transaction (`revoke_due`: privileges are
withdrawn before the door answers, 4.2); the door hands them to the HR dispatcher for the
follow-up (handover duties, designation, alerts), as the webhook does.

The directory's `department` names the entity through `entity_alias` (or the code itself,
whatever its case); an unknown department leaves the person unplaced and flagged until the
registry places them (`smgov staff list --unplaced`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, insert, not_, or_, select, true
from sqlalchemy import update as sql_update
from sqlmodel import col

from models.clock import check_timezone
from models.errors import NotFound, Refused
from models.hr import EventIn
from models.languages import check_preferred_language
from models.registry import (
    MAX_NAME,
    check_code,
    check_email,
    check_entity_kind,
    check_text,
)
from models.tables import Entity, EntityAlias, Staff
from services import entities as entity_service
from services.accounts import contact_details_entered
from services.authority import OPERATOR
from services.context import Ctx
from services.separation import record, revoke_due

DIRECTORY = "directory"  # actor of changes made by the identity provider (SCIM)

STAFF_COLUMNS = ("index", "name", "email", "entity", "language")
ENTITY_COLUMNS = ("code", "name", "kind", "timezone")
BATCH = 1000


class Conflict(Refused):
    """Another staff member already holds this index number or address (SCIM 409 uniqueness)."""


class Immutable(Refused):
    """An attribute that may not change (the index number: SCIM 400 mutability)."""


class Stale(Refused):
    """The caller's copy is older than the record (If-Match: SCIM 412)."""


@dataclass(frozen=True)
class Person:
    """A staff member as a directory (or a file) describes them; checked by `_check`."""

    index: str
    name: str
    email: str
    user_name: str | None = None  # the directory's userName when it is not the e-mail
    language: str = "en"
    department: str | None = None  # a directory name or an entity code; None: keep as is
    active: bool = True


@dataclass(frozen=True)
class Record:
    """A staff member as the doors show them (plain values)."""

    index: str
    name: str
    email: str
    user_name: str
    language: str
    entity: str | None
    department: str | None
    unplaced: bool
    status: str
    active: bool
    version: int
    created_at: dt.datetime
    modified_at: dt.datetime


@dataclass
class Change:
    """What a use case did: the record as it stands and the HR events it recorded (type, staff,
    event id) for the dispatcher's follow-up."""

    record: Record
    created: bool = False
    events: list[tuple[str, str, str]] = field(default_factory=list)


def _record(staff: Staff) -> Record:
    return Record(
        index=staff.index_number,
        name=staff.name,
        email=staff.email,
        user_name=staff.user_name or staff.email,
        language=staff.language,
        entity=staff.entity_code,
        department=staff.directory_department or staff.entity_code,
        unplaced=staff.entity_code is None or staff.directory_department is not None,
        status=staff.status,
        active=staff.status == "active",
        version=staff.version,
        created_at=staff.created_at,
        modified_at=staff.modified_at or staff.created_at,
    )


def _find(ctx: Ctx, index: str, *, field: str = "id") -> Staff:
    staff = ctx.session.get(Staff, index.strip())
    if staff is None:
        raise NotFound(field, f"staff member {index} is not in the registry")
    return staff


def resolve_department(ctx: Ctx, department: str) -> str | None:
    """The entity a directory's department names: an alias, else the code (any case)."""
    text = department.strip()
    if not text:
        return None
    alias = ctx.session.get(EntityAlias, text.casefold())
    if alias is not None:
        return alias.entity_code
    entity = entity_service.find_entity(ctx, text) if len(text) <= 20 else None
    return entity.code if entity is not None else None


def _check(person: Person, *, prefix: str = "") -> Person:
    """Validate a person's values; refusals name the directory's (or file's) field."""
    return replace(
        person,
        index=check_code(f"{prefix}index", person.index),
        name=check_text(f"{prefix}name", person.name, limit=MAX_NAME),
        email=check_email(f"{prefix}email", person.email),
        user_name=check_text(f"{prefix}userName", person.user_name, limit=254)
        if person.user_name
        else None,
        language=check_preferred_language(person.language),
        department=check_text(f"{prefix}department", person.department, limit=200)
        if person.department and person.department.strip()
        else None,
    )


def _address_taken(ctx: Ctx, person: Person, index: str) -> None:
    """userName and e-mail are unique among staff, whatever their case."""
    names = {person.email.casefold(), (person.user_name or person.email).casefold()}
    other = entity_service.address_holder(ctx, names, besides=index)
    if other is not None:
        raise Conflict("userName", f"{person.email} is already the address of staff member {other}")


def _event(
    ctx: Ctx, staff: Staff, kind: str, new_entity: str | None = None, *, source: str = DIRECTORY
) -> EventIn:
    return EventIn(  # unique: every event moves the record to a new version
        event_id=f"{source}-{staff.index_number}-{staff.version}-{kind}",
        type=kind,
        staff=staff.index_number,
        effective_on=ctx.now.date(),
        new_entity=new_entity,
        effective_at=ctx.now,
    )


def _through_inbox(
    ctx: Ctx, events: list[EventIn], cause: str, *, source: str = DIRECTORY
) -> list[tuple[str, str, str]]:
    """Record the events in the HR inbox (as from `source`) and withdraw privileges now."""
    if not events:
        return []
    report = record(ctx, events, source=source)
    revoke_due(ctx)  # 4.2: before the door answers
    for event in events:
        ctx.audit(
            actor=DIRECTORY if source == DIRECTORY else OPERATOR,
            action=f"staff.{event.type}",
            subject=f"staff:{event.staff}",
            after={"event": event.event_id, "cause": cause},
        )
    fresh = set(report.stored)
    return [(e.type, e.staff, e.event_id) for e in events if e.event_id in fresh]


def _apply(
    ctx: Ctx, staff: Staff, person: Person, *, cause: str, actor: str
) -> list[tuple[str, str, str]]:
    """Bring `staff` in line with `person`: plain fields at once, standing through the HR inbox."""
    before = _record(staff)
    staff.name, staff.email, staff.language = person.name, person.email, person.language
    staff.user_name = person.user_name if person.user_name != person.email else None
    source = DIRECTORY if actor == DIRECTORY else "cli"
    events: list[EventIn] = []
    if person.department is not None:
        code = resolve_department(ctx, person.department)
        if code is None:  # provisioned, flagged: the registry places them
            staff.directory_department = person.department
        else:
            staff.directory_department = None
            if staff.entity_code is None:
                staff.entity_code = code  # placed for the first time
            elif code != staff.entity_code and staff.status == "active" and person.active:
                events.append(_event(ctx, staff, "reassignment", code, source=source))  # 4.2
    if not person.active and staff.status == "active":
        events = [_event(ctx, staff, "separation", source=source)]  # 4.2, effective now
    elif person.active and staff.status != "active":
        target = resolve_department(ctx, person.department or "") or staff.entity_code
        events = [
            _event(ctx, staff, "return", target, source=source)
        ]  # status only, never rights (3.7)
    after = _record(staff)
    if after != before:
        staff.version += 1
        staff.modified_at = ctx.now
    ctx.session.add(staff)
    ctx.session.flush()
    if after != before:
        ctx.audit(
            actor=actor,
            action="staff.update",
            subject=f"staff:{staff.index_number}",
            before=_audit_view(before),
            after={**_audit_view(after), "cause": cause},
        )
    return _through_inbox(ctx, events, cause, source=source)


def _audit_view(rec: Record) -> dict[str, Any]:
    return {
        "name": rec.name,
        "email": rec.email,
        "user_name": rec.user_name,
        "language": rec.language,
        "entity": rec.entity,
        "department": rec.department,
    }


def provision(ctx: Ctx, person: Person, *, cause: str) -> Change:
    """A joiner from the identity provider (SCIM POST): a new staff member."""
    person = _check(person)
    if ctx.session.get(Staff, person.index) is not None:
        raise Conflict("externalId", f"staff member {person.index} is already in the registry")
    _address_taken(ctx, person, person.index)
    code = resolve_department(ctx, person.department or "")
    staff = Staff(
        index_number=person.index,
        name=person.name,
        email=person.email,
        user_name=person.user_name if person.user_name != person.email else None,
        entity_code=code,
        directory_department=person.department if code is None else None,
        language=person.language,
        status="active",
        status_effective_at=ctx.now,
        created_at=ctx.now,
        modified_at=ctx.now,
    )
    ctx.session.add(staff)
    ctx.session.flush()
    ctx.audit(
        actor=DIRECTORY,
        action="staff.provision",
        subject=f"staff:{staff.index_number}",
        after={**_audit_view(_record(staff)), "cause": cause},
    )
    events = []
    if not person.active:  # provisioned disabled: a leaver from the start
        events = _through_inbox(ctx, [_event(ctx, staff, "separation")], cause)
    return Change(_record(staff), created=True, events=events)


def update(
    ctx: Ctx,
    index: str,
    change: Callable[[Record], Person],
    *,
    cause: str,
    expected_version: int | None = None,
    actor: str = DIRECTORY,
) -> Change:
    """A mover (SCIM PUT or PATCH, `smgov staff update`): `change` turns the record as it stands
    into the person as the directory now describes them, in this transaction."""
    staff = _find(ctx, index)
    if expected_version is not None and expected_version != staff.version:
        raise Stale("If-Match", f"staff member {index} has changed since (version {staff.version})")
    person = _check(change(_record(staff)))
    if person.index != staff.index_number:
        raise Immutable("externalId", "is the staff index number and cannot change")
    _address_taken(ctx, person, staff.index_number)
    before = (staff.name, staff.email)
    events = _apply(ctx, staff, person, cause=cause, actor=actor)
    if (staff.name, staff.email) != before and staff.status == "active":
        # 3.4(d): the name and contact details of an account's administrator and alternate
        # are in the database now: the changes reported of them are met (3.6)
        contact_details_entered(ctx, [staff.index_number], actor=actor)
    return Change(_record(staff), events=events)


def deactivate(ctx: Ctx, index: str, *, cause: str, expected_version: int | None = None) -> Change:
    """A leaver deleted in the identity provider (SCIM DELETE): a separation effective now; the
    record is kept (the registry's history needs it) and further deletes change nothing."""
    return update(
        ctx,
        index,
        lambda rec: Person(
            index=rec.index,
            name=rec.name,
            email=rec.email,
            user_name=rec.user_name,
            language=rec.language,
            active=False,
        ),
        cause=cause,
        expected_version=expected_version,
    )


def get(ctx: Ctx, index: str) -> Record:
    return _record(_find(ctx, index))


# --- directory filters (RFC 7644 3.4.2.2), as parsed by scim2-models, turned into SQL ----------

_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"
_CORE = "urn:ietf:params:scim:schemas:core:2.0:user"


class BadFilter(Refused):
    """A filter naming an attribute or operator the registry cannot search (SCIM invalidFilter)."""


def _column(attr: Any, sub: str | None = None) -> tuple[Any, bool]:
    """The column an attribute path reads, and whether it compares case-insensitively."""
    uri = (attr.uri or "").lower()
    name = attr.attr.lower()
    sub = (sub or attr.sub_attr or "").lower() or None
    if uri == _ENTERPRISE:
        if name == "employeenumber":
            return col(Staff.index_number), False
        if name == "department":
            return func.coalesce(col(Staff.directory_department), col(Staff.entity_code)), True
    elif uri in ("", _CORE):
        if name in ("id", "externalid"):
            return col(Staff.index_number), False
        if name == "username":
            return func.coalesce(col(Staff.user_name), col(Staff.email)), True
        if (name, sub) in (("emails", "value"), ("emails", None)):
            return col(Staff.email), True
        if name == "displayname" or (name, sub) == ("name", "formatted"):
            return col(Staff.name), True
        if name == "preferredlanguage":
            return col(Staff.language), True
        if name == "active":
            return col(Staff.status) == "active", False
    raise BadFilter("filter", f"cannot filter on {attr}")


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _compare(column: Any, fold: bool, op: str, value: Any) -> ColumnElement[bool]:
    if op == "pr":
        return column.is_not(None)  # type: ignore[no-any-return]
    if isinstance(value, bool):
        if isinstance(column, ColumnElement) and column.type.python_type is bool:
            return column if value == (op == "eq") else not_(column)
        raise BadFilter("filter", "compares a text attribute with true or false")
    if value is None:
        return column.is_(None) if op == "eq" else column.is_not(None)  # type: ignore[no-any-return]
    text = str(value)
    left = func.lower(column) if fold else column
    right = text.lower() if fold else text
    if op == "eq":
        return left == right
    if op == "ne":
        return left != right
    if op == "co":
        return left.like(f"%{_like(right)}%", escape="\\")
    if op == "sw":
        return left.like(f"{_like(right)}%", escape="\\")
    if op == "ew":
        return left.like(f"%{_like(right)}", escape="\\")
    if op in ("gt", "ge", "lt", "le"):
        return getattr(left, f"__{op}__")(right)  # type: ignore[no-any-return]
    raise BadFilter("filter", f"operator {op} is not supported")


def _email_filter(node: Any) -> ColumnElement[bool]:
    """A filter inside emails[...]: each person has one work e-mail, the primary one."""
    from scim2_models.path.expressions import Comparison, LogicalExpr, Not, Present

    if isinstance(node, LogicalExpr):
        parts = [_email_filter(t) for t in node.terms]
        return and_(*parts) if node.op.value == "and" else or_(*parts)
    if isinstance(node, Not):
        return not_(_email_filter(node.expr))
    if isinstance(node, Present | Comparison):
        name = node.attr_path.attr.lower()
        op = "pr" if isinstance(node, Present) else node.op.value
        if name == "value":
            return _compare(col(Staff.email), True, op, getattr(node, "value", None))
        if name == "type":
            value = getattr(node, "value", None)
            hit = op == "pr" or (op == "eq" and str(value).lower() == "work")
            return true() if hit or (op == "ne" and str(value).lower() != "work") else false()
        if name == "primary":
            value = getattr(node, "value", None)
            hit = op == "pr" or (op == "eq" and value is True) or (op == "ne" and value is False)
            return true() if hit else false()
    raise BadFilter("filter", f"cannot filter emails on {node}")


#: The longest SCIM filter the registry reads, and the most comparisons one may hold: an
#: identity provider asks for a person or two (`userName eq "..."`); a longer filter is refused
#: as invalid before the database sees it (SQLite refuses a LIKE pattern over 50,000 bytes and
#: an expression over 1,000 deep with an error, which must never reach the client as a 500).
MAX_FILTER_CHARS = 2_000
MAX_FILTER_TERMS = 50


def check_filter(raw: str) -> str:
    """A SCIM filter's text within `MAX_FILTER_CHARS` (before it is parsed)."""
    if len(raw) > MAX_FILTER_CHARS:
        raise BadFilter("filter", f"is longer than {MAX_FILTER_CHARS:,} characters")
    return raw


def _terms(node: Any) -> int:
    """How many comparisons a filter's syntax tree holds (counted without recursion: a hostile
    filter may nest deeper than Python's stack)."""
    from scim2_models.path.expressions import LogicalExpr, Not, ValuePath

    count, stack = 0, [node]
    while stack:
        item = stack.pop()
        if isinstance(item, LogicalExpr):
            stack.extend(item.terms)
        elif isinstance(item, Not):
            stack.append(item.expr)
        elif isinstance(item, ValuePath):
            stack.append(item.val_filter)
        else:
            count += 1
    return count


def filter_clause(node: Any) -> ColumnElement[bool]:
    """SQL for a SCIM filter's syntax tree (scim2_models.path.expressions), of at most
    `MAX_FILTER_TERMS` comparisons."""
    if _terms(node) > MAX_FILTER_TERMS:
        raise BadFilter("filter", f"holds more than {MAX_FILTER_TERMS} comparisons")
    return _clause(node)


def _clause(node: Any) -> ColumnElement[bool]:
    from scim2_models.path.expressions import Comparison, LogicalExpr, Not, Present, ValuePath

    if isinstance(node, LogicalExpr):
        parts = [_clause(t) for t in node.terms]
        return and_(*parts) if node.op.value == "and" else or_(*parts)
    if isinstance(node, Not):
        return not_(_clause(node.expr))
    if isinstance(node, ValuePath):
        if node.attr_path.attr.lower() != "emails":
            raise BadFilter("filter", f"cannot filter on {node.attr_path}")
        return _email_filter(node.val_filter)
    if isinstance(node, Present):
        column, _ = _column(node.attr_path)
        return _compare(column, False, "pr", None)
    if isinstance(node, Comparison):
        column, fold = _column(node.attr_path)
        return _compare(column, fold, node.op.value, node.value)
    raise BadFilter("filter", f"cannot read {node}")


def search(
    ctx: Ctx, where: ColumnElement[bool] | None, *, start: int = 1, count: int = 100
) -> tuple[int, list[Record]]:
    """Staff matching `where`, ordered by index number: the total and one page (1-based)."""
    query = select(Staff)
    counted = select(func.count()).select_from(Staff)
    if where is not None:
        query, counted = query.where(where), counted.where(where)
    total = ctx.session.execute(counted).scalar_one()
    rows = ctx.session.execute(
        query.order_by(col(Staff.index_number)).offset(max(start, 1) - 1).limit(max(count, 0))
    ).scalars()
    return total, [_record(s) for s in rows]


# --- the registry's own doors: alias, update, imports ----------------------------------------


def alias(ctx: Ctx, *, code: str, directory_name: str) -> EntityAlias:
    """Name an entity as the identity provider's `department` does; staff left unplaced under
    that name are placed at once."""
    entity = entity_service.get_entity(ctx, code, field="CODE")
    name = check_text("--directory-name", directory_name, limit=200)
    row = ctx.session.get(EntityAlias, name.casefold())
    before = row.entity_code if row else None
    if row is None:
        row = EntityAlias(
            name_key=name.casefold(),
            directory_name=name,
            entity_code=entity.code,
            created_at=ctx.now,
        )
    row.entity_code, row.directory_name = entity.code, name
    ctx.session.add(row)
    placed = ctx.session.execute(  # type: ignore[attr-defined]  # an UPDATE: CursorResult
        sql_update(Staff)
        .where(
            func.lower(col(Staff.directory_department)) == name.casefold(),
            col(Staff.entity_code).is_(None),
        )
        .values(entity_code=entity.code, directory_department=None, modified_at=ctx.now)
    ).rowcount
    ctx.session.flush()
    ctx.audit(
        actor=OPERATOR,
        action="entity.alias",
        subject=f"entity:{entity.code}",
        before={"alias": name, "entity": before},
        after={"alias": name, "entity": entity.code, "placed": placed},
    )
    return row


def update_staff(
    ctx: Ctx,
    index: str,
    *,
    name: str | None = None,
    email: str | None = None,
    entity: str | None = None,
    language: str | None = None,
) -> Change:
    """`smgov staff update`: contact details at once; a new entity is a reassignment (4.2)."""
    code = entity_service.get_entity(ctx, entity).code if entity else None
    staff = _find(ctx, index, field="INDEX")
    if code is not None and staff.entity_code is not None and staff.status != "active":
        raise Refused(
            "--entity", f"staff member {staff.index_number} is {staff.status}, not active", "4.2"
        )
    return update(
        ctx,
        index,
        lambda rec: Person(
            index=rec.index,
            name=name if name is not None else rec.name,
            email=email if email is not None else rec.email,
            user_name=rec.user_name if email is None else None,
            language=language if language is not None else rec.language,
            department=code,
            active=rec.active,
        ),
        cause="smgov staff update",
        actor=OPERATOR,
    )


@dataclass
class ImportReport:
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)


class ImportRefused(Refused):
    """Some rows are bad: every error, by row and field; nothing was imported."""

    def __init__(self, errors: list[tuple[int, str]], what: str) -> None:
        self.errors = errors
        super().__init__(
            "FILE.csv",
            f"{len(errors)} bad rows; no {what} imported (use --partial to import the good rows)",
        )


Rows = Callable[[], Iterator[tuple[int, dict[str, Any]]]]


def _cell(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name)
    return value.strip() if isinstance(value, str) else ""


def import_staff(ctx: Ctx, *, read: Rows, partial: bool = False) -> ImportReport:
    """`smgov staff import`: every row checked first (streaming), nothing written if any is bad
    (unless `partial`); then new staff inserted set-based, changed ones updated, a changed entity
    recorded as a reassignment (4.2). Importing the same file again changes nothing."""
    known = {
        row.index_number: row
        for row in ctx.session.execute(
            select(
                col(Staff.index_number),
                col(Staff.name),
                col(Staff.email),
                col(Staff.entity_code),
                col(Staff.language),
            )
        )
    }
    folded = {c.upper(): c for c in ctx.session.execute(select(col(Entity.code))).scalars()}
    addresses = {row.email.casefold(): i for i, row in known.items()}
    report = ImportReport()
    bad: dict[int, str] = {}
    seen: set[str] = set()

    def check(number: int, raw: dict[str, Any]) -> tuple[Person, str]:
        person = _check(
            Person(
                index=_cell(raw, "index"),
                name=_cell(raw, "name"),
                email=_cell(raw, "email"),
                language=_cell(raw, "language") or "en",
            )
        )
        code = folded.get(_cell(raw, "entity").upper())
        if code is None:
            raise Refused(
                "entity", f"entity {_cell(raw, 'entity') or '(empty)'} is not in the registry"
            )
        if person.index in seen:
            raise Refused("index", f"staff member {person.index} appears twice in the file")
        holder = addresses.get(person.email.casefold())
        if holder is not None and holder != person.index:
            raise Refused(
                "email", f"{person.email} is already the address of staff member {holder}"
            )
        return person, code

    for number, raw in read():
        report.rows += 1
        try:
            person, _ = check(number, raw)
            seen.add(person.index)
            addresses.setdefault(person.email.casefold(), person.index)
        except Refused as exc:
            bad[number] = str(exc)
    report.rejected = sorted(bad.items())
    if bad and not partial:
        raise ImportRefused(report.rejected, "staff")
    seen.clear()
    addresses = {row.email.casefold(): i for i, row in known.items()}
    fresh: list[dict[str, Any]] = []
    moves: list[EventIn] = []
    contacts: list[str] = []  # active people whose name or e-mail this import changes

    def flush() -> None:
        if fresh:
            ctx.session.execute(insert(Staff), fresh)
            fresh.clear()

    for number, raw in read():
        if number in bad:
            continue
        person, code = check(number, raw)
        seen.add(person.index)
        addresses.setdefault(person.email.casefold(), person.index)
        old = known.get(person.index)
        if old is None:
            fresh.append(
                {
                    "index_number": person.index,
                    "name": person.name,
                    "email": person.email,
                    "entity_code": code,
                    "language": person.language,
                    "status": "active",
                    "status_effective_at": ctx.now,
                    "registry_officer": False,
                    "created_at": ctx.now,
                    "modified_at": ctx.now,
                    "version": 1,
                }
            )
            report.created += 1
            if len(fresh) >= BATCH:
                flush()
            continue
        if (old.name, old.email, old.entity_code, old.language) == (
            person.name,
            person.email,
            code,
            person.language,
        ):
            report.unchanged += 1
            continue
        staff = _find(ctx, person.index)
        if (staff.name, staff.email) != (person.name, person.email) and staff.status == "active":
            contacts.append(staff.index_number)  # their name or contact details changed
        staff.name, staff.email, staff.language = person.name, person.email, person.language
        if staff.entity_code is None:
            staff.entity_code, staff.directory_department = code, None
        elif code != staff.entity_code and staff.status == "active":
            moves.append(_event(ctx, staff, "reassignment", code, source="csv"))
        staff.version += 1
        staff.modified_at = ctx.now
        ctx.session.add(staff)
        report.updated += 1
    flush()
    ctx.session.flush()
    contact_details_entered(ctx, contacts, actor=OPERATOR)  # 3.4(d), 3.6
    report.events = _through_inbox(ctx, moves, "smgov staff import", source="csv")
    if report.created or report.updated or report.rejected:
        ctx.audit(
            actor=OPERATOR,
            action="staff.import",
            subject="registry",
            after={
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "unchanged": report.unchanged,
                "rejected": len(report.rejected),
            },
        )
    return report


def import_entities(ctx: Ctx, *, read: Rows, partial: bool = False) -> ImportReport:
    """`smgov entity import`: entities of the Secretariat (1.1(c)) from CSV, all or nothing
    (unless `partial`); an entity already held (any case) with the same values is unchanged,
    with other values updated."""
    held = {e.code.upper(): e for e in ctx.session.execute(select(Entity)).scalars()}
    report = ImportReport()
    bad: dict[int, str] = {}
    seen: set[str] = set()
    good: list[tuple[int, dict[str, str]]] = []
    for number, raw in read():
        report.rows += 1
        try:
            row = {
                "code": check_code("code", _cell(raw, "code")),
                "name": check_text("name", _cell(raw, "name"), limit=MAX_NAME),
                "kind": check_entity_kind(_cell(raw, "kind")),
                "timezone": check_timezone(
                    _cell(raw, "timezone") or ctx.settings.default_timezone, field="timezone"
                ),
            }
            if row["code"].upper() in seen:
                raise Refused("code", f"entity {row['code']} appears twice in the file (any case)")
            seen.add(row["code"].upper())
            good.append((number, row))
        except Refused as exc:
            bad[number] = str(exc)
    report.rejected = sorted(bad.items())
    if bad and not partial:
        raise ImportRefused(report.rejected, "entities")
    for _, row in good:
        entity = held.get(row["code"].upper())
        if entity is None:
            ctx.session.add(Entity(created_at=ctx.now, **row))  # type: ignore[arg-type]  # all str columns
            report.created += 1
            continue
        values = {"name": row["name"], "kind": row["kind"], "timezone": row["timezone"]}
        if all(getattr(entity, k) == v for k, v in values.items()):
            report.unchanged += 1
            continue
        for key, value in values.items():
            setattr(entity, key, value)
        ctx.session.add(entity)
        report.updated += 1
    ctx.session.flush()
    if report.created or report.updated or report.rejected:
        ctx.audit(
            actor=OPERATOR,
            action="entity.import",
            subject="registry",
            after={
                "rows": report.rows,
                "created": report.created,
                "updated": report.updated,
                "rejected": len(report.rejected),
            },
        )
    return report
