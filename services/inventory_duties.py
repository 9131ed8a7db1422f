"""The duties of the initial inventory that other use cases keep current (3.3, 3.4): the initial
assessment of each account that existed at the bulletin's date, and the head's inventory duty met
once every entry is complete. Below both `services.accounts` (which calls them when an entry
changes) and `services.inventory` (which opens the campaigns), so neither imports the other in a
circle.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, String, cast, column, exists, insert, literal, select, values
from sqlmodel import col

from database import chunks
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
    assessment and its duty (never two open). Set-based: two `INSERT ... SELECT` per 500
    entities, from the accounts joined to each entity's values (a CTE) — every duty's values
    but its key and subject are its entity's, worked out once. Returns how many."""
    policy = obligations.policy_from(ctx.settings)
    table = obligations.OBLIGATION
    number = cast(col(Account.id), String)
    made = {"key": literal("assessment:") + number, "subject": literal("account:") + number}
    opened = 0
    for chunk in chunks(openings):
        rows = []
        for opening in chunk:
            duty = obligations.obligation_values(
                key="",
                clause="3.3",
                kind="initial-assessment",
                subject="",
                entity_code=opening.entity.code,
                tz=opening.entity.timezone,
                assignee=opening.assignee,
                due_at=opening.due_at,
                now=ctx.now,
                policy=policy,
            )
            rows.append({**duty, "campaign_id": opening.campaign_id})
        names = [name for name in rows[0] if name not in made]
        types = {
            name: (ASSESSMENT if name == "campaign_id" else table).c[name].type for name in names
        }
        given = values(*(column(name, types[name]) for name in names), name="opening").data(
            [tuple(row[name] for name in names) for row in rows]
        )
        per_entity = given.cte("opening")
        typed: dict[str, ColumnElement[Any]] = {name: per_entity.c[name] for name in names}
        if ctx.session.get_bind().dialect.name == "postgresql":  # a column of NULLs is text there
            typed = {name: cast(per_entity.c[name], types[name]) for name in names}
        awaiting = (
            select()
            .select_from(Account)
            .join(per_entity, per_entity.c.entity_code == col(Account.entity_code))
            .where(
                col(Account.created_on) < before,
                col(Account.state).in_(("active", "under-reassessment")),
                ~exists().where(
                    col(Assessment.account_id) == col(Account.id),
                    col(Assessment.state) == "open",
                ),
            )
        )
        duty_columns = [name for name in rows[0] if name != "campaign_id"]
        ctx.session.execute(
            insert(table).from_select(
                duty_columns,
                awaiting.add_columns(
                    *(made[name] if name in made else typed[name] for name in duty_columns)
                ),
            )
        )
        fields = {
            "account_id": col(Account.id),
            "campaign_id": typed["campaign_id"],
            "reason": literal("initial"),
            "state": literal("open"),
            "due_at": typed["due_at"],
            "opened_at": literal(ctx.now, ASSESSMENT.c.opened_at.type),
        }
        written = ctx.session.execute(
            insert(ASSESSMENT).from_select(list(fields), awaiting.add_columns(*fields.values()))
        )
        opened += written.rowcount  # type: ignore[attr-defined]  # a CursorResult: an INSERT's
    return opened


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
