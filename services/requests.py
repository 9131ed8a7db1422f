"""New-account approval (2.1, 3.2, 3.7): request, duplication survey, the head's decision,
written authorization, acknowledgement, creation and activation.

Human decisions arrive through a door and are recorded here in one transaction; the `approval`
flow then carries the automatic steps on (survey, notices, authorizations, obligations), so no
process waits days for a person.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlmodel import col

from models.clock import due_after, iso, local_date
from models.errors import NotAuthorized, NotFound, R, Refused
from models.languages import OFFICIAL_LANGUAGES, join_languages, split_languages
from models.platforms import PlatformError, check_handle, normalise_url, parse_platform
from models.registry import (
    ACKNOWLEDGED,
    MAX_AUDIENCE,
    MAX_PURPOSE,
    check_authorizable,
    check_text,
)
from models.requests import DECISIONS, RequestIn, transition
from models.tables import (
    Account,
    AccountRequest,
    Authorization,
    CredentialCustody,
    RequestTransition,
    Staff,
    SurveyAccount,
)
from notifications.i18n import Msg
from notifications.templates import MN, Alert, M, render_alerts
from services import obligations
from services.accounts import (
    get_account,
    open_acknowledgements,
    refresh_entry_obligation,
    require_readdress,
)
from services.authority import acting_person, current_head, may, require
from services.candidates import candidates_in
from services.context import Ctx
from services.entities import get_entity, staff_name
from services.links import browser_link
from services.recipients import Directory, Item, Recipient, write_once
from services.subjects import platform_label

if TYPE_CHECKING:
    from models.survey import Candidate

# The duplication survey and the look-alike check (rapidfuzz) are imported by the steps that run
# them: a decision runs neither (start-up time, issue 20).

DECIDE_LINK = M("Or decide in the browser (a link for you alone, valid once): {link}").msgid


def get_request(ctx: Ctx, request_id: int | str, *, lock: bool = False) -> AccountRequest:
    query = select(AccountRequest).where(col(AccountRequest.id) == int(request_id))
    if lock and ctx.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    found: AccountRequest | None = ctx.session.execute(query).scalar_one_or_none()
    if found is None:
        raise NotFound("ID", R("no request {id}"), id=str(request_id))
    return found


def _record(ctx: Ctx, request: AccountRequest, *, event: str, by: str, reason: str | None) -> None:
    before = request.state if request.id is not None and event != "submit" else None
    after = transition(request.state, event) if event != "submit" else "submitted"
    request.state = after
    ctx.session.add(request)
    ctx.session.flush()
    assert request.id is not None
    ctx.session.add(
        RequestTransition(
            request_id=request.id,
            event=event,
            from_state=before,
            to_state=after,
            by=by,
            reason=reason,
            at=ctx.now,
        )
    )
    ctx.audit(
        actor=by,
        action=f"request.{event}",
        subject=f"request:{request.id}",
        before={"state": before},
        after={"state": after, "reason": reason},
    )


def _check_people(ctx: Ctx, evidence: dict[str, str]) -> None:
    """The administrator and alternate a request names are staff of the registry, active: at
    submission, and again when the head approves (4.2: whoever is no longer active since,
    separated or reassigned out of the registry's entities, is not authorized by the
    approval)."""
    for role in ("administrator", "alternate"):
        person = ctx.session.get(Staff, evidence[role])
        if person is None:
            raise NotFound(
                role,
                R("staff member {index} is not in the registry"),
                "3.2(c)",
                index=evidence[role],
            )
        check_authorizable(role, person.index_number, person.status)


def submit(ctx: Ctx, data: RequestIn, *, by: str) -> AccountRequest:
    """A staff member of the entity asks for a new account, with the 3.2 evidence."""
    entity = get_entity(ctx, data.entity, field="entity")
    require(  # the policy table: active staff of the entity, or a registry officer
        ctx,
        actor=by,
        action="request.submit",
        entity_code=entity.code,
        subject=f"entity:{entity.code}",
    )
    _check_people(ctx, data.evidence)
    request = AccountRequest(
        entity_code=entity.code,
        platform=data.platform,
        handle=data.handle,
        languages=join_languages(data.languages),
        evidence=json.dumps(data.evidence),
        requested_by=by,
        state="submitted",
        submitted_at=ctx.now,
    )
    _record(ctx, request, event="submit", by=by, reason=None)
    return request


def resubmit(ctx: Ctx, request_id: int, data: RequestIn, *, by: str) -> AccountRequest:
    """After a return for information, the requester answers with a revised request."""
    request = get_request(ctx, request_id, lock=True)
    if by != request.requested_by:
        raise NotAuthorized(
            "--by",
            "only the requester resubmits a request",
            "3.2",
            actor=by,
            action="request.resubmit",
            subject=f"request:{request.id}",
        )
    if data.entity != request.entity_code:
        raise Refused("entity", "a resubmitted request keeps its entity")
    _check_people(ctx, data.evidence)
    request.platform, request.handle = data.platform, data.handle
    request.languages, request.evidence = join_languages(data.languages), json.dumps(data.evidence)
    request.survey = None  # the flow surveys again
    _record(ctx, request, event="resubmit", by=by, reason=None)
    return request


def withdraw(ctx: Ctx, request_id: int, *, by: str, reason: str) -> AccountRequest:
    request = get_request(ctx, request_id, lock=True)
    if by != request.requested_by:
        raise NotAuthorized(
            "--by",
            "only the requester withdraws a request",
            "3.2",
            actor=by,
            action="request.withdraw",
            subject=f"request:{request.id}",
        )
    _record(
        ctx, request, event="withdraw", by=by, reason=check_text("--reason", reason, limit=2000)
    )
    obligations.close_key(
        ctx, f"decide:{request.id}", state="withdrawn", reason="withdrawn", actor=by
    )
    return request


def decide(ctx: Ctx, request_id: int, *, decision: str, reason: str, by: str) -> AccountRequest:
    """The head of the requesting entity (or an officer-in-charge in period) decides, with
    reasons (2.1, 3.1(a)); a requester never decides their own request."""
    if decision not in DECISIONS:
        raise Refused(
            "--decision", R("must be one of {choices}"), "3.1(a)", choices=", ".join(DECISIONS)
        )
    why = check_text("--reason", reason, limit=4000, clause="3.1(a)")
    request = get_request(ctx, request_id, lock=True)
    subject = f"request:{request.id}"
    acting_person(ctx, by)
    if by == request.requested_by:
        raise NotAuthorized(
            "--by",
            "a requester cannot decide their own request",
            "3.1(a)",
            actor=by,
            action="request.decide",
            subject=subject,
        )
    require(
        ctx,
        actor=by,
        action="decide",
        entity_code=request.entity_code,
        subject=subject,
        audit_as="request.decide",
    )
    evidence = json.loads(request.evidence)
    if decision == "approve":  # approval is the written authorization of both people (3.7)
        for role in ("administrator", "alternate"):
            require(
                ctx,
                actor=by,
                action="authorize",
                entity_code=request.entity_code,
                subject=subject,
                target=evidence.get(role),
                audit_as="request.decide",
            )
        _check_people(ctx, evidence)
    _record(ctx, request, event=decision, by=by, reason=why)
    if decision != "return":
        request.decided_at, request.decided_by = ctx.now, by
    obligations.close_key(
        ctx, f"decide:{request.id}", state="met", reason=f"{decision}: {why[:200]}", actor=by
    )
    return request


# --------------------------------------------------------------------------------------------
# the automatic steps, run by the approval flow


def candidates(ctx: Ctx, *, exclude_request: int | None = None) -> list[Candidate]:
    """Every existing or pending account in the UN system that a proposal is compared with (see
    `candidates_in`), read in the use case's transaction."""
    return candidates_in(ctx.session, exclude_request=exclude_request)


