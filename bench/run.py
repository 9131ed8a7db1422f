"""The benchmark at the scale of the whole UN system (issue 9). Not part of the test suite.

    .venv/bin/python bench/run.py [--sizes 10000 100000] [--backends sqlite postgresql]
                                  [--only sweep deliver hr latency import staff-import report
                                          commands campaigns reassessment approval withdraw]
                                  [--repeat N] [--deliver-sample N]

For each size N (accounts) and backend it generates N/200 entities in 12 timezones, 20 staff per
entity, N accounts in the six official languages and 2N obligations with due dates spread over
four months, then measures:
  sweep      services.reminders.queue_due as of one date: the due set, digests, outbox, notices
             (in a process of its own: seconds and peak memory)
  floor      one hand-written INSERT ... SELECT writing one outbox row per recipient from the
             same due set, on a copy of the same data
  deliver    after a sweep, every digest it wrote (or the first N, --deliver-sample N)
             delivered to a local SMTP server (aiosmtpd in a process of its own) by smgov's
             outbox over the SMTP connections it opens by default (SMGOV_SMTP_CONNECTIONS):
             messages and MB per second, peak memory, the biggest message; beside it, the same
             messages (text and HTML) sent by a plain smtplib loop over one connection to the
             same server; in eight turns, each way a process of its own per turn
  hr         1,000 separation events recorded and applied in one batch (events per second):
             the services alone; through the HR intake (`smgov api`, one signed POST of the
             1,000 events, one flow run, a Prefect server running) until every authorization
             is revoked; and through `smgov hr import FILE.csv` run as a new process
  latency    one event at a time through the HR intake, POST to revoked authorizations
  import     an N-row inventory CSV through `smgov account import` (rows/s, peak memory, in a
             child process)
  staff-import  a 10,000-row staff CSV through `smgov staff import` (rows/s, peak memory, in a
             child process)
  report     the compliance report over the whole registry (seconds, peak memory), beside the
             rows it reads fetched by plain SQL
  campaigns  `campaign start inventory`, then `campaign status` and `account list --json`, each
             beside a plain-SQL floor (seconds, peak memory)
  reassessment  `campaign start reassessment` of every entity, beside its equal-work floor (the
             same rows by plain SQL, the same neighbour pairs of the survey scored by
             rapidfuzz) and the former floor (the rows only, no survey)
  approval   three new-account requests submitted and carried on as `request new` does
             (survey against the registry, pending requests and a 10,000-row reference list;
             the head's duty and notice), beside the same rows by plain SQL and the same texts
             scored by rapidfuzz: the median request, peak memory
  withdraw   `account withdraw --entity E0000 --all` with a tenth of the registry moved to
             E0000 first, beside the same rows written by plain SQL
  commands   interactive commands as new processes on an empty registry, no Prefect server:
             `account list` beside `request new`, `request decide`, `campaign start`,
             `hr event` and `sweep` (once per backend, at the first size)
and prints a table and writes bench/results/results.json. PostgreSQL is SMGOV_BENCH_POSTGRES_URL
(default: the local server, database `test` as the admin connection).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import itertools
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, insert, text

from database import make_engine, upgrade
from models.clock import end_of_local_day
from models.hr import parse_event
from models.languages import OFFICIAL_LANGUAGES
from models.reminders import ReminderPolicy
from models.settings import Settings
from models.tables import Account, Authorization, Entity, EntityRole, Obligation, Staff
from services import obligations
from services.context import unit_of_work
from services.importer import COLUMNS as IMPORT_COLUMNS

ZONES = [
    "America/New_York",
    "Europe/Zurich",
    "Asia/Bangkok",
    "Africa/Nairobi",
    "Asia/Beirut",
    "America/Santiago",
    "Europe/Vienna",
    "Africa/Addis_Ababa",
    "Asia/Tokyo",
    "UTC",
    "Pacific/Auckland",
    "America/Port-au-Prince",
]
AS_OF = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
PG_ADMIN = os.environ.get(
    "SMGOV_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def generate(url: str, n: int, seed: int = 9) -> None:
    rng = random.Random(seed)
    engine = make_engine(url)
    upgrade(engine)
    n_entities = max(n // 200, 5)
    entities, staff, roles = [], [], []
    for e in range(n_entities):
        code = f"E{e:04d}"
        entities.append(
            {
                "code": code,
                "name": f"Entity {e}",
                "kind": "office",
                "timezone": ZONES[e % len(ZONES)],
                "created_at": T0,
            }
        )
        for s in range(20):
            index = f"{e:04d}{s:02d}"
            staff.append(
                {
                    "index_number": index,
                    "name": f"Staff {index}",
                    "email": f"s{index}@un.example",
                    "entity_code": code,
                    "language": OFFICIAL_LANGUAGES[s % 6],
                    "status": "active",
                    "status_effective_at": T0,
                    "registry_officer": False,
                    "created_at": T0,
                }
            )
        roles.append(
            {"entity_code": code, "staff_index": f"{e:04d}00", "role": "head", "starts_at": T0}
        )
    policy = ReminderPolicy()
    with engine.begin() as conn:
        conn.execute(insert(Entity), entities)
        conn.execute(insert(Staff), staff)
        conn.execute(insert(EntityRole), roles)
        for start in range(0, n, 5000):
            accounts, grants, duties = [], [], []
            for i in range(start, min(n, start + 5000)):
                e = rng.randrange(n_entities)
                code, tz = f"E{e:04d}", ZONES[e % len(ZONES)]
                langs = ";".join(sorted(rng.sample(OFFICIAL_LANGUAGES, rng.choice([1, 1, 2, 3]))))
                accounts.append(
                    {
                        "id": i + 1,
                        "entity_code": code,
                        "platform": "x",
                        "handle": f"acct{i}",
                        "url": f"https://x.com/acct{i}",
                        "languages": langs,
                        "purpose": "News",
                        "audience": "Public",
                        "state": "active",
                        "created_on": dt.date(2025, 1, 1),
                        "registered_at": T0,
                        "updated_at": T0,
                    }
                )
                grants.append(
                    {
                        "account_id": i + 1,
                        "staff_index": f"{e:04d}{rng.randrange(1, 20):02d}",
                        "role": "administrator",
                        "granted_by": f"{e:04d}00",
                        "granted_at": T0,
                        "reference": "bench",
                    }
                )
                for kind in ("entry", "assessment"):
                    due_day = AS_OF.date() + dt.timedelta(days=rng.randint(-60, 60))
                    duties.append(
                        obligations.obligation_values(
                            key=f"{kind}:{i + 1}",
                            clause="3.4" if kind == "entry" else "3.3",
                            kind="inventory-entry" if kind == "entry" else "initial-assessment",
                            subject=f"account:{i + 1}",
                            entity_code=code,
                            tz=tz,
                            assignee=f"{e:04d}{rng.randrange(0, 20):02d}",
                            due_at=end_of_local_day(due_day, tz),
                            now=T0,
                            policy=policy,
                        )
                    )
            conn.execute(insert(Account), accounts)
            conn.execute(insert(Authorization), grants)
            conn.execute(insert(Obligation), duties)
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT setval('account_id_seq', :n)"), {"n": n + 1})
    # Planner statistics, as autovacuum (PostgreSQL) or an operator (SQLite) would have them on
    # a registry in service: without them PostgreSQL plans the floor's joins as nested loops.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


class Databases:
    """A generated template per (backend, size), and fresh copies of it."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        self.made: list[str] = []

    def template(self, backend: str, n: int) -> str:
        if backend == "sqlite":
            path = self.workdir / f"tpl-{n}.db"
            generate(f"sqlite:///{path}", n)
            return str(path)
        name = f"bench_tpl_{n}_{uuid.uuid4().hex[:6]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self.made.append(name)
        generate(self._pg(name), n)
        return name

    def copy(self, backend: str, template: str) -> str:
        if backend == "sqlite":
            path = self.workdir / f"copy-{uuid.uuid4().hex[:6]}.db"
            shutil.copy(template, path)
            return f"sqlite:///{path}"
        name = f"bench_{uuid.uuid4().hex[:8]}"
        with self.admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        self.made.append(name)
        return self._pg(name)

    def empty(self, backend: str) -> str:
        """A new database with smgov's schema and nothing in it."""
        if backend == "sqlite":
            url = f"sqlite:///{self.workdir / f'copy-{uuid.uuid4().hex[:6]}.db'}"
        else:
            name = f"bench_{uuid.uuid4().hex[:8]}"
            with self.admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            self.made.append(name)
            url = self._pg(name)
        engine = make_engine(url)
        upgrade(engine)
        engine.dispose()
        return url

    def drop_copies(self) -> None:
        """Drop the copies made so far (the templates stay until `close`)."""
        with self.admin.connect() as conn:
            for name in [m for m in self.made if m.startswith("bench_") and "_tpl_" not in m]:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                self.made.remove(name)
        for path in self.workdir.glob("copy-*.db*"):
            path.unlink()

    def _pg(self, name: str) -> str:
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    def close(self) -> None:
        with self.admin.connect() as conn:
            for name in self.made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


def observer(url: str) -> Any:
    """An engine that only watches the database while smgov works: plain SQLAlchemy, whose
    SQLite transactions begin deferred. (smgov's own engine begins every SQLite transaction
    IMMEDIATE, taking the write lock: a poller using it every 10 ms would queue the writer it
    is timing behind itself.)"""
    return create_engine(url)


BENCH_KEY = "bench-key-0123456789abcdef-0123456789"  # keys are at least 32 bytes


