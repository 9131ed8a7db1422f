"""Texts for people in the six official languages (2.3), through gettext catalogs, and their dates
and numbers through CLDR (Babel).

The catalogs are `notifications/locale/<lang>/LC_MESSAGES/smgov.po`, one per official language,
translated from `notifications/locale/smgov.pot`, which is extracted from the code and templates
(`scripts/i18n.sh extract`; the mapping is `babel.cfg`). A `.po` file is compiled in memory the
first time its language is needed (Babel's own compiler, fuzzy entries left out), so there is no
build step: a fresh clone, an editable install and a wheel all read the same `.po` files, and a
test (tests/test_i18n.py) fails when a catalog lacks a message, holds a fuzzy one, or the `.pot`
no longer matches the code.

How code marks texts (the extraction keywords):
- `T(lang, "msgid {x}", x=...)`: translated now, for a reader of `lang`;
- `N(lang, "singular", "plural", n, ...)`: translated now, with the language's plural forms;
- `M("msgid {x}", x=...)`, `MN("singular", "plural", n, ...)`: a message translated later, when
  its reader is known (an alert written once, rendered per recipient).
Parameters are formatted for the reader: `int` through CLDR, a `Day` as "17 March 2026, end of day
(Zurich)", a nested message translated. Strings (names, handles, URLs, commands) stay as given.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.clock import local_date
from models.languages import OFFICIAL_LANGUAGES

if TYPE_CHECKING:
    # Babel is imported by the functions that translate or format: the markers (M, Msg, _)
    # that services import load none of it, nor does `--json` output (start-up time, issue 20)
    from babel import Locale
    from babel.support import Translations

DOMAIN = "smgov"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

#: The CLDR locale each official language is written in (UN English writes "17 March 2026").
CLDR_LOCALE = {
    "ar": "ar",
    "zh": "zh_Hans",
    "en": "en_GB",
    "fr": "fr",
    "ru": "ru",
    "es": "es",
}

#: Text direction, for HTML parts and pages.
RTL = frozenset({"ar"})


def language_of(preferred: str | None) -> str:
    """The reader's official language (2.3); English when none is recorded."""
    return preferred if preferred in OFFICIAL_LANGUAGES else "en"


def po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> Translations:
    """The compiled catalog of one official language (compiled from its `.po` on first use)."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po
    from babel.support import Translations

    with po_path(lang).open("rb") as handle:
        catalog = read_po(handle, locale=CLDR_LOCALE[lang], domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@functools.cache
def locale(lang: str) -> Locale:
    from babel import Locale

    return Locale.parse(CLDR_LOCALE[language_of(lang)])


@dataclass(frozen=True)
class Day:
    """A due day in an entity's timezone: shown as the date and the place whose day it is."""

    date: dt.date
    tz: str
    end_of_day: bool = True


@dataclass(frozen=True)
class Msg:
    """A message translated when its reader is known (`M`, `MN`)."""

    msgid: str
    params: tuple[tuple[str, Any], ...] = ()
    plural: str | None = None
    n: int = 0


def _(msgid: str) -> str:
    """Marks a text for the catalogs without translating it (gettext_noop): the English stays in
    JSON and the audit, and a door translates it for its reader with `word`."""
    return msgid


def C(context: str, msgid: str) -> tuple[str, str]:  # noqa: N802  # gettext-style marker
    """Marks a text with its context (pgettext_noop): the same English word may need different
    words elsewhere ("approved" is « approuvée » for a request, « approuvé » for an account)."""
    return context, msgid


def word(text: str, lang: str) -> str:
    """A text marked with `_` in the reader's language (itself when it is not in the catalogs)."""
    return translations(language_of(lang)).gettext(text)


def M(msgid: str, **params: Any) -> Msg:  # noqa: N802  # gettext-style marker, extracted by name
    return Msg(msgid, tuple(sorted(params.items())))


def MN(singular: str, plural: str, n: int, **params: Any) -> Msg:  # noqa: N802  # idem
    return Msg(singular, tuple(sorted({**params, "n": n}.items())), plural, n)


def T(lang: str, msgid: str, **params: Any) -> str:  # noqa: N802  # idem
    lang = language_of(lang)
    text = translations(lang).gettext(msgid)
    return text.format(**fmt_params(params, lang)) if params else text


def N(lang: str, singular: str, plural: str, n: int, **params: Any) -> str:  # noqa: N802  # idem
    lang = language_of(lang)
    text = translations(lang).ngettext(singular, plural, n)
    return text.format(**fmt_params({**params, "n": n}, lang))


def render(value: Any, lang: str) -> str:
    """A value as its reader reads it (a message translated, a day or number localized)."""
    lang = language_of(lang)
    if isinstance(value, Msg):
        params = dict(value.params)
        if value.plural is not None:
            params.pop("n", None)
            return N(lang, value.msgid, value.plural, value.n, **params)
        return T(lang, value.msgid, **params)
    if isinstance(value, Day):
        return day(value, lang)
    if isinstance(value, tuple):  # a list of things: "administrator, alternate"
        return T(lang, ", ").join(render(item, lang) for item in value)
    if isinstance(value, dt.datetime):
        return instant(value, lang)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return number(value, lang)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return date(value, lang)
    return str(value)


def fmt_params(params: dict[str, Any], lang: str) -> dict[str, str]:
    # a plain text is itself in every language (most parameters are: names, handles, commands)
    return {
        key: value if type(value) is str else render(value, lang) for key, value in params.items()
    }


@functools.lru_cache(maxsize=4096)
def number(value: int, lang: str) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=locale(lang))


@functools.lru_cache(maxsize=4096)
def date(value: dt.date, lang: str) -> str:
    """A calendar date in the reader's language ("17 mars 2026")."""
    from babel.dates import format_date

    return format_date(value, "long", locale=locale(lang))


def instant(value: dt.datetime, lang: str, tz: str = "UTC") -> str:
    """A moment as people read it, in the reader's language and a place's time ("30 nov. 2026,
    14:00 UTC")."""
    from babel.dates import format_date, format_time, get_timezone

    zone, where = get_timezone(tz), locale(lang)
    words = str(where.datetime_formats["medium"]).format(
        format_time(value, "HH:mm", tzinfo=zone, locale=where),
        format_date(value.astimezone(zone).date(), "medium", locale=where),
    )
    return words + (" UTC" if tz == "UTC" else f" ({place(tz, lang)})")


@functools.lru_cache(maxsize=4096)
def place(tz: str, lang: str) -> str:
    """The city that names a timezone, in the reader's language ("Genève", "日内瓦")."""
    from babel.dates import get_timezone, get_timezone_location

    try:
        return str(get_timezone_location(get_timezone(tz), locale=locale(lang), return_city=True))
    except (LookupError, ValueError):
        return tz


def due_words(instant: dt.datetime, tz: str, lang: str = "en") -> str:
    """A due instant (the end of a local day) as people read it: "17 March 2026, end of day
    (Zurich)". The CLI's tables use it; JSON keeps the ISO 8601 instant."""
    return day(Day(local_date(instant, tz), tz), lang)


@functools.lru_cache(maxsize=8192)
def day(value: Day, lang: str) -> str:
    """ "17 mars 2026, fin de journée (Zurich)": a due day where the entity is."""
    if value.end_of_day:
        return T(lang, "{date}, end of day ({place})", date=value.date, place=place(value.tz, lang))
    return T(lang, "{date} ({place})", date=value.date, place=place(value.tz, lang))
