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

from models.errors import Refused
from models.settings import Settings
from tests import org
from tests.servers import HTTPSEndpoint, SMTPServer

SECRETS = {
    "SMGOV_SMTP_PASSWORD": "Pl4nted-SMTP-pw/91",
    "SMGOV_HR_WEBHOOK_SECRET": "Pl4nted-hr-webhook-secret-0123456789",
    "SMGOV_AUDIT_KEY": "Pl4nted-audit-key-5150-0123456789abcd",
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


# ---------------------------------------------------------------------------------------------
# issue 18: no empty keys, no short keys, one key per home, shared keys on a shared database

KEYS = ("SMGOV_AUDIT_KEY", "SMGOV_SESSION_SECRET", "SMGOV_HR_WEBHOOK_SECRET")


def _bare_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SMGOV_")}
    return {**env, "SMGOV_HOME": str(home), **extra}


def _smgov_in(home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`smgov ARGS` as a new process, its environment bare of SMGOV_* but `extra`, in `home`."""
    return subprocess.run(
        [sys.executable, "-m", "smgov.cli", *args],
        env=_bare_env(home, **extra),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_blank_secrets_are_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty or whitespace value, in the environment or as a file in SMGOV_SECRETS_DIR, is
    unset: the audit and session keys come from their key files (never b""), and the HR
    webhook stays unconfigured instead of accepting events signed with an empty key."""
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "SMGOV_SESSION_SECRET").write_text("")
    (folder / "SMGOV_HR_WEBHOOK_SECRET").write_text(" \n\t\n")
    monkeypatch.setenv("SMGOV_AUDIT_KEY", "   ")
    monkeypatch.setenv("SMGOV_SECRETS_DIR", str(folder))
    config = Settings(home=tmp_path / "home")
    assert config.audit_key is None and config.session_secret is None
    assert config.hr_webhook_secret is None
    from notifications.signing import web_key
    from services.audit import audit_key

    assert len(audit_key(config)) == 64 and len(web_key(config)) == 64
    assert audit_key(config) != web_key(config)


@pytest.mark.parametrize("name", KEYS)
def test_short_keys_refused_at_start(name: str, tmp_path: Path) -> None:
    """A key shorter than 32 bytes is refused at start with one `error:` line naming the
    setting (exit 2), and the short value is not printed; from a secrets file too."""
    short = "Sh0rt-but-not-empty-key"  # 23 bytes
    proc = _smgov_in(tmp_path / "home", "obligation", "list", **{name: short})
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"error: settings: {name}: must be at least 32 bytes")
    assert short not in proc.stderr + proc.stdout
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / name).write_text(short + "\n")
    proc = _smgov_in(tmp_path / "home", "obligation", "list", SMGOV_SECRETS_DIR=str(folder))
    assert proc.returncode == 2 and "must be at least 32 bytes" in proc.stderr
    assert not (tmp_path / "home").exists(), "nothing half-written"


def test_postgres_needs_explicit_keys(tmp_path: Path) -> None:
    """On PostgreSQL (a database several homes share) smgov refuses to start without explicit
    SMGOV_AUDIT_KEY and SMGOV_SESSION_SECRET: per-home key files would differ, breaking
    `audit verify` and every mailed link. With both set it starts."""
    url = "postgresql+psycopg://smgov@127.0.0.1:1/nowhere"
    key = "k" * 40
    for given, missing in (
        ({}, "SMGOV_AUDIT_KEY and SMGOV_SESSION_SECRET"),
        ({"SMGOV_AUDIT_KEY": key}, "SMGOV_SESSION_SECRET must be set"),
        ({"SMGOV_SESSION_SECRET": key, "SMGOV_AUDIT_KEY": " "}, "SMGOV_AUDIT_KEY must be set"),
    ):
        proc = _smgov_in(tmp_path / "home", "api", SMGOV_DATABASE_URL=url, **given)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("error: settings: ") and missing in proc.stderr
        assert "on PostgreSQL" in proc.stderr
    assert Settings(database_url=url, audit_key=key, session_secret=key).audit_key is not None


