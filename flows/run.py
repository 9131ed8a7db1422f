"""Running a process from a door: the Prefect flow when a Prefect server is configured, else the
same code in this process (`flows/steps.py`), never Prefect's temporary server. The top of the
flows layer: it may import every flow, and no flow imports it.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from flows.common import prefect_configured, quiet_heartbeat


def run_process(name: str, **params: Any) -> dict[str, Any]:
    """Run process `name` (approval, inventory, reassessment, reminders, separation) once with
    `params`: the Prefect flow `flows/<name>.py:<name>` when a Prefect server is configured,
    else its code in this process (never Prefect's temporary server: 5-12 s per command)."""
    if prefect_configured():
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # a closed network
        os.environ.setdefault("DO_NOT_TRACK", "1")
        flow = getattr(importlib.import_module(f"flows.{name}"), name)
        with quiet_heartbeat():
            return dict(flow(**params))
    from flows import steps

    return dict(getattr(steps, name)(**params))


def dispatch(
    events: list[tuple[str, str, str]], *, as_of: str | None, inline: bool
) -> dict[str, Any]:
    """After HR events are stored: emit `hr.staff.*` Prefect events for the deployment to act on,
    or — `inline` (a batch, or the HR intake, which answers in under a second), or when no
    server with the deployment answers — run the separation process here, once."""
    if not inline and prefect_configured():
        from flows.separation import emit_if_listening

        emitted = emit_if_listening(events, as_of=as_of)
        if emitted is not None:
            return emitted
    return run_process(
        "separation", as_of=as_of, event_id=events[0][2] if len(events) == 1 else None
    )
