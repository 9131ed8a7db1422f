"""No secret from the settings lands anywhere smgov or Prefect writes (issue 3, acceptance 6)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import MetaData, create_engine, select

from models.settings import Settings
from tests import org
from tests.servers import HTTPSEndpoint, SMTPServer

SECRETS = {
    "SMGOV_SMTP_PASSWORD": "Pl4nted-SMTP-pw/91",
    "SMGOV_HR_WEBHOOK_SECRET": "Pl4nted-hr-webhook-secret",
    "SMGOV_AUDIT_KEY": "Pl4nted-audit-key-5150",
}
TEAMS_SIGNATURE = "Pl4ntedTeamsSignature77"


def _needles() -> list[bytes]:
    values = [*SECRETS.values(), TEAMS_SIGNATURE]
    forms = set()
    for value in values:
        forms.update({value, urllib.parse.quote(value, safe=""), urllib.parse.quote(value)})
    return [f.encode() for f in forms]


def _dump_database(url: str) -> bytes:
    engine = create_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    chunks = []
    with engine.connect() as conn:
        for table in meta.tables.values():
            chunks.extend(repr(tuple(row)).encode() for row in conn.execute(select(table)))
    engine.dispose()
    return b"\n".join(chunks)


def test_planted_secrets_never_written(
    prefect_api: str,
    cli_env: dict[str, str],
    uow: Callable[..., Any],
    home: Path,
    db_url: str,
    tmp_path: Path,
) -> None:
    """SMTP password, Teams URL signature, webhook secret and audit key are used for real (AUTH
    over SMTP, HTTPS to Teams) and appear in no file under the smgov home or Prefect's home, nor
    in the database, outbox, mail folder, logs or audit trail."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
    with uow(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)) as ctx:
        org.account(ctx, created_on=dt.date(2026, 3, 1))
    config_dir = tmp_path / "config"  # outside the smgov home, as an operator would keep it
    config_dir.mkdir()
    with (
        SMTPServer(auth=("smgov-mailer", SECRETS["SMGOV_SMTP_PASSWORD"])) as smtp,
        HTTPSEndpoint() as teams,
    ):
        apprise_yaml = config_dir / "apprise.yaml"
        apprise_yaml.write_text(
            "urls:\n"
            f"  - workflows://127.0.0.1:{teams.port}/ohchrflow/{TEAMS_SIGNATURE}/:\n"
            "    - tag: entity-ohchr\n"
        )
        env = {
            **cli_env,
            **SECRETS,
            **{k: v for k, v in os.environ.items() if k.startswith("PREFECT_")},
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
            "SMGOV_SMTP_USERNAME": "smgov-mailer",
            "SMGOV_APPRISE_CONFIG": str(apprise_yaml),
            "REQUESTS_CA_BUNDLE": str(teams.cert_path),
        }
        log = home / "logs" / "sweep.log"
        log.parent.mkdir(parents=True, exist_ok=True)

        def run(*args: str) -> None:
            proc = subprocess.run(
                [sys.executable, "-m", "smgov.cli", *args],
                env=env,
                capture_output=True,
                check=False,
                timeout=180,
            )
            log.write_bytes(
                log.read_bytes() + proc.stdout + proc.stderr
                if log.exists()
                else proc.stdout + proc.stderr
            )
            assert proc.returncode == 0, proc.stderr.decode()[-2000:]

        run("sweep", "--as-of", "2026-03-04")
        assert len(smtp.messages) == 1 and len(teams.requests) == 1
        assert TEAMS_SIGNATURE in teams.requests[0].path, "the real signature was used"
        smtp.stop()  # a failed delivery must not write the password into last_error either
        run("sweep", "--as-of", "2026-03-08")
        run("outbox", "list", "--failed")
        smtp.start()
        run("sweep", "--as-of", "2026-03-09")
        run("audit", "checkpoint")
        assert len(smtp.messages) == 2

    needles = _needles()
    homes = [home, Path(os.environ["PREFECT_HOME"])]
    searched = 0
    for root in homes:
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                searched += 1
                for needle in needles:
                    assert needle not in data, f"{needle!r} found in {path}"
    assert searched >= 3
    dump = _dump_database(db_url)
    assert b"reminders.queue" in dump  # the dump really holds the audit trail
    for needle in needles:
        assert needle not in dump, f"{needle!r} found in the database"


