"""Staff and entities in bulk and by hand (issue 21): `smgov entity import`, `smgov staff
import` (all or nothing, --partial, idempotent), `smgov staff update`, `smgov staff list` with
status and --unplaced, `smgov entity alias`; entity codes are case-insensitive everywhere."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tests import org
from tests.conftest import Result

Smgov = Callable[..., Result]

ENTITIES = (
    "code,name,kind,timezone\n"
    "DGC,Department of Global Communications,department,America/New_York\n"
    "ohchr,Office of the High Commissioner for Human Rights,office,Europe/Zurich\n"
)


def _csv(tmp_path: Path, name: str, content: str) -> str:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def _count(engine: Any, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


class TestEntityImport:
    def test_import_then_again_changes_nothing(self, smgov: Smgov, tmp_path: Path) -> None:
        """Two entities imported; importing the same file again adds and changes nothing."""
        file = _csv(tmp_path, "entities.csv", ENTITIES)
        first = smgov("entity", "import", file, "--json")
        assert first.code == 0, first.err
        assert first.json()["created"] == 2
        again = smgov("entity", "import", file, "--json").json()
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)

    def test_codes_are_case_insensitive(self, smgov: Smgov, tmp_path: Path) -> None:
        """`dgc` is `DGC`: adding it again in another case is refused, a file holding both is
        refused whole, and `--entity dgc` finds DGC."""
        assert smgov("entity", "import", _csv(tmp_path, "e.csv", ENTITIES)).code == 0
        again = smgov("entity", "add", "dgc", "--name", "Other", "--kind", "office")
        assert again.code == 2 and again.err.startswith("error: code: entity DGC is already")
        both = _csv(
            tmp_path, "both.csv", "code,name,kind,timezone\nDPO,A,office,UTC\ndpo,B,office,UTC\n"
        )
        refused = smgov("entity", "import", both)
        assert refused.code == 2 and "appears twice" in refused.err
        assert smgov("entity", "show", "dpo").code == 2  # nothing written
        added = smgov(
            "staff", "add", "500001", "--name", "A B", "--email", "a@un.example", "--entity", "dgc"
        )
        assert added.code == 0, added.err
        assert smgov("staff", "show", "500001", "--json").json()["entity"] == "DGC"
        report = smgov("report", "compliance", "--entity", "dgc", "--format", "json").json()
        assert [e["code"] for e in report["entities"]] == ["DGC"]
        assert smgov("obligation", "list", "--entity", "Dgc", "--json").code == 0

    def test_database_refuses_a_code_in_another_case(self, engine: Any) -> None:
        """The schema itself keeps codes unique whatever their case (a unique index on
        upper(code)), whatever door writes."""
        from sqlalchemy.exc import IntegrityError

        insert = (
            "INSERT INTO entity (code, name, kind, timezone, created_at) "
            "VALUES (:code, 'n', 'office', 'UTC', '2026-01-01 00:00:00')"
        )
        with engine.begin() as conn:
            conn.execute(text(insert), {"code": "DGC"})
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(text(insert), {"code": "dgc"})

    @pytest.mark.parametrize(
        ("row", "field"),
        [
            ("DOS,Dept,staff-representative-body,UTC", "kind"),
            ("DOS,Dept,department,Mars/Olympus", "timezone"),
            ("D O S,Dept,department,UTC", "code"),
            ("DOS,,department,UTC", "name"),
        ],
    )
    def test_bad_row_refuses_the_file(
        self, smgov: Smgov, tmp_path: Path, row: str, field: str, engine: Any
    ) -> None:
        """A bad row: exit 2, one `error:` line naming the row and the field, nothing written."""
        file = _csv(tmp_path, "bad.csv", ENTITIES + row + "\n")
        result = smgov("entity", "import", file)
        assert result.code == 2
        assert result.err.strip().splitlines()[-1].startswith(f"error: FILE.csv row 4: {field}")
        assert _count(engine, "entity") == 0


STAFF = (
    "index,name,email,entity,language\n"
    "600001,Ana Uno,ana@un.example,dgc,fr\n"
    "600002,Ben Dos,ben@un.example,DGC,\n"
    "600003,Cai Tres,cai@un.example,OHCHR,zh\n"
)


class TestStaffImport:
    def test_import_is_idempotent(self, smgov: Smgov, tmp_path: Path, engine: Any) -> None:
        """Three staff imported (entity codes in any case, language defaults to English);
        importing the file again changes nothing; `staff list --json` shows their status."""
        smgov("entity", "import", _csv(tmp_path, "e.csv", ENTITIES))
        file = _csv(tmp_path, "staff.csv", STAFF)
        first = smgov("staff", "import", file, "--json")
        assert first.code == 0, first.err
        assert first.json()["created"] == 3
        audits = _count(engine, "audit_event")
        again = smgov("staff", "import", file, "--json").json()
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 3)
        assert _count(engine, "audit_event") == audits  # nothing happened, nothing audited
        listed = {s["index"]: s for s in smgov("staff", "list", "--json").json()}
        assert listed["600002"]["entity"] == "DGC" and listed["600002"]["language"] == "en"
        assert {s["status"] for s in listed.values()} == {"active"}

    @pytest.mark.parametrize(
        ("row", "field"),
        [
            ("600004,Dee,not-an-address,DGC,en", "email"),
            ("600004,Dee,dee@un.example,NOPE,en", "entity"),
            ("600004,Dee,dee@un.example,DGC,de", "language"),
            ("600001,Dee,dee@un.example,DGC,en", "index"),  # twice in the file
            ("600004,Dee,ana@un.example,DGC,en", "email"),  # another person's address
        ],
    )
    def test_bad_row_refuses_the_file(
        self, smgov: Smgov, tmp_path: Path, engine: Any, row: str, field: str
    ) -> None:
        """All or nothing: one bad row and no staff member is imported; the `error:` line names
        the row and the field. With --partial the good rows are imported and the bad reported."""
        smgov("entity", "import", _csv(tmp_path, "e.csv", ENTITIES))
        file = _csv(tmp_path, "staff.csv", STAFF + row + "\n")
        result = smgov("staff", "import", file)
        assert result.code == 2
        assert result.err.strip().splitlines()[-1].startswith(f"error: FILE.csv row 5: {field}")
        assert _count(engine, "staff") == 0
        partial = smgov("staff", "import", file, "--partial", "--json")
        assert partial.code == 0
        assert partial.json()["created"] == 3 and partial.json()["rejected"][0]["row"] == 5

    def test_missing_column(self, smgov: Smgov, tmp_path: Path) -> None:
        """A file without the expected columns is refused naming them."""
        result = smgov("staff", "import", _csv(tmp_path, "s.csv", "index,name\n1,A\n"))
        assert result.code == 2 and "missing columns: email, entity, language" in result.err

    @pytest.mark.parametrize(
        ("content", "rule"),
        [
            (STAFF + "600004,Dan Cuatro,dan@un.example,DGC,en,600099\n", "6 fields where"),
            ("index," + STAFF, "the header names index twice"),
        ],
    )
    def test_misshapen_file(
        self, smgov: Smgov, tmp_path: Path, engine: Any, content: str, rule: str
    ) -> None:
        """A row with more cells than the header names, or a header naming a column twice (the
        last would have won, unseen: the file was imported as if well formed), refuses the file
        in one `error:` line, nothing imported, --partial or not."""
        smgov("entity", "import", _csv(tmp_path, "e.csv", ENTITIES))
        file = _csv(tmp_path, "staff.csv", content)
        for extra in ([], ["--partial"]):
            result = smgov("staff", "import", file, *extra)
            assert result.code == 2, result
            (line,) = result.err.strip().splitlines()
            assert line.startswith("error: FILE") and rule in line, line
        assert _count(engine, "staff") == 0

    @pytest.mark.clause("4.2")
    def test_entity_change_is_a_reassignment(
        self, smgov: Smgov, tmp_path: Path, uow: Callable[..., Any], prefect_api: str
    ) -> None:
        """A staff file moving an administrator to another entity reassigns them through the HR
        inbox: their written authorizations are withdrawn (4.2)."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
            org.seed(ctx, code="DGC", prefix="2")
        with uow(org.T0) as ctx:
            org.complete(ctx, org.account(ctx))
        moved = _csv(
            tmp_path,
            "moved.csv",
            "index,name,email,entity,language\n100002,Administrator,admin.ohchr@un.example,dgc,fr\n",
        )
        result = smgov("staff", "import", moved, "--json")
        assert result.code == 0, result.err
        assert result.json()["updated"] == 1
        shown = smgov("staff", "show", "100002", "--json").json()
        assert shown["entity"] == "DGC"
        assert all(a["revoked_on"] for a in shown["authorizations"])


