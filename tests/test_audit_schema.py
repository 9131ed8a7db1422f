"""The audit chain (issue 2, acceptance 4) and the schema built by migrations (acceptance 5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text

from database import make_engine, upgrade
from tests.conftest import Result

Smgov = Callable[..., Result]


@pytest.fixture
def audited(smgov: Smgov) -> Smgov:
    """A few actions, each leaving an audit event."""
    for args in (
        [
            "entity",
            "add",
            "UNEP",
            "--name",
            "UN Environment",
            "--kind",
            "office",
            "--timezone",
            "Africa/Nairobi",
        ],
        ["staff", "add", "200001", "--name", "H", "--email", "h@un.example", "--entity", "UNEP"],
        ["entity", "set-head", "UNEP", "--staff", "200001"],
        ["staff", "add", "200002", "--name", "A", "--email", "a@un.example", "--entity", "UNEP"],
        ["staff", "add", "200003", "--name", "B", "--email", "b@un.example", "--entity", "UNEP"],
    ):
        assert smgov(*args).code == 0
    return smgov


def _sql(url: str, statement: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(statement))
    engine.dispose()


class TestAuditChain:
    def test_untouched_chain_verifies(self, audited: Smgov) -> None:
        """An untouched chain verifies, exit 0; `--json` says so as JSON."""
        result = audited("audit", "verify")
        assert result.code == 0 and "5 events" in result.out
        answer = audited("audit", "verify", "--json")
        assert answer.code == 0 and answer.json() == {
            "intact": True,
            "events": 5,
            "checkpoint": None,
        }

    def test_edited_event_is_named(self, audited: Smgov, db_url: str) -> None:
        """Editing an audit row breaks the chain at that event: exit 1 naming it (with
        `--json` too: no JSON claims a broken chain intact)."""
        _sql(db_url, "UPDATE audit_event SET actor = 'mallory' WHERE seq = 3")
        result = audited("audit", "verify")
        assert result.code == 1 and "audit event 3" in result.err
        answer = audited("audit", "verify", "--json")
        assert answer.code == 1 and "audit event 3" in answer.err and not answer.out

    def test_deleted_event_is_named(self, audited: Smgov, db_url: str) -> None:
        """Deleting a row in the middle is caught at the gap."""
        _sql(db_url, "DELETE FROM audit_event WHERE seq = 2")
        result = audited("audit", "verify")
        assert result.code == 1 and "audit event 2" in result.err

    def test_inserted_event_is_named(self, audited: Smgov, db_url: str) -> None:
        """An inserted (forged) row cannot carry a valid keyed hash."""
        _sql(db_url, "UPDATE audit_event SET seq = seq + 1 WHERE seq >= 4 AND seq < 0")
        _sql(
            db_url,
            "INSERT INTO audit_event (seq, actor, action, subject, outcome, recorded_at, "
            "effective_at, prev_hash, hash) SELECT 6, 'x', 'forged', 's', 'done', "
            "recorded_at, effective_at, hash, hash FROM audit_event WHERE seq = 5",
        )
        result = audited("audit", "verify")
        assert result.code == 1 and "audit event 6" in result.err

    def test_deleted_newest_events_caught_by_checkpoint(self, audited: Smgov, db_url: str) -> None:
        """Deleting the newest events leaves a valid shorter chain, caught against a checkpoint."""
        mark = audited("audit", "checkpoint").out.strip()
        assert mark.startswith("5:")
        assert audited("audit", "verify", "--checkpoint", mark).code == 0
        _sql(db_url, "DELETE FROM audit_event WHERE seq >= 4")
        assert audited("audit", "verify").code == 0
        result = audited("audit", "verify", "--checkpoint", mark)
        assert result.code == 1 and "audit event 4" in result.err

    def test_wrong_key_fails(self, audited: Smgov, cli_env: dict[str, Any]) -> None:
        """The chain is keyed: verifying with another SMGOV_AUDIT_KEY fails at the first event."""
        cli_env["SMGOV_AUDIT_KEY"] = "another-key-0123456789abcdef-0123456"
        result = audited("audit", "verify")
        assert result.code == 1 and "audit event 1" in result.err

    def test_first_of_several_broken_links_is_named(self, audited: Smgov, db_url: str) -> None:
        """With events 2 and 4 both edited, verify names event 2: the first broken link."""
        _sql(db_url, "UPDATE audit_event SET subject = 'x' WHERE seq IN (2, 4)")
        result = audited("audit", "verify")
        assert result.code == 1
        assert result.err == "error: audit event 2: hash does not match its content\n"

    def test_forgery_without_the_key_fails(self, audited: Smgov, db_url: str) -> None:
        """Someone with database access but not the key edits event 3 and recomputes every
        following link with a key of their own (or re-chains the whole trail): the chain still
        breaks at the first forged event."""
        _forge(db_url, b"guessed-key", from_seq=3, edit={"actor": "mallory"})
        result = audited("audit", "verify")
        assert result.code == 1 and result.err.startswith("error: audit event 3:")
        _forge(db_url, b"", from_seq=1, edit={})
        result = audited("audit", "verify")
        assert result.code == 1 and result.err.startswith("error: audit event 1:")

    def test_inserted_in_the_middle_is_named(self, audited: Smgov, db_url: str) -> None:
        """A row slipped in between events 2 and 3 (later events renumbered, its prev_hash
        copied from event 2) cannot carry a valid keyed hash: verify names event 3."""
        _sql(db_url, "UPDATE audit_event SET seq = seq + 1000 WHERE seq >= 3")
        _sql(db_url, "UPDATE audit_event SET seq = seq - 999 WHERE seq >= 1000")
        _sql(
            db_url,
            "INSERT INTO audit_event (seq, actor, action, subject, outcome, recorded_at, "
            "effective_at, prev_hash, hash) SELECT 3, '200001', 'entity.set-head', 'entity:UNEP', "
            "'done', recorded_at, effective_at, hash, hash FROM audit_event WHERE seq = 2",
        )
        result = audited("audit", "verify")
        assert result.code == 1 and result.err.startswith("error: audit event 3:")

    def test_newest_replaced_caught(self, audited: Smgov, db_url: str) -> None:
        """The newest events deleted and replaced by forged ones: without the key they fail on
        their own, and against the checkpoint kept elsewhere too."""
        mark = audited("audit", "checkpoint").out.strip()
        _forge(db_url, b"not-the-key", from_seq=4, edit={"outcome": "refused"})
        result = audited("audit", "verify", "--checkpoint", mark)
        assert result.code == 1 and result.err.startswith("error: audit event 4:")


def _forge(url: str, key: bytes, *, from_seq: int, edit: dict[str, str]) -> None:
    """What an attacker with write access to the database can do: edit event `from_seq` and
    recompute its hash and every later link, with a key that is not the chain's."""
    from sqlmodel import Session, col, select

    from models.tables import AuditEvent
    from services.audit import GENESIS, event_hash

    engine = create_engine(url)
    with Session(engine) as session:
        events = list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))))
        prev = GENESIS
        for event in events:
            if event.seq >= from_seq:
                if event.seq == from_seq:
                    for name, value in edit.items():
                        setattr(event, name, value)
                event.prev_hash = prev
                event.hash = event_hash(key, event)
                session.add(event)
            prev = event.hash
        session.commit()
    engine.dispose()


