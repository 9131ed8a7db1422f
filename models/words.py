"""A marker for the texts the pure core writes in English and a door shows in its reader's
language (`scripts/i18n.sh extract` finds `W` by name): the core keeps English, in its data and
its JSON; the door looks each text up in the catalogs (`smgov.web_texts.said`)."""

from __future__ import annotations


def W(text: str) -> str:  # noqa: N802  # gettext-style marker, extracted by name
    return text


def WC(context: str, text: str) -> tuple[str, str]:  # noqa: N802  # idem, with its context
    """`W` for a word that reads differently elsewhere ("active" staff, an "active" account)."""
    return context, text