def parity(ctx: Ctx, entity_code: str) -> dict[str, dict[str, bool]]:
    """2.3: the entity's coverage of the six official languages per platform."""
    view: dict[str, dict[str, bool]] = defaultdict(lambda: dict.fromkeys(OFFICIAL_LANGUAGES, False))
    for platform, languages in ctx.session.execute(
        select(col(Account.platform), col(Account.languages)).where(
            col(Account.entity_code) == entity_code,
            col(Account.state).in_(("approved", "active", "under-reassessment")),
        )
    ):
        for code in split_languages(languages):
            if code in OFFICIAL_LANGUAGES:
                view[platform][code] = True
    return dict(view)


def preview(ctx: Ctx, data: RequestIn, *, by: str) -> dict[str, Any]:
    """What the requester sees before submitting (3.2(a), 2.3): the duplication survey against
    every existing and pending account, and the entity's language parity. Writes nothing but
    a refusal's audit: shown only to whom the policy table lets ask for an account for the
    entity (`request.submit`), as the request it previews would be."""
    from models.survey import Candidate, survey
    from services.lookalikes import warnings_for

    entity = get_entity(ctx, data.entity, field="entity")
    require(
        ctx,
        actor=by,
        action="request.submit",
        entity_code=entity.code,
        subject=f"entity:{entity.code}",
        field="entity",
        audit_as="request.preview",
    )
    proposed = Candidate(
        "request:new",
        entity.code,
        data.platform,
        data.handle,
        frozenset(data.languages),
        data.evidence["purpose"],
        data.evidence["audience"],
    )
    return {
        "duplicates": [
            {
                "account": m.ref,
                "owner": m.owner,
                "url": m.url,
                "score": m.score,
                "reason": m.reason,
            }
            for m in survey(proposed, candidates(ctx))
        ],
        "parity": parity(ctx, entity.code),
        "resembles": warnings_for(
            ctx, platform=data.platform, handle=data.handle, entity=entity.code
        ),
    }


