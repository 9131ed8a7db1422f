"""Pure rules of the registry: what may be registered (1.1) and when an entry is complete (3.4)."""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from models.errors import R, Refused
from models.words import WC

#: 1.1(c): the kinds of entity a head of entity heads.
ENTITY_KINDS: tuple[str, ...] = (
    "department",
    "office",
    "office-away-from-headquarters",
    "special-political-mission",
    "peacekeeping-mission",
    "regional-commission",
    "coordinator-office",
    "other",
)

ACCOUNT_STATES: tuple[str, ...] = (
    "unapproved",
    "proposed",
    "approved",
    "active",
    "under-reassessment",
    "withdrawn",
    "closed",
)
ROLES: tuple[str, ...] = ("administrator", "alternate", "publisher")
STAFF_STATUSES: tuple[str, ...] = ("active", "separated", "reassigned")
#: each status as people read it (in the context "staff"; a door translates it)
STAFF_STATUS_WORDS = (WC("staff", "active"), WC("staff", "separated"), WC("staff", "reassigned"))

MAX_NAME = 200
MAX_PURPOSE = 4000
MAX_AUDIENCE = 2000
MAX_REFERENCE = 200
MAX_CODE = 20


#: days the head has to decide on an account entered without an approved request (smgov policy)
DECISION_DAYS = 10
#: days a person has to acknowledge 2.2 and 4.1(a)-(e) after a written authorization (policy)
ACKNOWLEDGE_DAYS = 10
#: what an authorized staff member acknowledges at every grant
ACKNOWLEDGED = ("2.2", "4.1(a)", "4.1(b)", "4.1(c)", "4.1(d)", "4.1(e)")


def issuance_of(configured: dt.date | None, given: dt.date | None = None) -> dt.date:
    """The bulletin's date of issuance (5.1): one value, from SMGOV_ISSUANCE_DATE or
    --issued-on; two that differ, or none, are refused — 3.3, 3.4 and the inventory run from it."""
    if given is not None and configured is not None and given != configured:
        raise Refused(
            "--issued-on",
            f"{given} differs from SMGOV_ISSUANCE_DATE {configured}: the bulletin has one date "
            "of issuance",
            "5.1",
        )
    found = given or configured
    if found is None:
        raise Refused(
            "SMGOV_ISSUANCE_DATE",
            "the bulletin's date of issuance is not set (set it, or give --issued-on): the "
            "inventory, 3.3 and 3.4 run from it",
            "5.1",
        )
    return found


def check_entity_kind(kind: str) -> str:
    """1.1(c) kinds; a staff representative body is not an entity of the Secretariat (1.1(a))."""
    value = kind.strip().lower().replace("_", "-").replace(" ", "-")
    if value in ("staff-representative-body", "staff-union", "staff-council"):
        raise Refused(
            "kind",
            R("accounts of staff representative bodies are not institutional accounts"),
            "1.1(a)",
        )
    if value not in ENTITY_KINDS:
        raise Refused("kind", f"must be one of {', '.join(ENTITY_KINDS)}", "1.1(c)")
    return value


#: Joiners some scripts need to be spelt right (Persian, the Indic scripts, emoji sequences):
#: the only format characters (Unicode category Cf) a name or text may hold.
JOINERS = frozenset({"\u200c", "\u200d"})


def hidden_character(text: str) -> str | None:
    """The first character of `text` that is invisible or reorders what is shown around it:
    bidirectional controls (U+202E RIGHT-TO-LEFT OVERRIDE, U+2066-2069 isolates, U+200E/F marks),
    other format characters (category Cf: zero-width space, soft hyphen, BOM...), line and
    paragraph separators; None when there is none. Such a character makes a name or an id look
    like another (`\u202egnp.exe`), so identifiers and names refuse them (issue 18)."""
    for ch in text:
        if ch in JOINERS:
            continue
        if unicodedata.category(ch) in ("Cf", "Zl", "Zp", "Cs", "Co"):
            return ch
    return None


def refuse_hidden(field: str, text: str, clause: str | None = None) -> str:
    """`text`, or a refusal naming the field and the hidden character by its code point
    (e.g. U+202E)."""
    found = hidden_character(text)
    if found is not None:
        raise Refused(
            field,
            R("contains an invisible or direction-changing character (U+{code})"),
            clause,
            code=f"{ord(found):04X}",
        )
    return text


def control(c: str) -> bool:
    """A control character: C0 (below U+0020), DEL or C1 (U+0080 to U+009F)."""
    return ord(c) < 32 or 127 <= ord(c) < 160


#: 3.4: the days after the bulletin's issuance within which the accounts existing then are
#: entered in the central database
INVENTORY_DAYS = 60


