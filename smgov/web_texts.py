"""The web door's words in the six official languages (2.3), through the gettext catalogs.

Each word of a page has a key (the templates write `t.site`, `t["risk.rating"]`) whose English text
is its msgid, marked with `_` so `scripts/i18n.sh extract` finds it; a page's `texts(lang)` reads
them from the reader's catalog (notifications/locale/<lang>/LC_MESSAGES/smgov.po), where
tests/test_i18n.py fails on any missing or fuzzy message. Arabic pages run right to left."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from models import assessment, registry
from models.errors import Refused
from models.languages import OFFICIAL_LANGUAGES
from notifications.i18n import RTL, C, T, _, language_of, locale, render, translations

WORDS: dict[str, str] = {
    "site": _("Institutional social media accounts"),
    "skip": _("Skip to main content"),
    "nav": _("Main menu"),
    "tasks": _("My tasks"),
    "new_request": _("Request a new account"),
    "dashboard": _("Compliance"),
    "verify": _("Is this an official UN account?"),
    "signin": _("Sign in"),
    "signout": _("Sign out"),
    "signed_in_as": _("Signed in as"),
    "link_scope": _("You opened a link for one task only."),
    "language": _("Language"),
    "change": _("Change"),
    "none": _("None."),
    "tasks_intro": _("What the bulletin asks of you now, earliest deadline first."),
    "what": _("What to do"),
    "subject": _("Subject"),
    "clause": _("Clause"),
    "due": _("Due"),
    "days_left": _("Days left"),
    "open": _("Open"),
    "entity": _("Entity"),
    "platform": _("Platform"),
    "handle": _("Handle (name on the platform)"),
    "languages": _("Languages (codes separated by commas, e.g. en, fr)"),
    "content_languages": _("Languages"),
    "need": _("Demonstrated need — 3.2(a)"),
    "purpose": _("Purpose — 3.2(b)"),
    "strategy": _("Strategy — 3.2(b)"),
    "audience": _("Intended audience — 3.2(b)"),
    "staffing": _("Expertise, staffing and resources — 3.2(c)"),
    "administrator": _("Proposed administrator (index number) — 3.2(c)"),
    "alternate": _("Proposed alternate (index number) — 3.2(c)"),
    "risk.rating": _("Risk rating — 3.2(d)"),
    "risk.risks": _("Risks — 3.2(d)"),
    "risk.mitigations": _("Mitigations — 3.2(d)"),
    "editorial": _("Editorial standards — 3.2(e)"),
    "languages_considered": _("Languages considered — 2.3"),
    "speaks_for": _("The account speaks for — 1.1(a)"),
    "speaks_entity": _("the entity (an institutional account)"),
    "speaks_person": _("a person"),
    "speaks_staff-body": _("a staff representative body"),
    "low": _("low"),
    "medium": _("medium"),
    "high": _("high"),
    "check": _("Check for duplicates and language parity"),
    "submit": _("Submit the request"),
    "survey": _("Duplication survey — 3.2(a)"),
    "survey_none": _("No existing or pending account overlaps this proposal."),
    "score": _("Score"),
    "reason": _("Reason"),
    "account": _("Account"),
    "owner": _("Owner"),
    "parity": _("Language parity of the entity — 2.3"),
    "parity_caption": _("Official languages covered per platform"),
    "covered": _("covered"),
    "not_covered": _("not covered"),
    "request": _("Request"),
    "state": _("State"),
    "requested_by": _("Requested by"),
    "decided_by": _("Decided by"),
    "no_findings": _(
        "No findings are pre-filled: this assessment was opened by the inventory (3.3), and "
        "smgov fills them when a reassessment opens one. Assess the account against the "
        "criteria of 3.2."
    ),
    "evidence": _("Evidence — 3.2"),
    "history": _("History"),
    "decision": _("Your decision — 2.1, 3.1(a)"),
    "decision_legend": _("Decision"),
    "approve": _("Approve"),
    "reject": _("Reject"),
    "return": _("Return for information"),
    "reasons": _("Reasons"),
    "record_decision": _("Record the decision"),
    "no_decision": _("This request is not awaiting a decision."),
    "assessment": _("Assessment"),
    "findings": _("smgov's findings against 3.2"),
    "criterion": _("Criterion"),
    "finding": _("Finding"),
    "note": _("Note"),
    "recommendation": _("Recommendation"),
    "continue": _("Continue"),
    "conditions": _("Continue with conditions"),
    "withdraw": _("Withdraw approval (3.8)"),
    "conditions_label": _("Conditions (one per line)"),
    "custody": _("Credential custody — 4.2"),
    "custody_intro": _(
        "Record where the account's credentials are held now and that they were just "
        "rotated. Enter a vault reference, never the password itself."
    ),
    "vault_ref": _("Vault reference (e.g. vault:kv/entity/account)"),
    "attest": _("Attest custody"),
    "verify_intro": _(
        "Paste the address of a social media account to learn whether it is a registered "
        "institutional account of the United Nations Secretariat."
    ),
    "url": _("Account address (URL)"),
    "check_url": _("Check"),
    "official_yes": _("Yes: this is an official account of the United Nations Secretariat."),
    "official_no_state": _("This account is registered but is not official now (state: {state})."),
    "official_unknown": _("This address is not in the registry of official accounts."),
    "registered_by": _("Registered by"),
    "as_of": _("As of"),
    "accounts": _("Accounts"),
    "complete": _("Complete"),
    "incomplete": _("Incomplete (3.4)"),
    "overdue": _("Overdue"),
    "orphaned": _("Orphaned (4.2)"),
    "attestation": _("Attestation (3.1(c))"),
    "stale": _("stale"),
    "current": _("current"),
    "open_by_clause": _("Open obligations by clause"),
    "refused": _("Not done"),
    "nothing_changed": _("Nothing was changed."),
    "sign_in_needed": _("Please sign in, or open the link in your e-mail."),
    "signin_intro": _("Sign in with your organization account to see your tasks."),
    "signin_off": _(
        "Sign-in with the organization's identity provider is not configured here: use "
        "the link in your e-mail."
    ),
    "csrf": _(
        "This form is out of date or did not come from this site. Reload the page and try again."
    ),
    "other_task": _(
        "This link was issued for another task. Open the link in the e-mail about this "
        "task, or sign in."
    ),
    "done": _("Done."),
    "submitted": _("Request {id} submitted: the head of entity has been asked to decide."),
    "decided": _("Decision recorded: the request is {state}."),
    "assessed": _("Decision recorded."),
    "attested": _("Custody attested."),
    "go_tasks": _("Go to my tasks"),
    "lookalike_verify": _(
        "Not official — resembles @{handle} of {entity}: check before you trust it."
    ),
    "lookalike_note": _(
        "Beware: this handle resembles @{handle}, an official account of {entity}."
    ),
    "lookalike_survey": _(
        "The handle resembles @{handle}, an official account of {entity}: choose a handle"
        " that cannot be mistaken for it (3.2(a))."
    ),
    "link_title": _("Your link from smgov"),
    "link_for": _("This link is for"),
    "link_until": _("It works once, until"),
    "link_task_request": _("deciding on request {n} for a new account (3.1(a))"),
    "link_task_new": _("filing a request for a new account (3.2)"),
    "link_task_assessment": _("assessment {n} of an account (3.2, 3.3)"),
    "link_task_account": _("the credentials and entry of account {n} (4.2)"),
    "link_task_other": _("task {task}"),
    "link_go": _("Continue"),
    "link_not_you": _("If you are not this person, close this page: nothing has been done."),
}

LANGUAGE_NAMES = {
    "ar": "العربية",
    "zh": "中文",
    "en": "English",
    "fr": "Français",
    "ru": "Русский",
    "es": "Español",
}

#: The states a page shows (a request's, an account's, an assessment's) as people read them, each
#: in its own context (a French request is « approuvée », an account « approuvé »); the data and
#: JSON keep the codes.
STATE_WORDS: dict[tuple[str, str], tuple[str, str]] = {
    ("request", "submitted"): C("request", "submitted"),
    ("request", "returned"): C("request", "returned for changes"),
    ("request", "resubmitted"): C("request", "resubmitted"),
    ("request", "approved"): C("request", "approved"),
    ("request", "rejected"): C("request", "rejected"),
    ("request", "withdrawn"): C("request", "withdrawn"),
    ("account", "unapproved"): C("account", "unapproved"),
    ("account", "proposed"): C("account", "proposed"),
    ("account", "approved"): C("account", "approved"),
    ("account", "active"): C("account", "active"),
    ("account", "under-reassessment"): C("account", "under reassessment"),
    ("account", "withdrawn"): C("account", "withdrawn"),
    ("account", "closed"): C("account", "closed"),
    ("assessment", "open"): C("assessment", "open"),
    ("assessment", "decided"): C("assessment", "decided"),
}

assert set(OFFICIAL_LANGUAGES) == set(LANGUAGE_NAMES)


class Words(Mapping[str, str]):
    """The words of one page in its reader's language, read from the catalog when used."""

    def __init__(self, language: str) -> None:
        self.language = language_of(language)
        self._catalog = translations(self.language)

    def __getitem__(self, key: str) -> str:
        return self._catalog.gettext(WORDS[key])

    def __iter__(self) -> Iterator[str]:
        return iter(WORDS)

    def __len__(self) -> int:
        return len(WORDS)

    def state_of(self, code: str | None, kind: str) -> str:
        """A state code of a request, account or assessment (`under-reassessment`) in the
        reader's words."""
        found = STATE_WORDS.get((kind, code or ""))
        return str(self._catalog.pgettext(*found)) if found else code or ""

    def word(self, text: str | None) -> str:
        """A text a service marked for the catalogs (an account's status), in the reader's words."""
        return self._catalog.gettext(text) if text else ""

    @property
    def colon(self) -> str:
        """What separates a label from what follows in the reader's typography (French: a
        space before the colon; Chinese: a full-width colon), as the catalog writes it."""
        return T(self.language, REFUSAL, field="", rule="")