def on_submitted(ctx: Ctx, request: AccountRequest) -> set[int]:
    """Survey, parity, the head's decision duty and the head's notice (idempotent)."""
    from models.survey import Candidate, survey

    assert request.id is not None
    ev = json.loads(request.evidence)
    proposed = Candidate(
        f"request:{request.id}",
        request.entity_code,
        request.platform,
        request.handle,
        frozenset(split_languages(request.languages)),
        ev["purpose"],
        ev["audience"],
    )
    if request.survey is None:
        matches = survey(proposed, candidates(ctx, exclude_request=request.id))
        request.survey = json.dumps([m._asdict() for m in matches])
        request.parity = json.dumps(parity(ctx, request.entity_code))
        ctx.session.add(request)
        ctx.audit(
            actor="smgov",
            action="request.survey",
            subject=f"request:{request.id}",
            after={"duplicates": len(matches)},
        )
    entity = get_entity(ctx, request.entity_code)
    head = current_head(session=ctx.session, entity_code=entity.code, at=ctx.now)
    ob = obligations.open_obligation(
        ctx,
        key=f"decide:{request.id}",
        clause="3.2",
        kind="decide-request",
        subject=f"request:{request.id}",
        entity=entity,
        assignee=head or "registry",
        due_at=due_after(
            local_date(ctx.now, entity.timezone), ctx.settings.decision_days, entity.timezone
        ),
        actor="smgov",
    )
    matches = json.loads(request.survey)
    directory = Directory(ctx, entities={entity.code}, people={request.requested_by})
    lines: list[Msg | str] = [
        M(
            "Requested by {name} ({index}): {platform} account {handle}, in {languages}.",
            name=directory.name(request.requested_by) or request.requested_by,
            index=request.requested_by,
            platform=platform_label(request.platform),
            handle=request.handle,
            languages=", ".join(split_languages(request.languages)),
        ),
        MN(
            "Duplication survey (3.2(a)): {n} overlapping account.",
            "Duplication survey (3.2(a)): {n} overlapping accounts.",
            len(matches),
        ),
    ]
    lines += [  # the survey's findings, each overlapping account by its address
        f"  - {m.get('url') or m['ref']} ({m['owner']}) {m['score']}: {m['reason']}"
        for m in matches[:5]
    ]
    lines.append(
        M(
            "Read it with {show}, then decide: {command}",
            show=f"smgov request show {request.id}",
            command=f"smgov request decide {request.id} --decision approve|reject|return "
            "--reason TEXT" + (f" --by {head}" if head else ""),
        )
    )
    alert = Alert(
        title=M("New account request {id} awaits your decision (3.2)", id=request.id),
        lines=tuple(lines),
    )
    items: dict[Recipient, list[Item[Alert]]] = defaultdict(list)
    for rcpt in dict.fromkeys([*directory.person(head), *directory.teams(entity.code)]):
        link = browser_link(ctx, staff_index=rcpt.staff_index, task=f"request:{request.id}")
        personal = (
            alert if link is None else Alert(alert.title, (*alert.lines, M(DECIDE_LINK, link=link)))
        )
        items[rcpt].append(
            Item(f"request:{request.id}:{request.state}:{rcpt.address}:{rcpt.channel}", personal)
        )
    write_once(ctx, items, render_alerts)
    assert ob.id is not None
    return {ob.id}


