"""Separation and reassignment (4.2): HR events withdraw administration privileges and start the
credential handover, so that login credentials stay in the Organization's custody.

Three doors (webhook, CSV, CLI) call `record`; events are stored first, idempotent by event id, and
an event for an unknown staff member is kept and flagged. Then two steps act, set-based, on every
pending event whose effective time has come. `revoke_due` first, in a transaction of its own in
the flows, sets the person's status and revokes their written authorizations (3.7) — privileges
are withdrawn without waiting for anything else (event state `revoked`). `follow_up` then opens a
handover obligation per account for the remaining authorized staff member (or the head), reopens
the 3.4(d) entry duty so a new administrator or alternate is designated within 10 days (3.6), and
alerts the head and the registry team at once about accounts left orphaned (state `applied`).
A run stopped between the two is completed by the next one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import or_, select, text
from sqlmodel import col

from database import among, chunks, update_rows
from models.clock import due_after, start_of_local_day
from models.hr import EventIn
from models.tables import (
    Account,
    Authorization,
    DeclaredPerson,
    Entity,
    EntityRole,
    HREvent,
    Staff,
)
from notifications.templates import MN, ROLE_WORDS, Alert, M, render_alerts
from services import obligations
from services.accounts import pass_on_conditions, pass_on_custody, refresh_entry_obligations
from services.authority import current_head
from services.context import Ctx
from services.entities import move_duties
from services.recipients import Directory, Recipient, write_digests
from services.subjects import account_words

EVENT_WORDS = {
    "separation": M("Separation"),
    "reassignment": M("Reassignment"),
    "return": M("Return"),
}

HR_ACTOR = "hr"
AUTHORIZATION = Authorization.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely


class Cause(NamedTuple):
    """One withdrawn authorization and the HR event that withdrew it (plain values: a batch
    handles ten thousand)."""

    event_id: str
    type: str
    staff: str
    effective_on: dt.date
    role: str


@dataclass
class IntakeReport:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


_INTAKE_LOCK = 0x536D6872  # "Smhr": serializes HR intakes on PostgreSQL (two API processes)


def _content(event: EventIn) -> tuple[str, str, str, str | None]:
    return (event.type, event.staff, event.effective_on.isoformat(), event.new_entity)


def _conflict_id(event: EventIn) -> str:
    """The id under which a conflicting event is kept: its id and a digest of its content, so
    the same conflicting event sent twice is recorded once."""
    digest = hashlib.sha256(repr(_content(event)).encode()).hexdigest()[:12]
    return f"{event.event_id[:76]}#conflict-{digest}"


@dataclass
class ApplyReport:
    applied: int = 0
    revoked: int = 0
    orphaned: list[int] = field(default_factory=list)
    obligations: set[int] = field(default_factory=set)
    alerts: int = 0
    vacated: list[str] = field(default_factory=list)


def record(ctx: Ctx, events: list[EventIn], *, source: str) -> IntakeReport:
    """Store HR events (idempotent by event id); nothing acts on them yet. An event id already
    recorded with the same content is a duplicate; with other content it is a conflict: kept
    apart (state `conflict`, shown by `hr list`), never applied, never silently dropped.
    Concurrent intakes (two API processes, one batch) are serialized: the second finds the
    first's events as duplicates instead of failing on the unique event id."""
    report = IntakeReport()
    if ctx.session.get_bind().dialect.name == "postgresql":
        ctx.session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _INTAKE_LOCK})
    ids = sorted({e.event_id for e in events} | {_conflict_id(e) for e in events})
    known: dict[str, tuple[str, str, str, str | None]] = {}
    for batch in chunks(ids):
        for event_id, type_, staff, effective_on, new_entity in ctx.session.execute(
            select(
                col(HREvent.event_id),
                col(HREvent.type),
                col(HREvent.staff_index),
                col(HREvent.effective_on),
                col(HREvent.new_entity),
            ).where(among(ctx.session, col(HREvent.event_id), batch))
        ):
            known[event_id] = (type_, staff, effective_on.isoformat(), new_entity)
    people = {e.staff for e in events}
    zones = dict(  # an unplaced staff member (no entity yet) is known: the default zone
        ctx.session.execute(
            select(col(Staff.index_number), col(Entity.timezone))
            .outerjoin(Entity, col(Entity.code) == col(Staff.entity_code))
            .where(among(ctx.session, col(Staff.index_number), people))
        ).all()
    )
    for event in events:
        seen = known.get(event.event_id)
        if seen == _content(event):
            report.duplicates.append(event.event_id)
            continue
        tz = zones.get(event.staff) or ctx.settings.default_timezone
        if seen is not None:
            report.conflicts.append(event.event_id)
            conflict = _conflict_id(event)
            if conflict in known:
                continue
            known[conflict] = _content(event)
            ctx.session.add(
                HREvent(
                    event_id=conflict,
                    type=event.type,
                    staff_index=event.staff,
                    effective_on=event.effective_on,
                    effective_at=start_of_local_day(event.effective_on, tz),
                    new_entity=event.new_entity,
                    source=source,
                    state="conflict",
                    flag_reason=(
                        f"conflict: event id {event.event_id[:100]} was recorded before with "
                        "other content; this one is kept, not applied"
                    ),
                    received_at=ctx.now,
                )
            )
            continue
        known[event.event_id] = _content(event)
        flagged = event.staff not in zones
        ctx.session.add(
            HREvent(
                event_id=event.event_id,
                type=event.type,
                staff_index=event.staff,
                effective_on=event.effective_on,
                effective_at=event.effective_at or start_of_local_day(event.effective_on, tz),
                new_entity=event.new_entity,
                source=source,
                state="flagged" if flagged else "pending",
                flag_reason="unknown staff member" if flagged else None,
                received_at=ctx.now,
            )
        )
        (report.flagged if flagged else report.stored).append(event.event_id)
    ctx.session.flush()
    if report.stored or report.flagged or report.conflicts:
        ctx.audit(
            actor=HR_ACTOR,
            action="hr.intake",
            subject=f"hr:{source}",
            after={
                "stored": report.stored[:50],
                "flagged": report.flagged[:50],
                "conflicts": report.conflicts[:50],
                "count": len(report.stored) + len(report.flagged),
            },
        )
    return report


