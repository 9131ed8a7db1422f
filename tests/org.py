"""A small fictional organization for database tests, built through the services."""

from __future__ import annotations

import datetime as dt
from typing import Any

from services import accounts, entities

T0 = dt.datetime(2026, 1, 20, 9, tzinfo=dt.UTC)


def seed(ctx: Any, *, code: str = "OHCHR", tz: str = "Europe/Zurich", prefix: str = "1") -> None:
    """Entity `code` with head {prefix}00001 and staff {prefix}00002..{prefix}00004."""
    entities.add_entity(ctx, code=code, name=f"Entity {code}", kind="office", timezone=tz)
    entities.add_staff(
        ctx,
        index=f"{prefix}00001",
        name="Head of entity",
        email=f"head.{code.lower()}@un.example",
        entity=code,
    )
    entities.set_head(ctx, code=code, staff_index=f"{prefix}00001")
    entities.add_staff(
        ctx,
        index=f"{prefix}00002",
        name="Administrator",
        email=f"admin.{code.lower()}@un.example",
        entity=code,
        language="fr",
    )
    entities.add_staff(
        ctx,
        index=f"{prefix}00003",
        name="Alternate",
        email=f"alt.{code.lower()}@un.example",
        entity=code,
    )
    entities.add_staff(
        ctx,
        index=f"{prefix}00004",
        name="Communications officer",
        email=f"comms.{code.lower()}@un.example",
        entity=code,
    )


def account(
    ctx: Any,
    *,
    code: str = "OHCHR",
    head: str = "100001",
    url: str = "x.com/unhumanrights",
    platform: str = "x",
    handle: str = "UNHumanRights",
    created_on: dt.date | None = None,
) -> int:
    acc = accounts.register(
        ctx,
        entity=code,
        platform=platform,
        handle=handle,
        url=url,
        languages=["en", "fr"],
        purpose="Human rights news and statements",
        audience="General public worldwide",
        by=head,
        created_on=created_on,
    )
    assert acc.id is not None
    return acc.id


def complete(
    ctx: Any,
    account_id: int,
    *,
    head: str = "100001",
    admin: str = "100002",
    alternate: str = "100003",
) -> None:
    accounts.authorize(
        ctx, ref=str(account_id), staff=admin, role="administrator", by=head, reference="AUTH/1"
    )
    accounts.authorize(
        ctx, ref=str(account_id), staff=alternate, role="alternate", by=head, reference="AUTH/2"
    )


AUTHORITY_DUTIES = ("decide-unapproved", "acknowledge", "authorize-declared")


def settle_authority(ctx: Any) -> int:
    """Withdraw the head's decision, acknowledgement and authorize-declared duties (issue 17):
    for tests about other mechanics (reminder stages, outages), whose counts predate them; those
    duties have their own tests in tests/test_authority.py."""
    from sqlalchemy import select
    from sqlmodel import col

    from models.tables import Obligation
    from services import obligations

    keys = ctx.session.execute(
        select(col(Obligation.key)).where(
            col(Obligation.state) == "open", col(Obligation.kind).in_(AUTHORITY_DUTIES)
        )
    ).scalars()
    return obligations.withdraw_keys(ctx, list(keys), reason="not under test", actor="test")


def declare(ctx: Any, account_id: int, admin: str = "100002", alternate: str = "100003") -> None:
    """The account's administrator and alternate declared, as an import (or the upgrade that
    turned import grants into declarations, migration 0010) writes them: rows only, no duty."""
    from models.tables import DeclaredPerson

    for role, index in (("administrator", admin), ("alternate", alternate)):
        ctx.session.add(
            DeclaredPerson(
                account_id=account_id,
                staff_index=index,
                role=role,
                declared_by="100001",
                declared_at=T0,
                source="3.4 inventory import, row 1",
            )
        )
    ctx.session.flush()


def hr(ctx: Any, *events: tuple[str, str, str, dt.date, str | None]) -> None:
    """HR events (event id, type, staff, effective day, new entity) recorded as the intake
    records them, then applied as far as they are due."""
    from models.hr import EventIn
    from services import separation

    separation.record(ctx, [EventIn(*event) for event in events], source="cli")
    separation.apply_due(ctx)


def acting(
    ctx: Any,
    staff: str,
    *,
    by: str,
    ends_on: dt.date | None,
    starts_on: dt.date | None = None,
    code: str = "OHCHR",
) -> None:
    """`staff` appointed officer-in-charge of `code` by `by` (3.1), until `ends_on`."""
    entities.appoint(
        ctx,
        code=code,
        staff_index=staff,
        role="officer-in-charge",
        by=by,
        starts_on=starts_on,
        ends_on=ends_on,
    )
