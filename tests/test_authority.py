"""Authority that cannot be routed around (issue 17): one policy table read by one function, roles
derived at the time of the act, nobody acting for themselves, heads named and vacated with their
duties following the post."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlmodel import col

from models.errors import NotAuthorized
from models.hr import EventIn
from models.policy import POLICY, markdown_table
from models.tables import EntityRole, Obligation, Outbox
from services import accounts, entities, separation
from services.authority import current_head, may
from tests import org

ROOT = Path(__file__).resolve().parent.parent
T1 = org.T0 + dt.timedelta(days=1)
T2 = org.T0 + dt.timedelta(days=2)
T3 = org.T0 + dt.timedelta(days=3)

Uow = Callable[..., Any]


def _registry(uow: Uow) -> None:
    """OHCHR (head 100001, staff 100002-100004) and registry officer 900001 of DGC."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
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
        entities.add_staff(
            ctx, index="900002", name="Second officer", email="ro2@un.example", entity="DGC"
        )


def _open_duties(ctx: Any, code: str = "OHCHR") -> dict[str, str]:
    rows = ctx.session.execute(
        select(col(Obligation.key), col(Obligation.assignee)).where(
            col(Obligation.entity_code) == code, col(Obligation.state) == "open"
        )
    ).all()
    return dict(rows)


class TestPolicyTable:
    def test_readme_states_the_policy_table(self) -> None:
        """The README's "Who may do what" table is the policy table the services read: a row
        changed in one and not the other fails here."""
        readme = (ROOT / "README.md").read_text(encoding="utf-8")
        assert markdown_table() in readme
        assert {rule.role for rule in POLICY} >= {
            "head",
            "officer-in-charge",
            "delegate",
            "registry-officer",
            "operator",
        }

    @pytest.mark.clause("3.1(a)")
    def test_registry_officer_decides_nothing_for_an_entity(self, uow: Uow) -> None:
        """A registry officer keeps every entity's entries and reads everything, but decides,
        authorizes and attests nothing for an entity (3.1(a), 3.7)."""
        _registry(uow)
        with uow(T1) as ctx:

            def ask(action: str) -> bool:
                return may(
                    ctx.session, actor="900001", action=action, entity_code="OHCHR", at=T1
                ).allowed

            assert ask("registry.write") and ask("read")
            assert not ask("decide") and not ask("authorize")
            aid = org.account(ctx, head="900001")
            with pytest.raises(NotAuthorized):
                accounts.authorize(
                    ctx,
                    ref=str(aid),
                    staff="100002",
                    role="administrator",
                    by="900001",
                    reference="RO/1",
                )


class TestOfficerInCharge:
    @pytest.mark.clause("3.1(a)")
    def test_nobody_appoints_or_extends_themselves(self, uow: Uow) -> None:
        """An officer-in-charge is appointed for a bounded period by the head; they cannot
        re-appoint or extend themselves (to 2099 or otherwise), and the head cannot appoint
        without an end or beyond the policy's bound (3.1)."""
        _registry(uow)
        with uow(T1) as ctx:
            entities.appoint(
                ctx,
                code="OHCHR",
                staff_index="100003",
                role="officer-in-charge",
                by="100001",
                starts_on=dt.date(2026, 1, 21),
                ends_on=dt.date(2026, 2, 28),
            )
        for ends in (dt.date(2099, 12, 31), dt.date(2026, 3, 31)):
            with uow(T2) as ctx, pytest.raises(NotAuthorized):
                entities.appoint(
                    ctx,
                    code="OHCHR",
                    staff_index="100003",
                    role="officer-in-charge",
                    by="100003",
                    starts_on=dt.date(2026, 1, 22),
                    ends_on=ends,
                )
        for ends in (None, dt.date(2099, 12, 31)):
            with uow(T2) as ctx, pytest.raises(NotAuthorized) as refused:
                entities.appoint(
                    ctx,
                    code="OHCHR",
                    staff_index="100004",
                    role="officer-in-charge",
                    by="100001",
                    ends_on=ends,
                )
            assert "bounded period" in str(refused.value)
        with uow(T2) as ctx:
            assert current_head(session=ctx.session, entity_code="OHCHR", at=T2) == "100003"
            ends = ctx.session.execute(
                select(col(EntityRole.ends_at)).where(col(EntityRole.staff_index) == "100003")
            ).scalar_one()
            assert ends == dt.datetime(2026, 2, 28, 23, tzinfo=dt.UTC)  # 1 March, Zurich

    @pytest.mark.clause("3.1(a)")
    def test_registry_officer_appoints_only_while_the_post_is_vacant(self, uow: Uow) -> None:
        """A registry officer may appoint an officer-in-charge only while the head's post is
        vacant, for a bounded period, and never themselves; the vacancy's duties, held by the
        registry team, pass to the officer-in-charge (3.1)."""
        _registry(uow)
        with uow(T1) as ctx:
            org.account(ctx)
            with pytest.raises(NotAuthorized) as refused:
                entities.appoint(
                    ctx,
                    code="OHCHR",
                    staff_index="100003",
                    role="officer-in-charge",
                    by="900001",
                    ends_on=dt.date(2026, 3, 1),
                )
            assert "vacant" in str(refused.value)
        with uow(T1) as ctx:
            separation.record(
                ctx,
                [EventIn("E-HEAD", "separation", "100001", dt.date(2026, 1, 21), None)],
                source="cli",
            )
            separation.apply_due(ctx)
        with uow(T2) as ctx:
            assert set(_open_duties(ctx).values()) == {"registry"}
            with pytest.raises(NotAuthorized):
                entities.appoint(
                    ctx,
                    code="OHCHR",
                    staff_index="900001",
                    role="officer-in-charge",
                    by="900001",
                    ends_on=dt.date(2026, 3, 1),
                )
        with uow(T2) as ctx:
            entities.appoint(
                ctx,
                code="OHCHR",
                staff_index="100003",
                role="officer-in-charge",
                by="900001",
                ends_on=dt.date(2026, 3, 1),
            )
        with uow(T2) as ctx:
            assert set(_open_duties(ctx).values()) == {"100003"}


