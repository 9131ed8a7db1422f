"""Bulk import of an entity's existing accounts from CSV (3.4): the inventory as registry teams
keep it in spreadsheets.

Every row is checked with the registry's own rules; all errors are reported at once with row
numbers and fields; nothing is imported if any row is bad, unless `partial` imports the good rows
and hands the bad ones to a reject writer. A row whose URL is already registered for the same
entity is skipped, so re-importing a file changes nothing. The file is read twice, streaming
(check, then write in batches of set-based inserts), so a 100k-row file never sits in memory.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlmodel import col

from models.clock import due_after, local_date, parse_date
from models.errors import NotAuthorized, Refused
from models.languages import check_content_languages, join_languages
from models.platforms import PlatformError, check_handle, normalise_url, parse_platform
from models.registry import (
    DECISION_DAYS,
    MAX_AUDIENCE,
    MAX_PURPOSE,
    check_authorizable,
    check_speaks_for,
    check_text,
    enters_as_existing,
    issuance_of,
)
from models.tables import (
    Account,
    AccountChange,
    Assessment,
    DeclaredPerson,
    Entity,
    Obligation,
    Staff,
)
from services import obligations
from services.accounts import incomplete_entries
from services.authority import acting_person, current_head, may, require
from services.context import Ctx

COLUMNS = (
    "entity",
    "platform",
    "handle",
    "url",
    "languages",
    "purpose",
    "audience",
    "administrator",
    "alternate",
    "created_on",
)
BATCH = 1000


class ImportRefused(Refused):
    """Some rows are bad: every error, by row and field; nothing was imported."""

    def __init__(self, errors: list[tuple[int, str]]) -> None:
        self.errors = errors
        super().__init__(
            "FILE",
            f"{len(errors)} bad rows; nothing imported (use --partial to import the good rows)",
            "3.4",
        )


@dataclass
class ImportReport:
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    incomplete: int = 0


@dataclass(frozen=True)
class _Row:
    number: int
    entity: str
    platform: str
    platform_name: str | None
    handle: str
    url: str
    languages: str
    purpose: str
    audience: str
    administrator: str | None
    alternate: str | None
    created_on: dt.date | None


class _Checker:
    """Checks rows against the registry as it stands, loaded once for the whole file."""

    def __init__(self, ctx: Ctx, *, by: str, default_entity: str | None) -> None:
        self.ctx = ctx
        self.by = acting_person(ctx, by).index_number  # an unknown --by refuses the whole file
        self.default_entity = default_entity
        self.entities = {e.code: e for e in ctx.session.execute(select(Entity)).scalars()}
        self.folded = {code.upper(): e for code, e in self.entities.items()}
        self.staff = dict(
            ctx.session.execute(select(col(Staff.index_number), col(Staff.status))).all()
        )
        self.registered: dict[tuple[str, str], str] = {
            (p, u): e
            for p, u, e in ctx.session.execute(
                select(col(Account.platform), col(Account.url), col(Account.entity_code))
            )
        }
        self.allowed: set[str] = set()
        self.seen: dict[tuple[str, str], int] = {}

    def check(self, number: int, raw: dict[str, Any]) -> _Row | None:
        """A checked row, None for an account already registered for the same entity, or a
        Refused naming the field."""

        def cell(name: str) -> str:
            value = raw.get(name)
            return value.strip() if isinstance(value, str) else ""

        code = cell("entity") or (self.default_entity or "")
        if self.default_entity and code.upper() != self.default_entity.upper():
            raise Refused(
                "entity", f"{code} is not the entity being imported ({self.default_entity})"
            )
        entity = self.folded.get(code.upper())  # codes are case-insensitive: dgc is DGC
        if entity is None:
            raise Refused("entity", f"entity {code or '(empty)'} is not in the registry")
        code = entity.code
        if code not in self.allowed:
            require(
                self.ctx,
                actor=self.by,
                action="registry.write",
                entity_code=code,
                subject=f"entity:{code}",
            )
            self.allowed.add(code)
        try:
            platform = parse_platform(cell("platform"))
            handle = check_handle(platform, cell("handle"))
            url = normalise_url(cell("url"), platform)
        except PlatformError as exc:
            raise Refused(exc.field, exc.template, **exc.params) from exc
        languages = join_languages(check_content_languages([cell("languages")]))
        purpose = check_text("purpose", cell("purpose"), limit=MAX_PURPOSE, clause="3.4(e)")
        check_speaks_for(cell("speaks_for") or "entity", field="speaks_for")  # 1.1(a)
        audience = check_text("audience", cell("audience"), limit=MAX_AUDIENCE, clause="3.4(e)")
        people = []
        for role in ("administrator", "alternate"):
            index = cell(role) or None
            if index is not None:
                status = self.staff.get(index)
                if status is None:
                    raise Refused(role, f"staff member {index} is not in the registry", "3.4(d)")
                check_authorizable(role, index, status)
            people.append(index)
        if people[0] and people[0] == people[1]:
            raise Refused(
                "alternate",
                "the administrator and the alternate must be two different staff members",
                "3.4(d)",
            )
        created = parse_date(cell("created_on"), field="created_on") if cell("created_on") else None
        if created and created > local_date(self.ctx.now, entity.timezone):
            raise Refused("created_on", f"{created} lies after the effective date")
        key = (platform, url)
        if key in self.registered:
            if self.registered[key] == code:
                return None
            raise Refused(
                "url", f"{url} is already registered for {self.registered[key]}", "1.1(b)"
            )
        if key in self.seen:
            raise Refused("url", f"{url} appears again (first on row {self.seen[key]})", "1.1(b)")
        self.seen[key] = number
        return _Row(
            number,
            code,
            platform,
            "other" if platform == "other" else None,
            handle,
            url,
            languages,
            purpose,
            audience,
            people[0],
            people[1],
            created,
        )


def template() -> str:
    return ",".join(COLUMNS)


def import_accounts(
    ctx: Ctx,
    *,
    read: Callable[[], Iterator[tuple[int, dict[str, Any]]]],
    by: str,
    entity: str | None = None,
    partial: bool = False,
    reject: Callable[[int, dict[str, Any], str], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Check every row, then (if all are good, or `partial`) write the good ones, set-based.

    An import grants nothing (3.7): the administrator and alternate it names are *declared*
    (3.4(d) complete) and the head's duty to authorize them in writing opens. Accounts created on
    or after the bulletin's issuance (or claimed older, after the inventory's 60 days, by
    someone other than the head: `models.registry.enters_as_existing`) are *unapproved* and open
    the head's decision (2.1, 3.2); those existing at issuance open their 3.3 assessment. No
    issuance date: refused (5.1)."""
    issuance_of(ctx.settings.issuance_date)
    checker = _Checker(ctx, by=by, default_entity=entity)
    report = ImportReport()
    bad: dict[int, str] = {}
    for number, raw in read():
        report.rows += 1
        try:
            checker.check(number, raw)
        except NotAuthorized:
            raise  # no authority for the entity: refused (and audited) as a whole
        except Refused as exc:
            bad[number] = str(exc)
            if reject is not None and partial:
                reject(number, raw, str(exc))
        if progress is not None and report.rows % 10_000 == 0:
            progress(report.rows)
    report.rejected = sorted(bad.items())
    if bad and not partial:
        raise ImportRefused(report.rejected)
    writer = _Writer(ctx, by=by, entities=checker.entities)
    second = _Checker(ctx, by=by, default_entity=entity)
    second.allowed = checker.allowed
    batch: list[_Row] = []
    for number, raw in read():
        if number in bad:
            continue
        row = second.check(number, raw)
        if row is None:
            report.skipped += 1
            continue
        batch.append(row)
        if len(batch) >= BATCH:
            report.incomplete += writer.write(batch)
            report.imported += len(batch)
            batch = []
    if batch:
        report.incomplete += writer.write(batch)
        report.imported += len(batch)
    if report.imported:
        from services.inventory_duties import refresh  # an entity's inventory may be done now

        refresh(ctx, incomplete_entries)
    if report.imported or report.rejected:
        ctx.audit(
            actor=by,
            action="account.import",
            subject="registry",
            after={
                "rows": report.rows,
                "imported": report.imported,
                "skipped": report.skipped,
                "rejected": len(report.rejected),
                "accounts_digest": writer.digest.hexdigest(),
            },
        )
    return report


