"""The `reassessment` flow: yearly, staggered reassessment of every active account against the
3.2 criteria (3.2, 3.3), ending in continue, continue with conditions, or withdraw-and-close (3.8).

Scheduled daily in prefect.yaml: each run gives unscheduled entities a staggered date, opens the
campaigns whose date has come and closes those past their deadline (never deciding anything by
default). `smgov campaign start reassessment` runs it on demand for one entity or all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import deliver_outbox, effective_time, engine_for
from models.clock import iso
from models.settings import Settings
from services import reassessment as service
from services.context import unit_of_work
from services.reminders import queue_due


@task(name="open-reassessments", retries=2, retry_delay_seconds=5)
def open_reassessments(
    as_of: str, entity: str | None, due: str | None, on_demand: bool
) -> dict[str, Any]:
    settings = Settings()
    with (
        engine_for(settings) as engine,
        unit_of_work(engine, settings, effective_time(as_of)) as ctx,
    ):
        if on_demand:
            report: dict[str, Any] = service.start(
                ctx, entity=entity, due=dt.date.fromisoformat(due) if due else None
            )
        else:
            report = service.housekeeping(ctx)
        queue_due(ctx)  # the new duties' first notices, and anything else due now
    return report


@flow(name="reassessment")
def reassessment(
    as_of: str | None = None,
    entity: str | None = None,
    due: str | None = None,
    on_demand: bool = False,
) -> dict[str, Any]:
    """Open due (or, `on_demand`, requested) reassessment campaigns and deliver the notices."""
    now = iso(effective_time(as_of)) or ""
    opened = open_reassessments(now, entity, due, on_demand)
    delivered = deliver_outbox(now)
    get_run_logger().info("reassessment as of %s: %s", now, opened)
    return {"as_of": now, **opened, **delivered}
