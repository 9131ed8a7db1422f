"""Delivery at the mail server's pace (issue 20): one SMTP connection for a run's messages,
reopened when it has gone; `smgov outbox deliver` delivers what is due and queues nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from models.settings import Settings
from notifications.channels import channels_from
from notifications.outbox import deliver, insert_many, message_values
from tests.conftest import Result
from tests.servers import SMTPServer
from tests.test_faults import seed_duties

NOW = dt.datetime(2026, 3, 4, 12, tzinfo=dt.UTC)


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def mail_settings(settings: Settings, smtp: SMTPServer) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_tls": "none"}
    )


def queue(uow: Callable[..., Any], count: int) -> dict[str, int]:
    """`count` pending e-mails, one per recipient; their ids by Message-ID."""
    with uow(NOW) as ctx:
        return insert_many(
            session=ctx.session,
            rows=[
                message_values(
                    channel="email",
                    recipient=f"person{n}@un.example",
                    subject=f"item {n}",
                    body=f"This is smgov. Item {n}.",
                    now=NOW,
                )
                for n in range(count)
            ],
        )


def statuses(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as conn:
        found = {
            str(status): int(count)
            for status, count in conn.execute(
                text("SELECT status, count(*) FROM outbox GROUP BY status")
            )
        }
    engine.dispose()
    return found


def test_one_connection_for_a_run(
    uow: Callable[..., Any],
    engine: Engine,
    mail_settings: Settings,
    smtp: SMTPServer,
    db_url: str,
) -> None:
    """Sixty messages (more than one claimed batch) go over one SMTP connection, each with the
    outbox's own Message-ID, each recorded as sent."""
    ids = queue(uow, 60)
    report = deliver(engine, mail_settings, now=NOW)
    assert report.sent == 60 and report.failed == report.dead == 0
    received = smtp.messages
    assert sorted(m.message_id for m in received) == sorted(ids)
    assert len({m.peer for m in received}) == 1, "one connection"
    assert statuses(db_url) == {"sent": 60}


def test_reconnects_when_the_connection_has_gone(
    uow: Callable[..., Any],
    engine: Engine,
    mail_settings: Settings,
    smtp: SMTPServer,
    db_url: str,
) -> None:
    """The mail server restarts between two runs sharing the channels: the connection the
    first run left open has gone; the second run opens a new one and sends everything, with
    nothing recorded as failed."""
    ids = sorted(queue(uow, 10).values())
    channels = channels_from(mail_settings)
    try:
        assert deliver(engine, mail_settings, now=NOW, channels=channels, only=set(ids[:4])).sent
        smtp.stop()
        smtp.start()
        report = deliver(engine, mail_settings, now=NOW, channels=channels)
    finally:
        close = getattr(channels["email"], "close", None)
        assert close is not None
        close()
    assert report.sent == 6 and report.failed == 0
    peers = [m.peer for m in smtp.messages]
    assert len(set(peers[:4])) == 1 and len(set(peers[4:])) == 1 and peers[0] != peers[4]
    assert statuses(db_url) == {"sent": 10}


def test_outbox_deliver_queues_nothing(
    uow: Callable[..., Any],
    smgov: Callable[..., Result],
    cli_env: dict[str, str],
    smtp: SMTPServer,
    db_url: str,
) -> None:
    """`smgov outbox deliver --as-of` sends the messages due and queues no reminder, though
    duties are due for one (the sweep's work); a second run sends nothing more."""
    seed_duties(uow, 3)
    queue(uow, 5)
    cli_env.update(
        {
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
        }
    )
    done = smgov("outbox", "deliver", "--as-of", "2026-03-04T12:00:00Z", "--json")
    assert done.code == 0, done.err
    assert done.json() == {"sent": 5, "failed": 0, "dead": 0}
    assert statuses(db_url) == {"sent": 5}
    again = smgov("outbox", "deliver", "--as-of", "2026-03-04T12:00:00Z")
    assert again.code == 0 and again.out.startswith("0 sent"), again.out
    assert len(smtp.messages) == 5
