"""Process commands without a Prefect server run the flow's code in-process, with no temporary
Prefect server (issue 20); with a server configured they are the Prefect flows, tracked there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from flows.common import prefect_configured
from tests.conftest import Result
from tests.servers import SMTPServer

Smgov = Callable[..., Result]

REQUEST: dict[str, Any] = {
    "entity": "OHCHR",
    "platform": "x",
    "handle": "UNRightsArabic",
    "languages": ["ar"],
    "need": "No Arabic-language channel for the treaty bodies exists",
    "purpose": "Human rights news and statements in Arabic",
    "strategy": "Daily posts, weekly explainers",
    "audience": "Arabic-speaking public",
    "staffing": "Two communications officers with Arabic",
    "administrator": "100002",
    "alternate": "100003",
    "risk": {"rating": "low", "risks": "Impersonation", "mitigations": "Verification badge"},
    "editorial": "The chief of communications clears every post",
    "languages_considered": "Arabic first",
    "speaks_for": "entity",
}

# Every process command in one interpreter; then: was Prefect ever imported?
SCRIPT = """
import json, sys
from smgov.cli import main

def smgov(*args):
    try:
        main(list(args))
    except SystemExit as exc:
        assert not exc.code, (args, exc.code)

smgov("entity", "add", "OHCHR", "--name", "OHCHR", "--kind", "office", "--as-of", "2026-01-02")
for index in ("100001", "100002", "100003", "100004"):
    smgov("staff", "add", index, "--name", "S" + index, "--email", f"s{index}@un.example",
          "--entity", "OHCHR", "--as-of", "2026-01-02")
smgov("entity", "set-head", "OHCHR", "--staff", "100001", "--as-of", "2026-01-02")
smgov("request", "new", "--file", sys.argv[1], "--by", "100004", "--as-of", "2026-02-02")
smgov("request", "decide", "1", "--decision", "approve", "--reason", "Need shown",
      "--by", "100001", "--as-of", "2026-02-03")
smgov("campaign", "start", "inventory", "--as-of", "2026-02-03")
smgov("campaign", "start", "reassessment", "--as-of", "2026-02-03")
smgov("hr", "event", "--type", "separation", "--staff", "100002", "--effective", "2026-02-04",
      "--as-of", "2026-02-04")
smgov("sweep", "--as-of", "2026-02-05")
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "prefect")))
"""


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture
def no_server_env(cli_env: dict[str, str], smtp: SMTPServer, tmp_path: Path) -> dict[str, str]:
    """The CLI's environment with mail to a real SMTP server and no Prefect server anywhere: no
    PREFECT_API_URL, and a Prefect home with no profile naming one."""
    env = {k: v for k, v in cli_env.items() if k != "PREFECT_API_URL"}
    env.update(
        {
            "PREFECT_HOME": str(tmp_path / "prefect-home"),
            "SMGOV_SMTP_HOST": "127.0.0.1",
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
        }
    )
    return env


def python(code: str, *args: str, env: dict[str, str]) -> list[str]:
    """Run `code` with `args` in a new interpreter; the lines it printed (it must succeed)."""
    proc = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()


def test_process_commands_start_no_prefect_server(
    no_server_env: dict[str, str], smtp: SMTPServer, tmp_path: Path, db_url: str
) -> None:
    """Without PREFECT_API_URL, `request new`, `request decide`, `campaign start inventory`,
    `campaign start reassessment`, `hr event` and `sweep` run their flow's code in the command's
    own process: Prefect is never imported (so no temporary Prefect server, no child process, no
    port opened by it), and the processes did their work (the head and the requester got their
    mail, the separated administrator lost the authorization, 4.2)."""
    request = tmp_path / "request.yaml"
    request.write_text(yaml.safe_dump(REQUEST, allow_unicode=True))
    printed = python(SCRIPT, str(request), env=no_server_env)
    assert json.loads(printed[-1]) == [], "Prefect was imported"
    assert not (tmp_path / "prefect-home").exists(), "Prefect wrote its home"
    subjects = {(m.rcpt_tos[0], m.subject) for m in smtp.messages}
    assert any(to == "s100001@un.example" and "decision" in s for to, s in subjects)
    assert any(to == "s100004@un.example" and "APPROVED" in s for to, s in subjects)
    shown = subprocess.run(
        [sys.executable, "-m", "smgov.cli", "staff", "show", "100002", "--json"],
        env=no_server_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    staff = json.loads(shown.stdout)
    assert staff["status"] == "separated"
    assert staff["authorizations"] and all(a["revoked_on"] for a in staff["authorizations"])


# One command in a new interpreter; then: which of the heavy libraries did it load?
LOADED = """
import json, sys
from smgov.cli import main

try:
    main(sys.argv[1:])
except SystemExit as exc:
    assert not exc.code, exc.code
