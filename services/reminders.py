"""The reminder sweep: find every reminder due as of `now` with one query, write digests to the
outbox. Delivery is separate (notifications.outbox.deliver), after this transaction commits.

For each open obligation whose next stage has begun (`next_stage_at <= now`), the latest stage due
is computed in the entity's timezone (models.reminders); if that stage was not yet sent to the
current assignee, its lines are written — to the assignee, and when overdue to the head of entity
and then the registry team — and the obligation's next stage is scheduled. Lines are grouped into
one digest per recipient and channel. A line's key (obligation, stage, recipient, channel) is
unique, so a line is never written twice, whatever runs concurrently.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import col

from models.clock import days_left, local_date
from models.hr import HANDOVER_CHECKLIST
from models.reminders import stage_starts_at
from models.tables import Entity, Obligation
from notifications.templates import Line, escalation_text, render_digest
from services.context import Ctx
from services.links import reminder_step
from services.obligations import policy_from
from services.recipients import Directory, Item, Recipient, write_once

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


def queue_due(ctx: Ctx, *, only: set[int] | None = None) -> QueueReport:
    """Write every reminder due as of `ctx.now` to the outbox, one digest per recipient (`only`:
    just these obligations, for a flow that notifies at once about the duties it opened)."""
    now, session, settings = ctx.now, ctx.session, ctx.settings
    policy = policy_from(settings)
    query = (
        select(Obligation, col(Entity.timezone))
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
        ctx, entities={ob.entity_code for ob, _ in due}, people={ob.assignee for ob, _ in due}
    )
    items: dict[Recipient, list[Item[Line]]] = defaultdict(list)
    for ob, tz in due:
        k = -days_left(ob.due_at, now, tz)
        stage = policy.latest_stage(k)
        nxt = policy.next_stage(k)
        ob.next_stage = nxt
        ob.next_stage_at = stage_starts_at(ob.due_at, nxt, tz)
        session.add(ob)
        if stage is None or (
            ob.reminded_assignee == ob.assignee
            and ob.reminded_stage is not None
            and ob.reminded_stage >= stage
        ):
            continue
        ob.reminded_stage = stage
        ob.reminded_assignee = ob.assignee
        report.obligations += 1
        due_local = f"{local_date(ob.due_at, tz).isoformat()} ({tz})"
        head = directory.head(ob.entity_code)
        audience: list[tuple[str, list[Recipient]]] = []
        for role in policy.audience(stage):
            if role == "assignee":
                audience.append(("assignee", directory.person(ob.assignee)))
            elif role == "head" and head and head != ob.assignee:
                audience.append(("head", directory.person(head)))
            elif role == "registry" and ob.assignee != "registry":
                audience.append(("registry", directory.registry()))
        audience.append(("assignee" if stage <= 0 else "head", directory.teams(ob.entity_code)))
        seen: set[Recipient] = set()
        for role, recipients in audience:
            for rcpt in recipients:
                if rcpt in seen:
                    continue
                seen.add(rcpt)
                line = Line(
                    clause=ob.clause,
                    kind=ob.kind,
                    subject=ob.subject,
                    entity=ob.entity_code,
                    due_local=due_local,
                    days_left=-k,
                    role=role,
                    assignee=ob.assignee,
                    next_step=reminder_step(
                        ctx, rcpt.index, ob, _next_step(ob.kind, ob.subject, ob.assignee)
                    ),
                    escalation=escalation_text(
                        -k,
                        policy.escalate_head_after,
                        policy.escalate_registry_after,
                        rcpt.language,
                        to_head=head is not None and head != ob.assignee,
                    ),
                )
                key = f"{ob.id}:{stage}:{rcpt.address}:{rcpt.channel}"
                items[rcpt].append(Item(key, line, ob.id, stage))
    report.queued, report.lines = write_once(ctx, items, render_digest)
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
