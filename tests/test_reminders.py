"""Reminders and escalation over real SMTP and HTTPS (issue 3): the sweep, the outbox, Teams.

Every sweep here runs the `reminders` Prefect flow against the session's Prefect server, delivering
to a real SMTP server on 127.0.0.1 and to a real HTTPS endpoint standing for Teams Workflows.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from models.clock import due_after
from services import accounts, obligations
from services.entities import get_entity
from tests import org
from tests.conftest import Result
from tests.servers import HTTPSEndpoint, SMTPServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

Smgov = Callable[..., Result]
ZURICH = "Europe/Zurich"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def teams(tmp_path: Path) -> Iterator[HTTPSEndpoint]:
    with HTTPSEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def wired(
    cli_env: dict[str, str],
    smtp: SMTPServer,
    teams: HTTPSEndpoint,
    tmp_path: Path,
    prefect_api: str,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """smgov configured for real SMTP and a Teams channel per entity and for the registry."""
    config = tmp_path / "apprise.yaml"
    config.write_text(
        "urls:\n"
        f"  - workflows://127.0.0.1:{teams.port}/ohchrflow/ohchrsignature/:\n"
        "    - tag: entity-ohchr\n"
        f"  - workflows://127.0.0.1:{teams.port}/registryflow/registrysignature/:\n"
        "    - tag: registry\n"
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(teams.cert_path))
    cli_env.update(
        {
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
            "SMGOV_SMTP_FROM": "smgov <smgov@un.example>",
            "SMGOV_APPRISE_CONFIG": str(config),
            "REQUESTS_CA_BUNDLE": str(teams.cert_path),
        }
    )
    return cli_env


def _at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=dt.UTC)


@pytest.fixture
def duties(uow: Callable[..., Any]) -> dict[str, int]:
    """Two obligations due 2026-03-11 (Zurich): the head's 3.5 entry duty for a new account, and
    an update duty assigned to the French-speaking administrator."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
    with uow(_at("2026-03-01")) as ctx:
        account_id = org.account(ctx, created_on=dt.date(2026, 3, 1))
        second = accounts.register(
            ctx,
            entity="OHCHR",
            platform="facebook",
            handle="unhumanrights",
            url="facebook.com/unhumanrights",
            languages=["fr"],
            purpose="p",
            audience="a",
            by="100001",
            created_on=dt.date(2026, 3, 1),
        )
        entity = get_entity(ctx, "OHCHR")
        update = obligations.open_obligation(
            ctx,
            key=f"update:{second.id}",
            clause="3.6",
            kind="update-entry",
            subject=f"account:{second.id}",
            entity=entity,
            assignee="100002",
            due_at=due_after(dt.date(2026, 3, 1), 10, ZURICH),
            actor="100001",
        )
        entry = obligations.find_open(ctx, f"entry:{account_id}")
        assert entry is not None and update.id is not None
        accounts.authorize(
            ctx,
            ref=str(second.id),
            staff="100002",
            role="administrator",
            by="100001",
            reference="R",
        )
        accounts.authorize(
            ctx, ref=str(second.id), staff="100003", role="alternate", by="100001", reference="R"
        )
        org.settle_authority(ctx)
        return {"account": account_id, "entry": entry.id, "update": update.id}  # type: ignore[dict-item]


def sweep(smgov: Smgov, day: str) -> dict[str, Any]:
    result = smgov("sweep", "--as-of", day, "--json")
    assert result.code == 0, result.err
    return result.json()  # type: ignore[no-any-return]


def inbox(smtp: SMTPServer, start: int) -> list[tuple[str, str]]:
    return sorted((m.rcpt_tos[0], m.subject) for m in smtp.messages[start:])


