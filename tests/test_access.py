"""Access rules (issue 10): who may decide, authorize and act, checked on every action against
the registry — and two heads deciding one request at the same moment.

The acting identity is always explicit (`--by INDEX`) and is looked up in the registry at the
effective time of each action; a refusal is one `error:` line naming the field and the rule, exit
2, and nothing is written but the audited refusal itself.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from models.errors import Refused
from models.hr import EventIn
from models.requests import parse_request
from models.settings import Settings
from services import entities, requests
from services.context import run
from services.separation import apply_due, record
from tests import org
from tests.conftest import Result
from tests.test_approval import REQUEST

Smgov = Callable[..., Result]
T1 = dt.datetime(2026, 2, 2, 12, tzinfo=dt.UTC)
DECIDE = dt.datetime(2026, 2, 12, 12, tzinfo=dt.UTC)  # the officer-in-charge is in period


def counts(url: str) -> dict[str, int]:
    """Rows per table that an action writes (the audit trail apart: refusals are audited)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
                for table in (
                    "account",
                    "written_authorization",
                    "account_request",
                    "request_transition",
                    "obligation",
                    "outbox",
                    "credential_custody",
                    "incident",
                    "account_change",
                )
            }
    finally:
        engine.dispose()


@pytest.fixture
def world(uow: Callable[..., Any]) -> dict[str, int]:
    """OHCHR (head 100001; 100002 administrator and 100003 alternate of an X account; 100004
    staff; 100005 officer-in-charge from 10 to 20 February) and DPPA (head 200001); a request by
    100004 awaiting the head's decision."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
        org.seed(ctx, code="DPPA", tz="America/New_York", prefix="2")
        entities.add_staff(
            ctx, index="100005", name="Deputy", email="deputy@un.example", entity="OHCHR"
        )
        account = org.account(ctx)
        org.complete(ctx, account)
        entities.appoint(
            ctx,
            code="OHCHR",
            staff_index="100005",
            role="officer-in-charge",
            by="100001",
            starts_on=dt.date(2026, 2, 10),
            ends_on=dt.date(2026, 2, 20),
        )
    with uow(T1) as ctx:
        submitted = requests.submit(ctx, parse_request(REQUEST), by="100004")
        assert submitted.id is not None
    return {"account": account, "request": submitted.id}


class TestTwoHeadsAtOnce:
    def test_one_decision_wins(
        self,
        world: dict[str, int],
        uow: Callable[..., Any],
        engine: Engine,
        settings: Settings,
        smgov: Smgov,
        db_url: str,
    ) -> None:
        """The head approves while the officer-in-charge, at the same moment, rejects: the second
        waits for the first's lock (row lock on PostgreSQL, write lock on SQLite), then is
        refused with a clear error; exactly one decision is recorded (3.1(a))."""
        rid = world["request"]
        outcome: dict[str, Any] = {}

        def second() -> None:
            try:
                run(
                    engine,
                    settings,
                    DECIDE,
                    lambda c: requests.decide(c, rid, decision="reject", reason="no", by="100005"),
                )
                outcome["second"] = "decided"
            except Refused as exc:
                outcome["second"] = exc

        rival = threading.Thread(target=second)
        with uow(DECIDE) as ctx:
            requests.decide(ctx, rid, decision="approve", reason="needed", by="100001")
            rival.start()
            rival.join(1.5)
            assert rival.is_alive(), "the rival decision waits while the first is uncommitted"
        rival.join(60)
        refusal = outcome["second"]
        assert isinstance(refusal, Refused)
        assert str(refusal) == "request: a approved request cannot be rejected"
        engine_b = create_engine(db_url)
        with engine_b.connect() as conn:
            transitions = [
                (r[0], r[1])
                for r in conn.execute(
                    text('SELECT event, "by" FROM request_transition ORDER BY id')
                )
            ]
        engine_b.dispose()
        assert transitions == [("submit", "100004"), ("approve", "100001")]
        again = smgov(
            "request",
            "decide",
            str(rid),
            "--decision",
            "reject",
            "--reason",
            "no",
            "--by",
            "100005",
            "--as-of",
            "2026-02-12",
        )
        assert again.code == 2
        assert again.err == "error: request: a approved request cannot be rejected\n"


class TestWhoActs:
    @pytest.mark.clause("3.1(a)")
    def test_by_is_required_and_checked(
        self, world: dict[str, int], smgov: Smgov, prefect_api: str
    ) -> None:
        """A decision names its decider with --by, an index number that must be in the registry
        and hold the head's role (or an officer-in-charge's in period) at that time; a former
        head is refused once replaced (3.1(a))."""
        rid = str(world["request"])
        base = ["request", "decide", rid, "--decision", "approve", "--reason", "ok"]
        missing = smgov(*base, "--as-of", "2026-02-03")
        assert missing.code == 2 and missing.err.startswith("error: ") and "--by" in missing.err
        unknown = smgov(*base, "--by", "999999", "--as-of", "2026-02-03")
        assert unknown.code == 2
        assert unknown.err == "error: --by: staff member 999999 is not in the registry\n"
        replaced = smgov(
            "entity", "set-head", "OHCHR", "--staff", "100005", "--as-of", "2026-02-04"
        )
        assert replaced.code == 0, replaced.err
        former = smgov(*base, "--by", "100001", "--as-of", "2026-02-05")
        assert former.code == 2 and "needs head or officer-in-charge for OHCHR" in former.err
        assert smgov(*base, "--by", "100005", "--as-of", "2026-02-05").code == 0

    @pytest.mark.clause("3.1(a)")
    def test_nobody_decides_their_own_request(
        self, world: dict[str, int], smgov: Smgov, tmp_path: Path, db_url: str, prefect_api: str
    ) -> None:
        """An officer-in-charge who asked for an account cannot decide the request, even in
        period; the refusal is audited and nothing else is written (3.1(a))."""
        path = tmp_path / "own.yaml"
        path.write_text(yaml.safe_dump({**REQUEST, "handle": "UNRightsOwn"}))
        made = smgov(
            "request", "new", "--file", str(path), "--by", "100005", "--as-of", "2026-02-11"
        )
        assert made.code == 0, made.err
        own = str(max(r["id"] for r in smgov("request", "list", "--json").json()))
        before = counts(db_url)
        refused = smgov(
            "request",
            "decide",
            own,
            "--decision",
            "approve",
            "--reason",
            "mine",
            "--by",
            "100005",
            "--as-of",
            "2026-02-12",
        )
        assert refused.code == 2
        assert refused.err == (
            "error: --by: a requester cannot decide their own request (3.1(a))\n"
        )
        assert counts(db_url) == before

    @pytest.mark.clause("3.7")
    def test_nobody_authorizes_themselves(
        self, world: dict[str, int], smgov: Smgov, tmp_path: Path, db_url: str, prefect_api: str
    ) -> None:
        """Neither the head nor an officer-in-charge can give themselves written authorization
        for an account — directly, or by approving a request that names them administrator or
        alternate (3.7)."""
        account = str(world["account"])
        before = counts(db_url)
        for who, day in (("100001", "2026-02-03"), ("100005", "2026-02-12")):
            result = smgov(
                "authorize",
                account,
                "--staff",
                who,
                "--role",
                "publisher",
                "--by",
                who,
                "--reference",
                "SELF/1",
                "--as-of",
                day,
            )
            assert result.code == 2, who
            assert result.err.startswith("error: --by:") and "for themselves" in result.err
            assert result.err.rstrip().endswith("(3.7)")
        assert counts(db_url) == before
        path = tmp_path / "names-head.yaml"
        path.write_text(
            yaml.safe_dump({**REQUEST, "handle": "UNRightsHead", "alternate": "100001"})
        )
        assert smgov("request", "new", "--file", str(path), "--by", "100004").code == 0
        rid = str(max(r["id"] for r in smgov("request", "list", "--json").json()))
        refused = smgov(
            "request",
            "decide",
            rid,
            "--decision",
            "approve",
            "--reason",
            "ok",
            "--by",
            "100001",
            "--as-of",
            "2026-02-03",
        )
        assert refused.code == 2 and "for themselves (3.7)" in refused.err

    @pytest.mark.clause("4.2")
    def test_separated_staff_can_do_nothing(
        self,
        world: dict[str, int],
        uow: Callable[..., Any],
        smgov: Smgov,
        db_url: str,
        tmp_path: Path,
    ) -> None:
        """Once separated, an administrator and a head of entity can do nothing: not register,
        update, report a change, authorize, acknowledge, attest custody, report an incident, ask
        for an account or attest their entity's entries — each refused with one error line
        naming --by, and nothing written (4.2)."""
        path = tmp_path / "separated.yaml"
        path.write_text(yaml.safe_dump({**REQUEST, "handle": "UNRightsGone"}))
        with uow(dt.datetime(2026, 2, 5, tzinfo=dt.UTC)) as ctx:
            record(
                ctx,
                [
                    EventIn("SEP-1", "separation", "100002", dt.date(2026, 2, 5), None),
                    EventIn("SEP-2", "separation", "200001", dt.date(2026, 2, 5), None),
                ],
                source="cli",
            )
        with uow(dt.datetime(2026, 2, 6, tzinfo=dt.UTC)) as ctx:
            assert apply_due(ctx).applied == 2
        account = str(world["account"])
        day = ["--as-of", "2026-02-07"]
        attempts = {
            "register": [
                "account",
                "register",
                "--entity",
                "OHCHR",
                "--platform",
                "youtube",
                "--handle",
                "unrights",
                "--url",
                "youtube.com/@unrights",
                "--language",
                "en",
                "--purpose",
                "p",
                "--audience",
                "a",
                "--by",
                "100002",
            ],
            "update": ["account", "update", account, "--purpose", "new", "--by", "100002"],
            "report-change": [
                "account",
                "report-change",
                account,
                "--what",
                "handle",
                "--changed-on",
                "2026-02-06",
                "--by",
                "100002",
            ],
            "authorize": [
                "authorize",
                account,
                "--staff",
                "100004",
                "--role",
                "publisher",
                "--by",
                "100002",
                "--reference",
                "R",
            ],
            "acknowledge": ["acknowledge", account, "--by", "100002"],
            "custody": ["custody", "attest", account, "--vault-ref", "V/1", "--by", "100002"],
            "incident": [
                "incident",
                "report",
                account,
                "--kind",
                "threat",
                "--details",
                "d",
                "--by",
                "100002",
            ],
            "request": ["request", "new", "--file", str(path), "--by", "100002"],
            "entity-attest": ["entity", "attest", "DPPA", "--by", "200001"],
            "head-authorizes": [
                "authorize",
                account,
                "--staff",
                "100004",
                "--role",
                "publisher",
                "--by",
                "200001",
                "--reference",
                "R",
            ],
        }
        before = counts(db_url)
        for name, args in attempts.items():
            result = smgov(*args, *day)
            assert result.code == 2, (name, result.out, result.err)
            assert result.err.startswith("error: --by") and result.err.count("\n") == 1, name
        assert counts(db_url) == before