def on_decided(ctx: Ctx, request: AccountRequest) -> set[int]:
    """Approval issues the written authorizations (3.7) and the account awaiting creation; every
    decision is told to the requester (and, on approval, to the two authorized people)."""
    assert request.id is not None
    ev = json.loads(request.evidence)
    opened: set[int] = set()
    # 4.2: whoever is no longer active when the grants are written (the decision checked them,
    # but a separation may be applied between the decision and this step) is not authorized
    granted = [
        role
        for role in ("administrator", "alternate")
        if (person := ctx.session.get(Staff, ev[role])) is not None and person.status == "active"
    ]
    last = ctx.session.execute(
        select(RequestTransition)
        .where(col(RequestTransition.request_id) == request.id)
        .order_by(col(RequestTransition.id).desc())
        .limit(1)
    ).scalar_one()
    adopted = None
    if request.state == "approved" and request.account_id is None:
        adopted = ctx.session.execute(
            select(Account).where(
                col(Account.entity_code) == request.entity_code,
                col(Account.platform) == request.platform,
                func.lower(col(Account.handle)) == request.handle.lower(),
                col(Account.state) == "unapproved",
            )
        ).scalar_one_or_none()
    if adopted is not None:
        # 2.1, 3.2: the head's approval of a request makes the account entered without it
        # official; its written authorizations are the request's.
        assert adopted.id is not None
        request.account_id = adopted.id
        ctx.session.add(request)
        adopted.state, adopted.updated_at = "approved", ctx.now
        ctx.session.add(adopted)
        grants = []
        for role in ("administrator", "alternate"):
            for held in ctx.session.execute(
                select(Authorization).where(
                    col(Authorization.account_id) == adopted.id,
                    col(Authorization.role) == role,
                    col(Authorization.revoked_at).is_(None),
                )
            ).scalars():
                held.revoked_at, held.revoked_by = ctx.now, last.by
                held.revoked_reason = f"superseded by REQ-{request.id}"
                ctx.session.add(held)
            if role not in granted:
                continue
            grant = Authorization(
                account_id=adopted.id,
                staff_index=ev[role],
                role=role,
                granted_by=last.by,
                granted_at=ctx.now,
                reference=f"REQ-{request.id}",
            )
            ctx.session.add(grant)
            grants.append(grant)
        ctx.session.flush()
        open_acknowledgements(ctx, grants, actor=last.by)
        refresh_entry_obligation(ctx, adopted, actor=last.by)
        obligations.close_key(
            ctx,
            f"approve-account:{adopted.id}",
            state="met",
            reason=f"request {request.id} approved (2.1)",
            actor=last.by,
        )
        ctx.audit(
            actor=last.by,
            action="account.approve",
            subject=f"account:{adopted.id}",
            after={
                "request": request.id,
                "administrator": ev["administrator"],
                "alternate": ev["alternate"],
                "reference": f"REQ-{request.id}",
                "withheld": [r for r in ("administrator", "alternate") if r not in granted],
                "entered_before": True,
            },
        )
        activate_if_ready(ctx, adopted, actor=last.by)
    elif request.state == "approved" and request.account_id is None:
        account = Account(
            entity_code=request.entity_code,
            platform=request.platform,
            handle=request.handle,
            url=None,
            languages=request.languages,
            purpose=ev["purpose"][:MAX_PURPOSE],
            audience=ev["audience"][:MAX_AUDIENCE],
            state="approved",
            created_on=None,
            registered_at=ctx.now,
            updated_at=ctx.now,
        )
        ctx.session.add(account)
        ctx.session.flush()
        assert account.id is not None
        request.account_id = account.id
        ctx.session.add(request)
        grants = [
            Authorization(
                account_id=account.id,
                staff_index=ev[role],
                role=role,
                granted_by=last.by,
                granted_at=ctx.now,
                reference=f"REQ-{request.id}",
            )
            for role in granted
        ]
        ctx.session.add_all(grants)
        ctx.session.flush()
        open_acknowledgements(ctx, grants, actor=last.by)
        ctx.audit(
            actor=last.by,
            action="account.approve",
            subject=f"account:{account.id}",
            after={
                "request": request.id,
                "administrator": ev["administrator"],
                "alternate": ev["alternate"],
                "reference": f"REQ-{request.id}",
                "withheld": [r for r in ("administrator", "alternate") if r not in granted],
            },
        )
    directory = Directory(
        ctx,
        entities={request.entity_code},
        people={request.requested_by, ev["administrator"], ev["alternate"]},
    )
    verdict = {
        "approved": M("APPROVED"),
        "rejected": M("rejected"),
        "returned": M("returned for information"),
    }.get(request.state, request.state)

    def who(index: str) -> str:
        return f"{directory.name(index) or index} ({index})"

    lines: list[Msg | str] = [
        M("Decision by {name}:", name=who(last.by)),
        last.reason,  # the decider's own words, as written
    ]
    if request.state == "approved" and len(granted) == 2:
        lines.append(
            M(
                "Account {id} awaits creation. Written authorization REQ-{request}: "
                "administrator {administrator}, alternate {alternate} (3.7).",
                id=str(request.account_id),
                request=str(request.id),
                administrator=who(ev["administrator"]),
                alternate=who(ev["alternate"]),
            )
        )
    elif request.state == "approved":
        # 4.2: a person named who is no longer active was not authorized (`granted`): the
        # message says so, and never names them as authorized
        lines.append(
            M(
                "Account {id} awaits creation (written authorization REQ-{request}, 3.7).",
                id=str(request.account_id),
                request=str(request.id),
            )
        )
        for role, held, gone in (
            (
                "administrator",
                M("Administrator: {name}.", name=who(ev["administrator"])),
                M(
                    "{name}, named administrator, is no longer active and is not authorized (4.2).",
                    name=who(ev["administrator"]),
                ),
            ),
            (
                "alternate",
                M("Alternate: {name}.", name=who(ev["alternate"])),
                M(
                    "{name}, named alternate, is no longer active and is not authorized (4.2).",
                    name=who(ev["alternate"]),
                ),
            ),
        ):
            lines.append(held if role in granted else gone)
        lines.append(
            M(
                "The head of entity authorizes another staff member in writing (3.7): {command}",
                command=f"smgov authorize {request.account_id} --staff INDEX --role ROLE "
                "--by INDEX --reference REF",
            )
        )
    if request.state == "approved":
        acknowledge = f"smgov acknowledge {request.account_id} --by INDEX"
        if len(granted) == 2:
            lines.append(
                M(
                    "Each of them acknowledges the duties of 2.2 and 4.1: {command}",
                    command=acknowledge,
                )
            )
        elif granted:
            lines.append(
                M(
                    "The person authorized acknowledges the duties of 2.2 and 4.1: {command}",
                    command=acknowledge,
                )
            )
        lines += [
            M(
                "Once created on the platform: {command}; it must be registered within "
                "10 days (3.5).",
                command=f"smgov account created {request.account_id} --handle {request.handle} "
                "--url URL --created-on DATE --by INDEX",
            ),
        ]
    elif request.state == "returned":
        lines.append(
            M(
                "Answer with: {command}",
                command=f"smgov request resubmit {request.id} --file REQUEST.yaml "
                f"--by {request.requested_by}",
            )
        )
    alert = Alert(
        title=M("Account request {id}: {verdict}", id=str(request.id), verdict=verdict),
        lines=tuple(lines),
    )
    people = [request.requested_by]
    if request.state == "approved":
        people += [ev["administrator"], ev["alternate"]]
    items: dict[Recipient, list[Item[Alert]]] = defaultdict(list)
    for index in dict.fromkeys(people):
        for rcpt in directory.person(index):
            items[rcpt].append(Item(f"request:{request.id}:{last.id}:{rcpt.address}", alert))
    write_once(ctx, items, render_alerts)
    return opened


