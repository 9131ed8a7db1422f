"""The rule registry: every rule smgov enforces, with the bulletin paragraph it comes from and the
code that enforces it. `smgov clauses` and the README's clause table are generated from this list
and from the tests that cite the clause (`models/data/clause_tests.json`, rebuilt by
`python -m pytest --collect-only -q --write-clause-index models/data/clause_tests.json`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class Rule:
    clause: str
    rule: str
    code: str


RULES: tuple[Rule, ...] = (
    Rule(
        "1.1(a)",
        "only institutional accounts of Secretariat entities are registered; staff "
        "representative bodies and personal accounts are refused",
        "models/registry.py",
    ),
    Rule(
        "1.1(b)",
        "one central database; an account (normalised URL) is entered once",
        "models/platforms.py, services/accounts.py",
    ),
    Rule("1.1(c)", "entities are of the kinds a head of entity heads", "models/registry.py"),
    Rule(
        "2.1",
        "a new account exists only by the head of entity's decision, with reasons",
        "services/requests.py",
    ),
    Rule(
        "2.3",
        "language parity across the six official languages; messages in the recipient's language",
        "services/reports.py, services/requests.py, notifications/templates.py",
    ),
    Rule(
        "3.1(a)",
        "only the head (or an officer-in-charge in period) decides; never the requester",
        "services/requests.py, services/authority.py",
    ),
    Rule(
        "3.1(c)",
        "heads, officers-in-charge, delegates and registry officers keep the "
        "entries; heads attest them",
        "services/authority.py, services/inventory.py",
    ),
    Rule(
        "3.2",
        "requests carry evidence for each criterion; conditions of continuation are duties",
        "models/requests.py, services/reassessment.py",
    ),
    Rule("3.2(a)", "the duplication survey across the UN system", "models/survey.py"),
    Rule(
        "3.2(c)",
        "an administrator and an alternate, active, for every account",
        "models/assessment.py",
    ),
    Rule(
        "3.3",
        "every account existing at the bulletin's date is assessed; yearly reassessment",
        "services/inventory.py, services/reassessment.py",
    ),
    Rule(
        "3.4",
        "entries complete with (a)-(e) within 60 days of issuance",
        "models/registry.py, services/inventory.py, services/importer.py",
    ),
    Rule(
        "3.4(d)",
        "an administrator and a different alternate with contacts",
        "models/registry.py, services/accounts.py",
    ),
    Rule(
        "3.5",
        "a new account is registered within 10 days of its creation",
        "services/accounts.py, services/requests.py",
    ),
    Rule("3.6", "changes reach the database within 10 days; history kept", "services/accounts.py"),
    Rule(
        "3.7",
        "only staff authorized in writing by the head run an account",
        "services/accounts.py, services/requests.py",
    ),
    Rule(
        "3.8",
        "withdrawn approval revokes every authorization and leads to closure",
        "services/reassessment.py",
    ),
    Rule("4.1(d)", "security incidents reach Safety and Security at once", "services/custody.py"),
    Rule(
        "4.2",
        "separation or reassignment withdraws privileges and starts credential "
        "handover; custody by vault reference; no secret stored",
        "services/separation.py, services/custody.py, notifications/channels.py",
    ),
)


def clause_tests() -> dict[str, list[str]]:
    """Test ids by the clause they cite, as last collected."""
    data = resources.files("models").joinpath("data/clause_tests.json").read_text("utf-8")
    loaded: dict[str, list[str]] = json.loads(data)
    return loaded


def tests_for(clause: str, index: dict[str, list[str]]) -> list[str]:
    """The tests citing `clause` or one of its sub-clauses (3.4 takes 3.4(d))."""
    found = {t for c, ts in index.items() if c == clause or c.startswith(clause + "(") for t in ts}
    return sorted(found)


def markdown_table(index: dict[str, list[str]]) -> str:
    """The README's clause-to-code table."""
    lines = ["| clause | rule | code | tests |", "|---|---|---|---|"]
    for rule in RULES:
        files = sorted({t.split("::")[0] for t in tests_for(rule.clause, index)})
        code = ", ".join(f"`{c.strip()}`" for c in rule.code.split(","))
        tests = ", ".join(f"`{f}`" for f in files) or "—"
        lines.append(f"| {rule.clause} | {rule.rule} | {code} | {tests} |")
    return "\n".join(lines)
