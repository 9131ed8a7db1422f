"""The `approval` flow: the automatic steps of new-account approval (2.1, 3.2, 3.7).

On submission it runs the duplication survey (3.2(a)) and the language parity view (2.3), opens
the head's decision duty (reminded and escalated by the sweep) and notifies the head; on a
decision it issues the written authorizations and the account awaiting creation, and tells the
requester and staff. Human decisions never wait inside a run: they arrive through the CLI, and
each run carries the request on from wherever it stands. Running it twice sends nothing twice.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import steps
from flows.common import under_prefect


@flow(name="approval")
def approval(request_id: int, as_of: str | None = None) -> dict[str, Any]:
    """Carry request `request_id` on and deliver the notices at once."""
    with under_prefect():
        return steps.approval(request_id, as_of)
