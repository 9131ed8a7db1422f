"""The registry through the CLI, on SQLite and PostgreSQL: register, complete, refuse (issue 2)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import MetaData, create_engine, select

from tests.conftest import Result

Smgov = Callable[..., Result]


def snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, to prove a refused command wrote nothing at all."""
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        rows = {
            name: sorted(map(tuple, conn.execute(select(table)).all()), key=repr)
            for name, table in meta.tables.items()
        }
    engine.dispose()
    return rows


@pytest.fixture
def org(smgov: Smgov) -> Smgov:
    """An entity with a head and three staff members, set up with the CLI."""
    for args in (
        [
            "entity",
            "add",
            "OHCHR",
            "--name",
            "Office of the High Commissioner for Human Rights",
            "--kind",
            "office",
            "--timezone",
            "Europe/Zurich",
        ],
        [
            "entity",
            "add",
            "DPPA",
            "--name",
            "Department of Political and Peacebuilding Affairs",
            "--kind",
            "department",
            "--timezone",
            "America/New_York",
        ],
        [
            "staff",
            "add",
            "100001",
            "--name",
            "Volker Head",
            "--email",
            "head@un.example",
            "--entity",
            "OHCHR",
        ],
        ["entity", "set-head", "OHCHR", "--staff", "100001"],
        [
            "staff",
            "add",
            "100002",
            "--name",
            "Amina Admin",
            "--email",
            "admin@un.example",
            "--entity",
            "OHCHR",
            "--language",
            "fr",
        ],
        [
            "staff",
            "add",
            "100003",
            "--name",
            "Li Alternate",
            "--email",
            "alt@un.example",
            "--entity",
            "OHCHR",
            "--language",
            "zh",
        ],
        [
            "staff",
            "add",
            "100004",
            "--name",
            "Out Sider",
            "--email",
            "out@un.example",
            "--entity",
            "DPPA",
        ],
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "UNHumanRights",
            "--url",
            "https://twitter.com/UNHumanRights",
            "--language",
            "en",
            "--language",
            "fr",
            "--purpose",
            "Human rights news",
            "--audience",
            "General public",
            "--by",
            "100001",
        ],
    ):
        result = smgov(*args)
        assert result.code == 0, (args, result.err)
    return smgov


