"""`smgov clauses` and the README's clause table are generated from the code and the tests, and
agree with them (issue 8, acceptance 5)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from models.rules import RULES, clause_tests, markdown_table
from tests.conftest import Result

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], dict[str, list[str]]]:
    """What `pytest --collect-only` finds now, and the clause index it writes."""
    target = tmp_path_factory.mktemp("clauses") / "index.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "--write-clause-index",
            str(target),
            "tests",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ids = {line.split("[")[0] for line in proc.stdout.splitlines() if "::" in line}
    return ids, json.loads(target.read_text())


def test_index_is_current(collected: tuple[set[str], dict[str, list[str]]]) -> None:
    """The committed clause index is what the tests cite today (regenerate with
    `python -m pytest --collect-only -q --write-clause-index models/data/clause_tests.json`)."""
    assert clause_tests() == collected[1]


def test_readme_table_is_generated(collected: tuple[set[str], dict[str, list[str]]]) -> None:
    """The README's clause-to-code table is exactly the generated one."""
    readme = (ROOT / "README.md").read_text()
    table = re.search(r"<!-- clauses:start -->\n(.*?)\n<!-- clauses:end -->", readme, re.S)
    assert table is not None
    assert table.group(1) == markdown_table(collected[1])


def test_every_rule_has_code_and_tests(collected: tuple[set[str], dict[str, list[str]]]) -> None:
    """Each rule names code that exists and is cited by at least one collected test."""
    from models.rules import tests_for

    ids, index = collected
    for rule in RULES:
        for path in rule.code.split(","):
            assert (ROOT / path.strip()).exists(), (rule.clause, path)
        tests = tests_for(rule.clause, index)
        assert tests, rule.clause
        assert set(tests) <= ids


def test_cli_lists_every_clause(
    smgov: Callable[..., Result], collected: tuple[set[str], dict[str, list[str]]]
) -> None:
    """`smgov clauses --json` lists every actionable clause with rule, tests that pytest
    --collect-only finds, and open and overdue counts (3.4 on a fresh registry: none)."""
    result = smgov("clauses", "--json")
    assert result.code == 0, result.err
    rows = result.json()
    assert [r["clause"] for r in rows] == [r.clause for r in RULES]
    for row in rows:
        assert set(row) >= {"clause", "rule", "tests", "open", "overdue"}
        assert row["tests"] and set(row["tests"]) <= collected[0]
        assert row["open"] == 0 and row["overdue"] == 0
