"""Printing for the CLI: JSON for scripts (`--json`), aligned text for people."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any


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


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """Rows as an aligned text table with a header line."""
    if not rows:
        sys.stdout.write("(none)\n")
        return

    def cell(value: Any) -> str:
        if isinstance(value, list):
            return ",".join(str(v) for v in value)
        return "" if value is None else str(value)

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    sys.stdout.write("\n".join(lines) + "\n")


def record(value: dict[str, Any]) -> None:
    """One object as `key: value` lines."""
    width = max(len(k) for k in value) if value else 0
    for key, item in value.items():
        if isinstance(item, list) and item and isinstance(item[0], dict):
            sys.stdout.write(f"{key}:\n")
            for sub in item:
                sys.stdout.write("  - " + ", ".join(f"{k}={v}" for k, v in sub.items()) + "\n")
            continue
        if isinstance(item, list):
            item = ", ".join(str(v) for v in item) or "-"
        sys.stdout.write(f"{key.ljust(width)}  {'-' if item is None else item}\n")
