"""Messages for people, wholly in their reader's official language (2.3): reminder digests and
alerts, each as a subject, a plain-text part and an accessible HTML part rendered from the Jinja2
templates in notifications/jinja/ (the same content: a list in text, a table of duties in HTML).

Every text goes through the gettext catalogs (notifications.i18n); every date is a day in the
entity's timezone written in the reader's language ("17 mars 2026, fin de journée (Zurich)"),
never an ISO instant. Each digest line names what (platform, handle, address of the account),
where (the entity), who (by name, with their role), when, one next step (the web door task when
it is configured, else the exact smgov command with its values filled in) and who else has been
or will be told — only people and teams that are really told.

A digest lists at most `limit` lines (SMGOV_DIGEST_MAX_LINES, 200), the most urgent; the others
are counted by entity (most urgent first, at most 20 entities named) with the commands that show
them all, so the registry team's digest over a whole system stays readable and cheap to render:
only the lines shown are rendered. Its subject still counts every duty.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

from notifications.cards import MAX_ITEMS, card, task_path
from notifications.i18n import (
    MN,
    RTL,
    Day,
    M,
    Msg,
    N,
    T,
    language_of,
    render,
    translations,
)

if TYPE_CHECKING:
    import jinja2

__all__ = [
    "DIGEST_MAX_LINES",
    "MN",
    "ROLE_WORDS",
    "Alert",
    "Day",
    "Line",
    "M",
    "Rendered",
    "language_of",
    "ranked",
    "render_alerts",
    "render_digest",
]


class Line(NamedTuple):
    """One reminder inside a digest (a named tuple: a 100k-account sweep builds ~300k)."""

    clause: str
    kind: str
    subject: str  # the duty's subject key, e.g. "account:15" (for sorting and links, never shown)
    what: Msg | str  # what it is about: "X @UN (https://x.com/UN)", a request, the entity
    entity: str  # the entity's code
    entity_name: str
    due: Day  # the due day where the entity is
    days_left: int  # > 0 before the due day, 0 on it, < 0 overdue
    role: str  # "assignee", "head" or "registry": why this recipient hears of it
    assignee: str  # the responsible person's name ("" for the registry team)
    assignee_role: Msg  # their role: head of entity, administrator, ...
    next_step: Msg  # one concrete next step, the command filled in
    link: str | None  # the web door task (a link placeholder), when there is one
    escalation: tuple[tuple[str, int], ...]  # (who: "head"|"registry", days from today; <= 0: told)
    head: str = ""  # the head of entity's name, for the escalation line


#: What each kind of duty asks, in a few words (its reader's language at rendering). Every
#: obligation kind has an entry; tests/test_i18n.py fails for a kind without one.
KIND_TITLES: dict[str, str] = {
    "inventory-entry": "Complete the registry entry of an existing account",
    "new-account-entry": "Complete the registry entry of a new account",
    "update-entry": "Bring an account's registry entry up to date",
    "credential-handover": "Take over the credentials of an account (4.2)",
    "credential-rotation": "Rotate the credentials of an account (4.2)",
    "inventory-campaign": "Complete your entity's inventory of accounts (3.4)",
    "initial-assessment": "Assess an account that existed at the bulletin's date (3.3)",
    "reassessment": "Reassess an account against the criteria of 3.2",
    "decide-request": "Decide a request for a new account (3.2)",
    "report-change": "Enter a reported change in the registry (3.6)",
    "attest-entries": "Attest that your entity's entries are current (3.1(c))",
    "assessment-condition": "Meet a condition of an account's continuation (3.2)",
    "close-account": "Close a withdrawn account on its platform (3.8)",
    "decide-unapproved": "Decide on an account entered without your approval (2.1)",
    "authorize-declared": "Authorize in writing the people an entry declares (3.7)",
    "acknowledge": "Acknowledge the obligations of 2.2 and 4.1",
}

# The titles as the extractor sees them (T needs a literal msgid to be extracted).
_KIND_TITLE_MSGS = (
    M("Complete the registry entry of an existing account"),
    M("Complete the registry entry of a new account"),
    M("Bring an account's registry entry up to date"),
    M("Take over the credentials of an account (4.2)"),
    M("Rotate the credentials of an account (4.2)"),
    M("Complete your entity's inventory of accounts (3.4)"),
    M("Assess an account that existed at the bulletin's date (3.3)"),
    M("Reassess an account against the criteria of 3.2"),
    M("Decide a request for a new account (3.2)"),
    M("Enter a reported change in the registry (3.6)"),
    M("Attest that your entity's entries are current (3.1(c))"),
    M("Meet a condition of an account's continuation (3.2)"),
    M("Close a withdrawn account on its platform (3.8)"),
    M("Decide on an account entered without your approval (2.1)"),
    M("Authorize in writing the people an entry declares (3.7)"),
    M("Acknowledge the obligations of 2.2 and 4.1"),
)
assert {m.msgid for m in _KIND_TITLE_MSGS} == set(KIND_TITLES.values())


@functools.lru_cache(maxsize=1024)
def title_of(kind: str, language: str) -> str:
    """What a duty of this kind asks, in the reader's language."""
    msgid = KIND_TITLES.get(kind)
    return render(M(msgid), language) if msgid else kind


