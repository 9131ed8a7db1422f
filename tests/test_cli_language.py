"""The CLI speaks its operator's language (2.3, issue 19): SMGOV_LANGUAGE, else the locale's
official language, else English. Confirmation lines, table headers, record labels and dates are
in that language (dates through CLDR, never ISO 8601); `--json` is the same in every language."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from models.languages import OFFICIAL_LANGUAGES, environment_language
from tests.conftest import Result
from tests.test_authority import _existing

#: Letters only a text in that language holds (fr and es: accented words from the catalogs).
SCRIPT = {
    "ar": re.compile(r"[\u0600-\u06ff]"),
    "zh": re.compile(r"[\u4e00-\u9fff]"),
    "ru": re.compile(r"[\u0400-\u04ff]"),
    "fr": re.compile(r"échéance|entité|consigné"),
    "es": re.compile(r"código|función|día|situación"),
}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")

Runner = Callable[..., Result]

#: The database plays no part in choosing or rendering a language: every language runs on SQLite;
#: on PostgreSQL, English (its exact wording and dates) and Arabic (another script, written right
#: to left) show that the same records read back render the same way there.
BACKENDS_PER_LANGUAGE = [
    *((lang, "sqlite") for lang in OFFICIAL_LANGUAGES),
    ("en", "postgresql"),
    ("ar", "postgresql"),
]


@pytest.fixture
def run_as(cli_env: dict[str, str]) -> Runner:
    """`smgov ARGS` as a separate process whose language settings are exactly `env`: no
    SMGOV_LANGUAGE and no locale variable but those given."""
    base = {k: v for k, v in cli_env.items() if k not in LOCALE_VARIABLES and k != "SMGOV_LANGUAGE"}

    def run(*args: str, env: dict[str, str]) -> Result:
        proc = subprocess.run(
            [sys.executable, "-m", "smgov.cli", *args],
            env={**base, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


@pytest.fixture
def registry(smgov: Callable[..., Any]) -> None:
    """OHCHR (Geneva's day, Europe/Zurich) with its head 100001, its delegate 100004 and one
    account existing before issuance (test_authority's)."""
    for args in (
        ["entity", "add", "OHCHR", "--name", "OHCHR", "--kind", "office"],
        ["staff", "add", "100001", "--name", "H", "--email", "h@un.example", "--entity", "OHCHR"],
        ["entity", "set-head", "OHCHR", "--staff", "100001"],
        ["staff", "add", "100004", "--name", "D", "--email", "d@un.example", "--entity", "OHCHR"],
        ["entity", "delegate", "OHCHR", "--staff", "100004", "--by", "100001"],
    ):
        timezone = ["--timezone", "Europe/Zurich"] if args[:2] == ["entity", "add"] else []
        result = smgov(*args, *timezone, "--as-of", "2026-02-01")
        assert result.code == 0, (args, result.err)
    _existing(smgov)


def _human(result: Result) -> str:
    assert result.code == 0, result.err
    assert not ISO_DATE.search(result.out), result.out  # dates for people, never ISO 8601
    return result.out


@pytest.mark.usefixtures("registry")
class TestOperatorLanguage:
    @pytest.mark.clause("2.3")
    @pytest.mark.parametrize(("lang", "backend"), BACKENDS_PER_LANGUAGE, indirect=["backend"])
    def test_human_output_in_the_operator_language(self, run_as: Runner, lang: str) -> None:
        """With SMGOV_LANGUAGE set, a confirmation line, a table and a record are in that
        language, their dates in words; the change's due day is shown as the entity's day."""
        env = {"SMGOV_LANGUAGE": lang}
        as_of = ("--as-of", "2026-02-05")
        reported = _human(
            run_as(
                "account",
                "report-change",
                "1",
                "--what",
                "new bio",
                "--changed-on",
                "2026-01-20",
                "--by",
                "100004",
                *as_of,
                env=env,
            )
        )
        listed = _human(run_as("obligation", "list", "--entity", "OHCHR", *as_of, env=env))
        shown = _human(run_as("account", "show", "1", *as_of, env=env))
        assert "2026" in reported and "2026" in listed and "2019" in shown  # dates, in words
        if lang == "en":
            assert reported.startswith("change recorded; obligation ")
            assert reported.endswith(" (3.6) due 30 January 2026, end of day (Zurich)\n")
            assert listed.startswith("ID  CLAUSE  KIND")
            assert "created_on " in shown and "1 May 2019" in shown
            return
        for text in (reported, listed, shown):
            assert SCRIPT[lang].search(text.lower()), text
        assert "January" not in reported + listed + shown

    @pytest.mark.parametrize(
        ("lang", "backend"),
        [(lang, backend) for lang, backend in BACKENDS_PER_LANGUAGE if lang != "en"],
        indirect=["backend"],
    )
    def test_json_is_the_same_in_every_language(
        self, smgov: Runner, run_as: Runner, lang: str
    ) -> None:
        """`--json` output is byte for byte the same whatever the operator's language: English
        keys, ISO 8601 dates, the English `due` words."""
        for args in (
            ("obligation", "list", "--json", "--as-of", "2026-02-05"),
            ("account", "show", "1", "--json", "--as-of", "2026-02-05"),
        ):
            english = smgov(*args)  # in this process, in English (the suite's SMGOV_LANGUAGE)
            other = run_as(*args, env={"SMGOV_LANGUAGE": lang})
            assert english.code == other.code == 0, other.err
            assert other.out == english.out
            assert ISO_DATE.search(english.out)  # JSON keeps ISO 8601

    @pytest.mark.clause("2.3")
    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_locale_alone_gives_its_language(self, run_as: Runner) -> None:
        """Without SMGOV_LANGUAGE the environment's locale decides: fr_FR.UTF-8 reads French;
        C.UTF-8, an unofficial language or no locale reads English."""
        french = run_as("entity", "list", env={"LANG": "fr_FR.UTF-8"})
        assert french.code == 0, french.err
        assert french.out.startswith("CODE   TYPE    FUSEAU HORAIRE  CHEF D'ENTITÉ")
        for env in ({"LANG": "C.UTF-8"}, {"LANG": "de_DE.UTF-8"}, {}):
            english = run_as("entity", "list", env=env)
            assert english.code == 0, english.err
            assert english.out.startswith("CODE   KIND    TIMEZONE       HEAD"), (env, english.out)
        overridden = run_as("entity", "list", env={"LANG": "fr_FR.UTF-8", "SMGOV_LANGUAGE": "zh"})
        assert SCRIPT["zh"].search(overridden.out), overridden.out

    @pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
    def test_unknown_language_is_one_error_line(self, run_as: Runner) -> None:
        """SMGOV_LANGUAGE=xx is refused: exit 2, one `error:` line naming the setting and the
        rule, nothing on stdout."""
        refused = run_as("entity", "list", env={"SMGOV_LANGUAGE": "xx"})
        assert refused.code == 2
        assert refused.out == ""
        assert refused.err.splitlines() == [
            "error: settings: SMGOV_LANGUAGE: must be one of ar, zh, en, fr, ru, es "
            "(official languages, 2.3)"
        ]


class TestEnvironmentLanguage:
    @pytest.mark.parametrize(
        ("env", "expected"),
        [
            ({"LANG": "fr_FR.UTF-8"}, "fr"),
            ({"LANG": "zh_CN.UTF-8"}, "zh"),
            ({"LANG": "ar_EG"}, "ar"),
            ({"LANG": "sr_RS@latin"}, "en"),
            ({"LANG": "C.UTF-8"}, "en"),
            ({"LANG": "POSIX"}, "en"),
            ({}, "en"),
            ({"LC_ALL": "es_ES.UTF-8", "LANG": "ru_RU.UTF-8"}, "es"),
            ({"LC_MESSAGES": "ru_RU.UTF-8", "LANG": "fr_FR.UTF-8"}, "ru"),
            ({"LC_ALL": "C", "LANG": "fr_FR.UTF-8"}, "en"),
        ],
    )
    def test_locale_precedence(
        self, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str
    ) -> None:
        """POSIX order: LC_ALL, then LC_MESSAGES, then LANG; a locale of no official language
        (C, POSIX, Serbian) reads English."""
        for name in LOCALE_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert environment_language() == expected
