"""HR separation and reassignment (issue 7, 4.2): the webhook, the CLI and CSV doors, revocation,
credential handover, orphaned accounts, custody and incidents — over real SMTP and HTTP."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from models.clock import system_now
from smgov.api import sign
from tests import org
from tests.conftest import Result
from tests.servers import SMTPServer, start_api

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

Smgov = Callable[..., Result]
SECRET = "webhook-shared-secret-0123456789abcdef"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def env(cli_env: dict[str, str], smtp: SMTPServer, prefect_api: str) -> dict[str, str]:
    """smgov wired to a real SMTP server, a registry and a security address, and the webhook."""
    cli_env.update(
        {
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
            "SMGOV_SECURITY_EMAIL": "dss@un.example",
            "SMGOV_HR_WEBHOOK_SECRET": SECRET,
        }
    )
    return cli_env


@pytest.fixture
def held(uow: Callable[..., Any]) -> dict[str, int]:
    """Two accounts administered by 100002 with 100003 as alternate; one run by 100004 alone."""
    with uow(org.T0) as ctx:
        org.seed(ctx)
    with uow(org.T0) as ctx:
        first = org.account(ctx)
        second = org.account(
            ctx, platform="instagram", url="instagram.com/unhumanrights", handle="unhumanrights"
        )
        org.complete(ctx, first)
        org.complete(ctx, second)
        lone = org.account(
            ctx, platform="tiktok", url="tiktok.com/@unhumanrights", handle="unhumanrights"
        )
        from services.accounts import authorize

        authorize(
            ctx,
            ref=str(lone),
            staff="100004",
            role="administrator",
            by="100001",
            reference="R-lone",
        )
    return {"first": first, "second": second, "lone": lone}


def _rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(sql))]
    engine.dispose()
    return rows


class _Api:
    def __init__(self, env: dict[str, str]) -> None:
        self.output = ""  # what it wrote, once stopped
        self.log = Path(tempfile.mkdtemp()) / "api.log"
        self.proc, self.port = start_api(
            {**env, **{k: v for k, v in os.environ.items() if k.startswith("PREFECT_")}}, self.log
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def post(self, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
        request = urllib.request.Request(  # noqa: S310 (our own http://127.0.0.1 server)
            f"{self.url}/hr/events",
            data=body,
            method="POST",
            headers={"content-type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def signed(
        self, event: dict[str, Any], *, skew: int = 0, secret: str = SECRET
    ) -> tuple[int, Any]:
        body = json.dumps(event).encode()
        stamp = str(int(time.time()) + skew)
        return self.post(
            body, {"X-Smgov-Timestamp": stamp, "X-Smgov-Signature": sign(secret, stamp, body)}
        )

    def stop(self) -> None:
        """Stop the api; what it wrote is then in `output`."""
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.output = self.log.read_text(errors="replace")
        shutil.rmtree(self.log.parent)


@pytest.fixture
def api(env: dict[str, str]) -> Iterator[_Api]:
    server = _Api(env)
    yield server
    server.stop()


def _today() -> str:
    return system_now().date().isoformat()


class TestWebhook:
    @pytest.mark.clause("4.2")
    def test_signed_separation_revokes_and_hands_over(
        self, api: _Api, held: dict[str, int], smgov: Smgov, smtp: SMTPServer, db_url: str
    ) -> None:
        """A signed separation event for today: within one sweep the person's authorizations
        are revoked, a handover obligation exists per account, the alternate and the head get
        e-mails, and the audit trail names the event (4.2; issue 7, 1)."""
        status, body = api.signed(
            {"event_id": "HR-1", "type": "separation", "staff": "100002", "effective": _today()}
        )
        assert status == 202 and body["stored"] == ["HR-1"]
        assert smgov("sweep", "--json").code == 0
        auths = smgov("staff", "show", "100002", "--json").json()["authorizations"]
        assert len(auths) == 2 and all(a["revoked_on"] for a in auths)
        assert smgov("staff", "show", "100002", "--json").json()["status"] == "separated"
        handovers = [
            o
            for o in smgov("obligation", "list", "--state", "open", "--json").json()
            if o["kind"] == "credential-handover"
        ]
        assert sorted(o["subject"] for o in handovers) == [
            f"account:{held['first']}",
            f"account:{held['second']}",
        ]
        assert {o["assignee"] for o in handovers} == {"100003"}
        mails = smtp.wait_for(2)
        recipients = {m.rcpt_tos[0] for m in mails}
        assert {"alt.ohchr@un.example", "head.ohchr@un.example"} <= recipients
        # the sweep also reminds the alternate of other duties: the messages go over several
        # connections at once, in no set order, and one of them is the handover's
        to_alternate = [m.body for m in mails if m.rcpt_tos[0] == "alt.ohchr@un.example"]
        assert any("two-factor" in body and "[4.2]" in body for body in to_alternate)
        audit = _rows(
            db_url, "SELECT action, after FROM audit_event WHERE action = 'hr.separation'"
        )
        assert len(audit) == 1 and "HR-1" in audit[0][1]

    def test_replays_and_forgeries(
        self, api: _Api, held: dict[str, int], smgov: Smgov, db_url: str
    ) -> None:
        """The same event twice changes nothing the second time; unsigned, badly signed and
        stale requests get 401 and store nothing (issue 7, 2)."""
        event = {
            "event_id": "HR-2",
            "type": "separation",
            "staff": "100004",
            "effective": "2099-01-01",
        }
        assert api.signed(event)[0] == 202
        status, body = api.signed(event)
        assert status == 202 and body["duplicates"] == ["HR-2"] and body["stored"] == []
        body_bytes = json.dumps({**event, "event_id": "HR-3"}).encode()
        assert api.post(body_bytes, {})[0] == 401
        assert api.signed({**event, "event_id": "HR-4"}, secret="wrong")[0] == 401
        assert api.signed({**event, "event_id": "HR-5"}, skew=-301)[0] == 401
        assert api.signed({**event, "event_id": "HR-6"}, skew=400)[0] == 401
        assert (
            api.signed(
                {
                    "event_id": "HR-7",
                    "type": "holiday",
                    "staff": "100004",
                    "effective": "2026-01-01",
                }
            )[0]
            == 422
        )
        assert [r[0] for r in _rows(db_url, "SELECT event_id FROM hr_event")] == ["HR-2"]

    def test_unknown_staff_is_kept_and_flagged(
        self, api: _Api, held: dict[str, int], smgov: Smgov
    ) -> None:
        """An event for an unknown staff member is stored and flagged, never dropped."""
        status, body = api.signed(
            {"event_id": "HR-8", "type": "separation", "staff": "999999", "effective": _today()}
        )
        assert status == 202 and body["flagged"] == ["HR-8"]
        listed = smgov("hr", "list", "--json").json()
        assert listed[0]["state"] == "flagged" and listed[0]["flag"] == "unknown staff member"


class TestEffectiveDates:
    @pytest.mark.clause("4.2")
    def test_future_event_acts_on_its_date(
        self, env: dict[str, str], held: dict[str, int], smgov: Smgov
    ) -> None:
        """A future-dated event revokes nothing before its date and everything on it (4.2)."""
        result = smgov(
            "hr",
            "event",
            "--type",
            "reassignment",
            "--staff",
            "100002",
            "--effective",
            "2026-03-10",
            "--id",
            "HR-F",
            "--new-entity",
            "OHCHR",
            "--as-of",
            "2026-03-01",
        )
        assert result.code == 0, result.err
        assert smgov("sweep", "--as-of", "2026-03-09").code == 0
        held_before = smgov("staff", "show", "100002", "--as-of", "2026-03-09", "--json").json()
        assert all(a["revoked_on"] is None for a in held_before["authorizations"])
        assert smgov("sweep", "--as-of", "2026-03-10").code == 0
        after = smgov("staff", "show", "100002", "--json").json()
        assert all(a["revoked_on"] for a in after["authorizations"])
        assert after["status"] == "active", "reassigned within the entity: still active staff"

    @pytest.mark.clause("3.7")
    def test_return_restores_status_only(
        self, env: dict[str, str], held: dict[str, int], smgov: Smgov
    ) -> None:
        """A return restores active status and nothing else: authorize again in writing (3.7)."""
        for kind, day in (("separation", "2026-03-01"), ("return", "2026-04-01")):
            assert (
                smgov(
                    "hr",
                    "event",
                    "--type",
                    kind,
                    "--staff",
                    "100002",
                    "--effective",
                    day,
                    "--as-of",
                    day,
                ).code
                == 0
            )
        person = smgov("staff", "show", "100002", "--json").json()
        assert person["status"] == "active"
        assert all(a["revoked_on"] for a in person["authorizations"])


class TestOrphans:
    def test_last_authorized_person_leaves(
        self, env: dict[str, str], held: dict[str, int], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """The only authorized staff member leaves: the account is orphaned and the head and the
        registry team are alerted at once (issue 7, 4)."""
        result = smgov(
            "hr",
            "event",
            "--type",
            "separation",
            "--staff",
            "100004",
            "--effective",
            "2026-03-01",
            "--as-of",
            "2026-03-01",
        )
        assert result.code == 0 and "accounts orphaned: 1" in result.out, result.out + result.err
        alerts = [m for m in smtp.wait_for(2) if "ORPHANED" in m.subject]
        assert {m.rcpt_tos[0] for m in alerts} == {"head.ohchr@un.example", "registry@un.example"}
        handover = [
            o
            for o in smgov(
                "obligation", "list", "--state", "open", "--as-of", "2026-03-01", "--json"
            ).json()
            if o["kind"] == "credential-handover"
        ]
        assert [o["assignee"] for o in handover] == ["100001"], "the head takes the handover"


class TestCsvImport:
    def test_thousand_events_with_bad_rows(
        self, env: dict[str, str], held: dict[str, int], smgov: Smgov, tmp_path: Path, db_url: str
    ) -> None:
        """A CSV of 1,000 events imports in one run: good rows applied, bad rows reported by row
        number and field, unknown staff flagged (issue 7, 6)."""
        lines = ["event_id,type,staff,effective,new_entity"]
        lines.append("E-0,separation,100003,2026-03-01,")
        for n in range(1, 1000):
            if n % 100 == 0:
                lines.append(f"E-{n},holiday,100002,2026-03-01,")  # bad type
            elif n % 101 == 0:
                lines.append(f"E-{n},separation,100002,2026-02-30,")  # bad date
            else:
                lines.append(f"E-{n},separation,9{n:05d},2026-03-01,")  # unknown: flagged
        path = tmp_path / "hr.csv"
        path.write_text("\n".join(lines) + "\n")
        result = smgov("hr", "import", str(path), "--as-of", "2026-03-02", "--json")
        assert result.code == 0, result.err
        summary = result.json()
        assert summary["stored"] == 1 and summary["applied"] == 1 and summary["revoked"] == 2
        bad = {row["row"]: row["error"] for row in summary["bad_rows"]}
        assert len(bad) == 9 + 9
        assert bad[102].startswith("type:") and bad[103].startswith("effective:")
        assert len(summary["flagged"]) == 1000 - 1 - 18
        again = smgov("hr", "import", str(path), "--as-of", "2026-03-02", "--json").json()
        assert again["stored"] == 0 and again["duplicates"] == 1000 - 18
        assert _rows(db_url, "SELECT count(*) FROM hr_event")[0][0] == 1000 - 18

    def test_malformed_file(
        self, env: dict[str, str], held: dict[str, int], smgov: Smgov, tmp_path: Path
    ) -> None:
        """A file with the wrong columns is refused with one error line, exit 2."""
        path = tmp_path / "wrong.csv"
        path.write_text("id,who\n1,2\n")
        result = smgov("hr", "import", str(path))
        assert result.code == 2 and result.err.startswith("error: FILE: missing columns")


class TestCustodyAndIncidents:
    @pytest.mark.clause("4.2")
    def test_attest_meets_handover_and_schedules_rotation(
        self, env: dict[str, str], held: dict[str, int], smgov: Smgov, db_url: str
    ) -> None:
        """Custody attestation meets the handover and schedules rotation in 180 days; only the
        vault reference is stored, never a secret (4.2)."""
        smgov(
            "hr",
            "event",
            "--type",
            "separation",
            "--staff",
            "100002",
            "--effective",
            "2026-03-01",
            "--as-of",
            "2026-03-01",
        )
        account = str(held["first"])
        refused = smgov(
            "custody",
            "attest",
            account,
            "--vault-ref",
            "hunter2 password",
            "--by",
            "100003",
            "--as-of",
            "2026-03-02",
        )
        assert refused.code == 2 and "--vault-ref" in refused.err
        assert (
            smgov(
                "custody",
                "attest",
                account,
                "--vault-ref",
                "vault:kv/ohchr/x-un",
                "--by",
                "100003",
                "--as-of",
                "2026-03-02",
            ).code
            == 0
        )
        open_ = smgov(
            "obligation", "list", "--state", "open", "--as-of", "2026-03-02", "--json"
        ).json()
        kinds = {(o["kind"], o["subject"]): o for o in open_}
        assert ("credential-handover", f"account:{account}") not in kinds
        rotation = kinds[("credential-rotation", f"account:{account}")]
        assert rotation["due_at"].startswith("2026-08-29")
        assert _rows(db_url, "SELECT vault_ref FROM credential_custody") == [
            ("vault:kv/ohchr/x-un",)
        ]

    @pytest.mark.clause("4.1(d)")
    @pytest.mark.clause("4.2")
    def test_compromise_alerts_at_once(
        self, env: dict[str, str], held: dict[str, int], smgov: Smgov, smtp: SMTPServer
    ) -> None:
        """A reported compromise reaches Safety and Security, the head and the registry team,
        and opens a rotation due the same day (4.1(d), 4.2; issue 7, 7)."""
        result = smgov(
            "incident",
            "report",
            str(held["first"]),
            "--kind",
            "compromise",
            "--details",
            "Unknown login from abroad",
            "--by",
            "100003",
            "--as-of",
            "2026-03-05",
        )
        assert result.code == 0, result.err
        mails = smtp.wait_for(3)
        incident = {m.rcpt_tos[0] for m in mails if "Security incident" in m.subject}
        assert incident == {"dss@un.example", "head.ohchr@un.example", "registry@un.example"}
        rotation = [
            o
            for o in smgov(
                "obligation", "list", "--state", "open", "--as-of", "2026-03-05", "--json"
            ).json()
            if o["kind"] == "credential-rotation"
        ]
        assert len(rotation) == 1 and rotation[0]["due_at"].startswith("2026-03-05")
        assert rotation[0]["assignee"] == "100002"


@pytest.fixture
def flow_env(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This process's environment as a flow run's: the flows read their settings from it."""
    for key, value in env.items():
        if key.startswith("SMGOV_"):
            monkeypatch.setenv(key, value)
    return env


