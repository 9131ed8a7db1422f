"""Credential custody as a standing rule (4.2) and security incidents (4.1(d), 4.2).

smgov records *where* an account's login credentials are held — a vault reference — and when they
were last rotated, never a password or token. Attesting custody meets the open handover and
rotation duties of the account and schedules the next rotation (every `rotation_days`)."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlmodel import col

from models.clock import end_of_local_day, local_date
from models.errors import R, Refused
from models.registry import check_text
from models.tables import Authorization, CredentialCustody, Incident, Obligation
from notifications.templates import Alert, M, render_alerts
from services import obligations
from services.accounts import get_account
from services.authority import require
from services.context import Ctx
from services.entities import get_entity
from services.recipients import Directory, Item, Recipient, write_once
from services.subjects import account_words

INCIDENT_WORDS = {
    "compromise": M("compromise"),
    "threat": M("threat"),
    "impersonation": M("impersonation"),
}

INCIDENT_KINDS = ("compromise", "threat", "impersonation")
#: A vault reference: a scheme, then a path of plain ASCII letters, digits and `/ _ . # -`, with
#: no second colon (`…/password:hunter2`), no assignment, no user information, no escape
#: (`%3A`), no separator (`;`): a place, never a value.
_REFERENCE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:(//)?[A-Za-z0-9_./#-]+")


def check_vault_ref(value: str) -> str:
    """A vault reference such as `vault:kv/ohchr/x-unhumanrights` — never the secret itself: a
    scheme and a path of plain characters, nothing that could carry a value (a second colon,
    `=`, `@`, `%`, `;`, a space, a character outside ASCII), and a `://` address only in the
    vault's own scheme (`vault://…`, never `https://user:pw@…`)."""
    ref = check_text("--vault-ref", value, limit=300, clause="4.2")
    if not _REFERENCE.fullmatch(ref) or ("://" in ref and not ref.lower().startswith("vault://")):
        raise Refused(
            "--vault-ref",
            R("must be a vault reference such as vault:kv/entity/account, never a credential"),
            "4.2",
        )
    return ref


def _holders(ctx: Ctx, account_id: int) -> dict[str, str]:
    rows = ctx.session.execute(
        select(col(Authorization.role), col(Authorization.staff_index)).where(
            col(Authorization.account_id) == account_id, col(Authorization.revoked_at).is_(None)
        )
    ).all()
    return {role: index for role, index in rows}


def _open_rotation(
    ctx: Ctx, account_id: int, entity_code: str, due_day: dt.date, *, actor: str
) -> Obligation:
    entity = get_entity(ctx, entity_code)
    holders = _holders(ctx, account_id)
    head = Directory(ctx, entities={entity_code}).head(entity_code) or "registry"
    return obligations.open_obligation(
        ctx,
        key=f"rotation:{account_id}",
        clause="4.2",
        kind="credential-rotation",
        subject=f"account:{account_id}",
        entity=entity,
        assignee=holders.get("administrator") or holders.get("alternate") or head,
        due_at=end_of_local_day(due_day, entity.timezone),
        actor=actor,
    )


def attest(ctx: Ctx, *, ref: str, vault_ref: str, by: str) -> CredentialCustody:
    """Record where the credential is held now and that it was just rotated (4.2)."""
    account = get_account(ctx, ref)
    assert account.id is not None
    require(
        ctx,
        actor=by,
        action="custody.attest",
        entity_code=account.entity_code,
        subject=f"account:{account.id}",
        account_id=account.id,
    )
    reference = check_vault_ref(vault_ref)
    custody = ctx.session.execute(
        select(CredentialCustody).where(col(CredentialCustody.account_id) == account.id)
    ).scalar_one_or_none()
    before = {"vault_ref": custody.vault_ref} if custody else None
    if custody is None:
        custody = CredentialCustody(
            account_id=account.id,
            vault_ref=reference,
            custodian_index=by,
            last_rotated_at=ctx.now,
            updated_at=ctx.now,
        )
    custody.vault_ref, custody.custodian_index = reference, by
    custody.last_rotated_at = custody.updated_at = ctx.now
    ctx.session.add(custody)
    for ob in ctx.session.execute(
        select(Obligation).where(
            col(Obligation.state) == "open",
            or_(
                col(Obligation.key).like(f"handover:{account.id}:%"),
                col(Obligation.key) == f"rotation:{account.id}",
            ),
        )
    ).scalars():
        obligations.close(ctx, ob, state="met", reason=f"custody attested by {by}", actor=by)
    tz = get_entity(ctx, account.entity_code).timezone
    _open_rotation(
        ctx,
        account.id,
        account.entity_code,
        local_date(ctx.now, tz) + dt.timedelta(days=ctx.settings.rotation_days),
        actor=by,
    )
    ctx.session.flush()
    ctx.audit(
        actor=by,
        action="custody.attest",
        subject=f"account:{account.id}",
        before=before,
        after={"vault_ref": reference, "rotated_at": ctx.now.isoformat()},
    )
    from services.requests import activate_if_ready  # an approved account may now go live

    activate_if_ready(ctx, account, actor=by)
    return custody


