"""The database helpers, below notifications/ and services/: one engine per process, one
transaction per use case, bulk inserts and updates, chunked lookups, and the migrations shipped
inside the `models` package."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    any_,
    bindparam,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.types import ARRAY
from sqlmodel import Session, create_engine

import models
from models.errors import CheckFailed
from models.settings import private_dir

if TYPE_CHECKING:
    from alembic.config import Config

T = TypeVar("T")
MIGRATIONS = Path(models.__file__).parent / "migrations"


def _private_sqlite(path: Path) -> None:
    """The database file is made 0600 (in a 0700 folder when smgov makes it) before SQLite opens
    it, whatever the umask; SQLite gives its WAL and shared-memory files the same mode."""
    private_dir(path.parent)
    if not path.exists():
        with contextlib.suppress(FileExistsError):
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def make_engine(url: str) -> Engine:
    """An engine for `url`. SQLite gets WAL, foreign keys, a busy timeout, and BEGIN IMMEDIATE so
    that every transaction takes the write lock up front (concurrent writers queue, never deadlock).
    """
    if url.startswith("sqlite"):
        memory = url in ("sqlite://", "sqlite:///:memory:")
        if not memory:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path:
                _private_sqlite(Path(path).expanduser())
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 60}}
        if memory:
            kwargs["poolclass"] = StaticPool
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
            cur = dbapi_conn.cursor()
            if not memory:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True)


def reader(url: str) -> Engine:
    """An engine that only reads, beside a writer working on the same database (a campaign's
    survey in a process of its own): on SQLite its transactions begin deferred (one snapshot
    for all their reads), so in WAL mode it neither waits for the writer's lock nor holds it,
    and `query_only` refuses any write."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True)
    engine = create_engine(url, connect_args={"timeout": 60})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA query_only=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # deferred: the first read takes the snapshot every later read of the transaction sees
        # (the driver would otherwise read each statement in its own)
        conn.exec_driver_sql("BEGIN")

    return engine


@contextlib.contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits together at the end, or not at all."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # only the schema commands need alembic (start-up time)

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> int:
    """`smgov db upgrade`: bring the schema to the newest migration (idempotent). Returns how
    many authorizations granted by imports the upgrade turned into declarations (migration
    0010, 3.7)."""
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite rebuilds a table to change a column (batch migrations); its procedure
            # turns foreign keys off meanwhile (only possible outside a transaction) and checks
            # them before committing.
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]  # the raw sqlite3 connection
        try:
            with conn.begin():
                before = _imported_grants(conn)
                from alembic import command

                cfg = alembic_config(engine)
                cfg.attributes["connection"] = conn
                with warnings.catch_warnings():
                    # SQLite's batch migrations reflect tables that refer to `entity`, whose
                    # expression index upper(code) SQLAlchemy cannot reflect; the index is not
                    # touched (migration 0008 made it), so the warning only confused operators.
                    warnings.filterwarnings(
                        "ignore", "Skipped unsupported reflection of expression-based index"
                    )
                    command.upgrade(cfg, "head")
                if sqlite and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise CheckFailed("database: a foreign key does not hold after migrating")
                return before - _imported_grants(conn)
        finally:
            if sqlite:
                conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]  # idem


def _imported_grants(conn: Any) -> int:
    """Authorizations in force that an inventory import granted (none once migrated)."""
    if "written_authorization" not in inspect(conn).get_table_names():
        return 0
    found = conn.execute(
        text(
            "SELECT count(*) FROM written_authorization WHERE reference LIKE "
            "'3.4 inventory import, row %' AND revoked_at IS NULL"
        )
    ).scalar()
    return int(found or 0)


def is_current(engine: Engine) -> bool:
    """Whether the schema exists (smgov refuses to work on an empty database)."""
    return "alembic_version" in inspect(engine).get_table_names()


def insert_rows(session: Session, table: Table, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write many rows (dicts with the same keys) in the session's transaction, set-based.

    PostgreSQL: one `COPY ... FROM STDIN`, each column's bind processing applied first (so an
    instant is checked and stored in UTC exactly as an INSERT would store it); a sweep writes
    ~110 MB of digests and an HR batch ~11,000 audit events, where an executemany spends most
    of its time per row in the driver. Elsewhere (SQLite): the driver's executemany of a plain
    INSERT per 2,000 rows, bound as the columns bind them (through SQLAlchemy's Core INSERT when
    a column is left to a Python-side default), so rows produced as they are written are never
    all held at once (a 100k sweep's digests are ~110 MB)."""
    stream = iter(rows)
    first = next(stream, None)
    if first is None:
        return
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        stream = itertools.chain([first], stream)
        names = list(first)
        defaulted = [
            c
            for c in table.c
            if c.name not in names and c.default is not None and not c.primary_key
        ]
        if defaulted:  # a column left to its Python-side default: SQLAlchemy supplies it
            statement = insert(table)
            for chunk in _batches(stream, lambda row: row.values()):
                session.execute(statement, chunk)
            return
        # the rows bound as the columns bind them, then handed to the driver as they are (its
        # executemany in C), not through SQLAlchemy's per-row parameter handling
        columns = ", ".join(f'"{name}"' for name in names)
        marks = ", ".join("?" for _ in names)
        sql = f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})'
        values = _processed(table, names, stream, connection.dialect)
        for batch in _batches(values, lambda row: row):
            connection.exec_driver_sql(sql, [tuple(row) for row in batch])
        return
    _copy(connection, table.name, table, list(first), itertools.chain([first], stream))