def _separate(uow: Callable[..., Any], event_id: str, staff: str) -> None:
    """Record a separation of `staff` effective 2026-03-01 (nothing acts on it yet)."""
    from models.hr import parse_event
    from services.separation import record

    event = {"event_id": event_id, "type": "separation", "staff": staff, "effective": "2026-03-01"}
    with uow(org.T0) as ctx:
        record(ctx, [parse_event(event)], source="test")


class TestRevocationFirst:
    @pytest.mark.clause("4.2")
    def test_revocations_commit_before_notices_and_the_sweep_sends_what_failed(
        self,
        flow_env: dict[str, str],
        held: dict[str, int],
        uow: Callable[..., Any],
        db_url: str,
        smgov: Smgov,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Applying HR events commits the revocations, then the handover duty and the orphan
        alerts, before the first notices of the new duties are queued (issue 9); when queueing
        fails all of that stays and the next sweep sends the handover notice once (4.2)."""
        import services.reminders
        from flows.common import apply_hr_events

        _separate(uow, "RF-1", "100004")

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the notices could not be queued")

        with monkeypatch.context() as patch:
            patch.setattr(services.reminders, "queue_due", broken)
            with pytest.raises(RuntimeError, match="could not be queued"):
                apply_hr_events("2026-03-01T09:00:00+00:00")
        held_now = "SELECT count(*) FROM written_authorization WHERE staff_index = '100004'"
        assert _rows(db_url, held_now + " AND revoked_at IS NULL")[0][0] == 0
        duties = _rows(
            db_url,
            "SELECT id FROM obligation WHERE kind = 'credential-handover' AND state = 'open'",
        )
        assert len(duties) == 1, "the handover duty committed before the notices"
        orphan = "SELECT count(*) FROM outbox WHERE subject LIKE '%ORPHANED%'"
        assert _rows(db_url, orphan)[0][0] >= 1, "the orphan alert committed with the duty"
        told = "SELECT count(*) FROM outbox WHERE body LIKE '%[4.2]%'"
        assert _rows(db_url, told)[0][0] == 0
        first = smgov("sweep", "--as-of", "2026-03-01T10:00:00+00:00", "--json")
        assert first.code == 0 and first.json()["queued"] >= 1, first.err
        assert _rows(db_url, told)[0][0] == 1, "the head hears of the handover from the sweep"
        smgov("sweep", "--as-of", "2026-03-01T10:00:00+00:00", "--json")
        assert _rows(db_url, told)[0][0] == 1, "and only once"

    @pytest.mark.clause("4.2")
    def test_run_stopped_after_revoking_is_completed_by_the_next(
        self,
        flow_env: dict[str, str],
        held: dict[str, int],
        uow: Callable[..., Any],
        db_url: str,
    ) -> None:
        """Revocation commits on its own first; a run that stops there leaves the event
        `revoked`, and the next run opens the handover and alerts once, from the revocations'
        recorded reason (issue 9, 4.2)."""
        from flows.common import apply_hr_events
        from services.separation import revoke_due

        _separate(uow, "RF-2", "100002")
        with uow(dt.datetime(2026, 3, 1, 9, tzinfo=dt.UTC)) as ctx:
            assert revoke_due(ctx).revoked == 2  # administrator of two accounts
        # ... and the run stops here.
        assert _rows(db_url, "SELECT state FROM hr_event WHERE event_id = 'RF-2'") == [("revoked",)]
        held_now = "SELECT count(*) FROM written_authorization WHERE staff_index = '100002'"
        assert _rows(db_url, held_now + " AND revoked_at IS NULL")[0][0] == 0
        handovers = "SELECT assignee FROM obligation WHERE kind = 'credential-handover'"
        assert _rows(db_url, handovers) == []
        summary = apply_hr_events("2026-03-01T10:00:00+00:00")
        assert summary["events"] == 0 and summary["revoked"] == 0, "nothing revoked twice"
        assert sorted(_rows(db_url, handovers)) == [("100003",), ("100003",)], (
            "the alternate takes over the handover of both accounts"
        )
        assert _rows(db_url, "SELECT state FROM hr_event WHERE event_id = 'RF-2'") == [("applied",)]
        messages = _rows(db_url, "SELECT count(*) FROM outbox")[0][0]
        apply_hr_events("2026-03-01T11:00:00+00:00")
        assert len(_rows(db_url, handovers)) == 2 and (
            _rows(db_url, "SELECT count(*) FROM outbox")[0][0] == messages
        ), "a second run opens nothing and writes nothing more"
