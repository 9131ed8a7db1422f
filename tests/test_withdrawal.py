"""Withdrawal of approval (3.8) for many accounts of one entity in one act (issue 20): every
authorization revoked, the accounts withdrawn, their open duties closed (custody's kept), open
assessments decided, a closure duty per account — by the head of that entity only, nothing of
another entity touched; the single-account withdrawal is the same code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from models.errors import NotAuthorized, Refused
from models.tables import Account, Assessment, AuditEvent, Authorization, Obligation
from services import accounts, entities, obligations, reassessment
from services.audit import write_pending
from tests import org
from tests.conftest import Result

Uow = Callable[..., Any]
T1 = org.T0 + dt.timedelta(days=1)
T2 = org.T0 + dt.timedelta(days=2)


def _accounts(ctx: Any, code: str, head: str, prefix: str, n: int) -> list[int]:
    """`n` active accounts of `code`, each with an administrator and an alternate."""
    ids = []
    for i in range(n):
        account_id = org.account(
            ctx,
            code=code,
            head=head,
            url=f"x.com/{code.lower()}{i}",
            handle=f"{code}{i}",
        )
        org.complete(ctx, account_id, head=head, admin=f"{prefix}00002", alternate=f"{prefix}00003")
        ctx.session.get(Account, account_id).state = "active"  # approved (2.1)
        ids.append(account_id)
    return ids


@pytest.fixture
def two(uow: Uow) -> dict[str, list[int]]:
    """OHCHR (head 100001) with three active accounts, an open reassessment of each and a
    credential handover due for the first; UNICEF (head 200001) with two; registry officer
    900001 of DGC."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
        org.seed(ctx, code="UNICEF", tz="America/New_York", prefix="2")
        entities.add_entity(
            ctx, code="DGC", name="Global Communications", kind="department", timezone="UTC"
        )
        entities.add_staff(
            ctx,
            index="900001",
            name="Registry officer",
            email="ro@un.example",
            entity="DGC",
            registry_officer=True,
        )
        ids = {
            "OHCHR": _accounts(ctx, "OHCHR", "100001", "1", 3),
            "UNICEF": _accounts(ctx, "UNICEF", "200001", "2", 2),
        }
        org.settle_authority(ctx)
    with uow(T1) as ctx:
        reassessment.start(ctx, entity="OHCHR")
        reassessment.start(ctx, entity="UNICEF")
        obligations.open_obligation(
            ctx,
            key=f"handover:{ids['OHCHR'][0]}",
            clause="4.2",
            kind="credential-handover",
            subject=f"account:{ids['OHCHR'][0]}",
            entity=entities.get_entity(ctx, "OHCHR"),
            assignee="100002",
            due_at=T2 + dt.timedelta(days=5),
            actor="test",
        )
    return ids


def _state(ctx: Any, ids: list[int]) -> dict[str, Any]:
    """What a withdrawal changes for accounts `ids`: their states, authorizations in force,
    open duties by kind, and open assessments."""
    subjects = [f"account:{i}" for i in ids]
    return {
        "accounts": sorted(
            ctx.session.execute(
                select(col(Account.id), col(Account.state)).where(col(Account.id).in_(ids))
            ).all()
        ),
        "held": sorted(
            ctx.session.execute(
                select(col(Authorization.account_id), col(Authorization.role)).where(
                    col(Authorization.account_id).in_(ids),
                    col(Authorization.revoked_at).is_(None),
                )
            ).all()
        ),
        "open": sorted(
            ctx.session.execute(
                select(col(Obligation.subject), col(Obligation.kind)).where(
                    col(Obligation.subject).in_(subjects), col(Obligation.state) == "open"
                )
            ).all()
        ),
        "assessments": sorted(
            ctx.session.execute(
                select(col(Assessment.account_id), col(Assessment.state)).where(
                    col(Assessment.account_id).in_(ids)
                )
            ).all()
        ),
    }


