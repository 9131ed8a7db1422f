"""The pure core: clock and deadlines, completeness, entity kinds, reminder stages. No database."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.clock import (
    days_left,
    due_after,
    end_of_local_day,
    local_date,
    parse_instant,
    start_of_local_day,
)
from models.errors import Refused
from models.languages import check_content_languages, check_preferred_language
from models.registry import EntryFacts, PersonFacts, check_entity_kind, missing_items
from models.reminders import ReminderPolicy
from models.requests import parse_request

UTC = dt.UTC


class TestClock:
    def test_date_means_noon_utc(self) -> None:
        """--as-of with a bare date is that day at 12:00 UTC (cli.md conventions)."""
        assert parse_instant("2026-03-01") == dt.datetime(2026, 3, 1, 12, tzinfo=UTC)

    def test_offset_is_kept_and_converted(self) -> None:
        """--as-of with an offset is converted to UTC, never dropped."""
        assert parse_instant("2026-03-01T09:00+05:00") == dt.datetime(2026, 3, 1, 4, tzinfo=UTC)

    @pytest.mark.parametrize("text", ["2026-02-30", "yesterday", "", "2026/01/01"])
    def test_bad_instants_are_refused(self, text: str) -> None:
        """A malformed --as-of is refused naming the field."""
        with pytest.raises(Refused, match="--as-of"):
            parse_instant(text)

    @pytest.mark.clause("3.5")
    def test_deadline_is_end_of_local_day(self) -> None:
        """3.5: a deadline is the end of the due day in the entity's timezone, stored in UTC."""
        due = end_of_local_day(dt.date(2026, 7, 10), "America/New_York")
        assert due == dt.datetime(2026, 7, 11, 3, 59, 59, 999999, tzinfo=UTC)

    @pytest.mark.clause("3.5")
    def test_ten_days_after_creation(self) -> None:
        """3.5: ten local calendar days after creation, across the March DST change in Geneva."""
        due = due_after(dt.date(2026, 3, 25), 10, "Europe/Zurich")
        assert local_date(due, "Europe/Zurich") == dt.date(2026, 4, 4)
        assert due == dt.datetime(2026, 4, 4, 21, 59, 59, 999999, tzinfo=UTC)

    def test_local_midnight_across_dst(self) -> None:
        """A local day starts at local midnight whatever the offset (DST safe)."""
        before = start_of_local_day(dt.date(2026, 3, 28), "Europe/Zurich")
        after = start_of_local_day(dt.date(2026, 3, 30), "Europe/Zurich")
        assert before.hour == 23 and after.hour == 22
        assert after - before == dt.timedelta(hours=47)

    def test_days_left_counts_local_calendar_days(self) -> None:
        """Days left are counted between local calendar days, not 24-hour periods."""
        due = end_of_local_day(dt.date(2026, 5, 10), "Asia/Tokyo")
        late_evening = dt.datetime(2026, 5, 9, 14, 59, tzinfo=UTC)  # 23:59 on the 9th in Tokyo
        assert days_left(due, late_evening, "Asia/Tokyo") == 1
        assert days_left(due, late_evening + dt.timedelta(minutes=2), "Asia/Tokyo") == 0

    @pytest.mark.clause("3.4")
    @pytest.mark.clause("3.6")
    @given(
        st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2100, 1, 1)),
        st.sampled_from(
            [
                "UTC",
                "America/New_York",
                "Europe/Zurich",
                "Asia/Kolkata",
                "Pacific/Auckland",
                "America/Santiago",
            ]
        ),
    )
    def test_end_of_day_falls_on_that_day(self, day: dt.date, tz: str) -> None:
        """For any date and timezone the deadline instant lies on that local day (3.4-3.6)."""
        assert local_date(end_of_local_day(day, tz), tz) == day
        assert local_date(start_of_local_day(day, tz), tz) == day


