"""Shared fixtures: a fresh database per test on SQLite and PostgreSQL, the CLI, the clock.

PostgreSQL runs when SMGOV_TEST_POSTGRES_URL is set (`.ci/run` sets it): each test run creates its
own template database, migrates it once, and each test gets a fresh copy (CREATE DATABASE ...
TEMPLATE), dropped afterwards. Under CI=true a skipped test fails the run.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from database import make_engine, upgrade
from models.settings import Settings
from services.context import Ctx, unit_of_work

PG_URL = os.environ.get("SMGOV_TEST_POSTGRES_URL")
RUN_ID = uuid.uuid4().hex[:8]
UTC = dt.UTC
#: Test keys: at least 32 bytes (shorter keys are refused at start, issue 18).
AUDIT_KEY = "test-audit-key-0123456789abcdef-0123"
SESSION_KEY = "test-session-key-0123456789abcdef-012"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--write-clause-index",
        default=None,
        help="write the clause -> tests index (JSON) after collection",
    )


#: Seconds a module takes (both backends, measured on a 2-core machine): under `--dist loadfile`
#: the slowest modules are handed out first, so that no long module starts last and runs alone
#: at the end while the other workers idle. Other modules follow, most tests first (xdist's own
#: order). Rough figures are enough; update them when a module grows much slower.
MODULE_SECONDS = {
    "test_deploy.py": 120,
    "test_web.py": 120,
    "test_secrets.py": 110,
    "test_faults.py": 100,
    "test_serve.py": 90,
    "test_registry.py": 90,
    "test_scale_out.py": 80,
    "test_hostile.py": 80,
    "test_inprocess.py": 60,
    "test_report_demo.py": 60,
    "test_cli_language.py": 60,
    "test_reminders.py": 60,
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A clause marker names an item of the clause index (models/rules.py): a typo fails the run.
    Only explicit markers count; a clause cited in a docstring proves nothing. Then the modules
    are ordered slowest first (MODULE_SECONDS), each module's tests kept in their order."""
    from models.rules import cited

    for item in items:
        for mark in item.iter_markers("clause"):
            if not mark.args or not cited(str(mark.args[0])):
                raise pytest.UsageError(f"{item.nodeid}: clause marker {mark.args} is not an item")
    counts: dict[str, int] = {}
    for item in items:
        counts[item.path.name] = counts.get(item.path.name, 0) + 1
    items.sort(key=lambda item: (-MODULE_SECONDS.get(item.path.name, 0), -counts[item.path.name]))


def pytest_collection_finish(session: pytest.Session) -> None:
    target = session.config.getoption("--write-clause-index")
    if not target:
        return
    index: dict[str, set[str]] = {}
    for item in session.items:
        for mark in item.iter_markers("clause"):
            index.setdefault(str(mark.args[0]), set()).add(item.nodeid.split("[")[0])
    Path(target).write_text(
        json.dumps({c: sorted(t) for c, t in sorted(index.items())}, indent=1) + "\n"
    )


def pytest_configure(config: pytest.Config) -> None:
    # Prefect reads its settings when first imported: fix them before anything imports it, so
    # no test touches ~/.prefect or phones home.
    os.environ["PREFECT_HOME"] = str(Path(tempfile.mkdtemp(prefix="smgov-prefect-")))
    os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.pop("PREFECT_API_URL", None)
    if os.environ.get("CI") == "true" and not PG_URL:
        raise pytest.UsageError("CI=true needs SMGOV_TEST_POSTGRES_URL: PostgreSQL tests must run")
    if getattr(config.option, "dist", "no") == "loadfile":
        # xdist hands out the modules in the order pytest_collection_modifyitems leaves them
        # (slowest first), not re-sorted by their number of tests
        config.option.loadscopereorder = False


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, a skipped test is a failure (issue 2: PostgreSQL tests must actually run)."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = len(reporter.stats.get("skipped", [])) if reporter else 0
    if os.environ.get("CI") == "true" and skipped and exitstatus == 0:
        if reporter:
            reporter.write_line(f"error: {skipped} tests skipped under CI=true", red=True)
        session.exitstatus = 1


# ---------------------------------------------------------------------------------------------
# databases


