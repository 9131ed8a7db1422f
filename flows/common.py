"""What every flow needs: settings, one engine per run, and the flow's effective time."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator

from prefect import task
from sqlalchemy.engine import Engine

from database import make_engine
from models.clock import parse_instant, system_now
from models.settings import Settings


def effective_time(as_of: str | None) -> dt.datetime:
    """A flow's `now`: the `as_of` parameter (ISO text, as deployments pass it) or the clock."""
    return parse_instant(as_of) if as_of else system_now()


@contextlib.contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.resolved_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextlib.contextmanager
def quiet_heartbeat() -> Iterator[None]:
    """Run flows in this process without the run heartbeat thread (it adds ~1 s per sync run)."""
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def deliver_due(as_of: str | None) -> dict[str, int]:
    """Deliver everything due in the outbox (the body of every flow's last task)."""
    from notifications.outbox import deliver

    settings = Settings()
    with engine_for(settings) as engine:
        report = deliver(engine, settings, now=effective_time(as_of))
    return {"sent": report.sent, "failed": report.failed + report.dead, "dead": report.dead}


def apply_hr_events(as_of: str | None) -> dict[str, int]:
    """Act on every HR event due (4.2), in three transactions, most urgent first:
    1. the authorizations are revoked (and the people's status set) — privileges are withdrawn
       without waiting for what follows;
    2. the follow-up: handover duties, reopened entry duties and orphan alerts;
    3. the first reminders of the duties step 2 opened.
    Should a later step fail, nothing is lost: step 2 picks up every event step 1 left
    `revoked` at the next run (this task retries, and every sweep runs it), and the duties
    opened are due, so the next sweep tells them (once, as always)."""
    from services.context import unit_of_work
    from services.reminders import queue_due
    from services.separation import follow_up, revoke_due

    settings = Settings()
    now = effective_time(as_of)
    with engine_for(settings) as engine:
        with unit_of_work(engine, settings, now) as ctx:
            revoked = revoke_due(ctx)
        with unit_of_work(engine, settings, now) as ctx:
            report = follow_up(ctx)
        queued = 0
        if report.obligations:
            with unit_of_work(engine, settings, now) as ctx:
                queued = queue_due(ctx, only=report.obligations).queued
    return {
        "events": revoked.applied,
        "revoked": revoked.revoked,
        "orphaned": len(report.orphaned),
        "alerts": report.alerts + queued,
    }


#: The tasks every process flow ends with (defined once, used by flows/*.py).
apply_events = task(name="apply-hr-events", retries=2, retry_delay_seconds=5)(apply_hr_events)
deliver_outbox = task(name="deliver-outbox", retries=1, retry_delay_seconds=5)(deliver_due)
