"""Faults (issue 10): mail relay and Teams outages, a dropped database connection, the sweep
killed with SIGKILL during delivery, lapsed claims taken over, and several sweeps at once.

Everything is real: the sweep is `smgov sweep` run as a subprocess (the `reminders` Prefect flow),
delivering over SMTP to an aiosmtpd server on 127.0.0.1 and over HTTPS to a local endpoint standing
for Teams Workflows, on SQLite and on PostgreSQL. The guarantee under test is the outbox's (design:
"a committed change always notifies"): nothing is lost, nothing is sent twice except the one
message in flight when a process died — re-sent with the same Message-ID —, and the outbox and the
obligations agree afterwards.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models.clock import due_after
from services import entities, obligations
from services.entities import get_entity
from tests import org
from tests.servers import HTTPSEndpoint, Received, SMTPServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ZURICH = "Europe/Zurich"
SWEEP_DAY = "2026-03-04"  # 7 days before the duties below fall due: one reminder each
LEASE = 5  # seconds a deliverer's claim lasts here (the setting's minimum)


# ---------------------------------------------------------------------------------------------
# the world: N staff members, each with one duty due, so one sweep sends N e-mails


def seed_duties(uow: Callable[..., Any], count: int) -> list[str]:
    """OHCHR with `count` more staff members, each the assignee of an update duty (3.6) due
    2026-03-11 in Zurich; returns their e-mail addresses."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
        for n in range(count):
            entities.add_staff(
                ctx,
                index=f"3{n:05d}",
                name=f"Officer {n}",
                email=f"officer{n}@un.example",
                entity="OHCHR",
            )
    with uow(dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)) as ctx:
        entity = get_entity(ctx, "OHCHR")
        for n in range(count):
            obligations.open_obligation(
                ctx,
                key=f"update:fault:{n}",
                clause="3.6",
                kind="update-entry",
                subject=f"account:{1000 + n}",
                entity=entity,
                assignee=f"3{n:05d}",
                due_at=due_after(dt.date(2026, 3, 1), 10, ZURICH),
                actor="100001",
            )
    return [f"officer{n}@un.example" for n in range(count)]


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


def outbox_state(url: str) -> dict[str, str]:
    """Message-ID -> status of every outbox message."""
    return dict(rows(url, "SELECT message_id, status FROM outbox"))  # type: ignore[arg-type]


def assert_consistent(url: str, recipients: list[str], smtp: SMTPServer) -> list[Received]:
    """Everything the outbox holds was sent and received; every duty reminded; return the
    messages received more than once (each is listed once per extra copy)."""
    state = outbox_state(url)
    assert set(state.values()) == {"sent"}, Counter(state.values())
    received = smtp.messages
    ids = Counter(m.message_id for m in received)
    assert set(ids) == set(state), "every outbox message reached the server, and nothing else"
    assert sorted({m.rcpt_tos[0] for m in received}) == sorted(recipients)
    reminded = rows(
        url,
        "SELECT count(*) FROM obligation WHERE key LIKE 'update:fault:%' "
        "AND reminded_stage = -7 AND state = 'open'",
    )[0][0]
    assert reminded == len(recipients), "each duty is marked reminded exactly at its stage"
    per_recipient = Counter(
        r for (r,) in rows(url, "SELECT recipient FROM outbox WHERE channel = 'email'")
    )
    assert set(per_recipient.values()) == {1}, "one digest per recipient, written once"
    seen: set[str] = set()
    repeats = []
    for message in received:
        if message.message_id in seen:
            repeats.append(message)
        seen.add(message.message_id)
    return repeats


# ---------------------------------------------------------------------------------------------
# processes


