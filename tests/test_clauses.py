"""`smgov clauses` and the manual's clause table (docs/reference/clauses.md) are generated from
the code and the tests' explicit clause markers, and agree with them (issue 8, acceptance 5;
issue 17, acceptance 4)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from models.rules import RULES, STATUSES, clause_tests, markdown_table
from models.rules import tests_for as marked_tests
from tests.conftest import Result

ROOT = Path(__file__).resolve().parent.parent

ITEMS = [
    "1.1(a)",
    "1.1(b)",
    "1.1(c)",
    "2.1",
    "2.2",
    "2.3",
    "3.1(a)",
    "3.1(b)",
    "3.1(c)",
    "3.2(a)",
    "3.2(b)",
    "3.2(c)",
    "3.2(d)",
    "3.2(e)",
    "3.3",
    "3.4",
    "3.5",
    "3.6",
    "3.7",
    "3.8",
    "4.1(a)",
    "4.1(b)",
    "4.1(c)",
    "4.1(d)",
    "4.1(e)",
    "4.2",
    "5.1",
]


def collect(folder: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """`pytest --collect-only` on `folder`, as the index is rebuilt."""
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *extra,
            str(folder),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="module")
def collected(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[str], dict[str, list[str]]]:
    """What `pytest --collect-only` finds now, and the clause index it writes."""
    target = tmp_path_factory.mktemp("clauses") / "index.json"
    proc = collect(ROOT / "tests", "--write-clause-index", str(target))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    ids = {line.split("[")[0] for line in proc.stdout.splitlines() if "::" in line}
    return ids, json.loads(target.read_text())


def unproven(index: dict[str, list[str]], ids: set[str]) -> list[str]:
    """Items that smgov enforces or records but that no collected test is marked to prove."""
    return [
        rule.clause
        for rule in RULES
        if rule.status != "outside software" and not set(marked_tests(rule.clause, index)) & ids
    ]


def test_index_is_current(collected: tuple[set[str], dict[str, list[str]]]) -> None:
    """The committed clause index is what the tests' markers say today (regenerate with
    `scripts/clauses.sh`)."""
    assert clause_tests() == collected[1]


def test_manual_table_is_generated(collected: tuple[set[str], dict[str, list[str]]]) -> None:
    """The manual's clause index (docs/reference/clauses.md) is exactly the generated one."""
    page = (ROOT / "docs" / "reference" / "clauses.md").read_text()
    table = re.search(r"<!-- clauses:start -->\n(.*?)\n<!-- clauses:end -->", page, re.S)
    assert table is not None
    assert table.group(1) == markdown_table(collected[1])


def test_every_actionable_item_is_listed() -> None:
    """The index lists the bulletin's 27 actionable items in the bulletin's order, each with one
    of the three statuses the manual's clause index explains."""
    assert [rule.clause for rule in RULES] == ITEMS
    assert {rule.status for rule in RULES} <= set(STATUSES)


def test_every_rule_has_code_and_tests(collected: tuple[set[str], dict[str, list[str]]]) -> None:
    """Each item names code that exists; each item that is not *outside software* has at least
    one collected test carrying its explicit clause marker."""
    ids, index = collected
    for rule in RULES:
        for path in rule.code.split(","):
            assert (ROOT / path.strip()).exists(), (rule.clause, path)
        assert set(marked_tests(rule.clause, index)) <= ids
    assert unproven(index, ids) == []


def test_an_item_without_a_marked_test_fails(
    collected: tuple[set[str], dict[str, list[str]]],
) -> None:
    """The check above is not vacuous: with the marked tests of an enforced item (3.7) taken out
    of the index that item is reported unproven; an *outside software* item (4.1(a)) never is."""
    ids, index = collected
    stripped = {c: t for c, t in index.items() if c != "3.7"}
    assert unproven(stripped, ids) == ["3.7"]
    assert "4.1(a)" not in unproven({}, ids)


CITED_ONLY = '''import pytest


def test_cites():
    """3.7: cited in the docstring only."""


@pytest.mark.clause("3.8")
def test_marked():
    """Marked."""
'''

TYPO = '''import pytest


@pytest.mark.clause("3.9")
def test_typo():
    """Marked with something that is not an item."""
'''


def test_docstrings_prove_nothing(tmp_path: Path) -> None:
    """A test citing a clause only in its docstring is not in the index; an explicit marker that
    names no item of the index stops the collection."""
    (tmp_path / "conftest.py").write_text(
        "from tests.conftest import (pytest_addoption, pytest_collection_finish,"
        " pytest_collection_modifyitems)\n\n__all__ = ['pytest_addoption',"
        " 'pytest_collection_finish', 'pytest_collection_modifyitems']\n"
    )
    (tmp_path / "test_cited.py").write_text(CITED_ONLY)
    target = tmp_path / "index.json"
    proc = collect(tmp_path, "--write-clause-index", str(target))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    index = json.loads(target.read_text())
    assert list(index) == ["3.8"]
    assert [t.rsplit("::", 1)[1] for t in index["3.8"]] == ["test_marked"]
    (tmp_path / "test_cited.py").write_text(TYPO)
    proc = collect(tmp_path)
    assert proc.returncode != 0
    assert "3.9" in proc.stdout + proc.stderr


def test_cli_lists_every_clause(
    smgov: Callable[..., Result], collected: tuple[set[str], dict[str, list[str]]]
) -> None:
    """`smgov clauses --json` lists every actionable item with its status, rule, the marked tests
    that pytest --collect-only finds, and open and overdue counts (none on a fresh registry)."""
    result = smgov("clauses", "--json")
    assert result.code == 0, result.err
    rows = result.json()
    assert [r["clause"] for r in rows] == ITEMS
    for row in rows:
        assert set(row) >= {"clause", "status", "rule", "code", "tests", "open", "overdue"}
        assert set(row["tests"]) <= collected[0]
        assert row["tests"] or row["status"] == "outside software", row["clause"]
        assert row["open"] == 0 and row["overdue"] == 0
    text = smgov("clauses")
    assert text.code == 0
    assert len(text.out.splitlines()) == len(ITEMS)
    assert "outside software" in text.out
