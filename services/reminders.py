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
from models.reminders import ReminderPolicy, stage_starts_at
from models.tables import Entity, Obligation
from notifications.i18n import M, Msg
from notifications.templates import Day, Line, ranked, render_digest
from services.context import Ctx
from services.links import LinkBatch, tasks_of
from services.obligations import OBLIGATION, policy_from
from services.recipients import Directory, Recipient, write_digests
from services.subjects import Named, entity_names, name_subjects, roles_on_accounts

#: One concrete next step per kind of duty: what to do (a message translated for its reader) and
#: the exact smgov command, filled with the duty's own values ({account}, {request}, {entity},
#: {obligation}, {by}). Every obligation kind has an entry; a new kind must join this table
#: (tests/test_i18n.py fails for a kind without one). Values a person must supply themselves
#: (a vault reference, a reason) are named in capitals as in `smgov --help`.
NEXT_STEP: dict[str, tuple[Msg, str]] = {
    "inventory-entry": (
        M("See what the entry lacks with {command}, then complete it (3.4)."),
        "smgov account show {account}",
    ),
    "new-account-entry": (
        M("See what the entry lacks with {command}, then complete it (3.5)."),
        "smgov account show {account}",
    ),
    "update-entry": (
        M("Check the entry with {command} and correct what changed (3.6)."),
        "smgov account show {account}",
    ),
    "credential-handover": (
        M(
            "Change the password, the recovery e-mail and telephone number, re-enrol two-factor "
            "authentication and remove the departing person's sessions; then record it: {command}"
        ),
        "smgov custody attest {account} --vault-ref REF --by {by}",
    ),
    "credential-rotation": (
        M("Rotate the password and the recovery details, then record it: {command}"),
        "smgov custody attest {account} --vault-ref REF --by {by}",
    ),
    "inventory-campaign": (
        M("Enter each of your entity's accounts (the CSV template: {command}), then import it."),
        "smgov account import --template",
    ),
    "initial-assessment": (
        M("Assess the account against the criteria of 3.2: {command}"),
        "smgov assess {account} --decision continue|conditions|withdraw --reason TEXT --by {by}",
    ),
    "reassessment": (
        M("Assess the account against the criteria of 3.2: {command}"),
        "smgov assess {account} --decision continue|conditions|withdraw --reason TEXT --by {by}",
    ),
    "decide-request": (
        M("Read the request, then decide it: {command}"),
        "smgov request decide {request} --decision approve|reject|return --reason TEXT --by {by}",
    ),
    "report-change": (
        M(
            "Enter the reported change (3.6): {command}, with the new values; if the entry "
            "already holds them, give them as it holds them."
        ),
        "smgov account update {account} --by {by}",
    ),
    "attest-entries": (
        M("Review your entity's entries, then attest them: {command}"),
        "smgov entity attest {entity} --by {by}",
    ),
    "assessment-condition": (
        M("Meet the condition; your head of entity then confirms it met: {command}"),
        "smgov obligation meet {obligation} --by {head} --note TEXT",
    ),
    "close-account": (
        M("Close the account on its platform, then record it: {command}"),
        "smgov account closed {account} --closed-on DATE --evidence TEXT --by {by}",
    ),
    "decide-unapproved": (
        M(
            "The account was entered without your approval: ask for it with a request, or "
            "withdraw it: {command}"
        ),
        "smgov account withdraw {account} --reason TEXT --by {by}",
    ),
    "authorize-declared": (
        M("Authorize in writing the people the entry declares: {command}"),
        "smgov authorize {account} --declared --reference REF --by {by}",
    ),
    "acknowledge": (
        M("Read the obligations of 2.2 and 4.1, then acknowledge them: {command}"),
        "smgov acknowledge {account} --by {by}",
    ),
}


@dataclass
class QueueReport:
    queued: int = 0
    lines: int = 0
    obligations: int = 0
    registry_configured: bool = True  # false: nothing could be escalated to the registry team


def next_step(
    kind: str,
    *,
    obligation: int,
    subject: Named,
    entity: str,
    by: str | None,
    head: str | None = None,
) -> Msg:
    """The next step of one duty, its command filled with real values (`head`: the entity's
    head, who confirms what the assignee cannot confirm alone)."""
    message, command = NEXT_STEP[kind]
    if not by:  # the registry team acts under an officer's own index number
        command = command.replace(" --by {by}", "")
    filled = command.format(
        account=subject.account_id or "",
        request=subject.request_id or "",
        entity=entity,
        obligation=obligation,
        by=by or "",
        head=head or "HEAD",
    )
    return Msg(message.msgid, (("command", filled),))


