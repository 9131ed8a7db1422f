"""The initial 60-day inventory (3.4), bulk import, initial assessments (3.3), reported changes
(3.6) and attestation (3.1(c)) — issue 5, over SQLite and PostgreSQL with a real SMTP server."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from services import entities
from tests.conftest import Result
from tests.servers import SMTPServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

Smgov = Callable[..., Result]
HEADER = "entity,platform,handle,url,languages,purpose,audience,administrator,alternate,created_on"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def world(
    cli_env: dict[str, str], smtp: SMTPServer, prefect_api: str, uow: Callable[..., Any]
) -> dict[str, str]:
    """Two entities far apart (New York, Bangkok), each with a head and two staff."""
    cli_env.update(
        {
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
        }
    )
    import datetime as dt

    with uow(dt.datetime(2026, 1, 2, tzinfo=dt.UTC)) as ctx:
        for code, tz, prefix in (("UNHQ", "America/New_York", "1"), ("ESCAP", "Asia/Bangkok", "2")):
            entities.add_entity(ctx, code=code, name=code, kind="office", timezone=tz)
            for n, role in ((1, "head"), (2, "admin"), (3, "alt")):
                entities.add_staff(
                    ctx,
                    index=f"{prefix}0000{n}",
                    name=role,
                    email=f"{role}.{code.lower()}@un.example",
                    entity=code,
                )
            entities.set_head(ctx, code=code, staff_index=f"{prefix}00001")
    return cli_env


def _csv(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def _rows(n: int, *, bad: set[int] = frozenset()) -> list[str]:  # type: ignore[assignment]
    rows = []
    for i in range(n):
        line = f"UNHQ,x,unhq{i},x.com/unhq{i},en;fr,News {i},Public,100002,100003,2020-01-01"
        if i in bad:
            line = (
                line.replace(",x,", ",myspace,")
                if i % 3 == 0
                else line.replace("en;fr", "english")
                if i % 3 == 1
                else line.replace("100003", "100002")
            )
        rows.append(line)
    return rows


class TestCampaign:
    @pytest.mark.clause("3.4")
    def test_deadline_in_each_entity_timezone(self, world: dict[str, str], smgov: Smgov) -> None:
        """3.4: the deadline is issuance + 60 days at the end of the day in each entity's own
        timezone: New York and Bangkok get different UTC instants (issue 5, 1)."""
        result = smgov(
            "campaign",
            "start",
            "inventory",
            "--issued-on",
            "2026-01-15",
            "--as-of",
            "2026-01-16",
            "--json",
        )
        assert result.code == 0, result.err
        assert result.json()["opened"] == 2
        status = {
            c["entity"]: c
            for c in smgov("campaign", "status", "--as-of", "2026-01-16", "--json").json()
        }
        assert status["UNHQ"]["due_at"] == "2026-03-17T03:59:59.999999Z"
        assert status["ESCAP"]["due_at"] == "2026-03-16T16:59:59.999999Z"
        again = smgov(
            "campaign",
            "start",
            "inventory",
            "--issued-on",
            "2026-01-15",
            "--as-of",
            "2026-01-17",
            "--json",
        ).json()
        assert again["opened"] == 0 and again["already_open"] == 2

    @pytest.mark.clause("3.4")
    def test_reminders_only_for_incomplete_and_outcome(
        self, world: dict[str, str], smgov: Smgov, smtp: SMTPServer, tmp_path: Path
    ) -> None:
        """Sweeps across the 60 days remind and escalate only the entity with incomplete
        entries; at the deadline the outcome per entity is recorded and the registry team is
        told (3.4; issue 5, 3)."""
        complete = _csv(
            tmp_path / "escap.csv",
            [
                "ESCAP,facebook,unescap,facebook.com/unescap,en;zh,News,Asia-Pacific,200002,200003,"
                "2019-05-01"
            ],
        )
        partial = _csv(
            tmp_path / "unhq.csv", ["UNHQ,x,unhq,x.com/unhq,en,News,Public,100002,,2019-05-01"]
        )
        smgov(
            "campaign", "start", "inventory", "--issued-on", "2026-01-15", "--as-of", "2026-01-16"
        )
        assert (
            smgov(
                "account", "import", str(complete), "--by", "200001", "--as-of", "2026-01-20"
            ).code
            == 0
        )
        assert (
            smgov("account", "import", str(partial), "--by", "100001", "--as-of", "2026-01-20").code
            == 0
        )
        start = len(smtp.messages)
        for day in ("2026-03-09", "2026-03-16", "2026-03-17", "2026-03-18"):
            assert smgov("sweep", "--as-of", day).code == 0
        reminded = {m.rcpt_tos[0] for m in smtp.messages[start:] if "3.4" in m.body}
        assert "head.unhq@un.example" in reminded
        assert "head.escap@un.example" not in reminded
        outcome = {
            c["entity"]: c["outcome"]
            for c in smgov("campaign", "status", "--as-of", "2026-03-18", "--json").json()
        }
        assert outcome == {"UNHQ": "incomplete", "ESCAP": "complete"}
        summary = [
            m
            for m in smtp.messages
            if m.rcpt_tos[0] == "registry@un.example" and "Inventory deadline" in m.subject
        ]
        assert len(summary) == 1 and "UNHQ: incomplete" in summary[0].body


class TestImport:
    def test_bad_rows_all_reported_nothing_imported(
        self, world: dict[str, str], smgov: Smgov, tmp_path: Path
    ) -> None:
        """Three bad rows among 50: all three reported with row numbers, nothing imported;
        --partial imports 47 and writes the 3 rejects; importing again adds nothing
        (3.4; issue 5, 2)."""
        path = _csv(tmp_path / "inv.csv", _rows(50, bad={3, 10, 32}))
        result = smgov("account", "import", str(path), "--by", "100001")
        assert result.code == 2
        lines = result.err.strip().splitlines()
        assert [line.split(":")[1].strip().removeprefix("FILE.csv ") for line in lines] == [
            "row 5",
            "row 12",
            "row 34",
        ]
        one = smgov(
            "account",
            "import",
            str(_csv(tmp_path / "one.csv", _rows(5, bad={2}))),
            "--by",
            "100001",
        )
        assert one.code == 2 and len(one.err.strip().splitlines()) == 1, (
            one.err
        )  # one row, one line
        assert smgov("account", "list", "--json").json() == []
        rejects = tmp_path / "rejects.csv"
        result = smgov(
            "account",
            "import",
            str(path),
            "--by",
            "100001",
            "--partial",
            "--reject-file",
            str(rejects),
            "--json",
        )
        assert result.code == 0, result.err
        assert result.json()["imported"] == 47
        with rejects.open() as handle:
            rejected = list(csv.DictReader(handle))
        assert [r["handle"] for r in rejected] == ["unhq3", "unhq10", "unhq32"]
        again = smgov(
            "account",
            "import",
            str(path),
            "--by",
            "100001",
            "--partial",
            "--reject-file",
            str(rejects),
            "--json",
        ).json()
        assert again["imported"] == 0 and again["skipped"] == 47
        assert len(smgov("account", "list", "--json").json()) == 47
        shown = smgov("account", "show", "x.com/unhq0", "--json").json()
        assert shown["complete"] is True and shown["administrator"] is None  # declared (3.7)
        assert shown["declared"][0] == {"role": "administrator", "staff": "100002"}

    def test_template(self, world: dict[str, str], smgov: Smgov) -> None:
        """`account import --template` prints the documented header (cli.md)."""
        assert smgov("account", "import", "--template").out.strip() == HEADER

    @pytest.mark.clause("3.3")
    def test_initial_assessment_once(
        self, world: dict[str, str], smgov: Smgov, tmp_path: Path
    ) -> None:
        """3.3: each account existing at the bulletin's date gets one assessment obligation,
        never two, however the campaign and the import are ordered."""
        path = _csv(tmp_path / "one.csv", _rows(2))
        smgov("account", "import", str(path), "--by", "100001", "--as-of", "2026-01-20")

        def assessed(day: str) -> list[dict[str, Any]]:
            duties = smgov("obligation", "list", "--as-of", day, "--json").json()
            return [o for o in duties if o["kind"] == "initial-assessment"]

        imported = assessed("2026-01-20")  # the import alone opens them: no campaign needed
        assert sorted(o["subject"] for o in imported) == ["account:1", "account:2"]
        smgov(
            "campaign", "start", "inventory", "--issued-on", "2026-01-15", "--as-of", "2026-01-21"
        )
        assessments = assessed("2026-01-22")
        assert sorted(o["subject"] for o in assessments) == ["account:1", "account:2"]
        assert {o["clause"] for o in assessments} == {"3.3"}


class TestChangesAndAttestation:
    @pytest.mark.clause("3.6")
    def test_reported_change_reminded_then_met(
        self, world: dict[str, str], smgov: Smgov, smtp: SMTPServer, tmp_path: Path
    ) -> None:
        """A change reported but not entered within 10 days is reminded and escalated citing
        3.6; entering it stops the reminders (issue 5, 4)."""
        smgov(
            "account",
            "import",
            str(_csv(tmp_path / "a.csv", _rows(1))),
            "--by",
            "100001",
            "--as-of",
            "2026-02-01",
        )
        # the import declared 100002 and 100003; the head authorizes them in writing (3.7)
        assert (
            smgov(
                "authorize",
                "1",
                "--declared",
                "--by",
                "100001",
                "--reference",
                "W/1",
                "--as-of",
                "2026-02-01",
            ).code
            == 0
        )
        result = smgov(
            "account",
            "report-change",
            "1",
            "--what",
            "handle renamed to @unhq_new",
            "--changed-on",
            "2026-02-02",
            "--by",
            "100002",
            "--as-of",
            "2026-02-03",
        )
        assert result.code == 0, result.err
        smgov("sweep", "--as-of", "2026-02-12")  # the due day (2 + 10)
        smgov("sweep", "--as-of", "2026-02-13")  # first day overdue
        mails = [m for m in smtp.messages if "[3.6]" in m.body]
        assert {m.rcpt_tos[0] for m in mails} == {"head.unhq@un.example"}
        assert any("OVERDUE" in m.subject for m in mails)
        assert (
            smgov(
                "account",
                "update",
                "1",
                "--handle",
                "unhq_new",
                "--by",
                "100001",
                "--as-of",
                "2026-02-14",
            ).code
            == 0
        )
        start = len(smtp.messages)
        smgov("sweep", "--as-of", "2026-02-20")
        assert not [m for m in smtp.messages[start:] if "[3.6]" in m.body]

    @pytest.mark.clause("3.1(c)")
    def test_attestation(self, world: dict[str, str], smgov: Smgov) -> None:
        """3.1(c): only the head attests; an entity with no account meets its inventory duty
        by attesting."""
        smgov(
            "campaign", "start", "inventory", "--issued-on", "2026-01-15", "--as-of", "2026-01-16"
        )
        refused = smgov("entity", "attest", "ESCAP", "--by", "200002", "--as-of", "2026-01-17")
        assert refused.code == 2 and refused.err.startswith("error: --by")
        assert (
            smgov("entity", "attest", "ESCAP", "--by", "200001", "--as-of", "2026-01-17").code == 0
        )
        duties = {
            o["subject"]: o["state"]
            for o in smgov("obligation", "list", "--as-of", "2026-01-18", "--json").json()
            if o["kind"] == "inventory-campaign"
        }
        assert duties == {"entity:ESCAP": "met", "entity:UNHQ": "open"}


class TestInventoryMetByTheEntries:
    @pytest.mark.clause("3.4")
    @pytest.mark.clause("4.2")
    def test_a_declared_administrator_who_leaves_reopens_the_entry(
        self, uow: Callable[..., Any]
    ) -> None:
        """3.4, 4.2: an imported entry whose declared administrator is separated is incomplete
        again: a duty to update it opens at once, and the entity's inventory is not met when its
        other entry is completed, were that duty gone: what meets it is the entries' state
        (before, it closed "every entry complete" with that entry incomplete, nobody reminded)."""
        import datetime as dt

        from sqlmodel import col, select

        from models.tables import Obligation
        from services import accounts, inventory, obligations
        from tests import org

        with uow(org.T0) as ctx:
            org.seed(ctx)
            inventory.start_inventory(ctx, issued_on=dt.date(2026, 1, 15))
            declared = org.account(ctx, created_on=dt.date(2024, 1, 1))
            other = org.account(
                ctx, url="x.com/unhr_other", handle="unhr_other", created_on=dt.date(2024, 1, 1)
            )
            org.declare(ctx, declared)  # as an import declares them (3.4(d)), awaiting the head
            accounts.refresh_entry_obligations(
                ctx, [accounts.get_account(ctx, str(declared))], actor="100001"
            )

        def open_duties(ctx: Any) -> set[tuple[str, str]]:
            rows = ctx.session.execute(
                select(col(Obligation.kind), col(Obligation.subject)).where(
                    col(Obligation.state) == "open"
                )
            )
            return {(kind, subject) for kind, subject in rows}

        t1 = org.T0 + dt.timedelta(days=1)
        entry = {
            ("inventory-entry", f"account:{declared}"),
            ("update-entry", f"account:{declared}"),
        }
        with uow(t1) as ctx:
            assert not entry & open_duties(ctx)  # complete: no entry duty
            org.hr(ctx, ("E-OUT", "separation", "100002", dt.date(2026, 1, 21), None))
        with uow(t1) as ctx:
            assert entry & open_duties(ctx)  # incomplete again (3.4(d)): its entry duty opens
            # and were that duty gone, the entry itself still says it is incomplete
            duty = obligations.find_open(ctx, f"entry:{declared}")
            assert duty is not None
            obligations.close(ctx, duty, state="withdrawn", reason="test", actor="smgov")
            org.complete(ctx, other, admin="100004")  # the other entry complete: inventory done?
            inventory.housekeeping(ctx)
        with uow(t1) as ctx:
            assert ("inventory-campaign", "entity:OHCHR") in open_duties(ctx)