def apply_due(ctx: Ctx) -> ApplyReport:
    """Act on every HR event whose effective time has come, both steps in this transaction:
    `revoke_due`, then `follow_up` (the flows run them in transactions of their own)."""
    report = revoke_due(ctx)
    followed = follow_up(ctx)
    report.orphaned, report.obligations, report.alerts = (
        followed.orphaned,
        followed.obligations,
        followed.alerts,
    )
    return report


def _due_events(ctx: Ctx, state: str, *, due_by: dt.datetime | None = None) -> list[HREvent]:
    """The events in `state` (due by `due_by`), oldest first, locked for this transaction
    (PostgreSQL: rows another run holds are skipped, so concurrent runs split the work)."""
    query = select(HREvent).where(col(HREvent.state) == state)
    if due_by is not None:
        query = query.where(col(HREvent.effective_at) <= due_by)
    query = query.order_by(col(HREvent.effective_at), col(HREvent.id))
    if ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(ctx.session.execute(query).scalars().all())


def _revoked_reason(event: HREvent) -> str:
    """What a revocation by `event` records as its reason; `follow_up` finds them by it."""
    return f"{event.type} (HR event {event.event_id}), 4.2"


def revoke_due(ctx: Ctx) -> ApplyReport:
    """Step one, at once (4.2): for every pending HR event whose effective time has come, set the
    person's status and revoke every written authorization they hold (set-based); the event
    becomes `revoked` until `follow_up` has handled its consequences."""
    session, now = ctx.session, ctx.now
    events = _due_events(ctx, "pending", due_by=now)
    report = ApplyReport()
    if not events:
        return report
    people = {e.staff_index for e in events}
    staff = {
        s.index_number: s
        for s in session.execute(
            select(Staff).where(among(session, col(Staff.index_number), people))
        ).scalars()
    }
    # codes are case-insensitive: an event naming `dgc` moves the person to DGC
    entity_codes = {c.upper(): c for c in session.execute(select(col(Entity.code))).scalars()}
    # Authorizations as plain rows, revoked by one set-based update: a batch revokes thousands.
    held: dict[str, list[Any]] = defaultdict(list)
    for auth in session.execute(
        select(
            col(Authorization.id),
            col(Authorization.staff_index),
            col(Authorization.account_id),
            col(Authorization.role),
            col(Authorization.granted_at),
        ).where(
            among(session, col(Authorization.staff_index), people),
            col(Authorization.revoked_at).is_(None),
        )
    ):
        held[auth.staff_index].append(auth)

    revocations: list[dict[str, Any]] = []
    leaving: list[HREvent] = []  # the events that end what the person held (not a return)
    withdrawing: set[int] = set()  # their ids
    for event in events:
        person = staff[event.staff_index]
        before = {
            "status": person.status,
            "entity": person.entity_code,
            "registry_officer": person.registry_officer,
        }
        moved_to = entity_codes.get((event.new_entity or "").upper())
        # a return restores a separated or reassigned person; one naming another entity for
        # someone still active moves them: a reassignment, whatever its name (4.2)
        moves = (
            event.type == "return"
            and person.status == "active"
            and moved_to is not None
            and moved_to != person.entity_code
        )
        if event.type != "return" or moves:
            leaving.append(event)
            withdrawing.add(event.id or 0)
        if event.type == "return":
            person.status = "active"
            if moved_to is not None:
                person.entity_code = moved_to
                person.directory_department = None
        elif event.type == "separation":
            person.status = "separated"
        elif event.new_entity and moved_to != person.entity_code:
            if moved_to is not None:
                person.entity_code = moved_to  # moved within the registry's entities
                person.directory_department = None
            else:
                person.status = "reassigned"  # moved to a unit the registry does not hold
        if person.status != "active" or person.entity_code != before["entity"]:
            person.registry_officer = False  # a post like any other: never back on return
        person.status_effective_at = event.effective_at
        person.version += 1  # the directory's copy (SCIM ETag) is stale now
        person.modified_at = now
        session.add(person)
        revoked = []
        if event.id in withdrawing:  # a return restores status only: authorize again (3.7)
            for auth in held.pop(event.staff_index, []):
                revocations.append(
                    {
                        "id": auth.id,
                        "revoked_at": max(event.effective_at, auth.granted_at),
                        "revoked_by": f"{HR_ACTOR}:{event.event_id}"[:20],
                        "revoked_reason": _revoked_reason(event),
                    }
                )
                revoked.append({"account": auth.account_id, "role": auth.role})
        event.state = "revoked"
        event.applied_at = now
        session.add(event)
        report.applied += 1
        report.revoked += len(revoked)
        ctx.audit(
            actor=HR_ACTOR,
            action=f"hr.{event.type}",
            subject=f"staff:{event.staff_index}",
            before=before,
            after={
                "event": event.event_id,
                "effective_on": event.effective_on.isoformat(),
                "status": person.status,
                "entity": person.entity_code,
                "registry_officer": person.registry_officer,
                "revoked": revoked,
            },
        )
    session.flush()
    update_rows(session, AUTHORIZATION, revocations)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Authorization):
            session.expire(obj)  # read afresh when next touched
    obligations.withdraw_keys(
        ctx,
        [f"acknowledge:{row['id']}" for row in revocations],
        reason="authorization withdrawn (4.2)",
        actor=HR_ACTOR,
    )
    report.vacated = _vacate_posts(ctx, leaving)
    return report


