"""New-account approval end to end (issue 4; 2.1, 3.2, 3.5, 3.7): request, duplication survey,
the head's decision, written authorization, acknowledgement, creation, activation."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import create_engine, text

from services import accounts, entities
from tests.conftest import Result
from tests.servers import SMTPServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

Smgov = Callable[..., Result]

REQUEST: dict[str, Any] = {
    "entity": "OHCHR",
    "platform": "x",
    "handle": "UNRightsArabic",
    "languages": ["ar"],
    "need": "No Arabic-language channel for the treaty bodies exists",
    "purpose": "Human rights news and statements in Arabic",
    "strategy": "Daily posts, weekly explainers",
    "audience": "Arabic-speaking public",
    "staffing": "Two communications officers with Arabic",
    "administrator": "100002",
    "alternate": "100003",
    "risk": {
        "rating": "medium",
        "risks": "Impersonation; hostile campaigns",
        "mitigations": "Verification badge; moderation guidelines",
    },
    "editorial": "The chief of communications clears every post",
    "languages_considered": "Arabic first; French and Spanish assessed next year",
    "speaks_for": "entity",
}


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def office(
    cli_env: dict[str, str], smtp: SMTPServer, prefect_api: str, uow: Callable[..., Any]
) -> dict[str, str]:
    """OHCHR (head 100001, staff 100002-100005) and DPPA (head 200001), with an Arabic account
    on X and one on Facebook already registered."""
    cli_env.update(
        {
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
        }
    )
    with uow(dt.datetime(2026, 1, 2, tzinfo=dt.UTC)) as ctx:
        for code, tz in (("OHCHR", "Europe/Zurich"), ("DPPA", "America/New_York")):
            entities.add_entity(ctx, code=code, name=code, kind="office", timezone=tz)
        for index, entity in (
            ("100001", "OHCHR"),
            ("100002", "OHCHR"),
            ("100003", "OHCHR"),
            ("100004", "OHCHR"),
            ("100005", "OHCHR"),
            ("200001", "DPPA"),
        ):
            entities.add_staff(
                ctx, index=index, name=f"Staff {index}", email=f"s{index}@un.example", entity=entity
            )
        entities.set_head(ctx, code="OHCHR", staff_index="100001")
        entities.set_head(ctx, code="DPPA", staff_index="200001")
    with uow(dt.datetime(2026, 1, 3, tzinfo=dt.UTC)) as ctx:
        for platform, url in (
            ("x", "x.com/UNHumanRightsAR"),
            ("facebook", "facebook.com/UNHumanRightsAR"),
        ):
            accounts.register(
                ctx,
                entity="OHCHR",
                platform=platform,
                handle="UNHumanRightsAR",
                url=url,
                languages=["ar"],
                purpose="Human rights news and statements for Arabic speakers",
                audience="Arabic-speaking general public",
                by="100001",
            )
    return cli_env


def _file(tmp_path: Path, **changes: Any) -> str:
    body = {**REQUEST, **changes}
    path = tmp_path / "request.yaml"
    path.write_text(yaml.safe_dump(body, allow_unicode=True))
    return str(path)


def _audit(url: str) -> list[tuple[str, str]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [
            (r[0], r[1] or "")
            for r in conn.execute(text("SELECT action, after FROM audit_event ORDER BY seq"))
        ]
    engine.dispose()
    return rows


class TestEndToEnd:
    @pytest.mark.clause("2.1")
    @pytest.mark.clause("3.7")
    def test_request_to_active_account(
        self, office: dict[str, str], smgov: Smgov, smtp: SMTPServer, tmp_path: Path, db_url: str
    ) -> None:
        """2.1, 3.2: request -> the survey finds the near-duplicate on the same platform and
        language (not the one on Facebook) -> the head approves -> authorizations issued (3.7) and
        acknowledged -> created -> registered within 10 days (3.5) -> active; the head and
        the requester get e-mails (issue 4, 1 and 5)."""
        made = smgov(
            "request",
            "new",
            "--file",
            _file(tmp_path),
            "--by",
            "100004",
            "--as-of",
            "2026-02-02",
            "--json",
        )
        assert made.code == 0, made.err
        view = made.json()
        assert view["state"] == "submitted"
        assert [d["account"] for d in view["duplicates"]] == ["account:1"]
        assert "same platform (x) and language (ar)" in view["duplicates"][0]["reason"]
        assert view["parity"]["x"]["ar"] is True and view["parity"]["x"]["fr"] is False
        to_head = [m for m in smtp.messages if m.rcpt_tos[0] == "s100001@un.example"]
        assert to_head and "awaits your decision" in to_head[0].subject
        decided = smgov(
            "request",
            "decide",
            "1",
            "--decision",
            "approve",
            "--reason",
            "Need shown; the overlap is our own general account",
            "--by",
            "100001",
            "--as-of",
            "2026-02-03",
        )
        assert decided.code == 0, decided.err
        shown = smgov("request", "show", "1", "--json").json()
        assert shown["state"] == "approved" and shown["account"] == 3
        to_requester = [m for m in smtp.messages if m.rcpt_tos[0] == "s100004@un.example"]
        assert to_requester and "APPROVED" in to_requester[0].subject
        staff = smgov("staff", "show", "100002", "--json").json()
        assert [(a["account"], a["role"], a["reference"]) for a in staff["authorizations"]] == [
            (3, "administrator", "REQ-1")
        ]
        assert smgov("account", "show", "3", "--json").json()["state"] == "approved"
        for index in ("100002", "100003"):
            assert smgov("acknowledge", "3", "--by", index, "--as-of", "2026-02-04").code == 0
        other = smgov(
            "account", "created", "3", "--handle", "UNRightsOther",
            "--url", "https://twitter.com/UNRightsOther", "--created-on", "2026-02-05",
            "--by", "100002", "--as-of", "2026-02-05",
        )  # fmt: skip
        assert other.code == 2, "the head approved @UNRightsArabic, not another account (3.2)"
        assert other.err.startswith("error: --handle: the head approved the account UNRights")
        assert smgov("account", "show", "3", "--json").json()["url"] is None
        elsewhere = smgov(
            "account", "created", "3", "--handle", "UNRightsArabic",
            "--url", "https://twitter.com/SomebodyElse", "--created-on", "2026-02-05",
            "--by", "100002", "--as-of", "2026-02-05",
        )  # fmt: skip
        assert elsewhere.code == 2 and "account.readdress" in elsewhere.err, elsewhere.err
        made = smgov(
            "account",
            "created",
            "3",
            "--handle",
            "UNRightsArabic",
            "--url",
            "https://twitter.com/UNRightsArabic",
            "--created-on",
            "2026-02-05",
            "--by",
            "100002",
            "--as-of",
            "2026-02-05",
        )
        assert made.code == 0 and "4.2 credential custody" in made.out
        entry = [
            o
            for o in smgov("obligation", "list", "--as-of", "2026-02-05", "--json").json()
            if o["subject"] == "account:3" and o["clause"] == "3.5"
        ]
        # the entry is complete at creation: 3.5 is met at once, nothing left open (custody and
        # acknowledgement are their own duties, 4.2 and 4.1)
        assert [o for o in entry if o["state"] == "open"] == []
        assert (
            smgov(
                "custody",
                "attest",
                "3",
                "--vault-ref",
                "vault:kv/ohchr/x-ar",
                "--by",
                "100002",
                "--as-of",
                "2026-02-06",
            ).code
            == 0
        )
        final = smgov("account", "show", "3", "--json").json()
        assert final["state"] == "active" and final["complete"] is True
        assert smgov("account", "verify", "x.com/unrightsarabic", "--json").json()["official"]
        actions = [a for a, _ in _audit(db_url)]
        for action in (
            "request.submit",
            "request.survey",
            "request.approve",
            "account.approve",
            "account.acknowledge",
            "account.created",
            "custody.attest",
            "account.activate",
        ):
            assert action in actions, action
        approve = next(after for a, after in _audit(db_url) if a == "request.approve")
        assert "Need shown" in approve
        assert smgov("audit", "verify").code == 0


class TestWhoDecides:
    @pytest.mark.clause("3.1(a)")
    def test_only_the_head_or_officer_in_charge(
        self, office: dict[str, str], smgov: Smgov, tmp_path: Path, db_url: str
    ) -> None:
        """The requester, another entity's head and ordinary staff are refused and the refusal
        audited; an officer-in-charge within the recorded period decides (3.1(a); issue 4, 2)."""
        assert (
            smgov(
                "request",
                "new",
                "--file",
                _file(tmp_path),
                "--by",
                "100001",
                "--as-of",
                "2026-02-02",
            ).code
            == 0
        )
        for who in ("100001", "200001", "100005"):
            refused = smgov(
                "request",
                "decide",
                "1",
                "--decision",
                "approve",
                "--reason",
                "ok",
                "--by",
                who,
                "--as-of",
                "2026-02-03",
            )
            assert refused.code == 2 and refused.err.startswith("error: --by"), who
        refusals = [a for a, after in _audit(db_url) if a == "request.decide"]
        assert len(refusals) == 3
        assert (
            smgov(
                "entity",
                "acting-head",
                "OHCHR",
                "--staff",
                "100005",
                "--from",
                "2026-02-10",
                "--to",
                "2026-02-20",
                "--by",
                "100001",
                "--as-of",
                "2026-02-03",
            ).code
            == 0
        )
        early = smgov(
            "request",
            "decide",
            "1",
            "--decision",
            "reject",
            "--reason",
            "no",
            "--by",
            "100005",
            "--as-of",
            "2026-02-05",
        )
        assert early.code == 2, "outside the recorded period"
        assert (
            smgov(
                "request",
                "decide",
                "1",
                "--decision",
                "return",
                "--reason",
                "Explain the editorial line",
                "--by",
                "100005",
                "--as-of",
                "2026-02-12",
            ).code
            == 0
        )
        again = smgov(
            "request",
            "decide",
            "1",
            "--decision",
            "approve",
            "--reason",
            "x",
            "--by",
            "100005",
            "--as-of",
            "2026-02-12",
        )
        assert again.code == 2 and "returned" in again.err, "no transition from returned"


class TestSeparatedBeforeTheDecision:
    @pytest.mark.clause("4.2")
    @pytest.mark.clause("3.7")
    def test_approval_never_authorizes_who_has_left(
        self, office: dict[str, str], smgov: Smgov, tmp_path: Path, db_url: str
    ) -> None:
        """4.2: the administrator a request names is separated after it was submitted; the
        head's approval, which would authorize her (3.7), is refused naming her and her status,
        and nothing is written: the request stays submitted, no account, no authorization."""
        asked = ("--by", "100004", "--as-of", "2026-02-02")
        assert smgov("request", "new", "--file", _file(tmp_path), *asked).code == 0
        separated = smgov(
            "hr", "event", "--type", "separation", "--staff", "100002",
            "--effective", "2026-02-03", "--id", "SEP-100002", "--as-of", "2026-02-03",
        )  # fmt: skip
        assert separated.code == 0, separated.err
        decided = smgov(
            "request", "decide", "1", "--decision", "approve", "--reason", "fine",
            "--by", "100001", "--as-of", "2026-02-04",
        )  # fmt: skip
        assert decided.code == 2, decided.out
        assert decided.err == "error: administrator: staff member 100002 is separated (4.2)\n"
        engine = create_engine(db_url)
        with engine.connect() as conn:
            state = conn.execute(text("SELECT state FROM account_request")).scalar_one()
            held = conn.execute(text("SELECT count(*) FROM written_authorization")).scalar_one()
            made = conn.execute(text("SELECT count(*) FROM account")).scalar_one()
        engine.dispose()
        assert (state, held, made) == ("submitted", 0, 2)  # the two registered before


class TestIncompleteRequest:
    @pytest.mark.clause("3.2(a)")
    @pytest.mark.clause("3.2(d)")
    @pytest.mark.clause("3.2(e)")
    def test_each_missing_item_named(
        self, office: dict[str, str], smgov: Smgov, tmp_path: Path, db_url: str
    ) -> None:
        """A request missing 3.2 items is refused naming each by clause; nothing is stored
        (issue 4, 3)."""
        before = _audit(db_url)
        result = smgov(
            "request",
            "new",
            "--file",
            _file(tmp_path, need="", risk={"rating": "low"}, editorial=None),
            "--by",
            "100004",
        )
        assert result.code == 2
        line = result.err.strip()
        assert line.count("\n") == 0
        for item in (
            "3.2(a) demonstrated need",
            "3.2(d) risk analysis",
            "3.2(d) risk mitigations",
            "3.2(e) editorial standards",
        ):
            assert item in line
        assert smgov("request", "list", "--json").json() == []
        assert _audit(db_url) == before

    def test_template(self, office: dict[str, str], smgov: Smgov) -> None:
        """`request new --template` prints a request naming every 3.2 item."""
        out = smgov("request", "new", "--template").out
        for clause in ("3.2(a)", "3.2(b)", "3.2(c)", "3.2(d)", "3.2(e)", "2.3"):
            assert clause in out


class TestRegistrationDeadline:
    @pytest.mark.clause("3.5")
    def test_created_but_not_completed(
        self, office: dict[str, str], smgov: Smgov, smtp: SMTPServer, tmp_path: Path
    ) -> None:
        """A creation reported with its entry complete meets 3.5 at once (issue 17: 3.5 is the
        entry; acknowledgement is its own 4.1 duty); the grantees who have not acknowledged
        2.2 and 4.1 within 10 days are reminded and escalated with clause 4.1 named."""
        smgov(
            "request", "new", "--file", _file(tmp_path), "--by", "100004", "--as-of", "2026-02-02"
        )
        smgov(
            "request",
            "decide",
            "1",
            "--decision",
            "approve",
            "--reason",
            "ok",
            "--by",
            "100001",
            "--as-of",
            "2026-02-03",
        )
        smgov(
            "account",
            "created",
            "3",
            "--handle",
            "UNRightsArabic",
            "--url",
            "x.com/UNRightsArabic",
            "--created-on",
            "2026-02-05",
            "--by",
            "100002",
            "--as-of",
            "2026-02-05",
        )
        shown = smgov("account", "show", "3", "--json", "--as-of", "2026-02-05").json()
        assert shown["status"].startswith("approved and created: active once"), shown["status"]
        start = len(smtp.messages)
        for day in ("2026-02-08", "2026-02-15", "2026-02-16"):
            assert smgov("sweep", "--as-of", day).code == 0
        assert not [m for m in smtp.messages[start:] if "[3.5]" in m.body]
        mails = [m for m in smtp.messages[start:] if "[4.1]" in m.body]
        assert mails and any("OVERDUE" in m.subject for m in mails)
        assert {"s100002@un.example", "s100003@un.example"} <= {m.rcpt_tos[0] for m in mails}


class TestReferenceList:
    @pytest.mark.clause("3.2(a)")
    def test_other_un_organization_found(
        self, office: dict[str, str], smgov: Smgov, tmp_path: Path
    ) -> None:
        """The survey finds an overlapping account of another UN system organization loaded
        from the reference list (3.2(a); issue 4, 6)."""
        survey = tmp_path / "survey.csv"
        survey.write_text(
            "organization,platform,handle,url,languages,purpose,audience\n"
            "UNESCO,youtube,unesco,youtube.com/@unesco,en;fr,Education and culture videos,"
            "Teachers and students\n"
            "UNICEF,x,UNICEFArabic,x.com/UNICEFArabic,ar,Children's rights news in Arabic,"
            "Arabic-speaking public\n"
        )
        assert smgov("survey", "import", str(survey)).code == 0
        result = smgov(
            "request",
            "new",
            "--file",
            _file(tmp_path, handle="UNChildRightsAR", purpose="Children's rights news in Arabic"),
            "--by",
            "100004",
            "--as-of",
            "2026-02-02",
            "--json",
        )
        assert result.code == 0, result.err
        owners = {d["owner"] for d in result.json()["duplicates"]}
        assert "UNICEF" in owners and "UNESCO" not in owners