class TestWithdrawMany:
    @pytest.mark.clause("3.8")
    def test_every_account_of_the_entity(self, uow: Uow, two: dict[str, list[int]]) -> None:
        """`--all`: every authorization of the entity's accounts revoked, the accounts withdrawn,
        each open assessment decided withdraw (its duty met), the other open duties withdrawn
        but the credential handover (custody until closure), one 3.8 closure duty per account
        due `closure_days` on; one audit event for the act (3.8)."""
        ours = two["OHCHR"]
        with uow(T1) as ctx:
            theirs_before = _state(ctx, two["UNICEF"])
        with uow(T2) as ctx:
            done = reassessment.withdraw_many(
                ctx, entity="ohchr", reason="The office's presence ends", by="100001"
            )
        assert done == ours
        with uow(T2) as ctx:
            after = _state(ctx, ours)
            assert after["accounts"] == [(i, "withdrawn") for i in ours]
            assert after["held"] == []
            assert after["assessments"] == [(i, "decided") for i in ours]
            assert after["open"] == sorted(
                [(f"account:{i}", "close-account") for i in ours]
                + [(f"account:{ours[0]}", "credential-handover")]
            )
            closing = ctx.session.execute(
                select(Obligation).where(col(Obligation.kind) == "close-account")
            ).scalars()
            for duty in closing:
                assert (duty.clause, duty.assignee, duty.entity_code) == ("3.8", "100001", "OHCHR")
                assert duty.due_at.date() == dt.date(2026, 2, 21)  # 30 days, Geneva's day
            decided = ctx.session.execute(
                select(Assessment).where(col(Assessment.account_id).in_(ours))
            ).scalars()
            for assessment in decided:
                assert (assessment.decision, assessment.decided_by) == ("withdraw", "100001")
                assert assessment.reason_text == "The office's presence ends"
            met = ctx.session.execute(
                select(col(Obligation.kind), col(Obligation.closed_reason)).where(
                    col(Obligation.subject).in_([f"account:{i}" for i in ours]),
                    col(Obligation.state) == "met",
                    col(Obligation.kind) == "reassessment",
                )
            ).all()
            assert sorted(met) == [("reassessment", "withdraw: The office's presence ends")] * 3
            assert _state(ctx, two["UNICEF"]) == theirs_before  # nothing of UNICEF touched
            write_pending(ctx.session)
            events = ctx.session.execute(
                select(AuditEvent).where(col(AuditEvent.action) == "account.withdraw")
            ).scalars()
            assert [(e.actor, e.subject) for e in events] == [("100001", "entity:OHCHR")]

    @pytest.mark.clause("3.8")
    def test_only_the_head_of_that_entity(self, uow: Uow, two: dict[str, list[int]]) -> None:
        """Refused, changing nothing: a staff member of the entity, the head of another entity
        and a registry officer (the head decides, 3.1(a), 3.8); an account of another entity
        among those named; an entity with no account left."""
        with uow(T1) as ctx:
            before = _state(ctx, two["OHCHR"] + two["UNICEF"])
        for by in ("100002", "200001", "900001"):
            with uow(T2) as ctx, pytest.raises(NotAuthorized) as refused:
                reassessment.withdraw_many(ctx, entity="OHCHR", reason="x", by=by)
            assert refused.value.clause == "3.1(a)"
        named = [str(two["OHCHR"][1]), str(two["UNICEF"][0])]
        with uow(T2) as ctx, pytest.raises(Refused, match="UNICEF's, not OHCHR's"):
            reassessment.withdraw_many(ctx, entity="OHCHR", refs=named, reason="x", by="100001")
        with uow(T2) as ctx:
            assert _state(ctx, two["OHCHR"] + two["UNICEF"]) == before
            reassessment.withdraw_many(ctx, entity="UNICEF", reason="merged", by="200001")
        with uow(T2) as ctx, pytest.raises(Refused, match="no account left"):
            reassessment.withdraw_many(ctx, entity="UNICEF", reason="again", by="200001")

    @pytest.mark.clause("3.8")
    def test_the_accounts_named(self, uow: Uow, two: dict[str, list[int]]) -> None:
        """Named accounts (by id or URL) are withdrawn, the entity's others kept; one already
        withdrawn is refused (3.8)."""
        first, second, third = two["OHCHR"]
        with uow(T2) as ctx:
            reassessment.withdraw_many(
                ctx,
                entity="OHCHR",
                refs=[str(first), "https://x.com/OHCHR2"],
                reason="duplicates",
                by="100001",
            )
        with uow(T2) as ctx:
            states = dict(_state(ctx, two["OHCHR"])["accounts"])
            assert states == {first: "withdrawn", second: "under-reassessment", third: "withdrawn"}
        with uow(T2) as ctx, pytest.raises(Refused, match="already withdrawn"):
            reassessment.withdraw_many(
                ctx, entity="OHCHR", refs=[str(second), str(first)], reason="x", by="100001"
            )

    def test_one_account_is_the_same_code(self, uow: Uow, two: dict[str, list[int]]) -> None:
        """`withdraw` of one account does what `withdraw_many` does for it (its assessment
        decided, authorizations revoked, closure due), audited as that account's."""
        first = two["OHCHR"][0]
        with uow(T2) as ctx:
            account = reassessment.withdraw(ctx, ref=str(first), reason="dormant", by="100001")
            assert account.state == "withdrawn"
        with uow(T2) as ctx:
            after = _state(ctx, [first])
            assert after["held"] == [] and after["assessments"] == [(first, "decided")]
            assert after["open"] == [
                (f"account:{first}", "close-account"),
                (f"account:{first}", "credential-handover"),
            ]
            write_pending(ctx.session)
            subjects = ctx.session.execute(
                select(col(AuditEvent.subject)).where(col(AuditEvent.action) == "account.withdraw")
            ).scalars()
            assert list(subjects) == [f"account:{first}"]
            assert accounts.verify_url(ctx, "x.com/ohchr0")["official"] is False


class TestCommand:
    @pytest.mark.clause("3.8")
    def test_withdraw_all_from_the_command_line(
        self, smgov: Callable[..., Result], two: dict[str, list[int]]
    ) -> None:
        """`smgov account withdraw --entity CODE --all` withdraws every account of the entity
        for its head, exits 2 for anyone else (naming 3.1(a)) and for --all without --entity."""
        args = ("account", "withdraw", "--entity", "OHCHR", "--all", "--reason", "closing")
        refused = smgov(*args, "--by", "100002", "--as-of", "2026-01-22")
        assert refused.code == 2 and "(3.1(a))" in refused.err
        assert smgov("account", "withdraw", "--all", "--reason", "x", "--by", "100001").code == 2
        done = smgov(*args, "--by", "100001", "--as-of", "2026-01-22")
        assert done.code == 0, done.err
        assert "accounts of OHCHR: 3" in done.out
        listed = smgov("account", "list", "--entity", "OHCHR", "--json").json()
        assert {a["state"] for a in listed} == {"withdrawn"}
        others = smgov("account", "list", "--entity", "UNICEF", "--json").json()
        assert {a["state"] for a in others} == {"under-reassessment"}
        assert smgov("audit", "verify").code == 0
