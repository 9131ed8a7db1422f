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

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlmodel import col

from models.clock import days_left, local_date
from models.reminders import stage_starts_at
from models.tables import Entity, EntityRole, Notice, Obligation, Staff
from notifications import outbox
from notifications.channels import TeamsChannel
from notifications.templates import Line, escalation_text, language_of, render_digest
from services.context import Ctx
from services.obligations import policy_from

NEXT_STEP = {
    "inventory-entry": "smgov account show {n} — then complete what it lists as missing "
    "(smgov authorize {n} ... / smgov account update {n} ...) --by {who}",
    "new-account-entry": "smgov account show {n} — then complete what it lists as missing "
    "(smgov authorize {n} ... / smgov account update {n} ...) --by {who}",
    "update-entry": "smgov account show {n} — then smgov account update {n} ... --by {who}",
}


@dataclass(frozen=True)
class _Recipient:
    channel: str
    address: str
    index: str | None
    language: str


@dataclass
class QueueReport:
    queued: int = 0
    lines: int = 0
    obligations: int = 0


def _next_step(kind: str, subject: str, who: str) -> str:
    number = subject.partition(":")[2]
    template = NEXT_STEP.get(kind, "smgov obligation list --entity ENTITY")
    return template.format(n=number, who=who)


def queue_due(ctx: Ctx) -> QueueReport:
    """Write every reminder due as of `ctx.now` to the outbox, one digest per recipient."""
    now, session, settings = ctx.now, ctx.session, ctx.settings
    policy = policy_from(settings)
    query = (
        select(Obligation, col(Entity.timezone))
        .join(Entity, col(Entity.code) == col(Obligation.entity_code))
        .where(col(Obligation.state) == "open", col(Obligation.next_stage_at) <= now)
        .order_by(col(Obligation.id))
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True, of=Obligation)
    due = session.execute(query).all()
    report = QueueReport()
    if not due:
        return report

    entity_codes = {ob.entity_code for ob, _ in due}
    heads: dict[str, str] = {}
    for role, entity_code, index in session.execute(
        select(col(EntityRole.role), col(EntityRole.entity_code), col(EntityRole.staff_index))
        .where(
            col(EntityRole.entity_code).in_(entity_codes),
            col(EntityRole.role).in_(("head", "officer-in-charge")),
            col(EntityRole.starts_at) <= now,
            or_(col(EntityRole.ends_at).is_(None), col(EntityRole.ends_at) > now),
        )
        .order_by(col(EntityRole.role))  # 'head' sorts before 'officer-in-charge', which wins
    ).all():
        heads[entity_code] = index
        _ = role
    people = {ob.assignee for ob, _ in due} | set(heads.values())
    contacts = {
        s.index_number: s
        for s in session.execute(select(Staff).where(col(Staff.index_number).in_(people))).scalars()
    }
    teams_tags = TeamsChannel(settings).tags()

    def person(index: str | None) -> list[_Recipient]:
        if index is None or index == "registry":
            return registry()
        staff = contacts.get(index)
        if staff is None or staff.status != "active":
            return registry()
        return [_Recipient("email", staff.email, staff.index_number, language_of(staff.language))]

    def registry() -> list[_Recipient]:
        found = []
        if settings.registry_email:
            found.append(_Recipient("email", settings.registry_email, None, "en"))
        if "registry" in teams_tags:
            found.append(_Recipient("teams", "registry", None, "en"))
        return found

    lines: dict[_Recipient, list[tuple[Line, str, Obligation, int]]] = defaultdict(list)
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
        head = heads.get(ob.entity_code)
        audience: list[tuple[str, list[_Recipient]]] = []
        for role in policy.audience(stage):
            if role == "assignee":
                audience.append(("assignee", person(ob.assignee)))
            elif role == "head" and head and head != ob.assignee:
                audience.append(("head", person(head)))
            elif role == "registry" and ob.assignee != "registry":
                audience.append(("registry", registry()))
        if f"entity-{ob.entity_code.lower()}" in teams_tags:
            audience.append(
                (
                    "assignee" if stage <= 0 else "head",
                    [_Recipient("teams", f"entity-{ob.entity_code.lower()}", None, "en")],
                )
            )
        seen: set[_Recipient] = set()
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
                    next_step=_next_step(ob.kind, ob.subject, ob.assignee),
                    escalation=escalation_text(
                        -k,
                        policy.escalate_head_after,
                        policy.escalate_registry_after,
                        rcpt.language,
                        to_head=head is not None and head != ob.assignee,
                    ),
                )
                lines[rcpt].append(
                    (line, f"{ob.id}:{stage}:{rcpt.address}:{rcpt.channel}", ob, stage)
                )

    keys = [key for items in lines.values() for _, key, _, _ in items]
    existing: set[str] = set()
    for start in range(0, len(keys), 500):
        existing.update(
            session.execute(
                select(col(Notice.key)).where(col(Notice.key).in_(keys[start : start + 500]))
            ).scalars()
        )
    for rcpt, items in lines.items():
        fresh = [item for item in items if item[1] not in existing]
        if not fresh:
            continue
        subject, body = render_digest([line for line, _, _, _ in fresh], rcpt.language)
        message = outbox.enqueue(
            session=session,
            channel=rcpt.channel,
            recipient=rcpt.address,
            subject=subject,
            body=body,
            now=now,
            recipient_index=rcpt.index,
            language=rcpt.language,
        )
        assert message.id is not None  # enqueue flushed, so the row has its id
        for _, key, ob, stage in fresh:
            session.add(Notice(key=key, obligation_id=ob.id, stage=stage, outbox_id=message.id))
        report.queued += 1
        report.lines += len(fresh)
    session.flush()
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


def first_stage_at(due_at: dt.datetime, tz: str, first: int) -> dt.datetime:
    return stage_starts_at(due_at, first, tz)
