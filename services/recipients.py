"""Who hears of what, and the once-only writing of messages to the outbox.

`Directory` resolves people (staff index numbers, the head of entity, the registry team, the
Department of Safety and Security, an entity's Teams channel) to recipients in one or two queries
for a whole batch. `write_once` writes one message per recipient for a batch of items, each item
keyed so that it is written once whatever runs again or concurrently (the `notice` table)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from sqlalchemy import select
from sqlmodel import col

from database import among, chunks, insert_rows
from models.tables import Notice, Staff
from notifications import outbox
from notifications.channels import TeamsChannel
from notifications.i18n import language_of
from notifications.templates import Rendered
from services.authority import heads_of
from services.context import Ctx

P = TypeVar("P")
NOTICE = Notice.__table__  # type: ignore[attr-defined]  # SQLModel types its table loosely


class Recipient(NamedTuple):
    """Who receives a message (a named tuple: hashed for every line of a sweep)."""

    channel: str  # "email" or "teams"
    address: str  # an e-mail address, or an apprise tag
    staff_index: str | None
    language: str


class Directory:
    """Contacts for a batch: heads of the given entities and the given people, loaded at once."""

    def __init__(self, ctx: Ctx, *, entities: Iterable[str], people: Iterable[str] = ()) -> None:
        self._settings = ctx.settings
        self.heads = heads_of(session=ctx.session, entity_codes=entities, at=ctx.now)
        wanted = sorted({p for p in people if p} | set(self.heads.values()))
        # (e-mail, language, status) by index: plain rows, a sweep reads thousands of people
        self.staff: dict[str, tuple[str, str | None, str]] = {}
        self.names: dict[str, str] = {}
        for batch in chunks(wanted):
            for index, email, language, status, name in ctx.session.execute(
                select(
                    col(Staff.index_number),
                    col(Staff.email),
                    col(Staff.language),
                    col(Staff.status),
                    col(Staff.name),
                ).where(among(ctx.session, col(Staff.index_number), batch))
            ):
                self.staff[index] = (email, language, status)
                self.names[index] = name
        self.tags = TeamsChannel(ctx.settings).tags()
        # Answers are memoised: a sweep asks for the same few thousand people 300k times.
        self._people: dict[str | None, list[Recipient]] = {}
        self._teams: dict[str, list[Recipient]] = {}
        self._registry: list[Recipient] | None = None

    def head(self, entity_code: str) -> str | None:
        return self.heads.get(entity_code)

    def name(self, index: str | None) -> str | None:
        """A staff member's name as the registry holds it (None for the registry team)."""
        return self.names.get(index or "")

    def reaches(self, index: str | None) -> bool:
        """Whether `index` is an active staff member with an address (else their messages go to
        the registry team, if it is configured)."""
        staff = self.staff.get(index or "")
        return staff is not None and staff[2] == "active"

    def person(self, index: str | None) -> list[Recipient]:
        """A staff member by e-mail; the registry team when nobody active is named."""
        found = self._people.get(index)
        if found is None:
            staff = self.staff.get(index or "")
            if index is None or staff is None or staff[2] != "active":
                found = self.registry()
            else:
                found = [Recipient("email", staff[0], index, language_of(staff[1]))]
            self._people[index] = found
        return found

    def registry(self) -> list[Recipient]:
        if self._registry is not None:
            return self._registry
        found = []
        if self._settings.registry_email:
            found.append(Recipient("email", self._settings.registry_email, None, "en"))
        if "registry" in self.tags:
            found.append(Recipient("teams", "registry", None, "en"))
        self._registry = found
        return found

    def security(self) -> list[Recipient]:
        """The Department of Safety and Security (4.1(d)); none when unset — never a stand-in."""
        if self._settings.security_email:
            return [Recipient("email", self._settings.security_email, None, "en")]
        return []

    def teams(self, entity_code: str) -> list[Recipient]:
        found = self._teams.get(entity_code)
        if found is None:
            tag = f"entity-{entity_code.lower()}"
            found = self._teams[entity_code] = (
                [Recipient("teams", tag, None, "en")] if tag in self.tags else []
            )
        return found


@dataclass(frozen=True)
class Item(Generic[P]):
    """One thing to tell one recipient, written at most once under `key`."""

    key: str
    payload: P
    obligation_id: int | None = None
    stage: int | None = None


def write_once(
    ctx: Ctx,
    items: Mapping[Recipient, Sequence[Item[P]]],
    render: Callable[[list[P], str], Rendered],
) -> tuple[int, int]:
    """One outbox message per recipient holding its items not written before; returns
    (messages, items) written."""
    keys = [item.key[:400] for batch in items.values() for item in batch]
    existing: set[str] = set()
    for chunk in chunks(keys):
        existing.update(
            ctx.session.execute(
                select(col(Notice.key)).where(among(ctx.session, col(Notice.key), chunk))
            ).scalars()
        )
    fresh: dict[Recipient, list[Item[P]]] = {}
    for rcpt, batch in items.items():
        new = []
        for item in batch:  # each key once, even given twice (two people, one stand-in)
            if item.key[:400] not in existing:
                existing.add(item.key[:400])
                new.append(item)
        if new:
            fresh[rcpt] = new
    ids = _write(ctx, {rcpt: [item.payload for item in new] for rcpt, new in fresh.items()}, render)
    if not ids:
        return 0, 0
    insert_rows(
        ctx.session,
        NOTICE,
        [
            {
                "key": item.key[:400],
                "obligation_id": item.obligation_id,
                "stage": item.stage,
                "outbox_id": ids[rcpt],
            }
            for rcpt, new in fresh.items()
            for item in new
        ],
    )
    return len(ids), sum(len(new) for new in fresh.values())


def write_digests(
    ctx: Ctx,
    items: Mapping[Recipient, Sequence[P]],
    render: Callable[[list[P], str], Rendered],
) -> tuple[int, int]:
    """One outbox message per recipient holding all its payloads (the caller guarantees they
    were not told before); returns (messages, payloads) written. Each message is rendered as it
    is written: on PostgreSQL the rows stream to the server (COPY), which stores one digest
    while the next renders."""
    batches = [(rcpt, list(batch)) for rcpt, batch in items.items() if batch]
    outbox.insert_many(
        session=ctx.session,
        rows=(_message(ctx, rcpt, batch, render) for rcpt, batch in batches),
        ids=False,
    )
    return len(batches), sum(len(batch) for _, batch in batches)


def _message(
    ctx: Ctx, rcpt: Recipient, batch: list[P], render: Callable[[list[P], str], Rendered]
) -> dict[str, Any]:
    """The outbox row of one message to `rcpt` holding `batch`."""
    message = render(batch, rcpt.language)
    return outbox.message_values(
        channel=rcpt.channel,
        recipient=rcpt.address,
        subject=message.subject,
        body=message.text,
        rich=message.card if rcpt.channel == "teams" else message.html,
        now=ctx.now,
        recipient_index=rcpt.staff_index,
        language=rcpt.language,
    )


def _write(
    ctx: Ctx,
    items: Mapping[Recipient, Sequence[P]],
    render: Callable[[list[P], str], Rendered],
) -> dict[Recipient, int]:
    """Render and insert one message per recipient with payloads; their outbox ids."""
    rows = {
        rcpt: _message(ctx, rcpt, list(batch), render) for rcpt, batch in items.items() if batch
    }
    if not rows:
        return {}
    ids = outbox.insert_many(session=ctx.session, rows=list(rows.values()))
    return {rcpt: ids[row["message_id"]] for rcpt, row in rows.items()}