#: a refused field (a form's input, or the CLI flag the service names) -> the key of its label
FIELD_LABELS = {
    "language": "content_languages",
    "decision": "decision_legend",
    "reason": "reasons",
    "condition": "conditions_label",
    "vault_ref": "vault_ref",
}
#: how a refusal reads: the field's label, then the rule broken
REFUSAL = _("{field}: {rule}")


def refusal(refused: Refused, language: str) -> str:
    """A service's refusal as a web page shows it in its reader's language: the field by its
    label on the form, the rule from the catalogs (rules marked `models.errors.R`, their
    parameters filled in the reader's way; a rule not in the catalogs stays as written), the
    clause it comes from; a refusal the service put in words of its own (`words`), those."""
    if refused.words is not None:
        return render(refused.words, language)
    key = refused.field.lstrip("-").replace("-", "_")
    key = FIELD_LABELS.get(key, key)
    label = T(language, WORDS[key]) if key in WORDS else refused.field
    rule = T(language, refused.template, **_statuses(refused.params, language))
    if refused.clause and refused.clause not in label:
        rule = f"{rule} ({refused.clause})"
    return T(language, REFUSAL, field=label, rule=rule)


#: the pieces of smgov's own findings, recommendations and survey reasons, as patterns
_PIECES: list[tuple[re.Pattern[str], str]] = []