def _schema(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    insp = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        columns = {
            c["name"]: (
                type(c["type"])
                .__name__.upper()
                .replace("VARCHAR", "STRING")
                .replace("TIMESTAMP", "DATETIME"),
                c["nullable"],
            )
            for c in insp.get_columns(table)
        }
        indexes = sorted(
            (i["name"], tuple(i["column_names"]), bool(i["unique"]))
            for i in insp.get_indexes(table)
            if not i.get("duplicates_constraint")
            # expression indexes (upper(code)): SQLAlchemy reflects them on PostgreSQL only;
            # tests/test_staff_import.py proves the one on entity holds on both
            and None not in i["column_names"]
        )  # PG lists UNIQUE's own index
        uniques = sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table))
        fks = sorted(
            (tuple(f["constrained_columns"]), f["referred_table"])
            for f in insp.get_foreign_keys(table)
        )
        schema[table] = {"columns": columns, "indexes": indexes, "uniques": uniques, "fks": fks}
    engine.dispose()
    return schema


class TestSchema:
    def test_migrations_are_idempotent_and_match_the_models(self, empty_db_url: str) -> None:
        """One migration path builds exactly the tables the models declare (1.1(b) database)."""
        from alembic.autogenerate import compare_metadata
        from alembic.migration import MigrationContext
        from sqlmodel import SQLModel

        engine = make_engine(empty_db_url)
        upgrade(engine)
        upgrade(engine)  # a second upgrade changes nothing
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
        engine.dispose()
        assert diff == []

    def test_same_schema_on_sqlite_and_postgresql(self, postgres: Any, tmp_path: Any) -> None:
        """The same migrations build the same schema on SQLite and PostgreSQL (issue 2, 5)."""
        if postgres is None:
            pytest.skip("PostgreSQL not configured: set SMGOV_TEST_POSTGRES_URL")
        sqlite_url = f"sqlite:///{tmp_path / 's.db'}"
        pg_url = postgres.fresh(migrated=False)
        try:
            for url in (sqlite_url, pg_url):
                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
            lite, pg = _schema(sqlite_url), _schema(pg_url)
        finally:
            postgres.drop(pg_url)
        assert set(lite) == set(pg)
        for table in lite:
            assert lite[table]["columns"].keys() == pg[table]["columns"].keys(), table
            assert {k: v[1] for k, v in lite[table]["columns"].items()} == {
                k: v[1] for k, v in pg[table]["columns"].items()
            }, table
            assert lite[table]["indexes"] == pg[table]["indexes"], table
            assert lite[table]["fks"] == pg[table]["fks"], table
            assert lite[table]["uniques"] == pg[table]["uniques"], table
