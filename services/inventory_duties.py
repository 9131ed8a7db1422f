"""The duties of the initial inventory that other use cases keep current (3.3, 3.4): the initial
assessment of each account that existed at the bulletin's date, and the head's inventory duty met
once every entry is complete. Below both `services.accounts` (which calls them when an entry
changes) and `services.inventory` (which opens the campaigns), so neither imports the other in a
circle.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence

from sqlalchemy import String, cast, exists, insert, literal, select
from sqlmodel import col

from database import among, chunks
from models.tables import Account, Assessment, Entity, Obligation
from services import obligations
from services.authority import current_head
from services.context import Ctx

ACTOR = "smgov"
ASSESSMENT = Assessment.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely


def awaiting_assessment(
    ctx: Ctx, codes: Collection[str], *, before: dt.date
) -> dict[str, list[int]]:
    """Per entity, its accounts existing at the bulletin's date with no open assessment (3.3):
    one query for all the entities."""
    already = exists().where(
        col(Assessment.account_id) == col(Account.id), col(Assessment.state) == "open"
    )
    found: dict[str, list[int]] = defaultdict(list)
    for chunk in chunks(sorted(codes)):
        for account_id, code in ctx.session.execute(
            select(col(Account.id), col(Account.entity_code))
            .where(
                among(ctx.session, col(Account.entity_code), chunk),
                col(Account.created_on) < before,
                col(Account.state).in_(("active", "under-reassessment")),
                ~already,
            )
            .order_by(col(Account.id))
        ):
            found[code].append(account_id)
    return found


def open_initial_assessments(
    ctx: Ctx,
    entity: Entity,
    *,
    before: dt.date,
    due_at: dt.datetime,
    campaign_id: int | None,
    awaiting: Sequence[int] | None = None,
) -> int:
    """3.3: each account existing at the bulletin's date gets one assessment (never two open);
    `awaiting` when the caller looked the entity's accounts up already (`awaiting_assessment`).
    """
    if awaiting is None:
        awaiting = awaiting_assessment(ctx, [entity.code], before=before).get(entity.code, [])
    if not awaiting:
        return 0
    head = current_head(session=ctx.session, entity_code=entity.code, at=ctx.now) or "registry"
    # Written in SQL from the accounts themselves (INSERT ... SELECT by id): every duty's values
    # but its key and subject are the entity's, worked out once.
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
    fields = {
        "account_id": col(Account.id),
        "campaign_id": literal(campaign_id, ASSESSMENT.c.campaign_id.type),
        "reason": literal("initial"),
        "state": literal("open"),
        "due_at": literal(due_at, ASSESSMENT.c.due_at.type),
        "opened_at": literal(ctx.now, ASSESSMENT.c.opened_at.type),
    }
    for chunk in chunks(awaiting):
        ctx.session.execute(
            insert(table).from_select(
                list(duty),
                select(
                    *(
                        made.get(key, literal(value, table.c[key].type))
                        for key, value in duty.items()
                    )
                ).where(among(ctx.session, col(Account.id), chunk)),
            )
        )
        ctx.session.execute(
            insert(ASSESSMENT).from_select(
                list(fields),
                select(*fields.values()).where(among(ctx.session, col(Account.id), chunk)),
            )
        )
    return len(awaiting)


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
