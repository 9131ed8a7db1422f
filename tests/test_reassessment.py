"""Periodic reassessment (issue 6; 3.2, 3.3, 3.8): campaigns, pre-filled findings, decisions,
withdrawal and closure, conditions, staggering."""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from models.assessment import stagger
from models.errors import NotAuthorized
from models.survey import overlaps_of
from models.tables import AuditEvent, Authorization, Obligation, Staff
from services import accounts, entities, reassessment
from tests import org
from tests.conftest import Result
from tests.servers import SMTPServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

Smgov = Callable[..., Result]
T0 = dt.datetime(2026, 2, 1, tzinfo=dt.UTC)  # after issuance: no initial 3.3 assessment


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def registry(
    cli_env: dict[str, str], smtp: SMTPServer, prefect_api: str, uow: Callable[..., Any]
) -> dict[str, int]:
    """UNOG with three accounts: complete, with a separated administrator, and withdrawn."""
    cli_env.update(
        {
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
        }
    )
    with uow(T0) as ctx:
        entities.add_entity(
            ctx, code="UNOG", name="UN Geneva", kind="office", timezone="Europe/Zurich"
        )
        for n in range(1, 6):
            entities.add_staff(
                ctx, index=f"30000{n}", name=f"S{n}", email=f"s{n}@un.example", entity="UNOG"
            )
        entities.set_head(ctx, code="UNOG", staff_index="300001")
        ids = {}
        for name, url in (
            ("good", "x.com/ungeneva"),
            ("orphan", "instagram.com/ungeneva"),
            ("gone", "youtube.com/@ungeneva"),
        ):
            platform = url.split(".")[0]
            acc = accounts.register(
                ctx,
                entity="UNOG",
                platform=platform,
                handle="ungeneva",
                url=url,
                languages=["en", "fr"],
                purpose=f"{name} news",
                audience="Geneva public",
                by="300001",
            )
            assert acc.id is not None
            ids[name] = acc.id
            accounts.authorize(
                ctx,
                ref=str(acc.id),
                staff="300002",
                role="administrator",
                by="300001",
                reference="R",
            )
            accounts.authorize(
                ctx, ref=str(acc.id), staff="300003", role="alternate", by="300001", reference="R"
            )
            # accounts the head approved (the request path is tested in test_approval.py);
            # entered directly they would be unapproved (2.1, issue 17)
            acc.state = "active"
            ctx.session.add(acc)
        org.settle_authority(ctx)
        gone = accounts.get_account(ctx, str(ids["gone"]))
        gone.state = "withdrawn"
        ctx.session.add(gone)
    return ids


def _separate(smgov: Smgov, index: str, day: str) -> None:
    assert (
        smgov(
            "hr",
            "event",
            "--type",
            "separation",
            "--staff",
            index,
            "--effective",
            day,
            "--as-of",
            day,
        ).code
        == 0
    )