class TestHeads:
    @pytest.mark.clause("3.1(a)")
    def test_set_head_names_its_actor_once_there_are_registry_officers(self, uow: Uow) -> None:
        """The operator bootstraps heads only while the registry has no registry officer;
        afterwards a registry officer names them with --by, never themselves; the outgoing head's
        open duties pass to the new head (1.1(c), 3.1)."""
        _registry(uow)
        with uow(T1) as ctx:
            aid = org.account(ctx)
            assert set(_open_duties(ctx).values()) == {"100001"}
        with uow(T2) as ctx, pytest.raises(NotAuthorized):
            entities.set_head(ctx, code="OHCHR", staff_index="100004")  # the operator
        with uow(T2) as ctx, pytest.raises(NotAuthorized):
            entities.set_head(ctx, code="DGC", staff_index="900001", by="900001")
        with uow(T2) as ctx, pytest.raises(NotAuthorized):
            entities.add_staff(
                ctx,
                index="900003",
                name="Self-made",
                email="x@un.example",
                entity="DGC",
                registry_officer=True,
            )  # the operator, too late
        with uow(T2) as ctx:
            entities.set_head(ctx, code="OHCHR", staff_index="100004", by="900001")
        with uow(T3) as ctx:
            duties = _open_duties(ctx)
            assert duties and set(duties.values()) == {"100004"}, duties
            assert f"entry:{aid}" in duties

    @pytest.mark.clause("4.2")
    def test_separated_head_leaves_the_post_vacant(self, uow: Uow) -> None:
        """A head's separation ends the head's role at its effective time: the registry team is
        alerted at once, the head's open duties go to the officer-in-charge in office (else the
        registry team) until a head is named, and the new head takes them (3.1, 4.2)."""
        _registry(uow)
        with uow(T1) as ctx:
            org.account(ctx)
            entities.appoint(
                ctx,
                code="OHCHR",
                staff_index="100003",
                role="officer-in-charge",
                by="100001",
                starts_on=dt.date(2026, 2, 5),
                ends_on=dt.date(2026, 2, 20),
            )
            separation.record(
                ctx,
                [EventIn("E-HEAD", "separation", "100001", dt.date(2026, 1, 21), None)],
                source="cli",
            )
        with uow(T2) as ctx:
            separation.apply_due(ctx)
        with uow(T2) as ctx:
            assert current_head(session=ctx.session, entity_code="OHCHR", at=T2) is None
            assert set(_open_duties(ctx).values()) == {"registry"}
            vacant = (
                ctx.session.execute(
                    select(col(Outbox.recipient)).where(col(Outbox.subject).like("%VACANT%"))
                )
                .scalars()
                .all()
            )
            assert vacant == ["registry@un.example"]
            assert not may(
                ctx.session, actor="100001", action="decide", entity_code="OHCHR", at=T2
            ).allowed
        with uow(T3) as ctx:
            entities.set_head(ctx, code="OHCHR", staff_index="100002", by="900001")
        with uow(T3) as ctx:
            assert set(_open_duties(ctx).values()) == {"100002"}