class TestRegisterAndComplete:
    @pytest.mark.clause("3.4(d)")
    def test_complete_with_administrator_and_alternate(self, org: Smgov) -> None:
        """3.4(d): with an administrator and a different alternate the entry shows complete."""
        shown = org("account", "show", "1", "--json").json()
        assert shown["complete"] is False and shown["missing"] == ["3.4(d)"]
        assert (
            org(
                "authorize",
                "1",
                "--staff",
                "100002",
                "--role",
                "administrator",
                "--by",
                "100001",
                "--reference",
                "OHCHR/2026/01",
            ).code
            == 0
        )
        shown = org("account", "show", "1", "--json").json()
        assert shown["complete"] is False, "3.4(d): still no alternate"
        assert (
            org(
                "authorize",
                "1",
                "--staff",
                "100003",
                "--role",
                "alternate",
                "--by",
                "100001",
                "--reference",
                "OHCHR/2026/02",
            ).code
            == 0
        )
        shown = org("account", "show", "https://x.com/unhumanrights", "--json").json()
        assert shown["complete"] is True and shown["missing"] == []
        assert shown["administrator"] == "100002" and shown["alternate"] == "100003"
        assert shown["languages"] == ["en", "fr"] and shown["entity"] == "OHCHR"
        assert set(shown) >= {"id", "platform", "handle", "url", "purpose", "audience", "state"}

    @pytest.mark.clause("3.5")
    def test_new_account_gets_a_ten_day_obligation(self, org: Smgov) -> None:
        """3.5: an incomplete new entry opens an obligation due 10 days after creation; entered
        without an approved request, it also opens the head's decision (2.1, issue 17)."""
        obligations = org("obligation", "list", "--json").json()
        assert sorted(
            (o["clause"], o["kind"], o["subject"], o["assignee"], o["state"]) for o in obligations
        ) == [
            ("2.1", "decide-unapproved", "account:1", "100001", "open"),
            ("3.5", "new-account-entry", "account:1", "100001", "open"),
        ]
        created = dt.date.fromisoformat(org("account", "show", "1", "--json").json()["created_on"])
        (entry,) = [o for o in obligations if o["kind"] == "new-account-entry"]
        due = dt.datetime.fromisoformat(entry["due_at"]).astimezone(ZoneInfo("Europe/Zurich"))
        assert due.date() == created + dt.timedelta(days=10), (created, due)  # the 10th day
        assert (due + dt.timedelta(microseconds=1)).time() == dt.time(0), due  # its end, local

    @pytest.mark.clause("3.5")
    def test_completing_meets_the_obligation(self, org: Smgov) -> None:
        """3.5: once (a)-(e) are complete the obligation is met."""
        org(
            "authorize",
            "1",
            "--staff",
            "100002",
            "--role",
            "administrator",
            "--by",
            "100001",
            "--reference",
            "R1",
        )
        org(
            "authorize",
            "1",
            "--staff",
            "100003",
            "--role",
            "alternate",
            "--by",
            "100001",
            "--reference",
            "R2",
        )
        duties = org("obligation", "list", "--json").json()
        assert [o["state"] for o in duties if o["clause"] == "3.5"] == ["met"]
        # still open (issue 17): the head's decision (2.1) and each grantee's 4.1 duty
        assert sorted(o["kind"] for o in duties if o["state"] == "open") == [
            "acknowledge",
            "acknowledge",
            "decide-unapproved",
        ]

    @pytest.mark.clause("3.4")
    @pytest.mark.clause("5.1")
    def test_existing_account_is_due_sixty_days_after_issuance(self, org: Smgov) -> None:
        """3.4: an account created before issuance is due 60 days after SMGOV_ISSUANCE_DATE."""
        assert (
            org(
                "account",
                "register",
                "--entity",
                "OHCHR",
                "--platform",
                "facebook",
                "--handle",
                "unhumanrights",
                "--url",
                "facebook.com/unhumanrights",
                "--language",
                "es",
                "--purpose",
                "p",
                "--audience",
                "a",
                "--by",
                "100001",
                "--created-on",
                "2020-05-01",
            ).code
            == 0
        )
        due = [o for o in org("obligation", "list", "--json").json() if o["subject"] == "account:2"]
        assert due[0]["clause"] == "3.4"
        assert due[0]["due_at"].startswith("2026-03-16T22:59:59")  # 15 Jan + 60 days, Geneva

    @pytest.mark.clause("3.6")
    def test_update_records_history(self, org: Smgov, db_url: str) -> None:
        """3.6: a change of a 3.4 field is recorded with who and when; nothing is deleted."""
        assert (
            org("account", "update", "1", "--purpose", "Human rights, daily", "--by", "100001").code
            == 0
        )
        rows = snapshot(db_url)["account_change"]
        assert any(
            "Human rights news" in map(str, r) and "Human rights, daily" in map(str, r)
            for r in rows
        )

    def test_account_list_and_staff_show(self, org: Smgov) -> None:
        """1.1(b): the registry lists accounts; staff show lists written authorizations (3.7)."""
        org(
            "authorize",
            "1",
            "--staff",
            "100002",
            "--role",
            "publisher",
            "--by",
            "100001",
            "--reference",
            "R9",
        )
        listed = org("account", "list", "--json").json()
        assert [a["id"] for a in listed] == [1]
        staff = org("staff", "show", "100002", "--json").json()
        assert staff["status"] == "active" and staff["entity"] == "OHCHR"
        assert staff["authorizations"][0]["role"] == "publisher"
        assert staff["authorizations"][0]["revoked_on"] is None


