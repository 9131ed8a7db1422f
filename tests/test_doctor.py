"""`smgov doctor` finds each broken set-up and passes a correct one; `smgov notify test` sends one
real message through each configured channel; a sweep says who could not be told (issue 19)."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Result
from tests.servers import HTTPSEndpoint, SMTPServer

Smgov = Callable[..., Result]
USER, PASSWORD = "smgov", "s3cret-for-tests"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer(auth=(USER, PASSWORD)) as server:
        yield server


@pytest.fixture
def teams() -> Iterator[HTTPSEndpoint]:
    with HTTPSEndpoint() as endpoint:
        yield endpoint


def _apprise(path: Path, teams: HTTPSEndpoint, tag: str) -> Path:
    path.write_text(
        f"urls:\n  - workflows://127.0.0.1:{teams.port}/flow/signature/:\n    - tag: {tag}\n"
    )
    return path


@pytest.fixture
def healthy(
    cli_env: dict[str, str],
    smgov: Smgov,
    smtp: SMTPServer,
    teams: HTTPSEndpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> dict[str, str]:
    """A complete set-up: migrated database with an entity, keys, SMTP with AUTH, a Teams channel
    for that entity, registry and security addresses, issuance date, web door with its secret."""
    assert (
        smgov(
            "entity",
            "add",
            "OHCHR",
            "--name",
            "OHCHR",
            "--kind",
            "office",
            "--timezone",
            "Europe/Zurich",
        ).code
        == 0
    )
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(teams.cert_path))
    cli_env.update(
        {
            "SMGOV_SMTP_HOST": smtp.host,
            "SMGOV_SMTP_PORT": str(smtp.port),
            "SMGOV_SMTP_TLS": "none",
            "SMGOV_SMTP_USERNAME": USER,
            "SMGOV_SMTP_PASSWORD": PASSWORD,
            "SMGOV_SMTP_FROM": "smgov <smgov@un.example>",
            "SMGOV_SECURITY_EMAIL": "dss@un.example",
            "SMGOV_SESSION_SECRET": "a-session-secret-of-at-least-32-bytes!!",
            "SMGOV_PUBLIC_URL": "https://smgov.un.example",
            "SMGOV_APPRISE_CONFIG": str(_apprise(tmp_path / "apprise.yaml", teams, "entity-ohchr")),
        }
    )
    return cli_env


def _checks(result: Result) -> dict[str, str]:
    return {c["name"]: c["status"] for c in result.json()}


class TestDoctor:
    def test_a_correct_set_up_passes(
        self, healthy: dict[str, str], smgov: Smgov, smtp: Any
    ) -> None:
        """Every check ok, exit 0, and nothing was sent to the SMTP server."""
        result = smgov("doctor", "--json")
        assert result.code == 0, result.out
        assert set(_checks(result).values()) == {"ok"}, result.out
        assert smtp.messages == []
        human = smgov("doctor")
        assert human.code == 0 and "ok    smtp: " in human.out and "AUTH" in human.out
        assert PASSWORD not in human.out + result.out

    @pytest.mark.parametrize(
        ("change", "check"),
        [
            ({"SMGOV_SMTP_PASSWORD": "wrong"}, "smtp"),
            ({"SMGOV_SMTP_PORT": "closed"}, "smtp"),
            ({"SMGOV_APPRISE_CONFIG": "missing.yaml"}, "teams"),
            ({"SMGOV_APPRISE_CONFIG": "unknown-tag"}, "teams"),
            ({"SMGOV_REGISTRY_EMAIL": ""}, "registry team"),
            ({"SMGOV_SECURITY_EMAIL": ""}, "security"),
            ({"SMGOV_ISSUANCE_DATE": ""}, "issuance date"),
            ({"SMGOV_PUBLIC_URL": "http://smgov.un.example"}, "web door"),
            ({"SMGOV_DATABASE_URL": "empty"}, "database"),
        ],
    )
    def test_each_broken_set_up_is_found(
        self,
        healthy: dict[str, str],
        smgov: Smgov,
        teams: HTTPSEndpoint,
        tmp_path: Path,
        change: dict[str, str],
        check: str,
    ) -> None:
        """One thing broken: its check is an error, the others still answer, exit 1."""
        for key, value in change.items():
            if value == "closed":
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", 0))
                    value = str(probe.getsockname()[1])  # nothing listens there afterwards
            elif value == "missing.yaml":
                value = str(tmp_path / "missing.yaml")
            elif value == "unknown-tag":
                value = str(_apprise(tmp_path / "other.yaml", teams, "entity-nowhere"))
            elif value == "empty":
                value = f"sqlite:///{tmp_path / 'empty.db'}"
            if value:
                healthy[key] = value
            else:
                healthy.pop(key)
        result = smgov("doctor", "--json")
        assert result.code == 1, result.out
        checks = _checks(result)
        assert checks[check] == "error", result.out
        assert len(checks) == 9
        assert not (tmp_path / "empty.db").exists(), "the doctor creates nothing"


class TestNotifyTest:
    def test_one_message_through_each_channel(
        self, healthy: dict[str, str], smgov: Smgov, smtp: SMTPServer, teams: HTTPSEndpoint
    ) -> None:
        """One real e-mail to --to (in the chosen language) and one post per Teams tag."""
        result = smgov("notify", "test", "--to", "me@un.example", "--language", "fr")
        assert result.code == 0, result.err
        [mail] = smtp.messages
        assert mail.rcpt_tos == ["me@un.example"] and "Message d'essai" in mail.subject
        assert mail.headers["Content-Language"] == "fr"
        assert len(teams.requests) == 1

    def test_bad_address_refused(self, healthy: dict[str, str], smgov: Smgov) -> None:
        """A --to that is not an e-mail address: exit 2, one error line, nothing sent."""
        result = smgov("notify", "test", "--to", "nobody")
        assert result.code == 2 and result.err.startswith("error: --to")


class TestHonestSweep:
    def test_no_registry_address_is_said(
        self, cli_env: dict[str, str], smgov: Smgov, prefect_api: str
    ) -> None:
        """Without SMGOV_REGISTRY_EMAIL (and no registry Teams tag) the sweep's summary says
        "registry team: not configured" instead of dropping the registry's messages silently."""
        cli_env.pop("SMGOV_REGISTRY_EMAIL")
        result = smgov("sweep", "--as-of", "2026-02-01")
        assert result.code == 0, result.err
        assert "registry team: not configured" in result.out
        cli_env["SMGOV_REGISTRY_EMAIL"] = "registry@un.example"
        assert "not configured" not in smgov("sweep", "--as-of", "2026-02-02").out