@pytest.mark.clause("4.2")
@pytest.mark.parametrize(
    ("ref", "kept"),
    [
        ("vault:kv/ohchr/x-unhumanrights", True),
        ("vault://kv/ohchr/x-un", True),
        ("vault:kv/ohchr/x-un/password", True),  # names where the password is kept
        ("vault:password=Hunter2!", False),  # got past the check while `vault` excused it
        ("vault:token:abc123", False),
        ("vault:kv/x?secret=abc", False),
        ("vault://admin:Hunter2@vault.example/kv", False),
        ("https://vault.example/kv/x", False),
        # a second review's smuggling (2026-12-04): each got past the keyword filter
        ("vault:kv/dgc/x;pass:Hunter2!", False),
        ("vault:kv/dgc/x/password%3Ahunter2", False),
        ("vault://user:pw:hunter2/kv", False),
        ("vault:kv/x/pw:hunter2", False),
        ("vault:kv/x/api-key:sk_live_abc", False),
        ("vault:kv/x/password\uff1dhunter2", False),
        ("vault:kv/dgc/x/token\u009b:abc", False),
        ("vault:secret/data/ohchr#x-un", True),
        ("hunter2 password", False),
        ("Hunter2", False),
    ],
)
def test_vault_reference_never_a_credential(ref: str, kept: bool) -> None:
    """4.2: custody records where the credentials are held, never the credentials: a
    reference naming a credential as a key, carrying an assignment or user information, or an
    address outside the vault's scheme is refused, whatever its prefix."""
    from services.custody import check_vault_ref

    if kept:
        assert check_vault_ref(ref) == ref
    else:
        with pytest.raises(Refused, match=r"--vault-ref: (must be a vault reference|contains con)"):
            check_vault_ref(ref)


DB_PASSWORD = "Pw-0f-the-db-9"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        (f"postgres://smgov:{DB_PASSWORD}@db.example/smgov", "must be a sqlite:/// or postgresql"),
        (f"mysql://smgov:{DB_PASSWORD}@db.example/smgov", "must be a sqlite:/// or postgresql"),
        (f"not a url {DB_PASSWORD}", "must be a sqlite:/// or postgresql"),
        ("sqlite:///", "a SQLite URL names its file"),
        ("sqlite:////tmp/smgov.db?mode=ro&uri=true", "a SQLite URL names its file"),
        (
            f"postgresql+psycopg://smgov:{DB_PASSWORD}@[::1/smgov",
            "is not a URL SQLAlchemy can read",
        ),
    ],
)
def test_database_url_refused_at_start(url: str, rule: str, tmp_path: Path) -> None:
    """A SMGOV_DATABASE_URL naming no database smgov runs on (another dialect, no URL, a SQLite
    URL without its file) is refused at start: one `error:` line naming the setting, exit 2,
    the value (it may hold a password) never printed, nothing written."""
    proc = _smgov_in(tmp_path / "home", "account", "list", SMGOV_DATABASE_URL=url)
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: settings: SMGOV_DATABASE_URL: ") and rule in line
    assert DB_PASSWORD not in proc.stderr + proc.stdout
    assert not (tmp_path / "home").exists(), "nothing half-written"


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    """A PostgreSQL server that does not answer (nothing listens on port 1): one `error:
    database:` line with the driver's reason, exit 1 (the command could not run), never a
    traceback, never the URL's password."""
    key = "k" * 40
    proc = _smgov_in(
        tmp_path / "home",
        "account",
        "list",
        SMGOV_DATABASE_URL=f"postgresql+psycopg://smgov:{DB_PASSWORD}@127.0.0.1:1/smgov",
        SMGOV_AUDIT_KEY=key,
        SMGOV_SESSION_SECRET=key,
    )
    assert proc.returncode == 1, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("error: database: ") and "Connection refused" in line, line
    assert DB_PASSWORD not in proc.stderr + proc.stdout


_FIRST_START = """
import hashlib, os, sys, time, traceback
from models.settings import Settings
from notifications.signing import web_key
from services.audit import audit_key
children = []
go = time.time() + 0.5
for _ in range(int(sys.argv[1])):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        os.umask(0o000)
        while time.time() < go:
            pass
        code = 0
        try:
            config = Settings()
            answer = hashlib.sha256(audit_key(config)).hexdigest() + " "
            answer += hashlib.sha256(web_key(config)).hexdigest()
        except BaseException:
            answer, code = "failed: " + traceback.format_exc(), 1
        os.write(write, answer.encode())
        os._exit(code)
    os.close(write)
    children.append((pid, read))
for pid, read in children:
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode()
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    print(status, answer.replace(chr(10), " | "))
"""