#: A written authorization's role (3.7), as a word in a sentence.
ROLE_WORDS: dict[str, Msg] = {
    "administrator": M("administrator"),
    "alternate": M("alternate"),
    "publisher": M("publisher"),
}


class Rendered:
    """One message in one language: subject, plain text, HTML (e-mail) and an Adaptive Card
    (Teams), all with the same content. The rich parts are drawn when first read: an e-mail
    needs no card and a Teams post no HTML, and a day's sweep writes 10,000 digests."""

    __slots__ = ("_card", "_html", "language", "subject", "text")

    def __init__(
        self,
        subject: str,
        text: str,
        html: str | Callable[[], str],
        language: str,
        card: str | Callable[[], str],
    ) -> None:
        self.subject, self.text, self.language = subject, text, language
        self._html, self._card = html, card

    @property
    def html(self) -> str:
        if not isinstance(self._html, str):
            self._html = self._html()
        return self._html

    @property
    def card(self) -> str:
        if not isinstance(self._card, str):
            self._card = self._card()
        return self._card

    def _parts(self) -> tuple[str, ...]:
        return (self.subject, self.text, self.html, self.language, self.card)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Rendered) and self._parts() == other._parts()

    def __hash__(self) -> int:
        return hash(self._parts())

    def __repr__(self) -> str:
        return f"Rendered(subject={self.subject!r}, language={self.language!r})"


@functools.lru_cache(maxsize=4096)
def when(days_left: int, lang: str) -> str:
    """ "3 days left", "due today", "2 days overdue"."""
    if days_left > 0:
        return N(lang, "{n} day left", "{n} days left", days_left)
    if days_left == 0:
        return T(lang, "due today")
    return N(lang, "{n} day overdue", "{n} days overdue", -days_left)


@functools.lru_cache(maxsize=16384)
def _escalation(escalation: tuple[tuple[str, int], ...], head: str, lang: str) -> str:
    parts = []
    for who, wait in escalation:
        if who == "head":
            if wait <= 0:
                parts.append(T(lang, "the head of entity ({name}) has been told", name=head))
            else:
                parts.append(
                    N(
                        lang,
                        "the head of entity ({name}) will be told in {n} day",
                        "the head of entity ({name}) will be told in {n} days",
                        wait,
                        name=head,
                    )
                )
        elif wait <= 0:
            parts.append(T(lang, "the registry team has been told"))
        else:
            parts.append(
                N(
                    lang,
                    "the registry team will be told in {n} day",
                    "the registry team will be told in {n} days",
                    wait,
                )
            )
    return T(lang, "; ").join(parts)


@functools.lru_cache(maxsize=16384)
def _why(role: str, assignee: str, lang: str) -> str:
    if role == "assignee":
        return T(lang, "You are responsible for this.")
    if role == "registry":
        return T(lang, "Escalated to the registry team (Department of Global Communications).")
    return T(
        lang, "Escalated to you as head of entity: {name} has not completed it.", name=assignee
    )


