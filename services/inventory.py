"""The initial inventory (3.4): one campaign per entity, due 60 days after the bulletin's issuance
in the entity's own timezone; initial assessments of existing accounts (3.3); the head's
attestation that the entity's entries are current and correct (3.1(c)); campaign status.

The head's inventory duty is met when every entered account of the entity is complete, or when the
head attests the entity's entries during the campaign (an entity with no account at all).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlmodel import col

from models.clock import days_left, due_after, end_of_local_day, iso, local_date
from models.tables import Account, Assessment, Campaign, Entity, Obligation
from notifications.i18n import due_words
from notifications.templates import MN, Alert, Day, M, render_alerts
from services import obligations
from services.accounts import missing
from services.authority import current_head, require
from services.context import Ctx
from services.entities import get_entity
from services.recipients import Directory, Item, Recipient, write_once

INVENTORY_DAYS = 60
ACTOR = "smgov"


@dataclass
class StartReport:
    opened: list[int]
    existing: list[int]
    assessments: int
    obligations: set[int]


def _inventory_key(entity_code: str, issued_on: dt.date) -> str:
    return f"inventory:{entity_code}:{issued_on.isoformat()}"


def open_initial_assessments(
    ctx: Ctx, entity: Entity, *, before: dt.date, due_at: dt.datetime, campaign_id: int | None
) -> int:
    """3.3: each account existing at the bulletin's date gets one assessment (never two open)."""
    already = select(col(Assessment.account_id)).where(col(Assessment.state) == "open")
    rows = (
        ctx.session.execute(
            select(col(Account.id)).where(
                col(Account.entity_code) == entity.code,
                col(Account.created_on) < before,
                col(Account.state).in_(("active", "under-reassessment")),
                col(Account.id).not_in(already),
            )
        )
        .scalars()
        .all()
    )
    if not rows:
        return 0
    head = current_head(session=ctx.session, entity_code=entity.code, at=ctx.now) or "registry"
    policy = obligations.policy_from(ctx.settings)
    ctx.session.execute(
        insert(Assessment),
        [
            {
                "account_id": a,
                "campaign_id": campaign_id,
                "reason": "initial",
                "state": "open",
                "due_at": due_at,
                "opened_at": ctx.now,
            }
            for a in rows
        ],
    )
    ctx.session.execute(
        insert(Obligation),
        [
            obligations.obligation_values(
                key=f"assessment:{a}",
                clause="3.3",
                kind="initial-assessment",
                subject=f"account:{a}",
                entity_code=entity.code,
                tz=entity.timezone,
                assignee=head,
                due_at=due_at,
                now=ctx.now,
                policy=policy,
            )
            for a in rows
        ],
    )
    return len(rows)


def start_inventory(ctx: Ctx, *, issued_on: dt.date, entity: str | None = None) -> StartReport:
    """Open the 3.4 inventory campaign for one entity or all; starting it twice opens nothing."""
    targets = (
        [get_entity(ctx, entity)]
        if entity
        else list(ctx.session.execute(select(Entity).order_by(col(Entity.code))).scalars())
    )
    report = StartReport(opened=[], existing=[], assessments=0, obligations=set())
    for target in targets:
        found = ctx.session.execute(
            select(Campaign).where(
                col(Campaign.kind) == "inventory",
                col(Campaign.entity_code) == target.code,
                col(Campaign.anchor_on) == issued_on,
            )
        ).scalar_one_or_none()
        if found is not None:
            report.existing.append(found.id)
            continue
        due = due_after(issued_on, INVENTORY_DAYS, target.timezone)
        campaign = Campaign(
            kind="inventory",
            entity_code=target.code,
            anchor_on=issued_on,
            due_at=due,
            state="open",
            opened_at=ctx.now,
        )
        ctx.session.add(campaign)
        ctx.session.flush()
        assert campaign.id is not None
        head = current_head(session=ctx.session, entity_code=target.code, at=ctx.now)
        ob = obligations.open_obligation(
            ctx,
            key=_inventory_key(target.code, issued_on),
            clause="3.4",
            kind="inventory-campaign",
            subject=f"entity:{target.code}",
            entity=target,
            assignee=head or "registry",
            due_at=due,
            actor=ACTOR,
        )
        assert ob.id is not None
        report.obligations.add(ob.id)
        report.assessments += open_initial_assessments(
            ctx, target, before=issued_on, due_at=due, campaign_id=campaign.id
        )
        report.opened.append(campaign.id)
        ctx.audit(
            actor=ACTOR,
            action="campaign.open",
            subject=f"campaign:{campaign.id}",
            after={"kind": "inventory", "entity": target.code, "due_at": iso(due)},
        )
    _announce(ctx, report.opened)
    return report


