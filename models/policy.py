"""Who may do what: the authority policy of smgov, as data (3.1, 3.7, 1.1(b)).

One row per (role, action): the role a person must hold *at the time of the act* (derived from the
registry, never cached on the person), the conditions that must also hold, and the paragraph of the
bulletin the row comes from. `services.authority.may` reads this table and nothing else; the
manual's "Who may do what" table (docs/concepts/authority.md) is printed from it
(`markdown_table`) and checked against it by a test.

Roles:
- `head`: the head of entity (1.1(c)) in office at the time.
- `officer-in-charge`: acting as head for a bounded period; appointed by the head, or by a registry
  officer only while the head's post is vacant.
- `delegate`: a data-entry delegate named by the head; keeps entries current and proposes.
- `registry-officer`: keeps the central database of the Department of Global Communications for
  every entity (1.1(b)); reads everything, decides nothing for an entity.
- `operator`: whoever installs smgov; bootstraps an empty registry (no registry officer yet).
- `authorized-staff`: a staff member holding a written authorization for the account concerned.
- `staff`: an active staff member of the entity concerned.

Conditions (all must hold for the row to allow the act):
- `not-self`: the person acted upon is not the actor (nobody grants, extends or certifies for
  themselves).
- `head-vacant`: no head of entity is in office at the time.
- `bounded`: the appointment has an end, at most `MAX_ACTING_DAYS` after its start.
- `empty-registry`: the registry has no registry officer yet.
- `own`: the act concerns the actor's own authorization (e.g. acknowledging it).
"""

from __future__ import annotations

from dataclasses import dataclass

#: the longest period an officer-in-charge may be appointed for in one act (smgov policy).
MAX_ACTING_DAYS = 180

ROLES: tuple[str, ...] = (
    "head",
    "officer-in-charge",
    "delegate",
    "registry-officer",
    "operator",
    "authorized-staff",
    "staff",
)

CONDITIONS: dict[str, str] = {
    "not-self": "nobody grants, extends or certifies for themselves",
    "head-vacant": "only while the head's post is vacant",
    "bounded": f"for a bounded period (an end date, at most {MAX_ACTING_DAYS} days)",
    "empty-registry": "only while the registry has no registry officer",
    "own": "only for their own authorization",
}


@dataclass(frozen=True)
class Rule:
    """A person holding `role` may do `action` when every condition holds (`clause` says why)."""

    role: str
    action: str
    conditions: tuple[str, ...]
    clause: str
    what: str


def _r(role: str, action: str, clause: str, what: str, *conditions: str) -> Rule:
    return Rule(role, action, tuple(conditions), clause, what)


POLICY: tuple[Rule, ...] = (
    # keeping the entries (3.1(c), 3.4, 3.5, 3.6): enter, update, import, report a change
    _r("head", "registry.write", "3.1(c)", "enter and update the entity's entries"),
    _r("officer-in-charge", "registry.write", "3.1(c)", "enter and update the entity's entries"),
    _r("delegate", "registry.write", "3.1(c)", "enter and update the entity's entries (proposes)"),
    _r("registry-officer", "registry.write", "1.1(b)", "keep the database for every entity"),
    # an official account's handle or address: the head approved it there (2.1, 3.2)
    _r("head", "account.readdress", "3.2", "change an official account's handle or address"),
    _r("officer-in-charge", "account.readdress", "3.2", "as the head, for the period"),
    # reading for a person (pages, reports, tasks)
    _r("head", "read", "3.1(b)", "read the entity's records"),
    _r("officer-in-charge", "read", "3.1(b)", "read the entity's records"),
    _r("delegate", "read", "3.1(c)", "read the entity's records"),
    _r("registry-officer", "read", "1.1(b)", "read every entity's records"),
    # asking for a new account (3.2): the head decides; the request names its evidence
    _r("staff", "request.submit", "3.2", "ask for a new account for their own entity"),
    _r("registry-officer", "request.submit", "1.1(b)", "ask for a new account for any entity"),
    # deciding for an entity: requests, assessments, withdrawal, conditions, attestation
    _r("head", "decide", "3.1(a)", "approve, assess, withdraw (3.8), attest"),
    _r("officer-in-charge", "decide", "3.1(a)", "as the head, for the period"),
    _r("head", "duty.confirm", "3.2", "confirm a condition of continuation met", "not-self"),
    _r("officer-in-charge", "duty.confirm", "3.2", "as the head, for the period", "not-self"),
    # written authorization (3.7) and its withdrawal (4.2)
    _r("head", "authorize", "3.7", "authorize staff in writing", "not-self"),
    _r("officer-in-charge", "authorize", "3.7", "authorize staff in writing", "not-self"),
    # officers-in-charge and delegates (3.1)
    _r(
        "head",
        "appoint.officer-in-charge",
        "3.1",
        "appoint an officer-in-charge",
        "not-self",
        "bounded",
    ),
    _r(
        "registry-officer",
        "appoint.officer-in-charge",
        "3.1",
        "appoint an officer-in-charge",
        "head-vacant",
        "not-self",
        "bounded",
    ),
    _r("head", "appoint.delegate", "3.1(c)", "name a data-entry delegate", "not-self"),
    _r("officer-in-charge", "appoint.delegate", "3.1(c)", "name a data-entry delegate", "not-self"),
    # heads of entities and registry officers (1.1(b), 1.1(c))
    _r("registry-officer", "set-head", "1.1(c)", "record who heads an entity", "not-self"),
    _r("operator", "set-head", "1.1(c)", "record who heads an entity", "empty-registry"),
    _r(
        "registry-officer", "name.registry-officer", "1.1(b)", "name a registry officer", "not-self"
    ),
    _r(
        "operator",
        "name.registry-officer",
        "1.1(b)",
        "name the first registry officer",
        "empty-registry",
    ),
    # what authorized staff do themselves (2.2, 4.1, 4.2)
    _r("authorized-staff", "acknowledge", "4.1", "acknowledge 2.2 and 4.1(a)-(e)", "own"),
    _r("authorized-staff", "custody.attest", "4.2", "attest where the credentials are held"),
    _r("head", "custody.attest", "4.2", "attest where the credentials are held"),
    _r("officer-in-charge", "custody.attest", "4.2", "attest where the credentials are held"),
    _r("authorized-staff", "report-change", "3.6", "report a change made on the platform"),
    _r("authorized-staff", "account.created", "3.5", "report the approved account created"),
    _r("authorized-staff", "incident.report", "4.1(d)", "report a security incident"),
    _r("staff", "incident.report", "4.1(d)", "report a security incident"),
)

ACTIONS: tuple[str, ...] = tuple(dict.fromkeys(rule.action for rule in POLICY))


def rules_for(action: str) -> tuple[Rule, ...]:
    """The rows that may allow `action` (an unknown action has none: refused)."""
    return tuple(rule for rule in POLICY if rule.action == action)


def markdown_table() -> str:
    """The manual's "Who may do what" table, printed from POLICY."""
    lines = ["| role | action | may | only | clause |", "|---|---|---|---|---|"]
    for rule in POLICY:
        only = "; ".join(CONDITIONS[c] for c in rule.conditions) or "—"
        lines.append(f"| {rule.role} | `{rule.action}` | {rule.what} | {only} | {rule.clause} |")
    return "\n".join(lines)