def _vacate_posts(ctx: Ctx, events: list[HREvent]) -> list[str]:
    """A head's (or officer-in-charge's, or delegate's) separation or reassignment ends their
    role for the entity at the event's effective time (3.1). Where a head leaves, the post is
    vacant: the registry team is alerted at once and the head's open duties go to the
    officer-in-charge in office, else to the registry team, until a head is named (set-based:
    one query finds the roles the people hold; only the few posts found are handled)."""
    session = ctx.session
    if not events:
        return []
    by_person = {e.staff_index: e for e in events}
    roles = list(
        session.execute(
            select(EntityRole).where(
                among(session, col(EntityRole.staff_index), by_person),
                or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > ctx.now),
            )
        ).scalars()
    )
    vacated: list[str] = []
    alerts: dict[Recipient, list[Alert]] = defaultdict(list)
    directory = Directory(ctx, entities={r.entity_code for r in roles})
    for role in roles:
        event = by_person[role.staff_index]
        role.ends_at = max(event.effective_at, role.starts_at)
        session.add(role)
        session.flush()
        if role.role not in ("head", "officer-in-charge"):
            continue
        code = role.entity_code
        successor = current_head(session=session, entity_code=code, at=ctx.now) or "registry"
        moved = move_duties(ctx, code, from_=[role.staff_index], to=successor, actor=HR_ACTOR)
        if role.role == "head":
            vacated.append(code)
            alarm = Alert(
                title=f"VACANT: the post of head of {code} is vacant",
                lines=(
                    f"HR event {event.event_id}: {event.type} of {role.staff_index}, effective "
                    f"{event.effective_on.isoformat()}.",
                    f"{moved} open duties of the head now lie with "
                    + (
                        f"officer-in-charge {successor}"
                        if successor != "registry"
                        else "the registry team"
                    )
                    + " until a head is named: smgov entity set-head "
                    f"{code} --staff INDEX --by REGISTRY-OFFICER",
                ),
                urgent=True,
            )
            for rcpt in directory.registry():
                alerts[rcpt].append(alarm)
    if alerts:
        write_digests(ctx, alerts, render_alerts)
    return vacated


