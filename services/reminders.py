"""The reminder sweep: find every reminder due as of `now` with one query, write digests to the
outbox. Delivery is separate (notifications.outbox.deliver), after this transaction commits.

For each open obligation whose next stage has begun (`next_stage_at <= now`), the latest stage due
is computed in the entity's timezone (models.reminders); if that stage was not yet sent to the
current assignee, its lines are written — to the assignee, and when overdue to the head of entity
and then the registry team — and the obligation's next stage is scheduled. Lines are grouped into
one digest per recipient and channel. The obligation's row records the stage last told and to
whom, under a row lock, so a stage is never written twice, whatever runs concurrently.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, type_coerce
from sqlalchemy.types import NullType
from sqlmodel import col

from models.clock import days_left, local_date
from models.hr import HANDOVER_CHECKLIST
from models.reminders import ReminderPolicy, stage_starts_at
from models.tables import Entity, Obligation
from notifications.templates import Line, escalation_text, render_digest
from services.context import Ctx
from services.links import LinkBatch, tasks_of, with_link
from services.obligations import policy_from
from services.recipients import Directory, Recipient, render_messages, write_rendered

NEXT_STEP = {
    "inventory-entry": "smgov account show {n} — then complete what it lists as missing "
    "(smgov authorize {n} ... / smgov account update {n} ...) --by {who}",
    "new-account-entry": "smgov account show {n} — then complete what it lists as missing "
    "(smgov authorize {n} ... / smgov account update {n} ...) --by {who}",
    "update-entry": "smgov account show {n} — then smgov account update {n} ... --by {who}",
    "credential-handover": "; ".join(HANDOVER_CHECKLIST)
    .replace("ACCOUNT", "{n}")
    .replace("INDEX", "{who}"),
    "credential-rotation": "rotate the password and recovery details, then "
    "smgov custody attest {n} --vault-ref REF --by {who}",
}


@dataclass
class QueueReport:
    queued: int = 0
    lines: int = 0
    obligations: int = 0


def _next_step(kind: str, subject: str, who: str) -> str:
    number = subject.partition(":")[2]
    template = NEXT_STEP.get(kind, "smgov obligation list --entity ENTITY")
    return template.format(n=number, who=who)


@dataclass(frozen=True)
class _Schedule:
    """What one due instant means in one timezone as of the sweep (shared by every obligation
    due then there: a 100k-account sweep has a few thousand, so pendulum runs that often)."""

    days_left: int
    stage: int | None
    next_stage: int
    next_stage_at: dt.datetime
    due_local: str


def _schedules(policy: ReminderPolicy, now: dt.datetime) -> Callable[[Any, str], _Schedule]:
    @functools.cache
    def schedule(stored_due_at: Any, tz: str) -> _Schedule:
        due_at = _instant(stored_due_at)
        k = -days_left(due_at, now, tz)
        nxt = policy.next_stage(k)
        return _Schedule(
            days_left=-k,
            stage=policy.latest_stage(k),
            next_stage=nxt,
            next_stage_at=stage_starts_at(due_at, nxt, tz),
            due_local=f"{local_date(due_at, tz).isoformat()} ({tz})",
        )

    return schedule


def _instant(stored: Any) -> dt.datetime:
    """A `UTCDateTime` value as the driver returns it (read raw, converted once per distinct
    value rather than once per row): SQLite gives naive UTC text, PostgreSQL an aware datetime."""
    value = dt.datetime.fromisoformat(stored) if isinstance(stored, str) else stored
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not an instant: {stored!r}")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


_DUE_COLUMNS = (
    col(Obligation.id),
    col(Obligation.kind),
    col(Obligation.clause),
    col(Obligation.subject),
    col(Obligation.entity_code),
    col(Obligation.assignee),
    type_coerce(col(Obligation.due_at), NullType()).label("due_at"),  # raw: see _instant
    col(Obligation.reminded_stage),
    col(Obligation.reminded_assignee),
    col(Entity.timezone),
)


def queue_due(ctx: Ctx, *, only: set[int] | None = None) -> QueueReport:
    """Write every reminder due as of `ctx.now` to the outbox, one digest per recipient (`only`:
    just these obligations, for a flow that notifies at once about the duties it opened).

    Set-based: one query reads the due set as plain rows, stage arithmetic runs once per distinct
    (due instant, timezone), the obligations' schedules are written by one UPDATE and
    the digests by one multi-row INSERT. A stage is told once: the obligation's row records the
    stage and assignee last reminded, and it is locked while the sweep works (PostgreSQL: FOR
    UPDATE SKIP LOCKED, so concurrent sweeps split the rows; SQLite: the write lock is taken when
    the unit of work begins), so a second sweep finds nothing left to send."""
    now, session, settings = ctx.now, ctx.session, ctx.settings
    policy = policy_from(settings)
    session.flush()
    query = (
        select(*_DUE_COLUMNS)
        .join(Entity, col(Entity.code) == col(Obligation.entity_code))
        .where(col(Obligation.state) == "open", col(Obligation.next_stage_at) <= now)
        .order_by(col(Obligation.id))
    )
    if only is not None:
        query = query.where(col(Obligation.id).in_(only))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Obligation)
    due = session.execute(query).all()
    report = QueueReport()
    if not due:
        return report
    directory = Directory(
        ctx, entities={row.entity_code for row in due}, people={row.assignee for row in due}
    )
    schedule = _schedules(policy, now)
    links = LinkBatch(ctx)  # the web door: each line to a named person carries their own link
    tasks = tasks_of(ctx, ((row[0], row[1], row[3]) for row in due)) if links.enabled else {}
    audience_of = functools.cache(policy.audience)

    @functools.cache
    def escalation(days: int, language: str, to_head: bool) -> str:
        return escalation_text(
            days,
            policy.escalate_head_after,
            policy.escalate_registry_after,
            language,
            to_head=to_head,
        )

    rescheduled: list[tuple[int, int, dt.datetime, int | None]] = []
    items: dict[Recipient, list[Line]] = defaultdict(list)
    for oid, kind, clause, subject, entity, assignee, due_at, r_stage, r_assignee, tz in due:
        plan = schedule(due_at, tz)
        stage = plan.stage
        told_before = r_stage is not None and stage is not None
        if stage is None or (told_before and r_assignee == assignee and r_stage >= stage):
            rescheduled.append((oid, plan.next_stage, plan.next_stage_at, None))
            continue
        rescheduled.append((oid, plan.next_stage, plan.next_stage_at, stage))
        report.obligations += 1
        head = directory.head(entity)
        to_head = head is not None and head != assignee
        audience: list[tuple[str, list[Recipient]]] = [("assignee", directory.person(assignee))]
        # A new assignee at a stage already told hears of it; the others heard already.
        if not (told_before and r_stage >= stage):
            roles = audience_of(stage)
            if "head" in roles and to_head:
                audience.append(("head", directory.person(head)))
            if "registry" in roles and assignee != "registry":
                audience.append(("registry", directory.registry()))
            audience.append(("assignee" if stage <= 0 else "head", directory.teams(entity)))
        next_step = _next_step(kind, subject, assignee)
        seen: set[Recipient] = set()
        for role, recipients in audience:
            for rcpt in recipients:
                if rcpt not in seen:
                    seen.add(rcpt)
                    items[rcpt].append(
                        Line(
                            clause,
                            kind,
                            subject,
                            entity,
                            plan.due_local,
                            plan.days_left,
                            role,
                            assignee,
                            with_link(
                                next_step,
                                links.placeholder(
                                    staff_index=rcpt.staff_index, task=tasks.get(oid, subject)
                                ),
                            ),
                            escalation(plan.days_left, rcpt.language, to_head),
                        )
                    )
    # The database rewrites the schedules while the digests are rendered: the UPDATE waits on
    # the database (the GIL released), the rendering on Python. Nothing else touches the session
    # until the thread is joined.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reschedule") as pool:
        pending = pool.submit(_reschedule, ctx, rescheduled)
        rendered = render_messages(ctx, items, render_digest)
        pending.result()  # re-raises whatever the UPDATE raised
    links.write()
    report.queued, report.lines = write_rendered(ctx, rendered)
    if report.queued:
        ctx.audit(
            actor="smgov",
            action="reminders.queue",
            subject="outbox",
            after={
                "messages": report.queued,
                "lines": report.lines,
                "obligations": report.obligations,
            },
        )
    return report


_RESCHEDULE = {
    # PostgreSQL: one statement, the rows passed as arrays.
    "postgresql": """
