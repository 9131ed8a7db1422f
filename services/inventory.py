"""The initial inventory (3.4): one campaign per entity, due 60 days after the bulletin's issuance
in the entity's own timezone; initial assessments of existing accounts (3.3); the head's
attestation that the entity's entries are current and correct (3.1(c)); campaign status.

The head's inventory duty is met when every entered account of the entity is complete, or when the
head attests the entity's entries during the campaign (an entity with no account at all).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlmodel import col

from database import among, chunks, insert_rows
from models.clock import days_left, due_after, end_of_local_day, iso, local_date
from models.errors import Refused
from models.tables import Account, Campaign, Entity, Obligation
from notifications.i18n import due_words
from notifications.templates import MN, Alert, Day, M, render_alerts
from services import obligations
from services.accounts import (
    account_rows,
    incomplete_entries,
    missing_for,
    open_declared_duties,
    pass_on_conditions,
    pass_on_custody,
)
from services.authority import heads_of, require
from services.context import Ctx
from services.entities import get_entity
from services.inventory_duties import ACTOR, Opening, open_initial_assessments, refresh
from services.recipients import Directory, Item, Recipient, write_once

INVENTORY_DAYS = 60
CAMPAIGN = Campaign.__table__  # type: ignore[attr-defined]  # SQLModel types it loosely


@dataclass
class StartReport:
    opened: list[int]
    existing: list[int]
    assessments: int
    obligations: set[int]


def _inventory_key(entity_code: str, issued_on: dt.date) -> str:
    return f"inventory:{entity_code}:{issued_on.isoformat()}"


def start_inventory(ctx: Ctx, *, issued_on: dt.date, entity: str | None = None) -> StartReport:
    """Open the 3.4 inventory campaign for one entity or all; starting it twice opens nothing."""
    targets = (
        [get_entity(ctx, entity)]
        if entity
        else list(ctx.session.execute(select(Entity).order_by(col(Entity.code))).scalars())
    )
    report = StartReport(opened=[], existing=[], assessments=0, obligations=set())
    other = ctx.session.execute(
        select(col(Campaign.anchor_on)).where(
            col(Campaign.kind) == "inventory", col(Campaign.anchor_on) != issued_on
        )
    ).first()
    if other is not None:
        raise Refused(
            "--issued-on",
            f"the inventory runs from {other[0]}, the bulletin's one date of issuance, not "
            f"{issued_on}",
            "5.1",
        )
    codes = [t.code for t in targets]
    existing = dict(
        ctx.session.execute(
            select(col(Campaign.entity_code), col(Campaign.id)).where(
                col(Campaign.kind) == "inventory",
                col(Campaign.entity_code).in_(codes),
                col(Campaign.anchor_on) == issued_on,
            )
        ).all()
    )
    report.existing.extend(existing[code] for code in codes if code in existing)
    fresh = [t for t in targets if t.code not in existing]
    if not fresh:
        return report
    due = {t.code: due_after(issued_on, INVENTORY_DAYS, t.timezone) for t in fresh}
    insert_rows(
        ctx.session,
        CAMPAIGN,
        [
            {
                "kind": "inventory",
                "entity_code": t.code,
                "anchor_on": issued_on,
                "due_at": due[t.code],
                "state": "open",
                "opened_at": ctx.now,
            }
            for t in fresh
        ],
    )
    campaigns = dict(
        ctx.session.execute(
            select(col(Campaign.entity_code), col(Campaign.id)).where(
                col(Campaign.kind) == "inventory",
                col(Campaign.entity_code).in_([t.code for t in fresh]),
                col(Campaign.anchor_on) == issued_on,
            )
        ).all()
    )
    heads = heads_of(session=ctx.session, entity_codes=list(campaigns), at=ctx.now)
    duties = obligations.open_many(
        ctx,
        [
            obligations.Duty(
                key=_inventory_key(t.code, issued_on),
                clause="3.4",
                kind="inventory-campaign",
                subject=f"entity:{t.code}",
                entity=t,
                assignee=heads.get(t.code) or "registry",
                due_at=due[t.code],
            )
            for t in fresh
        ],
        actor=ACTOR,
    )
    report.obligations.update(duties.values())
    report.assessments += open_initial_assessments(
        ctx,
        [
            Opening(t, due[t.code], campaigns[t.code], heads.get(t.code) or "registry")
            for t in fresh
        ],
        before=issued_on,
    )
    for t in fresh:
        report.opened.append(campaigns[t.code])
        ctx.audit(
            actor=ACTOR,
            action="campaign.open",
            subject=f"campaign:{campaigns[t.code]}",
            after={"kind": "inventory", "entity": t.code, "due_at": iso(due[t.code])},
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
    codes = {campaign.entity_code for campaign in due}
    counts_of = _counts_for(ctx, codes)
    duties: dict[str, Obligation] = {}
    for chunk in chunks(sorted(codes)):
        for ob in ctx.session.execute(
            select(Obligation)
            .where(
                col(Obligation.kind) == "inventory-campaign",
                among(ctx.session, col(Obligation.entity_code), chunk),
            )
            .order_by(col(Obligation.id).desc())
        ).scalars():
            duties.setdefault(ob.key.partition("#")[0], ob)  # the newest duty of each key
    results = []
    for campaign in due:
        duty = duties.get(_inventory_key(campaign.entity_code, campaign.anchor_on))
        counts = counts_of[campaign.entity_code]
        if counts["incomplete"]:
            outcome = "incomplete"  # "complete" only when every entry is (3.4)
        elif duty is not None and duty.state == "met" and duty.closed_at is not None:
            outcome = "complete" if duty.closed_at <= campaign.due_at else "late"
        else:
            outcome = "incomplete"
        campaign.state, campaign.outcome, campaign.closed_at = "closed", outcome, ctx.now
        ctx.session.add(campaign)
        row = {
            "campaign": campaign.id,
            "entity": campaign.entity_code,
            "outcome": outcome,
            **counts,
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
    """An entity's accounts, complete and incomplete, and what they lack."""
    return _counts_for(ctx, [entity_code])[entity_code]