def test_eight_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    """Eight processes starting at the same instant on a fresh home (round after round) all
    end with one audit key and one session key, 64 characters each, in 0600 files in a 0700
    home, with no temporary file left behind — even under a permissive umask. (The eight are
    forked from one process that has imported smgov, then wait for one gate: no import time
    between their starts, and one interpreter start per round instead of eight.)"""
    for round_ in range(4):
        home = tmp_path / f"home{round_}" / "smgov"
        proc = subprocess.run(
            [sys.executable, "-c", _FIRST_START, "8"],
            env=_bare_env(home),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) == 8, proc.stdout + proc.stderr
        answers = set()
        for line in lines:
            status, answer = line.split(" ", 1)
            assert status == "0", answer
            answers.add(answer)
        assert len(answers) == 1, (round_, answers)
        assert sorted(p.name for p in home.iterdir()) == ["audit.key", "session.key"]
        assert home.stat().st_mode & 0o777 == 0o700
        assert home.parent.stat().st_mode & 0o777 == 0o700
        for name in ("audit.key", "session.key"):
            assert (home / name).stat().st_mode & 0o777 == 0o600
            assert len((home / name).read_bytes()) == 64


def test_private_files_whatever_the_umask(tmp_path: Path) -> None:
    """Issue 18, 4.2: under a permissive umask (000) smgov still creates its home and the
    folders above it 0700, the SQLite database and its WAL 0600, the mail folders 0700 with
    0600 messages (they carry one-task links), and its key files 0600."""
    from database import make_engine
    from services.context import unit_of_work

    home = tmp_path / "deep" / "home"
    env = _bare_env(
        home,
        SMGOV_ISSUANCE_DATE="2026-01-15",
        SMGOV_REGISTRY_EMAIL="registry@un.example",
        SMGOV_SECURITY_EMAIL="dss@un.example",
    )

    def smgov(*args: str) -> None:
        proc = subprocess.run(
            [sys.executable, "-m", "smgov.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            preexec_fn=lambda: os.umask(0o000),
        )
        assert proc.returncode == 0, proc.stderr

    smgov("db", "upgrade")
    config = Settings(home=home, issuance_date=dt.date(2026, 1, 15))
    engine = make_engine(config.resolved_database_url)
    with unit_of_work(engine, config, org.T0) as ctx:
        org.seed(ctx)
        account_id = org.account(ctx)
    engine.dispose()
    smgov(
        "incident",
        "report",
        str(account_id),
        "--kind",
        "threat",
        "--details",
        "threats in replies",
        "--by",
        "100002",
    )
    mail = home / "mail"
    messages = list((mail / "new").iterdir())
    assert messages
    for folder in (home, home.parent, mail, mail / "new", mail / "tmp", mail / "cur"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder
    files = [home / "smgov.db", home / "audit.key", *messages]
    files += [p for p in (home / "smgov.db-wal", home / "smgov.db-shm") if p.exists()]
    import sqlite3

    old = os.umask(0o000)
    try:  # while a connection is open, the WAL exists: SQLite gives it the database's mode
        conn = sqlite3.connect(home / "smgov.db")
        conn.execute("CREATE TABLE umask_probe (x)")
        conn.commit()
        files.append(home / "smgov.db-wal")
        for path in files:
            assert path.stat().st_mode & 0o777 == 0o600, path
        conn.close()
    finally:
        os.umask(old)


def test_mismatched_audit_key_is_found(uow: Callable[..., Any]) -> None:
    """Issue 18: `key_matches` (for `smgov doctor`) tells whether a key is the one the audit
    chain was written with — a second home with its own key file on a shared database is
    found before `audit verify` fails — and says nothing for an empty chain."""
    from services.audit import key_matches
    from tests.conftest import AUDIT_KEY

    with uow(org.T0) as ctx:
        assert key_matches(session=ctx.session, key=AUDIT_KEY.encode()) is None
        org.seed(ctx)
    with uow(org.T0) as ctx:
        assert key_matches(session=ctx.session, key=AUDIT_KEY.encode()) is True
        assert key_matches(session=ctx.session, key=b"k" * 64) is False