def carry_on(ctx: Ctx, request_id: int) -> set[int]:
    """Whatever is automatic and due for this request (the approval flow's one step)."""
    request = get_request(ctx, request_id)
    if request.state in ("submitted", "resubmitted"):
        return on_submitted(ctx, request)
    if request.state in ("approved", "rejected", "returned"):
        return on_decided(ctx, request)
    return set()


# --------------------------------------------------------------------------------------------
# after approval: acknowledgement, creation, activation


def acknowledge(ctx: Ctx, *, ref: str, by: str) -> int:
    """The authorized staff member accepts the duties of 2.2 and 4.1(a)-(e), for every written
    authorization they hold on the account; this meets each grant's acknowledgement duty."""
    account = get_account(ctx, ref)
    require(
        ctx,
        actor=by,
        action="acknowledge",
        entity_code=account.entity_code,
        subject=f"account:{account.id}",
        account_id=account.id,
        target=by,
    )
    grants = (
        ctx.session.execute(
            select(Authorization).where(
                col(Authorization.account_id) == account.id,
                col(Authorization.staff_index) == by,
                col(Authorization.revoked_at).is_(None),
            )
        )
        .scalars()
        .all()
    )
    if not grants:
        raise NotAuthorized(
            "--by",
            f"staff member {by} holds no written authorization for account {account.id}",
            "3.7",
            actor=by,
            action="acknowledge",
            subject=f"account:{account.id}",
        )
    for grant in grants:
        if grant.acknowledged_at is None:
            grant.acknowledged_at = ctx.now
            ctx.session.add(grant)
        obligations.close_key(
            ctx,
            f"acknowledge:{grant.id}",
            state="met",
            reason="acknowledged " + ", ".join(ACKNOWLEDGED),
            actor=by,
        )
    ctx.session.flush()
    ctx.audit(
        actor=by,
        action="account.acknowledge",
        subject=f"account:{account.id}",
        after={"duties": list(ACKNOWLEDGED), "roles": [g.role for g in grants]},
    )
    activate_if_ready(ctx, account, actor=by)
    return len(grants)