def sweep_env(cli_env: dict[str, str], smtp: SMTPServer, **extra: str) -> dict[str, str]:
    env = {
        **cli_env,
        **{k: v for k, v in os.environ.items() if k.startswith("PREFECT_")},
        "SMGOV_SMTP_HOST": "127.0.0.1",
        "SMGOV_SMTP_PORT": str(smtp.port),
        "SMGOV_SMTP_TLS": "none",
        "SMGOV_SMTP_FROM": "smgov <smgov@un.example>",
        "SMGOV_CLAIM_LEASE_SECONDS": str(LEASE),
    }
    env.update(extra)
    return env


def start_sweep(env: dict[str, str], day: str = SWEEP_DAY) -> subprocess.Popen[str]:
    """`smgov sweep` as a user runs it, leading its own process group (so that a kill of the
    group takes whatever it started, a temporary Prefect server included)."""
    return subprocess.Popen(
        [sys.executable, "-m", "smgov.cli", "sweep", "--as-of", day, "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _proc_stat(pid: int) -> tuple[int, int, str, str] | None:
    """(ppid, pgid, state, start time) of a live process, None if it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[2]), fields[0], fields[19]


def descendants(pid: int) -> dict[int, str]:
    """Every live descendant of `pid` with its start time (to tell a reused pid apart)."""
    children: dict[int, list[int]] = {}
    starts: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is not None and stat[2] != "Z":
                children.setdefault(stat[0], []).append(int(entry.name))
                starts[int(entry.name)] = stat[3]
    found: dict[int, str] = {}
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = starts[child]
            todo.append(child)
    return found


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def left_behind(pgid: int, watched: dict[int, str]) -> list[int]:
    """Processes still alive (not zombies) in the group, or among the `watched` ones."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _proc_stat(int(entry.name))
            if stat is None or stat[2] == "Z":
                continue
            pid = int(entry.name)
            if stat[1] == pgid or watched.get(pid) == stat[3]:
                alive.append(pid)
    return alive


@dataclass
class Kill:
    """One planned SIGKILL: when the server has accepted `at` messages in all, either at once
    from inside the DATA handler (the client is then still waiting for its 250: that message is
    in flight) or `delay` seconds later (it may have been recorded as sent, or not)."""

    at: int
    delay: float = 0.0
    pgid: int | None = None
    in_flight: list[str] = field(default_factory=list)
    fired: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)


class Killer:
    """The SMTP server's on_message hook that carries out the planned kill."""

    def __init__(self) -> None:
        self.plan: Kill | None = None
        self.smtp: SMTPServer | None = None

    def __call__(self, count: int) -> None:
        plan = self.plan
        if plan is None or plan.pgid is None or count < plan.at or plan.fired.is_set():
            return
        plan.fired.set()
        if plan.delay == 0:
            self._kill(plan)
        else:
            threading.Timer(plan.delay, self._kill, args=(plan,)).start()

    def _kill(self, plan: Kill) -> None:
        assert self.smtp is not None
        if plan.pgid is not None and not plan.done.is_set():
            # in flight: the last message the server accepted, which the dead process may not
            # have recorded as sent, and — after a delayed kill — one whose DATA the client had
            # sent in full before it died, which the server still accepts (it never got its 250)
            before = len(self.smtp.messages)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(plan.pgid, signal.SIGKILL)
            if plan.delay:  # a timer thread: the server's loop goes on meanwhile
                time.sleep(0.5)
            plan.in_flight = [m.message_id for m in self.smtp.messages[before - 1 :]]
            plan.done.set()


@pytest.fixture
def killer() -> Killer:
    return Killer()


@pytest.fixture
def smtp(killer: Killer) -> Iterator[SMTPServer]:
    with SMTPServer(on_message=killer) as server:
        killer.smtp = server
        yield server


def run_to_end(env: dict[str, str], *, timeout: float = 180) -> dict[str, Any]:
    proc = start_sweep(env)
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    import json

    return dict(json.loads(out))


# ---------------------------------------------------------------------------------------------


# per backend (12 in all): each moment of a delivery at least twice or with three delays — in the
# SMTP transaction (in flight: first, middle, last) and 0.02, 0.05 and 0.1 s after a message
KILLS = 6


class TestKilledDuringDelivery:
    @pytest.mark.kill
    def test_sigkill_during_delivery(
        self,
        uow: Callable[..., Any],
        cli_env: dict[str, str],
        db_url: str,
        smtp: SMTPServer,
        killer: Killer,
        prefect_api: str,
    ) -> None:
        """The sweep's whole process group is SIGKILLed 6 times per backend at different
        moments of delivery (after the k-th message, inside the SMTP transaction or just after
        it), the first time with no Prefect server configured (the flow's code in the sweep's own
        process, no temporary server beside it), and re-run each
        time: no process is left behind; the dead sweep's claims are taken over by the first
        sweep after they lapse, well within a minute; nothing is lost; nothing is sent twice but
        the message in flight at a kill, with the same Message-ID; the outbox and the duties
        agree (design: the outbox)."""
        recipients = seed_duties(uow, 60)
        env = sweep_env(cli_env, smtp)
        serverless = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}
        steps = [1, 3, 2, 4, 1, 2]
        delays = [0.0, 0.02, 0.0, 0.05, 0.1, 0.0]  # 0.0: in flight (the last too)
        kills: list[Kill] = []
        runs = 0
        while len(kills) < KILLS:
            runs += 1
            assert runs < KILLS * 3, "too many sweeps ran to the end without being killed"
            i = len(kills)
            plan = Kill(at=len(smtp.messages) + steps[i], delay=delays[i])
            killer.plan = plan
            proc = start_sweep(serverless if i == 0 else env)
            plan.pgid = proc.pid
            watched: dict[int, str] = {}
            commands: dict[int, str] = {}
            deadline = time.monotonic() + 180
            while not plan.fired.is_set() and proc.poll() is None:
                found = descendants(proc.pid)
                for pid in found.keys() - watched.keys():
                    commands[pid] = command_line(pid)
                watched.update(found)
                assert time.monotonic() < deadline, "the sweep neither finished nor was killed"
                time.sleep(0.05)
            proc.communicate(timeout=60)
            killer.plan = None
            if not plan.fired.is_set() or proc.returncode == 0:
                # it ran to the end: every unsent message was still claimed by a dead sweep,
                # or a delayed kill came after the last one was sent; sweep again
                assert proc.returncode == 0
                plan.done.set()  # a pending delayed kill must not fire at a later process
                time.sleep(1)
                continue
            assert plan.done.wait(10) and proc.returncode == -signal.SIGKILL
            deadline = time.monotonic() + 10
            while left_behind(proc.pid, watched) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert left_behind(proc.pid, watched) == [], "a process of the group survived"
            if i == 0:
                assert not any("uvicorn" in c or "prefect" in c for c in commands.values()), (
                    "without a Prefect server, no temporary one ran beside the sweep"
                )
            kills.append(plan)
        killed_at = time.monotonic()
        stranded = [r for (r,) in rows(db_url, "SELECT id FROM outbox WHERE status = 'sending'")]
        assert stranded, "the last dead sweep left messages claimed"
        time.sleep(max(0.0, killed_at + LEASE + 0.5 - time.monotonic()))
        run_to_end(env)  # the first sweep after the claims lapsed takes them all over
        assert time.monotonic() - killed_at < 60, "claims taken over within a minute"
        repeats = assert_consistent(db_url, recipients, smtp)
        in_flight = Counter(m for k in kills for m in k.in_flight)
        for message in repeats:
            assert in_flight[message.message_id] > 0, f"{message.message_id} sent twice"
            in_flight[message.message_id] -= 1