def _line_view(line: Line, lang: str) -> dict[str, Any]:
    """Everything one line shows, in one language (shared by the text and HTML parts). What a
    line is about and its next step name one account or duty: they are rendered as they come
    (a cache of 100,000 distinct values would only be filled and emptied); the other parts
    repeat from line to line and are kept."""
    what = line.what
    responsible = _responsible(line.assignee, line.assignee_role, lang)
    why = _why(line.role, line.assignee, lang)
    return {
        "clause": line.clause,
        "title": title_of(line.kind, lang),
        "what": what if type(what) is str else render(what, lang),
        "entity": _entity(line.entity_name, line.entity, lang),
        "due": _shown(line.due, lang),
        "when": when(line.days_left, lang),
        "late": line.days_left < 0,
        "responsible": responsible,
        "why": why,
        "who": _who(responsible, why, lang),
        "next_step": render(line.next_step, lang),
        "link": line.link,
        "escalation": _escalation(line.escalation, line.head, lang),
    }


@functools.lru_cache(maxsize=16384)
def _who(responsible: str, why: str, lang: str) -> str:
    return T(lang, "{responsible}. {why}", responsible=responsible, why=why)


# A digest's lines repeat their parts (an entity, a day, a role, a next step for a kind of duty):
# each part is put in words once per language and kept (a day's sweep writes some 285,000 lines).
@functools.lru_cache(maxsize=65536)
def _cached(value: Any, lang: str) -> str:
    return render(value, lang)


def _shown(value: Any, lang: str) -> str:
    """`render`, kept for values that can be kept (hashable ones)."""
    try:
        return _cached(value, lang)
    except TypeError:  # unhashable parameters: rendered each time
        return render(value, lang)


@functools.lru_cache(maxsize=16384)
def _entity(name: str, code: str, lang: str) -> str:
    return T(lang, "{name} ({code})", name=name, code=code)


def _responsible(assignee: str, role: Msg, lang: str) -> str:
    role_words = _shown(role, lang)
    return _name_role(assignee, role_words, lang) if assignee else role_words


@functools.lru_cache(maxsize=65536)
def _name_role(name: str, role: str, lang: str) -> str:
    return T(lang, "{name}, {role}", name=name, role=role)


def _account_number(subject: str) -> tuple[str, int, str]:
    kind, _, number = subject.partition(":")
    return (kind, int(number), "") if number.isdigit() else (kind, 0, number)


def _order(line: Line) -> tuple[int, tuple[str, int, str], str]:
    """Most urgent first (most overdue), then by account number (15 before 103), then kind."""
    return (line.days_left, _account_number(line.subject), line.kind)


def ranked(lines: Sequence[Line]) -> list[int]:
    """The positions of `lines` in the order a digest lists them (`_order`; equal lines as they
    came): a digest of at most `limit` lines shows those of the first `max(limit, 1)`."""
    return sorted(range(len(lines)), key=lambda i: _order(lines[i]))


#: The lines a digest lists at most, the most urgent (the default of SMGOV_DIGEST_MAX_LINES).
DIGEST_MAX_LINES = 200
#: The entities the duties beyond a digest's lines are counted for, at most (most urgent first);
#: those of the others are summed in one line (a system has some 500 entities).
DIGEST_MAX_ENTITIES = 20


def _rest(rest: list[Line], lang: str) -> dict[str, Any] | None:
    """What a digest says of the duties it does not list: how many, by entity (the entity with
    the most urgent duty first, then the one with most duties), and where to see them all."""
    if not rest:
        return None
    count: Counter[str] = Counter()
    urgent: dict[str, int] = {}  # each entity's most urgent: its first line (`rest` is ordered)
    names: dict[str, str] = {}
    for line in rest:
        if not count[line.entity]:
            urgent[line.entity], names[line.entity] = line.days_left, line.entity_name
        count[line.entity] += 1
    order = sorted(count, key=lambda code: (urgent[code], -count[code], code))
    named, others = order[:DIGEST_MAX_ENTITIES], order[DIGEST_MAX_ENTITIES:]
    return {
        "heading": N(
            lang,
            "… and {n} more duty, by entity, most urgent first:",
            "… and {n} more duties, by entity, most urgent first:",
            len(rest),
        ),
        "entities": [
            T(
                lang,
                "{entity}: {count} (most urgent: {when})",
                entity=_entity(names[code], code, lang),
                count=N(lang, "{n} duty", "{n} duties", count[code]),
                when=when(urgent[code], lang),
            )
            for code in named
        ],
        "others": N(
            lang,
            "… and {n} other entity: {count}",
            "… and {n} other entities: {count}",
            len(others),
            count=N(lang, "{n} duty", "{n} duties", sum(count[code] for code in others)),
        )
        if others
        else None,
        "pointer": T(
            lang,
            "To see them all: {report} (the overdue duties counted per entity) or {list} (every "
            "open duty of one entity).",
            report="smgov report compliance",
            list=f"smgov obligation list --entity {order[0]} --state open",
        ),
    }


