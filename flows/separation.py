"""The `separation` flow: HR separation and reassignment events withdraw administration privileges
and start the credential handover (4.2).

Triggered by the Prefect events `hr.staff.separated` / `hr.staff.reassigned` (prefect.yaml), run
by the intake (flows.run.dispatch) when no Prefect server with the deployment answers, and also
by every daily sweep (so a future-dated event acts on its date). One run handles every event due,
set-based; running it again changes nothing and sends nothing twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import steps
from flows.common import under_prefect

__all__ = ["DEPLOYMENT", "emit_if_listening", "separation"]


@flow(name="separation")
def separation(as_of: str | None = None, event_id: str | None = None) -> dict[str, Any]:
    """Apply every HR event due as of `as_of` (default: now) and deliver the notices at once.
    `event_id` names the event that triggered the run (for the record; all due events apply)."""
    with under_prefect():
        return steps.separation(as_of, event_id)


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


def emit_if_listening(
    events: list[tuple[str, str, str]], *, as_of: str | None
) -> dict[str, Any] | None:
    """Emit one `hr.staff.*` Prefect event per HR event for the deployment to act on, when a
    server holding it answers; None (nothing emitted) when none does."""
    if not _deployment_listens():
        return None
    from prefect.events import emit_event
    from prefect.events.worker import EventsWorker

    from models.hr import PREFECT_EVENTS

    for kind, staff, event_id in events:
        emit_event(
            event=PREFECT_EVENTS[kind],
            resource={"prefect.resource.id": f"hr.staff.{staff}"},
            payload={"event_id": event_id, "as_of": as_of or ""},
        )
    EventsWorker.drain_all()
    return {"emitted": len(events)}