#: `insert_rows` on SQLite hands the driver at most this many rows at a time, or fewer when their
#: texts reach BATCH_CHARS: a sweep's digests (text, HTML and card, some 60 kB each at 100k) in
#: batches of 2,000 held 700 MB at once.
BATCH_ROWS = 2000
BATCH_CHARS = 4_000_000


def _batches(rows: Iterable[T], values: Callable[[T], Iterable[Any]]) -> Iterator[list[T]]:
    """`rows` in lists of at most BATCH_ROWS rows and about BATCH_CHARS characters of text."""
    batch: list[T] = []
    chars = 0
    for row in rows:
        batch.append(row)
        for value in values(row):
            if type(value) is str:
                chars += len(value)
        if len(batch) >= BATCH_ROWS or chars >= BATCH_CHARS:
            yield batch
            batch, chars = [], 0
    if batch:
        yield batch


def update_rows(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Set columns of many rows by primary key `id` (dicts with the same keys, `id` among them)
    in the session's transaction, set-based.

    PostgreSQL: the new values are copied into a temporary table and applied by one
    `UPDATE ... FROM` (the driver's work per row is the COPY's, in C; the join runs in the server
    with the GIL released, so a caller's thread can render meanwhile). SQLite: one executemany
    of a prepared UPDATE."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = [name for name in rows[0] if name != "id"]
    if dialect.name != "postgresql":
        sets = ", ".join(f'"{name}" = ?' for name in names)
        connection.exec_driver_sql(
            f'UPDATE "{table.name}" SET {sets} WHERE id = ?',
            [
                (*values[1:], values[0])
                for values in _processed(table, ["id", *names], rows, dialect)
            ],
        )
        return
    scratch = f"_smgov_set_{table.name}"
    columns = ", ".join(
        f'"{name}" {table.c[name].type.compile(dialect=dialect)}' for name in ["id", *names]
    )
    connection.exec_driver_sql(f'CREATE TEMPORARY TABLE "{scratch}" ({columns}) ON COMMIT DROP')
    _copy(connection, scratch, table, ["id", *names], rows)
    sets = ", ".join(f'"{name}" = v."{name}"' for name in names)
    connection.exec_driver_sql(
        f'UPDATE "{table.name}" AS t SET {sets} FROM "{scratch}" AS v WHERE t.id = v.id'
    )
    connection.exec_driver_sql(f'DROP TABLE "{scratch}"')


def _copy(
    connection: Any, target: str, table: Table, names: list[str], rows: Iterable[Mapping[str, Any]]
) -> None:
    """COPY rows into `target` (PostgreSQL), bound as `table`'s columns bind them."""
    cursor = connection.connection.driver_connection.cursor()  # psycopg's own cursor
    columns = ", ".join(f'"{name}"' for name in names)
    with cursor, cursor.copy(f'COPY "{target}" ({columns}) FROM STDIN') as copy:
        for values in _processed(table, names, rows, connection.dialect):
            copy.write_row(values)


def among(session: Session, column: Any, values: Iterable[Any]) -> ColumnElement[bool]:
    """`column IN values`, the values in one parameter: on PostgreSQL `column = ANY(:array)`, on
    SQLite `column IN (SELECT value FROM json_each(:json))`. A statement of hundreds of
    placeholders would be compiled, expanded and parsed again every time (psycopg caches only
    statements under 4 kB; SQLAlchemy expands an IN list at each execution): one parameter
    keeps the statement the same from chunk to chunk."""
    wanted = list(values)
    condition: ColumnElement[bool]
    if session.get_bind().dialect.name == "postgresql":
        array = bindparam(None, wanted, type_=ARRAY(column.type))
        condition = column == any_(array)
        return condition
    listed = func.json_each(bindparam(None, json.dumps(wanted), type_=String)).table_valued("value")
    condition = column.in_(select(listed.c.value))
    return condition


def chunks(values: Iterable[T], size: int = 500) -> Iterator[list[T]]:
    """`values` in lists of at most `size`: the batches of a chunked `among` lookup, so a lookup
    over 100k accounts is a few hundred statements of 500 keys, never one per key nor one
    statement with more placeholders than SQLite allows."""
    stream = iter(values)
    while chunk := list(itertools.islice(stream, size)):
        yield chunk


def _processed(
    table: Table, names: list[str], rows: Iterable[Mapping[str, Any]], dialect: Any
) -> Iterator[list[Any]]:
    """Each row's values in `names` order, as the columns' types bind them (UTC instants)."""
    processors = [table.c[name].type.bind_processor(dialect) for name in names]
    wanted = set(names)
    # a batch repeats a few values (one instant for all, a due instant per entity): each
    # distinct value of a processed column is processed once; the others are taken as they are
    work: list[tuple[int, Any, dict[Any, Any]]] = [
        (at, process, {}) for at, process in enumerate(processors) if process is not None
    ]
    for row in rows:
        if row.keys() != wanted:
            raise ValueError(f"{table.name}: rows differ in their columns")
        values = [row[name] for name in names]
        for at, process, cache in work:
            value = values[at]
            if value is None:
                continue
            try:
                values[at] = cache[value]
            except KeyError:
                if len(cache) > 4096:
                    cache.clear()
                cache[value] = values[at] = process(value)
            except TypeError:  # not hashable: processed each time
                values[at] = process(value)
        yield values