heavy = {"alembic", "apprise", "babel", "jinja2", "numpy", "prefect", "rapidfuzz"}
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & heavy)))
print(json.dumps(sorted(m for m in sys.modules if m.startswith("smgov.cli."))))
"""


def test_a_command_loads_only_what_it_uses(
    no_server_env: dict[str, str], smgov: Smgov, tmp_path: Path
) -> None:
    """Each command imports what its work needs, and no more (start-up time, issue 20): on a
    registry with no account and no Teams file, `account list --json` loads no heavy library
    and only its own command's module; an HR event for someone holding nothing, a rejection
    and a campaign over no accounts load neither apprise (nothing goes to Teams) nor numpy
    (nothing is surveyed), and the rejection no rapidfuzz either; a sweep no apprise; none
    loads Alembic or Prefect."""
    day = ("--as-of", "2026-02-03")
    assert smgov("entity", "add", "OHCHR", "--name", "OHCHR", "--kind", "office", *day).code == 0
    for index in ("100001", "100002", "100003", "100004", "100005"):
        added = smgov(
            "staff", "add", index, "--name", "S" + index, "--email", f"s{index}@un.example",
            "--entity", "OHCHR", *day,
        )  # fmt: skip
        assert added.code == 0, added.err
    assert smgov("entity", "set-head", "OHCHR", "--staff", "100001", *day).code == 0
    request = tmp_path / "request.yaml"
    request.write_text(yaml.safe_dump(REQUEST, allow_unicode=True))
    assert smgov("request", "new", "--file", str(request), "--by", "100004", *day).code == 0

    def loaded(*args: str) -> tuple[list[str], list[str]]:
        heavy, commands = python(LOADED, *args, env=no_server_env)[-2:]
        return json.loads(heavy), json.loads(commands)

    assert loaded("account", "list", "--json") == ([], ["smgov.cli.account", "smgov.cli.common"])
    hr = ("hr", "event", "--type", "separation", "--staff", "100005", "--effective", "2026-02-03")
    assert loaded(*hr, *day)[0] == ["babel"]  # its lines are translated
    decided = loaded("request", "decide", "1", "--decision", "reject", "--reason", "No",
                     "--by", "100001", *day)  # fmt: skip
    assert decided[0] == ["babel", "jinja2"]  # the requester's notice is rendered
    started = loaded("campaign", "start", "reassessment", *day)[0]
    assert not {"apprise", "numpy", "alembic", "prefect"} & set(started)
    assert not {"apprise", "alembic", "prefect"} & set(loaded("sweep", *day)[0])


def _api(url: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 (the test's own server on 127.0.0.1)
        f"{url}{path}",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        return json.loads(answer.read())


def test_with_a_server_the_flow_runs_there(
    cli_env: dict[str, str], prefect_api: str, smgov: Smgov
) -> None:
    """With PREFECT_API_URL set, `sweep` is the `reminders` Prefect flow: its run and its
    three tasks are recorded by that server, completed."""
    before = _api(prefect_api, "/flow_runs/count", {})
    done = smgov("sweep", "--as-of", "2026-03-01", "--json")
    assert done.code == 0, done.err
    assert _api(prefect_api, "/flow_runs/count", {}) == before + 1
    (run,) = _api(
        prefect_api,
        "/flow_runs/filter",
        {
            "flows": {"name": {"any_": ["reminders"]}},
            "sort": "EXPECTED_START_TIME_DESC",
            "limit": 1,
        },
    )
    assert str(run["parameters"]["as_of"]).startswith("2026-03-01"), run["parameters"]
    assert run["state_type"] == "COMPLETED"
    deadline = time.monotonic() + 30  # the server records task states a moment after the run
    while True:
        tasks = _api(
            prefect_api,
            "/task_runs/filter",
            {"task_runs": {"flow_run_id": {"any_": [run["id"]]}}},
        )
        recorded = len(tasks) == 3 and {t["state_type"] for t in tasks} == {"COMPLETED"}
        if recorded or time.monotonic() > deadline:  # all three: the third may come later
            break
        time.sleep(0.5)
    assert sorted(t["name"].rsplit("-", 1)[0] for t in tasks) == [
        "apply-hr-events",
        "deliver-outbox",
        "queue-reminders",
    ]
    assert {t["state_type"] for t in tasks} == {"COMPLETED"}


def test_a_prefect_profile_counts_as_configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server named only in the active Prefect profile (`prefect config set PREFECT_API_URL`)
    is a configured server too: the flows run there, tracked, not silently in-process."""
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    monkeypatch.delenv("PREFECT_PROFILES_PATH", raising=False)
    monkeypatch.delenv("PREFECT_PROFILE", raising=False)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    assert not prefect_configured()
    (tmp_path / "profiles.toml").write_text(
        'active = "ops"\n[profiles.ops]\nPREFECT_API_URL = "http://prefect.example:4200/api"\n'
        "[profiles.local]\n"
    )
    assert prefect_configured()
    monkeypatch.setenv("PREFECT_PROFILE", "local")
    assert not prefect_configured()
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:4200/api")
    assert prefect_configured()
    assert os.environ["PREFECT_API_URL"]
