"""Obligations: every rule that sets a deadline opens one; the sweep reminds until it is met.

An obligation's `key` names the duty (e.g. `entry:12` — account 12's 3.4 entry must be complete);
opening the same duty twice returns the one already open, so every process is idempotent. When an
obligation closes its key is suffixed with `#<id>`, freeing the name for a later duty of its kind.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    String,
    cast,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
    values,
)
from sqlmodel import col

from database import among, chunks, insert_rows
from models.clock import days_left, iso
from models.errors import Refused
from models.reminders import ReminderPolicy, stage_starts_at
from models.settings import Settings
from models.tables import Entity, Obligation
from notifications.i18n import due_words, render
from services.context import Ctx
from services.subjects import entity_names, name_subjects

STATES = ("open", "met", "withdrawn")
OBLIGATION = Obligation.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely


def policy_from(settings: Settings) -> ReminderPolicy:
    return ReminderPolicy(
        days_before=tuple(settings.remind_days_before),
        overdue_every=settings.overdue_every_days,
        escalate_head_after=settings.escalate_head_after_days,
        escalate_registry_after=settings.escalate_registry_after_days,
    )


def find_open(ctx: Ctx, key: str) -> Obligation | None:
    """The open obligation named `key`, as an ORM object (to change it)."""
    found = open_rows(ctx, [key]).get(key)
    return ctx.session.get(Obligation, found.id) if found is not None else None


class OpenDuty(NamedTuple):
    """An open obligation as a plain row: what a batch needs to decide, without an ORM object."""

    key: str
    id: int
    assignee: str


def open_rows(ctx: Ctx, keys: Sequence[str]) -> dict[str, OpenDuty]:
    """The open obligations named by `keys`, as plain rows. Looked up by key alone, through its
    unique index (a closed duty's key carries `#id`), and the state checked here: with
    `state = 'open'` in the query SQLite may prefer the sweep's index of open duties and scan
    every one of them once per lookup."""
    found: dict[str, OpenDuty] = {}
    unique = list(dict.fromkeys(keys))
    for batch in chunks(unique):
        for key, oid, assignee, state in ctx.session.execute(
            select(
                col(Obligation.key),
                col(Obligation.id),
                col(Obligation.assignee),
                col(Obligation.state),
            ).where(among(ctx.session, col(Obligation.key), batch))
        ):
            if state == "open":
                found[key] = OpenDuty(key, oid, assignee)
    return found


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


@dataclass(frozen=True)
class Duty:
    """A duty to open: who must do what, by when, under which clause, about which subject."""

    key: str
    clause: str
    kind: str
    subject: str
    entity: Entity
    assignee: str
    due_at: dt.datetime
    detail: str | None = None


def open_many(ctx: Ctx, duties: Sequence[Duty], *, actor: str) -> dict[str, int]:
    """Open each duty unless it is open already (an open one is handed to the new assignee if
    need be); returns the open obligations' ids by key. Set-based: one query finds the open
    keys, one multi-row INSERT writes the new duties, each opening is audited."""
    wanted = list({duty.key: duty for duty in duties}.values())
    keys = [duty.key for duty in wanted]
    existing = open_rows(ctx, keys)
    ids: dict[str, int] = {}
    fresh: list[dict[str, Any]] = []
    zones: dict[str, str] = {}
    policy = policy_from(ctx.settings)
    for duty in wanted:
        found = existing.get(duty.key)
        if found is not None:
            if found.assignee != duty.assignee:
                ob = ctx.session.get(Obligation, found.id)
                assert ob is not None  # found open in this transaction
                reassign(ctx, ob, assignee=duty.assignee, actor=actor)
            ids[duty.key] = found.id
            continue
        zones[duty.entity.code] = duty.entity.timezone
        fresh.append(
            obligation_values(
                key=duty.key,
                clause=duty.clause,
                kind=duty.kind,
                subject=duty.subject,
                entity_code=duty.entity.code,
                tz=duty.entity.timezone,
                assignee=duty.assignee,
                due_at=duty.due_at,
                now=ctx.now,
                policy=policy,
                detail=duty.detail,
            )
        )
    if fresh and ctx.session.get_bind().dialect.name == "postgresql":
        # The ids are drawn from the table's sequence first, so the new rows go in one COPY
        # and nothing is read back.
        drawn = ctx.session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('obligation', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": len(fresh)},
        ).scalars()
        for row, oid in zip(fresh, drawn, strict=True):
            row["id"] = ids[row["key"]] = oid
        insert_rows(ctx.session, OBLIGATION, fresh)
    else:
        for chunk in chunks(fresh):
            insert_rows(ctx.session, OBLIGATION, chunk)
            for key, oid in ctx.session.execute(
                select(col(Obligation.key), col(Obligation.id)).where(
                    among(ctx.session, col(Obligation.key), [row["key"] for row in chunk])
                )
            ):
                ids[key] = oid
    if len(fresh) == 1:  # one duty: its event says all about it
        row = fresh[0]
        ctx.audit(
            actor=actor,
            action="obligation.open",
            subject=f"obligation:{ids[row['key']]}",
            after={
                "id": ids[row["key"]],
                "clause": row["clause"],
                "kind": row["kind"],
                "subject": row["subject"],
                "entity": row["entity_code"],
                "assignee": row["assignee"],
                "due_at": iso(row["due_at"]),
                "days_left": days_left(row["due_at"], ctx.now, zones[row["entity_code"]]),
                "state": "open",
            },
        )
    elif fresh:  # a batch (a campaign opens thousands): one event for the lot, every id in it
        opened = sorted(ids[row["key"]] for row in fresh)
        ctx.audit(
            actor=actor,
            action="obligation.open",
            subject="obligations",
            after={
                "count": len(opened),
                "ids": id_ranges(opened),
                "kinds": dict(Counter(row["kind"] for row in fresh)),
                "clauses": sorted({row["clause"] for row in fresh}),
                "entities": sorted(zones),
                "state": "open",
            },
        )
    return ids


@dataclass(frozen=True)
class ForEntity:
    """The duty each of an entity's accounts gets when many are opened at once: who answers for
    them and by when."""

    entity: Entity
    assignee: str
    due_at: dt.datetime


def entity_values(
    ctx: Ctx, rows: Sequence[Mapping[str, Any]], types: Mapping[str, Any], name: str
) -> tuple[Any, dict[str, ColumnElement[Any]]]:
    """Per-entity values (one row per entity) as a CTE to join in an `INSERT ... SELECT`, and its
    columns typed as `types` says (cast on PostgreSQL, where a column of NULLs reads as text)."""
    given = values(*(column(key, types[key]) for key in types), name=name).data(
        [tuple(row[key] for key in types) for row in rows]
    )
    table = given.cte(name)
    typed: dict[str, ColumnElement[Any]] = {key: table.c[key] for key in types}
    if ctx.session.get_bind().dialect.name == "postgresql":
        typed = {key: cast(table.c[key], types[key]) for key in types}
    return table, typed


def open_for_accounts(
    ctx: Ctx, accounts: Any, plans: Sequence[ForEntity], *, clause: str, kind: str, actor: str
) -> int:
    """Open the duty `assessment:N` of `kind` for every account N that `accounts` (a subquery of
    `account_id` and `entity_code`) yields, with its entity's values: one `INSERT ... SELECT`
    per 500 entities, every duty's values but its key and subject worked out once per entity
    (a campaign opens 100,000 of them), and one audit event for the lot naming every id. The
    accounts must have no such duty open. Returns how many were opened."""
    policy = policy_from(ctx.settings)
    number = cast(accounts.c.account_id, String)
    made = {"key": literal("assessment:") + number, "subject": literal("account:") + number}
    ids: list[int] = []
    for chunk in chunks(plans):
        rows = [
            obligation_values(
                key="",
                clause=clause,
                kind=kind,
                subject="",
                entity_code=plan.entity.code,
                tz=plan.entity.timezone,
                assignee=plan.assignee,
                due_at=plan.due_at,
                now=ctx.now,
                policy=policy,
            )
            for plan in chunk
        ]
        names = list(rows[0])
        table, typed = entity_values(
            ctx, rows, {key: OBLIGATION.c[key].type for key in names if key not in made}, "duty"
        )
        source = select(*(made[key] if key in made else typed[key] for key in names)).select_from(
            accounts.join(table, table.c.entity_code == accounts.c.entity_code)
        )
        # what was opened, returned (a driver may count no rows for an INSERT from a CTE)
        ids.extend(
            ctx.session.execute(
                insert(OBLIGATION).from_select(names, source).returning(OBLIGATION.c.id)
            ).scalars()
        )
    ids.sort()
    if ids:
        ctx.audit(
            actor=actor,
            action="obligation.open",
            subject="obligations",
            after={
                "count": len(ids),
                "ids": id_ranges(ids),
                "kinds": {kind: len(ids)},
                "clauses": [clause],
                "entities": sorted(plan.entity.code for plan in plans),
                "state": "open",
            },
        )
    return len(ids)


def id_ranges(ids: Sequence[int]) -> list[list[int]]:
    """Sorted ids as [first, last] runs: a batch's ids written in full in one audit event (a
    campaign's 100,000 duties are a few runs)."""
    runs: list[list[int]] = []
    for number in ids:
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return runs


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
    duty = Duty(key, clause, kind, subject, entity, assignee, due_at, detail)
    ob = ctx.session.get(Obligation, open_many(ctx, [duty], actor=actor)[key])
    assert ob is not None  # just found or written in this transaction
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


def withdraw_keys(ctx: Ctx, keys: Sequence[str], *, reason: str, actor: str) -> int:
    """Withdraw the open duties named by `keys`, set-based (a batch of HR events withdraws
    thousands): one UPDATE per 500 keys, one audit event for the lot. Returns how many."""
    return close_keys(ctx, keys, state="withdrawn", reason=reason, actor=actor)


def close_keys(ctx: Ctx, keys: Sequence[str], *, state: str, reason: str, actor: str) -> int:
    """Meet or withdraw the open duties named by `keys`, set-based (`close` for many). Returns
    how many."""
    found = open_rows(ctx, keys)
    return _close_ids(ctx, [duty.id for duty in found.values()], state, reason, actor)


def withdraw_about(
    ctx: Ctx, subjects: Sequence[str], *, keep: Sequence[str], reason: str, actor: str
) -> int:
    """Withdraw every open duty about `subjects` (e.g. `account:12`) but those of the kinds in
    `keep`, set-based: looked up by subject through its index, 500 at a time (the state and
    kind checked here, as `open_rows` does), closed by `close_keys`'s UPDATE, one audit event
    for the lot. Returns how many."""
    ids: list[int] = []
    for batch in chunks(list(dict.fromkeys(subjects))):
        ids.extend(
            oid
            for oid, kind, state in ctx.session.execute(
                select(col(Obligation.id), col(Obligation.kind), col(Obligation.state)).where(
                    among(ctx.session, col(Obligation.subject), batch)
                )
            )
            if state == "open" and kind not in keep
        )
    return _close_ids(ctx, ids, "withdrawn", reason, actor)


def _close_ids(ctx: Ctx, found: Sequence[int], state: str, reason: str, actor: str) -> int:
    """Close the open obligations `found` as `state`: one UPDATE per 500 ids (each key freed
    with `#id`, as `close` frees it), one audit event for the lot."""
    if state not in STATES[1:]:
        raise ValueError(f"an obligation closes as met or withdrawn, not {state}")
    ids = sorted(set(found))
    for chunk in chunks(ids):
        ctx.session.execute(
            update(Obligation)
            .where(col(Obligation.id).in_(chunk), col(Obligation.state) == "open")
            .values(
                state=state,
                closed_at=ctx.now,
                closed_reason=reason[:500],
                next_stage_at=None,
                key=func.substr(
                    col(Obligation.key) + "#" + cast(col(Obligation.id), String), 1, 200
                ),
            )
        )
    if ids:
        ctx.audit(
            actor=actor,
            action=f"obligation.{state}",
            subject="obligations",
            after={"ids": id_ranges(ids), "count": len(ids), "reason": reason},
        )
    return len(ids)


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


def obligation_view(ctx: Ctx, ob: Obligation, tz: str, lang: str = "en") -> dict[str, Any]:
    """One obligation; `due` in words in `lang` (the CLI's table), `due_at` in ISO 8601."""
    return {
        "id": ob.id,
        "clause": ob.clause,
        "kind": ob.kind,
        "subject": ob.subject,
        "entity": ob.entity_code,
        "assignee": ob.assignee,
        "due_at": iso(ob.due_at),
        "due": due_words(ob.due_at, tz, lang),
        "days_left": days_left(ob.due_at, ctx.now, tz),
        "state": ob.state if ob.closed_at is None or ob.closed_at <= ctx.now else "open",
        # in the words of whoever opened it (what a reported change was, a condition's text)
        "detail": ob.detail,
    }


def list_obligations(
    ctx: Ctx,
    *,
    entity: str | None = None,
    state: str | None = None,
    assignee: str | None = None,
    lang: str = "en",
) -> list[dict[str, Any]]:
    """Obligations as they stood at `ctx.now`: created by then; open unless closed by then (their
    due days in words in `lang`)."""
    if state is not None and state not in STATES:
        raise Refused("--state", f"must be one of {', '.join(STATES)}")
    query = (
        select(Obligation, col(Entity.timezone))
        .join(Entity, col(Entity.code) == col(Obligation.entity_code))
        .where(col(Obligation.created_at) <= ctx.now)
        .order_by(col(Obligation.due_at), col(Obligation.id))
    )
    if entity:
        query = query.where(  # codes are case-insensitive: dgc is DGC
            func.upper(col(Obligation.entity_code)) == entity.strip().upper()
        )
    if assignee:
        query = query.where(col(Obligation.assignee) == assignee)
    if state == "open":
        query = query.where(
            or_(col(Obligation.closed_at).is_(None), col(Obligation.closed_at) > ctx.now)
        )
    elif state is not None:
        query = query.where(col(Obligation.state) == state, col(Obligation.closed_at) <= ctx.now)
    return [obligation_view(ctx, ob, tz, lang) for ob, tz in ctx.session.execute(query).all()]


def tasks_for(ctx: Ctx, staff: str, lang: str) -> list[dict[str, Any]]:
    """A person's open duties as the web door shows them, in the reader's language: what it asks,
    what it is about (the account by platform and handle, the entity by name), the due day where
    the entity is, and the days left; earliest deadline first (`list_obligations`'s rows, named)."""
    from notifications.templates import title_of  # Jinja2 only where a page is drawn (start-up)

    rows = list_obligations(ctx, state="open", assignee=staff, lang=lang)
    named = name_subjects(ctx, [row["subject"] for row in rows])
    entities = entity_names(ctx, [row["entity"] for row in rows])
    for row in rows:
        row["title"] = title_of(row["kind"], lang)
        row["about"] = render(named[row["subject"]].what, lang)
        row["entity"] = entities.get(row["entity"], row["entity"])
    return rows
