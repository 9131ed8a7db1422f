"""Message texts in the official languages (2.3). English and French are written; the other four
official languages fall back to English until their translations are added to `TEXTS`.

A digest lists, for one recipient, every reminder due in one sweep. Each line says what is due,
under which clause, the due date in the entity's timezone, how many days are left or overdue, what
to do next (the exact smgov command) and who is escalated to when.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import NamedTuple

from models.languages import OFFICIAL_LANGUAGES


class Line(NamedTuple):
    """One reminder inside a digest (a named tuple: a 100k-account sweep builds ~300k)."""

    clause: str
    kind: str
    subject: str
    entity: str
    due_local: str  # e.g. "2026-03-16 (Europe/Zurich)"
    days_left: int  # > 0 before the due day, 0 on it, < 0 overdue
    role: str  # "assignee", "head" or "registry": why this person hears of it
    assignee: str
    next_step: str  # the command to run
    escalation: str  # who hears next, and when


TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "subject_due": "smgov: {count} item(s) due — {first}",
        "subject_overdue": "smgov: OVERDUE — {count} item(s) — {first}",
        "greeting": "This is smgov, the registry of institutional social media accounts "
        "(ST/SGB, Institutional use of social media).",
        "left": "{n} day(s) left",
        "today": "due today",
        "overdue": "{n} day(s) overdue",
        "as_assignee": "You are responsible for this.",
        "as_head": "Escalated to you as head of entity: {assignee} has not completed it.",
        "as_registry": "Escalated to the registry team (Department of Global Communications).",
        "due": "Due",
        "todo": "What to do",
        "escalation": "Escalation",
        "footer": "You receive this because the bulletin gives you or your entity this duty.",
    },
    "fr": {
        "subject_due": "smgov : {count} élément(s) à traiter — {first}",
        "subject_overdue": "smgov : EN RETARD — {count} élément(s) — {first}",
        "greeting": "Ceci est smgov, le registre des comptes institutionnels de médias sociaux "
        "(ST/SGB, Utilisation institutionnelle des médias sociaux).",
        "left": "{n} jour(s) restant(s)",
        "today": "échéance aujourd'hui",
        "overdue": "{n} jour(s) de retard",
        "as_assignee": "Cette tâche vous incombe.",
        "as_head": "Transmis à vous en tant que chef d'entité : {assignee} ne l'a pas terminée.",
        "as_registry": "Transmis à l'équipe du registre (Département de la communication globale).",
        "due": "Échéance",
        "todo": "À faire",
        "escalation": "Escalade",
        "footer": "Vous recevez ce message car le bulletin vous confie, à vous ou à votre entité, "
        "cette obligation.",
    },
}

KIND_TITLES: dict[str, dict[str, str]] = {
    "en": {
        "inventory-entry": "complete the registry entry of an existing account",
        "new-account-entry": "complete the registry entry of a new account",
        "update-entry": "bring an account's registry entry up to date",
        "credential-handover": "hand over the credentials of an account (4.2)",
        "credential-rotation": "rotate the credentials of an account (4.2)",
        "inventory-campaign": "complete your entity's inventory of accounts (3.4)",
        "initial-assessment": "assess an account that existed at the bulletin's date (3.3)",
        "reassessment": "reassess an account against the 3.2 criteria",
        "decide-request": "decide a request for a new account (3.2)",
        "report-change": "enter a reported change in the registry (3.6)",
        "attest-entries": "attest that your entity's entries are current (3.1(c))",
        "assessment-condition": "meet a condition of an account's continuation (3.2)",
        "close-account": "close a withdrawn account on its platform (3.8)",
    },
    "fr": {
        "inventory-entry": "compléter l'inscription d'un compte existant au registre",
        "new-account-entry": "compléter l'inscription d'un nouveau compte au registre",
        "update-entry": "mettre à jour l'inscription d'un compte au registre",
        "credential-handover": "reprendre les identifiants de connexion d'un compte (4.2)",
        "credential-rotation": "renouveler les identifiants de connexion d'un compte (4.2)",
        "inventory-campaign": "achever l'inventaire des comptes de votre entité (3.4)",
        "initial-assessment": "évaluer un compte existant à la date du bulletin (3.3)",
        "reassessment": "réévaluer un compte au regard des critères du 3.2",
        "decide-request": "statuer sur une demande de nouveau compte (3.2)",
        "report-change": "inscrire au registre une modification signalée (3.6)",
        "attest-entries": "attester que les inscriptions de votre entité sont à jour (3.1 c))",
        "assessment-condition": "remplir une condition du maintien d'un compte (3.2)",
        "close-account": "fermer un compte retiré sur sa plateforme (3.8)",
    },
}

assert set(TEXTS) <= set(OFFICIAL_LANGUAGES)


def language_of(preferred: str | None) -> str:
    """The recipient's language when smgov has its texts, else English."""
    return preferred if preferred in TEXTS else "en"