UPDATE obligation AS o
SET next_stage = v.ns, next_stage_at = v.nsa,
    reminded_stage = COALESCE(v.rs, o.reminded_stage),
    reminded_assignee = CASE WHEN v.rs IS NULL THEN o.reminded_assignee ELSE o.assignee END
FROM unnest(CAST(:ids AS integer[]), CAST(:ns AS integer[]), CAST(:nsa AS timestamptz[]),
            CAST(:rs AS integer[])) AS v(id, ns, nsa, rs)
WHERE o.id = v.id
""",
    # SQLite: the driver's executemany of one prepared statement.
    "sqlite": """
UPDATE obligation
SET next_stage = ?, next_stage_at = ?, reminded_stage = COALESCE(?, reminded_stage),
    reminded_assignee = CASE WHEN ? IS NULL THEN reminded_assignee ELSE assignee END
WHERE id = ?
""",
}


def _stored(instant: dt.datetime, dialect: str) -> Any:
    """An instant as the `UTCDateTime` column stores it (SQLite: naive UTC text)."""
    utc = instant.astimezone(dt.UTC)
    return f"{utc:%Y-%m-%d %H:%M:%S.%f}" if dialect == "sqlite" else utc


def _reschedule(ctx: Ctx, rows: list[tuple[int, int, dt.datetime, int | None]]) -> None:
    """Write the swept obligations' next stages, and the stage told where one was (rows of
    (id, next stage, its instant, stage told or None)), in one statement, bypassing per-row
    ORM work: a 100k-account sweep reschedules 100k obligations."""
    connection = ctx.session.connection()
    dialect = connection.dialect.name
    stored = functools.cache(lambda instant: _stored(instant, dialect))
    if dialect == "postgresql":
        connection.execute(
            text(_RESCHEDULE["postgresql"]),
            {
                "ids": [r[0] for r in rows],
                "ns": [r[1] for r in rows],
                "nsa": [r[2] for r in rows],
                "rs": [r[3] for r in rows],
            },
        )
    else:
        connection.exec_driver_sql(
            _RESCHEDULE["sqlite"], [(ns, stored(nsa), rs, rs, oid) for oid, ns, nsa, rs in rows]
        )
    # Obligations this session already holds as objects are read afresh when next touched.
    for obj in list(ctx.session.identity_map.values()):
        if isinstance(obj, Obligation):
            ctx.session.expire(obj)
