"""The `inventory` flow: the initial 60-day inventory of existing accounts (3.4) and the initial
assessments of the accounts existing at the bulletin's date (3.3).

Opens one campaign per entity (starting it twice opens nothing new), announces it to each head at
once, and closes campaigns whose deadline has passed, recording the outcome per entity and telling
the registry team. The daily sweep does the closing too, so a deadline is never missed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prefect import flow, get_run_logger, task

from flows.common import deliver_outbox, effective_time, engine_for
from models.clock import iso
from models.errors import Refused
from models.settings import Settings
from services.context import unit_of_work
from services.inventory import housekeeping, start_inventory


@task(name="open-inventory-campaigns", retries=2, retry_delay_seconds=5)
def open_campaigns(issued_on: str, entity: str | None, as_of: str) -> dict[str, Any]:
    settings = Settings()
    with (
        engine_for(settings) as engine,
        unit_of_work(engine, settings, effective_time(as_of)) as ctx,
    ):
        report = start_inventory(ctx, issued_on=dt.date.fromisoformat(issued_on), entity=entity)
        chores = housekeeping(ctx)
    return {
        "opened": len(report.opened),
        "already_open": len(report.existing),
        "assessments": report.assessments,
        **chores,
    }


@flow(name="inventory")
def inventory(
    issued_on: str | None = None, entity: str | None = None, as_of: str | None = None
) -> dict[str, Any]:
    """Open the inventory campaign (issuance date from SMGOV_ISSUANCE_DATE unless given)."""
    now = iso(effective_time(as_of)) or ""
    issuance = Settings().issuance_date
    anchor = issued_on or (issuance.isoformat() if issuance else None)
    if anchor is None:
        raise Refused(
            "--issued-on", "give the bulletin's date of issuance or set SMGOV_ISSUANCE_DATE", "5.1"
        )
    opened = open_campaigns(anchor, entity, now)
    delivered = deliver_outbox(now)
    get_run_logger().info(
        "inventory of %s: %s campaigns opened, %s already open",
        anchor,
        opened["opened"],
        opened["already_open"],
    )
    return {"as_of": now, "issued_on": anchor, **opened, **delivered}