class TestCompleteness:
    ADMIN = PersonFacts("100002", True, "a@un.example")
    ALT = PersonFacts("100003", True, "b@un.example")

    def entry(self, **changes: object) -> EntryFacts:
        base: dict[str, object] = {
            "handle": "UN",
            "platform": "x",
            "languages": ["en"],
            "purpose": "news",
            "audience": "public",
            "administrator": self.ADMIN,
            "alternate": self.ALT,
        }
        base.update(changes)
        return EntryFacts(**base)  # type: ignore[arg-type]

    @pytest.mark.clause("3.4")
    def test_complete_entry(self) -> None:
        """3.4: (a)-(e) present, two different active people with contacts: complete."""
        assert missing_items(self.entry()) == []

    @pytest.mark.clause("3.4")
    @pytest.mark.parametrize(
        ("changes", "clause"),
        [
            ({"handle": ""}, "3.4(a)"),
            ({"platform": None}, "3.4(b)"),
            ({"languages": []}, "3.4(c)"),
            ({"alternate": None}, "3.4(d)"),
            ({"administrator": None}, "3.4(d)"),
            ({"alternate": PersonFacts("100002", True, "a@un.example")}, "3.4(d)"),
            ({"alternate": PersonFacts("100003", False, "b@un.example")}, "3.4(d)"),
            ({"alternate": PersonFacts("100003", True, None)}, "3.4(d)"),
            ({"purpose": " "}, "3.4(e)"),
            ({"audience": ""}, "3.4(e)"),
        ],
    )
    def test_each_gap_names_its_clause(self, changes: dict[str, object], clause: str) -> None:
        """3.4: each missing item is reported by its clause reference."""
        assert missing_items(self.entry(**changes)) == [clause]


class TestEntityKinds:
    @pytest.mark.clause("1.1(a)")
    def test_staff_representative_body_refused(self) -> None:
        """1.1(a): a staff representative body is not an entity; refused citing 1.1(a)."""
        with pytest.raises(Refused, match=r"1\.1\(a\)"):
            check_entity_kind("staff-representative-body")

    @pytest.mark.clause("1.1(c)")
    @pytest.mark.parametrize("kind", ["Department", "peacekeeping mission", "coordinator-office"])
    def test_kinds_of_1_1_c(self, kind: str) -> None:
        """1.1(c): the kinds of entity a head of entity heads are accepted in any spelling."""
        assert check_entity_kind(kind)

    @pytest.mark.clause("1.1(c)")
    def test_unknown_kind(self) -> None:
        """1.1(c): any other kind is refused naming the list."""
        with pytest.raises(Refused, match="kind"):
            check_entity_kind("club")


class TestLanguages:
    @pytest.mark.clause("3.4(c)")
    def test_content_languages(self) -> None:
        """3.4(c): ISO 639-1 codes, case-folded, de-duplicated, ';' or ',' separated."""
        assert check_content_languages(["EN", "fr;ar", "en"]) == ["ar", "en", "fr"]

    @pytest.mark.clause("3.4(c)")
    @pytest.mark.parametrize("bad", [["english"], ["xx"], []])
    def test_bad_content_languages(self, bad: list[str]) -> None:
        """3.4(c): an unknown code, or none, is refused."""
        with pytest.raises(Refused, match=r"3\.4\(c\)"):
            check_content_languages(bad)

    @pytest.mark.clause("2.3")
    def test_preferred_language_is_official(self) -> None:
        """2.3: people read messages in one of the six official languages."""
        assert check_preferred_language("ZH") == "zh"
        with pytest.raises(Refused):
            check_preferred_language("de")


