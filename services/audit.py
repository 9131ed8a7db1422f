"""The audit chain: append-only, keyed (HMAC-SHA256), serialized, verifiable.

Each event's hash covers its own fields and the previous event's hash, so editing, inserting or
deleting a row breaks the chain at that point; deleting the *newest* rows leaves a shorter valid
chain, which `verify` catches against a checkpoint kept elsewhere (`smgov audit checkpoint`).
Appends are serialized: SQLite takes its write lock at BEGIN; PostgreSQL takes a transaction-level
advisory lock, so concurrent writers never fork the chain.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, select, text
from sqlmodel import Session, col

from database import insert_rows
from models.clock import ensure_utc, iso
from models.errors import CheckFailed, Refused
from models.settings import Settings, key_file
from models.tables import AuditEvent

GENESIS = "0" * 64
_LOCK_ID = 0x536D676F  # "Smgo": the advisory lock that serializes audit appends on PostgreSQL
_HEAD = "smgov.audit_head"  # session.info: (transaction, seq, hash) of the last event appended
_PENDING = "smgov.audit_pending"  # session.info: (transaction, rows appended, not yet written)
AUDIT = AuditEvent.__table__  # type: ignore[attr-defined]  # SQLModel types its table loosely


def audit_key(settings: Settings) -> bytes:
    """The chain's HMAC key: SMGOV_AUDIT_KEY, or a random key kept in a 0600 file under home
    (created atomically: concurrent first starts agree on one key)."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    return key_file(settings.home_dir / "audit.key")


_FIELDS = ("seq", "actor", "action", "subject", "outcome", "before", "after", "prev_hash")


def _canonical(event: dict[str, Any]) -> bytes:
    body = {name: event[name] for name in _FIELDS}
    body["recorded_at"] = iso(event["recorded_at"])
    body["effective_at"] = iso(event["effective_at"])
    return json.dumps(body, sort_keys=True, ensure_ascii=False).encode()


def _digest(key: bytes, event: dict[str, Any]) -> str:
    return hmac.new(key, _canonical(event), hashlib.sha256).hexdigest()


def event_hash(key: bytes, event: AuditEvent) -> str:
    """The keyed hash a stored event must carry (what `verify` recomputes)."""
    fields = (*_FIELDS, "recorded_at", "effective_at")
    return _digest(key, {name: getattr(event, name) for name in fields})


def write_pending(session: Session) -> None:
    """Insert the events appended in this transaction and not yet written (one multi-row
    INSERT). Runs before every commit, and before anything here reads the chain."""
    pending = session.info.pop(_PENDING, None)
    if pending and pending[0] is session.get_transaction():
        insert_rows(session, AUDIT, pending[1])


@sa_event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_pending(session)


@sa_event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_HEAD, None)


def _dump(value: dict[str, Any] | None) -> str | None:
    if value is None:
        return None
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Auditor:
    """Appends events with the key in force; the real clock time is passed in with `recorded_at`."""

    key: bytes

    def append(
        self,
        *,
        session: Session,
        actor: str,
        action: str,
        subject: str,
        effective_at: dt.datetime,
        recorded_at: dt.datetime,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        outcome: str = "done",
    ) -> None:
        # The chain's head is read (under the lock) once per transaction, then carried along:
        # a batch of thousands of events costs one query, not one each.
        session.connection()  # begins the transaction if nothing has yet
        transaction = session.get_transaction()
        cached = session.info.get(_HEAD)
        if cached is not None and cached[0] is transaction:
            seq, prev = cached[1] + 1, cached[2]
        else:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
            head = session.execute(
                select(col(AuditEvent.seq), col(AuditEvent.hash))
                .order_by(col(AuditEvent.seq).desc())
                .limit(1)
            ).first()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        row: dict[str, Any] = {
            "seq": seq,
            "actor": actor[:40],
            "action": action,
            "subject": subject[:100],
            "outcome": outcome,
            "before": _dump(before),
            "after": _dump(after),
            "recorded_at": ensure_utc(recorded_at),
            "effective_at": ensure_utc(effective_at),
            "prev_hash": prev,
        }
        row["hash"] = _digest(self.key, row)
        # Written with the transaction's other events in one INSERT (write_pending), not one
        # ORM object each: a batch of 1,000 HR events appends over 10,000 events.
        pending: tuple[Any, list[dict[str, Any]]] | None = session.info.get(_PENDING)
        if pending is None or pending[0] is not transaction:
            pending = session.info[_PENDING] = (transaction, [])
        pending[1].append(row)
        session.info[_HEAD] = (transaction, seq, row["hash"])
        if len(pending[1]) >= 1000:
            write_pending(session)


def checkpoint(*, session: Session) -> str:
    """The head of the chain as `SEQ:HASH`, to keep somewhere the database cannot reach."""
    write_pending(session)
    head = session.execute(
        select(col(AuditEvent.seq), col(AuditEvent.hash))
        .order_by(col(AuditEvent.seq).desc())
        .limit(1)
    ).first()
    if head is None:
        return f"0:{GENESIS}"
    return f"{head[0]}:{head[1]}"


def verify(*, session: Session, key: bytes, checkpoint_text: str | None = None) -> int:
    """Check the whole chain; return the number of events, or raise CheckFailed naming the first
    broken event."""
    write_pending(session)
    expected_prev = GENESIS
    expected_seq = 1
    count = 0
    rows = session.execute(select(AuditEvent).order_by(col(AuditEvent.seq))).scalars()
    seen: dict[int, str] = {}
    for event in rows:
        if event.seq != expected_seq:
            raise CheckFailed(
                f"audit event {expected_seq}: missing (the chain jumps to event {event.seq})"
            )
        if event.prev_hash != expected_prev:
            raise CheckFailed(f"audit event {event.seq}: does not follow event {event.seq - 1}")
        if not hmac.compare_digest(event_hash(key, event), event.hash):
            raise CheckFailed(f"audit event {event.seq}: hash does not match its content")
        expected_prev = event.hash
        expected_seq += 1
        count += 1
        seen[event.seq] = event.hash
    if checkpoint_text is not None:
        seq_text, _, hash_text = checkpoint_text.strip().partition(":")
        if (
            not (seq_text.isascii() and seq_text.isdigit())
            or len(seq_text) > 19
            or len(hash_text) != 64
        ):
            raise Refused("--checkpoint", "must be SEQ:HASH as printed by 'smgov audit checkpoint'")
        seq = int(seq_text)
        if seq > count:
            raise CheckFailed(
                f"audit event {count + 1}: missing (the checkpoint names event {seq}; the chain "
                f"ends at {count})"
            )
        if seq and seen.get(seq) != hash_text:
            raise CheckFailed(f"audit event {seq}: differs from the checkpoint")
    return count


def count_events(*, session: Session) -> int:
    write_pending(session)
    return int(session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())


def key_matches(*, session: Session, key: bytes) -> bool | None:
    """Whether `key` is the key the chain was written with (its first event verifies), or None
    for an empty chain — for `smgov doctor` to report a mismatched SMGOV_AUDIT_KEY or key file
    (two homes on one database) before `audit verify` fails."""
    write_pending(session)
    first = session.execute(select(AuditEvent).order_by(col(AuditEvent.seq)).limit(1)).scalar()
    if first is None:
        return None
    return hmac.compare_digest(event_hash(key, first), first.hash)