def _pieces() -> list[tuple[re.Pattern[str], str]]:
    if not _PIECES:
        from models import survey  # rapidfuzz's import, only for a page that shows smgov's words

        for template in (*assessment.SAID, *survey.SAID):
            parts = re.split(r"\{(\w+)\}", template)
            pattern = "".join(
                re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)"
                for n, part in enumerate(parts)
            )
            _PIECES.append((re.compile(pattern), template))
    return _PIECES


_REF = re.compile(r"([a-z]+):([0-9]+)")


def ref_words(ref: object, language: str) -> str:
    """A surveyed account's ref (`account:12`) as people read it ("account 12", in their
    language); anything else as it is."""
    from models.survey import REFS

    text = "" if ref is None else str(ref)
    found = _REF.fullmatch(text)
    if found is None or found[1] not in REFS:
        return text
    return T(language, REFS[found[1]], number=found[2])


def _label(label: str, language: str) -> str:
    """A piece's label: a word smgov writes, a matched account's `ref (owner)`, or a clause."""
    if label in assessment.SAID:
        return T(language, label)
    ref, space, owner = label.partition(" (")
    if space and _REF.fullmatch(ref):
        return f"{ref_words(ref, language)} ({owner}"
    return label


#: a staff member's status, as the catalogs hold it in context
_STATUS = {text: (context, text) for context, text in registry.STAFF_STATUS_WORDS}


