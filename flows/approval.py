"""The `approval` flow: the automatic steps of new-account approval (2.1, 3.2, 3.7).

On submission it runs the duplication survey (3.2(a)) and the language parity view (2.3), opens
the head's decision duty (reminded and escalated by the sweep) and notifies the head; on a
decision it issues the written authorizations and the account awaiting creation, and tells the
requester and staff. Human decisions never wait inside a run: they arrive through the CLI, and
each run carries the request on from wherever it stands. Running it twice sends nothing twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import deliver_outbox, effective_time, engine_for
from models.clock import iso
from models.settings import Settings
from services.context import unit_of_work
from services.reminders import queue_due
from services.requests import carry_on, get_request


@task(name="carry-request-on", retries=2, retry_delay_seconds=5)
def carry_request_on(request_id: int, as_of: str) -> dict[str, Any]:
    settings = Settings()
    with (
        engine_for(settings) as engine,
        unit_of_work(engine, settings, effective_time(as_of)) as ctx,
    ):
        opened = carry_on(ctx, request_id)
        if opened:
            queue_due(ctx, only=opened)
        return {"request": request_id, "state": get_request(ctx, request_id).state}


@flow(name="approval")
def approval(request_id: int, as_of: str | None = None) -> dict[str, Any]:
    """Carry request `request_id` on and deliver the notices at once."""
    now = iso(effective_time(as_of)) or ""
    step = carry_request_on(request_id, now)
    delivered = deliver_outbox(now)
    get_run_logger().info("request %s is %s", request_id, step["state"])
    return {"as_of": now, **step, **delivered}