def enters_as_existing(
    created_on: dt.date, issuance: dt.date, entered_on: dt.date, *, by_head: bool
) -> bool:
    """2.1, 3.3, 3.4: whether an account created before the bulletin's issuance is entered as
    existing then (official, under its 3.3 assessment). Its creation date is the entry's own
    claim: within the inventory's 60 days, or entered by the head (or officer-in-charge) who
    answers for it, it stands; entered later by anyone else, the account is unapproved until
    the head decides (2.1, 3.2), as one created since."""
    if created_on >= issuance:
        return False
    return by_head or entered_on <= issuance + dt.timedelta(days=INVENTORY_DAYS)


def check_authorizable(field: str, index: str, status: str) -> None:
    """4.2: only active staff are given a role on an account: a separated or reassigned staff
    member's privileges are withdrawn, never granted (by the head's authorization, 3.7, by
    the approval of a request naming them, or by an inventory entry)."""
    if status != "active":
        raise Refused(
            field, R("staff member {index} is {status}"), "4.2", index=index, status=status
        )


def check_text(
    field: str, value: str | None, *, limit: int, clause: str | None = None, required: bool = True
) -> str:
    """Free text: stripped, no control characters but newlines and tabs, bounded length."""
    text = (value or "").strip()
    if required and not text:
        raise Refused(field, R("is required"), clause)
    if len(text) > limit:
        raise Refused(field, R("is longer than {limit} characters"), clause, limit=limit)
    if any(control(c) and c not in "\n\t" for c in text):
        raise Refused(field, R("contains control characters"), clause)
    return refuse_hidden(field, text, clause)


def check_code(field: str, value: str) -> str:
    """An entity code or staff index number: letters, digits, '-', at most 20 characters."""
    text = value.strip()
    if not text or len(text) > MAX_CODE or not all(c.isalnum() or c in "-_" for c in text):
        raise Refused(field, R("must be 1-20 letters, digits, '-' or '_'"))
    if not text.isascii():
        raise Refused(field, R("must be ASCII letters and digits"))
    return text


def check_email(field: str, value: str) -> str:
    """A plausible e-mail address (contact details, 3.4(d))."""
    text = value.strip()
    local, _, domain = text.partition("@")
    if (
        not local
        or "." not in domain
        or len(text) > 254
        or any(c.isspace() for c in text)
        or any(c in text for c in '<>,;"')
    ):
        raise Refused(field, f"'{value}' is not an e-mail address", "3.4(d)")
    return text


#: 1.1(a): whom an account speaks for — only the entity's accounts are institutional
SPEAKS_FOR: tuple[str, ...] = ("entity", "person", "staff-body")


def check_speaks_for(value: str, *, field: str = "--speaks-for") -> str:
    """1.1(a): the request or entry declares that the account speaks for the entity; an account
    of a person (a staff member's own) or of a staff representative body is refused. The head's
    decision on the request (or on the entry) covers this declaration."""
    text = value.strip().lower().replace("_", "-").replace(" ", "-")
    if text == "entity":
        return text
    if text == "person":
        raise Refused(
            field,
            R("personal social media accounts of staff members are not institutional accounts"),
            "1.1(a)",
        )
    if text in ("staff-body", "staff-representative-body"):
        raise Refused(
            field,
            R("accounts of staff representative bodies are not institutional accounts"),
            "1.1(a)",
        )
    raise Refused(field, R("must be one of {choices}"), "1.1(a)", choices=", ".join(SPEAKS_FOR))


def personal_hints(purpose: str) -> list[str]:
    """1.1(a) heuristics: words that suggest a personal account. They warn (recorded with the
    entry for the head's decision); they never decide — the declaration does."""
    lowered = purpose.lower()
    if "personal account" in lowered or "my personal" in lowered:
        return ["the purpose reads like a personal account (1.1(a)): the head decides"]
    return []


@dataclass(frozen=True)
class PersonFacts:
    """What completeness needs to know of an administrator or alternate."""

    index: str
    active: bool
    email: str | None


@dataclass(frozen=True)
class EntryFacts:
    """The 3.4 information of one account, as the registry holds it."""

    handle: str | None
    platform: str | None
    languages: list[str]
    purpose: str | None
    audience: str | None
    administrator: PersonFacts | None
    alternate: PersonFacts | None


def missing_items(entry: EntryFacts) -> list[str]:
    """3.4: the clause references an entry still lacks; empty means the entry is complete."""
    missing: list[str] = []
    if not (entry.handle or "").strip():
        missing.append("3.4(a)")
    if not (entry.platform or "").strip():
        missing.append("3.4(b)")
    if not entry.languages:
        missing.append("3.4(c)")
    admin, alternate = entry.administrator, entry.alternate
    people_ok = (
        admin is not None
        and alternate is not None
        and admin.index != alternate.index
        and admin.active
        and alternate.active
        and bool(admin.email)
        and bool(alternate.email)
    )
    if not people_ok:
        missing.append("3.4(d)")
    if not (entry.purpose or "").strip() or not (entry.audience or "").strip():
        missing.append("3.4(e)")
    return missing