def created(ctx: Ctx, *, ref: str, handle: str, url: str, created_on: dt.date, by: str) -> Account:
    """Staff report the approved account created on the platform: the 3.5 clock starts."""
    account = get_account(ctx, ref)
    if account.state != "approved" or account.url is not None:
        raise Refused(
            "ACCOUNT",
            f"account {account.id} is {account.state}, not approved and awaiting creation",
            "3.5",
        )
    holders = {
        a.staff_index
        for a in ctx.session.execute(
            select(Authorization).where(
                col(Authorization.account_id) == account.id, col(Authorization.revoked_at).is_(None)
            )
        ).scalars()
    }
    if (
        by not in holders
        or not may(
            ctx.session,
            actor=by,
            action="account.created",
            entity_code=account.entity_code,
            at=ctx.now,
            account_id=account.id,
        ).allowed
    ):
        require(
            ctx,
            actor=by,
            action="registry.write",
            entity_code=account.entity_code,
            subject=f"account:{account.id}",
        )
    entity = get_entity(ctx, account.entity_code)
    if created_on > local_date(ctx.now, entity.timezone):
        raise Refused("--created-on", f"{created_on} lies after the effective date")
    try:
        platform = parse_platform(account.platform)
        reported = check_handle(platform, handle)
        clean = normalise_url(url, platform)
    except PlatformError as exc:
        raise Refused(f"--{exc.field}", exc.template, "3.4(a)", **exc.params) from exc
    if reported.casefold() != account.handle.casefold():  # names are case-blind on platforms
        raise Refused(
            "--handle",
            f"the head approved the account {account.handle}: an account under another name "
            "needs a request of its own",
            "3.2",
        )
    from services.lookalikes import handle_of_url  # the look-alike data, only when needed

    if handle_of_url(clean).casefold() != account.handle.casefold():
        # an address that does not end with the approved name may be another account
        require_readdress(ctx, account, by=by, audit_as="account.created")
    account.handle = reported
    clash = ctx.session.execute(
        select(col(Account.id)).where(
            col(Account.platform) == account.platform, col(Account.url) == clean
        )
    ).scalar()
    if clash is not None:
        raise Refused("--url", f"{clean} is already registered as account {clash}", "1.1(b)")
    account.url, account.created_on, account.updated_at = clean, created_on, ctx.now
    ctx.session.add(account)
    ctx.session.flush()
    ctx.audit(
        actor=by,
        action="account.created",
        subject=f"account:{account.id}",
        after={"url": clean, "created_on": created_on.isoformat()},
    )
    refresh_entry_obligation(ctx, account, actor=by, created=True)
    activate_if_ready(ctx, account, actor=by)
    return account


