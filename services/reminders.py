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
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text, type_coerce
from sqlalchemy.types import NullType
from sqlmodel import col

from database import update_rows
from models.clock import days_left, local_date
from models.duties import met_by
from models.hr import HANDOVER_CHECKLIST
from models.reminders import ReminderPolicy, stage_starts_at
from models.tables import Entity, Obligation
from notifications.templates import Line, escalation_text, render_digest
from services.context import Ctx
from services.links import LinkBatch, tasks_of, with_link
from services.obligations import OBLIGATION, policy_from
from services.recipients import Directory, Recipient, write_digests

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
    template = NEXT_STEP.get(kind) or met_by(kind).command.replace("{", "{{").replace("}", "}}")
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

    # First the decisions: which swept duties are told a stage now (each duty's next stage
    # follows from its due instant and timezone alone).
    told: list[tuple[Any, _Schedule]] = []
    for row in due:
        assignee, due_at, r_stage, r_assignee, tz = row[5:]
        plan = schedule(due_at, tz)
        stage = plan.stage
        if stage is not None and not (
            r_stage is not None and r_assignee == assignee and r_stage >= stage
        ):
            told.append((row, plan))
    report.obligations = len(told)
    rescheduled = _Rescheduled(due, {row[0] for row, _ in told}, schedule)
    # The database rewrites the schedules while the lines are built: the UPDATE
    # waits on the database (the GIL released), the rendering on Python. Nothing else touches
    # the session until the thread is joined.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="reschedule") as pool:
        pending = pool.submit(_reschedule, ctx, rescheduled)
        items: dict[Recipient, list[Line]] = defaultdict(list)
        for (oid, kind, clause, subject, entity, assignee, _, r_stage, _, _), plan in told:
            stage = plan.stage
            assert stage is not None  # told duties have a stage due
            head = directory.head(entity)
            to_head = head is not None and head != assignee
            audience: list[tuple[str, list[Recipient]]] = [("assignee", directory.person(assignee))]
            # A new assignee at a stage already told hears of it; the others heard already.
            if r_stage is None or r_stage < stage:
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
        pending.result()  # re-raises whatever the UPDATE raised
    links.write()
    report.queued, report.lines = write_digests(ctx, items, render_digest)
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


@dataclass(frozen=True)
class _Rescheduled:
    """The swept duties (due rows), those told a stage now, and the schedule of each due
    instant in each timezone."""

    due: Sequence[Any]
    told: set[int]
    schedule: Callable[[Any, str], _Schedule]


# PostgreSQL: the ids travel as two comma-separated texts and the schedules as a few thousand
# (due instant, timezone) rows; the server joins them to the duties, so the driver does no work
# per duty and the thread waits on the database (GIL released) while the lines are built.
_RESCHEDULE = """
UPDATE obligation AS o
SET next_stage = s.next_stage, next_stage_at = s.next_stage_at,
    reminded_stage = CASE WHEN v.told THEN s.stage ELSE o.reminded_stage END,
    reminded_assignee = CASE WHEN v.told THEN o.assignee ELSE o.reminded_assignee END
FROM (
    SELECT CAST(x AS integer) AS id, true AS told FROM unnest(string_to_array(:told, ',')) AS x
    UNION ALL
    SELECT CAST(x AS integer), false FROM unnest(string_to_array(:quiet, ',')) AS x
) AS v, entity AS e,
unnest(CAST(:due AS timestamptz[]), CAST(:tz AS text[]), CAST(:stage AS integer[]),
       CAST(:ns AS integer[]), CAST(:nsa AS timestamptz[]))
    AS s(due_at, tz, stage, next_stage, next_stage_at)
WHERE o.id = v.id AND e.code = o.entity_code AND s.due_at = o.due_at AND s.tz = e.timezone
"""


def _reschedule(ctx: Ctx, swept: _Rescheduled) -> None:
    """Write the swept duties' next stages, and for those told now the stage and to whom
    (the rows are locked, so the assignee read is current), in one set-based update,
    bypassing per-row ORM work: a 100k-account sweep reschedules 100k obligations."""
    connection = ctx.session.connection()
    if connection.dialect.name == "postgresql":
        plans = {(row[6], row[9]): swept.schedule(row[6], row[9]) for row in swept.due}
        connection.execute(
            text(_RESCHEDULE),
            {
                "told": ",".join(str(oid) for oid in swept.told),
                "quiet": ",".join(str(row[0]) for row in swept.due if row[0] not in swept.told),
                "due": [due_at for due_at, _ in plans],
                "tz": [tz for _, tz in plans],
                "stage": [plan.stage for plan in plans.values()],
                "ns": [plan.next_stage for plan in plans.values()],
                "nsa": [plan.next_stage_at for plan in plans.values()],
            },
        )
    else:
        rows = []
        for oid, *_, assignee, due_at, r_stage, r_assignee, tz in swept.due:
            plan = swept.schedule(due_at, tz)
            told = oid in swept.told
            rows.append(
                {
                    "id": oid,
                    "next_stage": plan.next_stage,
                    "next_stage_at": plan.next_stage_at,
                    "reminded_stage": plan.stage if told else r_stage,
                    "reminded_assignee": assignee if told else r_assignee,
                }
            )
        update_rows(ctx.session, OBLIGATION, rows)
    # Obligations this session already holds as objects are read afresh when next touched.
    for obj in list(ctx.session.identity_map.values()):
        if isinstance(obj, Obligation):
            ctx.session.expire(obj)
