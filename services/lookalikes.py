"""Look-alike warnings (issue 18): a handle that passes for another entity's official handle
(models.lookalike: Unicode skeletons, one edit away) is named in `verify` and in the 3.2(a)
request survey, so an impersonation — or a confusing new account — is seen before it misleads."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import col

from models.lookalike import lookalikes
from models.tables import Account
from services.context import Ctx

#: The states in which an account speaks for the Organization (services.accounts.OFFICIAL_STATES).
OFFICIAL = ("proposed", "approved", "active", "under-reassessment")


def handle_of_url(url: str) -> str:
    """The handle a normalised account URL ends with (`https://x.com/unhumanrights` ->
    `unhumanrights`)."""
    return url.rstrip("/").rsplit("/", 1)[-1].lstrip("@")


def warnings_for(
    ctx: Ctx, *, platform: str, handle: str, entity: str | None
) -> list[dict[str, Any]]:
    """The official handles on `platform` of entities other than `entity` that `handle`
    resembles: `{"handle", "entity", "why"}` each, at most three."""
    rows = ctx.session.execute(
        select(col(Account.handle), col(Account.entity_code), col(Account.platform)).where(
            col(Account.platform) == platform,
            col(Account.state).in_(OFFICIAL),
            col(Account.entity_code) != (entity or ""),
        )
    ).all()
    officials = [(str(h).lstrip("@"), str(e), str(p)) for h, e, p in rows]
    return [
        {"handle": r.handle, "entity": r.entity, "why": r.why}
        for r in lookalikes(handle.lstrip("@"), officials)
    ]
