"""Scale-out: a real Prefect server backed by PostgreSQL, a process work pool, the deployments of
prefect.yaml, two workers, and the registry on PostgreSQL too (issue 8, acceptance 3)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from tests import org, prefect_server


def _api(url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 (our own Prefect server on 127.0.0.1)
        f"{url}{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as answer:  # noqa: S310
        return json.loads(answer.read())


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_workers_on_a_postgres_backed_prefect(
    postgres: Any,
    db_url: str,
    cli_env: dict[str, str],
    uow: Callable[..., Any],
    tmp_path: Path,
) -> None:
    """prefect.yaml deploys to a Prefect server whose own database is PostgreSQL; two process
    workers poll the pool; the reminders deployment runs against the registry on PostgreSQL and
    completes with the expected outbox; every process started here is stopped by its id."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
    with uow(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)) as ctx:
        org.account(ctx, created_on=dt.date(2026, 3, 1))
    prefect_db = postgres.fresh(migrated=False)
    asyncpg_url = prefect_db.replace("postgresql+psycopg://", "postgresql+asyncpg://")
    home = tmp_path / "prefect"
    home.mkdir()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        for url in prefect_server.start(home, {"PREFECT_API_DATABASE_CONNECTION_URL": asyncpg_url}):
            try:
                _deploy_and_run(url, cli_env, home, workers, asyncpg_url)
            finally:
                # stopped while their server still answers: after it, each worker retries its
                # goodbye to the API for about 15 s before it exits
                _stop(workers)
        registry = create_engine(db_url)
        with registry.connect() as conn:
            rows = conn.execute(text("SELECT recipient, status FROM outbox")).all()
        registry.dispose()
        assert [tuple(r) for r in rows] == [("head.ohchr@un.example", "sent")]
    finally:
        _stop(workers)
        postgres.drop(prefect_db)


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    """Every worker's process group: SIGTERM to all at once, then SIGKILL to any still running
    5 s later (under a loaded suite a worker took its whole 30 s grace to go); a stopped one is
    forgotten."""
    for worker in workers:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5
    while workers:
        worker = workers.pop()
        try:
            worker.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _deploy_and_run(
    url: str,
    cli_env: dict[str, str],
    home: Path,
    workers: list[subprocess.Popen[bytes]],
    asyncpg_url: str,
) -> None:
    """Create the pool, deploy prefect.yaml, start two workers (into `workers`), run the reminders
    deployment and wait for it to complete on one of them."""
    env = {
        **cli_env,
        "PREFECT_API_URL": url,
        "PREFECT_HOME": str(home),
        "SMGOV_SOURCE_DIR": str(prefect_server.ROOT),
    }

    def run(*args: str) -> str:
        proc = prefect_server.cli(*args, env=env)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        return proc.stdout

    run("work-pool", "create", "smgov", "--type", "process", "--overwrite")
    # the one deployment run here (test_deploy.py deploys them all)
    run("--no-prompt", "deploy", "--name", "reminders-daily")
    for n in range(2):
        workers.append(
            subprocess.Popen(
                [
                    prefect_server.PREFECT,
                    "worker",
                    "start",
                    "--pool",
                    "smgov",
                    "--name",
                    f"worker-{n}",
                ],
                env={**env, "PREFECT_WORKER_QUERY_SECONDS": "1"},  # not every 10 s
                cwd=prefect_server.ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
        )
    run("deployment", "run", "reminders/reminders-daily", "--param", "as_of=2026-03-04")
    state, deadline = "", time.monotonic() + 180
    while state != "COMPLETED" and time.monotonic() < deadline:
        time.sleep(2)
        runs = _api(url, "/flow_runs/filter", {"limit": 50})
        mine = [r for r in runs if r["parameters"].get("as_of") == "2026-03-04"]
        state = mine[0]["state_type"] if mine else ""
        assert state not in ("FAILED", "CRASHED"), mine
    assert state == "COMPLETED"
    workers_seen = _api(url, "/work_pools/smgov/workers/filter", {})
    assert {w["name"] for w in workers_seen} >= {"worker-0", "worker-1"}
    engine = create_engine(asyncpg_url.replace("+asyncpg", "+psycopg"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM flow_run")).scalar()
    engine.dispose()
