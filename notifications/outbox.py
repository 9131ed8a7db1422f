"""The outbox: messages are written in the transaction that caused them and delivered after commit.

Delivery claims rows so that any number of concurrent deliverers send each message once: on
PostgreSQL with `FOR UPDATE SKIP LOCKED`, on SQLite under its write lock (BEGIN IMMEDIATE). A claim
lasts `claim_lease_seconds` of *real* time; a deliverer that dies leaves its claim to lapse and the
next one takes the message over. The message keeps its Message-ID, so the one message that can be
repeated (accepted by the mail server, then a crash before the fact was committed) folds in mail
clients: at least once, never two different copies. Failures back off exponentially (5 minutes,
doubling, at most 6 hours, counted on the caller's clock, so `--as-of` runs retry in simulated
time) and are dead-lettered after `outbox_max_attempts`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col

from database import among, insert_rows
from models.clock import ensure_utc, iso, system_now
from models.errors import NotFound
from models.settings import Settings
from models.tables import Outbox
from notifications.channels import Channel, Outgoing, channels_from
from notifications.signing import expand_links

BATCH = 50
FIRST_RETRY = dt.timedelta(minutes=5)
MAX_RETRY = dt.timedelta(hours=6)


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@smgov.local>"


def message_values(
    *,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    now: dt.datetime,
    rich: str | None = None,
    recipient_index: str | None = None,
    language: str = "en",
    message_id: str | None = None,
) -> dict[str, Any]:
    """The column values of a new pending message (its Message-ID fixed now, for ever)."""
    return {
        "message_id": message_id or new_message_id(),
        "channel": channel,
        "recipient": recipient,
        "recipient_index": recipient_index,
        "language": language,
        "subject": subject[:300],
        "body": body,
        "rich": rich,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": ensure_utc(now),
        "created_at": ensure_utc(now),
    }


OUTBOX = Outbox.__table__  # type: ignore[attr-defined]  # SQLModel types its table loosely


def insert_many(
    *, session: Session, rows: Iterable[dict[str, Any]], ids: bool = True
) -> dict[str, int]:
    """Write messages in the caller's transaction, set-based; returns their ids by Message-ID
    (none when `ids` is false: a sweep has no use for them, and its rows, which may be produced
    as they are written, go to the database in one stream)."""
    if not ids:
        insert_rows(session, OUTBOX, rows)
        return {}
    found: dict[str, int] = {}
    listed = list(rows)
    for start in range(0, len(listed), 1000):
        chunk = listed[start : start + 1000]
        insert_rows(session, OUTBOX, chunk)
        for message_id, oid in session.execute(
            select(col(Outbox.message_id), col(Outbox.id)).where(
                among(session, col(Outbox.message_id), [r["message_id"] for r in chunk])
            )
        ):
            found[message_id] = oid
    return found


def backoff(attempts: int) -> dt.timedelta:
    """Wait before retry number `attempts` (1-based): 5 min, 10, 20, ... capped at 6 hours."""
    factor: int = 2 ** max(attempts - 1, 0)
    return min(FIRST_RETRY * factor, MAX_RETRY)


@dataclass
class DeliveryReport:
    sent: int = 0
    failed: int = 0
    dead: int = 0
    ids: list[int] = field(default_factory=list)


_Row = Any  # a claimed row: the columns of _CLAIMED
_CLAIMED = (
    OUTBOX.c.id,
    OUTBOX.c.message_id,
    OUTBOX.c.channel,
    OUTBOX.c.recipient,
    OUTBOX.c.subject,
    OUTBOX.c.body,
    OUTBOX.c.rich,
    OUTBOX.c.language,
    OUTBOX.c.attempts,
)


def _claim(
    engine: Engine,
    *,
    worker: str,
    now: dt.datetime,
    until: dt.datetime,
    only: set[int] | None,
) -> list[_Row]:
    """Claim up to BATCH due messages until `until` (real time), in one short transaction."""
    with _quick(engine) as conn:
        query = (
            select(*_CLAIMED)
            .where(
                OUTBOX.c.status.in_(("pending", "failed", "sending")),
                OUTBOX.c.next_attempt_at <= now,
                or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < system_now()),
            )
            .order_by(OUTBOX.c.id)
            .limit(BATCH)
        )
        if only is not None:
            query = query.where(OUTBOX.c.id.in_(only))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(conn.execute(query).all())
        if rows:
            conn.execute(
                update(OUTBOX)
                .where(OUTBOX.c.id.in_([r.id for r in rows]))
                .values(status="sending", claimed_by=worker, claimed_until=until)
            )
        return rows


def _renew(engine: Engine, *, ids: list[int], worker: str, until: dt.datetime) -> set[int]:
    """Extend our claim on the batch's unsent rows; the ids we still hold (a claim that lapsed
    may have been taken over by another deliverer: that row is theirs now)."""
    with _quick(engine) as conn:
        conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id.in_(ids), OUTBOX.c.claimed_by == worker)
            .values(claimed_until=until)
        )
        return set(
            conn.execute(
                select(OUTBOX.c.id).where(OUTBOX.c.id.in_(ids), OUTBOX.c.claimed_by == worker)
            ).scalars()
        )


def _settle(
    engine: Engine,
    *,
    row: _Row,
    worker: str,
    ok: bool,
    detail: str,
    now: dt.datetime,
    max_attempts: int,
) -> str:
    """Record one message's outcome in one statement, if the claim is still ours. (Every
    accepted message is recorded before the next is sent: a crash repeats only the one in
    flight.)"""
    attempts = row.attempts + 1  # unchanged since the claim: the row is ours
    values: dict[str, Any] = {"attempts": attempts, "claimed_by": None, "claimed_until": None}
    if ok:
        values.update(status="sent", sent_at=system_now(), last_error=None)
    elif attempts >= max_attempts:
        values.update(status="dead", last_error=detail[:500])
    else:
        values.update(
            status="failed",
            last_error=detail[:500],
            next_attempt_at=ensure_utc(now) + backoff(attempts),
        )
    with _quick(engine) as conn:
        result = conn.execute(
            update(OUTBOX)
            .where(OUTBOX.c.id == row.id, OUTBOX.c.claimed_by == worker)
            .values(**values)
        )
    return str(values["status"]) if result.rowcount else "lost-claim"


@contextlib.contextmanager
def _quick(engine: Engine) -> Iterator[Connection]:
    """One short bookkeeping transaction (a claim, a renewal, a settlement) on a connection
    checked out for it alone (a connection the database dropped is replaced at checkout). Its
    commit need not wait for the disk (SQLite `synchronous=NORMAL` in WAL mode, PostgreSQL
    `synchronous_commit=off` for this transaction): a process killed at any moment loses none of
    them, and what a power cut could lose is at most the last few — a claim (it lapses anyway)
    or a settlement (the message is sent again, with the same Message-ID: at least once, never
    two different copies)."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                conn.exec_driver_sql("SET LOCAL synchronous_commit TO off")
                yield conn
            return
        raw: Any = conn.connection.dbapi_connection  # a pragma outside any transaction
        raw.execute("PRAGMA synchronous=NORMAL")
        try:
            with conn.begin():
                yield conn
        finally:
            raw.execute("PRAGMA synchronous=FULL")


