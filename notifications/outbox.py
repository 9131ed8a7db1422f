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

import datetime as dt
import socket
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col

from models.clock import ensure_utc, iso, system_now
from models.errors import NotFound
from models.settings import Settings
from models.tables import Outbox
from notifications.channels import Channel, Outgoing, channels_from
from notifications.signing import expand_links
from services.db import among, insert_rows, transaction

BATCH = 25
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


def _claim(
    engine: Engine,
    *,
    worker: str,
    now: dt.datetime,
    real_now: dt.datetime,
    lease: dt.timedelta,
    only: set[int] | None,
) -> list[Outbox]:
    with transaction(engine) as session:
        query = (
            select(Outbox)
            .where(
                col(Outbox.status).in_(("pending", "failed", "sending")),
                col(Outbox.next_attempt_at) <= now,
                or_(col(Outbox.claimed_until).is_(None), col(Outbox.claimed_until) < real_now),
            )
            .order_by(col(Outbox.id))
            .limit(BATCH)
        )
        if only is not None:
            query = query.where(col(Outbox.id).in_(only))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        rows = list(session.execute(query).scalars().all())
        for row in rows:
            row.status = "sending"
            row.claimed_by = worker
            row.claimed_until = real_now + lease
            session.add(row)
        return rows


def _renew(engine: Engine, *, row_id: int, worker: str, lease: dt.timedelta) -> bool:
    """Extend our claim right before sending; false if it lapsed and another deliverer took it.
    (A claim covers a batch; a slow server must not let a second deliverer send the same rows.)"""
    with transaction(engine) as session:
        result = session.exec(
            update(Outbox)
            .where(col(Outbox.id) == row_id, col(Outbox.claimed_by) == worker)
            .values(claimed_until=system_now() + lease)
        )
        return bool(result.rowcount)


def _settle(
    engine: Engine,
    *,
    row_id: int,
    worker: str,
    ok: bool,
    detail: str,
    now: dt.datetime,
    max_attempts: int,
) -> str:
    with transaction(engine) as session:
        row = session.get(Outbox, row_id)
        if row is None or row.claimed_by != worker:
            return "lost-claim"
        row.attempts += 1
        row.claimed_by = None
        row.claimed_until = None
        if ok:
            row.status = "sent"
            row.sent_at = system_now()
            row.last_error = None
        else:
            row.last_error = detail[:500]
            if row.attempts >= max_attempts:
                row.status = "dead"
            else:
                row.status = "failed"
                row.next_attempt_at = ensure_utc(now) + backoff(row.attempts)
        session.add(row)
        return row.status


def deliver(
    engine: Engine,
    settings: Settings,
    *,
    now: dt.datetime,
    channels: Mapping[str, Channel] | None = None,
    only: set[int] | None = None,
) -> DeliveryReport:
    """Send every message that is due as of `now` (or only the ids in `only`)."""
    worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"
    chans = channels if channels is not None else channels_from(settings)
    lease = dt.timedelta(seconds=settings.claim_lease_seconds)
    report = DeliveryReport()
    tried: set[int] = set()
    while True:
        rows = [
            r
            for r in _claim(
                engine, worker=worker, now=now, real_now=system_now(), lease=lease, only=only
            )
            if r.id not in tried
        ]
        if not rows:
            return report
        for row in rows:
            assert row.id is not None
            tried.add(row.id)
            if not _renew(engine, row_id=row.id, worker=worker, lease=lease):
                continue
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
                row_id=row.id,
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