@pytest.fixture(autouse=True)
def _no_inherited_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in SECRETS:
        monkeypatch.delenv(key, raising=False)


@pytest.mark.clause("4.2")
def test_secrets_file_and_failures_leak_nothing(
    prefect_api: str,
    settings: Settings,
    cli_env: dict[str, str],
    uow: Callable[..., Any],
    home: Path,
    db_url: str,
    tmp_path: Path,
) -> None:
    """Secrets read from a secrets directory (SMGOV_SECRETS_DIR, one file per setting) work —
    SMTP AUTH succeeds, the audit chain verifies with the key from its file — and then every
    failure path (the mail server refusing the password, Teams answering 500, an unreachable
    database, a bad setting, a refused command) reports without the secret: not on stdout or
    stderr, not in the outbox's errors, the database, the audit trail or any file smgov or
    Prefect wrote (4.2: credentials never stored)."""
    settings.audit_key = SecretStr(SECRETS["SMGOV_AUDIT_KEY"])  # the seed is chained with it too
    with uow(org.T0) as ctx:
        org.seed(ctx)
    with uow(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)) as ctx:
        org.account(ctx, created_on=dt.date(2026, 3, 1))
    secrets_dir = tmp_path / "secrets"
    secrets_dir.mkdir(mode=0o700)
    for name, value in SECRETS.items():
        (secrets_dir / name).write_text(value + "\n")
    config = tmp_path / "apprise.yaml"
    outputs: list[bytes] = []

    def run(*args: str, expect: int = 0, **extra: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "smgov.cli", *args],
            env={**env, **extra},
            capture_output=True,
            check=False,
            timeout=180,
        )
        outputs.append(proc.stdout + proc.stderr)
        assert proc.returncode == expect, (args, proc.stderr.decode()[-2000:])

    with (
        SMTPServer(auth=("smgov-mailer", SECRETS["SMGOV_SMTP_PASSWORD"])) as smtp,
        HTTPSEndpoint(status=500) as teams,
    ):
        config.write_text(
            "urls:\n"
            f"  - workflows://127.0.0.1:{teams.port}/ohchrflow/{TEAMS_SIGNATURE}/:\n"
            "    - tag: entity-ohchr\n"
        )
        env = {
            **{k: v for k, v in cli_env.items() if k != "SMGOV_AUDIT_KEY"},
            **{k: v for k, v in os.environ.items() if k.startswith("PREFECT_")},
            "SMGOV_SECRETS_DIR": str(secrets_dir),
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
            "SMGOV_SMTP_USERNAME": "smgov-mailer",
            "SMGOV_APPRISE_CONFIG": str(config),
            "REQUESTS_CA_BUNDLE": str(teams.cert_path),
        }
        run("sweep", "--as-of", "2026-03-04")
        assert len(smtp.messages) == 1, "AUTH with the password from its file"
        assert len(teams.requests) == 1 and TEAMS_SIGNATURE in teams.requests[0].path
        smtp.auth = ("smgov-mailer", "another-password")  # the relay now refuses ours
        run("sweep", "--as-of", "2026-03-08")
        run("outbox", "list", "--failed", "--json")
        run("outbox", "retry", "--as-of", "2026-03-09")
        run("audit", "verify")
        run("outbox", "retry", "999", expect=2)
        run("outbox", "list", expect=2, SMGOV_SMTP_PORT="not-a-port")
        run(
            "sweep",
            "--as-of",
            "2026-03-10",
            expect=1,
            SMGOV_DATABASE_URL="postgresql+psycopg://smgov@127.0.0.1:1/nowhere",
        )
    failed = _dump_database(db_url)
    assert b"not delivered" in failed, "the failures were recorded"
    needles = _needles()
    for output in outputs:
        for needle in needles:
            assert needle not in output, f"{needle!r} printed"
    for root in (home, Path(os.environ["PREFECT_HOME"])):
        for path in root.rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                for needle in needles:
                    assert needle not in data, f"{needle!r} found in {path}"
    for needle in needles:
        assert needle not in failed, f"{needle!r} found in the database"