@functools.cache
def _env(lang: str) -> jinja2.Environment:
    import jinja2  # only a process that renders a message loads Jinja2 (start-up time, issue 20)

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("notifications", "jinja"),
        autoescape=jinja2.select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,  # the templates ship with the code: no stat() per message drawn
    )
    env.filters["labelled"] = _labelled
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]  # added by the i18n extension
    return env


def _labelled(label: str, value: str) -> str:
    """ "Due: 11 March 2026" — no space after a full-width colon (Chinese)."""
    return f"{label}{value}" if label.endswith("：") else f"{label} {value}"


@functools.lru_cache(maxsize=16)
def _labels(lang: str) -> dict[str, str]:
    """The labels of a digest's lines in one language, translated once."""
    return {
        "what": T(lang, "Account or subject:"),
        "entity": T(lang, "Entity:"),
        "due": T(lang, "Due:"),
        "who": T(lang, "Responsible:"),
        "next_step": T(lang, "Next step:"),
        "link": T(lang, "Open the task in the browser:"),
        "escalation": T(lang, "Escalation:"),
        "open": T(lang, "Open the task"),
        # the card's facts: a label each, no colon (a FactSet draws its own)
        "fact_what": T(lang, "Account or subject"),
        "fact_entity": T(lang, "Entity"),
        "fact_due": T(lang, "Due"),
        "fact_when": T(lang, "Days left"),
        "fact_who": T(lang, "Responsible"),
    }


# A digest's lines, drawn here rather than in the Jinja2 pages: a day's sweep draws some 200,000
# of them, and Jinja2's work per value (a lookup, a filter call, an escape each) was most of the
# sweep's time. The pages (notifications/jinja/digest.*) draw everything around the lines.
_HTML_ROW = (
    '<tr style="vertical-align: top;">\n'
    '<th scope="row" style="text-align: start; font-weight: normal; border-bottom: 1px solid'
    ' #767676; padding: 8px;">\n'
    "<strong>{title}</strong> [{clause}]<br>\n"
    "{entity}<br>\n"
    "{who}\n"
    "{escalation}"
    "</th>\n"
    '<td style="border-bottom: 1px solid #767676; padding: 8px;">{what}</td>\n'
    '<td style="border-bottom: 1px solid #767676; padding: 8px;">{due}<br><strong{late}>{when}'
    "</strong></td>\n"
    '<td style="border-bottom: 1px solid #767676; padding: 8px;">\n'
    "{link}"
    "{next_step}\n"
    "</td>\n"
    "</tr>\n"
)
_HTML_LINK = (
    '<a href="{href}" style="display: inline-block; background: #005a9e; color: #ffffff;'
    ' padding: 10px 16px; border-radius: 4px; text-decoration: none; font-weight: bold;">'
    "{label}</a><br>\n"
)


@functools.lru_cache(maxsize=16)
def _prefixes(lang: str) -> dict[str, str]:
    """Each label as it leads its value (`_labelled`): "Due: ", or "截止：" with no space."""
    return {key: _labelled(label, "") for key, label in _labels(lang).items()}