def _when(texts: dict[str, str], days_left: int) -> str:
    if days_left > 0:
        return texts["left"].format(n=days_left)
    if days_left == 0:
        return texts["today"]
    return texts["overdue"].format(n=-days_left)


def title_of(kind: str, language: str) -> str:
    lang = language_of(language)
    return KIND_TITLES[lang].get(kind) or KIND_TITLES["en"].get(kind) or kind


def render_digest(lines: list[Line], language: str) -> tuple[str, str]:
    """Subject and plain-text body of one digest."""
    lang = language_of(language)
    texts = TEXTS[lang]
    ordered = sorted(lines, key=lambda x: (x.days_left, x.subject))
    first = ordered[0]
    late = ordered[0].days_left < 0
    subject = texts["subject_overdue" if late else "subject_due"].format(
        count=len(ordered),
        first=f"{title_of(first.kind, lang)} ({first.subject}, {_when(texts, first.days_left)})",
    )
    todo, escalation = texts["todo"], texts["escalation"]
    blocks = [
        f"{number}. [{line.clause}] {_title(line.kind, lang)} — {line.subject} ({line.entity})\n"
        f"{_due_line(line.due_local, line.days_left, lang)}\n"
        f"{_role_line(line.role, line.assignee, lang)}\n"
        f"   {todo}: {line.next_step}\n"
        f"   {escalation}: {line.escalation}\n\n"
        for number, line in enumerate(ordered, start=1)
    ]
    return subject[:300], f"{texts['greeting']}\n\n{''.join(blocks)}{texts['footer']}"


# The pieces a digest repeats for thousands of lines, rendered once each.
_title = functools.cache(title_of)


@functools.lru_cache(maxsize=8192)  # bounded: a served process runs for months
def _due_line(due_local: str, days_left: int, lang: str) -> str:
    texts = TEXTS[lang]
    return f"   {texts['due']}: {due_local} — {_when(texts, days_left)}"


@functools.lru_cache(maxsize=8192)
def _role_line(role: str, assignee: str, lang: str) -> str:
    texts = TEXTS[lang]
    if role == "assignee":
        return f"   {texts['as_assignee']}"
    if role == "registry":
        return f"   {texts['as_registry']}"
    return f"   {texts['as_head'].format(assignee=assignee)}"


ESCALATION: dict[str, dict[str, str]] = {
    "en": {
        "head": "the head of entity is told {when}",
        "registry": "the registry team is told {when}",
        "in": "in {n} day(s)",
        "now": "now",
        "none": "none further",
    },
    "fr": {
        "head": "le chef d'entité sera informé {when}",
        "registry": "l'équipe du registre sera informée {when}",
        "in": "dans {n} jour(s)",
        "now": "dès maintenant",
        "none": "aucune autre",
    },
}


def escalation_text(
    days_left: int, head_after: int, registry_after: int, language: str, *, to_head: bool = True
) -> str:
    """Who hears next and when, counted from today (escalation starts N days after the due day);
    `to_head` is false when the head of entity is the one responsible."""
    texts = ESCALATION[language_of(language)]
    overdue = -days_left
    steps = [("head", head_after)] if to_head else []
    steps.append(("registry", registry_after))
    parts = []
    for who, after in steps:
        wait = after - overdue
        when = texts["now"] if wait <= 0 else texts["in"].format(n=wait)
        parts.append(texts[who].format(when=when))
    return "; ".join(parts)


@dataclass(frozen=True)
class Alert:
    """An immediate message (not a reminder): an HR change, an orphaned account, an incident."""

    title: str
    lines: tuple[str, ...]
    urgent: bool = False  # urgent alerts lead the message and its subject


ALERT_TEXTS = {
    "en": {"subject": "smgov: {title}", "more": " (+{n} more)", "intro": "Action may be needed:"},
    "fr": {
        "subject": "smgov : {title}",
        "more": " (+{n} autres)",
        "intro": "Une action peut être nécessaire :",
    },
}


def render_alerts(alerts: list[Alert], language: str) -> tuple[str, str]:
    """Subject and body for one or more alerts to one recipient."""
    texts = ALERT_TEXTS[language_of(language)]
    alerts = sorted(alerts, key=lambda a: not a.urgent)
    title = alerts[0].title + (texts["more"].format(n=len(alerts) - 1) if len(alerts) > 1 else "")
    parts = [TEXTS[language_of(language)]["greeting"], "", texts["intro"], ""]
    for alert in alerts:
        parts.append(f"* {alert.title}")
        parts.extend(f"  {line}" for line in alert.lines)
        parts.append("")
    return texts["subject"].format(title=title)[:300], "\n".join(parts)
