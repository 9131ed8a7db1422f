"""The unit of work every use case runs in: one session, one effective time, one audit trail."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from database import transaction
from models.clock import ensure_utc, system_now
from models.errors import NotAuthorized
from models.settings import Settings
from services.audit import Auditor, audit_key

T = TypeVar("T")


@dataclass
class Ctx:
    """What a use case needs: the session, `now` (the effective time, `--as-of`), the real time of
    recording, the settings and the auditor."""

    session: Session
    now: dt.datetime
    recorded_at: dt.datetime
    settings: Settings
    auditor: Auditor

    def audit(
        self,
        *,
        actor: str,
        action: str,
        subject: str,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        outcome: str = "done",
    ) -> None:
        self.auditor.append(
            session=self.session,
            actor=actor,
            action=action,
            subject=subject,
            effective_at=self.now,
            recorded_at=self.recorded_at,
            before=before,
            after=after,
            outcome=outcome,
        )


@contextmanager
def unit_of_work(
    engine: Engine, settings: Settings, now: dt.datetime | None = None
) -> Iterator[Ctx]:
    """One transaction: everything the use case wrote commits together, or nothing does."""
    recorded = system_now()
    with transaction(engine) as session:
        yield Ctx(
            session=session,
            now=ensure_utc(now or recorded),
            recorded_at=recorded,
            settings=settings,
            auditor=Auditor(audit_key(settings)),
        )


def run(
    engine: Engine, settings: Settings, now: dt.datetime | None, use_case: Callable[[Ctx], T]
) -> T:
    """Run a use case in its own transaction. A refusal for want of authority rolls the work back
    and is then itself recorded in the audit trail, in a transaction of its own."""
    try:
        with unit_of_work(engine, settings, now) as ctx:
            return use_case(ctx)
    except NotAuthorized as refusal:
        with unit_of_work(engine, settings, now) as ctx:
            ctx.audit(
                actor=refusal.actor,
                action=refusal.action,
                subject=refusal.subject,
                after={"refused": str(refusal)},
                outcome="refused",
            )
        raise
