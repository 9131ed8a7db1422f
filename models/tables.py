"""The central database (1.1(b)): entities, staff, accounts, authorizations, custody, obligations,
the audit chain and the outbox. Alembic migrations in `models/migrations` build exactly this."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Column, Index, Text, UniqueConstraint, func, text
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


def _instant(*, nullable: bool = False, index: bool = False) -> Column[dt.datetime]:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Entity(SQLModel, table=True):
    """An entity of the Secretariat headed by a head of entity (1.1(c))."""

    __tablename__ = "entity"
    # Codes are case-insensitive (`uq_entity_code_upper` below); services look them up through
    # `services.entities.find_entity`.
    code: str = Field(primary_key=True, max_length=20)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    timezone: str = Field(max_length=64)
    next_reassessment_on: dt.date | None = Field(default=None)
    attested_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    created_at: dt.datetime = Field(sa_column=_instant())


# Entity codes are case-insensitive: `dgc` is `DGC` (unique whatever the case, migration 0008).
Index(
    "uq_entity_code_upper",
    func.upper(Entity.__table__.c.code),  # type: ignore[attr-defined]  # SQLModel types it loosely
    unique=True,
)


class EntityAlias(SQLModel, table=True):
    """The name the identity provider gives an entity (its `department`), mapped to the entity
    (`smgov entity alias`); matched case-insensitively through `name_key`."""

    __tablename__ = "entity_alias"
    name_key: str = Field(primary_key=True, max_length=200)
    directory_name: str = Field(max_length=200)
    entity_code: str = Field(foreign_key="entity.code", max_length=20, index=True)
    created_at: dt.datetime = Field(sa_column=_instant())


class Staff(SQLModel, table=True):
    """A staff member, by index number; registry officers keep the database for all (1.1(b))."""

    __tablename__ = "staff"
    index_number: str = Field(primary_key=True, max_length=20)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254)
    # None: provisioned by the identity provider with a department no entity answers to
    # (unplaced, `smgov staff list --unplaced`) until the registry places them.
    entity_code: str | None = Field(
        default=None, foreign_key="entity.code", max_length=20, index=True
    )
    language: str = Field(default="en", max_length=2)
    status: str = Field(default="active", max_length=20)
    status_effective_at: dt.datetime = Field(sa_column=_instant())
    registry_officer: bool = Field(default=False)
    created_at: dt.datetime = Field(sa_column=_instant())
    # Identity provider (SCIM): its userName when it differs from `email`, the department it
    # named that no entity answers to, and the resource's version (ETag) and last change.
    user_name: str | None = Field(default=None, max_length=254)
    directory_department: str | None = Field(default=None, max_length=200)
    version: int = Field(default=1)
    modified_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class EntityRole(SQLModel, table=True):
    """Who answers for an entity and when: head, officer-in-charge for a period, data-entry delegate
    (3.1). A role is in force from `starts_at` until `ends_at` (exclusive; open when null)."""

    __tablename__ = "entity_role"
    __table_args__ = (Index("ix_entity_role_lookup", "entity_code", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    entity_code: str = Field(foreign_key="entity.code", max_length=20)
    staff_index: str = Field(foreign_key="staff.index_number", max_length=20, index=True)
    role: str = Field(max_length=20)
    starts_at: dt.datetime = Field(sa_column=_instant())
    ends_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    granted_by: str | None = Field(default=None, max_length=20)


class Account(SQLModel, table=True):
    """An institutional social media account (1.1(a)) and its 3.4 information."""

    __tablename__ = "account"
    __table_args__ = (UniqueConstraint("platform", "url", name="uq_account_platform_url"),)
    id: int | None = Field(default=None, primary_key=True)
    entity_code: str = Field(foreign_key="entity.code", max_length=20, index=True)
    platform: str = Field(max_length=20)
    platform_name: str | None = Field(default=None, max_length=60)
    handle: str = Field(max_length=260)
    url: str | None = Field(default=None, max_length=2048)  # none until an approved one exists
    languages: str = Field(max_length=200)
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    audience: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(max_length=30, index=True)
    created_on: dt.date | None = Field(default=None)
    closed_on: dt.date | None = Field(default=None)
    closure_evidence: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    registered_at: dt.datetime = Field(sa_column=_instant())
    updated_at: dt.datetime = Field(sa_column=_instant())


class AccountChange(SQLModel, table=True):
    """3.6: every change of a 3.4 field, who made it and when; history is never deleted."""

    __tablename__ = "account_change"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    field: str = Field(max_length=40)
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    changed_on: dt.date | None = Field(default=None)
    changed_by: str = Field(max_length=20)
    recorded_at: dt.datetime = Field(sa_column=_instant())
    effective_at: dt.datetime = Field(sa_column=_instant())
    late: bool = Field(default=False)  # entered more than 10 days after the change (3.6)


class Authorization(SQLModel, table=True):
    """3.7: a staff member's written authorization by the head of entity to run an account."""

    __tablename__ = "written_authorization"
    __table_args__ = (Index("ix_authorization_account", "account_id", "role"),)
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id")
    staff_index: str = Field(foreign_key="staff.index_number", max_length=20, index=True)
    role: str = Field(max_length=20)
    granted_by: str = Field(max_length=20)
    granted_at: dt.datetime = Field(sa_column=_instant())
    reference: str = Field(max_length=200)
    revoked_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    revoked_by: str | None = Field(default=None, max_length=20)
    revoked_reason: str | None = Field(default=None, max_length=500)
    acknowledged_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class DeclaredPerson(SQLModel, table=True):
    """3.4(d) as an import declares it: the administrator or alternate a spreadsheet names. A
    declaration grants nothing (3.7); it counts for the entry's completeness and waits for the
    head's written authorization (`smgov authorize ACCOUNT --declared`), which `authorization_id`
    then points to."""

    __tablename__ = "declared_person"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    staff_index: str = Field(foreign_key="staff.index_number", max_length=20)
    role: str = Field(max_length=20)
    declared_by: str = Field(max_length=20)
    declared_at: dt.datetime = Field(sa_column=_instant())
    source: str = Field(max_length=200)
    confirmed_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    authorization_id: int | None = Field(default=None, foreign_key="written_authorization.id")