class TestStages:
    @pytest.mark.clause("3.1(b)")
    def test_series_of_sweeps(
        self,
        wired: dict[str, str],
        duties: dict[str, int],
        smgov: Smgov,
        smtp: SMTPServer,
        teams: HTTPSEndpoint,
    ) -> None:
        """Reminders at 7/3/1/0 days before, then escalation to the head from day 1 and to the
        registry from day 14, in each recipient's language, by e-mail and on Teams (issue 3, 1)."""
        head, admin, registry = (
            "head.ohchr@un.example",
            "admin.ohchr@un.example",
            "registry@un.example",
        )
        expected: list[tuple[str, set[str], int]] = [
            ("2026-03-03", set(), 0),
            ("2026-03-04", {head, admin}, 1),  # 7 days before the 11th
            ("2026-03-05", set(), 0),
            ("2026-03-08", {head, admin}, 1),  # 3 days before
            ("2026-03-10", {head, admin}, 1),  # 1 day before
            ("2026-03-11", {head, admin}, 1),  # the due day
            ("2026-03-12", {head, admin}, 1),  # 1 day overdue: the head hears of the admin's
            ("2026-03-13", set(), 0),
            ("2026-03-18", {head, admin}, 1),  # 7 days overdue
            ("2026-03-25", {head, admin, registry}, 2),  # 14: the registry team too
        ]
        for day, recipients, teams_posts in expected:
            seen_mail, seen_posts = len(smtp.messages), len(teams.requests)
            summary = sweep(smgov, day)
            got = smtp.messages[seen_mail:]
            assert {m.rcpt_tos[0] for m in got} == recipients, day
            assert len(got) == len(recipients), f"{day}: one digest per recipient"
            assert summary["sent"] == len(recipients) + teams_posts and summary["failed"] == 0
            assert len(teams.requests) - seen_posts == teams_posts, day
            for message in got:
                if message.rcpt_tos[0] == admin:
                    assert "jour" in message.body, "the administrator reads French"
                    assert "[3.6]" in message.body
                if message.rcpt_tos[0] == head and day == "2026-03-12":
                    assert "OVERDUE" in message.subject
                    assert (
                        "Escalated to you as head of entity: Administrator has not completed it."
                        in message.body
                    )
                    assert "1 day overdue" in message.body
                if message.rcpt_tos[0] == registry:
                    assert "registry team" in message.body and "14 days overdue" in message.body
        first = smtp.messages[0]
        assert first.message_id.endswith("@smgov.local>")
        by_reader = {m.rcpt_tos[0]: m.body for m in smtp.messages}
        assert "Due: 11 March 2026, end of day (Zurich)" in by_reader[head]
        assert "Échéance : 11 mars 2026, fin de journée (Zurich)" in by_reader[admin]
        posts = [p for p in teams.requests if "ohchrflow" in p.path]
        assert posts and "smgov" in str(posts[0].json)
        from tests.test_i18n import _card_validator

        card = posts[-1].json["attachments"][0]["content"]  # our card, through apprise
        assert card["type"] == "AdaptiveCard" and card["version"] == "1.5"
        assert not list(_card_validator().iter_errors(card))
        assert "Days left" in str(card) and "March 2026" in str(card)
        assert any("registryflow" in p.path for p in teams.requests)

    def test_same_sweep_twice_sends_nothing_more(
        self, wired: dict[str, str], duties: dict[str, int], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """Running the same sweep twice with the same --as-of sends nothing the second time."""
        assert sweep(smgov, "2026-03-04")["sent"] == 3
        again = sweep(smgov, "2026-03-04")
        assert again["queued"] == 0 and again["sent"] == 0
        assert len(smtp.messages) == 2

    def test_missed_days_send_latest_stage_only(
        self, wired: dict[str, str], duties: dict[str, int], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """After missed runs a sweep sends one message per obligation: the latest stage only."""
        assert sweep(smgov, "2026-03-04")["sent"] == 3
        start = len(smtp.messages)
        summary = sweep(smgov, "2026-03-11")  # the -3 and -1 runs were missed
        assert summary["obligations"] == 2 and summary["queued"] == 3  # 2 e-mails, 1 Teams
        mails = smtp.messages[start:]
        assert len(mails) == 2
        for mail in mails:
            assert mail.body.count("\n1. ") == 1 and "\n2. " not in mail.body
            assert "due today" in mail.body or "échéance aujourd'hui" in mail.body

    @pytest.mark.clause("3.5")
    def test_meeting_stops_reminders(
        self, wired: dict[str, str], duties: dict[str, int], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """Meeting an obligation (completing the entry, 3.5) stops its reminders from the next
        sweep on."""
        sweep(smgov, "2026-03-04")
        account = str(duties["account"])
        assert (
            smgov(
                "authorize",
                account,
                "--staff",
                "100002",
                "--role",
                "administrator",
                "--by",
                "100001",
                "--reference",
                "R1",
                "--as-of",
                "2026-03-05",
            ).code
            == 0
        )
        assert (
            smgov(
                "authorize",
                account,
                "--staff",
                "100003",
                "--role",
                "alternate",
                "--by",
                "100001",
                "--reference",
                "R2",
                "--as-of",
                "2026-03-05",
            ).code
            == 0
        )
        start = len(smtp.messages)
        sweep(smgov, "2026-03-08")
        # the head's entry duty met: no more to the head; each grant now owes its 4.1
        # acknowledgement (issue 17), so the two grantees are reminded of that
        assert {m.rcpt_tos[0] for m in smtp.messages[start:]} == {
            "admin.ohchr@un.example",
            "alt.ohchr@un.example",
        }

    def test_obligation_list(
        self, wired: dict[str, str], duties: dict[str, int], smgov: Smgov
    ) -> None:
        """`obligation list --json`: id, clause, kind, subject, assignee, due_at, state."""
        listed = smgov(
            "obligation", "list", "--state", "open", "--as-of", "2026-03-05", "--json"
        ).json()
        assert {(o["clause"], o["assignee"]) for o in listed} == {
            ("3.5", "100001"),
            ("3.6", "100002"),
        }
        assert all(o["due_at"] == "2026-03-11T22:59:59.999999Z" for o in listed)
        assert set(listed[0]) >= {"id", "clause", "kind", "subject", "assignee", "due_at", "state"}


class TestDaylightSaving:
    def test_stages_on_local_days_across_dst(
        self, wired: dict[str, str], uow: Callable[..., Any], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """Stages count local calendar days: in Zurich, where summer time starts on 29 March
        2026, the 7-day stage begins at local midnight before it and the 3-day stage after it."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
        with uow(_at("2026-03-20")) as ctx:
            entity = get_entity(ctx, "OHCHR")
            obligations.open_obligation(
                ctx,
                key="dst",
                clause="3.6",
                kind="update-entry",
                subject="account:99",
                entity=entity,
                assignee="100004",
                due_at=due_after(dt.date(2026, 3, 23), 10, ZURICH),
                actor="100001",
            )  # due 2 April
        steps = [
            ("2026-03-25T22:59:00Z", 0),  # 23:59 on the 25th, winter time (UTC+1)
            ("2026-03-25T23:00:00Z", 1),  # 00:00 on the 26th: 7 days before
            ("2026-03-29T21:59:00Z", 0),  # 23:59 on the 29th, summer time (UTC+2)
            ("2026-03-29T22:00:00Z", 1),  # 00:00 on the 30th: 3 days before
        ]
        for instant, count in steps:
            start = len(smtp.messages)
            sweep(smgov, instant)
            assert len(smtp.messages) - start == count, instant


class TestOutages:
    def test_smtp_down_then_up(
        self, wired: dict[str, str], duties: dict[str, int], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """With the SMTP server stopped a sweep records failures and loses nothing (exit 0); once
        it is back the next sweep delivers every pending message once."""
        smtp.stop()
        summary = sweep(smgov, "2026-03-04")
        assert summary["queued"] == 3 and summary["failed"] == 2 and summary["sent"] == 1
        failed = smgov("outbox", "list", "--failed", "--json").json()
        assert len(failed) == 2 and all(m["status"] == "failed" for m in failed)
        smtp.start()
        summary = sweep(smgov, "2026-03-05")
        assert summary["sent"] == 2 and summary["queued"] == 0
        assert sorted(m.rcpt_tos[0] for m in smtp.messages) == [
            "admin.ohchr@un.example",
            "head.ohchr@un.example",
        ]
        assert smgov("outbox", "list", "--failed", "--json").json() == []
        assert sweep(smgov, "2026-03-06")["sent"] == 0

    def test_teams_error_is_retried(
        self, wired: dict[str, str], duties: dict[str, int], smgov: Smgov, teams: HTTPSEndpoint
    ) -> None:
        """A Teams endpoint answering 500 is a failure retried later, not a loss."""
        teams.status = 500
        assert sweep(smgov, "2026-03-04")["failed"] == 1
        teams.status = 202
        assert sweep(smgov, "2026-03-05")["sent"] == 1

    def test_dead_letter_and_retry(
        self, wired: dict[str, str], duties: dict[str, int], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """After the last attempt a message is dead-lettered; `outbox retry` sends it again."""
        wired["SMGOV_OUTBOX_MAX_ATTEMPTS"] = "1"
        smtp.stop()
        sweep(smgov, "2026-03-04")
        dead = smgov("outbox", "list", "--failed", "--json").json()
        assert {m["status"] for m in dead} == {"dead"} and len(dead) == 2
        later = sweep(smgov, "2026-03-05")
        assert later["sent"] == 0 and later["failed"] == 0, "dead letters are not retried"
        assert all(
            m["status"] == "dead" for m in smgov("outbox", "list", "--failed", "--json").json()
        )
        smtp.start()
        result = smgov("outbox", "retry", "--as-of", "2026-03-05")
        assert result.code == 0 and "2 sent" in result.out
        assert smgov("outbox", "list", "--failed", "--json").json() == []


class TestConcurrency:
    def test_two_sweeps_at_once(
        self, wired: dict[str, str], duties: dict[str, int], smtp: SMTPServer, teams: HTTPSEndpoint
    ) -> None:
        """Two sweep processes started together both exit 0 and each message is delivered once."""
        import os

        env = {**wired, **{k: v for k, v in os.environ.items() if k.startswith("PREFECT_")}}
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "smgov.cli", "sweep", "--as-of", "2026-03-25", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=180) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], [o[1][-2000:] for o in outputs]
        recipients = [m.rcpt_tos[0] for m in smtp.messages]
        assert sorted(recipients) == sorted(set(recipients))
        assert set(recipients) == {
            "head.ohchr@un.example",
            "admin.ohchr@un.example",
            "registry@un.example",
        }
        assert len({m.message_id for m in smtp.messages}) == len(smtp.messages)
        assert len(teams.requests) == 2