class TestStaffUpdate:
    def test_contact_details(self, smgov: Smgov, uow: Callable[..., Any]) -> None:
        """--name, --email and --language change at once and keep the authorizations."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
        result = smgov("staff", "update", "100003", "--name", "New Name", "--language", "ES")
        assert result.code == 0, result.err
        shown = smgov("staff", "show", "100003", "--json").json()
        assert (shown["name"], shown["language"]) == ("New Name", "es")

    @pytest.mark.clause("4.2")
    def test_new_entity_is_a_reassignment(
        self, smgov: Smgov, uow: Callable[..., Any], prefect_api: str
    ) -> None:
        """`staff update --entity` moves the person through the HR inbox: authorizations for
        the entity they left are withdrawn (4.2)."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
            org.seed(ctx, code="DGC", prefix="2")
        with uow(org.T0) as ctx:
            org.complete(ctx, org.account(ctx))
        result = smgov("staff", "update", "100003", "--entity", "dgc")
        assert result.code == 0, result.err
        shown = smgov("staff", "show", "100003", "--json").json()
        assert shown["entity"] == "DGC" and all(a["revoked_on"] for a in shown["authorizations"])

    @pytest.mark.parametrize(
        ("args", "field"),
        [
            (["999999", "--name", "X"], "INDEX"),
            (["100003"], "INDEX"),
            (["100003", "--email", "nope"], "email"),
            (["100003", "--entity", "NOPE"], "--entity"),
            (["100003", "--language", "de"], "language"),
        ],
    )
    def test_bad_input(
        self, smgov: Smgov, uow: Callable[..., Any], args: list[str], field: str
    ) -> None:
        """Bad input: exit 2, one `error:` line naming the field, nothing changed."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
        before = smgov("staff", "show", "100003", "--json").json()
        result = smgov("staff", "update", *args)
        assert result.code == 2 and result.err.startswith(f"error: {field}")
        assert smgov("staff", "show", "100003", "--json").json() == before


class TestAlias:
    def test_alias_places_unplaced_staff(self, smgov: Smgov, uow: Callable[..., Any]) -> None:
        """Staff provisioned with a department no entity answers to are listed by
        `--unplaced`; `entity alias` names the entity and places them."""
        from services import staff as staff_service

        with uow(org.T0) as ctx:
            org.seed(ctx, code="DGC", prefix="2")
        with uow(org.T0) as ctx:
            staff_service.provision(
                ctx,
                staff_service.Person(
                    index="700001",
                    name="New Joiner",
                    email="nj@un.example",
                    department="Department of Global Communications",
                ),
                cause="test",
            )
        unplaced = smgov("staff", "list", "--unplaced", "--json").json()
        assert [s["index"] for s in unplaced] == ["700001"] and unplaced[0]["entity"] is None
        assert unplaced[0]["directory_department"] == "Department of Global Communications"
        result = smgov(
            "entity", "alias", "dgc", "--directory-name", "Department of Global Communications"
        )
        assert result.code == 0, result.err
        assert smgov("staff", "list", "--unplaced", "--json").json() == []
        assert smgov("staff", "show", "700001", "--json").json()["entity"] == "DGC"
        assert smgov("entity", "alias", "NOPE", "--directory-name", "X").code == 2


class TestMigration:
    def test_existing_registry_migrates(self, empty_db_url: str) -> None:
        """A registry at the previous schema, with staff other tables refer to, migrates:
        staff rows keep their values (entity now optional, version 1) and every foreign key
        still holds (SQLite rebuilds the staff table with its procedure)."""
        from alembic import command

        from database import alembic_config, make_engine, upgrade

        engine = make_engine(empty_db_url)
        try:
            with engine.begin() as conn:
                cfg = alembic_config(engine)
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "0007")
            with engine.begin() as conn:
                for sql in (
                    "INSERT INTO entity (code, name, kind, timezone, created_at) VALUES "
                    "('OHCHR', 'n', 'office', 'UTC', '2026-01-01 00:00:00')",
                    "INSERT INTO staff (index_number, name, email, entity_code, language, status, "
                    "status_effective_at, registry_officer, created_at) VALUES ('100001', 'A', "
                    "'a@un.example', 'OHCHR', 'en', 'active', '2026-01-01 00:00:00', false, "
                    "'2026-01-01 00:00:00')",
                    "INSERT INTO entity_role (entity_code, staff_index, role, starts_at) VALUES "
                    "('OHCHR', '100001', 'head', '2026-01-01 00:00:00')",
                ):
                    conn.execute(text(sql))
            upgrade(engine)
            with engine.connect() as conn:
                row = conn.execute(text("SELECT entity_code, version, user_name FROM staff")).one()
                heads = conn.execute(text("SELECT staff_index FROM entity_role")).all()
            assert tuple(row) == ("OHCHR", 1, None) and heads == [("100001",)]
        finally:
            engine.dispose()