def follow_up(ctx: Ctx) -> ApplyReport:
    """Step two, for every `revoked` event: the credential handover per account, the 3.4(d)
    entry duty reopened, alerts about accounts left orphaned; the event becomes `applied`.
    Whatever run did step one, this finds the authorizations each event revoked by their
    recorded reason, so a run stopped between the steps is completed by the next one."""
    session = ctx.session
    events = _due_events(ctx, "revoked")
    report = ApplyReport()
    if not events:
        return report
    by_reason = {_revoked_reason(e): e for e in events}
    revoked: list[tuple[int, int, str, str]] = []
    for chunk in chunks(events):  # bounded statements, whatever the batch
        for oid, account_id, role, reason in session.execute(
            select(
                col(Authorization.id),
                col(Authorization.account_id),
                col(Authorization.role),
                col(Authorization.revoked_reason),
            ).where(
                among(session, col(Authorization.staff_index), {e.staff_index for e in chunk}),
                among(
                    session,
                    col(Authorization.revoked_reason),
                    [_revoked_reason(e) for e in chunk],
                ),
            )
        ):
            revoked.append((oid, account_id, role, reason))
    touched: dict[int, list[Cause]] = defaultdict(list)
    for _, account_id, role, reason in sorted(revoked):
        event = by_reason[reason]
        touched[account_id].append(
            Cause(event.event_id, event.type, event.staff_index, event.effective_on, role)
        )
    if touched:
        _after_revocation(ctx, touched, report)
    _declared_gone(ctx, {e.staff_index for e in events}, report)
    pass_on_conditions(ctx, actor=HR_ACTOR, people={e.staff_index for e in events})
    for event in events:
        event.state = "applied"
        session.add(event)
    report.applied = len(events)
    session.flush()
    return report


def _declared_gone(ctx: Ctx, people: set[str], report: ApplyReport) -> None:
    """The accounts where these people are declared, not yet authorized (an import named
    them, 3.4(d)): an entry whose declared administrator or alternate has left is incomplete
    again, so its entry duty opens (3.4) and the inventory it belongs to is not met."""
    session = ctx.session
    accounts = list(
        session.execute(
            select(Account).where(
                col(Account.id).in_(
                    select(col(DeclaredPerson.account_id)).where(
                        among(session, col(DeclaredPerson.staff_index), people),
                        col(DeclaredPerson.confirmed_at).is_(None),
                    )
                ),
                col(Account.state).not_in(("withdrawn", "closed")),
            )
        ).scalars()
    )
    if accounts:
        opened = refresh_entry_obligations(ctx, accounts, actor=HR_ACTOR)
        report.obligations.update(opened.values())


