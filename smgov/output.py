"""Printing for the CLI: JSON for scripts (`--json`, the same in every language), aligned text for
people in the operator's language (2.3): column headers and labels through the catalogs, dates
through CLDR ("10 December 2026", never an ISO instant)."""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any


def C(context: str, msgid: str) -> tuple[str, str]:  # noqa: N802  # gettext-style marker
    """notifications.i18n.C (pgettext_noop), here so that `smgov --help` never imports Babel."""
    return context, msgid


#: The fields the CLI's tables and records show, as their headers and labels (context "field").
FIELDS = (
    C("field", "id"),
    C("field", "entity"),
    C("field", "platform"),
    C("field", "platform_name"),
    C("field", "handle"),
    C("field", "url"),
    C("field", "languages"),
    C("field", "language"),
    C("field", "purpose"),
    C("field", "audience"),
    C("field", "state"),
    C("field", "status"),
    C("field", "complete"),
    C("field", "incomplete"),
    C("field", "missing"),
    C("field", "administrator"),
    C("field", "alternate"),
    C("field", "created_on"),
    C("field", "registered_at"),
    C("field", "official"),
    C("field", "declared"),
    C("field", "unacknowledged"),
    C("field", "late_changes"),
    C("field", "role"),
    C("field", "staff"),
    C("field", "code"),
    C("field", "name"),
    C("field", "kind"),
    C("field", "timezone"),
    C("field", "head"),
    C("field", "index"),
    C("field", "email"),
    C("field", "status_effective_at"),
    C("field", "registry_officer"),
    C("field", "directory_department"),
    C("field", "unplaced"),
    C("field", "authorizations"),
    C("field", "account"),
    C("field", "granted_on"),
    C("field", "revoked_on"),
    C("field", "reference"),
    C("field", "requested_by"),
    C("field", "duplicates"),
    C("field", "owner"),
    C("field", "score"),
    C("field", "reason"),
    C("field", "history"),
    C("field", "event"),
    C("field", "from"),
    C("field", "to"),
    C("field", "by"),
    C("field", "at"),
    C("field", "resembles"),
    C("field", "campaign"),
    C("field", "due"),
    C("field", "due_at"),
    C("field", "days_left"),
    C("field", "outcome"),
    C("field", "accounts"),
    C("field", "clause"),
    C("field", "subject"),
    C("field", "assignee"),
    C("field", "findings"),
    C("field", "recommendation"),
    C("field", "why"),
    C("field", "decision"),
    C("field", "decided_by"),
    C("field", "decided_at"),
    C("field", "channel"),
    C("field", "recipient"),
    C("field", "attempts"),
    C("field", "event_id"),
    C("field", "type"),
    C("field", "effective"),
    C("field", "new_entity"),
    C("field", "source"),
    C("field", "flag"),
)

_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?")


def emit_json(value: Any) -> None:
    """`value` as indented JSON, written as it is encoded: the same text as `json.dumps`,
    without holding all of it at once (`account list --json` of 100k accounts is ~100 MB)."""
    write_json(value, sys.stdout.write)


def write_json(value: Any, write: Callable[[str], Any]) -> None:
    """Encode `value` as `emit_json` shows it, handing the text to `write` in pieces."""
    encoder = json.JSONEncoder(ensure_ascii=False, indent=2, default=str)
    pieces: list[str] = []
    for piece in encoder.iterencode(value):
        pieces.append(piece)
        if len(pieces) >= 8192:
            write("".join(pieces))
            pieces.clear()
    pieces.append("\n")
    write("".join(pieces))


def label(key: str, lang: str) -> str:
    """A field's name as the operator reads it (the key itself when the catalogs lack it)."""
    from notifications.i18n import language_of, translations

    return str(translations(language_of(lang)).pgettext("field", key))


def human(value: Any, lang: str) -> str:
    """A value as people read it: an ISO 8601 date or instant in words (CLDR), `-` for none."""
    from notifications.i18n import date, instant

    if value is None:
        return "-"
    if isinstance(value, str) and _DAY.fullmatch(value):
        return date(dt.date.fromisoformat(value), lang)
    if isinstance(value, str) and _INSTANT.fullmatch(value):
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return instant(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC), lang)
    return str(value)


def _sub(value: Any, lang: str) -> str:
    """A value inside a `key=value` list (`None` as before, for the scripts that read it)."""
    return "None" if value is None else human(value, lang)


def width(text: str) -> int:
    """Columns a text takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, columns: int) -> str:
    return text + " " * (columns - width(text))


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str], lang: str = "en") -> None:
    """Rows as an aligned text table with a header line."""
    if not rows:
        from notifications.i18n import T

        sys.stdout.write(T(lang, "(none)") + "\n")
        return

    def cell(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(human(v, lang) for v in value)
        return "" if value is None else human(value, lang)

    heads = [label(c, lang).upper() for c in columns]
    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(width(h), *(width(r[i]) for r in cells)) for i, h in enumerate(heads)]
    lines = ["  ".join(pad(h, w) for h, w in zip(heads, widths, strict=True)).rstrip()]
    lines += ["  ".join(pad(v, w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    sys.stdout.write("\n".join(lines) + "\n")


def record(value: dict[str, Any], lang: str = "en") -> None:
    """One object as `key: value` lines."""
    labels = {key: label(key, lang) for key in value}
    wide = max(width(k) for k in labels.values()) if value else 0
    for key, item in value.items():
        if isinstance(item, list) and item and isinstance(item[0], dict):
            sys.stdout.write(f"{labels[key]}:\n")
            for sub in item:
                pairs = (f"{label(k, lang)}={_sub(v, lang)}" for k, v in sub.items())
                sys.stdout.write("  - " + ", ".join(pairs) + "\n")
            continue
        if isinstance(item, list):
            item = ", ".join(human(v, lang) for v in item) or "-"
        sys.stdout.write(f"{pad(labels[key], wide)}  {human(item, lang)}\n")