# ---------------------------------------------------------------------------------------------
# outages


class TestOutages:
    def test_teams_500_then_timeout_then_back(
        self,
        uow: Callable[..., Any],
        cli_env: dict[str, str],
        smgov: Callable[..., Any],
        smtp: SMTPServer,
        prefect_api: str,
        db_url: str,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The Teams endpoint answers 500 for one sweep and then times out for the next: both are
        failures kept for a later attempt, the e-mail goes out regardless, and when Teams is back
        the message is delivered; nothing is lost (design: the outbox; 4.2's channels)."""
        recipients = seed_duties(uow, 1)
        with HTTPSEndpoint() as teams:
            config = tmp_path / "apprise.yaml"
            config.write_text(
                "urls:\n"
                f"  - workflows://127.0.0.1:{teams.port}/ohchrflow/ohchrsig/?rto=1&cto=2:\n"
                "    - tag: entity-ohchr\n"
            )
            monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(teams.cert_path))
            cli_env.update(
                {
                    **sweep_env(cli_env, smtp),
                    "SMGOV_APPRISE_CONFIG": str(config),
                    "REQUESTS_CA_BUNDLE": str(teams.cert_path),
                }
            )
            outcomes = []
            for day, status, delay in (
                ("2026-03-04", 500, 0.0),
                ("2026-03-05", 202, 3.0),
                ("2026-03-06", 202, 0.0),
            ):
                teams.status, teams.delay = status, delay
                result = smgov("sweep", "--as-of", day, "--json")
                assert result.code == 0, result.err
                summary = result.json()
                outcomes.append((summary["sent"], summary["failed"]))
            assert outcomes == [(1, 1), (0, 1), (1, 0)]
            teams_rows = rows(db_url, "SELECT status, attempts FROM outbox WHERE channel='teams'")
            assert teams_rows == [("sent", 3)]
            posts = teams.requests
            assert len(posts) == 3 and all(p.json == posts[0].json for p in posts)
        assert [m.rcpt_tos[0] for m in smtp.messages] == recipients


class TestDatabaseDropped:
    @pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
    def test_connections_terminated_mid_sweep(
        self,
        uow: Callable[..., Any],
        cli_env: dict[str, str],
        db_url: str,
        prefect_api: str,
    ) -> None:
        """PostgreSQL terminates every connection of the sweep twice while it is delivering
        (after the 2nd and the 5th e-mail): the sweep reconnects and finishes, each message is
        delivered exactly once and the outbox says so (design: the outbox)."""
        recipients = seed_duties(uow, 12)
        admin = create_engine(
            make_url(db_url).set(database="postgres"), isolation_level="AUTOCOMMIT"
        )
        name = make_url(db_url).database
        terminated: list[int] = []

        def drop(count: int) -> None:
            if count in (2, 5):
                with admin.connect() as conn:
                    pids = conn.execute(
                        text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE datname = :n AND pid <> pg_backend_pid()"
                        ),
                        {"n": name},
                    ).all()
                terminated.append(len(pids))

        try:
            with SMTPServer(on_message=drop) as smtp:
                summary = run_to_end(sweep_env(cli_env, smtp))
                assert summary["sent"] == 12 and summary["failed"] == 0
                assert assert_consistent(db_url, recipients, smtp) == [], "nothing sent twice"
        finally:
            admin.dispose()
        assert len(terminated) == 2 and all(terminated), "the sweep's connections were dropped"


# ---------------------------------------------------------------------------------------------
# concurrency


class TestConcurrentSweeps:
    def test_four_sweeps_at_once(
        self,
        uow: Callable[..., Any],
        cli_env: dict[str, str],
        db_url: str,
        smtp: SMTPServer,
        prefect_api: str,
    ) -> None:
        """Four sweep processes started together (row claiming: FOR UPDATE SKIP LOCKED on
        PostgreSQL, the write lock on SQLite) all exit 0 and deliver each of 40 messages exactly
        once (design: the outbox)."""
        recipients = seed_duties(uow, 40)
        env = sweep_env(cli_env, smtp)
        procs = [start_sweep(env) for _ in range(4)]
        outputs = [p.communicate(timeout=240) for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0, 0], [o[1][-2000:] for o in outputs]
        assert assert_consistent(db_url, recipients, smtp) == [], "nothing sent twice"
        assert len(smtp.messages) == 40
