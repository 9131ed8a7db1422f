"""Time, made explicit: every instant is timezone-aware and stored in UTC; deadlines are local days.

Nothing in smgov reads the system clock except `system_now`, called once by a door; everything else
takes `now` as an argument (design: the clock). Deadlines are computed with pendulum in the owning
entity's IANA timezone: a due date is the *end of that calendar day* there (3.4, 3.5, 3.6).
"""

from __future__ import annotations

import datetime as dt
import functools
import re

import pendulum

from models.errors import Refused

UTC = dt.UTC
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
#: The years smgov accepts in dates and --as-of: wide enough for any account (the bulletin dates
#: from 2026), narrow enough that deadlines computed from them never overflow the calendar.
FIRST_YEAR, LAST_YEAR = 1970, 2999


def system_now() -> dt.datetime:
    """The real clock, as an aware UTC instant. Only doors call this."""
    return dt.datetime.now(tz=UTC)


def check_timezone(name: str, *, field: str = "timezone") -> str:
    """An IANA timezone name, or a refusal naming the field."""
    try:
        pendulum.timezone(name)
    except Exception as exc:  # pendulum raises several kinds for unknown names
        raise Refused(field, f"'{name}' is not an IANA timezone (e.g. Europe/Zurich)") from exc
    if name.strip() != name or not name:
        raise Refused(field, f"'{name}' is not an IANA timezone (e.g. Europe/Zurich)")
    return name


def parse_instant(text: str, *, field: str = "--as-of") -> dt.datetime:
    """Parse `--as-of`: an ISO date or datetime, returned as an aware UTC instant.

    A bare date means 12:00 UTC that day: it is the same calendar day in every timezone from
    UTC-12 to UTC+11, so `--as-of 2026-03-01` is "the 1st of March" for nearly every entity. A
    datetime without an offset is taken as UTC.
    """
    value = text.strip()
    try:
        if _DATE_ONLY.match(value):
            day = dt.date.fromisoformat(value)
            instant = dt.datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        else:
            parsed = dt.datetime.fromisoformat(value)
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            instant = parsed.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise Refused(field, f"'{text}' is not an ISO 8601 date or datetime") from exc
    if not FIRST_YEAR <= instant.year <= LAST_YEAR:
        raise Refused(field, f"must lie between the years {FIRST_YEAR} and {LAST_YEAR}")
    return instant


def parse_date(text: str, *, field: str) -> dt.date:
    """Parse an ISO calendar date (e.g. `--created-on`)."""
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError as exc:
        raise Refused(field, f"'{text}' is not an ISO 8601 date (YYYY-MM-DD)") from exc
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Refused(field, f"must lie between the years {FIRST_YEAR} and {LAST_YEAR}")
    return day


def ensure_utc(instant: dt.datetime) -> dt.datetime:
    """Refuse naive datetimes anywhere in the core; normalise aware ones to UTC."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("naive datetime: smgov only handles timezone-aware instants")
    return instant.astimezone(UTC)


@functools.lru_cache(maxsize=512)
def zone(tz: str) -> pendulum.Timezone | pendulum.FixedTimezone:
    """The pendulum timezone `tz`, loaded once per process (pendulum reads the zone file on
    every call otherwise: the sweep spent most of its time there)."""
    return pendulum.timezone(tz)


@functools.lru_cache(maxsize=16384)  # batches ask about the same few instants thousands of times
def local_date(instant: dt.datetime, tz: str) -> dt.date:
    """The calendar day an instant falls on in the timezone `tz`."""
    local = pendulum.instance(ensure_utc(instant)).in_timezone(zone(tz))
    return dt.date(local.year, local.month, local.day)


@functools.lru_cache(maxsize=16384)  # as local_date: batches open thousands of duties a day
def start_of_local_day(day: dt.date, tz: str) -> dt.datetime:
    """The first instant of calendar day `day` in `tz`, in UTC (DST-aware)."""
    local = pendulum.datetime(day.year, day.month, day.day, tz=zone(tz))
    return ensure_utc(dt.datetime.fromtimestamp(local.timestamp(), tz=UTC))


def end_of_local_day(day: dt.date, tz: str) -> dt.datetime:
    """The deadline for "by `day`": the last microsecond of that day in `tz`, in UTC."""
    return start_of_local_day(day + dt.timedelta(days=1), tz) - dt.timedelta(microseconds=1)


def due_after(start: dt.date, days: int, tz: str) -> dt.datetime:
    """End of the local day `days` calendar days after `start` (e.g. 3.5: created + 10 days)."""
    return end_of_local_day(start + dt.timedelta(days=days), tz)


def days_left(due_at: dt.datetime, now: dt.datetime, tz: str) -> int:
    """Local calendar days from today to the due day: positive before, 0 on it, negative after."""
    return (local_date(due_at, tz) - local_date(now, tz)).days


def iso(instant: dt.datetime | None) -> str | None:
    """ISO 8601 text of an aware instant in UTC (for JSON output)."""
    if instant is None:
        return None
    return ensure_utc(instant).isoformat().replace("+00:00", "Z")


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later; the 29th-31st fall back to the month's last day
    (29 February 2028 + 12 months = 28 February 2029)."""
    added = pendulum.date(day.year, day.month, day.day).add(months=months)
    return dt.date(added.year, added.month, added.day)
