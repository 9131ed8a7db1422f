"""What a duty is about, named for people: an account by platform, handle and address; a request
by its number, platform and handle; an entity by its name. One query per kind of subject for a
whole batch (a sweep names thousands)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlmodel import col

from database import chunks
from models.platforms import PLATFORMS
from models.tables import Account, AccountRequest, Authorization, Entity
from notifications.i18n import M, Msg
from services.context import Ctx


@dataclass(frozen=True)
class Named:
    """A subject as people read it."""

    what: Msg | str
    account_id: int | None = None
    request_id: int | None = None
    url: str | None = None


def platform_label(code: str, name: str | None = None) -> str:
    if code == "other" and name:
        return name
    found = PLATFORMS.get(code)
    return found.label if found else code


def _address(url: str | None) -> str | None:
    if not url:
        return None
    return url if "://" in url else f"https://{url}"


def account_words(platform: str, platform_name: str | None, handle: str, url: str | None) -> str:
    """ "X UNHumanRights — https://x.com/UNHumanRights" (brand, handle and address are names: the
    same in every language)."""
    label = platform_label(platform, platform_name)
    address = _address(url)
    return f"{label} {handle} — {address}" if address else f"{label} {handle}"


def _ids(subjects: Iterable[str], prefix: str) -> list[int]:
    found = set()
    for subject in subjects:
        kind, _, number = subject.partition(":")
        if kind == prefix and number.isdigit():
            found.add(int(number))
    return sorted(found)


def name_subjects(ctx: Ctx, subjects: Iterable[str]) -> dict[str, Named]:
    """Each subject key (`account:15`, `request:3`, `entity:OHCHR`) named for people."""
    wanted = set(subjects)
    named: dict[str, Named] = {}
    accounts = _ids(wanted, "account")
    for batch in chunks(accounts):
        for aid, platform, pname, handle, url in ctx.session.execute(
            select(
                col(Account.id),
                col(Account.platform),
                col(Account.platform_name),
                col(Account.handle),
                col(Account.url),
            ).where(col(Account.id).in_(batch))
        ):
            named[f"account:{aid}"] = Named(
                account_words(platform, pname, handle, url), account_id=aid, url=_address(url)
            )
    requests = _ids(wanted, "request")
    for batch in chunks(requests):
        for rid, platform, handle in ctx.session.execute(
            select(
                col(AccountRequest.id), col(AccountRequest.platform), col(AccountRequest.handle)
            ).where(col(AccountRequest.id).in_(batch))
        ):
            named[f"request:{rid}"] = Named(
                M(
                    "request {number} for a new account: {platform} {handle}",
                    number=str(rid),
                    platform=platform_label(platform),
                    handle=handle,
                ),
                request_id=rid,
            )
    codes = sorted(s.partition(":")[2] for s in wanted if s.startswith("entity:"))
    if codes:
        for code, name in ctx.session.execute(
            select(col(Entity.code), col(Entity.name)).where(col(Entity.code).in_(codes))
        ):
            named[f"entity:{code}"] = Named(
                M("all accounts of {name} ({code})", name=name, code=code)
            )
    for subject in wanted - set(named):
        named[subject] = Named(subject)
    return named


def entity_names(ctx: Ctx, codes: Iterable[str]) -> dict[str, str]:
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    return {
        code: name
        for code, name in ctx.session.execute(
            select(col(Entity.code), col(Entity.name)).where(col(Entity.code).in_(wanted))
        )
    }


def roles_on_accounts(ctx: Ctx, account_ids: Iterable[int]) -> dict[tuple[int, str], str]:
    """(account id, staff index) -> current written authorization role (3.7)."""
    ids = sorted(set(account_ids))
    found: dict[tuple[int, str], str] = {}
    for batch in chunks(ids):
        for aid, staff, role in ctx.session.execute(
            select(
                col(Authorization.account_id),
                col(Authorization.staff_index),
                col(Authorization.role),
            ).where(
                col(Authorization.account_id).in_(batch),
                col(Authorization.revoked_at).is_(None),
            )
        ):
            found[(aid, staff)] = role
    return found
