"""The `inventory` flow: the initial 60-day inventory of existing accounts (3.4) and the initial
assessments of the accounts existing at the bulletin's date (3.3).

Opens one campaign per entity (starting it twice opens nothing new), announces it to each head at
once, and closes campaigns whose deadline has passed, recording the outcome per entity and telling
the registry team. The daily sweep does the closing too, so a deadline is never missed.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from flows import steps
from flows.common import under_prefect


@flow(name="inventory")
def inventory(
    issued_on: str | None = None, entity: str | None = None, as_of: str | None = None
) -> dict[str, Any]:
    """Open the inventory campaign (issuance date from SMGOV_ISSUANCE_DATE unless given)."""
    with under_prefect():
        return steps.inventory(issued_on, entity, as_of)