class TestCampaign:
    def test_one_assessment_per_active_account(
        self, registry: dict[str, int], smgov: Smgov
    ) -> None:
        """A campaign opens one assessment per active account and none for withdrawn or closed
        ones; a second run opens nothing (issue 6, 1)."""
        first = smgov(
            "campaign",
            "start",
            "reassessment",
            "--entity",
            "UNOG",
            "--as-of",
            "2026-04-01",
            "--json",
        )
        assert first.code == 0, first.err
        assert first.json()["campaigns"] == 1 and first.json()["assessments"] == 2
        listed = smgov("assessment", "list", "--json").json()
        assert sorted(a["account"] for a in listed) == sorted(
            [registry["good"], registry["orphan"]]
        )
        again = smgov(
            "campaign",
            "start",
            "reassessment",
            "--entity",
            "UNOG",
            "--as-of",
            "2026-04-01",
            "--json",
        ).json()
        assert again["campaigns"] == 0 and again["assessments"] == 0
        later = smgov(
            "campaign",
            "start",
            "reassessment",
            "--entity",
            "UNOG",
            "--as-of",
            "2026-04-02",
            "--json",
        ).json()
        assert later["assessments"] == 0 and later["kept"] == 2

    def test_a_campaign_audits_its_duties_once_with_every_id(
        self, registry: dict[str, int], smgov: Smgov, uow: Callable[..., Any]
    ) -> None:
        """The duties a campaign opens are audited in one event for the lot (issue 20: no
        audit append per row) that names every one of them, as runs of ids."""
        opened = smgov(
            "campaign", "start", "reassessment", "--entity", "UNOG", "--as-of", "2026-04-01"
        )
        assert opened.code == 0, opened.err
        with uow() as ctx:
            duties = sorted(
                ob.id
                for ob in ctx.session.execute(
                    select(Obligation).where(col(Obligation.kind) == "reassessment")
                ).scalars()
            )
            events = [
                json.loads(e.after or "{}")
                for e in ctx.session.execute(
                    select(AuditEvent).where(col(AuditEvent.action) == "obligation.open")
                ).scalars()
                if json.loads(e.after or "{}").get("kinds", {}).get("reassessment")
            ]
        assert len(duties) == 2 and len(events) == 1
        named = [n for first, last in events[0]["ids"] for n in range(first, last + 1)]
        assert named == duties and events[0]["count"] == 2

    @pytest.mark.clause("3.2(c)")
    def test_separated_administrator_prefilled(
        self, registry: dict[str, int], smgov: Smgov
    ) -> None:
        """A separated administrator pre-fills 3.2(c) as not met with the reason, and the
        recommendation says withdraw or fix (issue 6, 2)."""
        _separate(smgov, "300002", "2026-03-01")
        assert (
            smgov("account", "show", str(registry["orphan"]), "--json").json()["administrator"]
            is None
        )
        smgov("campaign", "start", "reassessment", "--entity", "UNOG", "--as-of", "2026-04-01")
        listed = {a["account"]: a for a in smgov("assessment", "list", "--json").json()}
        orphan = smgov("assessment", "show", str(listed[registry["orphan"]]["id"]), "--json").json()
        assert orphan["findings"]["3.2(c)"]["finding"] == "not met"
        assert "no authorized administrator" in orphan["findings"]["3.2(c)"]["note"]
        assert orphan["recommendation"] == "conditions"
        assert orphan["why"].startswith("withdraw, or continue on condition of fixing")

    @pytest.mark.clause("3.7")
    def test_latest_grant_of_a_role_speaks(
        self, registry: dict[str, int], smgov: Smgov, uow: Callable[..., Any]
    ) -> None:
        """Of two administrator grants in force, the latest speaks for the role (3.7: a new
        authorization supersedes the one before): 3.2(c) names the later administrator, as
        completeness (3.1(c)) judges it."""
        with uow(T0) as ctx:
            later = ctx.session.get(Staff, "300004")
            assert later is not None
            later.status = "separated"
            ctx.session.add(later)
            ctx.session.add(
                Authorization(
                    account_id=registry["good"],
                    staff_index="300004",
                    role="administrator",
                    granted_by="300001",
                    granted_at=T0,
                    reference="R2",
                )
            )
        smgov("campaign", "start", "reassessment", "--entity", "UNOG", "--as-of", "2026-04-01")
        listed = {a["account"]: a for a in smgov("assessment", "list", "--json").json()}
        good = smgov("assessment", "show", str(listed[registry["good"]]["id"]), "--json").json()
        assert good["findings"]["3.2(c)"] == {
            "finding": "not met",
            "note": "administrator 300004 is separated",
        }
        assert "3.4(d)" in good["findings"]["3.1(c)"]["note"]