class TestReminderPolicy:
    policy = ReminderPolicy()

    def test_stages(self) -> None:
        """Reminders 7, 3, 1 days before, on the day, day 1 escalation, then every 7 days."""
        stages = [k for k in range(-10, 30) if self.policy.is_stage(k)]
        assert stages == [-7, -3, -1, 0, 1, 7, 14, 21, 28]

    @pytest.mark.parametrize(
        ("k", "latest"),
        [
            (-8, None),
            (-7, -7),
            (-5, -7),
            (-3, -3),
            (-2, -3),
            (0, 0),
            (1, 1),
            (6, 1),
            (7, 7),
            (13, 7),
            (14, 14),
            (20, 14),
            (100, 98),
        ],
    )
    def test_latest_stage_only(self, k: int, latest: int | None) -> None:
        """After missed runs only the latest stage due is sent, never a burst."""
        assert self.policy.latest_stage(k) == latest

    @pytest.mark.parametrize(
        ("k", "nxt"), [(-100, -7), (-7, -3), (-1, 0), (0, 1), (1, 7), (7, 14), (15, 21)]
    )
    def test_next_stage(self, k: int, nxt: int) -> None:
        """The next stage is the first one strictly after today."""
        assert self.policy.next_stage(k) == nxt

    @pytest.mark.parametrize(
        ("stage", "who"),
        [
            (-7, ("assignee",)),
            (0, ("assignee",)),
            (1, ("assignee", "head")),
            (7, ("assignee", "head")),
            (14, ("assignee", "head", "registry")),
        ],
    )
    def test_escalation(self, stage: int, who: tuple[str, ...]) -> None:
        """Escalate to the head from the first day overdue, to the registry from the 14th."""
        assert self.policy.audience(stage) == who

    @given(st.integers(min_value=-60, max_value=400))
    def test_next_is_a_stage_after_latest(self, k: int) -> None:
        """For any day, the next stage is a stage, after today, with no stage in between."""
        nxt = self.policy.next_stage(k)
        assert nxt > k and self.policy.is_stage(nxt)
        assert not any(self.policy.is_stage(j) for j in range(k + 1, nxt))


COMPLETE_REQUEST: dict[str, Any] = {
    "entity": "OHCHR",
    "platform": "x",
    "handle": "UNRightsArabic",
    "languages": ["ar"],
    "need": "No Arabic channel exists",
    "purpose": "Human rights news in Arabic",
    "strategy": "Daily posts",
    "audience": "Arabic-speaking public",
    "staffing": "Two officers with Arabic",
    "administrator": "100002",
    "alternate": "100003",
    "risk": {"rating": "medium", "risks": "Impersonation", "mitigations": "Verification"},
    "editorial": "The chief clears every post",
    "languages_considered": "Arabic first",
    "speaks_for": "entity",
}


def _without(field: str) -> dict[str, Any]:
    """The complete request less one item (`risk.risks` names an item inside `risk`)."""
    request: dict[str, Any] = copy.deepcopy(COMPLETE_REQUEST)
    *parents, leaf = field.split(".")
    holder = request
    for parent in parents:
        holder = holder[parent]
    del holder[leaf]
    return request


class TestRequestEvidence:
    def test_complete_request_is_accepted(self) -> None:
        """A request carrying every 3.2 item parses, its evidence kept item by item."""
        parsed = parse_request(COMPLETE_REQUEST)
        assert parsed.evidence["need"] == "No Arabic channel exists"
        assert parsed.evidence["risk.rating"] == "medium"

    @pytest.mark.parametrize(
        ("field", "named"),
        [
            pytest.param("need", "3.2(a) demonstrated need", marks=pytest.mark.clause("3.2(a)")),
            pytest.param("purpose", "3.2(b) purpose", marks=pytest.mark.clause("3.2(b)")),
            pytest.param("strategy", "3.2(b) strategy", marks=pytest.mark.clause("3.2(b)")),
            pytest.param(
                "audience", "3.2(b) intended audience", marks=pytest.mark.clause("3.2(b)")
            ),
            pytest.param(
                "staffing",
                "3.2(c) expertise, staffing and resources",
                marks=pytest.mark.clause("3.2(c)"),
            ),
            pytest.param(
                "alternate", "3.2(c) proposed alternate", marks=pytest.mark.clause("3.2(c)")
            ),
            pytest.param("risk.risks", "3.2(d) risk analysis", marks=pytest.mark.clause("3.2(d)")),
            pytest.param(
                "risk.mitigations", "3.2(d) risk mitigations", marks=pytest.mark.clause("3.2(d)")
            ),
            pytest.param(
                "editorial", "3.2(e) editorial standards", marks=pytest.mark.clause("3.2(e)")
            ),
            pytest.param(
                "languages_considered", "2.3 languages considered", marks=pytest.mark.clause("2.3")
            ),
        ],
    )
    def test_each_missing_item_is_refused(self, field: str, named: str) -> None:
        """A request missing one 3.2 item (or the 2.3 languages considered) is refused, naming
        that item by its clause."""
        with pytest.raises(Refused) as refused:
            parse_request(_without(field))
        assert str(refused.value).count(named) == 1
        assert "missing" in str(refused.value)