@dataclass(frozen=True)
class _Schedule:
    """What one due instant means in one timezone as of the sweep (shared by every obligation
    due then there: a 100k-account sweep has a few thousand, so pendulum runs that often)."""

    days_left: int
    stage: int | None
    next_stage: int
    next_stage_at: dt.datetime
    due: Day


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
            due=Day(local_date(due_at, tz), tz),
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
    named = name_subjects(ctx, {row[3] for row in due})
    entity_name = entity_names(ctx, {row.entity_code for row in due})
    roles = roles_on_accounts(
        ctx, [n.account_id for n in named.values() if n.account_id is not None]
    )
    registry_told = bool(directory.registry())
    report.registry_configured = registry_told
    head_role, registry_role = M("head of entity"), M("registry team")
    account_roles = {
        "administrator": M("administrator of the account"),
        "alternate": M("alternate administrator of the account"),
        "publisher": M("publisher on the account"),
    }
    staff_role = M("staff member")

    def assignee_role(assignee: str, head: str | None, subject: Named) -> Msg:
        if assignee == "registry":
            return registry_role
        if assignee == head:
            return head_role
        role = roles.get((subject.account_id or 0, assignee))
        return account_roles.get(role or "", staff_role)

    def escalation(days: int, to_head: bool, to_registry: bool) -> tuple[tuple[str, int], ...]:
        """Who else is or will be told, counted from today (escalation starts N days after the
        due day): only a head who can be reached, and the registry team only when configured."""
        steps = [("head", policy.escalate_head_after)] if to_head else []
        if registry_told and to_registry:
            steps.append(("registry", policy.escalate_registry_after))
        return tuple((who, after + days) for who, after in steps)

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
        linked: dict[Recipient, list[str]] = defaultdict(list)  # each line's task, if linked
        for (oid, kind, clause, subject, entity, assignee, _, r_stage, _, _), plan in told:
            stage = plan.stage
            assert stage is not None  # told duties have a stage due
            head = directory.head(entity)
            to_head = head is not None and head != assignee
            audience: list[tuple[str, list[Recipient]]] = [("assignee", directory.person(assignee))]
            # A new assignee at a stage already told hears of it; the others heard already.
            if r_stage is None or r_stage < stage:
                hearing = audience_of(stage)
                if "head" in hearing and to_head:
                    audience.append(("head", directory.person(head)))
                if "registry" in hearing and assignee != "registry":
                    audience.append(("registry", directory.registry()))
                audience.append(("assignee" if stage <= 0 else "head", directory.teams(entity)))
            subject_named = named[subject]
            to_head = to_head and directory.reaches(head)
            head_name = (directory.name(head) or "") if to_head else ""
            base = Line(
                clause=clause,
                kind=kind,
                subject=subject,
                what=subject_named.what,
                entity=entity,
                entity_name=entity_name.get(entity, entity),
                due=plan.due,
                days_left=plan.days_left,
                role="assignee",
                assignee=directory.name(assignee) or "",
                assignee_role=assignee_role(assignee, head, subject_named),
                next_step=next_step(
                    kind,
                    obligation=oid,
                    subject=subject_named,
                    entity=entity,
                    by=None if assignee == "registry" else assignee,
                    head=head,
                ),
                link=None,
                escalation=escalation(plan.days_left, to_head, assignee != "registry"),
                head=head_name,
            )
            seen: set[Recipient] = set()
            for role, recipients in audience:
                for rcpt in recipients:
                    if rcpt not in seen:
                        seen.add(rcpt)
                        items[rcpt].append(base._replace(role=role))
                        if links.enabled and rcpt.staff_index:
                            linked[rcpt].append(tasks.get(oid, subject))
        pending.result()  # re-raises whatever the UPDATE raised
    # each person's own link, only in the lines their digest lists (a capped digest leaves
    # the rest out: a link for one of them would be a live token nobody receives)
    for rcpt, wanted in linked.items():
        lines = items[rcpt]
        for i in ranked(lines)[: max(settings.digest_max_lines, 1)]:
            link = links.placeholder(staff_index=rcpt.staff_index, task=wanted[i])
            lines[i] = lines[i]._replace(link=link)
    links.write()
    # A digest lists the most urgent lines only (the registry team's can hold tens of thousands)
    render = functools.partial(render_digest, limit=settings.digest_max_lines)
    report.queued, report.lines = write_digests(ctx, items, render)
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
