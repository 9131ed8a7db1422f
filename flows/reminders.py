"""The `reminders` flow: the daily sweep of obligations (issue: reminders and escalation).

0. apply every HR event whose effective date has come (flows/separation.py does the same at once
   when an event arrives; the sweep catches future-dated ones on their date);
1. queue: every reminder due as of the run's time, in one set-based pass, written to the outbox as
   one digest per recipient (services.reminders.queue_due) — one transaction;
2. deliver: everything due in the outbox, claimed row by row, sent through apprise
   (notifications.outbox.deliver).
Running it twice for the same time sends nothing the second time.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import apply_events, deliver_outbox, effective_time, engine_for
from models.clock import iso
from models.settings import Settings
from services.context import unit_of_work
from services.inventory import housekeeping
from services.reminders import queue_due


@task(name="queue-reminders", retries=2, retry_delay_seconds=5)
def queue_reminders(as_of: str | None) -> dict[str, int]:
    settings = Settings()
    with (
        engine_for(settings) as engine,
        unit_of_work(engine, settings, effective_time(as_of)) as ctx,
    ):
        chores = housekeeping(ctx)  # inventory duties met, campaigns closed, attestations due
        report = queue_due(ctx)
    return {
        **chores,
        "queued": report.queued,
        "lines": report.lines,
        "obligations": report.obligations,
    }


@flow(name="reminders", log_prints=False)
def reminders(as_of: str | None = None) -> dict[str, Any]:
    """Remind and escalate every obligation due as of `as_of` (default: now), then deliver."""
    now = effective_time(as_of)
    hr = apply_events(iso(now))
    queued = queue_reminders(iso(now))
    delivered = deliver_outbox(iso(now))
    summary = {
        "as_of": iso(now),
        **queued,
        **delivered,
        "hr_events": hr["events"],
        "revoked": hr["revoked"],
    }
    get_run_logger().info(
        "reminders as of %s: %s queued, %s sent, %s failed",
        summary["as_of"],
        summary["queued"],
        summary["sent"],
        summary["failed"],
    )
    return summary
