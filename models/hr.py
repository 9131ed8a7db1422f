"""HR events in the pure core: what an event is and how it is validated (4.2)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from models.clock import parse_date
from models.errors import Refused
from models.registry import check_code, control, refuse_hidden

EVENT_TYPES = ("separation", "reassignment", "return")
PREFECT_EVENTS = {
    "separation": "hr.staff.separated",
    "reassignment": "hr.staff.reassigned",
    "return": "hr.staff.returned",
}

#: The handover checklist sent with every credential handover obligation (4.2).
HANDOVER_CHECKLIST = (
    "change the password and the recovery e-mail and telephone number",
    "re-enrol two-factor authentication on a device or app under the Organization's control",
    "remove the departing person's sessions, devices and app authorizations",
    "store the new credential in the entity's vault and attest: "
    "smgov custody attest ACCOUNT --vault-ref REF --by INDEX",
)


@dataclass(frozen=True)
class EventIn:
    """A validated HR event, whatever door it came through."""

    event_id: str
    type: str
    staff: str
    effective_on: dt.date
    new_entity: str | None
    # the instant it takes effect, when a door knows it (SCIM: now); else the start of
    # `effective_on` in the person's entity's time zone
    effective_at: dt.datetime | None = None


def parse_event(raw: dict[str, Any]) -> EventIn:
    """Validate one event (webhook JSON, CSV row or CLI options); refusals name the field."""

    def text(
        name: str, *, required: bool = True, limit: int = 100, number: bool = True
    ) -> str | None:
        """Field `name` as text (`number`: a whole number is taken as its digits, e.g. an
        index number an HR system sends unquoted)."""
        value = raw.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise Refused(name, "is required")
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise Refused(name, "must be text")
        if isinstance(value, int) and not number:
            raise Refused(name, "must be a date written as text (YYYY-MM-DD), not a number")
        if isinstance(value, int) and abs(value) >= 10**limit:  # str() of a huge int raises
            raise Refused(name, f"must be at most {limit} printable characters")
        out = str(value).strip()
        if len(out) > limit or any(control(c) for c in out):
            raise Refused(name, f"must be at most {limit} printable characters")
        return refuse_hidden(name, out)

    event_id = text("event_id")
    kind = (text("type") or "").lower()
    if kind not in EVENT_TYPES:
        raise Refused("type", f"must be one of {', '.join(EVENT_TYPES)}", "4.2")
    staff = check_code("staff", text("staff") or "")
    effective = parse_date(text("effective", number=False) or "", field="effective")
    if not dt.date(2000, 1, 1) <= effective <= dt.date(2100, 12, 31):
        raise Refused("effective", "must lie between 2000 and 2100")
    new_entity = text("new_entity", required=False, limit=20)
    if new_entity is not None:
        new_entity = check_code("new_entity", new_entity)
    assert event_id is not None
    return EventIn(event_id, kind, staff, effective, new_entity)