BAD_INPUTS: list[tuple[str, list[str], str]] = [
    # a number past what a database holds (a signed 64-bit integer) names no row: the driver
    # overflowed on it, and the CLI printed a traceback
    ("id past 64 bits: request", ["request", "show", "9" * 20], "ID"),
    (
        "id past 64 bits: duty",
        ["obligation", "meet", "9" * 23, "--by", "100001", "--note", "x"],
        "ID",
    ),
    ("id past 64 bits: message", ["outbox", "retry", "9" * 23], "ID"),
    ("id past 64 bits: assessment", ["assessment", "show", "9" * 25], "ID"),
    ("id past 64 bits: account", ["account", "show", "9" * 26], "ACCOUNT"),
    ("id past 64 bits: acknowledge", ["acknowledge", "9" * 20, "--by", "100001"], "ACCOUNT"),
    ("superscript digit: account", ["account", "show", "\u00b2"], "ACCOUNT"),
    # neither a number nor an address: the refusal named an option the command does not have
    ("word for an account", ["account", "show", "abc"], "ACCOUNT"),
    ("word for an account: acknowledge", ["acknowledge", "abc", "--by", "100001"], "ACCOUNT"),
    (
        "C1 control in a name",
        ["entity", "add", "NEWX", "--name", "Bad\u0085Name", "--kind", "office"],
        "--name",
    ),
    (
        "checkpoint of 5,000 digits",
        ["audit", "verify", "--checkpoint", "9" * 5000 + ":" + "a" * 64],
        "--checkpoint",
    ),
    ("port past 65535", ["api", "--port", "70000"], "--port"),
    (
        "address of another staff member",
        [
            "staff",
            "add",
            "999994",
            "--name",
            "N",
            "--email",
            "HEAD@un.example",
            "--entity",
            "OHCHR",
        ],
        "--email",
    ),
    (
        "unknown platform",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "myspace",
            "--handle",
            "a",
            "--url",
            "myspace.com/a",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
        ],
        "--platform",
    ),
    (
        "bad url",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "a",
            "--url",
            "ftp://x.com/a",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
        ],
        "--url",
    ),
    (
        "url of another platform",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "facebook",
            "--handle",
            "a",
            "--url",
            "x.com/a",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
        ],
        "--url",
    ),
    (
        "unknown language",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "a",
            "--url",
            "x.com/a",
            "--language",
            "klingon",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
        ],
        "3.4(c)",
    ),
    (
        "unknown entity",
        [
            "account",
            "register",
            "--entity",
            "NOPE",
            "--platform",
            "x",
            "--handle",
            "a",
            "--url",
            "x.com/a",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
        ],
        "--entity",
    ),
    (
        "unknown staff",
        [
            "authorize",
            "1",
            "--staff",
            "999999",
            "--role",
            "alternate",
            "--by",
            "100001",
            "--reference",
            "R",
        ],
        "--staff",
    ),
    (
        "unknown actor",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "a",
            "--url",
            "x.com/a",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "999999",
        ],
        "--by",
    ),
    (
        "duplicate account",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "UNHumanRights",
            "--url",
            "http://mobile.twitter.com/unhumanrights/?s=20",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
        ],
        "1.1(b)",
    ),
    (
        "personal account",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "me",
            "--url",
            "x.com/me",
            "--language",
            "en",
            "--purpose",
            "my personal account",
            "--audience",
            "a",
            "--speaks-for",
            "person",
            "--by",
            "100001",
        ],
        "1.1(a)",
    ),
    (
        "staff representative body",
        [
            "entity",
            "add",
            "UNSU",
            "--name",
            "Staff Union",
            "--kind",
            "staff-representative-body",
            "--timezone",
            "UTC",
        ],
        "1.1(a)",
    ),
    (
        "unknown entity kind",
        ["entity", "add", "ABC", "--name", "A", "--kind", "club", "--timezone", "UTC"],
        "--kind".lstrip("-"),
    ),
    (
        "malformed timezone",
        ["entity", "add", "ABC", "--name", "A", "--kind", "office", "--timezone", "Mars/Olympus"],
        "--timezone",
    ),
    (
        "malformed date",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "a",
            "--url",
            "x.com/a",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
            "--created-on",
            "2026-13-01",
        ],
        "--created-on",
    ),
    (
        "date after the effective time",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "a",
            "--url",
            "x.com/a",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
            "--created-on",
            "2099-01-01",
        ],
        "--created-on",
    ),
    ("malformed as-of", ["account", "list", "--as-of", "soon"], "--as-of"),
    (
        "over-long handle",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "a" * 16,
            "--url",
            "x.com/aaaa",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100001",
        ],
        "--handle",
    ),
    (
        "over-long purpose",
        [
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "a",
            "--url",
            "x.com/a",
            "--language",
            "en",
            "--purpose",
            "p" * 5000,
            "--audience",
            "a",
            "--by",
            "100001",
        ],
        "--purpose",
    ),
    (
        "administrator equal to alternate",
        [
            "authorize",
            "1",
            "--staff",
            "100002",
            "--role",
            "alternate",
            "--by",
            "100001",
            "--reference",
            "R",
        ],
        "3.4(d)",
    ),
    (
        "bad email",
        ["staff", "add", "100009", "--name", "N", "--email", "not-an-address", "--entity", "OHCHR"],
        "--email",
    ),
    ("parser error: missing option", ["account", "register", "--entity", "OHCHR"], "Missing"),
    ("parser error: unknown option", ["account", "list", "--colour"], "--colour"),
]