class CredentialCustody(SQLModel, table=True):
    """4.2: where an account's login credentials are held — a vault reference, never a secret."""

    __tablename__ = "credential_custody"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", unique=True)
    vault_ref: str = Field(max_length=300)
    custodian_index: str = Field(max_length=20)
    last_rotated_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    updated_at: dt.datetime = Field(sa_column=_instant())


class Obligation(SQLModel, table=True):
    """Who must do what, by when, under which clause, about which subject (design: the spine).

    `next_stage_at` is the UTC instant at which the next reminder stage begins (local midnight in
    the entity's timezone); the sweep selects `state = 'open' AND next_stage_at <= now` through
    the partial index of open duties. `next_stage_at` itself is deliberately not indexed: the
    sweep rewrites it on every duty it reminds, and on PostgreSQL an update that touches no
    indexed column stays on its page (a HOT update, with fillfactor room: migration 0007)
    instead of writing every index of the table again.
    """

    __tablename__ = "obligation"
    __table_args__ = (
        Index(
            "ix_obligation_open",
            "due_at",
            sqlite_where=text("state = 'open'"),
            postgresql_where=text("state = 'open'"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    clause: str = Field(max_length=20)
    kind: str = Field(max_length=40)
    subject: str = Field(max_length=100, index=True)
    entity_code: str = Field(foreign_key="entity.code", max_length=20, index=True)
    assignee: str = Field(max_length=20)
    due_at: dt.datetime = Field(sa_column=_instant())
    state: str = Field(default="open", max_length=20)
    created_at: dt.datetime = Field(sa_column=_instant())
    closed_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    closed_reason: str | None = Field(default=None, max_length=500)
    next_stage: int | None = Field(default=None)
    next_stage_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    reminded_stage: int | None = Field(default=None)
    reminded_assignee: str | None = Field(default=None, max_length=20)
    detail: str | None = Field(default=None, max_length=500)


class AuditEvent(SQLModel, table=True):
    """Append-only audit chain: each event carries an HMAC over itself and the previous hash."""

    __tablename__ = "audit_event"
    seq: int = Field(primary_key=True)
    actor: str = Field(max_length=40)
    action: str = Field(max_length=60)
    subject: str = Field(max_length=100)
    outcome: str = Field(max_length=20)
    before: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    after: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recorded_at: dt.datetime = Field(sa_column=_instant())
    effective_at: dt.datetime = Field(sa_column=_instant())
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Outbox(SQLModel, table=True):
    """A message written before it is sent (design: the outbox); one per recipient per run."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)
    id: int | None = Field(default=None, primary_key=True)
    message_id: str = Field(max_length=200, unique=True)
    channel: str = Field(max_length=10)
    recipient: str = Field(max_length=254)
    recipient_index: str | None = Field(default=None, max_length=20)
    language: str = Field(default="en", max_length=2)
    subject: str = Field(max_length=300)
    body: str = Field(sa_column=Column(Text, nullable=False))  # the plain-text part
    # the rich part: HTML for e-mail (multipart/alternative), an Adaptive Card (JSON) for Teams
    rich: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    status: str = Field(default="pending", max_length=10)
    attempts: int = Field(default=0)
    next_attempt_at: dt.datetime = Field(sa_column=_instant())
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    last_error: str | None = Field(default=None, max_length=500)
    created_at: dt.datetime = Field(sa_column=_instant())
    sent_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class Notice(SQLModel, table=True):
    """One reminder line: (obligation, stage, recipient, channel) is sent once, inside a digest."""

    __tablename__ = "notice"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=400, unique=True)
    obligation_id: int | None = Field(default=None, foreign_key="obligation.id", index=True)
    stage: int | None = Field(default=None)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)


class HREvent(SQLModel, table=True):
    """An HR event (separation, reassignment, return), stored before anything acts on it (4.2).

    Idempotent by `event_id`. `state`: pending (waits for its effective time), revoked
    (authorizations withdrawn; handover, designation and alerts to follow), applied, flagged
    (unknown staff member: kept, never dropped)."""

    __tablename__ = "hr_event"
    __table_args__ = (Index("ix_hr_event_due", "state", "effective_at"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=100, unique=True)
    type: str = Field(max_length=20)
    staff_index: str = Field(max_length=20, index=True)
    effective_on: dt.date
    effective_at: dt.datetime = Field(sa_column=_instant())
    new_entity: str | None = Field(default=None, max_length=20)
    source: str = Field(max_length=20)
    state: str = Field(default="pending", max_length=20)
    flag_reason: str | None = Field(default=None, max_length=300)
    received_at: dt.datetime = Field(sa_column=_instant())
    applied_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class Incident(SQLModel, table=True):
    """A security incident reported on an account (4.1(d), 4.2)."""

    __tablename__ = "incident"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    kind: str = Field(max_length=20)
    details: str = Field(sa_column=Column(Text, nullable=False))
    reported_by: str = Field(max_length=20)
    reported_at: dt.datetime = Field(sa_column=_instant())


class Campaign(SQLModel, table=True):
    """A campaign for one entity: the initial inventory (3.4) or a reassessment (3.2, 3.3).

    `outcome` is recorded when it closes: complete (done by the deadline), late, incomplete."""

    __tablename__ = "campaign"
    __table_args__ = (UniqueConstraint("kind", "entity_code", "anchor_on", name="uq_campaign"),)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20)
    entity_code: str = Field(foreign_key="entity.code", max_length=20, index=True)
    anchor_on: dt.date
    due_at: dt.datetime = Field(sa_column=_instant())
    state: str = Field(default="open", max_length=20)
    outcome: str | None = Field(default=None, max_length=20)
    opened_at: dt.datetime = Field(sa_column=_instant())
    closed_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class Assessment(SQLModel, table=True):
    """An assessment of one account against the 3.2 criteria (3.3 initial, or periodic)."""

    __tablename__ = "assessment"
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    campaign_id: int | None = Field(default=None, foreign_key="campaign.id")
    reason: str = Field(max_length=20)
    state: str = Field(default="open", max_length=20)
    due_at: dt.datetime = Field(sa_column=_instant())
    opened_at: dt.datetime = Field(sa_column=_instant())
    findings: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recommendation: str | None = Field(default=None, max_length=20)
    decision: str | None = Field(default=None, max_length=20)
    decided_by: str | None = Field(default=None, max_length=20)
    decided_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    reason_text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    why: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AccountRequest(SQLModel, table=True):
    """A request for a new account, with evidence for each 3.2 criterion (2.1, 3.2)."""

    __tablename__ = "account_request"
    id: int | None = Field(default=None, primary_key=True)
    entity_code: str = Field(foreign_key="entity.code", max_length=20, index=True)
    platform: str = Field(max_length=20)
    handle: str = Field(max_length=260)
    languages: str = Field(max_length=200)
    evidence: str = Field(sa_column=Column(Text, nullable=False))  # JSON: field -> text
    requested_by: str = Field(max_length=20)
    state: str = Field(max_length=20, index=True)
    survey: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    parity: str | None = Field(default=None, sa_column=Column(Text, nullable=True))  # JSON
    submitted_at: dt.datetime = Field(sa_column=_instant())
    decided_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    decided_by: str | None = Field(default=None, max_length=20)
    account_id: int | None = Field(default=None, foreign_key="account.id")


class RequestTransition(SQLModel, table=True):
    """The history of a request's state machine: every transition, who, when and why."""

    __tablename__ = "request_transition"
    id: int | None = Field(default=None, primary_key=True)
    request_id: int = Field(foreign_key="account_request.id", index=True)
    event: str = Field(max_length=20)
    from_state: str | None = Field(default=None, max_length=20)
    to_state: str = Field(max_length=20)
    by: str = Field(max_length=20)
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    at: dt.datetime = Field(sa_column=_instant())


class SurveyAccount(SQLModel, table=True):
    """The reference list of the wider UN system's accounts (agencies, funds and programmes),
    loaded by the registry team for the duplication survey (3.2(a))."""

    __tablename__ = "survey_account"
    __table_args__ = (UniqueConstraint("platform", "url", name="uq_survey_platform_url"),)
    id: int | None = Field(default=None, primary_key=True)
    organization: str = Field(max_length=100)
    platform: str = Field(max_length=20)
    handle: str = Field(max_length=260)
    url: str = Field(max_length=2048)
    languages: str = Field(max_length=200)
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    audience: str = Field(sa_column=Column(Text, nullable=False))


class AccountActivity(SQLModel, table=True):
    """Activity figures imported from a CSV to inform impact and effectiveness (3.2)."""

    __tablename__ = "account_activity"
    account_id: int = Field(foreign_key="account.id", primary_key=True)
    last_post_on: dt.date | None = Field(default=None)
    posts_per_month: float | None = Field(default=None)
    followers: int | None = Field(default=None)
    imported_at: dt.datetime = Field(sa_column=_instant())


class LinkToken(SQLModel, table=True):
    """A one-task link sent by e-mail (the web door): bound to one staff member and one task,
    single-use and expiring. The row holds the link's nonce only; the token that opens it is
    signed with a key kept outside the database (notifications.signing)."""

    __tablename__ = "link_token"
    nonce: str = Field(primary_key=True, max_length=32)
    staff_index: str = Field(foreign_key="staff.index_number", max_length=20, index=True)
    task: str = Field(max_length=100)  # e.g. "request:12", "assessment:3", "account:7"
    issued_at: dt.datetime = Field(sa_column=_instant())
    expires_at: dt.datetime = Field(sa_column=_instant())
    used_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))


class WebSession(SQLModel, table=True):
    """A signed-in browser (the web door), kept server-side so that it can end: at sign-out, at
    the end of `session_hours`, and at once when its person is separated, reassigned or their
    roles change (`fingerprint` no longer matches). The cookie holds the session's random id;
    this row holds its SHA-256 only, so the database cannot open a session."""

    __tablename__ = "web_session"
    id_hash: str = Field(primary_key=True, max_length=64)
    staff_index: str = Field(foreign_key="staff.index_number", max_length=20, index=True)
    scope: str | None = Field(default=None, max_length=100)  # a link's one task, or none
    fingerprint: str = Field(max_length=64)  # status, entity and roles at sign-in
    created_at: dt.datetime = Field(sa_column=_instant())
    expires_at: dt.datetime = Field(sa_column=_instant())
    ended_at: dt.datetime | None = Field(default=None, sa_column=_instant(nullable=True))
    ended_why: str | None = Field(default=None, max_length=40)
