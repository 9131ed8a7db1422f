"""prefect.yaml deploys the flows to a Prefect server with a work pool; a worker runs them: the
daily reminders on demand, and the separation flow when the HR intake emits its event."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests import org
from tests.conftest import Result
from tests.prefect_server import ROOT, cli
from tests.servers import SMTPServer


@pytest.fixture(scope="module")
def own_prefect(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prefect server for this module alone: its event triggers meet no deployment, automation
    or event left by the session's other modules (in the full suite the session server had
    missed the trigger twice, while the module alone passed)."""
    from tests import prefect_server

    yield from prefect_server.start(tmp_path_factory.mktemp("prefect-deploy"))


@pytest.fixture(scope="module")
def deployments(own_prefect: str) -> Iterator[dict[str, str]]:
    """The `smgov` process pool and every deployment of prefect.yaml on the module's own Prefect
    server, made once (they name no database: a worker's environment does), with the module's
    SMTP server; gone with the server."""
    with SMTPServer() as smtp:
        env = {
            **{k: v for k, v in os.environ.items() if k.startswith("PREFECT_")},
            "PREFECT_API_URL": own_prefect,
            "SMGOV_SOURCE_DIR": str(ROOT),
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
        }
        created = cli(
            "work-pool",
            "create",
            "smgov",
            "--type",
            "process",
            "--overwrite",
            env={**os.environ, **env},
        )
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = cli("--no-prompt", "deploy", "--all", env={**os.environ, **env})
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        yield env


@pytest.fixture
def deployed(deployments: dict[str, str], cli_env: dict[str, str]) -> dict[str, str]:
    """The environment of a worker and of the CLI for this test: its own database, the module's
    Prefect server, deployments and SMTP server."""
    return {**cli_env, **deployments}


class TestDeployments:
    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_scheduled_reminders_run_on_a_worker(
        self, deployed: dict[str, str], uow: Callable[..., Any]
    ) -> None:
        """`prefect deploy --all` registers the daily reminders with a cron schedule in an
        explicit timezone; a process worker of the `smgov` pool runs it and reminders go out."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
        with uow(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)) as ctx:
            org.account(ctx, created_on=dt.date(2026, 3, 1))
        shown = cli("deployment", "inspect", "reminders/reminders-daily", env=deployed)
        assert "Europe/Zurich" in shown.stdout and "0 6 * * *" in shown.stdout
        run = cli(
            "deployment",
            "run",
            "reminders/reminders-daily",
            "--param",
            "as_of=2026-03-04",
            env=deployed,
        )
        assert run.returncode == 0, run.stdout + run.stderr
        worker = cli("worker", "start", "--pool", "smgov", "--run-once", env=deployed)
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
        outbox = subprocess.run(
            [sys.executable, "-m", "smgov.cli", "outbox", "list", "--json"],
            env=deployed,
            capture_output=True,
            text=True,
            check=True,
        )
        sent = json.loads(outbox.stdout)
        assert [(m["recipient"], m["status"]) for m in sent] == [("head.ohchr@un.example", "sent")]
        assert "7 days left" in sent[0]["subject"]

    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_hr_event_triggers_the_separation_deployment(
        self,
        deployed: dict[str, str],
        uow: Callable[..., Any],
        smgov_process: Callable[..., Result],
    ) -> None:
        """The HR intake emits `hr.staff.separated`; the event-triggered deployment starts a
        flow run with the event's parameters, and a worker runs it (4.2; issue 7, 5)."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
        with uow(org.T0) as ctx:
            org.complete(ctx, org.account(ctx))
        result = smgov_process(
            "hr",
            "event",
            "--type",
            "separation",
            "--staff",
            "100002",
            "--effective",
            "2026-03-01",
            "--id",
            "HR-EVT-1",
            env=deployed,
        )
        assert result.code == 0 and "separation-on-hr-event" in result.out, result.err
        runs: list[Any] = []
        deadline = time.monotonic() + 120  # a loaded 2-core runner evaluates triggers late
        while not runs and time.monotonic() < deadline:
            request = urllib.request.Request(  # noqa: S310 (the session's own Prefect server)
                f"{deployed['PREFECT_API_URL']}/flow_runs/filter",
                data=b'{"limit": 50}',
                headers={"content-type": "application/json"},
                method="POST",
            )
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                runs = [
                    r
                    for r in json.loads(answer.read())
                    if r["parameters"].get("event_id") == "HR-EVT-1"
                ]
            time.sleep(0.5)
        assert runs, "the event started no flow run"
        worker = cli("worker", "start", "--pool", "smgov", "--run-once", env=deployed)
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
        person = json.loads(smgov_process("staff", "show", "100002", "--json", env=deployed).out)
        assert person["status"] == "separated"
        assert all(a["revoked_on"] for a in person["authorizations"])
        events = json.loads(smgov_process("hr", "list", "--json", env=deployed).out)
        assert [(e["event_id"], e["state"]) for e in events] == [("HR-EVT-1", "applied")]
