"""The rule registry: every rule smgov enforces, with the bulletin paragraph it comes from.

`smgov clauses` and the README's clause table are generated from this list and from the tests
marked `@pytest.mark.clause("...")`.
"""

from __future__ import annotations

from dataclasses import dataclass


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
        "one central database; the same account (normalised URL) is never entered twice",
        "models/platforms.py, services/accounts.py",
    ),
    Rule("1.1(c)", "entities are of the kinds a head of entity heads", "models/registry.py"),
    Rule(
        "3.1",
        "the head (or officer-in-charge), data-entry delegates and registry officers keep "
        "an entity's registry data",
        "services/authority.py",
    ),
    Rule(
        "3.4",
        "an entry is complete with (a) name, (b) platform, (c) languages, (d) administrator "
        "and a different alternate, active, with contacts, (e) purpose and audience",
        "models/registry.py",
    ),
    Rule("3.4", "existing accounts are entered within 60 days of issuance", "services/accounts.py"),
    Rule(
        "3.5",
        "a new account's 3.4 information is complete within 10 days of its creation",
        "services/accounts.py",
    ),
    Rule(
        "3.6",
        "a change of 3.4 information is recorded, with who and when, history kept",
        "services/accounts.py",
    ),
    Rule(
        "3.7",
        "only the head of entity grants written authorization to run an account",
        "services/authority.py, services/accounts.py",
    ),
    Rule("4.2", "credentials are referenced by vault, never stored", "models/tables.py"),
    Rule(
        "reminders",
        "remind 7, 3, 1 days before and on the due day, every 7 days overdue; "
        "escalate to the head from day 1 and the registry from day 14",
        "models/reminders.py",
    ),
)
