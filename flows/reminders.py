"""The `reminders` flow: the daily sweep of obligations (issue: reminders and escalation).

0. apply every HR event whose effective date has come (flows/separation.py does the same at once
   when an event arrives; the sweep catches future-dated ones on their date);
1. queue: every reminder due as of the run's time, in one set-based pass, written to the outbox as
   one digest per recipient (services.reminders.queue_due) — one transaction;
2. deliver: everything due in the outbox, claimed a batch at a time, sent over one SMTP
   connection, each outcome recorded before the next message (notifications.outbox.deliver).
Running it twice for the same time sends nothing the second time.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import steps
from flows.common import under_prefect


@flow(name="reminders", log_prints=False)
def reminders(as_of: str | None = None) -> dict[str, Any]:
    """Remind and escalate every obligation due as of `as_of` (default: now), then deliver."""
    with under_prefect():
        return steps.reminders(as_of)
