"""The account registry (1.1(b), 3.4): register, update (3.6), authorize (3.7), show, verify."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Sequence
from typing import Any, NamedTuple, TypeAlias

from sqlalchemy import func, null, select
from sqlalchemy import update as sql_update
from sqlmodel import col

from database import among, chunks
from models.clock import due_after, iso, local_date
from models.duties import CUSTODY_DUTIES
from models.errors import NotFound, R, Refused
from models.ids import row_id
from models.languages import check_content_languages, join_languages, split_languages
from models.platforms import (
    PlatformError,
    check_handle,
    normalise_url,
    parse_platform,
    platform_of_url,
)
from models.registry import (
    ACKNOWLEDGE_DAYS,
    ACKNOWLEDGED,
    DECISION_DAYS,
    MAX_AUDIENCE,
    MAX_PURPOSE,
    MAX_REFERENCE,
    ROLES,
    EntryFacts,
    PersonFacts,
    check_authorizable,
    check_speaks_for,
    check_text,
    enters_as_existing,
    issuance_of,
    missing_items,
    personal_hints,
)
from models.requests import PENDING
from models.tables import (
    Account,
    AccountChange,
    AccountRequest,
    Assessment,
    Authorization,
    DeclaredPerson,
    Entity,
    Obligation,
    Staff,
)
from notifications.i18n import _
from services import obligations
from services.authority import current_head, heads_in_period, heads_of, may, require
from services.context import Ctx
from services.entities import get_entity, get_staff
from services.inventory_duties import Opening, open_initial_assessments
from services.inventory_duties import refresh as refresh_inventory


class AccountRow(NamedTuple):
    """An account as a plain row: what the batch readers (`account_views`, `missing_for`) need,
    read without building an ORM object per account."""

    id: int
    entity_code: str
    platform: str
    platform_name: str | None
    handle: str
    url: str | None
    languages: str
    purpose: str
    audience: str
    state: str
    created_on: dt.date | None
    registered_at: dt.datetime | None  # None when read undated (`account_rows`)


_UNDATED = ("created_on", "registered_at")


#: an account as the batch readers take it: loaded whole, or as a plain row
AccountLike: TypeAlias = Account | AccountRow


def account_rows(ctx: Ctx, *where: Any, dated: bool = True) -> list[AccountRow]:
    """The accounts matching `where`, by id, as plain rows (not `dated`: without the day the
    account was created and the instant it was registered, which a reader over the whole
    registry that does not show them need not convert 100,000 times)."""
    ctx.session.flush()  # read on the session's connection, past the ORM: what it holds first
    return [
        AccountRow._make(row)
        for row in ctx.session.connection().execute(
            select(
                *(
                    null().label(name)
                    if not dated and name in _UNDATED
                    else col(getattr(Account, name))
                    for name in AccountRow._fields
                )
            )
            .where(*where)
            .order_by(col(Account.id))
        )
    ]


#: official (cli.md): approved by the head, or existing at issuance — never unapproved, withdrawn
#: or closed (2.1, 3.2, 3.3, 3.8)
OFFICIAL_STATES = ("approved", "active", "under-reassessment")
CHANGE_DAYS = 10  # 3.6
#: what a reported change may name (`report_change`'s `--field`): the 3.4 information, as the
#: entry's history records it (`AccountChange.field`: an update or a written authorization)
CHANGE_FIELDS = {
    "handle": ("handle", "3.4(a)"),
    "url": ("url", "3.4(a)"),
    "language": ("languages", "3.4(c)"),
    "administrator": ("administrator", "3.4(d)"),
    "alternate": ("alternate", "3.4(d)"),
    "purpose": ("purpose", "3.4(e)"),
    "audience": ("audience", "3.4(e)"),
}


def _platform_refusal(exc: PlatformError) -> Refused:
    clause = {"platform": "3.4(b)", "handle": "3.4(a)", "url": "3.4(a)"}.get(exc.field)
    return Refused(f"--{exc.field}", exc.template, clause, **exc.params)


def get_account(ctx: Ctx, ref: str) -> Account:
    """An account by id or by any URL that normalises to its URL."""
    text = ref.strip()
    if text.isdigit():  # an id; one larger than a database holds names no account
        number = row_id(text)
        account = ctx.session.get(Account, number) if number is not None else None
    else:
        try:
            account = find_by_url(ctx, text)
        except Refused:  # neither a number nor an address: it names no account
            account = None
    if account is None:
        raise NotFound("ACCOUNT", R("no registered account is {ref}"), ref=ref)
    return account


def account_for(ctx: Ctx, ref: str, *, by: str, action: str) -> Account:
    """The account `ref` names, once the policy table lets `by` do `action` on its entity (the
    refusal audited otherwise): the first step of every use case that acts on one account."""
    account = get_account(ctx, ref)
    require(
        ctx,
        actor=by,
        action=action,
        entity_code=account.entity_code,
        subject=f"account:{account.id}",
    )
    return account


def _candidate_urls(url: str) -> list[str]:
    platform = platform_of_url(url)
    candidates = [platform] if platform else ["mastodon", "other"]
    found: list[str] = []
    for code in candidates:
        try:
            found.append(normalise_url(url, code))
        except PlatformError:
            continue
    if not found:
        try:
            normalise_url(url, platform or "other")
        except PlatformError as exc:
            raise _platform_refusal(exc) from exc
    return found


def find_by_url(ctx: Ctx, url: str) -> Account | None:
    urls = _candidate_urls(url)
    return ctx.session.execute(
        select(Account).where(col(Account.url).in_(urls)).limit(1)
    ).scalar_one_or_none()


def _entry_deadline(ctx: Ctx, entity: Entity, created_on: dt.date) -> tuple[str, str, dt.datetime]:
    """3.4: accounts existing at issuance are due 60 days after it; 3.5: new ones 10 days after
    their creation."""
    issuance = issuance_of(ctx.settings.issuance_date)
    if created_on < issuance:
        return "3.4", "inventory-entry", due_after(issuance, 60, entity.timezone)
    return "3.5", "new-account-entry", due_after(created_on, 10, entity.timezone)


def register(
    ctx: Ctx,
    *,
    entity: str,
    platform: str,
    handle: str,
    url: str,
    languages: list[str],
    purpose: str,
    audience: str,
    by: str,
    created_on: dt.date | None = None,
    platform_name: str | None = None,
    speaks_for: str = "entity",
) -> Account:
    """Enter an institutional account in the central database (1.1(b), 3.4, 3.5).

    Nothing is official without the head's act (2.1, 3.2): an account that existed at the
    bulletin's issuance is entered *active*, under its 3.3 assessment (within the inventory's 60
    days, or by the head: `models.registry.enters_as_existing`); one created on or after it, or
    claimed older by someone else after those 60 days, is entered *unapproved* — visible, not
    official — and the head's decision duty opens: only an approved request
    (services.requests) or a withdrawal (3.8) meets it."""
    issuance = issuance_of(ctx.settings.issuance_date)
    owner = get_entity(ctx, entity)
    require(
        ctx,
        actor=by,
        action="registry.write",
        entity_code=owner.code,
        subject=f"entity:{owner.code}",
    )
    try:
        code = parse_platform(platform)
        clean_handle = check_handle(code, handle)
        clean_url = normalise_url(url, code)
    except PlatformError as exc:
        raise _platform_refusal(exc) from exc
    name = None
    if code == "other":
        name = check_text("--platform-name", platform_name, limit=60, clause="3.4(b)")
    langs = check_content_languages(languages)
    clean_purpose = check_text("--purpose", purpose, limit=MAX_PURPOSE, clause="3.4(e)")
    declared_for = check_speaks_for(speaks_for)  # 1.1(a): the entry's declaration
    hints = personal_hints(clean_purpose)  # heuristics warn, never decide
    clean_audience = check_text("--audience", audience, limit=MAX_AUDIENCE, clause="3.4(e)")
    today = local_date(ctx.now, owner.timezone)
    if created_on is not None and created_on > today:
        raise Refused("--created-on", f"{created_on} lies after the effective date {today}")
    existing = ctx.session.execute(
        select(Account).where(col(Account.platform) == code, col(Account.url) == clean_url)
    ).scalar_one_or_none()
    if existing is not None:
        raise Refused(
            "--url", f"{clean_url} is already registered as account {existing.id}", "1.1(b)"
        )
    as_existing = enters_as_existing(
        created_on or today,
        issuance,
        today,
        by_head=may(
            ctx.session, actor=by, action="decide", entity_code=owner.code, at=ctx.now
        ).allowed,
    )
    account = Account(
        entity_code=owner.code,
        platform=code,
        platform_name=name,
        handle=clean_handle,
        url=clean_url,
        languages=join_languages(langs),
        purpose=clean_purpose,
        audience=clean_audience,
        state="active" if as_existing else "unapproved",
        created_on=created_on or today,
        registered_at=ctx.now,
        updated_at=ctx.now,
    )
    ctx.session.add(account)
    ctx.session.flush()
    ctx.audit(
        actor=by,
        action="account.register",
        subject=f"account:{account.id}",
        after={**account_view(ctx, account), "speaks_for": declared_for, "warnings": hints},
    )
    refresh_entry_obligation(ctx, account, actor=by)
    if account.state == "unapproved":
        open_decision_duties(ctx, [account], actor=by)
    else:  # existing at issuance (`as_existing`): its initial assessment (3.3)
        head = current_head(session=ctx.session, entity_code=owner.code, at=ctx.now)
        open_initial_assessments(
            ctx,
            [Opening(owner, due_after(issuance, 60, owner.timezone), None, head or "registry")],
            before=issuance,
        )
    return account


def open_decision_duties(ctx: Ctx, accounts: Sequence[Account], *, actor: str) -> None:
    """2.1, 3.2: an account entered without the head's decision waits for it — the head's duty,
    met only by an approved request for it or by withdrawing it (3.8)."""
    codes = {account.entity_code for account in accounts}
    heads = heads_of(session=ctx.session, entity_codes=codes, at=ctx.now)
    owners = {code: get_entity(ctx, code) for code in codes}
    duties = []
    for account in accounts:
        owner = owners[account.entity_code]
        duties.append(
            obligations.Duty(
                key=f"approve-account:{account.id}",
                clause="2.1",
                kind="decide-unapproved",
                subject=f"account:{account.id}",
                entity=owner,
                assignee=heads.get(owner.code) or "registry",
                due_at=due_after(
                    local_date(ctx.now, owner.timezone), DECISION_DAYS, owner.timezone
                ),
                detail="entered without an approved request: not official until the head "
                "approves a request for it (2.1, 3.2) or withdraws it (3.8)",
            )
        )
    obligations.open_many(ctx, duties, actor=actor)


_UPDATABLE = {
    "handle": "3.4(a)",
    "url": "3.4(a)",
    "languages": "3.4(c)",
    "purpose": "3.4(e)",
    "audience": "3.4(e)",
}


#: what says where an account is on its platform (3.4(a))
_ADDRESS = ("handle", "url")


def _awaits_approval(ctx: Ctx, account: Account) -> bool:
    """Whether an unapproved entry has a request for it before the head: approving it adopts
    the entry where the entry points (2.1), so the entry is as good as approved there."""
    if account.state != "unapproved":
        return False
    return (
        ctx.session.execute(
            select(col(AccountRequest.id)).where(
                col(AccountRequest.entity_code) == account.entity_code,
                col(AccountRequest.platform) == account.platform,
                func.lower(col(AccountRequest.handle)) == account.handle.lower(),
                col(AccountRequest.state).in_(PENDING),
            )
        ).first()
        is not None
    )


def require_readdress(ctx: Ctx, account: Account, *, by: str, audit_as: str) -> None:
    """2.1, 3.2: the head approved the account where it is; pointing it elsewhere would carry
    that approval to whatever account is there: the head's (or acting head's) act, never a
    delegate's or the registry's alone (policy `account.readdress`; the refusal audited as
    `audit_as`)."""
    require(
        ctx,
        actor=by,
        action="account.readdress",
        entity_code=account.entity_code,
        subject=f"account:{account.id}",
        audit_as=audit_as,
    )


class Updated(NamedTuple):
    """What `update` did: the account, and whether the entry changed (else the values given
    were those it held, and they confirmed the changes reported of them, 3.6)."""

    account: Account
    changed: bool


def update(
    ctx: Ctx, *, ref: str, by: str, changes: dict[str, Any], changed_on: dt.date | None = None
) -> Updated:
    """3.6: change 3.4 information; each change is recorded with who and when, nothing deleted."""
    account = account_for(ctx, ref, by=by, action="registry.write")
    entity = get_entity(ctx, account.entity_code)
    today = local_date(ctx.now, entity.timezone)
    if changed_on is not None and changed_on > today:
        raise Refused("--changed-on", f"{changed_on} lies after the effective date {today}")
    new: dict[str, str] = {}
    try:
        for field, value in changes.items():
            if value is None:
                continue
            if field not in _UPDATABLE:
                raise Refused(field, "is not a 3.4 field that can be updated")
            if field == "handle":
                new[field] = check_handle(account.platform, str(value))
            elif field == "url":
                new[field] = normalise_url(str(value), account.platform)
            elif field == "languages":
                new[field] = join_languages(check_content_languages(list(value)))
            elif field == "purpose":
                new[field] = check_text("--purpose", str(value), limit=MAX_PURPOSE, clause="3.4(e)")
            else:
                new[field] = check_text(
                    "--audience", str(value), limit=MAX_AUDIENCE, clause="3.4(e)"
                )
    except PlatformError as exc:
        raise _platform_refusal(exc) from exc
    if not new:
        raise Refused(
            "--handle|--url|--language|--purpose|--audience", "name at least one change", "3.6"
        )
    if "url" in new and new["url"] != account.url:
        clash = ctx.session.execute(
            select(col(Account.id)).where(
                col(Account.platform) == account.platform, col(Account.url) == new["url"]
            )
        ).scalar_one_or_none()
        if clash is not None:
            raise Refused(
                "--url", f"{new['url']} is already registered as account {clash}", "1.1(b)"
            )
    moved = any(field in new and new[field] != getattr(account, field) for field in _ADDRESS)
    if moved and (account.state in OFFICIAL_STATES or _awaits_approval(ctx, account)):
        require_readdress(ctx, account, by=by, audit_as="account.update")
    before = account_view(ctx, account)
    assert account.id is not None  # loaded from the database
    changed = False
    moved_fields: set[str] = set()  # the fields this update changes
    # 3.6 runs from the date of the change: one entered more than 10 days after it is late
    late = changed_on is not None and (today - changed_on).days > CHANGE_DAYS
    for field, value in new.items():
        old = getattr(account, field)
        if old == value:
            continue
        changed = True
        moved_fields.add(field)
        ctx.session.add(
            AccountChange(
                account_id=account.id,
                field=field,
                before=old,
                after=value,
                changed_on=changed_on or today,
                changed_by=by,
                recorded_at=ctx.recorded_at,
                effective_at=ctx.now,
                late=late,
            )
        )
        setattr(account, field, value)
    if not changed:
        # the entry already holds what was given: it confirms the changes reported of those
        # fields (3.6), if any; else there is nothing to do
        if not meet_reported_changes(ctx, account, actor=by, confirmed=set(new), changed=False):
            raise Refused(
                "--handle|--url|--language|--purpose|--audience",
                "nothing differs from the registry",
                "3.6",
            )
        ctx.audit(
            actor=by,
            action="account.confirm-entry",
            subject=f"account:{account.id}",
            after={"fields": sorted(new), "clause": "3.6"},
        )
        return Updated(account, changed=False)
    account.updated_at = ctx.now
    ctx.session.add(account)
    ctx.session.flush()
    # given but as the entry held them: confirmed, with what changed (3.6)
    held = {field for field, value in new.items() if field not in moved_fields}
    meet_reported_changes(ctx, account, actor=by, confirmed=held)
    ctx.audit(
        actor=by,
        action="account.update",
        subject=f"account:{account.id}",
        before=before,
        after={**account_view(ctx, account), "late": late},
    )
    refresh_entry_obligations(ctx, [account], actor=by, changed_on=changed_on)
    return Updated(account, changed=True)


def active_holders(ctx: Ctx, account_ids: Collection[int]) -> dict[int, dict[str, str]]:
    """Each account's written authorizations in force held by active staff: role -> index, the
    latest grant of a role speaking (3.7). One read per 500 accounts."""
    held: dict[int, dict[str, str]] = defaultdict(dict)
    for chunk in chunks(sorted(set(account_ids))):
        for account_id, role, index in ctx.session.execute(
            select(
                col(Authorization.account_id),
                col(Authorization.role),
                col(Authorization.staff_index),
            )
            .join(Staff, col(Staff.index_number) == col(Authorization.staff_index))
            .where(
                among(ctx.session, col(Authorization.account_id), chunk),
                col(Authorization.revoked_at).is_(None),
                col(Staff.status) == "active",
            )
            .order_by(col(Authorization.id))
        ):
            held[account_id][role] = index  # the latest grant speaks
    return held


def condition_holders(ctx: Ctx, account_ids: Collection[int]) -> dict[int, str]:
    """Who is chased for each account's conditions of continuation (3.2): its administrator in
    force, else its alternate (they run the account, 3.7), active, the latest grant of the role
    speaking; else, for an account nobody holds, the registry team (4.2). The head or
    officer-in-charge confirms a condition met (`meet`), never the person chased. One read for
    the lot."""
    held = active_holders(ctx, account_ids)
    return {
        a: held[a].get("administrator") or held[a].get("alternate") or "registry"
        for a in account_ids
    }


def pass_on_conditions(ctx: Ctx, *, actor: str, people: set[str] | None = None) -> int:
    """Every open condition of continuation (3.2) lies with the person `condition_holders`
    names now (of those assigned to `people`, when given: whoever an HR event concerns): one
    whose holder has left, or moved, passes to the account's holder in force, else to the
    registry team (4.2); one a head was given before conditions were the holder's passes to
    its holder. Each move audited. What every sweep does, and each HR event's follow-up.
    Returns how many moved."""
    query = select(Obligation).where(
        col(Obligation.kind) == "assessment-condition", col(Obligation.state) == "open"
    )
    if people is not None:
        query = query.where(among(ctx.session, col(Obligation.assignee), people))
    duties = list(ctx.session.execute(query).scalars())
    numbers = {d.id: d.subject.partition(":")[2] for d in duties}
    holders = condition_holders(ctx, [int(n) for n in numbers.values() if n.isdigit()])
    moved = 0
    for duty in duties:
        number = numbers[duty.id]
        after = holders[int(number)] if number.isdigit() else "registry"
        if after == duty.assignee:
            continue
        ctx.audit(
            actor=actor,
            action="obligation.reassign",
            subject=f"obligation:{duty.id}",
            before={"assignee": duty.assignee},
            after={"assignee": after},
        )
        duty.assignee, duty.next_stage_at = after, ctx.now
        ctx.session.add(duty)
        moved += 1
    ctx.session.flush()
    return moved


def pass_on_custody(
    ctx: Ctx,
    *,
    actor: str,
    people: set[str] | None = None,
    accounts: Collection[int] | None = None,
) -> int:
    """Every open custody duty (4.2: a handover, a rotation) lies with someone who may still
    attest it (models.policy `custody.attest`): a person authorized on the account in force and
    active, or the head or officer-in-charge in period. One held by anyone else (a holder
    superseded, separated or moved, an officer-in-charge whose period ended) passes to the
    account's administrator, else its alternate, else whoever acts as head, else the registry
    team. Of the duties assigned to `people`, and about `accounts`, when given. Set-based:
    one read of the duties, of their accounts' holders and of their entities' heads; one
    UPDATE per 500 duties going to one person; one audit event. What every sweep does;
    returns how many moved."""
    query = select(
        col(Obligation.id), col(Obligation.subject), col(Obligation.entity_code),
        col(Obligation.assignee),
    ).where(
        col(Obligation.kind).in_(CUSTODY_DUTIES),
        col(Obligation.state) == "open",
        col(Obligation.assignee) != "registry",
    )  # fmt: skip
    if people is not None:
        query = query.where(among(ctx.session, col(Obligation.assignee), people))
    duties: list[Any] = []
    if accounts is None:
        duties += ctx.session.execute(query).all()
    else:
        for about in chunks([f"account:{n}" for n in sorted(set(accounts))]):
            duties += ctx.session.execute(
                query.where(among(ctx.session, col(Obligation.subject), about))
            ).all()
    if not duties:
        return 0
    numbers = {
        int(subject.partition(":")[2])
        for _, subject, _, _ in duties
        if subject.partition(":")[2].isdigit()
    }
    held = active_holders(ctx, numbers)  # account -> role -> active holder
    codes = {code for _, _, code, _ in duties}
    acting: dict[str, str] = {}  # whoever acts as head (an officer-in-charge prevails)
    heads: dict[str, set[str]] = defaultdict(set)  # the head and the officer-in-charge
    for code, _post, index in heads_in_period(session=ctx.session, entity_codes=codes, at=ctx.now):
        acting[code] = index
        heads[code].add(index)
    going: dict[str, list[int]] = defaultdict(list)
    for duty_id, subject, code, assignee in duties:
        number = subject.partition(":")[2]
        holders = held.get(int(number), {}) if number.isdigit() else {}
        if assignee in set(holders.values()) | heads[code]:
            continue  # may attest it
        keeper = (
            holders.get("administrator") or holders.get("alternate") or acting.get(code)
        ) or "registry"
        going[keeper].append(duty_id)
    for keeper, moving in going.items():
        for some in chunks(moving):
            ctx.session.execute(
                sql_update(Obligation)
                .where(col(Obligation.id).in_(some))
                .values(assignee=keeper, next_stage_at=ctx.now)
            )
    moved = sum(len(moving) for moving in going.values())
    if moved:
        ctx.audit(
            actor=actor,
            action="obligation.reassign",
            subject="custody",
            after={"kinds": list(CUSTODY_DUTIES), "to": {k: len(v) for k, v in going.items()}},
        )
    return moved


def _holders(ctx: Ctx, account_id: int) -> dict[str, Authorization]:
    rows = (
        ctx.session.execute(
            select(Authorization).where(
                col(Authorization.account_id) == account_id,
                col(Authorization.revoked_at).is_(None),
                col(Authorization.role).in_(("administrator", "alternate")),
            )
        )
        .scalars()
        .all()
    )
    return {a.role: a for a in rows}


def authorize(
    ctx: Ctx, *, ref: str, staff: str, role: str, by: str, reference: str
) -> Authorization:
    """3.7: the head of entity authorizes a staff member, in writing (a document reference), to
    administer (holding the credentials), stand in as alternate, or publish."""
    account = get_account(ctx, ref)
    assert account.id is not None  # loaded from the database
    if role not in ROLES:
        raise Refused("--role", f"must be one of {', '.join(ROLES)}", "3.7")
    person = get_staff(ctx, staff)
    require(
        ctx,
        actor=by,
        action="authorize",
        entity_code=account.entity_code,
        subject=f"account:{account.id}",
        target=person.index_number,
    )
    check_authorizable("--staff", person.index_number, person.status)
    ref_text = check_text("--reference", reference, limit=MAX_REFERENCE, clause="3.7")
    holders = _holders(ctx, account.id)
    other = {"administrator": "alternate", "alternate": "administrator"}.get(role)
    if other and other in holders and holders[other].staff_index == person.index_number:
        raise Refused(
            "--staff",
            "the administrator and the alternate must be two different staff members",
            "3.4(d)",
        )
    current = ctx.session.execute(
        select(Authorization).where(
            col(Authorization.account_id) == account.id,
            col(Authorization.role) == role,
            col(Authorization.staff_index) == person.index_number,
            col(Authorization.revoked_at).is_(None),
        )
    ).scalar_one_or_none()
    if current is not None:
        raise Refused(
            "--staff",
            f"staff member {person.index_number} already holds the {role} "
            f"authorization (reference {current.reference})",
            "3.7",
        )
    if role in holders:
        superseded = holders[role]
        superseded.revoked_at = ctx.now
        superseded.revoked_by = by
        superseded.revoked_reason = f"superseded by {person.index_number} ({ref_text})"
        ctx.session.add(superseded)
    grant = Authorization(
        account_id=account.id,
        staff_index=person.index_number,
        role=role,
        granted_by=by,
        granted_at=ctx.now,
        reference=ref_text,
    )
    ctx.session.add(grant)
    if role in ("administrator", "alternate"):
        ctx.session.add(
            AccountChange(
                account_id=account.id,
                field=role,
                before=holders[role].staff_index if role in holders else None,
                after=person.index_number,
                changed_on=local_date(ctx.now, _tz(ctx, account)),
                changed_by=by,
                recorded_at=ctx.recorded_at,
                effective_at=ctx.now,
            )
        )
    if role in holders:
        obligations.close_key(
            ctx,
            f"acknowledge:{holders[role].id}",
            state="withdrawn",
            reason="authorization superseded",
            actor=by,
        )
    ctx.session.flush()
    open_acknowledgements(ctx, [grant], actor=by)
    if role in holders:  # the one superseded may attest no more: their custody duties pass on
        pass_on_custody(ctx, actor=by, people={holders[role].staff_index}, accounts=[account.id])
    ctx.audit(
        actor=by,
        action="account.authorize",
        subject=f"account:{account.id}",
        after={"staff": person.index_number, "role": role, "reference": ref_text},
    )
    refresh_entry_obligation(ctx, account, actor=by)
    if role in ("administrator", "alternate"):
        meet_reported_changes(ctx, account, actor=by)
    return grant


def open_acknowledgements(ctx: Ctx, grants: Sequence[Authorization], *, actor: str) -> None:
    """4.1 at every grant: each written authorization, whatever its path, opens the grantee's
    duty to acknowledge 2.2 and 4.1(a)-(e), due in ACKNOWLEDGE_DAYS and reminded like any other;
    `smgov acknowledge` meets it."""
    if not grants:
        return
    entities = {
        e.code: e
        for e in ctx.session.execute(
            select(Entity)
            .join(Account, col(Account.entity_code) == col(Entity.code))
            .where(col(Account.id).in_({g.account_id for g in grants}))
        ).scalars()
    }
    owner = dict(
        ctx.session.execute(
            select(col(Account.id), col(Account.entity_code)).where(
                col(Account.id).in_({g.account_id for g in grants})
            )
        ).all()
    )
    duties = []
    for grant in grants:
        entity = entities[owner[grant.account_id]]
        duties.append(
            obligations.Duty(
                key=f"acknowledge:{grant.id}",
                clause="4.1",
                kind="acknowledge",
                subject=f"account:{grant.account_id}",
                entity=entity,
                assignee=grant.staff_index,
                due_at=due_after(
                    local_date(ctx.now, entity.timezone), ACKNOWLEDGE_DAYS, entity.timezone
                ),
                detail=f"{grant.role} ({grant.reference}): acknowledge " + ", ".join(ACKNOWLEDGED),
            )
        )
    obligations.open_many(ctx, duties, actor=actor)


def open_declared_duties(ctx: Ctx) -> int:
    """3.7: every account in use with a declared person the head can still authorize (active,
    their role not held in writing by anyone) has its duty `authorize-declared` open, as an
    import opens it; one with none left (the roles given in writing otherwise, or the people
    gone, 4.2) has it withdrawn: nothing is left that would meet it. What a sweep does before
    reminding: a registry whose import grants were turned into declarations by the upgrade
    (migration 0010) had none, and its heads were never reminded. Set-based: three reads, one
    `open_many`, one `close_keys`. Returns how many it opened."""
    held = set(
        ctx.session.execute(
            select(col(Authorization.account_id), col(Authorization.role)).where(
                col(Authorization.revoked_at).is_(None),
                col(Authorization.role).in_(("administrator", "alternate")),
            )
        ).all()
    )
    pending = {
        account_id
        for account_id, role in ctx.session.execute(
            select(col(DeclaredPerson.account_id), col(DeclaredPerson.role))
            .join(Account, col(Account.id) == col(DeclaredPerson.account_id))
            .join(Staff, col(Staff.index_number) == col(DeclaredPerson.staff_index))
            .where(
                col(DeclaredPerson.confirmed_at).is_(None),
                col(Account.state).not_in(("withdrawn", "closed")),
                col(Staff.status) == "active",
            )
        )
        if (account_id, role) not in held
    }
    reminded = set(
        ctx.session.execute(
            select(col(Obligation.subject)).where(
                col(Obligation.kind) == "authorize-declared", col(Obligation.state) == "open"
            )
        ).scalars()
    )
    spent = [s for s in reminded if int(s.partition(":")[2] or 0) not in pending]
    if spent:
        obligations.close_keys(
            ctx,
            [f"authorize-declared:{s.partition(':')[2]}" for s in spent],
            state="withdrawn",
            reason="nobody declared awaits authorization: the roles are held in writing, or "
            "the people have left (3.7, 4.2)",
            actor="smgov",
        )
    if not pending:
        return 0
    lacking = sorted(a for a in pending if f"account:{a}" not in reminded)
    if not lacking:
        return 0
    owners = dict(
        ctx.session.execute(
            select(col(Account.id), col(Account.entity_code)).where(col(Account.id).in_(lacking))
        ).all()
    )
    entities = {
        e.code: e
        for e in ctx.session.execute(
            select(Entity).where(col(Entity.code).in_(set(owners.values())))
        ).scalars()
    }
    heads = heads_of(session=ctx.session, entity_codes=list(entities), at=ctx.now)
    duties = []
    for account_id in lacking:
        entity = entities[owners[account_id]]
        duties.append(
            obligations.Duty(
                f"authorize-declared:{account_id}",
                "3.7",
                "authorize-declared",
                f"account:{account_id}",
                entity,
                heads.get(entity.code) or "registry",
                due_after(local_date(ctx.now, entity.timezone), DECISION_DAYS, entity.timezone),
                "declared, not yet authorized in writing: smgov authorize "
                f"{account_id} --declared --by HEAD --reference REF",
            )
        )
    return len(obligations.open_many(ctx, duties, actor="smgov"))


def authorize_declared(
    ctx: Ctx, *, ref: str | None, entity: str | None, by: str, reference: str
) -> list[Authorization]:
    """3.7: the head confirms, in one written act (`reference`), every person an import declared
    for an account (or for every account of an entity). Each becomes a written authorization
    through `authorize` (so nobody authorizes themselves, and each grant opens its 4.1 duty);
    declared people no longer active are left declared and reported (4.2)."""
    if (ref is None) == (entity is None):
        raise Refused("ACCOUNT|--entity", "name one account or one entity", "3.7")
    query = select(DeclaredPerson).where(col(DeclaredPerson.confirmed_at).is_(None))
    if ref is not None:
        account = get_account(ctx, ref)
        query = query.where(col(DeclaredPerson.account_id) == account.id)
        code = account.entity_code
    else:
        code = get_entity(ctx, entity or "").code
        query = query.join(Account, col(Account.id) == col(DeclaredPerson.account_id)).where(
            col(Account.entity_code) == code
        )
    require(ctx, actor=by, action="authorize", entity_code=code, subject=f"entity:{code}")
    declared = list(
        ctx.session.execute(
            query.order_by(col(DeclaredPerson.account_id), col(DeclaredPerson.role))
        ).scalars()
    )
    if not declared:
        raise Refused("--declared", "no declared person awaits written authorization here", "3.7")
    grants: list[Authorization] = []
    for row in declared:
        person = ctx.session.get(Staff, row.staff_index)
        if person is None or person.status != "active":
            continue
        held = ctx.session.execute(
            select(Authorization).where(
                col(Authorization.account_id) == row.account_id,
                col(Authorization.staff_index) == row.staff_index,
                col(Authorization.role) == row.role,
                col(Authorization.revoked_at).is_(None),
            )
        ).scalar_one_or_none()
        grant = held or authorize(
            ctx,
            ref=str(row.account_id),
            staff=row.staff_index,
            role=row.role,
            by=by,
            reference=reference,
        )
        row.confirmed_at, row.authorization_id = ctx.now, grant.id
        ctx.session.add(row)
        grants.append(grant)
    ctx.session.flush()
    for account_id in sorted({row.account_id for row in declared}):
        if not ctx.session.execute(
            select(col(DeclaredPerson.id)).where(
                col(DeclaredPerson.account_id) == account_id,
                col(DeclaredPerson.confirmed_at).is_(None),
            )
        ).first():
            obligations.close_key(
                ctx,
                f"authorize-declared:{account_id}",
                state="met",
                reason=f"authorized in writing ({reference[:100]})",
                actor=by,
            )
    ctx.audit(
        actor=by,
        action="account.authorize-declared",
        subject=f"entity:{code}",
        after={
            "reference": reference,
            "authorized": [[g.account_id, g.staff_index, g.role] for g in grants],
            "left_declared": [
                [r.account_id, r.staff_index, r.role] for r in declared if r.confirmed_at is None
            ],
        },
    )
    return grants


def _tz(ctx: Ctx, account: Account) -> str:
    return get_entity(ctx, account.entity_code).timezone


def _granted(
    ctx: Ctx, ids: Sequence[int], *, scope: Sequence[Any] | None = None
) -> dict[int, dict[str, str]]:
    """Account id -> role -> the staff index holding the administrator's or the alternate's
    written authorization in force (3.7), for a batch of accounts: 500 at a time, or, when the
    batch is every account matching `scope` (conditions on Account), in one statement."""
    holders: dict[int, dict[str, str]] = defaultdict(dict)
    query = select(
        col(Authorization.account_id), col(Authorization.role), col(Authorization.staff_index)
    ).where(
        col(Authorization.revoked_at).is_(None),
        col(Authorization.role).in_(("administrator", "alternate")),
    )
    for chunk in _lookups(ctx, ids, scope, col(Authorization.account_id)):
        for account_id, role, index in ctx.session.execute(
            query.where(*chunk).order_by(col(Authorization.id))
        ):
            holders[account_id][role] = index  # the latest grant of a role speaks for it
    return holders


def _declared(
    ctx: Ctx, ids: Sequence[int], *, scope: Sequence[Any] | None = None
) -> dict[int, list[tuple[str, str]]]:
    """Account id -> the people an import declared and nobody yet authorized in writing (role,
    staff index), in the order declared, for a batch of accounts (as `_granted` reads it)."""
    declared: dict[int, list[tuple[str, str]]] = defaultdict(list)
    query = select(
        col(DeclaredPerson.account_id), col(DeclaredPerson.role), col(DeclaredPerson.staff_index)
    ).where(col(DeclaredPerson.confirmed_at).is_(None))
    for chunk in _lookups(ctx, ids, scope, col(DeclaredPerson.account_id)):
        for account_id, role, index in ctx.session.execute(
            query.where(*chunk).order_by(col(DeclaredPerson.id))
        ):
            declared[account_id].append((role, index))
    return declared


def _lookups(
    ctx: Ctx, ids: Sequence[int], scope: Sequence[Any] | None, account_id: Any
) -> Iterator[tuple[Any, ...]]:
    """The conditions of a lookup by account: `account_id` among 500 of `ids` at a time, or,
    with `scope`, once for every account matching it (a report over the whole registry reads
    its 100,000 accounts' holders in one statement, not 200)."""
    if scope is not None:
        yield (account_id.in_(select(col(Account.id)).where(*scope)),)
        return
    for chunk in chunks(ids):
        yield (among(ctx.session, account_id, chunk),)


#: Above this many people, `missing_for` reads the staff table whole rather than 500 at a time.
_WHOLE_STAFF = 5_000


def missing_for(
    ctx: Ctx,
    accounts: Sequence[AccountLike],
    *,
    granted: dict[int, dict[str, str]] | None = None,
    declared: dict[int, list[tuple[str, str]]] | None = None,
    scope: Sequence[Any] | None = None,
) -> dict[int, list[str]]:
    """3.4: what each entry still lacks (clause references; empty = complete), for a batch of
    accounts in a few queries per 500; `granted` and `declared` when the caller has read them
    already (`account_views`); `scope` (conditions on Account) when `accounts` are every account
    matching it, read in a few statements whatever their number."""
    ids = [a.id for a in accounts if a.id is not None]
    granted = _granted(ctx, ids, scope=scope) if granted is None else granted
    declared = _declared(ctx, ids, scope=scope) if declared is None else declared
    holders: dict[int, dict[str, str]] = {}
    for account_id in ids:
        roles = holders[account_id] = dict(granted.get(account_id, {}))
        for role, index in declared.get(account_id, ()):
            roles.setdefault(role, index)  # declared counts for 3.4(d) only
    people = sorted({index for roles in holders.values() for index in roles.values()})
    staff: dict[str, PersonFacts] = {}
    facts = select(col(Staff.index_number), col(Staff.status), col(Staff.email))
    queries = (
        [facts]  # the whole table in one read, kept to the people wanted
        if len(people) > _WHOLE_STAFF
        else [facts.where(among(ctx.session, col(Staff.index_number), c)) for c in chunks(people)]
    )
    wanted = set(people)
    for query in queries:
        for index, status, email in ctx.session.execute(query):
            if index in wanted:
                staff[index] = PersonFacts(index=index, active=status == "active", email=email)
    gaps: dict[int, list[str]] = {}
    for account in accounts:
        assert account.id is not None  # callers pass flushed accounts
        roles = holders.get(account.id, {})
        gaps[account.id] = missing_items(
            EntryFacts(
                handle=account.handle,
                platform=account.platform,
                languages=split_languages(account.languages),
                purpose=account.purpose,
                audience=account.audience,
                administrator=staff.get(roles.get("administrator", "")),
                alternate=staff.get(roles.get("alternate", "")),
            )
        )
    return gaps


def incomplete_entries(ctx: Ctx, codes: Collection[str]) -> Counter[str]:
    """3.4: per entity of `codes`, how many of its accounts in use (neither withdrawn nor
    closed) lack an item of their entry, read from the entries (`missing_for`, a few
    statements whatever their number): what an inventory is met by (`refresh_inventory`)."""
    scope = (
        col(Account.entity_code).in_(sorted(codes)),
        col(Account.state).not_in(("withdrawn", "closed")),
    )
    rows = account_rows(ctx, *scope, dated=False)
    gaps = missing_for(ctx, rows, scope=scope)
    return Counter(a.entity_code for a in rows if gaps[a.id])


def missing(ctx: Ctx, account: Account) -> list[str]:
    assert account.id is not None  # callers pass flushed accounts
    return missing_for(ctx, [account])[account.id]


def refresh_entry_obligation(
    ctx: Ctx, account: Account, *, actor: str, created: bool = False
) -> None:
    """Keep the duty "complete this entry" (3.4/3.5/3.6) in step with the entry itself."""
    refresh_entry_obligations(ctx, [account], actor=actor, created=created)


def refresh_entry_obligations(
    ctx: Ctx,
    accounts: Sequence[Account],
    *,
    actor: str,
    created: bool = False,
    changed_on: dt.date | None = None,
) -> dict[int, int]:
    """Keep each account's duty "complete this entry" (3.4/3.5/3.6) in step with its entry,
    set-based; returns the open entry duties' ids by account.

    An approved account awaiting creation has no entry duty yet; once reported `created` the 3.5
    clock runs from its creation date until it is registered complete and active. A complete
    entry's duty is met; an incomplete one's is opened: 3.5 for an account registered or created
    now, else 3.6 (a change to bring into the registry within 10 days)."""
    keys = {account.id: f"entry:{account.id}" for account in accounts}
    open_now = obligations.open_rows(ctx, list(keys.values()))
    gaps = missing_for(ctx, accounts)
    codes = {account.entity_code for account in accounts}
    heads = heads_of(session=ctx.session, entity_codes=codes, at=ctx.now)
    duties: list[obligations.Duty] = []
    met = False
    for account in accounts:
        assert account.id is not None  # callers pass flushed accounts
        key = keys[account.id]
        awaiting = account.state == "approved"
        if awaiting and not created and account.url is None:
            continue
        done = not gaps[account.id] and account.url is not None  # 3.5: the entry complete
        if done or account.state in ("withdrawn", "closed"):
            if key in open_now:
                ob = ctx.session.get(Obligation, open_now.pop(key).id)
                assert ob is not None  # found open in this transaction
                obligations.close(ctx, ob, state="met", reason="entry complete (3.4)", actor=actor)
                met = True
            continue
        if key in open_now:
            continue
        entity = get_entity(ctx, account.entity_code)
        if created or account.registered_at == ctx.now:
            clause, kind, due = _entry_deadline(ctx, entity, account.created_on or ctx.now.date())
        else:
            clause, kind = "3.6", "update-entry"
            since = changed_on or local_date(ctx.now, entity.timezone)  # from the change (3.6)
            due = due_after(since, CHANGE_DAYS, entity.timezone)
        duties.append(
            obligations.Duty(
                key=key,
                clause=clause,
                kind=kind,
                subject=f"account:{account.id}",
                entity=entity,
                assignee=heads.get(entity.code) or "registry",
                due_at=due,
            )
        )
    if met:
        refresh_inventory(ctx, incomplete_entries)  # the entity's inventory may be done now
    opened = obligations.open_many(ctx, duties, actor=actor)
    ids = {int(key.partition(":")[2]): row.id for key, row in open_now.items()}
    ids.update({int(key.partition(":")[2]): oid for key, oid in opened.items()})
    return ids


def account_view(ctx: Ctx, account: Account) -> dict[str, Any]:
    """One account as the doors show it."""
    return account_views(ctx, [account])[0]


def account_views(ctx: Ctx, accounts: Sequence[AccountLike]) -> list[dict[str, Any]]:
    """Accounts as the doors show them, set-based: a few queries per 500 accounts (holders,
    declared people, unacknowledged grants, late changes, open initial assessments), never one
    per account."""
    ids = [a.id for a in accounts if a.id is not None]
    granted = _granted(ctx, ids)
    declared = _declared(ctx, ids)
    gaps = missing_for(ctx, accounts, granted=granted, declared=declared)
    unacknowledged: dict[int, list[str]] = defaultdict(list)
    late: dict[int, int] = {}
    assessed: set[int] = set()
    for chunk in chunks(ids):
        for account_id, index in ctx.session.execute(
            select(col(Authorization.account_id), col(Authorization.staff_index))
            .where(
                among(ctx.session, col(Authorization.account_id), chunk),
                col(Authorization.revoked_at).is_(None),
                col(Authorization.acknowledged_at).is_(None),
            )
            .order_by(col(Authorization.id))
        ):
            unacknowledged[account_id].append(index)
        late.update(
            ctx.session.execute(
                select(col(AccountChange.account_id), func.count())
                .where(
                    among(ctx.session, col(AccountChange.account_id), chunk),
                    col(AccountChange.late),
                )
                .group_by(col(AccountChange.account_id))
            ).all()
        )
        assessed.update(
            ctx.session.execute(
                select(col(Assessment.account_id)).where(
                    among(ctx.session, col(Assessment.account_id), chunk),
                    col(Assessment.state) == "open",
                    col(Assessment.reason) == "initial",
                )
            ).scalars()
        )
    views = []
    for account in accounts:
        assert account.id is not None  # callers pass flushed accounts
        holders = granted.get(account.id, {})
        views.append(
            {
                "id": account.id,
                "platform": account.platform,
                "platform_name": account.platform_name,
                "handle": account.handle,
                "url": account.url,
                "languages": split_languages(account.languages),
                "purpose": account.purpose,
                "audience": account.audience,
                "entity": account.entity_code,
                "state": account.state,
                "complete": not gaps[account.id],
                "missing": gaps[account.id],
                "administrator": holders.get("administrator"),
                "alternate": holders.get("alternate"),
                "created_on": account.created_on.isoformat() if account.created_on else None,
                "registered_at": iso(account.registered_at),
                "official": account.state in OFFICIAL_STATES,
                "status": _status(ctx, account, assessed=account.id in assessed),
                "declared": [
                    {"role": role, "staff": index} for role, index in declared.get(account.id, ())
                ],
                "unacknowledged": list(dict.fromkeys(unacknowledged.get(account.id, ()))),
                "late_changes": late.get(account.id, 0),
            }
        )
    return views


def status_of(ctx: Ctx, account: Account) -> str:
    """What the registry may say of an account in words (verify, show, the /verify page)."""
    assessed = ctx.session.execute(
        select(col(Assessment.id)).where(
            col(Assessment.account_id) == account.id,
            col(Assessment.state) == "open",
            col(Assessment.reason) == "initial",
        )
    ).first()
    return _status(ctx, account, assessed=assessed is not None)


def _status(ctx: Ctx, account: AccountLike, *, assessed: bool) -> str:
    """`status_of`, the open initial assessment (3.3) looked up by the caller."""
    if account.state == "unapproved":
        return _("unapproved: entered without the head's approval, not official (2.1, 3.2)")
    if account.state == "withdrawn":
        return _("withdrawn: approval withdrawn (3.8), not official")
    if account.state == "closed":
        return _("closed: approval withdrawn (3.8), not official")
    if account.state == "approved" and account.url is not None:  # reported created
        return _(
            "approved and created: active once its entry is complete, its people have "
            "acknowledged 4.1 and its credentials are in custody (3.5, 3.7, 4.2)"
        )
    if account.state == "approved":
        return _("approved by the head, awaiting creation (3.5)")
    issuance = ctx.settings.issuance_date
    if issuance is not None and account.created_on is not None and account.created_on < issuance:
        if assessed:
            return _("existing, under assessment (3.3)")
        return _("existing at issuance, continuation decided (3.3)")
    return _("approved by the head (2.1, 3.2)")


def list_accounts(
    ctx: Ctx, *, entity: str | None = None, state: str | None = None
) -> list[dict[str, Any]]:
    where = []
    if entity:
        where.append(col(Account.entity_code) == get_entity(ctx, entity).code)
    if state:
        where.append(col(Account.state) == state)
    return account_views(ctx, account_rows(ctx, *where))


def verify_url(ctx: Ctx, url: str) -> dict[str, Any]:
    """Is this URL a registered institutional account, and is it official now?"""
    from services.lookalikes import handle_of_url, warnings_for

    account = find_by_url(ctx, url)
    if account is None:
        candidates = _candidate_urls(url)
        platform = platform_of_url(url) or "other"
        found: dict[str, Any] = {
            "url": url,
            "registered": False,
            "official": False,
            "state": None,
            "status": _("not a registered institutional account"),
            "entity": None,
            "id": None,
        }
        warnings = warnings_for(
            ctx, platform=platform, handle=handle_of_url(candidates[0]), entity=None
        )
    else:
        found = {
            "url": account.url,
            "registered": True,
            "official": account.state in OFFICIAL_STATES,
            "state": account.state,
            "status": status_of(ctx, account),
            "entity": account.entity_code,
            "id": account.id,
        }
        warnings = warnings_for(
            ctx, platform=account.platform, handle=account.handle, entity=account.entity_code
        )
    if warnings:  # issue 18: a look-alike of another entity's official handle
        found["resembles"] = warnings
    return found


def report_change(
    ctx: Ctx,
    *,
    ref: str,
    what: str,
    changed_on: dt.date,
    by: str,
    fields: Sequence[str] = (),
) -> Obligation:
    """3.6: a change made on the platform side must reach the database within 10 days; the head
    of entity answers for it. Updating the entry (or authorizing the new administrator or
    alternate) meets the duty: when the report names the 3.4 `fields` that changed
    (`CHANGE_FIELDS`), only once each of them is updated (`meet_reported_changes`); changes made
    directly in smgov meet the rule at once."""
    named = sorted(set(fields))
    for field in named:
        if field not in CHANGE_FIELDS:
            raise Refused(
                "--field", R("must be one of {choices}"), "3.6", choices=", ".join(CHANGE_FIELDS)
            )
    account = get_account(ctx, ref)
    assert account.id is not None
    entity = get_entity(ctx, account.entity_code)
    holds = may(
        ctx.session,
        actor=by,
        action="report-change",
        entity_code=entity.code,
        at=ctx.now,
        account_id=account.id,
    ).allowed
    if not holds:
        require(
            ctx,
            actor=by,
            action="registry.write",
            entity_code=entity.code,
            subject=f"account:{account.id}",
        )
    text = check_text("--what", what, limit=500, clause="3.6")
    today = local_date(ctx.now, entity.timezone)
    if changed_on > today:
        raise Refused("--changed-on", f"{changed_on} lies after the effective date {today}")
    head = current_head(session=ctx.session, entity_code=entity.code, at=ctx.now) or "registry"
    late = (today - changed_on).days > CHANGE_DAYS  # reported after 3.6's ten days had run
    if late:
        text = f"LATE (3.6, changed {changed_on.isoformat()}): {text}"[:500]
    ob = obligations.open_obligation(
        ctx,
        key=_change_key(account.id, named, changed_on, text),
        clause="3.6",
        kind="report-change",
        subject=f"account:{account.id}",
        entity=entity,
        assignee=head,
        due_at=due_after(changed_on, 10, entity.timezone),
        actor=by,
        detail=text,
    )
    if named and _entered(ctx, account.id, named, changed_on, confirmed=()):
        # the entry already records each change named, made on or after that day (an update
        # entered before the report): nothing is left to enter (3.6)
        obligations.close(
            ctx, ob, state="met", reason=f"already entered (3.6): {', '.join(named)}", actor=by
        )
    ctx.audit(
        actor=by,
        action="account.report-change",
        subject=f"account:{account.id}",
        after={
            "what": text,
            "changed_on": changed_on.isoformat(),
            "obligation": ob.id,
            "late": late,
            "fields": named,
        },
    )
    return ob


def _change_key(
    account_id: int | None, named: Sequence[str], changed_on: dt.date, text: str
) -> str:
    """A reported change's duty key. One that names its fields carries them and the day of the
    change (`_reported` reads them back: what meets it); one that names none keeps the key it
    always had, so that reporting it again finds the same duty."""
    digest = hashlib.sha256(f"{changed_on}:{text}".encode()).hexdigest()[:12]
    if not named:
        return f"change:{account_id}:{digest}"
    return f"change:{account_id}:{'+'.join(named)}:{changed_on.isoformat()}:{digest}"


def _reported(key: str) -> tuple[list[str], dt.date | None]:
    """The fields a reported change's duty names and the day of the change (`_change_key`);
    none for a report that named none."""
    parts = key.split(":")
    if len(parts) != 5:
        return [], None
    return [f for f in parts[2].split("+") if f in CHANGE_FIELDS], dt.date.fromisoformat(parts[3])


def _entered(
    ctx: Ctx,
    account_id: int | None,
    named: Collection[str],
    since: dt.date,
    *,
    confirmed: Collection[str],
) -> bool:
    """Whether each of the reported `named` fields (`CHANGE_FIELDS`) is in the entry: changed in
    its history on or after the day of the change (`AccountChange.changed_on`: an update or a
    written authorization, entered before or after the report), or `confirmed` by the act in
    hand (an update giving the value the entry already holds, a holder's new contact details)."""
    wanted = {CHANGE_FIELDS[field][0] for field in named} - set(confirmed)
    if not wanted:
        return True
    updated = set(
        ctx.session.execute(
            select(col(AccountChange.field)).where(
                col(AccountChange.account_id) == account_id,
                col(AccountChange.field).in_(sorted(wanted)),
                col(AccountChange.changed_on) >= since,
            )
        ).scalars()
    )
    return wanted <= updated


def contact_details_entered(ctx: Ctx, people: Collection[str], *, actor: str) -> int:
    """New names or contact details of `people` are in the registry (`smgov staff update`,
    `staff import`, the identity provider): on each account one of them holds as administrator
    or alternate, the changes reported of that role are met (3.4(d), 3.6) — only reports that
    named it: a report naming no field waits for the entry itself to be updated. Set-based:
    one read of the roles held, one of the open reports about those accounts. Returns the
    duties met."""
    roles: dict[int, set[str]] = defaultdict(set)  # account -> roles these people hold
    for some in chunks(sorted(set(people))):
        for account_id, role in ctx.session.execute(
            select(col(Authorization.account_id), col(Authorization.role)).where(
                among(ctx.session, col(Authorization.staff_index), some),
                col(Authorization.role).in_(("administrator", "alternate")),
                col(Authorization.revoked_at).is_(None),
            )
        ):
            roles[account_id].add(role)
    met = 0
    for some in chunks([f"account:{n}" for n in sorted(roles)]):
        for ob in ctx.session.execute(
            select(Obligation).where(
                among(ctx.session, col(Obligation.subject), some),
                col(Obligation.kind) == "report-change",
                col(Obligation.state) == "open",
            )
        ).scalars():
            account_id = int(ob.subject.partition(":")[2])
            met += _meet_if_entered(ctx, ob, account_id, actor, roles[account_id], changed=False)
    return met


def _meet_if_entered(
    ctx: Ctx,
    ob: Obligation,
    account_id: int | None,
    actor: str,
    confirmed: Collection[str],
    *,
    changed: bool,
) -> int:
    """Meet the reported change `ob` if what it reported is in the entry: one that named its
    fields, once each is (`_entered`, `confirmed` counted); one that named none, only by an act
    that `changed` the entry. Returns 1 if met, else 0."""
    named, since = _reported(ob.key)
    if since is None:
        if not changed:
            return 0  # a report naming no field is met by an update, not by a confirmation
    elif not _entered(ctx, account_id, named, since, confirmed=confirmed):
        return 0  # 3.6: what was reported is not all in the entry yet
    reason = f"entry updated (3.6): {', '.join(named)}" if named else "entry updated (3.6)"
    obligations.close(ctx, ob, state="met", reason=reason, actor=actor)
    return 1


def meet_reported_changes(
    ctx: Ctx,
    account: Account,
    *,
    actor: str,
    confirmed: Collection[str] = (),
    changed: bool = True,
) -> int:
    """An act on the entry meets the open 3.6 duties reported for this account
    (`_meet_if_entered`): `confirmed`, the fields (`AccountChange.field`) the act gives as the
    entry already holds them; `changed`, whether it changed the entry. Returns the duties
    met."""
    return sum(
        _meet_if_entered(ctx, ob, account.id, actor, confirmed, changed=changed)
        for ob in ctx.session.execute(
            select(Obligation).where(
                col(Obligation.state) == "open",
                col(Obligation.key).like(f"change:{account.id}:%"),
            )
        ).scalars()
    )