def deliver(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    channels: Mapping[str, Channel] | None = None,
    only: set[int] | None = None,
) -> DeliveryReport:
    """Send every message that is due as of `now` (or only the ids in `only`).

    Claims are taken BATCH at a time, each for `claim_lease_seconds` of real time, and the whole
    batch's claim is extended (one statement) whenever less than 80% of it is left, so a message
    is never sent on a claim about to lapse; each outcome is recorded before the next message is
    sent. One connection per channel serves the whole run (channels given by the caller stay
    open: they are the caller's to close)."""
    worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"
    chans = channels if channels is not None else channels_from(settings)
    lease = dt.timedelta(seconds=settings.claim_lease_seconds)
    report = DeliveryReport()
    tried: set[int] = set()
    try:
        while True:
            until = system_now() + lease
            claimed = _claim(engine, worker=worker, now=now, until=until, only=only)
            rows = [r for r in claimed if r.id not in tried]
            if not rows:
                return report
            for n, row in enumerate(rows):
                tried.add(row.id)
                if until - system_now() < lease * 0.8:
                    until = system_now() + lease
                    ids = [r.id for r in rows[n:]]
                    held = _renew(engine, ids=ids, worker=worker, until=until)
                    rows[n:] = [r for r in rows[n:] if r.id in held]
                    if row.id not in held:
                        continue
                _deliver_one(engine, row, chans, settings, worker, now, report)
    finally:
        for channel in chans.values() if channels is None else ():  # given ones: the caller's
            close = getattr(channel, "close", None)
            if close is not None:
                close()


def _deliver_one(
    engine: Engine,
    row: _Row,
    chans: Mapping[str, Channel],
    settings: Settings,
    worker: str,
    now: dt.datetime,
    report: DeliveryReport,
) -> None:
    channel = chans.get(row.channel)
    if channel is None:
        ok, detail = False, f"unknown channel {row.channel}"
    else:
        result = channel.send(
            Outgoing(
                row.message_id,
                row.recipient,
                row.subject,
                expand_links(row.body, settings),
                rich=expand_links(row.rich, settings) if row.rich else None,
                language=row.language,
            )
        )
        ok, detail = result.ok, result.detail
    status = _settle(
        engine,
        row=row,
        worker=worker,
        ok=ok,
        detail=detail,
        now=now,
        max_attempts=settings.outbox_max_attempts,
    )
    if status == "sent":
        report.sent += 1
        report.ids.append(row.id)
    elif status == "dead":
        report.dead += 1
    elif status == "failed":
        report.failed += 1


def outbox_view(row: Outbox) -> dict[str, Any]:
    return {
        "id": row.id,
        "message_id": row.message_id,
        "recipient": row.recipient,
        "channel": row.channel,
        "subject": row.subject,
        "status": row.status,
        "attempts": row.attempts,
        "next_attempt_at": iso(row.next_attempt_at),
        "sent_at": iso(row.sent_at),
        "last_error": row.last_error,
    }


def list_messages(*, session: Session, failed: bool = False) -> list[dict[str, Any]]:
    query = select(Outbox).order_by(col(Outbox.id))
    if failed:
        query = query.where(col(Outbox.status).in_(("failed", "dead")))
    return [outbox_view(r) for r in session.execute(query).scalars().all()]


def make_due_again(*, session: Session, now: dt.datetime, message_id: int | None = None) -> int:
    """`smgov outbox retry [ID]`: failed and dead-lettered messages become due now. Attempts are
    kept, so a dead-lettered message that fails again goes straight back to the dead letters."""
    condition: ColumnElement[bool] = col(Outbox.status).in_(("failed", "dead"))
    if message_id is not None:
        if session.get(Outbox, message_id) is None:
            raise NotFound("ID", f"no outbox message {message_id}")
        condition = and_(condition, col(Outbox.id) == message_id)
    result = session.exec(
        update(Outbox).where(condition).values(status="pending", next_attempt_at=ensure_utc(now))
    )
    return int(result.rowcount)
