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

from models.clock import local_date
from models.errors import NotAuthorized
from models.hr import EventIn
from models.policy import POLICY, markdown_table
from models.tables import EntityRole, Obligation, Outbox
from services import accounts, entities, separation
from services.authority import OPERATOR, current_head, may
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
    def test_manual_states_the_policy_table(self) -> None:
        """The manual's "Who may do what" table (docs/concepts/authority.md) is the policy table
        the services read: a row changed in one and not the other fails here."""
        page = (ROOT / "docs" / "concepts" / "authority.md").read_text(encoding="utf-8")
        assert markdown_table() in page
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

    @pytest.mark.clause("1.1(b)")
    def test_reads_for_a_person_go_through_the_same_authority(self, uow: Uow) -> None:
        """The compliance report read on a person's behalf (the web dashboard) goes through the
        policy, reads scoped like writes: the head reads their entity's, a registry officer
        every entity's and the whole registry; staff without a role there read none, their own
        entity's included, as the dashboard's page refuses them (1.1(b), 3.1(b))."""
        from services import reports

        _registry(uow)
        with uow(T1) as ctx:
            assert reports.compliance(ctx, entity="OHCHR", reader="100001")["entities"]
            assert reports.compliance(ctx, entity="OHCHR", reader="900001")["entities"]
            assert len(reports.compliance(ctx, reader="900001")["entities"]) == 2
            for reader, entity in (("100001", "DGC"), ("100001", None), ("100002", "OHCHR")):
                with pytest.raises(NotAuthorized):
                    reports.compliance(ctx, entity=entity, reader=reader)