def _statuses(params: dict[str, Any], language: str) -> dict[str, Any]:
    """`params` in the reader's words: a staff member's status (`status`); the form's fields a
    refusal lists (`fields`, e.g. the 3.2 evidence a request lacks), as `items`, each by its
    label on the form."""
    status = params.get("status")
    if isinstance(status, str) and status in _STATUS:
        catalog = translations(language_of(language))
        params = {**params, "status": catalog.pgettext(*_STATUS[status])}
    fields = params.get("fields")
    if isinstance(fields, list | tuple) and fields and all(f in WORDS for f in fields):
        params = {**params, "items": "; ".join(T(language, WORDS[f]) for f in fields)}
    return params


#: the pieces' parameters that are quantities (days, followers, posts a month, percentages),
#: written in the reader's way (CLDR: "12 000" in French); never an index number or a ref
_QUANTITIES = frozenset({"days", "followers", "posts", "purpose", "audience", "name"})
_QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?")


def _quantities(params: dict[str, Any], language: str) -> dict[str, Any]:
    from babel.numbers import format_decimal

    where = locale(language_of(language))
    return {
        key: format_decimal(float(value) if "." in value else int(value), locale=where)
        if key in _QUANTITIES and isinstance(value, str) and _QUANTITY.fullmatch(value)
        else value
        for key, value in params.items()
    }


def _piece(text: str, language: str, missed: list[str]) -> str:
    for pattern, template in _pieces():
        found = pattern.fullmatch(text)
        if found:
            params = _quantities(_statuses(found.groupdict(), language), language)
            if "piece" in params:
                params["piece"] = _piece(params["piece"], language, missed)
            return T(language, template, **params)
    label, colon, rest = text.partition(": ")
    if colon and rest:  # a labelled piece: a criterion, a matched account, "overlaps"
        field = _label(label, language)
        return T(language, REFUSAL, field=field, rule=_piece(rest, language, missed))
    missed.append(text)
    return text


#: longer than any piece smgov writes (a matched account's organization is at most 100
#: characters): a longer text is shown as it is, never matched piece by piece
_LONGEST = 400


def said(text: object, language: str, missed: list[str] | None = None) -> str:
    """A finding, a note, a recommendation's why or a survey's reason, as smgov wrote it in
    English (`models.assessment.SAID`, `models.survey.SAID`), in the reader's words, piece by
    piece; a piece it does not know (`missed`) stays as written."""
    found: list[str] = [] if missed is None else missed
    written = text if isinstance(text, str) else "" if text is None else str(text)
    return "; ".join(
        _piece(piece, language, found) if len(piece) <= _LONGEST else piece
        for piece in written.split("; ")
        if piece
    )


def texts(language: str) -> Words:
    """The words of one page, in `language` (English when it is not an official language)."""
    return Words(language)


def direction(language: str) -> str:
    return "rtl" if language in RTL else "ltr"


def best_language(accept: str | None) -> str:
    """The first official language in an Accept-Language header (e.g. 'fr-CH, fr;q=0.9')."""
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in OFFICIAL_LANGUAGES:
            return code
    return "en"
