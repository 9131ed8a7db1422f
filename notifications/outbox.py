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

import collections
import contextlib
import datetime as dt
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import SingletonThreadPool, StaticPool
from sqlmodel import Session, col

from database import among, insert_rows
from models.clock import ensure_utc, iso, system_now
from models.errors import NotFound
from models.settings import Settings
from models.tables import Outbox
from notifications.channels import (
    Channel,
    Delivery,
    EmailChannel,
    Finish,
    Outgoing,
    Staged,
    channels_from,
)
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
    accepted message is recorded before the next is handed over: a crash repeats only the one
    in flight.)"""
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

    Claims are taken BATCH at a time, each for `claim_lease_seconds` of real time, and the claim
    on every message the run still holds is extended (one statement) whenever less than 80% of
    it is left, so a message is never handed to a connection on a claim about to lapse.

    E-mail goes over up to `smtp_connections` SMTP connections at once, each in a thread of its
    own taking the claimed messages in turn; the first opens before the others are tried, and a
    connection the server will not take (421, refused) leaves the work to fewer. Each thread
    prepares its next message on its own connection, but hands it over (the line that ends an
    SMTP message; a Teams post) and records the outcome in one turn that no other thread enters
    meanwhile: at any moment at most one message is with the server and not yet recorded, so a
    process killed at any point repeats at most that one, with its Message-ID. Channels given by
    the caller are used as they are, on one connection, and stay open (they are the caller's to
    close)."""
    worker = f"{socket.gethostname()}:{uuid.uuid4().hex[:12]}"
    run = _Run(engine, settings, worker=worker, now=now, only=only)
    first: Mapping[str, Channel] = channels_from(settings) if channels is None else channels
    opened = {id(c): c for c in first.values()} if channels is None else {}  # to close
    threads: list[threading.Thread] = []
    try:
        row = run.take()
        if row is None:
            return run.report
        mail = first.get("email")
        if channels is None and isinstance(mail, EmailChannel) and mail.open():
            # the first connection is up: more, as many as the setting and the work allow
            for _ in range(min(_pool_size(engine, settings), run.waiting() + 1) - 1):
                more = EmailChannel(settings)
                opened[id(more)] = more
                chans = {**first, "email": more}  # Teams: the run's one session, shared
                threads.append(threading.Thread(target=run.pooled, args=(chans,), daemon=True))
            run.live += len(threads)
            for thread in threads:
                thread.start()
        run.work(first, row)
    except BaseException:
        run.stop = True  # the other threads end at their next message
        raise
    finally:
        for thread in threads:
            thread.join()
        for channel in opened.values():  # given ones: the caller's
            close = getattr(channel, "close", None)
            if close is not None:
                close()
    if run.error is not None:
        raise run.error
    return run.report


def _pool_size(engine: Engine, settings: Settings) -> int:
    """How many SMTP connections a run may open: the setting, unless the database is one
    connection shared by every thread (SQLite in memory), where one at a time is all it takes."""
    if isinstance(engine.pool, (StaticPool, SingletonThreadPool)):
        return 1
    return settings.smtp_connections


class _Run:
    """One delivery run's shared state: the claimed messages not yet handed out (taken in
    turn by the run's threads), the claim's expiry, the turn in which a message is handed over
    and recorded, and the report."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        worker: str,
        now: dt.datetime,
        only: set[int] | None,
    ) -> None:
        self.engine, self.settings, self.worker, self.now, self.only = (
            engine,
            settings,
            worker,
            now,
            only,
        )
        self.lease = dt.timedelta(seconds=settings.claim_lease_seconds)
        self.report = DeliveryReport()
        self.queue: collections.deque[_Row] = collections.deque()
        self.held: set[int] = set()  # claimed and not yet recorded: queued or being sent
        self.tried: set[int] = set()
        self.until = system_now()
        self.lock = threading.Lock()  # the queue, the claim
        self.turn = threading.Lock()  # hand a message over and record the outcome
        self.live = 1  # threads still taking messages
        self.stop = False
        self.error: BaseException | None = None

    def waiting(self) -> int:
        with self.lock:
            return len(self.queue)

    def take(self) -> _Row | None:
        """The next message to send, its claim fresh; None when there is none left (the thread
        then ends)."""
        with self.lock:
            while not self.stop:
                if not self.queue:
                    until = system_now() + self.lease
                    claimed = _claim(
                        self.engine, worker=self.worker, now=self.now, until=until, only=self.only
                    )
                    fresh = [r for r in claimed if r.id not in self.tried]
                    if not fresh:
                        break
                    self.queue.extend(fresh)
                    self.held.update(r.id for r in fresh)
                    self.until = until
                elif self.until - system_now() < self.lease * 0.8:
                    self.until = system_now() + self.lease
                    ours = _renew(
                        self.engine, ids=sorted(self.held), worker=self.worker, until=self.until
                    )
                    lost = {r.id for r in self.queue} - ours
                    self.queue = collections.deque(r for r in self.queue if r.id in ours)
                    self.held -= lost
                    continue
                row = self.queue.popleft()
                self.tried.add(row.id)
                return row
            self.live -= 1
            return None

    def give_back(self, row: _Row) -> bool:
        """A thread whose connection the server would not take leaves its message to the
        others and ends, if others there are."""
        with self.lock:
            if self.live <= 1:
                return False
            self.live -= 1
            self.queue.appendleft(row)
            return True

    def work(self, chans: Mapping[str, Channel], row: _Row | None) -> None:
        """One connection's loop: prepare a message, then hand it over and record the outcome
        in the run's turn."""
        while row is not None:
            begun = self._begin(chans, row)
            if isinstance(begun, Delivery) and begun.unconnected and self.give_back(row):
                return
            with self.turn:
                result = begun if isinstance(begun, Delivery) else begun()
                self._record(row, result)
            row = self.take()

    def pooled(self, chans: Mapping[str, Channel]) -> None:
        """A thread of the pool: its connection first (none: it leaves the work to the
        others), then the loop; an error ends the run (raised by `deliver`)."""
        try:
            mail = chans["email"]
            if isinstance(mail, EmailChannel) and not mail.open():
                with self.lock:
                    self.live -= 1
                return
            self.work(chans, self.take())
        except BaseException as exc:
            with self.lock:
                self.error = self.error or exc
                self.stop = True

    def _begin(self, chans: Mapping[str, Channel], row: _Row) -> Delivery | Finish:
        channel = chans.get(row.channel)
        if channel is None:
            return Delivery(False, f"unknown channel {row.channel}")
        message = Outgoing(
            row.message_id,
            row.recipient,
            row.subject,
            expand_links(row.body, self.settings),
            rich=expand_links(row.rich, self.settings) if row.rich else None,
            language=row.language,
        )
        if isinstance(channel, Staged):
            return channel.begin(message)
        return lambda: channel.send(message)

    def _record(self, row: _Row, result: Delivery) -> None:
        status = _settle(
            self.engine,
            row=row,
            worker=self.worker,
            ok=result.ok,
            detail=result.detail,
            now=self.now,
            max_attempts=self.settings.outbox_max_attempts,
        )
        with self.lock:
            self.held.discard(row.id)
        if status == "sent":
            self.report.sent += 1
            self.report.ids.append(row.id)
        elif status == "dead":
            self.report.dead += 1
        elif status == "failed":
            self.report.failed += 1


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