def smgov_env(url: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of an smgov process the benchmark starts, on this run's database."""
    return {
        **os.environ,
        "SMGOV_HOME": str(home),
        "SMGOV_DATABASE_URL": url,
        "SMGOV_AUDIT_KEY": BENCH_KEY,
        "SMGOV_SESSION_SECRET": BENCH_KEY,
        "SMGOV_ISSUANCE_DATE": "2026-01-15",
        **extra,
    }


def still_held(people: list[str]) -> Any:
    """How many written authorizations these people still hold (the pollers' question)."""
    return text(
        "SELECT count(*) FROM written_authorization WHERE revoked_at IS NULL "
        "AND staff_index IN (" + ", ".join(f"'{p}'" for p in people) + ")"
    )  # generated index numbers, digits only


def settings_for(url: str, home: Path) -> Settings:
    return Settings(
        home=home,
        database_url=url,
        audit_key=BENCH_KEY,
        session_secret=BENCH_KEY,
        issuance_date=dt.date(2026, 1, 15),
        registry_email="registry@un.example",
    )


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_sweep(url: str, home: Path) -> tuple[float, dict[str, int]]:
    from services.reminders import queue_due

    settings = settings_for(url, home)
    engine = make_engine(url)

    def run() -> dict[str, int]:
        with unit_of_work(engine, settings, AS_OF) as ctx:
            report = queue_due(ctx)
        return {"messages": report.queued, "lines": report.lines, "obligations": report.obligations}

    seconds, result = timed(run)
    engine.dispose()
    return seconds, result


def sweep_child(url: str, home: Path) -> dict[str, int]:
    """The daily sweep as `bench_sweep` runs it, for `_in_child` (its peak memory)."""
    return bench_sweep(url, home)[1]


#: Delivery: the day's messages go in this many turns, each both ways (`bench_deliver`).
DELIVER_TURNS = 8


def bench_deliver(url: str, home: Path, sample: int | None = None) -> dict[str, float]:
    """Delivery of a whole day, measured apart from the sweep: on a copy, the sweep writes its
    digests (in a process of its own, not timed), then a real SMTP server runs in a process of
    its own (aiosmtpd, discarding what it accepts) and every one of the day's messages is sent
    to it both ways, in DELIVER_TURNS turns (the load of a shared machine moves by the minute),
    each turn's messages by a process of its own for each way, one after the other: the
    reference, a plain smtplib loop over one connection (`reference_child`), then smgov's
    outbox (`deliver_child`), each message claimed, sent and settled as in service over as many
    connections as smgov opens by default (the setting as shipped; the server allows them
    all). Messages and megabytes (text and HTML) per second, the ratio of the two, the biggest
    message, and the highest peak memory of each way's processes (at 10k, whole-day runs in
    one process each peaked as high as the highest turn). With `sample`, only the day's first
    `sample` messages, both ways."""
    from tests import prefect_server

    _, sweep_peak, _ = _in_child(url, home, "sweep_child")
    engine = observer(url)
    with engine.connect() as conn:
        ids = list(
            conn.execute(
                text("SELECT id FROM outbox WHERE status = 'pending' ORDER BY id")
            ).scalars()
        )[: sample or None]
        upto = ids[-1]
        total, size, biggest = conn.execute(
            text(
                "SELECT count(*), sum(length(body) + coalesce(length(rich), 0)), "
                "max(length(body) + coalesce(length(rich), 0)) FROM outbox "
                "WHERE status = 'pending' AND channel = 'email' AND id <= :upto"
            ),
            {"upto": upto},
        ).one()
        others = conn.execute(
            text("SELECT count(*) FROM outbox WHERE status = 'pending' AND channel <> 'email'")
        ).scalar_one()
    engine.dispose()
    if others:
        raise RuntimeError(f"{others} messages on channels other than e-mail")
    port = prefect_server.free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-c",
            "aiosmtpd.handlers.Sink",
            "-l",
            f"127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                break
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the SMTP server did not start")
            time.sleep(0.1)
        # side by side, in turns (the load of a shared machine moves by the minute): the
        # reference sends a turn's messages, then smgov delivers the same ones
        turns = min(DELIVER_TURNS, len(ids))
        cuts = [0, *(ids[len(ids) * (k + 1) // turns - 1] for k in range(turns))]
        reference_s = seconds = reference_peak = peak = 0.0
        referenced = sent = 0
        for low, high in itertools.pairwise(cuts):
            took, most, done = _in_child(
                url, home, "reference_child", str(port), str(low), str(high)
            )
            reference_s, reference_peak = reference_s + took, max(reference_peak, most)
            referenced += done
            took, most, delivered = _in_child(
                url, home, "deliver_child", str(port), str(low), str(high)
            )
            seconds, peak = seconds + took, max(peak, most)
            sent += delivered["sent"]
    finally:
        server.terminate()
        server.wait(timeout=10)
    if referenced != total or sent != total:
        raise RuntimeError(f"{total} messages: {referenced} sent by the loop, {sent} by smgov")
    return {
        "deliver_messages": total,
        "deliver_connections": delivered["connections"],
        "deliver_s": seconds,
        "deliver_messages_per_s": total / seconds,
        "deliver_mb_per_s": size / seconds / 1e6,
        "deliver_all_s": seconds,
        "deliver_mb": size / 1e6,
        "deliver_biggest_mb": biggest / 1e6,
        "deliver_peak_mb": peak,
        "deliver_sweep_peak_mb": sweep_peak,
        "deliver_reference_s": reference_s,
        "deliver_reference_per_s": total / reference_s,
        "deliver_reference_peak_mb": reference_peak,
        "deliver_ratio": seconds / reference_s,
    }


def deliver_child(url: str, home: Path, port: str, low: str, high: str) -> dict[str, int]:
    """smgov's outbox delivers the pending messages with ids in (low, high] to the SMTP server
    at `port` (one run, as `smgov deliver` or a flow's delivery step runs it), over the
    connections it opens by default; for `_in_child`."""
    from notifications.outbox import deliver

    settings = settings_for(url, home)
    shipped = Settings.model_fields["smtp_connections"].default  # whatever the environment
    smtp = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": int(port),
            "smtp_tls": "none",
            "smtp_connections": shipped,
        }
    )
    engine = make_engine(url)
    with engine.connect() as conn:
        only = set(
            conn.execute(
                text(
                    "SELECT id FROM outbox WHERE status = 'pending' AND id > :low AND id <= :high"
                ),
                {"low": int(low), "high": int(high)},
            ).scalars()
        )
    report = deliver(engine, smtp, now=AS_OF, only=only)
    engine.dispose()
    return {"sent": report.sent, "failed": report.failed, "connections": shipped}


def reference_child(url: str, home: Path, port: str, low: str, high: str) -> int:
    """The reference for `deliver_child`: the same pending messages read from the outbox (a
    streamed query, a few rows at a time) and sent by `smtplib_loop`; for `_in_child`."""
    sender = settings_for(url, home).smtp_from
    engine = observer(url)
    sent = [0]

    def rows() -> Iterator[Any]:
        with engine.connect().execution_options(stream_results=True, yield_per=20) as conn:
            for row in conn.execute(
                text(
                    "SELECT message_id, recipient, subject, body, rich FROM outbox "
                    "WHERE status = 'pending' AND id > :low AND id <= :high ORDER BY id"
                ),
                {"low": int(low), "high": int(high)},
            ):
                sent[0] += 1
                yield tuple(row)

    smtplib_loop(int(port), sender, rows())
    engine.dispose()
    return sent[0]


def smtplib_loop(port: int, sender: str, messages: Any) -> None:
    """The reference: the same messages (Message-ID, recipient, subject, the plain text and its
    HTML alternative) sent by a plain smtplib loop over one connection to the same server — no
    database, no bookkeeping."""
    import email.utils
    import smtplib
    from email.message import EmailMessage

    address = email.utils.parseaddr(sender)[1]
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench") as conn:
        for message_id, recipient, subject, body, rich in messages:
            mail = EmailMessage()
            mail["From"] = sender
            mail["To"] = recipient
            mail["Subject"] = subject
            mail["Message-ID"] = message_id
            mail["Date"] = email.utils.formatdate()
            mail.set_content(body)
            if rich:
                mail.add_alternative(rich, subtype="html")
            conn.send_message(mail, from_addr=address, to_addrs=[recipient])


COMMANDS = ("request new", "request decide", "campaign start", "hr event", "sweep")


def bench_commands(url: str, home: Path, repeat: int = 3) -> dict[str, float]:
    """Interactive commands end to end, each a new `smgov` process as a user types it, on an
    empty registry (one entity, its head and a few staff; no account) with no PREFECT_API_URL:
    `account list` (orchestrates nothing) beside the commands that run a process's flow
    (`request new`/`decide`: approval; `campaign start reassessment`; `hr event`: separation;
    `sweep`: reminders). The median of `repeat` runs of each, and its ratio to `account list`."""
    import statistics

    import yaml

    env = smgov_env(url, home, SMGOV_REGISTRY_EMAIL="registry@un.example")
    env.pop("PREFECT_API_URL", None)
    env["PREFECT_HOME"] = str(home / "prefect-unused")  # no profile names a server

    def smgov(*args: str) -> float:
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "smgov.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        seconds = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError(f"smgov {' '.join(args)}: {proc.stderr.strip()[-500:]}")
        return seconds

    day = "--as-of", "2026-01-02"
    smgov("entity", "add", "OHCHR", "--name", "OHCHR", "--kind", "office", *day)
    for i in (*range(1, 5), *range(10, 10 + repeat)):  # 10...: the ones HR separates
        index = f"1000{i:02d}"
        smgov(
            "staff",
            "add",
            index,
            "--name",
            f"S {i}",
            "--email",
            f"s{i}@un.example",
            "--entity",
            "OHCHR",
            *day,
        )
    smgov("entity", "set-head", "OHCHR", "--staff", "100001", *day)
    request = home / "request.yaml"
    request.write_text(
        yaml.safe_dump(
            {
                "entity": "OHCHR",
                "platform": "x",
                "handle": "UNRightsArabic",
                "languages": ["ar"],
                "need": "No Arabic-language channel exists",
                "purpose": "Human rights news in Arabic",
                "strategy": "Daily posts",
                "audience": "Arabic-speaking public",
                "staffing": "Two officers",
                "administrator": "100002",
                "alternate": "100003",
                "risk": {"rating": "low", "risks": "Impersonation", "mitigations": "Badge"},
                "editorial": "The chief clears every post",
                "languages_considered": "Arabic first",
                "speaks_for": "entity",
            }
        )
    )
    times: dict[str, list[float]] = {"account list": []}
    times.update({name: [] for name in COMMANDS})
    at = "--as-of", "2026-02-03"
    for i in range(repeat):
        times["account list"].append(smgov("account", "list", "--json"))
        times["request new"].append(
            smgov("request", "new", "--file", str(request), "--by", "100004", *at)
        )
        times["request decide"].append(
            smgov(
                "request",
                "decide",
                str(i + 1),
                "--decision",
                "reject",
                "--reason",
                "No",
                "--by",
                "100001",
                *at,
            )
        )
        times["campaign start"].append(smgov("campaign", "start", "reassessment", *at))
        times["hr event"].append(
            smgov(
                "hr",
                "event",
                "--type",
                "separation",
                "--staff",
                f"1000{10 + i}",
                "--effective",
                "2026-02-03",
                *at,
            )
        )
        times["sweep"].append(smgov("sweep", *at))
    base = statistics.median(times["account list"])
    row: dict[str, float] = {"cmd_account_list_s": base}
    for name in COMMANDS:
        key = "cmd_" + name.replace(" ", "_")
        row[f"{key}_s"] = statistics.median(times[name])
        row[f"{key}_ratio"] = row[f"{key}_s"] / base
    return row


# The floor writes the same rows as the sweep from the same due set, in two statements: one
# digest per recipient (the assignee; the head of entity from the first day overdue; the
# registry team from the 14th), its plain text the same lines with the same fields the sweep
# writes (clause, duty, subject, entity, due date and timezone, days overdue, role, next step,
# escalation), aggregated per recipient, and its HTML part (`rich`) the same lines as rows of
# the same table markup, every value escaped as the sweep escapes it (five replacements); then
# every swept duty's schedule (next stage, its start, the stage told and to whom) in one UPDATE.
# It skips what no hand-written statement could do in SQL alone: local-day arithmetic per
# timezone (it counts UTC days and moves each stage on by a day), the other languages, the
# order of the lines within a digest and the plural forms. Like the sweep it lists at most 200
# lines per digest, the most overdue (SMGOV_DIGEST_MAX_LINES), and counts them all.
# `FLOOR_TEXT` is the floor as it was before the digests had an HTML part (issue 19), every line
# in plain text and no schedule written: kept as a second reference.
_LINES = """
WITH due AS (
  SELECT o.id, o.clause, o.kind, o.subject, o.entity_code, o.assignee, e.timezone,
         {late} AS late, {day} AS due_day
  FROM obligation o JOIN entity e ON e.code = o.entity_code
  WHERE o.state = 'open' AND o.next_stage_at <= :now
),
lines AS (
  SELECT who, late, '[' || clause || '] ' || kind || ' — ' || subject || ' (' || entity_code
         || ')' || {nl} || '   Due: ' || due_day || ' (' || timezone || ') — ' || late
         || ' day(s) overdue' || {nl} || '   ' || role || {nl}
         || '   What to do: smgov account show ' || substr(subject, 9)
         || ' — then complete what it lists as missing (smgov authorize ' || substr(subject, 9)
         || ' ... / smgov account update ' || substr(subject, 9) || ' ...) --by ' || assignee
         || {nl} || '   Escalation: the head of entity is told now; the registry team is told now'
         || {nl} AS line{html},
         row_number() OVER (PARTITION BY who ORDER BY late DESC, id) AS rn
  FROM (
    SELECT d.*, d.assignee AS who, 'You are responsible for this.' AS role FROM due d
    UNION ALL
    SELECT d.*, r.staff_index, 'Escalated to you as head of entity: ' || d.assignee
           || ' has not completed it.'
    FROM due d JOIN entity_role r ON r.entity_code = d.entity_code AND r.role = 'head'
    WHERE d.late >= 1 AND r.staff_index <> d.assignee
    UNION ALL
    SELECT d.*, 'registry', 'Escalated to the registry team (Department of Global Communications).'
    FROM due d WHERE d.late >= 14
  ) AS everyone
)
"""
_CELL = '<td style="border-bottom: 1px solid #767676; padding: 8px;">'


def _escaped(value: str) -> str:
    """SQL that escapes `value` for HTML as the sweep does (`&`, `>`, `<`, `'`, `"`)."""
    return (
        f"replace(replace(replace(replace(replace({value}, '&', '&amp;'), '>', '&gt;'), "
        "'<', '&lt;'), '''', '&#39;'), '\"', '&#34;')"
    )


_NEXT_STEP = (
    "'smgov account show ' || substr(subject, 9) || ' — then complete what it lists as missing "
    "(smgov authorize ' || substr(subject, 9) || ' ... / smgov account update ' || "
    "substr(subject, 9) || ' ...) --by ' || assignee"
)
_ESCALATION = "'the head of entity is told now; the registry team is told now'"
#: A line as a row of the digest's HTML table (the sweep's `_HTML_ROW`), each value escaped.
_HTML_LINE = (
    ', \'<tr style="vertical-align: top;">\' || {nl} || \'<th scope="row" style="text-align: '
    "start; font-weight: normal; border-bottom: 1px solid #767676; padding: 8px;\">' || {nl} "
    f"|| '<strong>' || {_escaped('kind')} || '</strong> [' || {_escaped('clause')} || ']<br>' "
    f"|| {{nl}} || 'Entity: ' || {_escaped('entity_code')} || '<br>' || {{nl}} || "
    f"'Responsible: ' || {_escaped('role')} || {{nl}} || '<br>Escalation: ' || "
    f"{_escaped(_ESCALATION)}"
    f" || '</th>' || {{nl}} || '{_CELL}' || {_escaped('subject')} || '</td>' || {{nl}} || "
    f"'{_CELL}' || {_escaped('due_day')} || '<br><strong style=\"color: #a4000f;\">' || "
    f"{_escaped('late || ' + chr(39) + ' day(s) overdue' + chr(39))}"
    f" || '</strong></td>' || {{nl}} || '{_CELL}' || {{nl}} || {_escaped(_NEXT_STEP)} || {{nl}} "
    "|| '</td>' || {nl} || '</tr>' || {nl} AS html"
)
_SELECT = """SELECT 'floor-' || l.who, 'email', COALESCE(s.email, 'registry@un.example'),
       s.index_number, COALESCE(s.language, 'en'), 'smgov: ' || count(*) || ' item(s) due',
       'This is smgov.' || {nl} || {agg}"""
_FROM = """, 'pending', 0, :now, :now
FROM lines l LEFT JOIN staff s ON s.index_number = l.who
GROUP BY l.who, s.email, s.index_number, s.language
"""
#: The digest's HTML page around its rows (the sweep's `digest.html`, shortened).
_PAGE = (
    ", '<!DOCTYPE html>' || {nl} || '<html lang=\"' || COALESCE(s.language, 'en') || '\">' || "
    "{nl} || '<head><meta charset=\"utf-8\"><title>smgov: ' || count(*) || ' item(s) due</title>"
    "</head>' || {nl} || '<body><main><p>This is smgov.</p><table role=\"table\"><tbody>' || "
    "{nl} || {agg_html} || '</tbody></table></main></body></html>' || {nl}"
)
FLOOR = (
    "INSERT INTO outbox (message_id, channel, recipient, recipient_index, language, subject, "
    "body, rich, status, attempts, next_attempt_at, created_at)\n"
    + _LINES.replace("{html}", _HTML_LINE)
    + _SELECT
    + _PAGE
    + _FROM
)
FLOOR_TEXT = (
    "INSERT INTO outbox (message_id, channel, recipient, recipient_index, language, subject, "
    "body, status, attempts, next_attempt_at, created_at)\n"
    + _LINES.replace("{html}", "")
    + _SELECT.replace("{agg}", "{agg_all}")  # every line, as before the cap (issue 20)
    + _FROM
)
#: Every swept duty's schedule, as the sweep writes it (the stage told, to whom, the next stage
#: and when it starts: here a day on).
FLOOR_SCHEDULE = """
UPDATE obligation SET reminded_stage = next_stage, reminded_assignee = assignee,
       next_stage = next_stage + 1, next_stage_at = {next_day}
WHERE state = 'open' AND next_stage_at <= :now
"""
_DIALECT = {
    "sqlite": {
        "late": "CAST(julianday(:now) - julianday(o.due_at) AS INTEGER)",
        "day": "date(o.due_at)",
        "nl": "char(10)",
        "agg": "group_concat(CASE WHEN l.rn <= 200 THEN l.line END, char(10))",
        "agg_html": "group_concat(CASE WHEN l.rn <= 200 THEN l.html END, '')",
        "agg_all": "group_concat(l.line, char(10))",
        "next_day": "strftime('%Y-%m-%d %H:%M:%f000', next_stage_at, '+1 day')",
    },
    "postgresql": {
        "late": "(CAST(:now AS date) - CAST(o.due_at AS date))",
        "day": "CAST(CAST(o.due_at AS date) AS text)",
        "nl": "chr(10)",
        "agg": "string_agg(CASE WHEN l.rn <= 200 THEN l.line END, chr(10))",
        "agg_html": "string_agg(CASE WHEN l.rn <= 200 THEN l.html END, '')",
        "agg_all": "string_agg(l.line, chr(10))",
        "next_day": "next_stage_at + interval '1 day'",
    },
}


def bench_floor(url: str, *, text_only: bool = False) -> tuple[float, int]:
    """The sweep's floor on `url` (`text_only`: the former floor, the plain text alone and no
    schedule written): its seconds and the outbox rows it wrote."""
    engine = make_engine(url)
    dialect = engine.dialect.name
    parts = _DIALECT[dialect]
    # SQLite keeps instants as naive UTC text, formatted as SQLAlchemy writes them.
    now: Any = AS_OF if dialect == "postgresql" else f"{AS_OF:%Y-%m-%d %H:%M:%S.%f}"
    statement = (FLOOR_TEXT if text_only else FLOOR).format(**parts)
    schedule = FLOOR_SCHEDULE.format(**parts)

    def run() -> int:
        with engine.begin() as conn:
            written = int(conn.execute(text(statement), {"now": now}).rowcount)
            if not text_only:
                conn.execute(text(schedule), {"now": now})
            return written

    seconds, rows = timed(run)
    engine.dispose()
    return seconds, rows


def _hr_people(n: int) -> list[str]:
    """The 1,000 staff members (not heads) an HR batch separates: up to 1,000 of the generated
    staff, 19 per entity from the first entity on."""
    people = [f"{e:04d}{s:02d}" for e in range(max(n // 200, 5)) for s in range(1, 20)]
    return people[:1000]


def bench_hr(url: str, home: Path, n: int) -> tuple[float, float, int]:
    """The services alone, as the `separation` flow runs them (a transaction each): record the
    1,000 events, revoke (4.2), then the follow-up (handover duties, entry duties, alerts).
    Seconds until the revocations are committed, and until the follow-up is."""
    from services.separation import follow_up, record, revoke_due

    settings = settings_for(url, home)
    engine = make_engine(url)
    events = [
        parse_event(
            {"event_id": f"B-{i}", "type": "separation", "staff": person, "effective": "2026-05-31"}
        )
        for i, person in enumerate(_hr_people(n))
    ]
    started = time.perf_counter()
    with unit_of_work(engine, settings, AS_OF) as ctx:
        record(ctx, events, source="bench")
    with unit_of_work(engine, settings, AS_OF) as ctx:
        revoked = revoke_due(ctx)
    revoked_s = time.perf_counter() - started
    with unit_of_work(engine, settings, AS_OF) as ctx:
        follow_up(ctx)
    done_s = time.perf_counter() - started
    engine.dispose()
    if revoked.applied != len(events):
        raise RuntimeError(f"{revoked.applied} of {len(events)} events applied")
    return revoked_s, done_s, len(events)


@contextlib.contextmanager
def prefect_api(prefect_home: Path) -> Iterator[str]:
    """A Prefect server running for the measures that need one, as in production; its URL."""
    from tests import prefect_server

    prefect_home.mkdir(exist_ok=True)
    servers = prefect_server.start(prefect_home)
    try:
        url = next(servers)
        # A server in service has long finished its start-up work (migrations, the first loop
        # of its background services), which otherwise takes a core from the first measure.
        time.sleep(20)
        yield url
    finally:
        with contextlib.suppress(StopIteration):
            next(servers)


def bench_hr_flow(url: str, home: Path, n: int, api_url: str) -> dict[str, float]:
    """The same 1,000 separations end to end through the HR batch door: `smgov hr import FILE.csv`
    as a user runs it (a new process, Prefect server already running), which stores the rows and
    applies them in one `separation` flow run (revocations, handover duties, first notices,
    alerts) and then delivers the messages (to the local mail folder: no SMTP server is set).
    Measured from the command's start: seconds until every authorization of the 1,000 people is
    revoked (a second connection polls), and until the command exits."""
    path = home / "hr-batch.csv"
    people = _hr_people(n)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["event_id", "type", "staff", "effective", "new_entity"])
        for i, person in enumerate(people):
            writer.writerow([f"F-{i}", "separation", person, "2026-05-31", ""])
    env = smgov_env(
        url,
        home,
        SMGOV_REGISTRY_EMAIL="registry@un.example",
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home / "prefect"),
    )
    engine = observer(url)
    count = still_held(people)
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "smgov"),
            "hr",
            "import",
            str(path),
            "--json",
            "--as-of",
            AS_OF.isoformat(),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    revoked_s = None
    try:
        while revoked_s is None:
            with engine.connect() as conn:
                if conn.execute(count).scalar_one() == 0:
                    revoked_s = time.perf_counter() - started
            if proc.poll() is not None and revoked_s is None:
                with engine.connect() as conn:
                    left = conn.execute(count).scalar_one()
                raise RuntimeError(
                    f"hr import ended with {left} authorizations left: "
                    f"{proc.stderr.read().decode() if proc.stderr else ''}"
                )
            time.sleep(0.02)
        out, err = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
        engine.dispose()
    total_s = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"hr import exited {proc.returncode}: {err.decode()}")
    summary = json.loads(out)
    if summary["applied"] != len(people):
        raise RuntimeError(f"hr import applied {summary['applied']} of {len(people)}")
    return {
        "hr_flow_events": len(people),
        "hr_flow_revoked_s": revoked_s,
        "hr_flow_total_s": total_s,
        "hr_flow_events_per_s": len(people) / revoked_s,
    }


def bench_intake(url: str, home: Path, n: int, api_url: str, samples: int = 6) -> dict[str, float]:
    """HR events through the HR intake, a running `smgov api` with a Prefect server already
    running, as the HR system sends them (signed POSTs to /hr/events):
      - the batch: the 1,000 separations in one POST (a JSON list), which the intake stores and
        applies in one `separation` flow run: seconds from the POST until every authorization
        of the 1,000 people is revoked, and events per second;
      - latency: then one event at a time, seconds from the POST until that person's
        authorizations are revoked (first, median and max of the rest)."""
    import statistics
    import urllib.request

    from sqlalchemy import select
    from sqlmodel import col

    from smgov.api import sign
    from tests import prefect_server

    secret = secrets.token_hex(16)  # this run's own webhook secret
    port = prefect_server.free_port()
    env = smgov_env(
        url,
        home,
        SMGOV_REGISTRY_EMAIL="registry@un.example",
        SMGOV_HR_WEBHOOK_SECRET=secret,
        PREFECT_API_URL=api_url,
        PREFECT_HOME=str(home / "prefect"),
    )
    log = (home / "api.log").open("wb")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "smgov"), "api", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    engine = observer(url)
    base = f"http://127.0.0.1:{port}"

    def post(payload: Any) -> None:
        body = json.dumps(payload).encode()
        stamp = str(int(time.time()))
        request = urllib.request.Request(  # noqa: S310 (loopback)
            f"{base}/hr/events",
            data=body,
            headers={
                "content-type": "application/json",
                "x-smgov-timestamp": stamp,
                "x-smgov-signature": sign(secret, stamp, body),
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            assert answer.status == 202

    def wait_revoked(people: list[str], started: float) -> float:
        held = still_held(people)
        while True:
            with engine.connect() as conn:
                if conn.execute(held).scalar_one() == 0:
                    return time.perf_counter() - started
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"not applied within 120 s: {(home / 'api.log').read_text()}")
            time.sleep(0.01)

    seconds: list[float] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:  # until the intake has done its start-up run, as it has long before any event
                with urllib.request.urlopen(f"{base}/health", timeout=2) as answer:  # noqa: S310
                    if json.loads(answer.read())["intake"] == "ready":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError((home / "api.log").read_text())
            time.sleep(0.2)
        with engine.connect() as conn:  # administrators, one per latency sample
            holders = list(
                conn.execute(
                    select(col(Authorization.staff_index))
                    .where(col(Authorization.revoked_at).is_(None))
                    .group_by(col(Authorization.staff_index))
                    .order_by(col(Authorization.staff_index).desc())
                ).scalars()
            )
        batch = _hr_people(n)
        people = [p for p in holders if p not in batch][:samples]
        if len(people) < samples:  # at 10k the batch holds every staff member but the heads
            people += [p for p in holders if p in batch][: samples - len(people)]
            batch = [p for p in batch if p not in people]
        started = time.perf_counter()
        post(
            [
                {"event_id": f"W-{i}", "type": "separation", "staff": p, "effective": "2026-05-31"}
                for i, p in enumerate(batch)
            ]
        )
        batch_s = wait_revoked(batch, started)
        while True:  # the batch's flow run follows up and delivers; then the intake is idle
            with engine.connect() as conn:
                if not conn.execute(
                    text(
                        "SELECT (SELECT count(*) FROM hr_event WHERE state <> 'applied') + "
                        "(SELECT count(*) FROM outbox WHERE status IN ('pending', 'sending'))"
                    )
                ).scalar_one():
                    break
            time.sleep(0.1)
        time.sleep(0.5)
        for i, person in enumerate(people):
            started = time.perf_counter()
            post(
                {
                    "event_id": f"LAT-{i}",
                    "type": "separation",
                    "staff": person,
                    "effective": "2026-05-01",
                }
            )
            seconds.append(wait_revoked([person], started))
            time.sleep(0.3)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
        engine.dispose()
    return {
        "hr_intake_events": len(batch),
        "hr_intake_s": batch_s,
        "hr_intake_events_per_s": len(batch) / batch_s,
        "latency_first_s": seconds[0],
        "latency_median_s": statistics.median(seconds[1:]),
        "latency_max_s": max(seconds[1:]),
    }


def bench_import(url: str, home: Path, n: int) -> dict[str, float]:
    path = home / "inventory.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(IMPORT_COLUMNS)
        for i in range(n):
            writer.writerow(
                [
                    "E0000",
                    "facebook",
                    f"imp{i}",
                    f"facebook.com/imp{i}",
                    "en;fr",
                    "News",
                    "Public",
                    "000001",
                    "000002",
                    "2025-06-01",
                ]
            )
    seconds, peak_mb = _child(
        smgov_env(url, home),
        ["account", "import", str(path), "--by", "000000", "--as-of", "2026-06-01", "--json"],
    )
    return {"seconds": seconds, "rows_per_s": n / seconds, "peak_mb": peak_mb}


STAFF_IMPORT_ROWS = 10_000


def bench_staff_import(url: str, home: Path, n: int = STAFF_IMPORT_ROWS) -> dict[str, float]:
    """`smgov staff import` of n new staff members (index,name,email,entity,language) spread
    over the registry's entities, codes in lower case, as a new process: rows/s, peak memory."""
    path = home / "staff.csv"
    languages = ("ar", "zh", "en", "fr", "ru", "es")
    entities = max(1, n // 200)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "name", "email", "entity", "language"])
        for i in range(n):
            writer.writerow(
                [
                    f"S{i:07d}",
                    f"Staff Member {i}",
                    f"staff.{i}@un.example",
                    f"e{i % entities:04d}",
                    languages[i % 6],
                ]
            )
    seconds, peak_mb = _child(
        smgov_env(url, home), ["staff", "import", str(path), "--as-of", "2026-06-01", "--json"]
    )
    return {"seconds": seconds, "rows_per_s": n / seconds, "peak_mb": peak_mb}


def _child(env: dict[str, str], args: list[str]) -> tuple[float, float]:
    """Run `smgov ARGS` in a new process: its own seconds and peak memory (MB)."""
    # Peak memory is the child's own high-water mark (VmHWM): ru_maxrss would carry over the
    # parent's peak across fork and exec.
    code = (
        "import re, sys, time; from smgov.cli import main\n"
        "t = time.perf_counter()\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    assert not e.code, e\n"
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print('BENCH', time.perf_counter() - t, hwm)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    line = next(x for x in proc.stdout.splitlines() if x.startswith("BENCH"))
    seconds, rss_kb = float(line.split()[1]), int(line.split()[2])
    return seconds, rss_kb / 1024


# --------------------------------------------------------------------------------------------
# campaigns and listings over the whole registry (issue 20), each beside a plain-SQL floor that
# reads or writes the same rows, each in a process of its own for its peak memory


def _unassessed(url: str) -> None:
    """The generator opens every account's initial-assessment duty without its assessment (a
    shortcut for the sweep); a campaign needs the registry as smgov leaves it, so those duties
    go first (not timed)."""
    engine = observer(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM obligation WHERE kind = 'initial-assessment'"))
    engine.dispose()


def campaign_reassessment(url: str, home: Path) -> dict[str, Any]:
    """`campaign start reassessment` for every entity as its flow step opens them
    (`flows.steps.open_reassessments`): a batch of entities per transaction, the survey in a
    process of its own ahead of the writes (`reassessment.surveyed`). Returns the assessments
    opened and the survey process's peak memory (MB, once it has ended)."""
    import resource

    from services import reassessment

    settings, engine = settings_for(url, home), make_engine(url)
    with unit_of_work(engine, settings, AS_OF) as ctx:
        codes = reassessment.entities_to_open(ctx, entity=None, due=None)
        batches = reassessment.batches(ctx, codes)
    opened = 0
    ahead = reassessment.ReadAhead(batches)
    for number, (_, overlaps) in enumerate(reassessment.surveyed(url, batches)):
        with unit_of_work(engine, settings, AS_OF) as ctx:
            opened += ahead.start(ctx, number, overlaps)["assessments"]
    engine.dispose()
    survey_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # its only child
    # one batch (10k) is surveyed in the campaign's own process: no survey process, no peak
    return {"assessments": opened, "survey_peak_mb": survey_kb / 1024 if survey_kb else None}


def campaign_inventory(url: str, home: Path) -> int:
    """`campaign start inventory` for every entity: initial assessments and their duties."""
    from services.inventory import start_inventory

    settings, engine = settings_for(url, home), make_engine(url)
    with unit_of_work(engine, settings, AS_OF) as ctx:
        opened = start_inventory(ctx, issued_on=dt.date(2026, 1, 15)).assessments
    engine.dispose()
    return opened


def campaign_status(url: str, home: Path) -> int:
    """`campaign status`: every campaign with its entity's accounts, complete and missing."""
    from services.inventory import status

    settings, engine = settings_for(url, home), make_engine(url)
    with unit_of_work(engine, settings, AS_OF) as ctx:
        rows = len(status(ctx))
    engine.dispose()
    return rows


def account_list(url: str, home: Path) -> int:
    """`account list --json`: every account as the doors show it, encoded as the CLI prints it."""
    from services.accounts import list_accounts

    settings, engine = settings_for(url, home), make_engine(url)
    with unit_of_work(engine, settings, AS_OF) as ctx:
        size = _json_size(list_accounts(ctx))
    engine.dispose()
    return size


def _json_size(value: Any) -> int:
    """Encode `value` as `--json` prints it (streamed, smgov.output.write_json); its length."""
    from smgov.output import write_json

    written = [0]
    write_json(value, lambda piece: written.__setitem__(0, written[0] + len(piece)))
    return written[0]


def _instant(url: str) -> Any:
    """AS_OF as the backend stores an instant (SQLite: naive UTC text)."""
    return AS_OF if url.startswith("postgresql") else f"{AS_OF:%Y-%m-%d %H:%M:%S.%f}"


_DUTIES = """
INSERT INTO obligation (key, clause, kind, subject, entity_code, assignee, due_at, state,
                        created_at, next_stage, next_stage_at)
SELECT 'assessment:' || a.id, :clause, :kind, 'account:' || a.id, a.entity_code,
       COALESCE(r.staff_index, 'registry'), :due, 'open', :now, 0, :due
FROM account a LEFT JOIN entity_role r ON r.entity_code = a.entity_code AND r.role = 'head'
WHERE a.state IN ('active', 'under-reassessment')
"""
_ASSESSMENTS = """
INSERT INTO assessment (account_id, reason, state, due_at, opened_at, findings, recommendation,
                        why)
SELECT id, :reason, 'open', :due, :now, :findings, :recommendation, :why FROM account
WHERE state IN ('active', 'under-reassessment')
"""


_CAMPAIGNS = """
INSERT INTO campaign (kind, entity_code, anchor_on, due_at, state, opened_at)
SELECT :kind, code, :anchor, :due, 'open', :now FROM entity
"""
_CAMPAIGN_EVENTS = """
INSERT INTO audit_event (seq, actor, action, subject, outcome, after, recorded_at, effective_at,
                         prev_hash, hash)
SELECT :base + id, 'smgov', 'campaign.open', 'campaign:' || id, 'done', :after, :now, :now,
       'floor', 'floor' FROM campaign WHERE kind = :kind
"""
#: What a reassessment reads besides the accounts: the survey's candidates (accounts, pending
#: requests, the reference list), each account's holders with their status, its request's
#: evidence, its activity, its declared people.
_EVIDENCE = [
    "SELECT id, entity_code, platform, handle, languages, purpose, audience, url FROM account "
    "WHERE state NOT IN ('withdrawn', 'closed')",
    "SELECT id, entity_code, platform, handle, languages, evidence FROM account_request "
    "WHERE state IN ('submitted', 'returned', 'resubmitted')",
    "SELECT id, organization, platform, handle, languages, purpose, audience, url "
    "FROM survey_account",
    "SELECT w.account_id, w.role, w.staff_index, s.status FROM written_authorization w "
    "JOIN staff s ON s.index_number = w.staff_index WHERE w.revoked_at IS NULL ORDER BY w.id",
    "SELECT account_id, evidence FROM account_request WHERE account_id IS NOT NULL",
    "SELECT * FROM account_activity",
    "SELECT account_id, role, staff_index FROM declared_person WHERE confirmed_at IS NULL",
]


#: A reassessment's findings and why as smgov writes them for a typical generated account (the
#: survey's three overlaps named, no alternate, not attested): the floor writes this one text
#: in every row, so that it writes as many bytes as smgov does (about 750 and 460 a row, 120 MB
#: at 100k), without working any of it out.
_OVERLAPS = "; ".join(
    f"account:{n} (E0033): same platform (x) and language (en); purpose 100% and audience 100% "
    "similar"
    for n in (91, 101, 2)
)
_FINDINGS = {
    "3.2(a)": {"finding": "not met", "note": f"overlaps: {_OVERLAPS}"},
    "3.2(b)": {"finding": "met", "note": "purpose and intended audience recorded"},
    "3.2(c)": {"finding": "not met", "note": "no alternate"},
    "3.2(d)": {"finding": "not known", "note": "no risk analysis on file"},
    "3.2(e)": {"finding": "not known", "note": "no editorial standards on file"},
    "3.1(c)": {
        "finding": "not met",
        "note": "entry incomplete: 3.4(d); entries not attested in the last 180 days",
    },
}
_WHY = "withdraw, or continue on condition of fixing — " + "; ".join(
    f"{c}: {_FINDINGS[c]['note']}" for c in ("3.2(a)", "3.2(c)", "3.1(c)")
)


def floor_campaign(url: str, home: Path, kind: str) -> int:
    """The rows a campaign writes and reads, by plain SQL: a campaign per entity and its audit
    event, an assessment and a duty per account (and, for a reassessment, each account marked
    under reassessment, after reading the rows its evidence and survey read: the survey's
    candidates, the holders and their status, the requests' evidence, the activity, the
    declared people) — none of the evidence, survey, findings or notices smgov works out.

    A reassessment's assessments carry findings and a why of the size smgov writes (`_FINDINGS`,
    `_WHY`, one constant text in every row): before, the floor wrote a 50-byte findings text
    and a 5-byte why, a twentieth of the bytes smgov writes, which is not equal work."""
    del home  # the floor needs no smgov home
    engine = observer(url)
    now = _instant(url)
    findings = json.dumps(_FINDINGS)
    campaign_kind = "reassessment" if kind == "reassessment" else "inventory"
    with engine.begin() as conn:
        if kind == "reassessment":
            for query in _EVIDENCE:
                conn.execute(text(query)).all()
        conn.execute(
            text(_CAMPAIGNS),
            {"kind": campaign_kind, "anchor": AS_OF.date(), "due": now, "now": now},
        )
        base = conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_event")).scalar()
        conn.execute(
            text(_CAMPAIGN_EVENTS),
            {
                "base": base,
                "after": json.dumps({"kind": campaign_kind}),
                "now": now,
                "kind": campaign_kind,
            },
        )
        written = conn.execute(
            text(_ASSESSMENTS),
            {
                "reason": "periodic" if kind == "reassessment" else "initial",
                "due": now,
                "now": now,
                "findings": findings if kind == "reassessment" else None,
                "recommendation": "conditions" if kind == "reassessment" else None,
                "why": _WHY if kind == "reassessment" else None,
            },
        ).rowcount
        conn.execute(
            text(_DUTIES),
            {
                "clause": "3.2" if kind == "reassessment" else "3.3",
                "kind": kind if kind == "reassessment" else "initial-assessment",
                "due": now,
                "now": now,
            },
        )
        if kind == "reassessment":
            conn.execute(text("UPDATE account SET state = 'under-reassessment'"))
    engine.dispose()
    return int(written)


#: The survey's neighbours on either side of an account in each sorted order, as smgov's
#: `Survey.nearest` compares them (`models.survey.NEIGHBOURS`), and the scores that make a pair
#: an overlap (`PURPOSE_SIMILAR`, `AUDIENCE_SIMILAR`, `NAME_CONFUSING`).
_WINDOW, _SIMILAR, _CONFUSING = 5, 60.0, 85.0
_ASSESSMENT_DRIVER = {
    style: "INSERT INTO assessment (account_id, reason, state, due_at, opened_at, findings, "
    f"recommendation, why) VALUES ({mark}, 'periodic', 'open', {', '.join([mark] * 5)})"
    for style, mark in (("qmark", "?"), ("format", "%s"), ("pyformat", "%s"))
}


def _floor_survey(candidates: list[tuple[Any, ...]], assessed: set[int]) -> dict[int, list[str]]:
    """The duplication survey of the `assessed` accounts among `candidates` (id, owner,
    platform, handle, languages, purpose, audience) as plainly as it can be done: per platform
    the texts case-folded once by rapidfuzz's own processor, the accounts sorted by name, by
    name backwards and, per language, by purpose, audience and name; each assessed account
    paired with its `_WINDOW` neighbours on either side in each order, each pair once; the
    names scored by `fuzz.ratio` on their sorted words, purposes and audiences by the mean of
    token-set and token-sort ratios once per distinct pair of texts (rapidfuzz's `cpdist`); an
    overlap where a language is shared and purpose and audience are similar, or the names
    confusingly so; each account's three best named. Returns account id -> its overlaps."""
    import numpy as np
    from rapidfuzz import fuzz, process, utils

    # numpy's `unique` with `return_inverse` by one sort (its hashing is slower): a helper of
    # smgov's survey that holds no rule of it
    from models.survey import _distinct as _sorted_unique

    by_platform: dict[str, list[tuple[Any, ...]]] = {}
    for row in candidates:
        by_platform.setdefault(row[2], []).append(row)
    found: dict[int, list[str]] = {}
    for rows in by_platform.values():
        size = len(rows)
        names = [" ".join(sorted(utils.default_process(r[3]).split())) for r in rows]
        texts: dict[str, int] = {}
        purposes, audiences = (
            np.array([texts.setdefault(utils.default_process(r[at]), len(texts)) for r in rows])
            for at in (5, 6)
        )
        text_list = list(texts)
        languages = [frozenset(r[4].split(";")) for r in rows]
        codes = {code: 1 << n for n, code in enumerate(sorted(set().union(*languages)))}
        masks = np.array([sum(codes[c] for c in langs) for langs in languages], dtype=np.int64)
        left_parts, right_parts = [], []
        keyed: list[list[tuple[str, int]]] = [[], []]
        per_language: list[tuple[str, int]] = []
        for j in range(size):
            keyed[0].append((names[j], j))
            keyed[1].append((names[j][::-1], j))
            tail = f"{text_list[purposes[j]]}\x1f{text_list[audiences[j]]}\x1f{names[j]}"
            per_language.extend((f"{code}\x1f{tail}", j) for code in languages[j])
        ids = np.array([int(r[0]) for r in rows], dtype=np.int64)
        own = np.isin(ids, np.fromiter(assessed, dtype=np.int64, count=len(assessed)))
        for order in (*keyed, per_language):
            order.sort()
            members = np.fromiter((j for _, j in order), dtype=np.int64, count=len(order))
            places = np.nonzero(own[members])[0]
            for step in range(-_WINDOW, _WINDOW + 1):
                if step == 0:
                    continue
                there = places + step
                inside = (there >= 0) & (there < len(members))
                left_parts.append(members[places[inside]])
                right_parts.append(members[there[inside]])
        pairs = np.sort(np.concatenate(left_parts) * size + np.concatenate(right_parts))
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]  # each pair once
        left, right = pairs // size, pairs % size
        keep = left != right
        left, right = left[keep], right[keep]
        named = np.array(names, dtype=object)
        name = process.cpdist(
            named[left].tolist(), named[right].tolist(), scorer=fuzz.ratio, workers=-1
        )
        similar: dict[str, Any] = {}
        for field, of in (("purpose", purposes), ("audience", audiences)):
            distinct, where = _sorted_unique(of[left] * len(texts) + of[right])
            first = [text_list[i] for i in (distinct // len(texts)).tolist()]
            second = [text_list[i] for i in (distinct % len(texts)).tolist()]
            both: Any = process.cpdist(first, second, scorer=fuzz.token_set_ratio, workers=-1)
            both += process.cpdist(first, second, scorer=fuzz.token_sort_ratio, workers=-1)
            similar[field] = (both / 2)[where]
        shared = (masks[left] & masks[right]) != 0
        overlap = shared & (similar["purpose"] >= _SIMILAR) & (similar["audience"] >= _SIMILAR)
        score = np.where(
            overlap,
            0.5 * similar["purpose"] + 0.3 * similar["audience"] + 0.2 * name,
            np.where(name >= _CONFUSING, name, -1.0),
        )
        chosen = np.nonzero(score >= 0)[0]
        chosen = chosen[np.lexsort((right[chosen], -score[chosen], left[chosen]))]
        first = np.searchsorted(left[chosen], left[chosen], side="left")
        chosen = chosen[np.arange(len(chosen)) - first < 3]  # each account's three best
        platform = rows[0][2]
        reasons: dict[tuple[Any, ...], str] = {}  # few distinct reasons: each written once
        for i, j, is_overlap, p, a, n in zip(
            left[chosen].tolist(),
            right[chosen].tolist(),
            overlap[chosen].tolist(),
            similar["purpose"][chosen].round().tolist(),
            similar["audience"][chosen].round().tolist(),
            name[chosen].round().tolist(),
            strict=True,
        ):
            key = (languages[i], languages[j], p, a) if is_overlap else (n,)
            reason = reasons.get(key)
            if reason is None:
                reason = reasons[key] = (
                    f"same platform ({platform}) and language "
                    f"({', '.join(sorted(languages[i] & languages[j]))}); purpose "
                    f"{p:.0f}% and audience {a:.0f}% similar"
                    if is_overlap
                    else f"confusingly similar name on {platform} ({n:.0f}%)"
                )
            other = rows[j]
            found.setdefault(int(rows[i][0]), []).append(
                f"account:{other[0]} ({other[1]}): {reason}"
            )
    return found


def floor_reassessment(url: str, home: Path) -> int:
    """The equal-work floor of opening a reassessment of every entity, in one transaction by
    plain SQL, rapidfuzz and numpy: the rows smgov's evidence reads (`_EVIDENCE`), the
    duplication survey of every assessed account (`_floor_survey`: the same neighbour pairs
    scored as `Survey.nearest` scores them, as the approval floor scores the same texts), a
    campaign and its audit event per entity, an assessment per account whose findings name its
    own overlaps (the other criteria as `_FINDINGS` has them) and whose why names what is not
    met, a duty per account, each account marked under reassessment. None of smgov's
    normalisation, 3.4 check, prefill or recommendation rules: those are smgov's own work."""
    del home  # the floor needs no smgov home
    import orjson

    engine = observer(url)
    now = _instant(url)
    with engine.begin() as conn:
        accounts, *_ = (conn.execute(text(query)).all() for query in _EVIDENCE)
        assessed = {
            int(account_id)
            for (account_id,) in conn.execute(
                text("SELECT id FROM account WHERE state IN ('active', 'under-reassessment')")
            )
        }
        overlaps = _floor_survey([tuple(r[:7]) for r in accounts], assessed)
        conn.execute(
            text(_CAMPAIGNS),
            {"kind": "reassessment", "anchor": AS_OF.date(), "due": now, "now": now},
        )
        base = conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_event")).scalar()
        conn.execute(
            text(_CAMPAIGN_EVENTS),
            {
                "base": base,
                "after": json.dumps({"kind": "reassessment"}),
                "now": now,
                "kind": "reassessment",
            },
        )
        # the findings' other criteria are one constant text: each row splices its own 3.2(a)
        rest = dict(_FINDINGS)
        del rest["3.2(a)"]
        tail = orjson.dumps(rest).decode()[1:]
        unmet = "; ".join(
            f"{c}: {rest[c]['note']}" for c, f in rest.items() if f["finding"] == "not met"
        )
        why = "withdraw, or continue on condition of fixing — "
        met = orjson.dumps({"3.2(a)": {"finding": "met", "note": "no overlap found"}}).decode()[:-1]
        rows = []
        for account_id in sorted(assessed):
            named = overlaps.get(account_id)
            if named:
                note = "overlaps: " + "; ".join(named)
                head = '{"3.2(a)":{"finding":"not met","note":' + orjson.dumps(note).decode() + "}"
                rows.append(
                    (
                        account_id,
                        now,
                        now,
                        head + "," + tail,
                        "conditions",
                        f"{why}3.2(a): {note}; {unmet}",
                    )
                )
            else:
                rows.append((account_id, now, now, met + "," + tail, "conditions", why + unmet))
        conn.exec_driver_sql(_ASSESSMENT_DRIVER[conn.dialect.paramstyle], rows)
        conn.execute(
            text(_DUTIES),
            {"clause": "3.2", "kind": "reassessment", "due": now, "now": now},
        )
        conn.execute(text("UPDATE account SET state = 'under-reassessment'"))
    engine.dispose()
    return len(rows)


_READS = {
    "accounts": "SELECT * FROM account ORDER BY id",
    "holders": "SELECT account_id, role, staff_index FROM written_authorization "
    "WHERE revoked_at IS NULL AND role IN ('administrator', 'alternate') ORDER BY id",
    "declared": "SELECT account_id, role, staff_index FROM declared_person "
    "WHERE confirmed_at IS NULL ORDER BY id",
    "staff": "SELECT index_number, status, email FROM staff",
    "unacknowledged": "SELECT account_id, staff_index FROM written_authorization "
    "WHERE revoked_at IS NULL AND acknowledged_at IS NULL ORDER BY id",
    "late": "SELECT account_id, count(*) FROM account_change WHERE late GROUP BY account_id",
    "assessed": "SELECT account_id FROM assessment WHERE state = 'open' AND reason = 'initial'",
    "campaigns": "SELECT c.*, e.timezone FROM campaign c JOIN entity e ON e.code = c.entity_code",
}


def floor_reads(url: str, home: Path, which: str) -> int:
    """The rows `account list` (which='list') or `campaign status` reads, by plain SQL, every
    one fetched; the list's accounts dumped as JSON."""
    del home  # the floor needs no smgov home
    names = (
        ["accounts", "holders", "declared", "staff", "unacknowledged", "late", "assessed"]
        if which == "list"
        else ["campaigns", "accounts", "holders", "declared", "staff"]
    )
    engine = observer(url)
    fetched = 0
    with engine.connect() as conn:
        for name in names:
            rows = conn.execute(text(_READS[name])).mappings().all()
            fetched += len(rows)
            if which == "list" and name == "accounts":
                _json_size([dict(r) for r in rows])
    engine.dispose()
    return fetched


def _in_child(url: str, home: Path, measure: str, *args: str) -> tuple[float, float, Any]:
    """Run one of this file's measures in a new process: its seconds, its peak memory (MB, the
    process's VmHWM, imports included) and what it returned."""
    code = (
        "import json, re, sys, time\n"
        f"sys.path.insert(0, {str(ROOT / 'bench')!r})\n"
        "import run\n"
        "import services.accounts, services.inventory, services.reassessment  # not timed\n"
        "import services.reminders, services.reports, services.requests\n"
        "t = time.perf_counter()\n"
        "out = getattr(run, sys.argv[1])(sys.argv[2], run.Path(sys.argv[3]), *sys.argv[4:])\n"
        "took = time.perf_counter() - t\n"
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print('BENCH', took, hwm, json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, measure, url, str(home), *args],
        env=smgov_env(url, home),
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{measure}: {proc.stderr.strip()[-800:]}")
    line = next(x for x in proc.stdout.splitlines() if x.startswith("BENCH"))
    _, seconds, rss_kb, out = line.split(maxsplit=3)
    return float(seconds), int(rss_kb) / 1024, json.loads(out)


def bench_campaigns(
    dbs: Databases, backend: str, template: str, home: Path, kinds: list[str]
) -> dict[str, Any]:
    """Opening the inventory (then `campaign status` and `account list --json` on it) and a
    reassessment of every entity, each beside its floor (on copies of the same data)."""
    row: dict[str, Any] = {}
    for kind in kinds:
        url = dbs.copy(backend, template)
        _unassessed(url)
        seconds, peak, written = _in_child(url, home, f"campaign_{kind}")
        if isinstance(written, dict):  # a reassessment: its survey process's peak beside it
            row[f"{kind}_survey_peak_mb"] = written["survey_peak_mb"]
            written = written["assessments"]
        floor_url = dbs.copy(backend, template)
        _unassessed(floor_url)
        if kind == "reassessment":  # the equal-work floor, and the former one (rows only)
            floor_s, _, _ = _in_child(floor_url, home, "floor_reassessment")
            rows_url = dbs.copy(backend, template)
            _unassessed(rows_url)
            rows_s, _, _ = _in_child(rows_url, home, "floor_campaign", kind)
            row.update({"reassessment_rows_floor_s": rows_s})
        else:
            floor_s, _, _ = _in_child(floor_url, home, "floor_campaign", kind)
        row.update(
            {
                f"{kind}_start_s": seconds,
                f"{kind}_start_peak_mb": peak,
                f"{kind}_start_rows": written,
                f"{kind}_floor_s": floor_s,
                f"{kind}_ratio": seconds / floor_s,
            }
        )
        if kind == "inventory":  # the campaigns are open on this copy: their status, the list
            for name, measure_name, which in (
                ("status", "campaign_status", "status"),
                ("list", "account_list", "list"),
            ):
                seconds, peak, _ = _in_child(url, home, measure_name)
                floor_s, _, _ = _in_child(url, home, "floor_reads", which)
                row.update(
                    {
                        f"{name}_s": seconds,
                        f"{name}_peak_mb": peak,
                        f"{name}_floor_s": floor_s,
                        f"{name}_ratio": seconds / floor_s,
                    }
                )
    return row


# --------------------------------------------------------------------------------------------
# the approval survey, withdrawing an entity's accounts, the compliance report (issue 20), each
# beside a plain-SQL floor, each in a process of its own for its peak memory

SURVEY_ROWS = 10_000
_ORGANIZATIONS = ("UNICEF", "UNDP", "WFP", "UNHCR", "WHO", "UNESCO", "ILO", "FAO", "IOM", "UNEP")
_TOPICS = (
    "children's rights",
    "refugee protection",
    "food security",
    "global health",
    "education",
    "climate action",
    "gender equality",
    "migration",
    "decent work",
    "ocean conservation",
    "emergency response",
    "human rights",
)
_PLACES = (
    "Latin America",
    "West Africa",
    "the Arab States",
    "South Asia",
    "Europe",
    "the Pacific",
    "East Africa",
    "Central Asia",
)
_AUDIENCES = (
    "journalists",
    "young people",
    "donors",
    "the general public",
    "policy makers",
    "local communities",
)
_SURVEY_PLATFORMS = ("x", "facebook", "instagram", "youtube")


def add_survey_list(url: str, n: int = SURVEY_ROWS, seed: int = 20) -> None:
    """The reference list of other UN system organizations' accounts (3.2(a)): `n` rows over
    four platforms, 96 purposes and 48 audiences (a topic and a region each) in one to two
    official languages, written directly (not timed)."""
    from models.tables import SurveyAccount

    rng = random.Random(seed)
    rows = []
    for i in range(n):
        org, topic, place = _ORGANIZATIONS[i % 10], rng.choice(_TOPICS), rng.choice(_PLACES)
        platform = _SURVEY_PLATFORMS[i % 4]
        handle = f"{org}{topic.title().replace(' ', '').replace(chr(39), '')}{i}"
        rows.append(
            {
                "organization": org,
                "platform": platform,
                "handle": handle,
                "url": f"https://{platform}.com/{handle}",
                "languages": ";".join(sorted(rng.sample(OFFICIAL_LANGUAGES, rng.choice([1, 2])))),
                "purpose": f"{topic.capitalize()} news and stories from {place}",
                "audience": f"{rng.choice(_AUDIENCES).capitalize()} in {place}",
            }
        )
    engine = observer(url)
    with engine.begin() as conn:
        conn.execute(insert(SurveyAccount), rows)
    engine.dispose()


APPROVAL_ENTITY, APPROVAL_BY = "E0001", "000104"  # a staff member of the entity (not its head)


def _approval_request(i: int) -> dict[str, Any]:
    """The i-th request a benchmark run submits: an X account in Spanish, its purpose and
    audience near some of the reference list's and none of the generated registry's."""
    return {
        "entity": APPROVAL_ENTITY,
        "platform": "x",
        "handle": f"UNClimateYouth{i}",
        "languages": ["es"],
        "need": "No Spanish-language channel on climate action exists",
        "purpose": "Climate action news and stories from Latin America",
        "strategy": "Daily posts",
        "audience": "Young people in Latin America",
        "staffing": "Two officers",
        "administrator": "000102",
        "alternate": "000103",
        "risk": {"rating": "low", "risks": "Impersonation", "mitigations": "Badge"},
        "editorial": "The chief clears every post",
        "languages_considered": "Spanish first",
        "speaks_for": "entity",
    }


def approval_requests(url: str, home: Path, count: str = "3") -> dict[str, Any]:
    """`request new` as its services run, `count` times: the request submitted (one
    transaction), then the approval flow's step (`flows.steps.carry_request_on`: the duplication
    survey against the whole registry, the pending requests and the reference list, parity, the
    head's decision duty and notice, the notice queued), then the request read back as the
    command shows it. No Prefect and no delivery (`commands` measures those). Each request's
    seconds and duplicates found; for `_in_child`."""
    from models.requests import parse_request
    from services import requests
    from services.reminders import queue_due

    settings, engine = settings_for(url, home), make_engine(url)
    runs, found = [], []
    for i in range(int(count)):
        data = parse_request(_approval_request(i))
        started = time.perf_counter()
        with unit_of_work(engine, settings, AS_OF) as ctx:
            request_id = int(requests.submit(ctx, data, by=APPROVAL_BY).id or 0)
        with unit_of_work(engine, settings, AS_OF) as ctx:
            opened = requests.carry_on(ctx, request_id)
            if opened:
                queue_due(ctx, only=opened)
        with unit_of_work(engine, settings, AS_OF) as ctx:
            view = requests.request_view(ctx, requests.get_request(ctx, request_id))
        runs.append(time.perf_counter() - started)
        found.append(len(view["duplicates"]))
    engine.dispose()
    return {"runs": runs, "duplicates": found}


def floor_approval(url: str, home: Path, count: str = "3") -> dict[str, Any]:
    """The same `count` requests by plain SQL and rapidfuzz: the request and its transition
    inserted, the survey's candidate rows read (the same queries as a reassessment's floor:
    accounts, pending requests, the reference list), the proposal scored against them by
    rapidfuzz directly (its own default processor in place of smgov's normalisation; the name
    against every account on the platform, purpose and audience against the distinct texts of
    those sharing a language, token-set and token-sort as smgov scores them), the matches
    written back as JSON, the head's decision duty, three audit events and the head's notice
    inserted, the request read back with the look-alike check its view shows (the platform's
    official handles of other entities read, their edit distance to the proposed handle
    computed by rapidfuzz's Levenshtein on case-folded handles, without smgov's homoglyph
    skeletons)."""
    del home  # the floor needs no smgov home
    from rapidfuzz import fuzz, process, utils
    from rapidfuzz.distance import Levenshtein
    from sqlalchemy import update

    from models.tables import AccountRequest, AuditEvent, Outbox, RequestTransition

    engine = observer(url)
    now = _instant(url)
    runs, found, resembling = [], [], []
    for i in range(int(count)):
        raw = _approval_request(i)
        started = time.perf_counter()
        with engine.begin() as conn:
            request_id = conn.execute(
                insert(AccountRequest).values(
                    entity_code=raw["entity"],
                    platform=raw["platform"],
                    handle=raw["handle"],
                    languages="es",
                    evidence=json.dumps(raw),
                    requested_by=APPROVAL_BY,
                    state="submitted",
                    submitted_at=AS_OF,
                )
            ).inserted_primary_key[0]
            conn.execute(
                insert(RequestTransition).values(
                    request_id=request_id,
                    event="submit",
                    to_state="submitted",
                    by=APPROVAL_BY,
                    at=AS_OF,
                )
            )
        with engine.begin() as conn:
            accounts, pending, listed = (conn.execute(text(q)).all() for q in _EVIDENCE[:3])
            rivals = [  # on the proposal's platform: ref, name, shares a language, texts
                (ref, handle, "es" in languages.split(";"), purpose, audience)
                for ref, platform, handle, languages, purpose, audience in (
                    *((f"account:{r[0]}", r[2], r[3], r[4], r[5], r[6]) for r in accounts),
                    *(
                        (f"request:{r[0]}", r[2], r[3], r[4], *_purpose_audience(r[5]))
                        for r in pending
                        if r[0] != request_id
                    ),
                    *((f"survey:{r[0]}", r[2], r[3], r[4], r[5], r[6]) for r in listed),
                )
                if platform == raw["platform"]
            ]
            names = process.cdist(
                [raw["handle"]],
                [rival[1] for rival in rivals],
                scorer=fuzz.token_sort_ratio,
                processor=utils.default_process,
                workers=-1,
            )[0].tolist()
            similar = {}
            for field, at in (("purpose", 3), ("audience", 4)):
                distinct = sorted({rival[at] for rival in rivals if rival[2]})
                both = sum(
                    process.cdist(
                        [raw[field]], distinct, scorer=scorer, processor=utils.default_process
                    )[0]
                    for scorer in (fuzz.token_set_ratio, fuzz.token_sort_ratio)
                )
                similar[field] = dict(zip(distinct, (both / 2).tolist(), strict=True))
            matches = []
            for (ref, _, shares, purpose, audience), name in zip(rivals, names, strict=True):
                p, a = similar["purpose"].get(purpose, 0), similar["audience"].get(audience, 0)
                if shares and p >= 60 and a >= 60:
                    matches.append({"ref": ref, "score": round(0.5 * p + 0.3 * a + 0.2 * name, 1)})
                elif name >= 85:
                    matches.append({"ref": ref, "score": round(float(name), 1)})
            matches.sort(key=lambda m: -m["score"])
            conn.execute(
                update(AccountRequest)
                .where(AccountRequest.id == request_id)
                .values(survey=json.dumps(matches), parity=json.dumps({"x": {"es": False}}))
            )
            conn.execute(
                text(
                    "INSERT INTO obligation (key, clause, kind, subject, entity_code, assignee, "
                    "due_at, state, created_at, next_stage, next_stage_at) VALUES "
                    "(:key, '3.2', 'decide-request', :subject, :entity, :head, :due, 'open', "
                    ":now, 0, :due)"
                ),
                {
                    "key": f"decide:{request_id}",
                    "subject": f"request:{request_id}",
                    "entity": raw["entity"],
                    "head": "000100",
                    "due": now,
                    "now": now,
                },
            )
            base = conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_event")).scalar()
            conn.execute(
                insert(AuditEvent),
                [
                    {
                        "seq": base + k,
                        "actor": "smgov",
                        "action": action,
                        "subject": f"request:{request_id}",
                        "outcome": "done",
                        "after": json.dumps({"n": len(matches)}),
                        "recorded_at": AS_OF,
                        "effective_at": AS_OF,
                        "prev_hash": "floor",
                        "hash": "floor",
                    }
                    for k, action in enumerate(
                        ("request.submit", "request.survey", "obligation.open"), start=1
                    )
                ],
            )
            conn.execute(
                insert(Outbox).values(
                    message_id=f"floor-request-{request_id}",
                    channel="email",
                    recipient="s000100@un.example",
                    recipient_index="000100",
                    subject=f"New account request {request_id} awaits your decision (3.2)",
                    body="\n".join(m["ref"] for m in matches[:5]),
                    status="pending",
                    attempts=0,
                    next_attempt_at=AS_OF,
                    created_at=AS_OF,
                )
            )
        with engine.connect() as conn:  # read back, with the look-alike check the view shows
            conn.execute(
                text("SELECT * FROM account_request WHERE id = :id"), {"id": request_id}
            ).one()
            officials = conn.execute(
                text(
                    "SELECT handle, entity_code FROM account WHERE platform = :p AND state IN "
                    "('proposed', 'approved', 'active', 'under-reassessment') "
                    "AND entity_code <> :e"
                ),
                {"p": raw["platform"], "e": raw["entity"]},
            ).all()
            edits = process.cdist(
                [raw["handle"].casefold()],
                [h.casefold() for h, _ in officials],
                scorer=Levenshtein.distance,
                score_cutoff=1,
                workers=-1,
            )[0]
            resembling.append(
                [h for (h, _), d in zip(officials, edits.tolist(), strict=True) if d <= 1]
            )
        runs.append(time.perf_counter() - started)
        found.append(len(matches))
    engine.dispose()
    return {"runs": runs, "duplicates": found, "lookalikes": resembling}


def _purpose_audience(evidence: str) -> tuple[str, str]:
    ev = json.loads(evidence)
    return ev.get("purpose", ""), ev.get("audience", "")


def bench_approval(dbs: Databases, backend: str, template: str, home: Path) -> dict[str, Any]:
    """Three requests submitted and surveyed, beside their floor, on copies of the same data
    with the 10,000-row reference list: the median request's seconds and the child's peak."""
    row: dict[str, Any] = {}
    for name, measure in (("approval", "approval_requests"), ("approval_floor", "floor_approval")):
        url = dbs.copy(backend, template)
        add_survey_list(url)
        _, peak, out = _in_child(url, home, measure, "3")
        row[f"{name}_s"] = _median(out["runs"])
        row[f"{name}_first_s"] = out["runs"][0]
        row[f"{name}_duplicates"] = out["duplicates"][0]
        if name == "approval":
            row["approval_peak_mb"] = peak
    row["approval_ratio"] = row["approval_s"] / row["approval_floor_s"]
    return row


WITHDRAW_ENTITY, WITHDRAW_HEAD = "E0000", "000000"


def _gather_share(url: str) -> int:
    """A tenth of the registry (every tenth account, with its duties) moved to entity E0000,
    whose own accounts it keeps (not timed): the entity whose accounts a withdrawal takes.
    Returns how many accounts the entity then has."""
    engine = observer(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE obligation SET entity_code = :e WHERE subject IN "
                "(SELECT 'account:' || id FROM account WHERE id % 10 = 0)"
            ),
            {"e": WITHDRAW_ENTITY},
        )
        conn.execute(
            text("UPDATE account SET entity_code = :e WHERE id % 10 = 0"), {"e": WITHDRAW_ENTITY}
        )
        count = conn.execute(
            text("SELECT count(*) FROM account WHERE entity_code = :e"), {"e": WITHDRAW_ENTITY}
        ).scalar_one()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return int(count)


def withdraw_entity(url: str, home: Path) -> int:
    """`smgov account withdraw --entity E0000 --all` as the command runs it
    (`services.reassessment.withdraw_many` in one transaction); for `_in_child`."""
    from services.reassessment import withdraw_many

    settings, engine = settings_for(url, home), make_engine(url)
    with unit_of_work(engine, settings, AS_OF) as ctx:
        done = len(
            withdraw_many(ctx, entity=WITHDRAW_ENTITY, reason="mission closed", by=WITHDRAW_HEAD)
        )
    engine.dispose()
    return done


_THEIRS = "SELECT id FROM account WHERE entity_code = :e AND state NOT IN ('withdrawn', 'closed')"
_WITHDRAWAL = [
    "UPDATE assessment SET state = 'decided', decision = 'withdraw', decided_by = :by, "
    f"decided_at = :now, reason_text = :why WHERE state = 'open' AND account_id IN ({_THEIRS})",
    "UPDATE written_authorization SET revoked_at = :now, revoked_by = :by, "
    f"revoked_reason = :revoked WHERE revoked_at IS NULL AND account_id IN ({_THEIRS})",
    "UPDATE obligation SET state = 'withdrawn', closed_at = :now, closed_reason = :closed, "
    "next_stage_at = NULL, key = substr(key || '#' || CAST(id AS VARCHAR(20)), 1, 200) "
    "WHERE state = 'open' AND kind NOT IN ('credential-handover', 'credential-rotation') "
    f"AND subject IN (SELECT 'account:' || id FROM ({_THEIRS}) AS theirs)",
    "INSERT INTO obligation (key, clause, kind, subject, entity_code, assignee, due_at, state, "
    "created_at, next_stage, next_stage_at) SELECT 'close:' || id, '3.8', 'close-account', "
    "'account:' || id, entity_code, :by, :due, 'open', :now, 0, :due FROM account "
    "WHERE entity_code = :e AND state NOT IN ('withdrawn', 'closed')",
    "UPDATE account SET state = 'withdrawn', updated_at = :now "
    "WHERE entity_code = :e AND state NOT IN ('withdrawn', 'closed')",
]


def floor_withdraw(url: str, home: Path) -> int:
    """The rows `withdraw_many` writes, by plain SQL in one transaction: the entity's open
    assessments decided, its authorizations revoked, the accounts' open duties (but custody)
    withdrawn, a closure duty per account, the accounts withdrawn, three audit events
    (withdrawal, duties withdrawn, duties opened)."""
    del home  # the floor needs no smgov home
    engine = observer(url)
    now = _instant(url)
    values = {
        "e": WITHDRAW_ENTITY,
        "by": WITHDRAW_HEAD,
        "now": now,
        "due": now,
        "why": "mission closed",
        "revoked": "approval withdrawn (3.8): mission closed",
        "closed": "approval withdrawn (3.8)",
    }
    with engine.begin() as conn:
        ids = conn.execute(text(_THEIRS), values).scalars().all()
        for statement in _WITHDRAWAL:
            conn.execute(text(statement), values)
        base = conn.execute(text("SELECT coalesce(max(seq), 0) FROM audit_event")).scalar()
        conn.execute(
            text(
                "INSERT INTO audit_event (seq, actor, action, subject, outcome, after, "
                "recorded_at, effective_at, prev_hash, hash) VALUES "
                "(:seq, :by, :action, :subject, 'done', :after, :now, :now, 'floor', 'floor')"
            ),
            [
                {
                    **values,
                    "seq": base + k,
                    "action": action,
                    "subject": f"entity:{WITHDRAW_ENTITY}",
                    "after": json.dumps({"accounts": list(ids[:1000]), "count": len(ids)}),
                }
                for k, action in enumerate(
                    ("obligation.withdrawn", "obligation.open", "account.withdraw"), start=1
                )
            ],
        )
    engine.dispose()
    return len(ids)


def bench_withdraw(
    dbs: Databases, backend: str, template: str, home: Path, repeat: int = 1
) -> dict[str, Any]:
    """Withdrawing every account of an entity holding a tenth of the registry, beside its floor,
    on copies of the same data (`repeat` times each, the medians)."""
    runs, floors, peaks = [], [], []
    for _ in range(repeat):
        url, floor_url = dbs.copy(backend, template), dbs.copy(backend, template)
        accounts = _gather_share(url)
        _gather_share(floor_url)
        seconds, peak, done = _in_child(url, home, "withdraw_entity")
        floor_s, _, floor_done = _in_child(floor_url, home, "floor_withdraw")
        if done != accounts or floor_done != accounts:
            raise RuntimeError(f"{accounts} accounts: {done} withdrawn, {floor_done} by the floor")
        runs.append(seconds)
        floors.append(floor_s)
        peaks.append(peak)
    return {
        "withdraw_accounts": accounts,
        "withdraw_s": _median(runs),
        "withdraw_peak_mb": max(peaks),
        "withdraw_floor_s": _median(floors),
        "withdraw_ratio": _median(runs) / _median(floors),
    }


def compliance_report(url: str, home: Path) -> int:
    """The compliance report over the whole registry (`services.reports.compliance`, as
    `smgov report` runs it); for `_in_child`. Returns how many entities it covers."""
    from services.reports import compliance

    settings, engine = settings_for(url, home), make_engine(url)
    with unit_of_work(engine, settings, AS_OF) as ctx:
        entities = len(compliance(ctx)["entities"])
    engine.dispose()
    return entities


_LIVE = "('approved', 'active', 'under-reassessment')"
_OPEN_AT = "created_at <= :now AND (closed_at IS NULL OR closed_at > :now)"
_REPORT_READS = [
    "SELECT * FROM entity ORDER BY code",
    "SELECT entity_code, state, platform, languages FROM account",
    f"SELECT entity_code, clause, key, due_at FROM obligation WHERE {_OPEN_AT}",
    f"SELECT entity_code, id FROM account WHERE state IN {_LIVE} AND id NOT IN "
    "(SELECT account_id FROM written_authorization WHERE revoked_at IS NULL)",
    "SELECT a.entity_code, a.id, w.staff_index FROM account a JOIN written_authorization w "
    "ON w.account_id = a.id WHERE w.revoked_at IS NULL AND w.acknowledged_at IS NULL "
    "ORDER BY a.id, w.id",
    "SELECT * FROM campaign ORDER BY id",
    "SELECT s.entity_code, count(*) FROM staff s JOIN outbox o "
    "ON o.recipient_index = s.index_number WHERE o.status = 'dead' GROUP BY s.entity_code",
    f"SELECT * FROM account WHERE state IN {_LIVE}",
    "SELECT account_id FROM written_authorization WHERE revoked_at IS NULL",
    "SELECT account_id, role, staff_index FROM written_authorization WHERE revoked_at IS NULL",
    "SELECT account_id, role, staff_index FROM declared_person WHERE confirmed_at IS NULL",
    "SELECT index_number, status, email FROM staff",
    f"SELECT kind, clause, subject, due_at FROM obligation WHERE {_OPEN_AT} AND due_at < :now",
    "SELECT index_number, name FROM staff",
    "SELECT account_id, staff_index, role FROM written_authorization "
    "WHERE revoked_at IS NULL AND acknowledged_at IS NULL",
    "SELECT count(*) FROM outbox WHERE status = 'dead'",
]


def floor_report(url: str, home: Path) -> int:
    """The rows the compliance report reads, by plain SQL, every one fetched: the entities, the
    accounts (counts, parity, the live ones in full), the open and overdue duties, the orphaned
    accounts, the holders and declared people with their staff, the unacknowledged
    authorizations, the campaigns, the dead letters — none of the tallies it works out."""
    del home  # the floor needs no smgov home
    engine = observer(url)
    fetched = 0
    with engine.connect() as conn:
        for query in _REPORT_READS:
            fetched += len(conn.execute(text(query), {"now": _instant(url)}).all())
    engine.dispose()
    return fetched


def _command_row(name: str) -> tuple[str, Any, str | None, Any]:
    key = "cmd_" + name.replace(" ", "_")
    target = "< 2 s and ≤ 3×" if name in ("request decide", "campaign start", "hr event") else None
    return (
        f"`smgov {name}` (runs its flow, no Prefect server), and / `account list`",
        lambda r: f"{r[key + '_s']:.2f} s, {r[key + '_ratio']:.1f}×",
        target,
        lambda r: r[key + "_s"] < 2 and r[key + "_ratio"] <= 3,
    )


def _floor_rows(
    key: str, ratio: str, label: str, floor: str
) -> list[tuple[str, Any, str | None, Any]]:
    """A measure with its peak memory, its floor, and the ratio of the two (target ≤ 3×)."""
    return [
        (
            f"{label}: seconds, peak memory",
            lambda r: f"{r[key + '_s']:.2f} s, {r[key + '_peak_mb']:.0f} MB",
            "< 500 MB",
            lambda r: r[key + "_peak_mb"] < 500,
        ),
        (f"floor: {floor}", lambda r: f"{r[ratio + '_floor_s']:.2f} s", None, None),
        (
            f"{label} / floor",
            lambda r: f"{r[ratio + '_ratio']:.1f}×",
            "≤ 3×",
            lambda r: r[ratio + "_ratio"] <= 3,
        ),
    ]


# The table's rows: (label, how a result row shows it, the target at 100k or None, whether a
# result row meets it).
_ROWS: list[tuple[str, Any, str | None, Any]] = [
    (
        "daily sweep (due set, digests, outbox, rescheduling)",
        lambda r: f"{r['sweep_s']:.2f} s",
        None,
        None,
    ),
    (
        "raw-SQL floor: the same outbox rows (text and HTML) and schedules, two statements",
        lambda r: f"{r['floor_s']:.2f} s",
        None,
        None,
    ),
    (
        "sweep / floor",
        lambda r: f"{r['sweep_floor_ratio']:.1f}×",
        "≤ 3× at 100k",
        lambda r: r["sweep_floor_ratio"] <= 3,
    ),
    (
        "the former floor, plain text only (before digests had HTML); sweep / it",
        lambda r: f"{r['floor_text_s']:.2f} s; {r['sweep_s'] / r['floor_text_s']:.1f}×",
        None,
        None,
    ),
    (
        "daily sweep: peak memory (a process of its own)",
        lambda r: f"{r['sweep_peak_mb']:.0f} MB",
        "< 500 MB",
        lambda r: r["sweep_peak_mb"] < 500,
    ),
    (
        "the day's digests (e-mail): messages, text and HTML, the biggest",
        lambda r: (
            f"{r['deliver_messages']:,}, {r['deliver_mb']:.0f} MB, {r['deliver_biggest_mb']:.1f} MB"
        ),
        None,
        None,
    ),
    (
        "their delivery to a local SMTP server, apart, over smgov's default SMTP connections",
        lambda r: (
            f"{r['deliver_messages_per_s']:.0f}/s, {r['deliver_mb_per_s']:.1f} MB/s "
            f"({r['deliver_s']:.0f} s; {r['deliver_connections']} connections)"
        ),
        None,
        None,
    ),
    (
        "the same messages through a plain smtplib loop, one connection (reference)",
        lambda r: f"{r['deliver_reference_per_s']:.0f}/s ({r['deliver_reference_s']:.0f} s)",
        None,
        None,
    ),
    (
        "delivery / smtplib loop",
        lambda r: f"{r['deliver_ratio']:.2f}×",
        "≤ 1.5×",
        lambda r: r["deliver_ratio"] <= 1.5,
    ),
    (
        "delivery: peak memory (a process of its own; the smtplib loop's beside it)",
        lambda r: f"{r['deliver_peak_mb']:.0f} MB ({r['deliver_reference_peak_mb']:.0f} MB)",
        "< 500 MB",
        lambda r: r["deliver_peak_mb"] < 500,
    ),
    (
        "1,000 HR separations, services alone: to revoked (follow-up done)",
        lambda r: f"{r['hr_events_per_s']:.0f}/s ({r['hr_s']:.2f} s; {r['hr_done_s']:.2f} s)",
        None,
        None,
    ),
    (
        "1,000 HR separations through the HR intake: one POST, one flow run, to revoked",
        lambda r: f"{r['hr_intake_events_per_s']:.0f}/s ({r['hr_intake_s']:.2f} s)",
        "≥ 200/s",
        lambda r: r["hr_intake_events_per_s"] >= 200,
    ),
    (
        "the same through `smgov hr import` as a new process: to revoked (command done)",
        lambda r: (
            f"{r['hr_flow_events_per_s']:.0f}/s ({r['hr_flow_revoked_s']:.1f} s; "
            f"{r['hr_flow_total_s']:.1f} s)"
        ),
        None,
        None,
    ),
    (
        "one HR event through the HR intake, POST to revoked (median, max)",
        lambda r: f"{r['latency_median_s']:.2f} s, {r['latency_max_s']:.2f} s",
        "< 1 s",
        lambda r: max(r["latency_max_s"], r["latency_median_s"]) < 1,
    ),
    (
        "CSV import: rows/s, peak memory",
        lambda r: f"{r['import_rows_per_s']:,.0f}/s, {r['import_peak_mb']:.0f} MB",
        "< 500 MB",
        lambda r: r["import_peak_mb"] < 500,
    ),
    (
        "`smgov staff import` of 10,000 staff: rows/s, peak memory",
        lambda r: f"{r['staff_import_rows_per_s']:,.0f}/s, {r['staff_import_peak_mb']:.0f} MB",
        "< 500 MB",
        lambda r: r["staff_import_peak_mb"] < 500,
    ),
    (
        "compliance report over the whole registry",
        lambda r: f"{r['report_s']:.2f} s",
        "< 5 s",
        lambda r: r["report_s"] < 5,
    ),
    *_floor_rows(
        "report",
        "report",
        "compliance report",
        "the rows the report reads, by plain SQL",
    ),
    *_floor_rows(
        "approval",
        "approval",
        "`request new` (services, median of 3): survey against the registry and a 10,000-row "
        "reference list",
        "the same rows written and read by plain SQL, the same texts scored by rapidfuzz",
    ),
    *_floor_rows(
        "withdraw",
        "withdraw",
        "`account withdraw --entity --all`, a tenth of the registry",
        "the same rows updated and inserted by plain SQL",
    ),
    (
        "`smgov account list --json`, empty registry, new process (median of 3)",
        lambda r: f"{r['cmd_account_list_s']:.2f} s",
        None,
        None,
    ),
    *[_command_row(name) for name in COMMANDS],
    *[
        row
        for key, label, floor in (
            (
                "inventory_start",
                "`campaign start inventory`, every entity: initial assessments and duties",
                "an assessment and a duty per account by `INSERT … SELECT`",
            ),
            (
                "reassessment_start",
                "`campaign start reassessment`, every entity: evidence, survey, assessments, "
                "duties",
                "the rows the evidence reads, the same neighbour pairs scored by rapidfuzz, an "
                "assessment naming its overlaps and a duty per account, each account marked, "
                "one transaction",
            ),
        )
        for row in _floor_rows(key, key.replace("_start", ""), label, floor)
    ],
    (
        "the former floor of `campaign start reassessment`, rows only (no survey, one findings "
        "text for every row); the campaign / it",
        lambda r: (
            f"{r['reassessment_rows_floor_s']:.2f} s; "
            f"{r['reassessment_start_s'] / r['reassessment_rows_floor_s']:.1f}×"
        ),
        None,
        None,
    ),
    (
        "`campaign start reassessment`: the survey's own process (two batches or more), peak "
        "memory",
        lambda r: (
            "none: one batch, surveyed in the campaign's process"
            if r["reassessment_survey_peak_mb"] is None
            else f"{r['reassessment_survey_peak_mb']:.0f} MB"
        ),
        "< 500 MB",
        lambda r: (r["reassessment_survey_peak_mb"] or 0) < 500,
    ),
    *_floor_rows(
        "status",
        "status",
        "`campaign status` over the inventory campaigns",
        "the campaigns, accounts, holders, declared people and staff read by plain SQL",
    ),
    *_floor_rows(
        "list",
        "list",
        "`account list --json`, the whole registry",
        "the same rows read by plain SQL, the accounts dumped as JSON",
    ),
]

#: measures whose growth from the smallest to the largest size the table shows (O(N): 12x)
SCALED = {
    "sweep_s": "sweep",
    "inventory_start_s": "`campaign start inventory`",
    "reassessment_start_s": "`campaign start reassessment`",
    "status_s": "`campaign status`",
    "list_s": "`account list --json`",
    "report_s": "compliance report",
    "approval_s": "`request new`'s services",
    "deliver_s": "delivery of the day's digests",
    "withdraw_s": "`account withdraw --entity --all`",
}


def markdown_table(results: list[dict[str, Any]]) -> str:
    """The results as the Markdown table of the manual's performance page
    (docs/operations/performance.md): a column per (backend, size), the target and whether the
    largest size of each backend meets it; scaling 10k -> 100k of the sweep."""
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}
    heads = [f"{names.get(r['backend'], r['backend'])} {r['accounts'] // 1000}k" for r in results]
    lines = [
        "| measure | " + " | ".join(heads) + " | target |",
        "|---" * (len(heads) + 2) + "|",
    ]
    largest = {}
    for r in results:
        if r["accounts"] >= largest.get(r["backend"], {"accounts": 0})["accounts"]:
            largest[r["backend"]] = r
    for label, show, target, meets in _ROWS:
        cells = []
        for r in results:
            try:
                cells.append(show(r))
            except KeyError:
                cells.append("—")  # not measured for this column
        if all(cell == "—" for cell in cells):
            continue  # not measured this time
        verdict = "—"
        if target is not None:
            measured = [r for r in results if show_or_none(show, r) is not None]
            scope = [r for r in largest.values() if r in measured] or measured
            met = all(meets(r) for r in scope)
            verdict = f"{target}: {'met' if met else '**missed**'}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {verdict} |")
    for key, what in SCALED.items():
        for backend in names:
            sizes = sorted(
                ((r["accounts"], r) for r in results if r["backend"] == backend and key in r),
                key=lambda pair: pair[0],
            )
            if len(sizes) >= 2:
                (small_n, small), (big_n, big) = sizes[0], sizes[-1]
                ratio = big[key] / small[key]
                cells = [f"{ratio:.1f}×" if r is big else "" for r in results]
                lines.append(
                    f"| {what} scaling {small_n // 1000}k → {big_n // 1000}k, {names[backend]} | "
                    + " | ".join(cells)
                    + f" | ≤ 12×: {'met' if ratio <= 12 else '**missed**'} |"
                )
    return "\n".join(lines)


def show_or_none(show: Any, row: dict[str, Any]) -> str | None:
    try:
        return str(show(row))
    except KeyError:
        return None


def _median(values: Any) -> float:
    import statistics

    return float(statistics.median(list(values)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument(
        "--only",
        nargs="+",
        default=[
            "sweep",
            "deliver",
            "hr",
            "latency",
            "import",
            "staff-import",
            "report",
            "commands",
            "campaigns",
            "reassessment",
            "approval",
            "withdraw",
        ],
        help="measure only these (campaigns: opening the inventory, then campaign status and "
        "account list; reassessment: opening a reassessment of every entity; approval: the "
        "duplication survey of new requests; withdraw: withdrawing an entity's accounts)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the sweep, floor, HR batch, report and withdrawal (each with its floor) this "
        "many times, each on a fresh copy, and keep the median (the figures vary by a second "
        "from run to run)",
    )
    parser.add_argument(
        "--deliver-sample",
        type=int,
        default=None,
        help="deliver only the day's first N messages, both ways (default: every one)",
    )
    parser.add_argument(
        "--out",
        default="results",
        help="bench/results/OUT.json and its table (results: results.json and table.md)",
    )
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="smgov-bench-"))
    os.environ.setdefault("PREFECT_HOME", str(workdir / "prefect-client"))  # not ~/.prefect
    dbs = Databases(workdir)
    results: list[dict[str, Any]] = []
    servers = contextlib.ExitStack()
    api_url: str | None = None
    try:
        for backend in args.backends:
            for n in args.sizes:
                started = time.perf_counter()
                needs_data = set(args.only) - {"commands"}
                template = dbs.template(backend, n) if needs_data else ""
                home = workdir / f"{backend}-{n}"
                home.mkdir()
                row: dict[str, Any] = {"backend": backend, "accounts": n, "obligations": 2 * n}
                if "sweep" in args.only:
                    sweeps = [
                        _in_child(dbs.copy(backend, template), home, "sweep_child")
                        for _ in range(args.repeat)
                    ]
                    floors = [bench_floor(dbs.copy(backend, template)) for _ in range(args.repeat)]
                    text_floors = [
                        bench_floor(dbs.copy(backend, template), text_only=True)
                        for _ in range(args.repeat)
                    ]
                    sweep_s, floor_s = (
                        _median(s for s, _, _ in sweeps),
                        _median(s for s, _ in floors),
                    )
                    row.update(
                        {
                            "sweep_s": sweep_s,
                            "sweep_peak_mb": max(peak for _, peak, _ in sweeps),
                            **{f"sweep_{k}": v for k, v in sweeps[0][2].items()},
                            "floor_s": floor_s,
                            "floor_rows": floors[0][1],
                            "sweep_floor_ratio": sweep_s / floor_s if floor_s else None,
                            "floor_text_s": _median(s for s, _ in text_floors),
                            "sweep_runs_s": [round(s, 2) for s, _, _ in sweeps],
                            "floor_runs_s": [round(s, 2) for s, _ in floors],
                        }
                    )
                if "commands" in args.only and n == args.sizes[0]:  # size-free: once per backend
                    row.update(bench_commands(dbs.empty(backend), home))
                if "deliver" in args.only:
                    row.update(
                        bench_deliver(dbs.copy(backend, template), home, args.deliver_sample)
                    )
                if "hr" in args.only:
                    batches = [
                        bench_hr(dbs.copy(backend, template), home, n) for _ in range(args.repeat)
                    ]
                    hr_s, events = _median(b[0] for b in batches), batches[0][2]
                    row.update(
                        {
                            "hr_events": events,
                            "hr_s": hr_s,
                            "hr_events_per_s": events / hr_s,
                            "hr_done_s": _median(b[1] for b in batches),
                            "hr_runs_s": [round(b[0], 2) for b in batches],
                        }
                    )
                if {"hr", "latency"} & set(args.only):
                    if api_url is None:  # one Prefect server for the whole run
                        api_url = servers.enter_context(prefect_api(workdir / "prefect-server"))
                    row.update(bench_intake(dbs.copy(backend, template), home, n, api_url))
                    if "hr" in args.only:
                        row.update(bench_hr_flow(dbs.copy(backend, template), home, n, api_url))
                if "import" in args.only:
                    imported = bench_import(dbs.copy(backend, template), home, n)
                    row.update(
                        {
                            "import_s": imported["seconds"],
                            "import_rows_per_s": imported["rows_per_s"],
                            "import_peak_mb": imported["peak_mb"],
                        }
                    )
                if "staff-import" in args.only:
                    staffed = bench_staff_import(dbs.copy(backend, template), home)
                    row.update(
                        {
                            "staff_import_s": staffed["seconds"],
                            "staff_import_rows_per_s": staffed["rows_per_s"],
                            "staff_import_peak_mb": staffed["peak_mb"],
                        }
                    )
                kinds = [k for k in ("inventory", "reassessment") if k in args.only]
                if "campaigns" in args.only:
                    kinds.insert(0, "inventory")
                if kinds:
                    row.update(bench_campaigns(dbs, backend, template, home, kinds))
                if "report" in args.only:
                    reports = [
                        _in_child(dbs.copy(backend, template), home, "compliance_report")
                        for _ in range(args.repeat)
                    ]
                    read = [
                        _in_child(dbs.copy(backend, template), home, "floor_report")
                        for _ in range(args.repeat)
                    ]
                    row["report_s"] = _median(s for s, _, _ in reports)
                    row["report_peak_mb"] = max(peak for _, peak, _ in reports)
                    row["report_floor_s"] = _median(s for s, _, _ in read)
                    row["report_ratio"] = row["report_s"] / row["report_floor_s"]
                if "approval" in args.only:
                    row.update(bench_approval(dbs, backend, template, home))
                if "withdraw" in args.only:
                    row.update(bench_withdraw(dbs, backend, template, home, args.repeat))
                row["setup_s"] = time.perf_counter() - started
                dbs.drop_copies()
                print(
                    f"{backend:10} {n:>7} "
                    + "  ".join(
                        f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                        for k, v in row.items()
                        if k not in ("backend", "accounts")
                    ),
                    flush=True,
                )
                results.append(row)
    finally:
        servers.close()
        dbs.close()
        shutil.rmtree(workdir, ignore_errors=True)
    for backend in args.backends:
        sizes = sorted(r["accounts"] for r in results if r["backend"] == backend)
        if len(sizes) >= 2:
            small, big = (
                next(r for r in results if r["backend"] == backend and r["accounts"] == s)
                for s in (sizes[0], sizes[-1])
            )
            for key in (*SCALED, "hr_s", "import_s"):
                if key not in big:
                    continue
                print(
                    f"{backend:10} scaling {sizes[0]}->{sizes[-1]} {key:9} "
                    f"x{big[key] / small[key]:.1f}"
                )
    table = markdown_table(results)
    print()
    print(table)
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    named = args.out if args.out != "results" else "table"
    (out / f"{named}.md").write_text(table + "\n")
    (out / f"{args.out}.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"written {out / f'{args.out}.json'}")


if __name__ == "__main__":
    main()