@dataclass
class IncidentReport:
    incident: int
    messages: int
    obligations: set[int] = field(default_factory=set)
    security_undelivered: bool = False  # no SMGOV_SECURITY_EMAIL: 4.1(d) not reached


def report_incident(ctx: Ctx, *, ref: str, kind: str, details: str, by: str) -> IncidentReport:
    """4.1(d): alert the Department of Safety and Security, the head and the registry team at
    once; a compromise opens a credential rotation due the same day (4.2)."""
    account = get_account(ctx, ref)
    assert account.id is not None
    if kind not in INCIDENT_KINDS:
        raise Refused("--kind", f"must be one of {', '.join(INCIDENT_KINDS)}", "4.1(d)")
    require(
        ctx,
        actor=by,
        action="incident.report",
        entity_code=account.entity_code,
        subject=f"account:{account.id}",
        account_id=account.id,
    )
    text = check_text("--details", details, limit=4000, clause="4.1(d)")
    incident = Incident(
        account_id=account.id, kind=kind, details=text, reported_by=by, reported_at=ctx.now
    )
    ctx.session.add(incident)
    ctx.session.flush()
    assert incident.id is not None
    report = IncidentReport(incident=incident.id, messages=0)
    if kind == "compromise":
        existing = obligations.find_open(ctx, f"rotation:{account.id}")
        if existing is not None:
            obligations.close(
                ctx,
                existing,
                state="withdrawn",
                reason=f"superseded by incident {incident.id}",
                actor=by,
            )
        tz = get_entity(ctx, account.entity_code).timezone
        rotation = _open_rotation(
            ctx, account.id, account.entity_code, local_date(ctx.now, tz), actor=by
        )
        assert rotation.id is not None
        report.obligations.add(rotation.id)
    directory = Directory(ctx, entities={account.entity_code})
    head = directory.head(account.entity_code)
    alert = Alert(
        title=M(
            "Security incident ({kind}) on {account}",
            kind=INCIDENT_WORDS.get(kind, kind),
            account=account_words(
                account.platform, account.platform_name, account.handle, account.url
            ),
        ),
        lines=(
            M("Reported by {by} for entity {entity} (4.1(d)):", by=by, entity=account.entity_code),
            text[:1000],  # the reporter's own words, as written
            M("A compromise requires the credentials to be rotated today (4.2).")
            if kind == "compromise"
            else M("Assess and respond."),
        ),
        urgent=True,
    )
    items: dict[Recipient, list[Item[Alert]]] = defaultdict(list)
    recipients = [
        *directory.security(),
        *directory.person(head),
        *directory.registry(),
        *directory.teams(account.entity_code),
    ]
    for rcpt in dict.fromkeys(recipients):
        items[rcpt].append(Item(f"incident:{incident.id}:{rcpt.address}:{rcpt.channel}", alert))
    report.messages, _ = write_once(ctx, items, render_alerts)
    report.security_undelivered = not directory.security()
    ctx.audit(
        actor=by,
        action="incident.report",
        subject=f"account:{account.id}",
        after={
            "incident": incident.id,
            "kind": kind,
            "security": "not configured: undelivered (4.1(d))"
            if report.security_undelivered
            else "alerted",
        },
    )
    return report
