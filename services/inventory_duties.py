"""The duties of the initial inventory that other use cases keep current (3.3, 3.4): the initial
assessment of each account that existed at the bulletin's date, and the head's inventory duty met
once every entry is complete. Below both `services.accounts` (which calls them when an entry
changes) and `services.inventory` (which opens the campaigns), so neither imports the other in a
circle.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, insert, literal, select
from sqlmodel import col

from database import among, chunks
from models.tables import Account, Assessment, Entity, Obligation
from services import obligations
from services.context import Ctx

ACTOR = "smgov"
ASSESSMENT = Assessment.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely


@dataclass(frozen=True)
class Opening:
    """An entity whose existing accounts get their initial assessment (3.3): by when, under
    which campaign (None: outside any), and who answers for them."""

    entity: Entity
    due_at: dt.datetime
    campaign_id: int | None
    assignee: str


def open_initial_assessments(ctx: Ctx, openings: Sequence[Opening], *, before: dt.date) -> int:
    """3.3: each account of the entities `openings` existing at the bulletin's date gets one
    assessment and its duty (never two open). Set-based: per 500 entities, the duties by
    `obligations.open_for_accounts` and the assessments by one `INSERT ... SELECT`, from the
    accounts joined to each entity's values. Returns how many (each account's duty and its
    assessment are opened together)."""
    opened = 0
    postgresql = ctx.session.get_bind().dialect.name == "postgresql"
    for chunk in chunks(openings):
        awaiting_where = (
            col(Account.entity_code).in_([o.entity.code for o in chunk]),
            col(Account.created_on) < before,
            col(Account.state).in_(("active", "under-reassessment")),
            ~exists().where(
                col(Assessment.account_id) == col(Account.id),
                col(Assessment.state) == "open",
            ),
        )
        if postgresql:
            # the awaiting accounts read once, by id: on PostgreSQL the anti-join against the
            # assessments inside the INSERT that adds to them re-read each added row per account
            # (N²: 76 s for 100,000 accounts, against 5 s). SQLite joins it in one pass, but
            # not a list of ids to the entities' values (25 s): it keeps the anti-join.
            found = ctx.session.execute(select(col(Account.id)).where(*awaiting_where))
            ids = list(found.scalars())
            if not ids:
                continue
            where: tuple[Any, ...] = (among(ctx.session, col(Account.id), ids),)
        else:
            where = awaiting_where
        awaiting = (
            select(
                col(Account.id).label("account_id"), col(Account.entity_code).label("entity_code")
            )
            .where(*where)
            .subquery("awaiting")
        )
        opened += obligations.open_for_accounts(
            ctx,
            awaiting,
            [obligations.ForEntity(o.entity, o.assignee, o.due_at) for o in chunk],
            clause="3.3",
            kind="initial-assessment",
            actor=ACTOR,
        )
        table, typed = obligations.entity_values(
            ctx,
            [
                {"entity_code": o.entity.code, "campaign_id": o.campaign_id, "due_at": o.due_at}
                for o in chunk
            ],
            {
                "entity_code": ASSESSMENT.c.reason.type,
                "campaign_id": ASSESSMENT.c.campaign_id.type,
                "due_at": ASSESSMENT.c.due_at.type,
            },
            "opening",
        )
        fields = {
            "account_id": awaiting.c.account_id,
            "campaign_id": typed["campaign_id"],
            "reason": literal("initial"),
            "state": literal("open"),
            "due_at": typed["due_at"],
            "opened_at": literal(ctx.now, ASSESSMENT.c.opened_at.type),
        }
        ctx.session.execute(
            insert(ASSESSMENT).from_select(
                list(fields),
                select(*fields.values()).select_from(
                    awaiting.join(table, table.c.entity_code == awaiting.c.entity_code)
                ),
            )
        )
    return opened


#: per entity of the codes given, how many of its accounts in use lack an item of their entry
#: (3.4), read from the entries themselves (`services.accounts.incomplete_entries`)
Lacking = Callable[[Ctx, Collection[str]], Counter[str]]


def refresh(ctx: Ctx, lacking: Lacking) -> int:
    """Meet every open inventory duty whose entity is done (set-based); returns how many. Done
    is the entries' state (`lacking`), never only the absence of an open entry duty: an entry
    that became incomplete without one (a declared administrator separated) keeps it open."""
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
    # the entities an open entry duty does not hold back yet: their entries are read (a
    # few statements), never every entity's at each entry completed
    done = {code for code in codes if accounts[code] and not incomplete[code]}
    if done:
        incomplete.update(lacking(ctx, done))
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
