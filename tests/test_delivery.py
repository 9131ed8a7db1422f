"""Delivery at the mail server's pace (issue 20): a small pool of SMTP connections
(`SMGOV_SMTP_CONNECTIONS`, default 4) where the server allows, each reused for the run and reopened
when it has gone, with every message recorded before the next is handed over; Teams posts sharing
one HTTP session; `smgov outbox deliver` delivers what is due and queues nothing."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from models.settings import Settings
from notifications.channels import channels_from
from notifications.outbox import deliver, insert_many, message_values
from tests.conftest import Result
from tests.servers import HTTPSEndpoint, SMTPServer
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


def queue(uow: Callable[..., Any], count: int, channel: str = "email") -> dict[str, int]:
    """`count` pending e-mails, one per recipient (or Teams posts to one channel); their ids by
    Message-ID."""
    with uow(NOW) as ctx:
        return insert_many(
            session=ctx.session,
            rows=[
                message_values(
                    channel=channel,
                    recipient=f"person{n}@un.example" if channel == "email" else "entity-ohchr",
                    subject=f"item {n}",
                    body=f"This is smgov. Item {n}.\n.\n..a line starting with a dot",
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
    """With one connection allowed (`SMGOV_SMTP_CONNECTIONS=1`), sixty messages (more than one
    claimed batch) go over one SMTP connection, each with the outbox's own Message-ID, each
    recorded as sent."""
    ids = queue(uow, 60)
    one = mail_settings.model_copy(update={"smtp_connections": 1})
    report = deliver(engine, one, now=NOW)
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


class TestPool:
    def test_four_connections(
        self,
        uow: Callable[..., Any],
        engine: Engine,
        mail_settings: Settings,
        smtp: SMTPServer,
        db_url: str,
    ) -> None:
        """By default a run of 120 messages goes over four SMTP connections at once, each message
        received once, intact (lines starting with a dot included), with its Message-ID, and
        recorded as sent."""
        ids = queue(uow, 120)
        assert mail_settings.smtp_connections == 4, "the default"
        report = deliver(engine, mail_settings, now=NOW)
        assert report.sent == 120 and report.failed == report.dead == 0
        received = smtp.messages
        assert Counter(m.message_id for m in received) == Counter(list(ids)), "each once"
        assert len({m.peer for m in received}) == 4, "four connections"
        ending = ".\r\n..a line starting with a dot\r\n"
        assert all(m.body.endswith(f"Item {m.subject[5:]}.\r\n{ending}") for m in received)
        assert statuses(db_url) == {"sent": 120}

    def test_each_recorded_before_the_next_is_handed_over(
        self,
        uow: Callable[..., Any],
        engine: Engine,
        mail_settings: Settings,
        db_url: str,
    ) -> None:
        """Whatever the number of connections, when the server takes a message every message
        it took before is already recorded as sent: a process killed at any moment leaves at
        most one message with the server and not recorded, the one it repeats (design: the
        outbox)."""
        queue(uow, 80)
        check = create_engine(db_url)
        behind: list[tuple[int, int]] = []

        def recorded(count: int) -> None:  # in the server, before it answers 250
            with check.connect() as conn:
                sent = conn.execute(
                    text("SELECT count(*) FROM outbox WHERE status = 'sent'")
                ).scalar_one()
            if sent != count - 1:
                behind.append((count, sent))

        try:
            with SMTPServer(on_message=recorded) as server:
                settings = mail_settings.model_copy(update={"smtp_port": server.port})
                report = deliver(engine, settings, now=NOW)
                peers = {m.peer for m in server.messages}
        finally:
            check.dispose()
        assert report.sent == 80 and len(peers) == 4
        assert behind == []

    @pytest.mark.parametrize("allowed", [1, 2])
    def test_server_allowing_fewer_connections(
        self,
        allowed: int,
        uow: Callable[..., Any],
        engine: Engine,
        mail_settings: Settings,
        db_url: str,
    ) -> None:
        """A mail server that greets connections beyond the first one (or two) with 421 gets
        every message anyway, over the connections it allows, none failed, none twice."""
        ids = queue(uow, 60)
        with SMTPServer(max_connections=allowed) as server:
            settings = mail_settings.model_copy(update={"smtp_port": server.port})
            report = deliver(engine, settings, now=NOW)
            received = server.messages
            refused = server.refused_connections
        assert report.sent == 60 and report.failed == report.dead == 0
        assert Counter(m.message_id for m in received) == Counter(list(ids)), "each once"
        assert len({m.peer for m in received}) == allowed
        assert refused == 4 - allowed, "the others were tried, and refused"
        assert statuses(db_url) == {"sent": 60}

    def test_refused_recipient_fails_alone(
        self,
        uow: Callable[..., Any],
        engine: Engine,
        mail_settings: Settings,
        db_url: str,
    ) -> None:
        """A recipient the server refuses (550) is that message's failure, kept for a later
        attempt; the connection goes on with the next message, and the others are delivered."""
        queue(uow, 20)
        with SMTPServer(refuse=["person3@un.example"]) as server:
            settings = mail_settings.model_copy(update={"smtp_port": server.port})
            report = deliver(engine, settings, now=NOW)
            received = server.messages
        assert report.sent == 19 and report.failed == 1
        assert "person3@un.example" not in {m.rcpt_tos[0] for m in received}
        assert statuses(db_url) == {"sent": 19, "failed": 1}
        engine_ = create_engine(db_url)
        with engine_.connect() as conn:
            error = conn.execute(
                text("SELECT last_error FROM outbox WHERE status = 'failed'")
            ).scalar_one()
        engine_.dispose()
        assert error == "not delivered (recipient refused)"

    def test_server_down(
        self,
        uow: Callable[..., Any],
        engine: Engine,
        mail_settings: Settings,
        smtp: SMTPServer,
        db_url: str,
    ) -> None:
        """With the mail server down, every message is a failure recorded for a later attempt
        (one each), nothing is lost; once it is back a later run delivers each once."""
        ids = queue(uow, 7)
        smtp.stop()
        report = deliver(engine, mail_settings, now=NOW)
        assert report.sent == 0 and report.failed == 7
        assert statuses(db_url) == {"failed": 7}
        smtp.start()
        later = deliver(engine, mail_settings, now=NOW + dt.timedelta(hours=1))
        assert later.sent == 7
        assert Counter(m.message_id for m in smtp.messages) == Counter(list(ids))


def test_teams_posts_share_one_session(
    uow: Callable[..., Any],
    engine: Engine,
    mail_settings: Settings,
    smtp: SMTPServer,
    db_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twelve Teams posts of a run go through apprise's Workflows plugin over one HTTPS
    connection kept alive (one TLS handshake), beside the e-mails' pool; each is received once
    and recorded as sent."""
    queue(uow, 12, channel="teams")
    queue(uow, 20)
    with HTTPSEndpoint(keep_alive=True) as teams:
        config = tmp_path / "apprise.yaml"
        config.write_text(
            "urls:\n"
            f"  - workflows://127.0.0.1:{teams.port}/ohchrflow/ohchrsignature/:\n"
            "    - tag: entity-ohchr\n"
        )
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(teams.cert_path))
        settings = mail_settings.model_copy(update={"apprise_config": config})
        report = deliver(engine, settings, now=NOW)
        posts = teams.requests
    assert report.sent == 32 and report.failed == 0
    assert len(posts) == 12 and all("ohchrsignature" in p.path for p in posts)
    assert len({p.peer for p in posts}) == 1, "one connection for the run's posts"
    assert statuses(db_url) == {"sent": 32}
