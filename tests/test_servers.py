"""The local test servers are real, and apprise talks to them the way smgov will."""

from __future__ import annotations

import json
import smtplib
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

import apprise
import pytest

if TYPE_CHECKING:
    from tests.servers import HTTPSEndpoint, SMTPServer
else:
    try:  # tests/ is a package, or the repo root is on sys.path
        from tests.servers import HTTPSEndpoint, SMTPServer
    except ImportError:  # pytest put tests/ itself on sys.path (no tests/__init__.py)
        from servers import HTTPSEndpoint, SMTPServer

FROM = "smgov%20%3Csmgov@example.org%3E"  # "smgov <smgov@example.org>", URL-encoded

insecure_tls = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")


def make_apprise(url: str) -> apprise.Apprise:
    """An Apprise object holding exactly ``url``, with the per-send throttle disabled."""
    a = apprise.Apprise()
    assert a.add(url), f"apprise rejected {url}"
    for service in a:
        service.request_rate_per_sec = 0
    return a


def mail_url(server: SMTPServer, to: str = "a@example.org", creds: str = "") -> str:
    """The insecure (plain SMTP, no TLS) mailto:// URL smgov uses for a local relay."""
    return f"mailto://{creds}{server.host}:{server.port}?from={FROM}&to={to}&mode=insecure"


def workflows_url(endpoint: HTTPSEndpoint, query: str = "?verify=no") -> str:
    """The Power Automate Workflows URL pointing at the local HTTPS endpoint."""
    return f"workflows://{endpoint.host}:{endpoint.port}/WORKFLOWID/SIGNATURE/{query}"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    """A running SMTP server without authentication."""
    with SMTPServer() as server:
        yield server


@pytest.fixture
def endpoint() -> Iterator[HTTPSEndpoint]:
    """A running HTTPS endpoint answering 202."""
    with HTTPSEndpoint() as server:
        yield server


# ----------------------------------------------------------------------------- SMTP


@pytest.mark.parametrize(
    "from_arg",
    [FROM, "smgov%20<smgov@example.org>"],
    ids=["encoded", "angle-brackets"],
)
def test_apprise_sends_email_over_insecure_smtp(smtp: SMTPServer, from_arg: str) -> None:
    """Apprise delivers one email through mode=insecure; the server records it decoded."""
    url = f"mailto://{smtp.host}:{smtp.port}?from={from_arg}&to=a@example.org&mode=insecure"
    assert make_apprise(url).notify(title="Hello é", body="The body é")

    [msg] = smtp.wait_for(1)
    assert msg.mail_from == "smgov@example.org"
    assert msg.rcpt_tos == ["a@example.org"]
    assert msg.subject == "Hello é"
    assert msg.body.strip() == "The body é"
    assert msg.message_id.startswith("<")
    assert msg.message_id.endswith(">")
    assert msg.headers["From"] == "smgov <smgov@example.org>"
    assert msg.headers["To"] == "a@example.org"
    assert b"Subject:" in msg.raw


@pytest.mark.parametrize(
    "creds_or_args",
    ["smgov:s3cret@", "&user=smgov&pass=s3cret"],
    ids=["userinfo", "query-args"],
)
def test_smtp_auth_accepts_right_password(creds_or_args: str) -> None:
    """With auth set, apprise logs in with the right user/password and the mail arrives."""
    with SMTPServer(auth=("smgov", "s3cret")) as server:
        if creds_or_args.startswith("&"):
            url = mail_url(server) + creds_or_args
        else:
            url = mail_url(server, creds=creds_or_args)
        assert make_apprise(url).notify(title="Authenticated", body="ok")
        [msg] = server.wait_for(1)
        assert msg.subject == "Authenticated"
        assert msg.mail_from == "smgov@example.org"


def test_smtp_auth_rejects_wrong_password() -> None:
    """A wrong password makes apprise report failure and nothing is recorded."""
    with SMTPServer(auth=("smgov", "s3cret")) as server:
        assert not make_apprise(mail_url(server, creds="smgov:wrong@")).notify(body="no")
        assert server.messages == []


def test_smtp_auth_required_before_mail() -> None:
    """Without logging in, the server refuses MAIL FROM (530) when auth is configured."""
    with SMTPServer(auth=("smgov", "s3cret")) as server:
        assert "AUTH" in _ehlo_features(server)
        assert not make_apprise(mail_url(server)).notify(body="anonymous")
        with smtplib.SMTP(server.host, server.port, timeout=5) as client:
            client.ehlo()
            code, _ = client.mail("smgov@example.org")
        assert code == 530
        assert server.messages == []


def _ehlo_features(server: SMTPServer) -> str:
    with smtplib.SMTP(server.host, server.port, timeout=5) as client:
        client.ehlo()
        return " ".join(f"{k.upper()} {v}" for k, v in client.esmtp_features.items())


