"""How each kind of duty is met (design: "duties close on evidence").

Every obligation kind declares the state that meets it — a state smgov checks itself (the entry
complete, custody attested by a remaining authorized person, the account closed with evidence, a
decision taken) — and the command that brings that state about. The services close a duty when
they see its state; nobody closes one by saying so. Only the kinds with no state of their own (a
condition of continuation) are met by `smgov obligation meet`, and then by the head or the
officer-in-charge (models.policy action `decide`), never by the assignee alone.
"""

from __future__ import annotations

from dataclasses import dataclass

#: the duties of custody of an account's credentials (4.2): they outlive a withdrawal of
#: approval (the credentials are kept until the account is closed, 3.8) and go, with the
#: account, to whoever may still attest them
CUSTODY_DUTIES = ("credential-handover", "credential-rotation")


@dataclass(frozen=True)
class MetBy:
    """What meets a duty of one kind: the state smgov checks (None: a person's confirmation)
    and the command that meets it."""

    state: str | None
    command: str


MET_BY: dict[str, MetBy] = {
    "inventory-entry": MetBy("the entry complete (3.4)", "smgov account update / smgov authorize"),
    "new-account-entry": MetBy(
        "the entry complete (3.5)", "smgov account update / smgov authorize"
    ),
    "update-entry": MetBy("the entry complete (3.6)", "smgov account update / smgov authorize"),
    "report-change": MetBy("the entry updated (3.6)", "smgov account update"),
    "inventory-campaign": MetBy(
        "every entry of the entity complete (3.4)", "smgov account update / smgov authorize"
    ),
    "attest-entries": MetBy(
        "the head's attestation of complete entries (3.1(c))", "smgov entity attest"
    ),
    "decide-request": MetBy("the head's decision (2.1)", "smgov request decide"),
    "decide-unapproved": MetBy(
        "an approved request for the account, or its withdrawal (2.1, 3.8)",
        "smgov request new / smgov request decide / smgov account withdraw",
    ),
    "initial-assessment": MetBy("the head's decision (3.3)", "smgov assess"),
    "reassessment": MetBy("the head's decision (3.2)", "smgov assess"),
    "authorize-declared": MetBy(
        "the head's written authorization (3.7)", "smgov authorize ACCOUNT --declared"
    ),
    "acknowledge": MetBy("the grantee's acknowledgement (4.1)", "smgov acknowledge"),
    "credential-handover": MetBy(
        "custody attested by a remaining authorized person (4.2)", "smgov custody attest"
    ),
    "credential-rotation": MetBy("custody attested after rotation (4.2)", "smgov custody attest"),
    "close-account": MetBy("the account closed with evidence (3.8)", "smgov account closed"),
    "assessment-condition": MetBy(None, "smgov obligation meet"),
}


def met_by(kind: str) -> MetBy:
    """How a duty of `kind` is met; an unknown kind has a state smgov must check (never a note)."""
    return MET_BY.get(kind, MetBy("its own state", "smgov obligation list"))