def _announce(ctx: Ctx, campaign_ids: list[int]) -> None:
    if not campaign_ids:
        return
    campaigns = ctx.session.execute(
        select(Campaign, col(Entity.timezone))
        .join(Entity, col(Entity.code) == col(Campaign.entity_code))
        .where(col(Campaign.id).in_(campaign_ids))
    ).all()
    directory = Directory(ctx, entities={c.entity_code for c, _ in campaigns})
    items: dict[Recipient, list[Item[Alert]]] = defaultdict(list)
    for campaign, tz in campaigns:
        head = directory.head(campaign.entity_code)
        alert = Alert(
            title=M(
                "Inventory of {entity}'s social media accounts due {due}",
                entity=campaign.entity_code,
                due=Day(local_date(campaign.due_at, tz), tz),
            ),
            lines=(
                M(
                    "Within 60 days of the bulletin's issuance every existing institutional "
                    "account must be in the central database with its name, platform, languages, "
                    "administrator and alternate, purpose and audience (3.4)."
                ),
                M(
                    "Enter them in a CSV file (its header: {template}) and import it: {command}; "
                    "then check with {status}.",
                    template="smgov account import --template",
                    command=f"smgov account import {campaign.entity_code.lower()}-accounts.csv "
                    f"--entity {campaign.entity_code}" + (f" --by {head}" if head else ""),
                    status="smgov campaign status",
                ),
            ),
        )
        recipients = [
            *directory.person(head),
            *directory.teams(campaign.entity_code),
        ]
        for rcpt in dict.fromkeys(recipients):
            items[rcpt].append(
                Item(f"campaign:{campaign.id}:open:{rcpt.address}:{rcpt.channel}", alert)
            )
    write_once(ctx, items, render_alerts)


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
        if (accounts[entity.code] and not incomplete[entity.code]) or attested:
            why = "head attested the entries" if attested else "every entry complete (3.4)"
            obligations.close(ctx, ob, state="met", reason=why, actor=ACTOR)
            met += 1
    return met


def close_due(ctx: Ctx) -> list[dict[str, Any]]:
    """At the deadline: record each campaign's outcome and tell the registry team."""
    due = (
        ctx.session.execute(
            select(Campaign)
            .where(
                col(Campaign.kind) == "inventory",
                col(Campaign.state) == "open",
                col(Campaign.due_at) <= ctx.now,
            )
            .order_by(col(Campaign.entity_code))
        )
        .scalars()
        .all()
    )
    results = []
    for campaign in due:
        duty = ctx.session.execute(
            select(Obligation)
            .where(
                col(Obligation.kind) == "inventory-campaign",
                col(Obligation.key).like(
                    f"{_inventory_key(campaign.entity_code, campaign.anchor_on)}%"
                ),
            )
            .order_by(col(Obligation.id).desc())
            .limit(1)
        ).scalar_one_or_none()
        if duty is not None and duty.state == "met" and duty.closed_at is not None:
            outcome = "complete" if duty.closed_at <= campaign.due_at else "late"
        else:
            outcome = "incomplete"
        campaign.state, campaign.outcome, campaign.closed_at = "closed", outcome, ctx.now
        ctx.session.add(campaign)
        row = {
            "campaign": campaign.id,
            "entity": campaign.entity_code,
            "outcome": outcome,
            **_counts(ctx, campaign.entity_code),
        }
        results.append(row)
        ctx.audit(
            actor=ACTOR, action="campaign.close", subject=f"campaign:{campaign.id}", after=row
        )
    if results:
        directory = Directory(ctx, entities=set())
        outcome_words = {
            "complete": M("complete"),
            "late": M("completed late"),
            "incomplete": M("incomplete"),
        }
        summary = Alert(
            title=MN(
                "Inventory deadline: {n} entity — {complete} complete",
                "Inventory deadline: {n} entities — {complete} complete",
                len(results),
                complete=sum(r["outcome"] == "complete" for r in results),
            ),
            lines=tuple(
                M(
                    "{entity}: {outcome} — {accounts} accounts, {incomplete} incomplete",
                    entity=r["entity"],
                    outcome=outcome_words[r["outcome"]],
                    accounts=r["accounts"],
                    incomplete=r["incomplete"],
                )
                for r in results
            ),
        )
        items = {
            rcpt: [
                Item(
                    f"campaign-close:{','.join(str(r['campaign']) for r in results)}:"
                    f"{rcpt.address}:{rcpt.channel}",
                    summary,
                )
            ]
            for rcpt in directory.registry()
        }
        write_once(ctx, items, render_alerts)
    return results