def readiness(ctx: Ctx, account: Account) -> list[str]:
    """What an approved account still lacks before it may be active (3.4, 3.5, 3.7, 4.2)."""
    from services.accounts import missing

    lacking = []
    if account.url is None:
        lacking.append("3.5 not yet reported created")
    lacking += missing(ctx, account)
    grants = (
        ctx.session.execute(
            select(Authorization).where(
                col(Authorization.account_id) == account.id,
                col(Authorization.revoked_at).is_(None),
                col(Authorization.role).in_(("administrator", "alternate")),
            )
        )
        .scalars()
        .all()
    )
    if any(g.acknowledged_at is None for g in grants):
        lacking.append("3.7 acknowledgement of 2.2 and 4.1 duties")
    custody = ctx.session.execute(
        select(CredentialCustody).where(col(CredentialCustody.account_id) == account.id)
    ).scalar_one_or_none()
    if custody is None:
        lacking.append("4.2 credential custody")
    return lacking


def activate_if_ready(ctx: Ctx, account: Account, *, actor: str) -> bool:
    if account.state != "approved" or readiness(ctx, account):
        return False
    account.state, account.updated_at = "active", ctx.now
    ctx.session.add(account)
    ctx.session.flush()
    ctx.audit(
        actor=actor,
        action="account.activate",
        subject=f"account:{account.id}",
        after={"state": "active"},
    )
    refresh_entry_obligation(ctx, account, actor=actor)
    return True


