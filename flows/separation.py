"""The `separation` flow: HR separation and reassignment events withdraw administration privileges
and start the credential handover (4.2).

Triggered by the Prefect events `hr.staff.separated` / `hr.staff.reassigned` (prefect.yaml), run
in-process by the intake when no Prefect server answers, and also by every daily sweep (so a
future-dated event acts on its date). One run handles every event due, set-based; running it again
changes nothing and sends nothing twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, get_run_logger

from flows.common import apply_events, deliver_outbox, effective_time
from models.clock import iso


@flow(name="separation")
def separation(as_of: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    """Apply every HR event due as of `as_of` (default: now) and deliver the notices at once.
    `event_id` names the event that triggered the run (for the record; all due events apply)."""
    now = iso(effective_time(as_of))
    applied = apply_events(now)
    delivered = deliver_outbox(now)
    summary = {"as_of": now, "trigger": event_id, **applied, **delivered}
    get_run_logger().info(
        "separation as of %s: %s events, %s authorizations revoked, %s orphaned accounts",
        now,
        applied["events"],
        applied["revoked"],
        applied["orphaned"],
    )
    return summary


DEPLOYMENT = "separation/separation-on-hr-event"


def _deployment_listens() -> bool:
    """Whether a Prefect server answers and holds the event-triggered separation deployment."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    if not PREFECT_API_URL.value():
        return False
    try:
        with get_client(sync_client=True) as client:
            client.read_deployment_by_name(DEPLOYMENT)
    except Exception:  # no server, or no such deployment: run here instead
        return False
    return True


def dispatch(
    events: list[tuple[str, str, str]], *, as_of: str | None, inline: bool
) -> dict[str, Any]:
    """After HR events are stored: emit `hr.staff.*` Prefect events for the deployment to act on,
    or — `inline` (a batch, or the HR intake, which answers in under a second), or when no
    server with the deployment answers — run the flow here, once."""
    from models.hr import PREFECT_EVENTS

    if not inline and _deployment_listens():
        from prefect.events import emit_event
        from prefect.events.worker import EventsWorker

        for kind, staff, event_id in events:
            emit_event(
                event=PREFECT_EVENTS[kind],
                resource={"prefect.resource.id": f"hr.staff.{staff}"},
                payload={"event_id": event_id, "as_of": as_of or ""},
            )
        EventsWorker.drain_all()
        return {"emitted": len(events)}
    from flows.common import quiet_heartbeat

    with quiet_heartbeat():
        return separation(as_of=as_of, event_id=events[0][2] if len(events) == 1 else None)