class _Writer:
    """Set-based inserts of accounts, their 3.4(d) authorizations, entry duties and the initial
    assessments of accounts that existed at the bulletin's date (3.3)."""

    def __init__(self, ctx: Ctx, *, by: str, entities: dict[str, Entity]) -> None:
        self.ctx = ctx
        self.by = by
        self.entities = entities
        self.policy = obligations.policy_from(ctx.settings)
        self.heads = {
            code: current_head(session=ctx.session, entity_code=code, at=ctx.now) or "registry"
            for code in entities
        }
        self.digest = hashlib.sha256()

    def write(self, rows: Iterable[_Row]) -> int:
        ctx, now = self.ctx, self.ctx.now
        rows = list(rows)
        issuance = issuance_of(ctx.settings.issuance_date)

        def created_of(r: _Row) -> dt.date:
            return r.created_on or local_date(now, self.entities[r.entity].timezone)

        heads = {  # whether the importer answers for the entity as its head (or acting head)
            code: may(ctx.session, actor=self.by, action="decide", entity_code=code, at=now).allowed
            for code in {r.entity for r in rows}
        }

        def as_existing(r: _Row) -> bool:  # 2.1, 3.3, 3.4: `enters_as_existing`
            today = local_date(now, self.entities[r.entity].timezone)
            return enters_as_existing(created_of(r), issuance, today, by_head=heads[r.entity])

        ctx.session.execute(
            insert(Account),
            [
                {
                    "entity_code": r.entity,
                    "platform": r.platform,
                    "platform_name": r.platform_name,
                    "handle": r.handle,
                    "url": r.url,
                    "languages": r.languages,
                    "purpose": r.purpose,
                    "audience": r.audience,
                    "state": "active" if as_existing(r) else "unapproved",
                    "created_on": created_of(r),
                    "registered_at": now,
                    "updated_at": now,
                }
                for r in rows
            ],
        )
        ids = dict(
            ctx.session.execute(
                select(col(Account.url), col(Account.id)).where(
                    col(Account.url).in_([r.url for r in rows])
                )
            ).all()
        )
        declared, changes, duties, assessments = [], [], [], []
        incomplete = 0
        for r in rows:
            account_id = ids[r.url]
            entity = self.entities[r.entity]
            tz = entity.timezone
            self.digest.update(f"{account_id}:{r.url}\n".encode())
            if r.administrator or r.alternate:
                duties.append(
                    obligations.obligation_values(
                        key=f"authorize-declared:{account_id}",
                        clause="3.7",
                        kind="authorize-declared",
                        subject=f"account:{account_id}",
                        entity_code=entity.code,
                        tz=tz,
                        assignee=self.heads[entity.code],
                        due_at=due_after(local_date(now, tz), DECISION_DAYS, tz),
                        now=now,
                        policy=self.policy,
                        detail="declared by an import; authorize in writing: smgov authorize "
                        f"{account_id} --declared --by HEAD --reference REF",
                    )
                )
            if not as_existing(r):
                duties.append(
                    obligations.obligation_values(
                        key=f"approve-account:{account_id}",
                        clause="2.1",
                        kind="decide-unapproved",
                        subject=f"account:{account_id}",
                        entity_code=entity.code,
                        tz=tz,
                        assignee=self.heads[entity.code],
                        due_at=due_after(local_date(now, tz), DECISION_DAYS, tz),
                        now=now,
                        policy=self.policy,
                        detail="entered without an approved request: not official until the "
                        "head approves a request for it (2.1, 3.2) or withdraws it (3.8)",
                    )
                )
            for role, index in (("administrator", r.administrator), ("alternate", r.alternate)):
                if index:
                    declared.append(
                        {
                            "account_id": account_id,
                            "staff_index": index,
                            "role": role,
                            "declared_by": self.by,
                            "declared_at": now,
                            "source": f"3.4 inventory import, row {r.number}",
                        }
                    )
                    changes.append(
                        {
                            "account_id": account_id,
                            "field": role,
                            "before": None,
                            "after": index,
                            "changed_on": None,
                            "changed_by": self.by,
                            "recorded_at": ctx.recorded_at,
                            "effective_at": now,
                        }
                    )
            created = created_of(r)
            existing = created < issuance  # its entry's clock: 3.4 (60 days), else 3.5
            if not (r.administrator and r.alternate):
                incomplete += 1
                clause, kind, due = (
                    ("3.4", "inventory-entry", due_after(issuance, 60, entity.timezone))
                    if existing
                    else ("3.5", "new-account-entry", due_after(created, 10, entity.timezone))
                )
                duties.append(
                    obligations.obligation_values(
                        key=f"entry:{account_id}",
                        clause=clause,
                        kind=kind,
                        subject=f"account:{account_id}",
                        entity_code=entity.code,
                        tz=entity.timezone,
                        assignee=self.heads[entity.code],
                        due_at=due,
                        now=now,
                        policy=self.policy,
                    )
                )
            if as_existing(r):  # official, existing at issuance: its 3.3 assessment
                due = due_after(issuance, 60, entity.timezone)
                assessments.append(
                    {
                        "account_id": account_id,
                        "campaign_id": None,
                        "reason": "initial",
                        "state": "open",
                        "due_at": due,
                        "opened_at": now,
                    }
                )
                duties.append(
                    obligations.obligation_values(
                        key=f"assessment:{account_id}",
                        clause="3.3",
                        kind="initial-assessment",
                        subject=f"account:{account_id}",
                        entity_code=entity.code,
                        tz=entity.timezone,
                        assignee=self.heads[entity.code],
                        due_at=due,
                        now=now,
                        policy=self.policy,
                    )
                )
        for table, values in (
            (DeclaredPerson, declared),
            (AccountChange, changes),
            (Obligation, duties),
            (Assessment, assessments),
        ):
            if values:
                ctx.session.execute(insert(table), values)
        ctx.session.expunge_all()
        return incomplete