def _counts_for(ctx: Ctx, codes: Collection[str]) -> dict[str, dict[str, Any]]:
    """Per entity, its accounts, complete and incomplete, and what they lack: set-based (a few
    queries per 500 accounts, whatever the number of entities, never one per account)."""
    accounts = [
        account
        for chunk in chunks(sorted(codes))
        for account in account_rows(ctx, among(ctx.session, col(Account.entity_code), chunk))
    ]
    live = [a for a in accounts if a.state not in ("withdrawn", "closed")]
    lacking = missing_for(ctx, live)  # set-based; a withdrawn entry is done
    total: Counter[str] = Counter(a.entity_code for a in accounts)
    incomplete: Counter[str] = Counter()
    gaps: dict[str, Counter[str]] = defaultdict(Counter)
    for account in live:
        if lacking[account.id]:
            incomplete[account.entity_code] += 1
            gaps[account.entity_code].update(lacking[account.id])
    return {
        code: {
            "accounts": total[code],
            "complete": total[code] - incomplete[code],
            "incomplete": incomplete[code],
            "missing": dict(sorted(gaps[code].items())),
        }
        for code in codes
    }


def status(ctx: Ctx, lang: str = "en") -> list[dict[str, Any]]:
    """`smgov campaign status`: per campaign, accounts entered, complete, missing, days left (the
    due day in words in `lang`)."""
    rows = ctx.session.execute(
        select(Campaign, col(Entity.timezone))
        .join(Entity, col(Entity.code) == col(Campaign.entity_code))
        .where(col(Campaign.opened_at) <= ctx.now)
        .order_by(col(Campaign.kind), col(Campaign.entity_code), col(Campaign.id))
    ).all()
    counts = _counts_for(ctx, {c.entity_code for c, _ in rows})
    said: dict[tuple[dt.datetime, str], str] = {}  # a campaign's date in words, once per zone

    def words(due_at: dt.datetime, tz: str) -> str:
        if (due_at, tz) not in said:
            said[due_at, tz] = due_words(due_at, tz, lang)
        return said[due_at, tz]

    return [
        {
            "campaign": c.id,
            "kind": c.kind,
            "entity": c.entity_code,
            "due_at": iso(c.due_at),
            "due": words(c.due_at, tz),
            "days_left": days_left(c.due_at, ctx.now, tz),
            "state": c.state,
            "outcome": c.outcome,
            **counts[c.entity_code],
        }
        for c, tz in rows
    ]


def attest(ctx: Ctx, *, code: str, by: str) -> Entity:
    """3.1(c): the head confirms the entity's entries are current and correct. The confirmation
    is recorded; it meets the attestation duty only when every entry of the entity is complete,
    and it never meets a duty whose entry is incomplete."""
    entity = get_entity(ctx, code, field="CODE")
    require(
        ctx, actor=by, action="decide", entity_code=entity.code, subject=f"entity:{entity.code}"
    )
    before = iso(entity.attested_at)
    entity.attested_at = ctx.now
    ctx.session.add(entity)
    ctx.session.flush()
    incomplete = _counts(ctx, entity.code)["incomplete"]
    if not incomplete:
        obligations.close_key(
            ctx, f"attest:{entity.code}", state="met", reason=f"attested by {by}", actor=by
        )
    ctx.audit(
        actor=by,
        action="entity.attest",
        subject=f"entity:{entity.code}",
        before={"attested_at": before},
        after={"attested_at": iso(ctx.now), "incomplete_entries": incomplete},
    )
    refresh(ctx, incomplete_entries)
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
    heads = heads_of(session=ctx.session, entity_codes=[e.code for e in entities], at=ctx.now)
    duties = []
    for entity in entities:
        since = entity.attested_at or entity.created_at
        due_day = local_date(since, entity.timezone) + dt.timedelta(days=days)
        if (due_day - local_date(ctx.now, entity.timezone)).days > 30:
            continue  # opened 30 days ahead, not before
        duties.append(
            obligations.Duty(
                key=f"attest:{entity.code}",
                clause="3.1(c)",
                kind="attest-entries",
                subject=f"entity:{entity.code}",
                entity=entity,
                assignee=heads.get(entity.code) or "registry",
                due_at=end_of_local_day(due_day, entity.timezone),
            )
        )
    obligations.open_many(ctx, duties, actor=ACTOR)
    return len(duties)


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
    whose deadline passed, open attestation duties coming due, the head's duty to authorize
    declared people wherever it is missing (3.7), conditions of continuation with whoever
    holds their account now (3.2, 4.2), and custody duties with whoever may attest them (4.2)."""
    from services.reassessment import close_due as close_reassessments

    met = refresh(ctx, incomplete_entries)
    closed = len(close_due(ctx)) + close_reassessments(ctx)
    attest_opened = open_attestations(ctx)
    declared = open_declared_duties(ctx)
    passed_on = pass_on_conditions(ctx, actor=ACTOR)
    custody = pass_on_custody(ctx, actor=ACTOR)
    return {
        "inventory_met": met,
        "campaigns_closed": closed,
        "attestations_opened": attest_opened,
        "declared_duties_opened": declared,
        "conditions_passed_on": passed_on,
        "custody_passed_on": custody,
    }
