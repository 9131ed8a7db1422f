"""prefect.yaml deploys the flows to a Prefect server with a work pool, and a worker runs them."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests import org
from tests.servers import SMTPServer

ROOT = Path(__file__).resolve().parent.parent


def _prefect(
    *args: str, env: dict[str, str], timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    prefect = str(Path(sys.executable).parent / "prefect")
    return subprocess.run(
        [prefect, *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_deployment_runs_on_a_worker(
    prefect_api: str, cli_env: dict[str, str], uow: Callable[..., Any]
) -> None:
    """`prefect deploy --all` registers the daily reminders deployment with its schedule in an
    explicit timezone; a process worker of the `smgov` pool runs it and the reminders go out."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
    with uow(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)) as ctx:
        org.account(ctx, created_on=dt.date(2026, 3, 1))
    with SMTPServer() as smtp:
        env = {
            **cli_env,
            **{k: v for k, v in os.environ.items() if k.startswith("PREFECT_")},
            "SMGOV_SOURCE_DIR": str(ROOT),
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
        }
        created = _prefect(
            "work-pool", "create", "smgov", "--type", "process", "--overwrite", env=env
        )
        assert created.returncode == 0, created.stdout + created.stderr
        deployed = _prefect("--no-prompt", "deploy", "--all", env=env)
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        shown = _prefect("deployment", "inspect", "reminders/reminders-daily", env=env)
        assert "Europe/Zurich" in shown.stdout and "0 6 * * *" in shown.stdout
        run = _prefect(
            "deployment", "run", "reminders/reminders-daily", "--param", "as_of=2026-03-04", env=env
        )
        assert run.returncode == 0, run.stdout + run.stderr
        worker = _prefect("worker", "start", "--pool", "smgov", "--run-once", env=env, timeout=240)
        assert worker.returncode == 0, worker.stdout[-3000:] + worker.stderr[-3000:]
        mails = smtp.wait_for(1, timeout=30)
        assert [m.rcpt_tos[0] for m in mails] == ["head.ohchr@un.example"]
        assert "7 day(s) left" in mails[0].body
