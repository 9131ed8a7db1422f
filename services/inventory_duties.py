"""The duties of the initial inventory that other use cases keep current (3.3, 3.4): the initial
assessment of each account that existed at the bulletin's date, and the head's inventory duty met
once every entry is complete. Below both `services.accounts` (which calls them when an entry
changes) and `services.inventory` (which opens the campaigns), so neither imports the other in a
circle.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy import String, cast, exists, insert, literal, select
from sqlmodel import col

from models.tables import Account, Assessment, Entity, Obligation
from services import obligations
from services.authority import current_head
from services.context import Ctx

ACTOR = "smgov"
ASSESSMENT = Assessment.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely


def open_initial_assessments(
    ctx: Ctx, entity: Entity, *, before: dt.date, due_at: dt.datetime, campaign_id: int | None
) -> int:
    """3.3: each account existing at the bulletin's date gets one assessment (never two open)."""
    already = exists().where(  # by the assessments' account index, account by account
        col(Assessment.account_id) == col(Account.id), col(Assessment.state) == "open"
    )
    eligible = (
        col(Account.entity_code) == entity.code,
        col(Account.created_on) < before,
        col(Account.state).in_(("active", "under-reassessment")),
        ~already,
    )
    head = current_head(session=ctx.session, entity_code=entity.code, at=ctx.now) or "registry"
    # Written in SQL from the accounts themselves (INSERT ... SELECT): every duty's values but
    # its key and subject are the entity's, worked out once. The duties go first: the
    # assessments' insert changes which accounts are eligible.
    duty = obligations.obligation_values(
        key="",
        clause="3.3",
        kind="initial-assessment",
        subject="",
        entity_code=entity.code,
        tz=entity.timezone,
        assignee=head,
        due_at=due_at,
        now=ctx.now,
        policy=obligations.policy_from(ctx.settings),
    )
    number = cast(col(Account.id), String)
    made = {"key": literal("assessment:") + number, "subject": literal("account:") + number}
    table = obligations.OBLIGATION
    ctx.session.execute(
        insert(table).from_select(
            list(duty),
            select(
                *(
                    made.get(name, literal(value, table.c[name].type))
                    for name, value in duty.items()
                )
            ).where(*eligible),
        )
    )
    fields = {
        "account_id": col(Account.id),
        "campaign_id": literal(campaign_id, ASSESSMENT.c.campaign_id.type),
        "reason": literal("initial"),
        "state": literal("open"),
        "due_at": literal(due_at, ASSESSMENT.c.due_at.type),
        "opened_at": literal(ctx.now, ASSESSMENT.c.opened_at.type),
    }
    opened = ctx.session.execute(
        insert(ASSESSMENT).from_select(list(fields), select(*fields.values()).where(*eligible))
    )
    return int(opened.rowcount)  # type: ignore[attr-defined]  # an INSERT's CursorResult


def refresh(ctx: Ctx) -> int:
    """Meet every open inventory duty whose entity is done (set-based); returns how many."""
    open_duties = ctx.session.execute(
        select(Obligation, Entity)
        .join(Entity, col(Entity.code) == col(Obligation.entity_code))
        .where(col(Obligation.state) == "open", col(Obligation.kind) == "inventory-campaign")
    ).all()
    if not open_duties:
        return 0
    codes = {ob.entity_code for ob, _ in open_duties}
    accounts = Counter(
        ctx.session.execute(
            select(col(Account.entity_code)).where(col(Account.entity_code).in_(codes))
        ).scalars()
    )
    incomplete = Counter(
        ctx.session.execute(
            select(col(Obligation.entity_code)).where(
                col(Obligation.state) == "open",
                col(Obligation.key).like("entry:%"),
                col(Obligation.entity_code).in_(codes),
            )
        ).scalars()
    )
    met = 0
    for ob, entity in open_duties:
        attested = entity.attested_at is not None and entity.attested_at >= ob.created_at
        if accounts[entity.code] and not incomplete[entity.code]:  # the state, never a word
            obligations.close(
                ctx, ob, state="met", reason="every entry complete (3.4)", actor=ACTOR
            )
            met += 1
        elif not accounts[entity.code] and attested:  # nothing to enter, and the head says so
            obligations.close(
                ctx, ob, state="met", reason="head attested: no accounts (3.1(c))", actor=ACTOR
            )
            met += 1
    return met