def test_refused_recipient_fails() -> None:
    """A recipient in ``refuse`` gets 550 at RCPT, so apprise reports failure."""
    with SMTPServer(refuse={"No@Example.org"}) as server:
        assert not make_apprise(mail_url(server, to="no@example.org")).notify(body="x")
        assert server.messages == []

        # one refused, one accepted: apprise fails overall, the good one is delivered
        assert not make_apprise(mail_url(server, to="a@example.org,no@example.org")).notify(
            title="Mixed", body="x"
        )
        [msg] = server.wait_for(1)
        assert msg.rcpt_tos == ["a@example.org"]


def test_stop_then_start_reuses_the_same_port(smtp: SMTPServer) -> None:
    """After stop() sends fail; start() listens again on the same port and mail flows."""
    port = smtp.port
    notifier = make_apprise(mail_url(smtp))
    assert notifier.notify(title="before", body="x")

    smtp.stop()
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP(smtp.host, port, timeout=2)
    assert not notifier.notify(title="during outage", body="x")

    smtp.start()
    assert smtp.port == port
    assert notifier.notify(title="after", body="x")
    assert [m.subject for m in smtp.wait_for(2)] == ["before", "after"]


def test_on_message_runs_after_each_message_is_recorded() -> None:
    """on_message gets the running count, and the message is already in ``messages``."""
    seen: list[tuple[int, int]] = []
    with SMTPServer() as server:
        server.on_message = lambda n: seen.append((n, len(server.messages)))
        notifier = make_apprise(mail_url(server))
        assert notifier.notify(body="one")
        assert notifier.notify(body="two")
        server.wait_for(2)
    assert seen == [(1, 1), (2, 2)]


def test_wait_for_times_out(smtp: SMTPServer) -> None:
    """wait_for raises TimeoutError when too few messages arrive."""
    start = time.monotonic()
    with pytest.raises(TimeoutError, match="expected 1 messages"):
        smtp.wait_for(1, timeout=0.2)
    assert time.monotonic() - start < 2


# ---------------------------------------------------------------------------- HTTPS


@insecure_tls
def test_workflows_posts_adaptive_card(endpoint: HTTPSEndpoint) -> None:
    """Apprise's workflows:// plugin POSTs an Adaptive Card with title and body."""
    assert make_apprise(workflows_url(endpoint)).notify(title="Card title", body="Card body")

    [post] = endpoint.wait_for(1)
    url = urlsplit(post.path)
    assert url.path == "/workflows/WORKFLOWID/triggers/manual/paths/invoke"
    query = parse_qs(url.query)
    assert query["sig"] == ["SIGNATURE"]
    assert query["sp"] == ["/triggers/manual/run"]
    assert post.headers["Content-Type"] == "application/json"
    assert post.json is not None
    assert post.json == json.loads(post.body)
    [attachment] = post.json["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    texts = [b.get("text") for b in attachment["content"]["body"]]
    assert "Card title" in texts
    assert "Card body" in texts


@insecure_tls
def test_workflows_reports_failure_on_http_500(endpoint: HTTPSEndpoint) -> None:
    """When the endpoint answers 500, apprise reports failure (the POST still arrived)."""
    endpoint.status = 500
    assert not make_apprise(workflows_url(endpoint)).notify(title="t", body="b")
    assert len(endpoint.wait_for(1)) == 1


@insecure_tls
def test_workflows_reports_failure_on_timeout(endpoint: HTTPSEndpoint) -> None:
    """A slow endpoint (delay beyond apprise's read timeout) makes apprise report failure."""
    endpoint.delay = 1.5
    start = time.monotonic()
    assert not make_apprise(workflows_url(endpoint, "?verify=no&rto=0.3")).notify(body="b")
    assert time.monotonic() - start < 1.4
    assert len(endpoint.wait_for(1)) == 1


def test_workflows_trusts_cert_via_requests_ca_bundle(
    endpoint: HTTPSEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Certificate verification stays on: untrusted fails, REQUESTS_CA_BUNDLE makes it pass."""
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    notifier = make_apprise(workflows_url(endpoint, ""))
    assert not notifier.notify(title="untrusted", body="b")
    assert endpoint.requests == []  # the TLS handshake failed before any request

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(endpoint.cert_path))
    assert notifier.notify(title="trusted", body="b")
    assert len(endpoint.wait_for(1)) == 1


@insecure_tls
def test_https_stop_then_start_reuses_the_same_port(endpoint: HTTPSEndpoint) -> None:
    """The HTTPS endpoint can be stopped (sends fail) and restarted on the same port."""
    port, cert = endpoint.port, endpoint.cert_path
    notifier = make_apprise(workflows_url(endpoint))
    endpoint.stop()
    assert not notifier.notify(body="down")
    endpoint.start()
    assert (endpoint.port, endpoint.cert_path) == (port, cert)
    assert notifier.notify(body="up")
    assert len(endpoint.wait_for(1)) == 1