def _counts(ctx: Ctx, entity_code: str) -> dict[str, Any]:
    accounts = (
        ctx.session.execute(select(Account).where(col(Account.entity_code) == entity_code))
        .scalars()
        .all()
    )
    gaps: Counter[str] = Counter()
    incomplete = 0
    for account in accounts:
        lacking = missing(ctx, account)
        incomplete += bool(lacking)
        gaps.update(lacking)
    return {
        "accounts": len(accounts),
        "complete": len(accounts) - incomplete,
        "incomplete": incomplete,
        "missing": dict(sorted(gaps.items())),
    }


def status(ctx: Ctx) -> list[dict[str, Any]]:
    """`smgov campaign status`: per campaign, accounts entered, complete, missing, days left."""
    rows = ctx.session.execute(
        select(Campaign, col(Entity.timezone))
        .join(Entity, col(Entity.code) == col(Campaign.entity_code))
        .where(col(Campaign.opened_at) <= ctx.now)
        .order_by(col(Campaign.kind), col(Campaign.entity_code), col(Campaign.id))
    ).all()
    return [
        {
            "campaign": c.id,
            "kind": c.kind,
            "entity": c.entity_code,
            "due_at": iso(c.due_at),
            "due": due_words(c.due_at, tz),
            "days_left": days_left(c.due_at, ctx.now, tz),
            "state": c.state,
            "outcome": c.outcome,
            **_counts(ctx, c.entity_code),
        }
        for c, tz in rows
    ]


def attest(ctx: Ctx, *, code: str, by: str) -> Entity:
    """3.1(c): the head confirms the entity's entries are current and correct."""
    entity = get_entity(ctx, code, field="CODE")
    require(
        ctx, actor=by, action="authorize", entity_code=entity.code, subject=f"entity:{entity.code}"
    )
    before = iso(entity.attested_at)
    entity.attested_at = ctx.now
    ctx.session.add(entity)
    ctx.session.flush()
    obligations.close_key(
        ctx, f"attest:{entity.code}", state="met", reason=f"attested by {by}", actor=by
    )
    ctx.audit(
        actor=by,
        action="entity.attest",
        subject=f"entity:{entity.code}",
        before={"attested_at": before},
        after={"attested_at": iso(ctx.now)},
    )
    refresh(ctx)
    return entity


def open_attestations(ctx: Ctx) -> int:
    """3.1(c): every entity attests its entries at least every `attestation_days`; the duty is
    opened ahead of time so the usual reminders lead up to it."""
    days = ctx.settings.attestation_days
    pending = select(col(Obligation.entity_code)).where(
        col(Obligation.state) == "open", col(Obligation.kind) == "attest-entries"
    )
    entities = (
        ctx.session.execute(select(Entity).where(col(Entity.code).not_in(pending))).scalars().all()
    )
    opened = 0
    for entity in entities:
        since = entity.attested_at or entity.created_at
        due_day = local_date(since, entity.timezone) + dt.timedelta(days=days)
        if (due_day - local_date(ctx.now, entity.timezone)).days > 30:
            continue  # opened 30 days ahead, not before
        head = current_head(session=ctx.session, entity_code=entity.code, at=ctx.now)
        obligations.open_obligation(
            ctx,
            key=f"attest:{entity.code}",
            clause="3.1(c)",
            kind="attest-entries",
            subject=f"entity:{entity.code}",
            entity=entity,
            assignee=head or "registry",
            due_at=end_of_local_day(due_day, entity.timezone),
            actor=ACTOR,
        )
        opened += 1
    return opened


def stale_entities(ctx: Ctx) -> list[str]:
    """Entities whose entries were not attested within `attestation_days` (3.1(c))."""
    limit = ctx.now - dt.timedelta(days=ctx.settings.attestation_days)
    return list(
        ctx.session.execute(
            select(col(Entity.code))
            .where(func.coalesce(col(Entity.attested_at), col(Entity.created_at)) < limit)
            .order_by(col(Entity.code))
        ).scalars()
    )


def housekeeping(ctx: Ctx) -> dict[str, int]:
    """What every sweep does before reminding: meet finished inventory duties, close campaigns
    whose deadline passed, open attestation duties coming due."""
    from services.reassessment import close_due as close_reassessments

    met = refresh(ctx)
    closed = len(close_due(ctx)) + close_reassessments(ctx)
    attest_opened = open_attestations(ctx)
    return {
        "inventory_met": met,
        "campaigns_closed": closed,
        "attestations_opened": attest_opened,
    }
