"""Reminder stages, counted in local calendar days around an obligation's due day.

A stage is a day offset `k` from the due day (negative before it). With the default policy the
assignee is reminded at k = -7, -3, -1 and 0, then every 7 days while overdue (7, 14, 21, ...);
the head of entity is escalated to from the first day overdue (k = 1, and on every later stage),
the registry team from the 14th. A sweep sends only the *latest* stage whose day has come, so after
missed runs nobody gets a burst of stale reminders.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from models.clock import local_date, start_of_local_day


@dataclass(frozen=True)
class ReminderPolicy:
    days_before: tuple[int, ...] = (7, 3, 1)
    overdue_every: int = 7
    escalate_head_after: int = 1
    escalate_registry_after: int = 14

    def _fixed(self) -> list[int]:
        return sorted(
            {-d for d in self.days_before}
            | {0, self.escalate_head_after, self.escalate_registry_after}
        )

    def is_stage(self, k: int) -> bool:
        """Whether local day k (relative to the due day) carries a reminder."""
        return k in self._fixed() or (k > 0 and k % self.overdue_every == 0)

    def latest_stage(self, k: int) -> int | None:
        """The latest stage on or before day k, or None when no stage has come yet."""
        if k > 0:
            periodic = (k // self.overdue_every) * self.overdue_every
            candidates = [s for s in self._fixed() if s <= k]
            if periodic > 0:
                candidates.append(periodic)
            return max(candidates) if candidates else None
        before = [s for s in self._fixed() if s <= k]
        return max(before) if before else None

    def next_stage(self, k: int) -> int:
        """The first stage strictly after day k."""
        fixed = [s for s in self._fixed() if s > k]
        periodic = (max(k, 0) // self.overdue_every + 1) * self.overdue_every
        return min([*fixed, periodic])

    def audience(self, stage: int) -> tuple[str, ...]:
        """Who hears at a stage: always the assignee; the head and registry when overdue enough."""
        who = ["assignee"]
        if stage >= self.escalate_head_after and stage > 0:
            who.append("head")
        if stage >= self.escalate_registry_after and stage > 0:
            who.append("registry")
        return tuple(who)


def stage_starts_at(due_at: dt.datetime, stage: int, tz: str) -> dt.datetime:
    """UTC instant at which stage `stage` begins: local midnight of (due day + stage days)."""
    return start_of_local_day(local_date(due_at, tz) + dt.timedelta(days=stage), tz)