class _Postgres:
    """Creates the run's template database once and a fresh copy per test.

    PostgreSQL 15 forces a checkpoint at every DROP DATABASE, and CREATE DATABASE ... TEMPLATE
    writes the whole copy through the WAL: about a second per test together. Both happen off the
    test's path, on this worker's own background threads: the next test's copy is made while a
    test runs (one spare, from the same migrated template), and a used database is dropped with
    FORCE (its connections ended) behind the test. `close` waits for all of it; a failed drop
    fails the run there."""

    def __init__(self, url: str) -> None:
        self.base = make_url(url)
        self.admin = create_engine(self.base, isolation_level="AUTOCOMMIT")
        self.template = f"smgov_tpl_{RUN_ID}"
        self.created: list[str] = []
        self.ready = False
        self._background = ThreadPoolExecutor(max_workers=2, thread_name_prefix="smgov-pg")
        self._spare: Future[str] | None = None
        self._drops: list[Future[None]] = []
        self._numbers = itertools.count()

    def _terminate(self, conn: Any, name: str) -> None:
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"
            ),
            {"n": name},
        )

    def _create(self, *, migrated: bool) -> str:
        name = f"smgov_{RUN_ID}_{next(self._numbers)}"  # itertools.count: thread-safe
        self.created.append(name)
        with self.admin.connect() as conn:
            if migrated:
                self._terminate(conn, self.template)
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"'))
            else:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        return self.url_of(name)

    def fresh(self, *, migrated: bool = True) -> str:
        if not migrated:
            return self._create(migrated=False)
        if not self.ready:
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.template}"'))
            engine = make_engine(self.url_of(self.template))
            upgrade(engine)
            engine.dispose()
            self.ready = True
        spare, self._spare = self._spare, None
        url = spare.result() if spare is not None else self._create(migrated=True)
        self._spare = self._background.submit(self._create, migrated=True)
        return url

    def url_of(self, name: str) -> str:
        return self.base.set(database=name).render_as_string(hide_password=False)

    def _drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def drop(self, url: str) -> None:
        self._drops.append(self._background.submit(self._drop, str(make_url(url).database)))

    def close(self) -> None:
        errors: list[BaseException] = []
        if self._spare is not None:
            try:
                self.drop(self._spare.result())
            except Exception as exc:  # reported below, after the clean-up
                errors.append(exc)
        for future in self._drops:
            if (exc := future.exception()) is not None:
                errors.append(exc)
        self._background.shutdown()
        with self.admin.connect() as conn:
            self._terminate(conn, self.template)
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.template}"'))
        self.admin.dispose()
        if errors:
            raise errors[0]


@pytest.fixture(scope="session")
def postgres() -> Iterator[_Postgres | None]:
    if not PG_URL:
        yield None
        return
    pg = _Postgres(PG_URL)
    yield pg
    pg.close()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "smgov.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Both databases: every database test runs on SQLite and on PostgreSQL."""
    name = str(request.param)
    if name == "postgresql" and not PG_URL:
        pytest.skip("PostgreSQL not configured: set SMGOV_TEST_POSTGRES_URL")
    return name


@pytest.fixture
def db_url(
    backend: str, postgres: _Postgres | None, sqlite_template: Path, tmp_path: Path
) -> Iterator[str]:
    """A fresh, migrated database for this test only."""
    if backend == "sqlite":
        path = tmp_path / "home" / "smgov.db"
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(sqlite_template, path)
        yield f"sqlite:///{path}"
        return
    assert postgres is not None
    url = postgres.fresh()
    yield url
    postgres.drop(url)


@pytest.fixture
def empty_db_url(backend: str, postgres: _Postgres | None, tmp_path: Path) -> Iterator[str]:
    """A fresh database with no schema at all."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    assert postgres is not None
    url = postgres.fresh(migrated=False)
    yield url
    postgres.drop(url)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def settings(home: Path, db_url: str) -> Settings:
    return Settings(
        home=home,
        database_url=db_url,
        audit_key=AUDIT_KEY,
        session_secret=SESSION_KEY,
        issuance_date=dt.date(2026, 1, 15),
        registry_email="registry@un.example",
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    eng = make_engine(settings.resolved_database_url)
    yield eng
    eng.dispose()


CtxFactory = Callable[..., Any]


@pytest.fixture
def uow(engine: Engine, settings: Settings) -> Callable[[dt.datetime | None], Any]:
    """`with uow(now) as ctx:` — one unit of work at an effective time."""

    def factory(now: dt.datetime | None = None) -> Any:
        return unit_of_work(engine, settings, now or dt.datetime(2026, 2, 1, 12, tzinfo=UTC))

    return factory


# ---------------------------------------------------------------------------------------------
# Prefect


@pytest.fixture(scope="session")
def prefect_api() -> Iterator[str]:
    """The session's Prefect server; flows in this process and in subprocesses use it."""
    from tests import prefect_server

    home = Path(os.environ["PREFECT_HOME"])
    for url in prefect_server.start(home):
        os.environ["PREFECT_API_URL"] = url
        if "prefect.context" in sys.modules:
            sys.modules["prefect.context"].refresh_global_settings_context()
        yield url
        os.environ.pop("PREFECT_API_URL", None)


# ---------------------------------------------------------------------------------------------
# the command line, as a user runs it


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        import json

        return json.loads(self.out)


@pytest.fixture
def cli_env(home: Path, db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMGOV_")}
    env.update(
        {
            "SMGOV_HOME": str(home),
            "SMGOV_DATABASE_URL": db_url,
            "SMGOV_AUDIT_KEY": AUDIT_KEY,
            "SMGOV_SESSION_SECRET": SESSION_KEY,
            "SMGOV_ISSUANCE_DATE": "2026-01-15",
            "SMGOV_REGISTRY_EMAIL": "registry@un.example",
            "SMGOV_LANGUAGE": "en",  # the suite reads English whatever the machine's locale
        }
    )
    return env


@pytest.fixture
def smgov(
    cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run `smgov ARGS` in-process (fast): same entry point, same environment as a user's."""
    from smgov.cli import main

    def run(*args: str) -> Result:
        for key in [k for k in os.environ if k.startswith("SMGOV_")]:
            monkeypatch.delenv(key)
        for key, value in cli_env.items():
            if key.startswith("SMGOV_"):
                monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = 0
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def smgov_process(cli_env: dict[str, str]) -> Callable[..., Result]:
    """Run `smgov ARGS` as a separate process, exactly as a user or a script does."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "smgov.cli", *args],
            env={**cli_env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


__all__ = ["Ctx", "Result"]
