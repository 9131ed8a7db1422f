"""The clause index: every actionable item of the bulletin, what smgov does about it, the code that
does it, and the choices smgov makes where the bulletin names no figure.

Each item has a status:
- `enforced`: a rule refuses what the item forbids, or a duty with a deadline forces what it asks;
- `recorded`: smgov keeps the evidence a person gives (a statement, a chart) and shows it;
- `outside software`: a rule on conduct or content that software cannot check; smgov has each
  authorized staff member acknowledge it when authorized (4.1 at every grant).

A test proves an item only through an explicit `@pytest.mark.clause("3.7")` marker (a docstring
citing the clause proves nothing). The index of marked tests, `models/data/clause_tests.json`, and
the manual's table (docs/reference/clauses.md) are rebuilt by `scripts/clauses.sh`;
`tests/test_clauses.py` fails when an item that is not `outside software` has no marked test, or
when the index or the table is stale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Literal

Status = Literal["enforced", "recorded", "outside software"]
STATUSES: tuple[Status, ...] = ("enforced", "recorded", "outside software")


@dataclass(frozen=True)
class Rule:
    clause: str
    title: str
    status: Status
    rule: str
    code: str


RULES: tuple[Rule, ...] = (
    Rule(
        "1.1(a)",
        "institutional accounts",
        "enforced",
        "only accounts of Secretariat entities, speaking for the entity, are registered; staff "
        "representative bodies and personal accounts are refused",
        "models/registry.py",
    ),
    Rule(
        "1.1(b)",
        "the central database",
        "enforced",
        "one central database; an account (its normalised URL) is entered once",
        "models/platforms.py, services/accounts.py",
    ),
    Rule(
        "1.1(c)",
        "head of entity",
        "enforced",
        "entities are of the kinds a head of entity heads",
        "models/registry.py",
    ),
    Rule(
        "2.1",
        "a strategic decision",
        "enforced",
        "a new account is official only by the head of entity's decision, with reasons",
        "services/requests.py",
    ),
    Rule(
        "2.2",
        "consistent with the aims and core values",
        "outside software",
        "content rules: each authorized staff member acknowledges them when authorized",
        "services/accounts.py",
    ),
    Rule(
        "2.3",
        "multilingualism",
        "recorded",
        "languages considered are part of every request; language parity is shown to the head "
        "before deciding and in the compliance report",
        "services/reports.py, services/requests.py",
    ),
    Rule(
        "3.1(a)",
        "approving establishment and continuation",
        "enforced",
        "only the head (or an officer-in-charge in period) decides; never the requester",
        "services/requests.py, services/authority.py",
    ),
    Rule(
        "3.1(b)",
        "overseeing compliance",
        "enforced",
        "overdue duties of an entity's staff are escalated to its head",
        "services/reminders.py, models/reminders.py",
    ),
    Rule(
        "3.1(c)",
        "keeping the database current",
        "enforced",
        "the head, an officer-in-charge, delegates and registry officers keep the entries; the "
        "head attests them",
        "services/authority.py, services/inventory.py",
    ),
    Rule(
        "3.2(a)",
        "demonstrated need, surveyed",
        "enforced",
        "a request states the need; the duplication survey across the UN system runs before "
        "the decision",
        "models/requests.py, models/survey.py",
    ),
    Rule(
        "3.2(b)",
        "purpose, strategy, audience",
        "enforced",
        "a request without purpose, strategy or audience is refused",
        "models/requests.py",
    ),
    Rule(
        "3.2(c)",
        "expertise, staffing, resources",
        "enforced",
        "a request names its staffing and an administrator and an alternate, both active",
        "models/requests.py, models/assessment.py",
    ),
    Rule(
        "3.2(d)",
        "risk analysis",
        "enforced",
        "a request without a risk rating, risks and mitigations is refused",
        "models/requests.py",
    ),
    Rule(
        "3.2(e)",
        "editorial standards",
        "enforced",
        "a request without its editorial standards is refused",
        "models/requests.py",
    ),
    Rule(
        "3.3",
        "assessing existing accounts",
        "enforced",
        "every account existing at the bulletin's date is assessed against 3.2",
        "services/inventory.py, services/reassessment.py",
    ),
    Rule(
        "3.4",
        "the 60-day inventory",
        "enforced",
        "entries complete with (a)-(e) within 60 days of issuance",
        "models/registry.py, services/inventory.py, services/importer.py",
    ),
    Rule(
        "3.5",
        "new accounts within 10 days",
        "enforced",
        "a new account's entry is complete within 10 days of its creation",
        "services/accounts.py, services/requests.py",
    ),
    Rule(
        "3.6",
        "changes within 10 days",
        "enforced",
        "changes reach the database within 10 days; history kept",
        "services/accounts.py",
    ),
    Rule(
        "3.7",
        "written authorization",
        "enforced",
        "only staff authorized in writing by the head run an account; nobody authorizes themselves",
        "services/accounts.py, services/requests.py, services/authority.py",
    ),
    Rule(
        "3.8",
        "withdrawal and closure",
        "enforced",
        "withdrawn approval revokes every authorization and leads to closure",
        "services/reassessment.py",
    ),
    Rule(
        "4.1(a)",
        "no confidential information",
        "outside software",
        "acknowledged by each authorized staff member",
        "services/accounts.py",
    ),
    Rule(
        "4.1(b)",
        "no pseudonym or false name",
        "outside software",
        "acknowledged by each authorized staff member",
        "services/accounts.py",
    ),
    Rule(
        "4.1(c)",
        "privacy of individuals",
        "outside software",
        "acknowledged by each authorized staff member",
        "services/accounts.py",
    ),
    Rule(
        "4.1(d)",
        "security threats reported",
        "enforced",
        "security incidents reach the Department of Safety and Security at once",
        "services/custody.py",
    ),
    Rule(
        "4.1(e)",
        "intellectual property",
        "outside software",
        "acknowledged by each authorized staff member",
        "services/accounts.py",
    ),
    Rule(
        "4.2",
        "credentials and separation",
        "enforced",
        "separation or reassignment withdraws privileges and starts credential handover; "
        "custody by vault reference; no secret stored",
        "services/separation.py, services/custody.py, notifications/channels.py",
    ),
    Rule(
        "5.1",
        "entry into force",
        "enforced",
        "the date of issuance anchors the inventory and the assessment of existing accounts",
        "models/settings.py, services/inventory.py",
    ),
)

CLAUSES: frozenset[str] = frozenset(rule.clause for rule in RULES)


@dataclass(frozen=True)
class Policy:
    """A figure smgov needs where the bulletin gives none: smgov policy, each a setting."""

    setting: str
    default: int
    what: str
    context: str


POLICIES: tuple[Policy, ...] = (
    Policy("handover_days", 2, "days to hand credentials over after a separation", "4.2"),
    Policy("rotation_days", 180, "days between credential rotations", "4.2"),
    Policy("attestation_days", 180, "days between a head's attestations of the entries", "3.1(c)"),
    Policy("decision_days", 10, "days for the head to decide a request", "2.1, 3.1(a)"),
    Policy("assessment_days", 30, "days for the head to complete an assessment", "3.3"),
    Policy("closure_days", 30, "days to close an account after withdrawal", "3.8"),
    Policy("reassessment_months", 12, "months between an entity's reassessments", "3.2, 3.3"),
)


def cited(clause: str) -> bool:
    """Whether a test marker names an item of the index (3.4's sub-items count for 3.4)."""
    return clause in CLAUSES or any(clause.startswith(c + "(") for c in CLAUSES)


def clause_tests() -> dict[str, list[str]]:
    """Test ids by the clause their markers name, as last collected."""
    data = resources.files("models").joinpath("data/clause_tests.json").read_text("utf-8")
    loaded: dict[str, list[str]] = json.loads(data)
    return loaded


def tests_for(clause: str, index: dict[str, list[str]]) -> list[str]:
    """The tests marked with `clause` or one of its sub-clauses (3.4 takes 3.4(d))."""
    found = {t for c, ts in index.items() if c == clause or c.startswith(clause + "(") for t in ts}
    return sorted(found)


def markdown_table(index: dict[str, list[str]]) -> str:
    """The manual's clause index: each item with its status, code and marked tests, then the
    policy choices that are smgov's, not the bulletin's."""
    lines = ["| clause | status | rule | code | tests |", "|---|---|---|---|---|"]
    for rule in RULES:
        files = sorted({t.split("::")[0] for t in tests_for(rule.clause, index)})
        code = ", ".join(f"`{c.strip()}`" for c in rule.code.split(","))
        tests = ", ".join(f"`{f}`" for f in files) or "—"
        lines.append(
            f"| {rule.clause} {rule.title} | {rule.status} | {rule.rule} | {code} | {tests} |"
        )
    lines += [
        "",
        "smgov policy (not in the bulletin; each a setting):",
        "",
        "| setting | default | what | context |",
        "|---|---|---|---|",
    ]
    for policy in POLICIES:
        lines.append(
            f"| `SMGOV_{policy.setting.upper()}` | {policy.default} | {policy.what} "
            f"| {policy.context} |"
        )
    return "\n".join(lines)