class TestNewcomer:
    def test_read_in_an_empty_home_creates_nothing(
        self, tmp_path: Path, smgov: Smgov, cli_env: dict[str, str]
    ) -> None:
        """A read command in an empty home: one `error:` line, exit 2, no database created."""
        home = tmp_path / "empty-home"
        cli_env["SMGOV_HOME"] = str(home)
        cli_env.pop("SMGOV_DATABASE_URL")
        for args in (("account", "list"), ("obligation", "list"), ("report", "compliance")):
            result = smgov(*args)
            assert result.code == 2, (args, result.err)
            assert result.err.startswith("error: database: no smgov database")
        assert not home.exists()

    def test_output_in_a_missing_folder(
        self, tmp_path: Path, smgov: Smgov, cli_env: dict[str, str]
    ) -> None:
        """--output and --reject-file in a folder that does not exist: exit 2 naming the
        option, no traceback, nothing created."""
        missing = tmp_path / "no-such-folder"
        report = smgov(
            "report", "compliance", "--format", "html", "--output", str(missing / "r.html")
        )
        assert report.code == 2 and report.err.startswith("error: --output: folder")
        data = tmp_path / "accounts.csv"
        data.write_text(
            "entity,platform,handle,url,languages,purpose,audience,administrator,"
            "alternate,created_on\n"
        )
        rejects = smgov(
            "account",
            "import",
            str(data),
            "--partial",
            "--by",
            "100001",
            "--reject-file",
            str(missing / "rejects.csv"),
        )
        assert rejects.code == 2 and rejects.err.startswith("error: --reject-file: folder")
        assert not missing.exists()


def _first_session(page: str = "docs/getting-started.md") -> list[list[str]]:
    """The first session of the manual's Getting started page (or of `page`), command by
    command, up to looking into the mail folder."""
    import shlex

    text = (Path(__file__).resolve().parent.parent / page).read_text()
    block = text.split("## A first session", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    commands = []
    for line in block.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        if not words or words[0] == "export":
            continue
        if words[0] == "ls":
            break
        commands.append(words)
    return commands


class TestFirstSession:
    def test_readme_session_is_the_manuals_beginning(self) -> None:
        """The README's short first session is the beginning of the manual's, command for
        command, so the run below proves it too."""
        short = _first_session("README.md")
        assert len(short) >= 5 and short == _first_session()[: len(short)]

    def test_first_session_ends_with_a_reminder(self, tmp_path: Path, prefect_api: str) -> None:
        """Run as printed in a fresh home, the manual's first session leaves a real reminder
        in the mail folder, in its reader's language, and says the registry team is not set."""
        import os
        import subprocess
        import sys

        home = tmp_path / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMGOV_")}
        env.update({"SMGOV_HOME": str(home), "SMGOV_ISSUANCE_DATE": "2026-01-15"})
        said = ""
        commands = _first_session()
        assert commands[-1][:2] == ["smgov", "sweep"]
        for words in commands:
            ran = subprocess.run(
                [sys.executable, "-m", "smgov.cli", *words[1:]],
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert ran.returncode == 0, (words, ran.stderr[-800:])
            said = ran.stdout
        assert "registry team: not configured" in said
        mails = [m.read_text() for m in (home / "mail" / "new").glob("*.eml")]
        [text] = [m for m in mails if "To: head@un.example" in m]  # 4.1 reminders go too
        assert "To: head@un.example" in text and "Content-Language: en" in text