class TestDecisions:
    @pytest.mark.clause("3.8")
    def test_withdraw_then_close(self, registry: dict[str, int], smgov: Smgov) -> None:
        """Withdrawal revokes every authorization, opens the closure duty; after closure evidence
        the account is closed and verify reports it not official (3.8; issue 6, 3)."""
        good = str(registry["good"])
        smgov("campaign", "start", "reassessment", "--entity", "UNOG", "--as-of", "2026-04-01")
        refused = smgov(
            "assess",
            good,
            "--decision",
            "withdraw",
            "--reason",
            "no",
            "--by",
            "300004",
            "--as-of",
            "2026-04-02",
        )
        assert refused.code == 2
        assert (
            smgov(
                "assess",
                good,
                "--decision",
                "withdraw",
                "--reason",
                "No longer required",
                "--by",
                "300001",
                "--as-of",
                "2026-04-02",
            ).code
            == 0
        )
        shown = smgov("account", "show", good, "--json").json()
        assert shown["state"] == "withdrawn" and shown["administrator"] is None
        held = smgov("staff", "show", "300002", "--json").json()["authorizations"]
        assert all(a["revoked_on"] for a in held if a["account"] == int(good))
        duty = [
            o
            for o in smgov(
                "obligation", "list", "--state", "open", "--as-of", "2026-04-02", "--json"
            ).json()
            if o["kind"] == "close-account"
        ]
        assert duty[0]["clause"] == "3.8" and duty[0]["due_at"].startswith("2026-05-02")
        assert (
            smgov(
                "account",
                "closed",
                good,
                "--closed-on",
                "2026-04-10",
                "--evidence",
                "Deactivated by 300002; archive exported to the records unit",
                "--by",
                "300001",
                "--as-of",
                "2026-04-10",
            ).code
            == 0
        )
        verdict = smgov("account", "verify", "https://x.com/UNGeneva", "--json").json()
        assert verdict["registered"] is True and verdict["official"] is False
        assert verdict["state"] == "closed"
        assert smgov("audit", "verify").code == 0

    def test_condition_reminded_then_met(
        self, registry: dict[str, int], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """A condition not met by its deadline is reminded and escalated citing its clause;
        meeting it stops the reminders (issue 6, 4)."""
        good = str(registry["good"])
        smgov("campaign", "start", "reassessment", "--entity", "UNOG", "--as-of", "2026-04-01")
        assert (
            smgov(
                "assess",
                good,
                "--decision",
                "conditions",
                "--reason",
                "Keep it",
                "--condition",
                "Publish an editorial policy",
                "--within",
                "10",
                "--by",
                "300001",
                "--as-of",
                "2026-04-02",
            ).code
            == 0
        )
        assert smgov("account", "show", good, "--json").json()["state"] == "active"
        start = len(smtp.messages)
        for day in ("2026-04-12", "2026-04-13", "2026-04-27"):
            smgov("sweep", "--as-of", day)
        mails = [m for m in smtp.messages[start:] if "[3.2]" in m.body]
        assert any("OVERDUE" in m.subject for m in mails)
        assert "registry@un.example" in {m.rcpt_tos[0] for m in mails}
        condition = next(
            o
            for o in smgov(
                "obligation", "list", "--state", "open", "--as-of", "2026-04-27", "--json"
            ).json()
            if o["kind"] == "assessment-condition"
        )
        assert condition["assignee"] == "300002", "the administrator meets it, the head confirms"
        held = smgov("obligation", "meet", str(condition["id"]), "--by", "300002", "--note", "ok")
        assert held.code == 2 and held.err.startswith("error: --by: 300002 may not"), held.err
        assert (
            smgov(
                "obligation",
                "meet",
                str(condition["id"]),
                "--by",
                "300001",
                "--note",
                "Policy published",
                "--as-of",
                "2026-04-28",
            ).code
            == 0
        )
        start = len(smtp.messages)
        smgov("sweep", "--as-of", "2026-05-04")
        assert not [
            m
            for m in smtp.messages[start:]
            if "assessment" in m.body.lower() and "condition" in m.body.lower()
        ]


def _with_condition(uow: Callable[..., Any]) -> dt.datetime:
    """OHCHR's account held by administrator 100002 and alternate 100003, existing at
    issuance, continued by the head on one condition; returns the instant of the decision."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
        account_id = org.account(ctx, created_on=dt.date(2025, 6, 1))
        org.complete(ctx, account_id)
    at = org.T0 + dt.timedelta(days=1)
    with uow(at) as ctx:
        reassessment.decide(
            ctx,
            ref=str(account_id),
            decision="conditions",
            reason="keep it",
            conditions=["publish an editorial policy"],
            by="100001",
        )
    return at


class TestConfirmingConditions:
    @pytest.mark.clause("3.3")
    @pytest.mark.clause("3.1(a)")
    def test_nobody_confirms_a_condition_of_their_own(self, uow: Callable[..., Any]) -> None:
        """3.3: a condition of continuation is its account's administrator's duty; where the
        head is that administrator (authorized by an officer-in-charge), the head cannot
        confirm it met (nobody certifies for themselves): the officer-in-charge can, and the
        refusal wrote nothing. An account nobody holds leaves it to the registry team."""
        at = org.T0 + dt.timedelta(days=1)
        with uow(org.T0) as ctx:
            org.seed(ctx)
            held = org.account(ctx, created_on=dt.date(2025, 6, 1))  # existing at issuance
            orphan = org.account(
                ctx, url="x.com/unhr_orphan", handle="unhr_orphan", created_on=dt.date(2025, 6, 1)
            )
            org.acting(
                ctx,
                "100004",
                by="100001",
                starts_on=at.date(),
                ends_on=at.date() + dt.timedelta(days=30),
            )
        with uow(at) as ctx:
            accounts.authorize(
                ctx, ref=str(held), staff="100001", role="administrator", by="100004", reference="W"
            )
            for account_id in (held, orphan):
                reassessment.decide(
                    ctx,
                    ref=str(account_id),
                    decision="conditions",
                    reason="keep it",
                    conditions=["publish an editorial policy"],
                    by="100004",
                )
        with uow(at) as ctx:
            duties = {
                o.subject: o
                for o in ctx.session.exec(
                    select(Obligation).where(col(Obligation.kind) == "assessment-condition")
                )
            }
            duty = duties[f"account:{held}"]
            assert duty.assignee == "100001"  # the head holds the account as its administrator
            assert duties[f"account:{orphan}"].assignee == "registry"
        with uow(at) as ctx, pytest.raises(NotAuthorized, match=r"100001 may not duty\.confirm"):
            reassessment.meet(ctx, obligation_id=duty.id or 0, by="100001", note="done")
        with uow(at) as ctx:
            assert ctx.session.get(Obligation, duty.id).state == "open"
            reassessment.meet(ctx, obligation_id=duty.id or 0, by="100004", note="seen it")
            assert ctx.session.get(Obligation, duty.id).state == "met"

    @pytest.mark.clause("3.3")
    @pytest.mark.clause("4.2")
    def test_a_condition_passes_on_when_its_holder_leaves(self, uow: Callable[..., Any]) -> None:
        """3.3, 4.2: the administrator chased for a condition of continuation is separated:
        the condition passes to the account's alternate, who is still there (before, it stayed
        with the person gone, whom nobody reminds)."""
        at = _with_condition(uow)
        with uow(at) as ctx:
            org.hr(ctx, ("E-ADMIN", "separation", "100002", at.date(), None))
        with uow(at) as ctx:
            duty = ctx.session.exec(
                select(Obligation).where(col(Obligation.kind) == "assessment-condition")
            ).one()
            assert (duty.assignee, duty.state) == ("100003", "open")

    @pytest.mark.clause("3.3")
    def test_a_sweep_gives_a_condition_to_whoever_holds_its_account(
        self, uow: Callable[..., Any]
    ) -> None:
        """3.3: a condition assigned to the head (as every condition was before conditions
        became their account holder's) passes at the next sweep to the account's
        administrator, so the head can confirm it; a second sweep moves nothing."""
        from services.inventory import housekeeping

        at = _with_condition(uow)
        with uow(at) as ctx:
            duty = ctx.session.exec(
                select(Obligation).where(col(Obligation.kind) == "assessment-condition")
            ).one()
            duty.assignee = "100001"  # as a condition opened by an earlier version
            ctx.session.add(duty)
        with uow(at) as ctx:
            assert housekeeping(ctx)["conditions_passed_on"] == 1
            assert housekeeping(ctx)["conditions_passed_on"] == 0
        with uow(at) as ctx:
            duty = ctx.session.exec(
                select(Obligation).where(col(Obligation.kind) == "assessment-condition")
            ).one()
            assert duty.assignee == "100002"
            reassessment.meet(ctx, obligation_id=duty.id or 0, by="100001", note="published")


class TestStaggering:
    def test_forty_entities_spread(self) -> None:
        """The staggering puts no more than a configured share (here 5%: two of 40) of
        entities in any one week (issue 6, 5)."""
        weeks = stagger([f"E{n:02d}" for n in range(40)], Counter())
        per_week = Counter(weeks.values())
        assert max(per_week.values()) <= 0.05 * 40
        assert len(per_week) == 40

    def test_existing_load_is_respected(self) -> None:
        """Weeks already carrying entities are filled last."""
        weeks = stagger(["A", "B"], Counter({w: 1 for w in range(51)}))
        assert weeks["A"] == 51

    def test_daily_run_schedules_and_opens(
        self,
        registry: dict[str, int],
        cli_env: dict[str, str],
        uow: Callable[..., Any],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The daily flow gives each entity a date within the year and opens its campaign on
        that date, then moves the date a year on (the flow run through Prefect in-process)."""
        for key, value in cli_env.items():
            if key.startswith("SMGOV_"):
                monkeypatch.setenv(key, value)
        from flows.reassessment import reassessment

        summary = reassessment(as_of="2026-04-01T12:00:00Z")
        assert summary["scheduled"] == 1 and summary["campaigns"] == 0
        with uow() as ctx:
            day = entities.get_entity(ctx, "UNOG").next_reassessment_on
        assert day is not None and dt.date(2026, 4, 8) <= day < dt.date(2027, 4, 8)
        opened = reassessment(as_of=f"{day.isoformat()}T12:00:00Z")
        assert opened["campaigns"] == 1 and opened["assessments"] == 2
        with uow() as ctx:
            assert entities.get_entity(ctx, "UNOG").next_reassessment_on == day.replace(
                year=day.year + 1
            )


@pytest.fixture
def three_entities(uow: Callable[..., Any]) -> dict[str, list[int]]:
    """Three entities, each with three accounts on X whose purposes echo the other entities'
    (so that an account's overlaps lie in other batches than its own)."""
    ids: dict[str, list[int]] = {}
    with uow(T0) as ctx:
        for e, code in enumerate(("UNEA", "UNEB", "UNEC")):
            entities.add_entity(
                ctx, code=code, name=f"Entity {code}", kind="office", timezone="UTC"
            )
            head = f"40{e}000"
            entities.add_staff(ctx, index=head, name=f"H{e}", email=f"h{e}@un.example", entity=code)
            entities.set_head(ctx, code=code, staff_index=head)
            ids[code] = []
            for n, topic in enumerate(("climate action", "refugee protection", "food security")):
                acc = accounts.register(
                    ctx,
                    entity=code,
                    platform="x",
                    handle=f"{code.lower()}{n}",
                    url=f"x.com/{code.lower()}{n}",
                    languages=["en"],
                    purpose=f"news on {topic} for the general public",
                    audience="the general public",
                    by=head,
                    created_on=dt.date(2024, 6, 1),  # existing at issuance: active
                )
                assert acc.id is not None
                ids[code].append(acc.id)
            for account in ids[code] if code != "UNEB" else ():
                # A's and C's initial 3.3 assessments decided: their campaigns open fresh ones
                reassessment.decide(
                    ctx, ref=str(account), decision="continue", reason="fine", by=head
                )
    return ids


def _findings_by_account(uow: Callable[..., Any], clause: str = "3.2(a)") -> dict[int, str]:
    """Each open assessment's note on `clause`, by account."""
    from models.tables import Assessment

    with uow(T0) as ctx:
        return {
            a.account_id: json.loads(a.findings)[clause]["note"]
            for a in ctx.session.execute(
                select(Assessment).where(col(Assessment.findings).is_not(None))
            ).scalars()
        }


def _counted_reads(
    monkeypatch: pytest.MonkeyPatch, failing: frozenset[str] = frozenset()
) -> list[frozenset[str]]:
    """The entities of each batch read (`_read_batch`), in order, the first read of `failing`
    failing; the survey never ready when first asked, so every later batch is read ahead."""
    reads: list[frozenset[str]] = []
    read_batch = reassessment._read_batch

    def counted(ctx: Any, codes: Any) -> Any:
        reads.append(frozenset(codes))
        if reads.count(failing) == 1:
            raise ValueError("a read that fails")
        return read_batch(ctx, codes)

    monkeypatch.setattr(reassessment, "_read_batch", counted)
    monkeypatch.setattr(reassessment._Answer, "ready", lambda _self: False)
    return reads


def _survey_processes() -> list[int]:
    """The survey processes this process started that are still there (a zombie included)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:  # not a process, or gone meanwhile
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        if parent == os.getpid() and b"services.survey_process" in command:
            found.append(int(entry.name))
    return found


class TestBatchedCampaign:
    @pytest.mark.clause("3.2(a)")
    def test_the_survey_apart_finds_what_the_whole_registry_holds(
        self,
        three_entities: dict[str, list[int]],
        uow: Callable[..., Any],
        db_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A campaign opened a batch of entities at a time, its survey in a process of its own,
        names in each account's findings the same first three overlaps as the survey of the
        whole registry in this process, overlaps in other batches included; a batch that opens
        nothing (its campaign exists already) does not hand its overlaps to the next."""
        with uow(T0) as ctx:
            expected = overlaps_of(reassessment.registry_survey(ctx), sorted(three_entities))
            reassessment.start(ctx, entity="UNEB")  # a re-run finds B's campaign open
        elsewhere = {
            account: [n for n in named if not n.split(" (", 1)[1].startswith(code)]
            for code, ids in three_entities.items()
            for account in ids
            for named in [expected[account]]
        }
        assert all(elsewhere[a] for a in three_entities["UNEC"])  # overlaps in other batches
        batches = [["UNEA"], ["UNEB"], ["UNEC"]]
        opened = []

        def nowhere(_ctx: Any) -> None:
            raise AssertionError("surveyed in the campaign's process, not apart")

        monkeypatch.setattr(reassessment, "registry_survey", nowhere)
        for batch, overlaps in reassessment.surveyed(db_url, batches):
            assert overlaps is not None  # surveyed apart, not in the campaign's transaction
            with uow(T0) as ctx:
                opened.append(reassessment.start(ctx, entities=batch, overlaps=overlaps))
        assert [(o["campaigns"], o["assessments"]) for o in opened] == [(1, 3), (0, 0), (1, 3)]
        notes = _findings_by_account(uow)
        for ids in three_entities.values():
            for account in ids:
                assert notes[account] == "overlaps: " + "; ".join(expected[account])

    @pytest.mark.clause("3.2(c)")
    @pytest.mark.parametrize("writer", ["another connection", "the same connection"])
    def test_what_was_read_ahead_is_read_again_once_another_has_written(
        self,
        three_entities: dict[str, list[int]],
        uow: Callable[..., Any],
        db_url: str,
        monkeypatch: pytest.MonkeyPatch,
        writer: str,
    ) -> None:
        """While the first batch waits for the survey process, its transaction reads what the
        next batches' openings read (`ReadAhead`). A batch uses that read only if nothing was
        written since but the campaign's own batches: B, unchanged since it was read ahead, is
        not read again; an administrator granted to one of C's accounts between the second and
        third batch, by another connection (SQLite's data_version) or through the campaign's
        own pooled connection (its total_changes), makes C read again, and C's findings name
        her. On PostgreSQL nothing is read ahead: each batch reads in its own transaction."""
        from sqlalchemy import create_engine, text

        reads = _counted_reads(monkeypatch)
        batches = [["UNEA"], ["UNEB"], ["UNEC"]]
        ahead = reassessment.ReadAhead(batches)
        granted = three_entities["UNEC"][0]
        grant = text(
            "INSERT INTO written_authorization (account_id, staff_index, role, granted_by, "
            "granted_at, reference) VALUES (:a, '402000', 'administrator', '402000', :t, 'memo')"
        )
        values = {"a": granted, "t": T0.replace(tzinfo=None)}
        for number, (_, overlaps) in enumerate(reassessment.surveyed(db_url, batches)):
            with uow(T0) as ctx:
                ahead.start(ctx, number, overlaps)
            if number == 1 and writer == "the same connection":
                with uow(T0) as ctx:
                    ctx.session.execute(grant, values)
            elif number == 1:
                other = create_engine(db_url)
                with other.begin() as conn:
                    conn.execute(grant, values)
                other.dispose()
        notes = _findings_by_account(uow, "3.2(c)")
        assert notes[granted] == "no alternate"  # the grant made after the read ahead
        assert notes[three_entities["UNEC"][1]] == "no authorized administrator; no alternate"
        a, b, c = (frozenset([code]) for code in ("UNEA", "UNEB", "UNEC"))
        if db_url.startswith("sqlite"):
            assert reads == [a, b, c, c]  # B and C read ahead; C again, B not
        else:
            assert reads == [a, b, c]  # nothing read ahead

    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_a_read_ahead_that_fails_is_let_go(
        self,
        three_entities: dict[str, list[int]],
        uow: Callable[..., Any],
        db_url: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """A read ahead only saves time: when reading C's rows ahead fails, the first batch
        still commits, and C reads its rows in its own transaction; the campaign opens whole."""
        reads = _counted_reads(monkeypatch, failing=frozenset({"UNEC"}))
        batches = [["UNEA"], ["UNEB"], ["UNEC"]]
        ahead = reassessment.ReadAhead(batches)
        opened = []
        for number, (_, overlaps) in enumerate(reassessment.surveyed(db_url, batches)):
            with uow(T0) as ctx:
                opened.append(ahead.start(ctx, number, overlaps)["campaigns"])
        assert opened == [1, 1, 1]
        assert len(_findings_by_account(uow)) == 9
        a, b, c = (frozenset([code]) for code in ("UNEA", "UNEB", "UNEC"))
        assert reads == [a, b, c, c]  # C failed ahead, then read again

    def test_a_survey_process_that_fails_writes_nothing(
        self, three_entities: dict[str, list[int]], uow: Callable[..., Any], tmp_path: Any
    ) -> None:
        """When the survey process cannot work (here: a database without smgov's tables), the
        batch waiting for it fails, saying why, and its transaction writes nothing: no
        campaign, no assessment, no duty, no account marked."""
        from models.tables import Campaign

        empty = tmp_path / "empty.db"
        empty.touch()

        def campaign() -> None:
            for batch, overlaps in reassessment.surveyed(
                f"sqlite:///{empty}", [["UNEA"], ["UNEB"]]
            ):
                with uow(T0) as ctx:
                    reassessment.start(ctx, entities=batch, overlaps=overlaps)

        with pytest.raises(RuntimeError, match=r"survey process stopped.*no such table"):
            campaign()
        assert not _findings_by_account(uow)
        with uow(T0) as ctx:
            assert ctx.session.execute(select(Campaign)).first() is None
            duties = select(Obligation).where(col(Obligation.kind) == "reassessment")
            assert ctx.session.execute(duties).first() is None
            states = {
                a.state
                for ids in three_entities.values()
                for a in [accounts.get_account(ctx, str(i)) for i in ids]
            }
        assert states == {"active"}

    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_a_survey_held_up_fails_its_batch_in_time(
        self, three_entities: dict[str, list[int]], uow: Callable[..., Any], db_url: str
    ) -> None:
        """A survey process held up (here: the reference list locked by another session, as a
        migration would, on PostgreSQL, where a read waits for the lock without end) is
        stopped once the batch has waited `timeout` seconds: the batch fails saying so, writes
        nothing, and no survey process is left behind."""
        from sqlalchemy import create_engine, text

        from models.tables import Campaign

        def campaign() -> None:
            for batch, overlaps in reassessment.surveyed(db_url, [["UNEA"], ["UNEB"]], timeout=3):
                with uow(T0) as ctx:
                    reassessment.start(ctx, entities=batch, overlaps=overlaps)

        holder = create_engine(db_url)
        started = time.monotonic()
        with holder.connect() as conn:
            conn.execute(text("LOCK TABLE survey_account IN ACCESS EXCLUSIVE MODE"))
            with pytest.raises(RuntimeError, match=r"sent nothing for batch 1 in 3 s"):
                campaign()
            waited = time.monotonic() - started
            conn.rollback()
        holder.dispose()
        assert waited < 60, "the batch waited for the lock, not for its timeout"
        assert not _survey_processes(), "a survey process was left behind"
        assert not _findings_by_account(uow)
        with uow(T0) as ctx:
            assert ctx.session.execute(select(Campaign)).first() is None


class TestActivityImport:
    @pytest.mark.parametrize(
        ("cells", "field"),
        [
            ({"followers": "9" * 20}, "followers"),  # the driver overflowed on it
            ({"followers": "9" * 5000}, "followers"),  # past what Python parses
            ({"followers": "-5"}, "followers"),
            ({"posts_per_month": "9" * 400}, "posts_per_month"),  # was stored as Inf
            ({"posts_per_month": "nan"}, "posts_per_month"),  # was stored empty
            ({"posts_per_month": "many"}, "posts_per_month"),
        ],
    )
    def test_figures_are_counts(
        self, uow: Callable[..., Any], cells: dict[str, str], field: str
    ) -> None:
        """Activity figures (3.2's impact) are counts from 0 to a trillion: anything else is
        refused naming the row and the field, and nothing is imported."""
        from models.errors import Refused
        from models.tables import AccountActivity

        with uow(T0) as ctx:
            org.seed(ctx)
            account = org.account(ctx)
        good = {"account": str(account), "last_post": "2026-05-01"}
        row = {**good, "posts_per_month": "3", "followers": "10", **cells}
        with uow(T0) as ctx, pytest.raises(Refused, match=f"row 3: {field}: must be a"):
            reassessment.import_activity(ctx, [(2, {**good, "followers": "7"}), (3, row)])
        with uow(T0) as ctx:
            assert ctx.session.execute(select(AccountActivity)).first() is None
            assert reassessment.import_activity(ctx, [(2, {**good, "followers": "7"})]) == 1
