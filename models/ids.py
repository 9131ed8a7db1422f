"""Row ids as people type them: a number names a row only within what a database can hold (a
module of its own, light to import, for the CLI's arguments as much as for the services)."""

from __future__ import annotations

#: The largest number a row's id can be (a signed 64-bit integer, on both databases): a larger
#: one names no row, and a driver refuses to send it (OverflowError).
MAX_ID = 2**63 - 1


def row_id(text: str) -> int | None:
    """The id that `text` names (digits only, 1 to MAX_ID), or None: `99999999999999999999`
    names no row, like a number never given; it never reaches the database."""
    if not text.isdigit() or not text.isascii() or len(text) > len(str(MAX_ID)):
        return None
    number = int(text)
    return number if 1 <= number <= MAX_ID else None
