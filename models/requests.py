"""New-account requests in the pure core: the 3.2 evidence and the request's state machine.

A request carries evidence for each criterion of 3.2 — (a) demonstrated need, (b) purpose,
strategy and intended audience, (c) expertise, staffing and resources with the proposed
administrator and alternate, (d) a risk analysis with a rating and mitigations, (e) editorial
standards — and how the linguistic dimension of 2.3 was considered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.errors import R, Refused
from models.languages import check_content_languages
from models.platforms import PlatformError, check_handle, parse_platform
from models.registry import check_code, check_speaks_for, check_text

TEMPLATE = """\
entity: OHCHR
platform: x
handle: UNHumanRightsAR
languages: [ar]
need: ...                # 3.2(a) demonstrated need (smgov surveys existing accounts itself)
purpose: ...             # 3.2(b)
strategy: ...            # 3.2(b)
audience: ...            # 3.2(b)
staffing: ...            # 3.2(c) expertise, staffing, resources
administrator: "100002"  # 3.2(c)
alternate: "100003"      # 3.2(c)
risk:                    # 3.2(d)
  rating: low            # low | medium | high
  risks: ...
  mitigations: ...
editorial: ...           # 3.2(e) who clears content, how accuracy is assured
languages_considered: ...  # 2.3 multilingualism
speaks_for: entity       # 1.1(a) the account speaks for the entity (not a person, not a staff body)
"""

#: (field, clause reference, what it is) — in the order a refusal names them.
EVIDENCE: tuple[tuple[str, str, str], ...] = (
    ("need", "3.2(a)", "demonstrated need"),
    ("purpose", "3.2(b)", "purpose"),
    ("strategy", "3.2(b)", "strategy"),
    ("audience", "3.2(b)", "intended audience"),
    ("staffing", "3.2(c)", "expertise, staffing and resources"),
    ("administrator", "3.2(c)", "proposed administrator"),
    ("alternate", "3.2(c)", "proposed alternate"),
    ("risk.rating", "3.2(d)", "risk rating"),
    ("risk.risks", "3.2(d)", "risk analysis"),
    ("risk.mitigations", "3.2(d)", "risk mitigations"),
    ("editorial", "3.2(e)", "editorial standards"),
    ("languages_considered", "2.3", "languages considered"),
    ("speaks_for", "1.1(a)", "whom the account speaks for (entity)"),
)
RISK_RATINGS = ("low", "medium", "high")
LIMIT = 4000

STATES = ("submitted", "returned", "resubmitted", "approved", "rejected", "withdrawn")
#: the states of a request still before the head (3.2): surveyed against, adopting its entry
PENDING = ("submitted", "returned", "resubmitted")
#: The request's state machine: (state, event) -> next state. Anything else is refused.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("submitted", "approve"): "approved",
    ("submitted", "reject"): "rejected",
    ("submitted", "return"): "returned",
    ("submitted", "withdraw"): "withdrawn",
    ("returned", "resubmit"): "resubmitted",
    ("returned", "withdraw"): "withdrawn",
    ("resubmitted", "approve"): "approved",
    ("resubmitted", "reject"): "rejected",
    ("resubmitted", "return"): "returned",
    ("resubmitted", "withdraw"): "withdrawn",
}
DECISIONS = ("approve", "reject", "return")
PAST = {
    "approve": "approved",
    "reject": "rejected",
    "return": "returned",
    "withdraw": "withdrawn",
    "resubmit": "resubmitted",
}


def transition(state: str, event: str) -> str:
    """The next state, or a refusal: an event with no transition is an error, never ignored."""
    nxt = TRANSITIONS.get((state, event))
    if nxt is None:
        raise Refused(
            "request",
            R("a {state} request cannot be {done}"),
            state=state,
            done=PAST.get(event, event),
        )
    return nxt


@dataclass(frozen=True)
class RequestIn:
    entity: str
    platform: str
    handle: str
    languages: list[str]
    evidence: dict[str, str]  # field -> text, including administrator, alternate, risk.*


def _get(raw: dict[str, Any], dotted: str) -> Any:
    value: Any = raw
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def parse_request(raw: Any) -> RequestIn:
    """Validate a request; every missing 3.2 item is named by its clause in one refusal."""
    if not isinstance(raw, dict):
        raise Refused("--file", "must be a YAML mapping (see smgov request new --template)")
    missing: list[str] = []
    fields: list[str] = []  # the same, by field: a door names each by its label on the form
    evidence: dict[str, str] = {}
    for name, clause, what in EVIDENCE:
        value = _get(raw, name)
        text = (
            str(value).strip() if value is not None and not isinstance(value, dict | list) else ""
        )
        if not text or text == "...":
            missing.append(f"{clause} {what}")
            fields.append(name)
            continue
        evidence[name] = check_text(name, text, limit=LIMIT, clause=clause)
    if missing:
        raise Refused(
            "request", R("missing {items}"), "3.2", items="; ".join(missing), fields=fields
        )
    if evidence["risk.rating"].lower() not in RISK_RATINGS:
        raise Refused("risk.rating", R("must be low, medium or high"), "3.2(d)")
    evidence["risk.rating"] = evidence["risk.rating"].lower()
    evidence["speaks_for"] = check_speaks_for(evidence["speaks_for"], field="speaks_for")
    evidence["administrator"] = check_code("administrator", evidence["administrator"])
    evidence["alternate"] = check_code("alternate", evidence["alternate"])
    if evidence["administrator"] == evidence["alternate"]:
        raise Refused(
            "alternate",
            R("the administrator and the alternate must be two different staff members"),
            "3.4(d)",
        )
    try:
        platform = parse_platform(str(raw.get("platform") or ""))
        handle = check_handle(platform, str(raw.get("handle") or ""))
    except PlatformError as exc:
        clause = "3.4(a)" if exc.field == "handle" else "3.4(b)"
        raise Refused(exc.field, exc.template, clause, **exc.params) from exc
    langs = raw.get("languages")
    languages = check_content_languages(
        [str(x) for x in langs] if isinstance(langs, list) else [str(langs or "")]
    )
    entity = check_code("entity", str(raw.get("entity") or ""))
    return RequestIn(entity, platform, handle, languages, evidence)