class TestOfficerInCharge:
    @pytest.mark.clause("3.1(a)")
    def test_nobody_appoints_or_extends_themselves(self, uow: Uow) -> None:
        """An officer-in-charge is appointed for a bounded period by the head; they cannot
        re-appoint or extend themselves (to 2099 or otherwise), the head cannot appoint
        themselves, nor anyone without an end or beyond the policy's bound (3.1)."""
        _registry(uow)
        with uow(T1) as ctx:
            org.acting(
                ctx,
                "100003",
                by="100001",
                starts_on=dt.date(2026, 1, 21),
                ends_on=dt.date(2026, 2, 28),
            )
        for ends in (dt.date(2099, 12, 31), dt.date(2026, 3, 31)):
            with uow(T2) as ctx, pytest.raises(NotAuthorized):
                org.acting(ctx, "100003", by="100003", starts_on=dt.date(2026, 1, 22), ends_on=ends)
        with uow(T1) as ctx, pytest.raises(NotAuthorized) as refused:  # the head as well
            org.acting(ctx, "100001", by="100001", ends_on=dt.date(2026, 2, 28))
        assert "for themselves" in str(refused.value)
        for ends in (None, dt.date(2099, 12, 31)):
            with uow(T2) as ctx, pytest.raises(NotAuthorized) as refused:
                org.acting(ctx, "100004", by="100001", ends_on=ends)
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
                org.acting(ctx, "100003", by="900001", ends_on=dt.date(2026, 3, 1))
            assert "vacant" in str(refused.value)
        with uow(T1) as ctx:
            org.hr(ctx, ("E-HEAD", "separation", "100001", dt.date(2026, 1, 21), None))
        with uow(T2) as ctx:
            assert set(_open_duties(ctx).values()) == {"registry"}
            with pytest.raises(NotAuthorized):
                org.acting(ctx, "900001", by="900001", ends_on=dt.date(2026, 3, 1))
        with uow(T2) as ctx:
            org.acting(ctx, "100003", by="900001", ends_on=dt.date(2026, 3, 1))
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
            org.acting(
                ctx,
                "100003",
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


class TestPostsEndWithTheirHolder:
    @pytest.mark.clause("3.1(a)")
    def test_a_new_head_ends_the_acting_appointment(self, uow: Uow) -> None:
        """3.1(a): an officer-in-charge a registry officer appointed while the head's post was
        vacant acts no longer once a head is named: the new head decides, the officer-in-charge
        does not (before, the appointment outlived the vacancy and ranked above the head)."""
        _registry(uow)
        with uow(T1) as ctx:
            org.hr(ctx, ("E-HEAD", "separation", "100001", dt.date(2026, 1, 21), None))
        with uow(T1) as ctx:
            org.acting(ctx, "100003", by="900001", ends_on=dt.date(2026, 3, 31))
        with uow(T2) as ctx:
            assert current_head(session=ctx.session, entity_code="OHCHR", at=T2) == "100003"
            entities.set_head(ctx, code="OHCHR", staff_index="100002", by="900001")
        with uow(T3) as ctx:
            assert current_head(session=ctx.session, entity_code="OHCHR", at=T3) == "100002"
            for actor, allowed in (("100002", True), ("100003", False)):
                verdict = may(ctx.session, actor=actor, action="decide", entity_code="OHCHR", at=T3)
                assert verdict.allowed is allowed, actor

    @pytest.mark.clause("4.2")
    def test_a_registry_officer_who_moves_or_leaves_is_one_no_longer(self, uow: Uow) -> None:
        """4.2: a registry officer reassigned to another entity, or separated and then back,
        holds the registry's privileges no longer (they came back on return before): naming a
        head is refused to both."""
        _registry(uow)
        with uow(T1) as ctx:
            entities.add_staff(
                ctx,
                index="900003",
                name="Third officer",
                email="ro3@un.example",
                entity="DGC",
                registry_officer=True,
                by="900001",
            )
            org.hr(
                ctx,
                ("E-MOVE", "reassignment", "900001", dt.date(2026, 1, 21), "OHCHR"),
                ("E-OUT", "separation", "900003", dt.date(2026, 1, 21), None),
            )
        with uow(T2) as ctx:
            org.hr(ctx, ("E-BACK", "return", "900003", dt.date(2026, 1, 22), None))
        with uow(T3) as ctx:
            for officer in ("900001", "900003"):
                verdict = may(
                    ctx.session, actor=officer, action="set-head", entity_code="OHCHR", at=T3
                )
                assert not verdict.allowed, officer

    @pytest.mark.clause("4.2")
    def test_a_registry_officer_is_named_again_never_by_themselves(self, uow: Uow) -> None:
        """1.1(b), 4.2: a registry officer whose post ended with a separation is named one
        again by an act of its own (`staff update --registry-officer`), never their own: with no
        registry officer left, the operator names them, and they name heads again."""
        _registry(uow)
        with uow(T1) as ctx:
            org.hr(
                ctx,
                ("E-OUT", "separation", "900001", dt.date(2026, 1, 21), None),
                ("E-BACK", "return", "900001", dt.date(2026, 1, 22), None),
            )
        with uow(T3) as ctx:
            separation.apply_due(ctx)  # the return, effective the day after
        with uow(T3) as ctx, pytest.raises(NotAuthorized):
            entities.name_registry_officer(ctx, index="900001", by="900001")
        with uow(T3) as ctx:
            entities.name_registry_officer(ctx, index="900001", by=OPERATOR)
        with uow(T3) as ctx:
            assert may(
                ctx.session, actor="900001", action="set-head", entity_code="OHCHR", at=T3
            ).allowed

    @pytest.mark.clause("4.2")
    def test_a_return_that_moves_an_active_person_withdraws_what_they_held(self, uow: Uow) -> None:
        """4.2: an HR "return" naming another entity for someone still active moves them, as a
        reassignment does: their written authorization is withdrawn and a head's post is left
        vacant (before, both survived the move)."""
        _registry(uow)
        with uow(T1) as ctx:
            account_id = org.account(ctx)
            org.complete(ctx, account_id)
            org.hr(
                ctx,
                ("E-R1", "return", "100002", dt.date(2026, 1, 21), "DGC"),
                ("E-R2", "return", "100001", dt.date(2026, 1, 21), "DGC"),
            )
        with uow(T2) as ctx:
            held = accounts.list_accounts(ctx)[0]
            assert held["administrator"] is None, held
            assert current_head(session=ctx.session, entity_code="OHCHR", at=T2) is None


def _approved_then_gone(uow: Uow, *gone: str) -> int:
    """A request naming administrator 100002 and alternate 100003, approved by the head; the
    separation of `gone` applied before the approval flow writes the grants, then the flow."""
    from models.requests import parse_request
    from services import requests
    from tests.test_approval import REQUEST

    _registry(uow)
    with uow(T1) as ctx:
        made = requests.submit(
            ctx, parse_request({**REQUEST, "administrator": "100002"}), by="100004"
        )
        assert made.id is not None
        request_id = made.id
    with uow(T1) as ctx:
        requests.carry_on(ctx, request_id)  # the survey and the head's duty
        requests.decide(ctx, request_id, decision="approve", reason="ok", by="100001")
        separation.record(
            ctx,
            [
                EventIn(f"E-{index}", "separation", index, dt.date(2026, 1, 21), None)
                for index in gone
            ],
            source="cli",
        )
    with uow(T1) as ctx:
        separation.apply_due(ctx)
    with uow(T1) as ctx:
        requests.carry_on(ctx, request_id)  # the grants, after the separation
    return request_id


class TestWhatTheReviewOfTheseChecksFound:
    @pytest.mark.clause("4.2")
    def test_a_separation_between_the_decision_and_its_grants_withholds_them(
        self, uow: Uow
    ) -> None:
        """4.2: the head approves a request; the named administrator's separation is applied
        before the approval flow writes the grants: she is not authorized (the alternate is),
        and the entry lacks its administrator (3.4(d)); the decision's message names her as not
        authorized, never as the administrator."""
        request_id = _approved_then_gone(uow, "100002")
        with uow(T1) as ctx:
            (account,) = accounts.list_accounts(ctx)
            assert account["administrator"] is None and account["alternate"] == "100003"
            # the decision's message tells the requester who is authorized, never the one gone
            (told,) = ctx.session.execute(
                select(Outbox.body).where(
                    col(Outbox.recipient_index) == "100004",
                    col(Outbox.subject).contains(f"request {request_id}"),
                )
            ).scalars()
            assert "(100002), named administrator, is no longer active" in told, told
            assert "Alternate: " in told and "(100003)." in told, told
            assert f"REQ-{request_id}: administrator" not in told, told
            assert "The person authorized acknowledges" in told, told  # one, not "each of them"

    @pytest.mark.clause("4.2")
    def test_both_people_named_gone_before_the_grants(self, uow: Uow) -> None:
        """4.2: both people a request names leave between the decision and the grants: nobody
        is authorized, and the decision still reaches the registry team once — the two
        stand-ins for them are one recipient, one message (the approval flow failed on a
        notice written twice before)."""
        request_id = _approved_then_gone(uow, "100002", "100003")
        with uow(T1) as ctx:
            (account,) = accounts.list_accounts(ctx)
            assert account["administrator"] is None and account["alternate"] is None
            told = ctx.session.execute(
                select(col(Outbox.recipient), col(Outbox.body)).where(
                    col(Outbox.subject).contains(f"request {request_id}"),
                    col(Outbox.body).contains("Decision by"),
                )
            ).all()
            recipients = [r for r, _ in told]
            assert recipients.count("registry@un.example") == 1, recipients
            assert "comms.ohchr@un.example" in recipients, recipients  # the requester
            assert all("no longer active and is not authorized" in body for _, body in told)
            assert not any("Each of them acknowledges" in body for _, body in told)

    @pytest.mark.clause("4.2")
    def test_custody_duties_go_to_whoever_may_attest_them(self, uow: Uow) -> None:
        """4.2: the credentials' custody duties stay with someone who may still attest them:
        the rotation a separated administrator was due goes to the alternate who keeps the
        account, and the head's alert names who left; after a withdrawal of approval (3.8) the
        custody duties go to the head (nobody else is authorized); at closure they end."""
        from services import custody, reassessment

        with uow(org.T0) as ctx:
            org.seed(ctx)
            account_id = org.account(ctx)
            org.complete(ctx, account_id)  # administrator 100002, alternate 100003
            custody.attest(ctx, ref=str(account_id), vault_ref="vault:kv/ohchr/x", by="100002")
            assert _open_duties(ctx)[f"rotation:{account_id}"] == "100002"
        with uow(T1) as ctx:
            org.hr(ctx, ("E-GONE", "separation", "100002", dt.date(2026, 1, 21), None))
        with uow(T1) as ctx:
            duties = _open_duties(ctx)
            assert duties[f"rotation:{account_id}"] == "100003", duties
            assert duties[f"handover:{account_id}:E-GONE"] == "100003", duties
            (alert,) = ctx.session.execute(
                select(Outbox.body).where(
                    col(Outbox.recipient) == "head.ohchr@un.example",
                    col(Outbox.body).contains("no longer runs"),
                )
            ).scalars()
            assert "Administrator (100002) no longer runs" in alert, alert
            reassessment.withdraw(ctx, ref=str(account_id), reason="not needed", by="100001")
        with uow(T2) as ctx:
            duties = _open_duties(ctx)
            assert duties[f"rotation:{account_id}"] == "100001", duties
            assert duties[f"handover:{account_id}:E-GONE"] == "100001", duties
            reassessment.closed(
                ctx,
                ref=str(account_id),
                closed_on=dt.date(2026, 1, 22),
                evidence="closed on the platform",
                by="100001",
            )
        with uow(T2) as ctx:
            duties = _open_duties(ctx)
            assert not [k for k in duties if k.split(":")[0] in ("rotation", "handover")], duties

    @pytest.mark.clause("4.2")
    def test_custody_passes_on_from_whoever_may_attest_no_more(self, uow: Uow) -> None:
        """4.2: an administrator superseded by a new written authorization may attest no
        more: the rotation they were due passes to the new administrator at once; custody an
        officer-in-charge held when an account was withdrawn passes, at the first sweep after
        their period, to the head (the sweep passes every custody duty on to whoever may
        attest it)."""
        from services import custody, reassessment
        from services.inventory import housekeeping

        with uow(org.T0) as ctx:
            org.seed(ctx)
            account_id = org.account(ctx)
            org.complete(ctx, account_id)  # administrator 100002, alternate 100003
            custody.attest(ctx, ref=str(account_id), vault_ref="vault:kv/ohchr/x", by="100002")
            accounts.authorize(
                ctx,
                ref=str(account_id),
                staff="100004",
                role="administrator",
                by="100001",
                reference="AUTH/3",
            )
            assert _open_duties(ctx)[f"rotation:{account_id}"] == "100004"
        with uow(T1) as ctx:
            org.acting(ctx, "100003", by="100001", ends_on=dt.date(2026, 1, 21))
            reassessment.withdraw(ctx, ref=str(account_id), reason="not needed", by="100003")
            assert _open_duties(ctx)[f"rotation:{account_id}"] == "100003"  # acting head
        with uow(T3) as ctx:  # the appointment has ended
            assert housekeeping(ctx)["custody_passed_on"] == 1
            assert _open_duties(ctx)[f"rotation:{account_id}"] == "100001"

    @pytest.mark.clause("4.2")
    def test_a_registry_officer_moved_within_their_entity_stays_one(self, uow: Uow) -> None:
        """4.2: a "reassignment" that leaves a registry officer in their own entity and active
        withdraws their authorizations as any reassignment does, but not the post they still
        hold: they still name heads (a move to another entity or a separation ends it)."""
        _registry(uow)
        with uow(T1) as ctx:
            org.hr(ctx, ("E-SAME", "reassignment", "900001", dt.date(2026, 1, 21), "DGC"))
        with uow(T2) as ctx:
            assert may(
                ctx.session, actor="900001", action="set-head", entity_code="OHCHR", at=T2
            ).allowed

    @pytest.mark.clause("3.7")
    def test_no_duty_to_authorize_the_declared_once_the_roles_are_held(self, uow: Uow) -> None:
        """3.7: declared people whose roles the head has since given in writing to others
        leave nothing to authorize: a sweep opens no duty for them, and withdraws one left
        open (it could only be met by undoing the head's own grants)."""
        from services.inventory import housekeeping

        with uow(org.T0) as ctx:
            org.seed(ctx)
            account_id = org.account(ctx, created_on=dt.date(2025, 6, 1))
            org.declare(ctx, account_id)
        with uow(T1) as ctx:
            assert housekeeping(ctx)["declared_duties_opened"] == 1
            org.complete(ctx, account_id, admin="100004", alternate="100003")
            housekeeping(ctx)
        with uow(T1) as ctx:
            duties = ctx.session.execute(
                select(col(Obligation.state)).where(col(Obligation.kind) == "authorize-declared")
            ).scalars()
            assert list(duties) == ["withdrawn"]
            assert housekeeping(ctx)["declared_duties_opened"] == 0


def _csv(tmp_path: Path, *rows: str) -> str:
    path = tmp_path / "inventory.csv"
    header = (
        "entity,platform,handle,url,languages,purpose,audience,administrator,alternate,created_on"
    )
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


def _delegated(smgov: Callable[..., Any]) -> None:
    """OHCHR with head 100001, delegate 100004, staff 100002/100003, via the CLI."""
    for args in (
        ["entity", "add", "OHCHR", "--name", "OHCHR", "--kind", "office", "--timezone", "UTC"],
        ["staff", "add", "100001", "--name", "H", "--email", "h@un.example", "--entity", "OHCHR"],
        ["entity", "set-head", "OHCHR", "--staff", "100001"],
        ["staff", "add", "100002", "--name", "A", "--email", "a@un.example", "--entity", "OHCHR"],
        ["staff", "add", "100003", "--name", "B", "--email", "b@un.example", "--entity", "OHCHR"],
        ["staff", "add", "100004", "--name", "D", "--email", "d@un.example", "--entity", "OHCHR"],
        ["entity", "delegate", "OHCHR", "--staff", "100004", "--by", "100001"],
    ):
        result = smgov(*args, "--as-of", "2026-02-01")
        assert result.code == 0, (args, result.err)


class TestNothingOfficialWithoutTheHead:
    @pytest.mark.clause("2.1")
    @pytest.mark.clause("3.1(a)")
    def test_entered_new_account_is_unapproved_until_a_request_is_approved(
        self, smgov: Callable[..., Any], tmp_path: Path
    ) -> None:
        """A delegate's `account register` of an account created after issuance records it
        unapproved: registered, not official in `verify` (CLI and JSON), and the head's decision
        duty opens; only the head's approval of a request for it makes it official (2.1, 3.2)."""
        _delegated(smgov)
        register = smgov(
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "UNRightsNew",
            "--url",
            "x.com/UNRightsNew",
            "--language",
            "en",
            "--purpose",
            "Human rights news",
            "--audience",
            "Public",
            "--created-on",
            "2026-01-30",
            "--by",
            "100004",
            "--as-of",
            "2026-02-01",
        )
        assert register.code == 0, register.err
        verify = smgov("account", "verify", "https://x.com/unrightsnew", "--json")
        answer = verify.json()
        assert answer["registered"] is True and answer["official"] is False
        assert answer["state"] == "unapproved" and "2.1" in answer["status"]
        text = smgov("account", "verify", "x.com/UNRightsNew").out
        assert "NOT official" in text and "unapproved" in text
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-02").json()
        decide = [d for d in duties if d["kind"] == "decide-unapproved"]
        assert len(decide) == 1 and decide[0]["assignee"] == "100001"
        assert decide[0]["clause"] == "2.1" and decide[0]["state"] == "open"

    @pytest.mark.clause("3.3")
    def test_existing_account_is_entered_under_assessment(self, smgov: Callable[..., Any]) -> None:
        """An account that existed at issuance is entered active and under its 3.3 assessment,
        and `verify` says so."""
        _delegated(smgov)
        assert (
            smgov(
                "account",
                "register",
                "--entity",
                "OHCHR",
                "--platform",
                "x",
                "--handle",
                "UNOld",
                "--url",
                "x.com/UNOld",
                "--language",
                "en",
                "--purpose",
                "News",
                "--audience",
                "All",
                "--created-on",
                "2019-05-01",
                "--by",
                "100004",
                "--as-of",
                "2026-02-01",
            ).code
            == 0
        )
        answer = smgov("account", "verify", "x.com/UNOld", "--json").json()
        assert answer["official"] is True
        assert answer["status"] == "existing, under assessment (3.3)"

    @pytest.mark.clause("2.1")
    def test_unset_issuance_date_refuses_entries(
        self, smgov: Callable[..., Any], cli_env: dict[str, str]
    ) -> None:
        """Without the bulletin's issuance date smgov cannot tell an existing account from a new
        one: entering one is refused naming 5.1, nothing written."""
        _delegated(smgov)
        del cli_env["SMGOV_ISSUANCE_DATE"]
        refused = smgov(
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "UNX",
            "--url",
            "x.com/UNX",
            "--language",
            "en",
            "--purpose",
            "News",
            "--audience",
            "All",
            "--by",
            "100004",
        )
        assert refused.code == 2 and refused.err.startswith("error: SMGOV_ISSUANCE_DATE")
        assert "(5.1)" in refused.err
        assert smgov("account", "list", "--json").json() == []


class TestClaimedOlderThanTheBulletin:
    @pytest.mark.clause("2.1")
    @pytest.mark.clause("3.4")
    def test_a_late_claim_of_existing_at_issuance_waits_for_the_head(self, uow: Uow) -> None:
        """2.1, 3.3, 3.4: an account entered as created before the bulletin's issuance is
        official (under its 3.3 assessment) when entered within the inventory's 60 days, or by
        the head; a delegate's entry after those 60 days claiming an old date is unapproved,
        not official, and opens the head's decision (before, the claim alone made it official)."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
            entities.appoint(ctx, code="OHCHR", staff_index="100004", role="delegate", by="100001")
        cases = (  # (when, by, address): 2026-01-15 + 60 days is 16 March
            (dt.datetime(2026, 3, 16, 12, tzinfo=dt.UTC), "100004", "x.com/in_time"),
            (dt.datetime(2026, 3, 18, 12, tzinfo=dt.UTC), "100004", "x.com/too_late"),
            (dt.datetime(2026, 3, 18, 12, tzinfo=dt.UTC), "100001", "x.com/by_the_head"),
        )
        states = []
        for when, by, url in cases:
            with uow(when) as ctx:
                account = accounts.register(
                    ctx,
                    entity="OHCHR",
                    platform="x",
                    handle=url.split("/")[1],
                    url=url,
                    languages=["en"],
                    purpose="Human rights news",
                    audience="General public",
                    by=by,
                    created_on=dt.date(2024, 1, 1),
                )
                states.append(account.state)
        assert states == ["active", "unapproved", "active"]
        with uow(dt.datetime(2026, 3, 18, 13, tzinfo=dt.UTC)) as ctx:
            open_kinds = {
                (o.subject, o.kind)
                for o in ctx.session.execute(
                    select(Obligation).where(col(Obligation.state) == "open")
                ).scalars()
            }
            late = accounts.get_account(ctx, "x.com/too_late")
            assert (f"account:{late.id}", "decide-unapproved") in open_kinds
            assert (f"account:{late.id}", "initial-assessment") not in open_kinds
            assert accounts.verify_url(ctx, "x.com/too_late")["official"] is False


class TestAnOfficialAccountStaysWhereTheHeadApprovedIt:
    @pytest.mark.clause("2.1")
    @pytest.mark.clause("3.1(a)")
    def test_only_the_head_moves_an_official_entry(self, uow: Uow) -> None:
        """2.1, 3.2: the entry of an official account points where the head approved it: a
        delegate or a registry officer changing its handle or address is refused, nothing
        changes and the new address is no registered account; they
        still update its other items, and the head moves it (before, a delegate's edit carried
        the head's approval to another account)."""
        _registry(uow)
        with uow(T1) as ctx:
            entities.appoint(ctx, code="OHCHR", staff_index="100004", role="delegate", by="100001")
            account_id = org.account(ctx, created_on=dt.date(2025, 6, 1))
        for by in ("100004", "900001"):
            with uow(T2) as ctx, pytest.raises(NotAuthorized, match=r"account\.readdress"):
                accounts.update(
                    ctx, ref=str(account_id), by=by, changes={"url": "x.com/somebody_else"}
                )
        with uow(T2) as ctx:
            assert accounts.verify_url(ctx, "x.com/somebody_else")["registered"] is False
            assert accounts.get_account(ctx, str(account_id)).url == "https://x.com/unhumanrights"
            accounts.update(ctx, ref=str(account_id), by="100004", changes={"audience": "All"})
        with uow(T3) as ctx:
            accounts.update(
                ctx, ref=str(account_id), by="100001", changes={"url": "x.com/unhr_new"}
            )
            assert accounts.verify_url(ctx, "x.com/unhr_new")["official"] is True

    @pytest.mark.clause("2.1")
    def test_an_entry_a_request_would_adopt_stays_where_it_is(self, uow: Uow) -> None:
        """2.1: an unapproved entry (created since issuance) is moved freely by a delegate
        until a request for it is before the head; then approving the request would adopt it
        where it points, so only the head moves it (before, the delegate could point the
        approval at another account)."""
        from models.requests import parse_request
        from services import requests
        from tests.test_approval import REQUEST

        _registry(uow)
        with uow(T1) as ctx:
            entities.appoint(ctx, code="OHCHR", staff_index="100004", role="delegate", by="100001")
            entry = accounts.register(
                ctx,
                entity="OHCHR",
                platform="x",
                handle="UNRightsArabic",
                url="x.com/UNRightsArabic",
                languages=["ar"],
                purpose="Human rights news",
                audience="Arabic speakers",
                by="100004",
            )
            assert entry.state == "unapproved"
            accounts.update(
                ctx, ref=str(entry.id), by="100004", changes={"url": "x.com/UNRightsArabic1"}
            )  # no request yet: a delegate keeps the entry
            requests.submit(ctx, parse_request(REQUEST), by="100002")  # for @UNRightsArabic
        with uow(T2) as ctx, pytest.raises(NotAuthorized, match=r"account\.readdress"):
            accounts.update(ctx, ref=str(entry.id), by="100004", changes={"url": "x.com/other"})


class TestWrittenAuthorizationOnlyFromTheHead:
    @pytest.mark.clause("3.7")
    @pytest.mark.clause("3.4(d)")
    def test_import_declares_and_the_head_authorizes_in_writing(
        self, smgov: Callable[..., Any], tmp_path: Path
    ) -> None:
        """A delegate's import records the administrator and alternate as declared: the entry is
        complete (3.4(d)) but nobody is authorized, the head's duty to authorize opens, and the
        delegate cannot confirm them; `authorize --declared` by the head confirms every declared
        person in one written act, and each grant opens its 4.1 duty (3.7)."""
        _delegated(smgov)
        path = _csv(
            tmp_path,
            "OHCHR,x,UNRights,x.com/UNRights,en,News,Public,100002,100004,2020-01-01",
            "OHCHR,facebook,unrights,facebook.com/unrights,fr,News,Public,100003,100002,2020-01-01",
        )
        imported = smgov("account", "import", path, "--by", "100004", "--as-of", "2026-02-01")
        assert imported.code == 0, imported.err
        shown = smgov("account", "show", "1", "--json").json()
        assert shown["complete"] is True and shown["administrator"] is None
        assert shown["declared"] == [
            {"role": "administrator", "staff": "100002"},
            {"role": "alternate", "staff": "100004"},
        ]
        assert smgov("staff", "show", "100004", "--json").json()["authorizations"] == []
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-02").json()
        assert sorted(d["subject"] for d in duties if d["kind"] == "authorize-declared") == [
            "account:1",
            "account:2",
        ]
        by_delegate = smgov(
            "authorize", "--entity", "OHCHR", "--declared", "--by", "100004", "--reference", "D"
        )
        assert by_delegate.code == 2 and "(3.7)" in by_delegate.err
        confirmed = smgov(
            "authorize",
            "--entity",
            "OHCHR",
            "--declared",
            "--by",
            "100001",
            "--reference",
            "OHCHR/2026/07",
            "--as-of",
            "2026-02-03",
        )
        assert confirmed.code == 0, confirmed.err
        assert "4 declared people authorized in writing" in confirmed.out
        shown = smgov("account", "show", "1", "--json", "--as-of", "2026-02-03").json()
        assert (shown["administrator"], shown["alternate"]) == ("100002", "100004")
        assert shown["declared"] == [] and shown["unacknowledged"] == ["100002", "100004"]
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-04").json()
        open_kinds = sorted(d["kind"] for d in duties if d["state"] == "open")
        assert "authorize-declared" not in open_kinds
        assert open_kinds.count("acknowledge") == 4

    @pytest.mark.clause("3.7")
    def test_head_cannot_confirm_themselves(
        self, smgov: Callable[..., Any], tmp_path: Path
    ) -> None:
        """A head declared by an import cannot authorize themselves with `--declared`: the whole
        written act is refused and nothing is granted (3.7)."""
        _delegated(smgov)
        path = _csv(tmp_path, "OHCHR,x,UNRights,x.com/UNRights,en,News,Public,100001,100002,")
        assert smgov("account", "import", path, "--by", "100004").code == 0
        refused = smgov("authorize", "1", "--declared", "--by", "100001", "--reference", "R")
        assert refused.code == 2 and "themselves" in refused.err
        assert smgov("staff", "show", "100002", "--json").json()["authorizations"] == []


class TestDeclaredWithoutTheirDuty:
    @pytest.mark.clause("3.7")
    def test_a_sweep_opens_the_heads_duty_for_people_declared_without_it(self, uow: Uow) -> None:
        """3.7: people declared with no duty for the head to authorize them (as the upgrade
        that turned import grants into declarations left them) get that duty at the next sweep,
        once, the head's, due in 10 days; once the head authorizes them in writing it is met
        and no sweep opens it again."""
        from services.inventory import housekeeping

        with uow(org.T0) as ctx:
            org.seed(ctx)
            account_id = org.account(ctx, created_on=dt.date(2025, 6, 1))
            org.declare(ctx, account_id)  # as migration 0010 writes them: no duty opened

        def duties(ctx: Any) -> list[Obligation]:
            return list(
                ctx.session.execute(
                    select(Obligation).where(col(Obligation.kind) == "authorize-declared")
                ).scalars()
            )

        with uow(T1) as ctx:
            assert duties(ctx) == []
            assert housekeeping(ctx)["declared_duties_opened"] == 1
        with uow(T1) as ctx:
            (duty,) = duties(ctx)
            assert (duty.clause, duty.subject, duty.assignee, duty.state) == (
                "3.7",
                f"account:{account_id}",
                "100001",
                "open",
            )
            assert local_date(duty.due_at, "Europe/Zurich") == local_date(
                T1, "Europe/Zurich"
            ) + dt.timedelta(days=10)
            assert housekeeping(ctx)["declared_duties_opened"] == 0  # once
        with uow(T2) as ctx:
            accounts.authorize_declared(
                ctx, ref=str(account_id), entity=None, by="100001", reference="W/9"
            )
        with uow(T2) as ctx:
            assert [d.state for d in duties(ctx)] == ["met"]
            assert housekeeping(ctx)["declared_duties_opened"] == 0


class TestAcknowledgementAtEveryGrant:
    @pytest.mark.clause("2.2")
    @pytest.mark.clause("4.1(a)")
    @pytest.mark.clause("4.1(b)")
    @pytest.mark.clause("4.1(c)")
    @pytest.mark.clause("4.1(e)")
    def test_every_grant_opens_the_grantees_duty(self, smgov: Callable[..., Any]) -> None:
        """A direct written authorization opens the grantee's duty to acknowledge 2.2 and
        4.1(a)-(e) (10 days); until met the person is flagged in `account show` and the
        compliance report; `smgov acknowledge` meets it, and only for the grantee (4.1)."""
        _delegated(smgov)
        assert (
            smgov(
                "account",
                "register",
                "--entity",
                "OHCHR",
                "--platform",
                "x",
                "--handle",
                "UNOld",
                "--url",
                "x.com/UNOld",
                "--language",
                "en",
                "--purpose",
                "News",
                "--audience",
                "All",
                "--created-on",
                "2019-05-01",
                "--by",
                "100004",
                "--as-of",
                "2026-02-01",
            ).code
            == 0
        )
        granted = smgov(
            "authorize",
            "1",
            "--staff",
            "100002",
            "--role",
            "administrator",
            "--by",
            "100001",
            "--reference",
            "W/1",
            "--as-of",
            "2026-02-01",
        )
        assert granted.code == 0, granted.err
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-02").json()
        ack = [d for d in duties if d["kind"] == "acknowledge"]
        assert len(ack) == 1 and ack[0]["assignee"] == "100002" and ack[0]["clause"] == "4.1"
        assert ack[0]["due_at"].startswith("2026-02-11")
        assert smgov("account", "show", "1", "--json").json()["unacknowledged"] == ["100002"]
        report = smgov("report", "compliance", "--format", "json").json()
        assert report["entities"][0]["unacknowledged"] == [[1, "100002"]]
        assert smgov("acknowledge", "1", "--by", "100003").code == 2
        assert smgov("acknowledge", "1", "--by", "100002", "--as-of", "2026-02-03").code == 0
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-04").json()
        assert [d["state"] for d in duties if d["kind"] == "acknowledge"] == ["met"]
        assert smgov("account", "show", "1", "--json").json()["unacknowledged"] == []


def _existing(
    smgov: Callable[..., Any], handle: str = "UNOld", created: str = "2019-05-01"
) -> None:
    result = smgov(
        "account",
        "register",
        "--entity",
        "OHCHR",
        "--platform",
        "x",
        "--handle",
        handle,
        "--url",
        f"x.com/{handle}",
        "--language",
        "en",
        "--purpose",
        "News",
        "--audience",
        "All",
        "--created-on",
        created,
        "--by",
        "100004",
        "--as-of",
        "2026-02-01",
    )
    assert result.code == 0, result.err


def _complete(smgov: Callable[..., Any], account: str = "1") -> None:
    for staff, role in (("100002", "administrator"), ("100003", "alternate")):
        result = smgov(
            "authorize",
            account,
            "--staff",
            staff,
            "--role",
            role,
            "--by",
            "100001",
            "--reference",
            f"W/{staff}",
            "--as-of",
            "2026-02-01",
        )
        assert result.code == 0, result.err


class TestDutiesCloseOnEvidence:
    @pytest.mark.clause("3.4")
    def test_meet_is_refused_where_a_state_decides(self, smgov: Callable[..., Any]) -> None:
        """`obligation meet` on an entry duty (and any kind with a state of its own) is refused
        naming the command that meets it, even for the head; a condition of continuation is met
        only by the head or officer-in-charge, never by the assignee alone (3.2, 3.4)."""
        _delegated(smgov)
        _existing(smgov)
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-02").json()
        entry = next(d for d in duties if d["subject"] == "account:1" and d["clause"] == "3.4")
        refused = smgov("obligation", "meet", str(entry["id"]), "--by", "100001", "--note", "done")
        assert refused.code == 2 and "smgov account update" in refused.err
        _complete(smgov)
        decided = smgov(
            "assess",
            "1",
            "--decision",
            "conditions",
            "--reason",
            "ok",
            "--condition",
            "publish an editorial policy",
            "--by",
            "100001",
            "--as-of",
            "2026-02-02",
        )
        assert decided.code == 0, decided.err
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-03").json()
        condition = next(d for d in duties if d["kind"] == "assessment-condition")
        for who in ("100004", "100002"):
            assert (
                smgov(
                    "obligation", "meet", str(condition["id"]), "--by", who, "--note", "done"
                ).code
                == 2
            ), who
        assert (
            smgov(
                "obligation",
                "meet",
                str(condition["id"]),
                "--by",
                "100001",
                "--note",
                "seen it",
                "--as-of",
                "2026-02-04",
            ).code
            == 0
        )

    @pytest.mark.clause("3.1(c)")
    def test_attestation_never_completes_an_incomplete_inventory(self, uow: Uow) -> None:
        """The head's attestation is recorded but meets neither the inventory duty nor its own
        while an entry is incomplete, and the campaign closes incomplete (3.1(c), 3.4)."""
        from services import inventory

        with uow(org.T0) as ctx:
            org.seed(ctx)
            inventory.start_inventory(ctx, issued_on=dt.date(2026, 1, 15))
            org.account(ctx, created_on=dt.date(2024, 1, 1))
        with uow(T1) as ctx:
            inventory.attest(ctx, code="OHCHR", by="100001")
        with uow(T1) as ctx:
            duties = _open_duties(ctx)
            assert any(key.startswith("inventory:OHCHR") for key in duties), duties
        after_due = dt.datetime(2026, 3, 20, 12, tzinfo=dt.UTC)
        with uow(after_due) as ctx:
            closed = inventory.close_due(ctx)
            assert [row["outcome"] for row in closed] == ["incomplete"]


class TestDatesFromTheBulletin:
    @pytest.mark.clause("5.1")
    def test_inventory_needs_one_issuance_date(
        self, smgov: Callable[..., Any], cli_env: dict[str, str]
    ) -> None:
        """The inventory refuses to run without the bulletin's date of issuance, and refuses a
        second date that differs from SMGOV_ISSUANCE_DATE, naming 5.1."""
        _delegated(smgov)
        differs = smgov("campaign", "start", "inventory", "--issued-on", "2026-01-16")
        assert differs.code == 2 and differs.err.startswith("error: --issued-on")
        assert "(5.1)" in differs.err
        del cli_env["SMGOV_ISSUANCE_DATE"]
        unset = smgov("campaign", "start", "inventory")
        assert unset.code == 2 and unset.err.startswith("error: SMGOV_ISSUANCE_DATE")
        assert "(5.1)" in unset.err

    @pytest.mark.clause("3.6")
    def test_change_clock_runs_from_the_change(self, smgov: Callable[..., Any]) -> None:
        """3.6's ten days run from the date of the change, not from when smgov hears of it; a
        change entered after them is flagged late."""
        _delegated(smgov)
        _existing(smgov)
        reported = smgov(
            "account",
            "report-change",
            "1",
            "--what",
            "new bio",
            "--changed-on",
            "2026-01-20",
            "--by",
            "100004",
            "--as-of",
            "2026-02-05",
        )
        assert reported.code == 0, reported.err
        assert "due 30 January 2026, end of day (" in reported.out  # a human date (2.3)
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-05").json()
        change = next(d for d in duties if d["kind"] == "report-change")
        assert change["due_at"].startswith("2026-01-30")
        updated = smgov(
            "account",
            "update",
            "1",
            "--purpose",
            "News and statements",
            "--changed-on",
            "2026-01-20",
            "--by",
            "100004",
            "--as-of",
            "2026-02-05",
        )
        assert updated.code == 0, updated.err
        assert smgov("account", "show", "1", "--json").json()["late_changes"] == 1

    @pytest.mark.clause("3.6")
    def test_a_reported_change_is_met_by_updating_what_it_names(
        self, smgov: Callable[..., Any]
    ) -> None:
        """3.6: a change reported with the 3.4 fields it changed stays open until each of them
        is updated in the entry (an update of another field does not meet it, nor does half of
        it); a reported change of the administrator is met by authorizing the new one; one the
        entry already records, entered on or after the day reported, is met at once; a field
        that is not 3.4 information is refused."""
        _delegated(smgov)
        _existing(smgov)

        def reported() -> list[str]:
            duties = smgov("obligation", "list", "--state", "open", "--json").json()
            return [d["subject"] for d in duties if d["kind"] == "report-change"]

        def run(*args: str) -> None:
            result = smgov(*args, "--as-of", "2026-02-06")
            assert result.code == 0, (args, result.err)

        run(
            "account", "report-change", "1", "--what", "renamed to @UNNew", "--field", "handle",
            "--field", "url", "--changed-on", "2026-02-03", "--by", "100004",
        )  # fmt: skip
        run("account", "update", "1", "--purpose", "News and statements", "--by", "100004")
        assert reported() == ["account:1"]  # the purpose was not what changed
        run("account", "update", "1", "--handle", "UNNew", "--by", "100001")
        assert reported() == ["account:1"]  # the address is not in the entry yet
        run("account", "update", "1", "--url", "x.com/UNNew", "--by", "100001")
        assert reported() == []
        run(
            "account", "report-change", "1", "--what", "new administrator", "--field",
            "administrator", "--changed-on", "2026-02-04", "--by", "100004",
        )  # fmt: skip
        run("account", "update", "1", "--audience", "Everyone", "--by", "100004")
        assert reported() == ["account:1"]
        run(
            "authorize", "1", "--staff", "100002", "--role", "administrator", "--by", "100001",
            "--reference", "W/2",
        )  # fmt: skip
        assert reported() == []
        # entered before it was reported: the report finds it in the entry and is met at once
        run(
            "account", "update", "1", "--language", "en", "--language", "fr", "--changed-on",
            "2026-02-05", "--by", "100004",
        )  # fmt: skip
        early = smgov(
            "account", "report-change", "1", "--what", "French too", "--field", "language",
            "--changed-on", "2026-02-05", "--by", "100004", "--as-of", "2026-02-06",
        )  # fmt: skip
        assert early.code == 0 and "already in the entry" in early.out, early.out
        assert reported() == []
        run(
            "account", "report-change", "1", "--what", "Arabic too", "--field", "language",
            "--changed-on", "2026-02-06", "--by", "100004",
        )  # fmt: skip
        assert reported() == ["account:1"]  # a later change than the one entered
        refused = smgov(
            "account", "report-change", "1", "--what", "new avatar", "--field", "avatar",
            "--changed-on", "2026-02-04", "--by", "100004", "--as-of", "2026-02-06",
        )  # fmt: skip
        assert refused.code == 2 and refused.err.startswith("error: --field"), refused.err
        assert "(3.6)" in refused.err and reported() == ["account:1"]

    @pytest.mark.clause("3.6")
    def test_a_reported_change_the_entry_holds_is_met_by_confirming_it(
        self, smgov: Callable[..., Any]
    ) -> None:
        """3.6: a reported change the entry already holds (it was right before, or half of it
        was entered before the report) is met by giving the values as the entry holds them,
        not refused as "nothing differs"; a holder's new contact details entered by `staff
        update` meet a reported change of that role (3.4(d)); giving unchanged values with
        nothing reported is still refused; a report naming no field is met only by an update
        that changes the entry; an update that changes one reported field and gives the other
        as held meets the report."""
        _delegated(smgov)
        _existing(smgov)  # in English
        assert smgov(
            "authorize", "1", "--staff", "100002", "--role", "administrator", "--by", "100001",
            "--reference", "W/2", "--as-of", "2026-02-02",
        ).code == 0  # fmt: skip

        def reported() -> list[str]:
            duties = smgov("obligation", "list", "--state", "open", "--json").json()
            return [d["detail"] for d in duties if d["kind"] == "report-change"]

        def run(*args: str) -> Any:
            result = smgov(*args, "--as-of", "2026-02-06")
            assert result.code == 0, (args, result.err)
            return result

        run(
            "account", "report-change", "1", "--what", "English only, as entered", "--field",
            "language", "--changed-on", "2026-02-03", "--by", "100004",
        )  # fmt: skip
        assert reported() == ["English only, as entered"]  # what it is, for the head to read
        held = run("account", "update", "1", "--language", "en", "--by", "100004")
        assert "already holds it" in held.out and reported() == []
        # half of it entered before the report, the rest after
        run(
            "account", "update", "1", "--handle", "UNNew", "--changed-on", "2026-02-05", "--by",
            "100001",
        )  # fmt: skip
        run(
            "account", "report-change", "1", "--what", "renamed", "--field", "handle", "--field",
            "url", "--changed-on", "2026-02-05", "--by", "100004",
        )  # fmt: skip
        assert reported() == ["renamed"]
        run("account", "update", "1", "--url", "x.com/UNNew", "--by", "100001")
        assert reported() == []
        # confirmed at the same moment the entry was last changed: still said as a confirmation
        run(
            "account", "report-change", "1", "--what", "same purpose", "--field", "purpose",
            "--changed-on", "2026-02-06", "--by", "100004",
        )  # fmt: skip
        again = run("account", "update", "1", "--purpose", "News", "--by", "100004")
        assert "already holds it" in again.out and reported() == [], again.out
        # the administrator's new e-mail (authorized on 2 February), entered in the registry
        run(
            "account", "report-change", "1", "--what", "new e-mail", "--field", "administrator",
            "--changed-on", "2026-02-06", "--by", "100004",
        )  # fmt: skip
        assert reported() == ["new e-mail"]
        run("staff", "update", "100002", "--email", "a.new@un.example")
        assert reported() == []
        same = smgov("account", "update", "1", "--language", "en", "--by", "100004")
        assert same.code == 2 and "nothing differs from the registry" in same.err, same.err
        # a report naming no field waits for the entry itself to change: neither a value given
        # as it is held nor a holder's new e-mail meets it
        run(
            "account", "report-change", "1", "--what", "something", "--changed-on",
            "2026-02-06", "--by", "100004",
        )  # fmt: skip
        refused = smgov(
            "account", "update", "1", "--language", "en", "--by", "100004", "--as-of",
            "2026-02-06",
        )  # fmt: skip
        assert refused.code == 2 and "nothing differs" in refused.err, refused.err
        run("staff", "update", "100002", "--email", "a.newer@un.example")
        assert reported() == ["something"]
        # an update changing one reported field and giving the other as held meets it
        run(
            "account", "report-change", "1", "--what", "both", "--field", "purpose", "--field",
            "audience", "--changed-on", "2026-02-06", "--by", "100004",
        )  # fmt: skip
        run(
            "account", "update", "1", "--purpose", "News and stories", "--audience", "All",
            "--by", "100004",
        )  # fmt: skip
        assert reported() == []  # "both" met; "something" met by the update too

    @pytest.mark.clause("3.5")
    def test_new_account_entry_is_met_when_complete(self, uow: Uow) -> None:
        """3.5 is met when the new account's entry is complete, whether or not its people have
        acknowledged 4.1 or its custody is recorded yet (their own duties, 4.1 and 4.2); and
        the head's approval of a request makes an account entered without it official (2.1)."""
        from models.requests import parse_request
        from services import requests
        from tests.test_approval import REQUEST

        with uow(org.T0) as ctx:
            org.seed(ctx)
            entered = org.account(ctx, url="x.com/UNRightsArabic", handle="UNRightsArabic")
            assert accounts.get_account(ctx, str(entered)).state == "unapproved"
            rid = requests.submit(ctx, parse_request(REQUEST), by="100004").id
            assert rid is not None
        with uow(T1) as ctx:
            requests.carry_on(ctx, rid)
            requests.decide(ctx, rid, decision="approve", reason="needed", by="100001")
        with uow(T1) as ctx:
            requests.carry_on(ctx, rid)
        with uow(T2) as ctx:
            account = accounts.get_account(ctx, str(entered))
            assert account.state == "approved"
            assert accounts.verify_url(ctx, "x.com/UNRightsArabic")["official"] is True
            duties = ctx.session.execute(
                select(col(Obligation.kind), col(Obligation.state)).where(
                    col(Obligation.subject) == f"account:{entered}"
                )
            ).all()
            states = {kind: state for kind, state in duties}
            assert states["new-account-entry"] == "met", states
            assert states["decide-unapproved"] == "met", states
            assert states["acknowledge"] == "open", states


class TestWithdrawAtAnyTime:
    @pytest.mark.clause("3.8")
    def test_head_withdraws_outside_a_campaign(self, smgov: Callable[..., Any]) -> None:
        """`account withdraw` by the head, with no campaign: every authorization revoked, the
        account withdrawn and not official, its closure due; a delegate may not (3.8)."""
        _delegated(smgov)
        _existing(smgov)
        _complete(smgov)
        by_delegate = smgov("account", "withdraw", "1", "--reason", "dormant", "--by", "100004")
        assert by_delegate.code == 2 and "(3.1(a))" in by_delegate.err
        done = smgov(
            "account",
            "withdraw",
            "1",
            "--reason",
            "dormant",
            "--by",
            "100001",
            "--as-of",
            "2026-02-03",
        )
        assert done.code == 0, done.err
        shown = smgov("account", "show", "1", "--json").json()
        assert shown["state"] == "withdrawn" and shown["administrator"] is None
        assert smgov("account", "verify", "x.com/UNOld", "--json").json()["official"] is False
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-02-04").json()
        assert [d["state"] for d in duties if d["kind"] == "close-account"] == ["open"]
        assessments = smgov("assessment", "list", "--json").json()
        assert [a["state"] for a in assessments] == ["decided"]  # its 3.3 assessment decided
        again = smgov("account", "withdraw", "1", "--reason", "x", "--by", "100001")
        assert again.code == 2
        _existing(smgov, handle="UNNew", created="2026-01-30")  # unapproved, no assessment
        refused = smgov("account", "withdraw", "2", "--reason", "not needed", "--by", "100004")
        assert refused.code == 2 and "(3.1(a))" in refused.err
        assert (
            smgov("account", "withdraw", "2", "--reason", "not needed", "--by", "100001").code == 0
        )
        duties = smgov("obligation", "list", "--json", "--as-of", "2026-12-31").json()
        assert [d["state"] for d in duties if d["kind"] == "decide-unapproved"] == ["withdrawn"]


class TestIncidentWithoutSecurityAddress:
    @pytest.mark.clause("4.1(d)")
    def test_recorded_and_refused_delivery_loudly(
        self, smgov: Callable[..., Any], db_url: str
    ) -> None:
        """With no SMGOV_SECURITY_EMAIL an incident is recorded, nothing stands in for the
        Department of Safety and Security, and the command exits 1 naming the setting
        (4.1(d))."""
        from sqlalchemy import create_engine, text

        _delegated(smgov)
        _existing(smgov)
        _complete(smgov)
        result = smgov(
            "incident",
            "report",
            "1",
            "--kind",
            "threat",
            "--details",
            "doxxing threat",
            "--by",
            "100002",
        )
        assert result.code == 1
        assert result.err.startswith("error: SMGOV_SECURITY_EMAIL")
        engine = create_engine(db_url)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM incident")).scalar_one() == 1
            told = (
                conn.execute(
                    text(
                        "SELECT recipient FROM outbox "
                        "WHERE lower(subject) LIKE '%security incident%'"
                    )
                )
                .scalars()
                .all()
            )
        engine.dispose()
        assert "dss@un.example" not in told and "registry@un.example" in told


class TestSpeaksForTheEntity:
    @pytest.mark.clause("1.1(a)")
    def test_request_and_entry_declare_whom_the_account_speaks_for(
        self, smgov: Callable[..., Any], tmp_path: Path
    ) -> None:
        """A request must declare that the account speaks for the entity; one for a person or a
        staff representative body is refused, as is such an entry; words in the purpose that
        suggest a personal account only warn — the declaration and the head decide (1.1(a))."""
        import yaml

        from tests.test_approval import REQUEST

        _delegated(smgov)
        for value, expected in (
            (None, "1.1(a) whom"),
            ("person", "personal"),
            ("staff-body", "staff representative"),
        ):
            body = {k: v for k, v in REQUEST.items() if k != "speaks_for"}
            if value is not None:
                body["speaks_for"] = value
            path = tmp_path / f"r-{value}.yaml"
            path.write_text(yaml.safe_dump(body))
            refused = smgov("request", "new", "--file", str(path), "--by", "100004")
            assert refused.code == 2 and expected in refused.err, refused.err
            assert "1.1(a)" in refused.err
        base = [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--language",
            "en",
            "--audience",
            "All",
            "--by",
            "100004",
        ]
        refused = smgov(
            *base,
            "--handle",
            "A1",
            "--url",
            "x.com/A1",
            "--purpose",
            "News",
            "--speaks-for",
            "staff-body",
        )
        assert refused.code == 2 and "(1.1(a))" in refused.err
        warned = smgov(
            *base,
            "--handle",
            "A2",
            "--url",
            "x.com/A2",
            "--purpose",
            "my personal account of the office news",
        )
        assert warned.code == 0, warned.err
        assert smgov("account", "show", "x.com/A2", "--json").json()["state"] == "unapproved"