def request_view(ctx: Ctx, request: AccountRequest) -> dict[str, Any]:
    history = (
        ctx.session.execute(
            select(RequestTransition)
            .where(col(RequestTransition.request_id) == request.id)
            .order_by(col(RequestTransition.id))
        )
        .scalars()
        .all()
    )
    view: dict[str, Any] = {
        "id": request.id,
        "entity": request.entity_code,
        "platform": request.platform,
        "handle": request.handle,
        "languages": split_languages(request.languages),
        "state": request.state,
        "requested_by": request.requested_by,
        "requested_by_name": staff_name(ctx, request.requested_by),
        "evidence": json.loads(request.evidence),
        "duplicates": [
            {
                "account": m["ref"],
                "owner": m["owner"],
                "url": m["url"],
                "score": m["score"],
                "reason": m["reason"],
            }
            for m in json.loads(request.survey or "[]")
        ],
        "parity": json.loads(request.parity or "{}"),
        "account": request.account_id,
        "history": [
            {
                "event": t.event,
                "from": t.from_state,
                "to": t.to_state,
                "by": t.by,
                "reason": t.reason,
                "at": iso(t.at),
            }
            for t in history
        ],
    }
    from services.lookalikes import warnings_for

    warnings = warnings_for(
        ctx, platform=request.platform, handle=request.handle, entity=request.entity_code
    )
    if warnings:  # issue 18: a look-alike of another entity's official handle
        view["resembles"] = warnings
    return view


def list_requests(ctx: Ctx) -> list[dict[str, Any]]:
    rows = ctx.session.execute(select(AccountRequest).order_by(col(AccountRequest.id))).scalars()
    return [
        {
            "id": r.id,
            "entity": r.entity_code,
            "platform": r.platform,
            "handle": r.handle,
            "state": r.state,
            "requested_by": r.requested_by,
            "account": r.account_id,
        }
        for r in rows
    ]


SURVEY_COLUMNS = ("organization", "platform", "handle", "url", "languages", "purpose", "audience")


def import_survey(ctx: Ctx, rows: list[tuple[int, dict[str, Any]]]) -> dict[str, Any]:
    """Load the reference list of other UN system organizations' accounts (3.2(a)): all rows
    checked, nothing loaded if one is bad; a URL already listed is updated, not duplicated."""
    from models.languages import check_content_languages

    errors: list[str] = []
    clean: list[dict[str, Any]] = []
    for number, raw in rows:
        try:
            org = check_text("organization", str(raw.get("organization") or ""), limit=100)
            platform = parse_platform(str(raw.get("platform") or ""))
            clean.append(
                {
                    "organization": org,
                    "platform": platform,
                    "handle": check_handle(platform, str(raw.get("handle") or "")),
                    "url": normalise_url(str(raw.get("url") or ""), platform),
                    "languages": join_languages(
                        check_content_languages([str(raw.get("languages") or "")])
                    ),
                    "purpose": check_text(
                        "purpose", str(raw.get("purpose") or ""), limit=MAX_PURPOSE
                    ),
                    "audience": check_text(
                        "audience", str(raw.get("audience") or ""), limit=MAX_AUDIENCE
                    ),
                }
            )
        except PlatformError as exc:
            errors.append(f"row {number}: {exc.field}: {exc.rule}")
        except Refused as exc:
            errors.append(f"row {number}: {exc}")
    if errors:
        raise Refused("FILE", "; ".join(errors[:20]) + (" ..." if len(errors) > 20 else ""))
    existing = {
        (s.platform, s.url): s for s in ctx.session.execute(select(SurveyAccount)).scalars()
    }
    added = updated = 0
    for item in clean:
        row = existing.get((item["platform"], item["url"]))
        if row is None:
            ctx.session.add(SurveyAccount(**item))
            added += 1
        else:
            for key, value in item.items():
                setattr(row, key, value)
            ctx.session.add(row)
            updated += 1
    ctx.session.flush()
    ctx.audit(
        actor="operator",
        action="survey.import",
        subject="survey",
        after={"added": added, "updated": updated},
    )
    return {"added": added, "updated": updated}
