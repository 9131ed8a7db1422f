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
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import Session, col

from models.clock import ensure_utc, iso
from models.errors import CheckFailed, Refused
from models.settings import Settings
from models.tables import AuditEvent

GENESIS = "0" * 64
_LOCK_ID = 0x536D676F  # "Smgo": the advisory lock that serializes audit appends on PostgreSQL


def audit_key(settings: Settings) -> bytes:
    """The chain's HMAC key: SMGOV_AUDIT_KEY, or a random key kept in a 0600 file under home."""
    if settings.audit_key is not None:
        return settings.audit_key.get_secret_value().encode()
    path: Path = settings.home_dir / "audit.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip().encode()


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "seq": event.seq,
        "actor": event.actor,
        "action": event.action,
        "subject": event.subject,
        "outcome": event.outcome,
        "before": event.before,
        "after": event.after,
        "recorded_at": iso(event.recorded_at),
        "effective_at": iso(event.effective_at),
        "prev_hash": event.prev_hash,
    }
    return json.dumps(body, sort_keys=True, ensure_ascii=False).encode()


def _digest(key: bytes, event: AuditEvent) -> str:
    return hmac.new(key, _canonical(event), hashlib.sha256).hexdigest()


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
    ) -> AuditEvent:
        bind = session.get_bind()
        if bind.dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        head = session.execute(
            select(col(AuditEvent.seq), col(AuditEvent.hash))
            .order_by(col(AuditEvent.seq).desc())
            .limit(1)
        ).first()
        seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
        event = AuditEvent(
            seq=seq,
            actor=actor[:40],
            action=action,
            subject=subject[:100],
            outcome=outcome,
            before=_dump(before),
            after=_dump(after),
            recorded_at=ensure_utc(recorded_at),
            effective_at=ensure_utc(effective_at),
            prev_hash=prev,
            hash="",
        )
        event.hash = _digest(self.key, event)
        session.add(event)
        session.flush()
        return event


def checkpoint(*, session: Session) -> str:
    """The head of the chain as `SEQ:HASH`, to keep somewhere the database cannot reach."""
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
        if not hmac.compare_digest(_digest(key, event), event.hash):
            raise CheckFailed(f"audit event {event.seq}: hash does not match its content")
        expected_prev = event.hash
        expected_seq += 1
        count += 1
        seen[event.seq] = event.hash
    if checkpoint_text is not None:
        seq_text, _, hash_text = checkpoint_text.strip().partition(":")
        if not seq_text.isdigit() or len(hash_text) != 64:
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
    return int(session.execute(select(func.count()).select_from(AuditEvent)).scalar_one())