class TestBadInput:
    @pytest.fixture
    def with_admin(self, org: Smgov) -> Smgov:
        assert (
            org(
                "authorize",
                "1",
                "--staff",
                "100002",
                "--role",
                "administrator",
                "--by",
                "100001",
                "--reference",
                "R0",
            ).code
            == 0
        )
        return org

    @pytest.mark.parametrize(("case", "args", "names"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
    def test_refused_with_one_line_and_nothing_written(
        self, with_admin: Smgov, db_url: str, case: str, args: list[str], names: str
    ) -> None:
        """Bad input: one `error:` line naming the field or rule, exit 2, no row touched."""
        before = snapshot(db_url)
        result = with_admin(*args)
        assert result.code == 2, (case, result)
        lines = result.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.err
        assert names in lines[0], (case, lines[0])
        assert snapshot(db_url) == before

    @pytest.mark.clause("4.2")
    def test_separated_staff_cannot_be_authorized(self, with_admin: Smgov, db_url: str) -> None:
        """4.2: a separated staff member is refused as administrator or alternate."""
        from sqlalchemy import text

        engine = create_engine(db_url)
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE staff SET status = 'separated' WHERE index_number = '100003'")
            )
        engine.dispose()
        before = snapshot(db_url)
        result = with_admin(
            "authorize",
            "1",
            "--staff",
            "100003",
            "--role",
            "alternate",
            "--by",
            "100001",
            "--reference",
            "R",
        )
        assert result.code == 2 and "separated" in result.err and "4.2" in result.err
        assert snapshot(db_url) == before

    @pytest.mark.clause("3.7")
    def test_no_authority_is_refused_and_audited(self, with_admin: Smgov, db_url: str) -> None:
        """3.7: only the head grants written authorization; the refusal itself is audited."""
        before = snapshot(db_url)
        result = with_admin(
            "authorize",
            "1",
            "--staff",
            "100003",
            "--role",
            "alternate",
            "--by",
            "100002",
            "--reference",
            "R",
        )
        assert result.code == 2 and result.err.startswith("error: --by") and "3.7" in result.err
        after = snapshot(db_url)
        assert {k: v for k, v in after.items() if k != "audit_event"} == {
            k: v for k, v in before.items() if k != "audit_event"
        }
        added = [r for r in after["audit_event"] if r not in before["audit_event"]]
        assert len(added) == 1 and "refused" in added[0]
        assert with_admin("audit", "verify").code == 0

    @pytest.mark.clause("3.1(c)")
    def test_staff_of_another_entity_cannot_register(self, org: Smgov) -> None:
        """3.1(c): staff of another entity may not write this entity's registry data."""
        result = org(
            "account",
            "register",
            "--entity",
            "OHCHR",
            "--platform",
            "x",
            "--handle",
            "b",
            "--url",
            "x.com/b",
            "--language",
            "en",
            "--purpose",
            "p",
            "--audience",
            "a",
            "--by",
            "100004",
        )
        assert result.code == 2 and "3.1(c)" in result.err


class TestAuthority:
    def test_delegate_and_officer_in_charge(self, org: Smgov) -> None:
        """3.1: a data-entry delegate may register; an officer-in-charge acts as head in period."""
        assert org("entity", "delegate", "OHCHR", "--staff", "100003", "--by", "100001").code == 0
        assert (
            org(
                "account",
                "register",
                "--entity",
                "OHCHR",
                "--platform",
                "youtube",
                "--handle",
                "unhumanrights",
                "--url",
                "youtube.com/@unhumanrights",
                "--language",
                "en",
                "--purpose",
                "p",
                "--audience",
                "a",
                "--by",
                "100003",
            ).code
            == 0
        )
        refused = org(
            "authorize",
            "2",
            "--staff",
            "100002",
            "--role",
            "administrator",
            "--by",
            "100003",
            "--reference",
            "R",
        )
        assert refused.code == 2, "a delegate cannot grant written authorization (3.7)"
        assert (
            org(
                "entity",
                "acting-head",
                "OHCHR",
                "--staff",
                "100003",
                "--from",
                dt.datetime.now(dt.UTC).date().isoformat(),
                "--to",
                (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=90)).isoformat(),
                "--by",
                "100001",
            ).code
            == 0
        )
        assert (
            org(
                "authorize",
                "2",
                "--staff",
                "100002",
                "--role",
                "administrator",
                "--by",
                "100003",
                "--reference",
                "R",
            ).code
            == 0
        )
        assert org("entity", "show", "OHCHR", "--json").json()["head"] == "100003"


class TestVerify:
    def test_unregistered_url(self, org: Smgov) -> None:
        """1.1(b): an unregistered URL is not registered and not official; exit 0."""
        result = org("account", "verify", "https://x.com/someone_else", "--json")
        assert result.code == 0
        assert result.json() == {
            "url": "https://x.com/someone_else",
            "registered": False,
            "official": False,
            "state": None,
            "status": "not a registered institutional account",
            "entity": None,
            "id": None,
        }

    def test_not_a_url(self, org: Smgov) -> None:
        """`account verify` exits 2 only when given something that is not a URL."""
        result = org("account", "verify", "not a url at all")
        assert result.code == 2 and result.err.startswith("error: ")
