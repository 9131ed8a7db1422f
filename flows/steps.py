"""The code of every process, free of Prefect: its steps and its body, written once.

Each Prefect flow in flows/<name>.py is this body run `under_prefect()` (every step then a Prefect
task with its name and retries, every line in the run's log); a door without a Prefect server runs
the same body here (flows.run.run_process). The flows' docstrings say what each process does.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flows.common import (
    apply_hr_events,
    call,
    deliver_due,
    effective_time,
    engine_for,
    say,
    step,
)
from models.clock import iso
from models.errors import Refused
from models.settings import Settings
from services.context import unit_of_work

# --------------------------------------------------------------------------------------------
# approval (3.2, 3.7)


@step("carry-request-on")
def carry_request_on(request_id: int, as_of: str) -> dict[str, Any]:
    from services.reminders import queue_due
    from services.requests import carry_on, get_request

    settings = Settings()
    with (
        engine_for(settings) as engine,
        unit_of_work(engine, settings, effective_time(as_of)) as ctx,
    ):
        opened = carry_on(ctx, request_id)
        if opened:
            queue_due(ctx, only=opened)
        return {"request": request_id, "state": get_request(ctx, request_id).state}


def approval(request_id: int, as_of: str | None = None) -> dict[str, Any]:
    """Carry request `request_id` on and deliver the notices at once."""
    now = iso(effective_time(as_of)) or ""
    carried = call(carry_request_on, request_id, now)
    delivered = call(deliver_due, now)
    say("request %s is %s", request_id, carried["state"])
    return {"as_of": now, **carried, **delivered}


# --------------------------------------------------------------------------------------------
# the daily sweep (reminders and escalation)


@step("queue-reminders")
def queue_reminders(as_of: str | None) -> dict[str, int]:
    from services.inventory import housekeeping
    from services.reminders import queue_due

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


def reminders(as_of: str | None = None) -> dict[str, Any]:
    """Remind and escalate every obligation due as of `as_of` (default: now), then deliver."""
    now = iso(effective_time(as_of))
    hr = call(apply_hr_events, now)
    queued = call(queue_reminders, now)
    delivered = call(deliver_due, now)
    summary = {
        "as_of": now,
        **queued,
        **delivered,
        "hr_events": hr["events"],
        "revoked": hr["revoked"],
    }
    say(
        "reminders as of %s: %s queued, %s sent, %s failed",
        summary["as_of"],
        summary["queued"],
        summary["sent"],
        summary["failed"],
    )
    return summary


# --------------------------------------------------------------------------------------------
# the inventory (3.3, 3.4)


@step("open-inventory-campaigns")
def open_campaigns(issued_on: str, entity: str | None, as_of: str) -> dict[str, Any]:
    from services.inventory import housekeeping, start_inventory

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
    opened = call(open_campaigns, anchor, entity, now)
    delivered = call(deliver_due, now)
    say(
        "inventory of %s: %s campaigns opened, %s already open",
        anchor,
        opened["opened"],
        opened["already_open"],
    )
    return {"as_of": now, "issued_on": anchor, **opened, **delivered}


# --------------------------------------------------------------------------------------------
# reassessment (3.2, 3.3, 3.8)


@step("open-reassessments")
def open_reassessments(
    as_of: str, entity: str | None, due: str | None, on_demand: bool
) -> dict[str, Any]:
    from services import reassessment as service
    from services.reminders import queue_due

    settings = Settings()
    now = effective_time(as_of)
    report: dict[str, Any] = {"campaigns": 0, "assessments": 0, "kept": 0}
    with engine_for(settings) as engine:
        if on_demand:
            # A batch of entities (about 10,000 accounts) per transaction, so the write lock is
            # held seconds at a time, never for the whole registry; an entity's campaign opens
            # whole or not at all, and a re-run goes on from the first entity without one. Over
            # several batches the survey runs in a process of its own, ahead of the writes, and
            # while a batch waits for it the next batches' rows are read (`ReadAhead`).
            with unit_of_work(engine, settings, now) as ctx:
                codes = service.entities_to_open(
                    ctx, entity=entity, due=dt.date.fromisoformat(due) if due else None
                )
                batches = service.batches(ctx, codes)
            ahead = service.ReadAhead(batches)
            for number, (_, overlaps) in enumerate(
                service.surveyed(
                    settings.resolved_database_url,
                    batches,
                    timeout=settings.survey_timeout_seconds,
                )
            ):
                with unit_of_work(engine, settings, now) as ctx:
                    opened = ahead.start(
                        ctx,
                        number,
                        overlaps,
                        due=dt.date.fromisoformat(due) if due else None,
                    )
                report = {key: report[key] + opened[key] for key in report}
        with unit_of_work(engine, settings, now) as ctx:
            if not on_demand:
                report = service.housekeeping(ctx)
            queue_due(ctx)  # the new duties' first notices, and anything else due now
    return report


def reassessment(
    as_of: str | None = None,
    entity: str | None = None,
    due: str | None = None,
    on_demand: bool = False,
) -> dict[str, Any]:
    """Open due (or, `on_demand`, requested) reassessment campaigns and deliver the notices."""
    now = iso(effective_time(as_of)) or ""
    opened = call(open_reassessments, now, entity, due, on_demand)
    delivered = call(deliver_due, now)
    say("reassessment as of %s: %s", now, opened)
    return {"as_of": now, **opened, **delivered}


# --------------------------------------------------------------------------------------------
# separation and reassignment (4.2)


def separation(as_of: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    """Apply every HR event due as of `as_of` (default: now) and deliver the notices at once.
    `event_id` names the event that triggered the run (for the record; all due events apply)."""
    now = iso(effective_time(as_of))
    applied = call(apply_hr_events, now)
    delivered = call(deliver_due, now)
    summary = {"as_of": now, "trigger": event_id, **applied, **delivered}
    say(
        "separation as of %s: %s events, %s authorizations revoked, %s orphaned accounts",
        now,
        applied["events"],
        applied["revoked"],
        applied["orphaned"],
    )
    return summary