def _after_revocation(ctx: Ctx, touched: dict[int, list[Cause]], report: ApplyReport) -> None:
    """Handover, designation and orphan alerts for the accounts whose authorizations went."""
    session = ctx.session
    accounts = {
        a.id: a
        for a in session.execute(
            select(Account).where(among(session, col(Account.id), touched))
        ).scalars()
    }
    remaining: dict[int, dict[str, str]] = defaultdict(dict)
    for auth in session.execute(
        select(Authorization)
        .where(
            among(session, col(Authorization.account_id), touched),
            col(Authorization.revoked_at).is_(None),
        )
        .order_by(col(Authorization.id))
    ).scalars():
        remaining[auth.account_id][auth.role] = auth.staff_index  # the latest grant speaks (3.7)
    entities = {
        e.code: e
        for e in session.execute(
            select(Entity).where(
                among(session, col(Entity.code), {a.entity_code for a in accounts.values()})
            )
        ).scalars()
    }
    leavers = {cause.staff for causes in touched.values() for cause in causes}
    directory = Directory(  # the leavers too: each alert names who left
        ctx,
        entities={a.entity_code for a in accounts.values()},
        people={i for r in remaining.values() for i in r.values()} | leavers,
    )
    alerts: dict[Recipient, list[Alert]] = defaultdict(list)
    handovers: list[obligations.Duty] = []
    designate: list[Account] = []
    for account_id, causes in touched.items():
        account = accounts[account_id]
        entity = entities[account.entity_code]
        head = directory.head(account.entity_code) or "registry"
        left = remaining.get(account_id, {})
        keeper = left.get("administrator") or left.get("alternate") or head
        roles_by_event: dict[str, set[str]] = defaultdict(set)
        for cause in causes:
            roles_by_event[cause.event_id].add(cause.role)
        for event in {cause.event_id: cause for cause in causes}.values():
            handovers.append(
                obligations.Duty(
                    key=f"handover:{account_id}:{event.event_id}",
                    clause="4.2",
                    kind="credential-handover",
                    subject=f"account:{account_id}",
                    entity=entity,
                    assignee=keeper,
                    due_at=due_after(
                        event.effective_on, ctx.settings.handover_days, entity.timezone
                    ),
                )
            )
            roles = tuple(ROLE_WORDS[r] for r in sorted(roles_by_event[event.event_id]))
            what = account_words(
                account.platform, account.platform_name, account.handle, account.url
            )
            note = Alert(
                title=M(
                    "{event}: {name} ({index}) no longer runs {account}",
                    event=EVENT_WORDS.get(event.type, event.type),
                    name=directory.name(event.staff) or event.staff,
                    index=event.staff,
                    account=what,
                ),
                lines=(
                    M(
                        "HR event {id}, effective {date}: written authorization ({roles}) "
                        "withdrawn (4.2).",
                        id=event.event_id,
                        date=event.effective_on,
                        roles=roles,
                    ),
                    MN(
                        "Credential handover assigned to {name}, due in {n} day: change the "
                        "password and the recovery e-mail and telephone number, re-enrol "
                        "two-factor authentication, remove the departing person's sessions, "
                        "then record it: {command}",
                        "Credential handover assigned to {name}, due in {n} days: change the "
                        "password and the recovery e-mail and telephone number, re-enrol "
                        "two-factor authentication, remove the departing person's sessions, "
                        "then record it: {command}",
                        ctx.settings.handover_days,
                        name=directory.name(keeper) or M("the registry team"),
                        command=f"smgov custody attest {account_id} --vault-ref REF"
                        + (f" --by {keeper}" if keeper != "registry" else ""),
                    ),
                ),
            )
            for rcpt in directory.person(head):
                alerts[rcpt].append(note)
        if any(cause.role in ("administrator", "alternate") for cause in causes):
            designate.append(account)  # designate anew: 3.4(d), 3.6
        if not left:
            report.orphaned.append(account_id)
            alarm = Alert(
                title=M(
                    "ORPHANED account {account}: no authorized staff member remains",
                    account=account_words(
                        account.platform, account.platform_name, account.handle, account.url
                    ),
                ),
                lines=(
                    M(
                        "Entity {entity}. Every written authorization has been withdrawn (4.2); "
                        "the credentials must be secured at once and a new administrator and "
                        "alternate authorized in writing (3.4(d), 3.7): {command}",
                        entity=f"{entity.name} ({entity.code})",
                        command=f"smgov authorize {account_id} --staff INDEX --role administrator "
                        "--reference REF" + (f" --by {head}" if head != "registry" else ""),
                    ),
                ),
                urgent=True,
            )
            recipients = [
                *directory.person(head),
                *directory.registry(),
                *directory.teams(account.entity_code),
            ]
            for rcpt in dict.fromkeys(recipients):
                alerts[rcpt].append(alarm)
    report.obligations.update(obligations.open_many(ctx, handovers, actor=HR_ACTOR).values())
    # the custody duties the leavers held (a rotation, an earlier handover) go to the keeper,
    # who may attest them; the leaver no longer may (4.2)
    pass_on_custody(ctx, actor=HR_ACTOR, people=leavers)
    report.obligations.update(refresh_entry_obligations(ctx, designate, actor=HR_ACTOR).values())
    # Once only without notice rows: these alerts are written in the transaction that moves
    # their events from revoked to applied (under the events' row locks), so no later run can
    # write them again.
    messages, _ = write_digests(ctx, alerts, render_alerts)
    report.alerts = messages


def list_events(ctx: Ctx) -> list[dict[str, object]]:
    rows = ctx.session.execute(select(HREvent).order_by(col(HREvent.id))).scalars().all()
    return [
        {
            "event_id": e.event_id,
            "type": e.type,
            "staff": e.staff_index,
            "effective": e.effective_on.isoformat(),
            "new_entity": e.new_entity,
            "state": e.state,
            "source": e.source,
            "flag": e.flag_reason,
        }
        for e in rows
    ]
