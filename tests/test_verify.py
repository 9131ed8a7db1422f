"""`account verify`: every URL variant of a registered account finds it (issue 2, acceptance 6)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from services import accounts
from tests import org
from tests.conftest import Result
from tests.test_platforms import SAME_ACCOUNT


class TestVerifyVariants:
    @pytest.mark.clause("1.1(b)")
    def test_every_variant_on_every_platform(self, uow: Callable[..., Any]) -> None:
        """1.1(b): URL variants (alias, prefix, case, slash, query, no scheme) verify as the one
        registered account on every platform; other URLs verify as not registered."""
        with uow(org.T0) as ctx:
            org.seed(ctx)
        ids: dict[str, int] = {}
        with uow() as ctx:
            for number, (platform, canonical, _) in enumerate(SAME_ACCOUNT):
                if canonical in ids:
                    continue
                acc = accounts.register(
                    ctx,
                    entity="OHCHR",
                    platform=platform,
                    handle=f"acct{number}",
                    url=canonical,
                    languages=["en"],
                    purpose="p",
                    audience="a",
                    by="100001",
                    platform_name="Example" if platform == "other" else None,
                    created_on=dt.date(2025, 6, 1),  # existing at issuance: official (3.3)
                )
                assert acc.url == canonical
                ids[canonical] = acc.id  # type: ignore[assignment]
        with uow() as ctx:
            for platform, canonical, variants in SAME_ACCOUNT:
                for variant in variants:
                    found = accounts.verify_url(ctx, variant)
                    assert found["registered"], (platform, variant)
                    assert found["id"] == ids[canonical], (platform, variant)
                    assert found["official"] is True and found["entity"] == "OHCHR"
            assert accounts.verify_url(ctx, "https://x.com/not_registered")["registered"] is False

    def test_cli_verify_variant(self, smgov: Callable[..., Result]) -> None:
        """`smgov account verify URL --json` answers for a variant, exit 0 (cli.md keys)."""
        for args in (
            [
                "entity",
                "add",
                "DGC",
                "--name",
                "Global Communications",
                "--kind",
                "department",
                "--timezone",
                "America/New_York",
            ],
            ["staff", "add", "300001", "--name", "H", "--email", "h@un.example", "--entity", "DGC"],
            ["entity", "set-head", "DGC", "--staff", "300001"],
            [
                "account",
                "register",
                "--entity",
                "DGC",
                "--platform",
                "instagram",
                "--handle",
                "unitednations",
                "--url",
                "instagram.com/unitednations",
                "--language",
                "en",
                "--purpose",
                "p",
                "--audience",
                "a",
                "--created-on",
                "2019-06-01",
                "--by",
                "300001",
            ],
        ):
            assert smgov(*args).code == 0
        result = smgov(
            "account", "verify", "http://www.Instagram.com/UnitedNations/?hl=fr", "--json"
        )
        assert result.code == 0
        assert result.json() == {
            "url": "https://instagram.com/unitednations",
            "registered": True,
            "official": True,
            "state": "active",
            "status": "existing, under assessment (3.3)",
            "entity": "DGC",
            "id": 1,
        }


def test_read_commands_do_not_import_prefect(cli_env: dict[str, str]) -> None:
    """Commands that orchestrate nothing never pay Prefect's start-up (issue 2)."""
    code = (
        "import sys; from smgov.cli import main\n"
        "try:\n    main(['db', 'upgrade']); \nexcept SystemExit: pass\n"
        "try:\n    main(['account', 'list', '--json'])\nexcept SystemExit: pass\n"
        "assert 'prefect' not in sys.modules, 'prefect was imported'\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=cli_env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("[]")


class TestLookalikes:
    def test_skeletons_and_one_edit(self) -> None:
        """Issue 18, 1.1(b): a handle with a Cyrillic letter, fullwidth letters, a digit for a
        letter or one letter changed passes for the official one; the same handle in another
        case, a handle with a language suffix, and short handles one letter apart do not."""
        from models.lookalike import resembles, skeleton

        official = "UNHumanRights"
        assert skeleton("UNHum\u0430nRights") == skeleton(official)  # Cyrillic a (U+0430)
        assert skeleton("\uff35\uff2e\uff28umanRights") == skeleton(official)  # fullwidth
        assert resembles("UNHum\u0430nRights", official) == "skeleton"
        assert resembles("UNHumanR1ghts", official) in ("skeleton", "one-edit")
        assert resembles("UNHumanRlghts", official) == "one-edit"
        assert resembles("UNH0manRights", official) == "one-edit"
        for other in ("unhumanrights", "UNHumanRights", "unhumanrights_ar", "UNDP", "UNWomen"):
            assert resembles(other, official) is None, other
        assert resembles("UNEP", "UNDP") is None

    @pytest.mark.clause("1.1(b)")
    def test_verify_and_survey_warn(self, uow: Callable[..., Any], smgov: Any) -> None:
        """Issue 18, 1.1(b), 3.2(a): a look-alike of OHCHR's official handle registered by
        another entity, or not registered at all, is reported by `account verify` as
        resembling @UNHumanRights of OHCHR; a new-account request for a look-alike handle
        sees the same warning in its survey; the genuine account is told of its look-alike;
        an unrelated handle warns of nothing."""
        from models.requests import parse_request
        from services import requests
        from tests.test_web import REQUEST

        with uow(org.T0) as ctx:
            org.seed(ctx)
            org.seed(ctx, code="UNEP", prefix="2")
            org.account(ctx, created_on=dt.date(2025, 6, 1))  # existing at issuance: official
            org.account(
                ctx,
                code="UNEP",
                head="200001",
                url="x.com/UNHumanRlghts",
                handle="UNHumanRlghts",
                created_on=dt.date(2025, 6, 1),  # official too: the case issue 18 reported
            )
        found = smgov("account", "verify", "https://x.com/UNHumanRlghts", "--json").json()
        assert found["registered"] and found["entity"] == "UNEP"
        assert found["resembles"] == [
            {"handle": "UNHumanRights", "entity": "OHCHR", "why": "one-edit"}
        ]
        stranger = smgov("account", "verify", "x.com/UNHumanR1ghts", "--json").json()
        assert not stranger["registered"] and not stranger["official"]
        assert ("UNHumanRights", "OHCHR") in [
            (w["handle"], w["entity"]) for w in stranger["resembles"]
        ]
        shown = smgov("account", "verify", "x.com/UNHumanR1ghts")
        assert "not official — resembles @UNHumanRights of OHCHR" in shown.out
        own = smgov("account", "verify", "x.com/unhumanrights", "--json").json()
        assert own["official"] and [w["entity"] for w in own["resembles"]] == ["UNEP"]  # the pair
        other = smgov("account", "verify", "x.com/un_environment", "--json").json()
        assert "resembles" not in other  # the key appears only with a warning
        with uow() as ctx:
            asked = requests.preview(
                ctx,
                parse_request(
                    {
                        **REQUEST,
                        "entity": "UNEP",
                        "platform": "x",
                        "handle": "UNHumanR1ghts",
                        "administrator": "200002",
                        "alternate": "200003",
                    }
                ),
                by="200002",  # staff of UNEP: the policy table lets them read its records
            )
        assert [w["entity"] for w in asked["resembles"]] == ["OHCHR"]
