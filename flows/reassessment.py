"""The `reassessment` flow: yearly, staggered reassessment of every active account against the
3.2 criteria (3.2, 3.3), ending in continue, continue with conditions, or withdraw-and-close (3.8).

Scheduled daily in prefect.yaml: each run gives unscheduled entities a staggered date, opens the
campaigns whose date has come and closes those past their deadline (never deciding anything by
default). `smgov campaign start reassessment` runs it on demand for one entity or all.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import steps
from flows.common import under_prefect


@flow(name="reassessment")
def reassessment(
    as_of: str | None = None,
    entity: str | None = None,
    due: str | None = None,
    on_demand: bool = False,
) -> dict[str, Any]:
    """Open due (or, `on_demand`, requested) reassessment campaigns and deliver the notices."""
    with under_prefect():
        return steps.reassessment(as_of, entity, due, on_demand)