def _text_rows(views: list[dict[str, Any]], lang: str) -> str:
    """The lines of a digest's plain text, numbered."""
    label = _prefixes(lang)
    out: list[str] = []
    for number, view in enumerate(views, 1):
        out.append(
            f"{number}. [{view['clause']}] {view['title']}\n"
            f"   {label['what']}{view['what']}\n"
            f"   {label['entity']}{view['entity']}\n"
            f"   {label['due']}{view['due']} — {view['when']}\n"
            f"   {label['who']}{view['who']}\n"
            f"   {label['next_step']}{view['next_step']}\n"
        )
        if view["link"]:
            out.append(f"   {label['link']}{view['link']}\n")
        if view["escalation"]:
            out.append(f"   {label['escalation']}{view['escalation']}\n")
        out.append("\n")
    return "".join(out)


def _escape(text: str) -> str:
    """`text` for HTML, as markupsafe (the pages' autoescape) writes it, as a plain string: a
    digest escapes some two million values, and making each a `Markup` doubled the cost."""
    return (
        text.replace("&", "&amp;")
        .replace(">", "&gt;")
        .replace("<", "&lt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


#: `_escape` kept for the parts that repeat from line to line (a title, an entity, a day, who
#: is responsible, the escalation); what a line is about and its next step are escaped as met.
_escaped = functools.lru_cache(maxsize=16384)(_escape)


def _html_rows(views: list[dict[str, Any]], lang: str) -> Any:
    """The rows of a digest's HTML table, every value escaped (as the page's autoescape would)."""
    from markupsafe import Markup

    label = _prefixes(lang)
    button = _escaped(_labels(lang)["open"])
    out: list[str] = []
    for view in views:
        escalation = view["escalation"]
        link = view["link"]
        out.append(
            _HTML_ROW.format(
                title=_escaped(view["title"]),
                clause=_escaped(view["clause"]),
                entity=_escaped(label["entity"] + view["entity"]),
                who=_escaped(label["who"] + view["who"]),
                escalation=f"<br>{_escaped(label['escalation'] + escalation)}"
                if escalation
                else "",
                what=_escape(view["what"]),
                due=_escaped(view["due"]),
                late=' style="color: #a4000f;"' if view["late"] else "",
                when=_escaped(view["when"]),
                link=_HTML_LINK.format(href=_escape(link), label=button) if link else "",
                next_step=_escape(view["next_step"]),
            )
        )
    return Markup("".join(out))  # noqa: S704  # every value in it was escaped above


def _page(lang: str, template: str, **values: Any) -> str:
    return (
        _env(lang)
        .get_template(template)
        .render(lang=lang, dir="rtl" if lang in RTL else "ltr", **values)
    )


_SUBJECT, _ROWS = "\x00subject\x00", "\x00rows\x00"


@functools.lru_cache(maxsize=32)
def _shell(lang: str, template: str) -> tuple[str, ...]:
    """A digest page of one language drawn once, with holes where its subject and rows go:
    the page around the lines is the same in every digest without a rest (a day's sweep draws
    20,000 pages, and Jinja2's gettext calls were a tenth of its time)."""
    from markupsafe import Markup

    page = _page(lang, template, rows=Markup(_ROWS), subject=_SUBJECT, rest=None)  # noqa: S704  # a constant
    return tuple(re.split(f"({_SUBJECT}|{_ROWS})", page))


def _digest_page(
    lang: str, template: str, *, rows: str, subject: str, rest: dict[str, Any] | None
) -> str:
    """`template` (digest.txt or digest.html) filled: from its shell when the digest lists all
    its duties, through Jinja2 when it counts the rest."""
    if rest is not None:  # the HTML rows come as Markup (`_html_rows`)
        return _page(lang, template, rows=rows, subject=subject, rest=rest)
    shown = _escape(subject) if template.endswith(".html") else subject
    return "".join(
        shown if piece == _SUBJECT else rows if piece == _ROWS else piece
        for piece in _shell(lang, template)
    )


def render_digest(lines: list[Line], language: str, *, limit: int = DIGEST_MAX_LINES) -> Rendered:
    """One digest: the duties due for one recipient, most urgent first — at most `limit` lines,
    then the others counted by entity with where to see them all. The lines beyond `limit` are
    cut before any is rendered; the subject counts every duty."""
    lang = language_of(language)
    ordered = [lines[i] for i in ranked(lines)]
    shown = ordered[: max(limit, 1)]
    views = [_line_view(line, lang) for line in shown]
    first = views[0]
    count = len(ordered)
    head = N(lang, "{n} duty", "{n} duties", count)
    if ordered[0].days_left < 0:
        subject = T(
            lang,
            "smgov: OVERDUE — {count} — {title}: {what} ({when})",
            count=head,
            title=first["title"],
            what=first["what"],
            when=first["when"],
        )
    else:
        subject = T(
            lang,
            "smgov: {count} due — {title}: {what} ({when})",
            count=head,
            title=first["title"],
            what=first["what"],
            when=first["when"],
        )
    rest = _rest(ordered[len(shown) :], lang)
    text = _digest_page(
        lang, "digest.txt", rows=_text_rows(views, lang), subject=subject, rest=rest
    )
    return Rendered(
        _one_line(subject)[:300],
        text,
        lambda: _digest_page(
            lang, "digest.html", rows=_html_rows(views, lang), subject=subject, rest=rest
        ),
        lang,
        lambda: _digest_card(views, shown, count, subject, text, lang),
    )


def _digest_card(
    views: list[dict[str, Any]],
    shown: list[Line],
    count: int,
    subject: str,
    text: str,
    lang: str,
) -> str:
    """A digest as an Adaptive Card: its first MAX_ITEMS lines, then how many more."""
    label = _labels(lang)
    items = [
        {
            "title": f"[{view['clause']}] {view['title']}",
            "facts": [
                (label["fact_what"], view["what"]),
                (label["fact_entity"], view["entity"]),
                (label["fact_due"], view["due"]),
                (label["fact_when"], view["when"]),
                (label["fact_who"], view["responsible"]),
            ],
            "text": [
                _labelled(label["next_step"], view["next_step"]),
                *(
                    [_labelled(label["escalation"], view["escalation"])]
                    if view["escalation"]
                    else []
                ),
            ],
            "button": label["open"],
            "path": task_path(line.subject),
        }
        for view, line in zip(views[:MAX_ITEMS], shown[:MAX_ITEMS], strict=True)
    ]
    more = count - len(items)
    return card(
        lang=lang,
        rtl=lang in RTL,
        title=_one_line(subject),
        items=items,
        more=N(lang, "… and {n} more duty", "… and {n} more duties", more) if more > 0 else None,
        fallback=text,
    )


@dataclass(frozen=True)
class Alert:
    """An immediate message (not a reminder): an HR change, an orphaned account, an incident.
    Title and lines are messages (`M(...)`) translated for each reader, or plain strings (data
    such as a reporter's own words, shown as given)."""

    title: Msg | str
    lines: tuple[Msg | str, ...]
    urgent: bool = False  # urgent alerts lead the message and its subject


def render_alerts(alerts: list[Alert], language: str) -> Rendered:
    """Subject and body for one or more alerts to one recipient."""
    lang = language_of(language)
    alerts = sorted(alerts, key=lambda a: not a.urgent)
    views = [
        {
            "title": render(alert.title, lang),
            "lines": [render(line, lang) for line in alert.lines],
            "urgent": alert.urgent,
        }
        for alert in alerts
    ]
    title = views[0]["title"]
    if len(alerts) > 1:
        title = N(lang, "{title} (+{n} more)", "{title} (+{n} more)", len(alerts) - 1, title=title)
    subject = T(lang, "smgov: {title}", title=title)
    values = {"alerts": views, "subject": subject}
    text = _page(lang, "alerts.txt", **values)
    return Rendered(
        _one_line(subject)[:300],
        text,
        lambda: _page(lang, "alerts.html", **values),
        lang,
        lambda: card(
            lang=lang,
            rtl=lang in RTL,
            title=_one_line(subject),
            items=[{"title": view["title"], "text": view["lines"]} for view in views],
            more=None,
            fallback=text,
        ),
    )


def render_test(language: str) -> Rendered:
    """`smgov notify test`: one message that says it is a test, in the reader's language."""
    return render_alerts(
        [
            Alert(
                M("Test message"),
                (M("This message checks that smgov can reach you. Nothing needs to be done."),),
            )
        ],
        language,
    )


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
