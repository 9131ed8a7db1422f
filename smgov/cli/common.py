"""What every command of the `smgov` door shares: the options named alike everywhere, the way a
command reaches the database and runs a use case, reading CSV, and printing.

Heavy modules (the database, services, flows, Prefect) are imported inside the functions that
need them, so that `smgov --help` and the commands that orchestrate nothing start fast and never
import Prefect.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any, TypeVar

import typer

from models.clock import parse_date, parse_instant, system_now
from models.errors import CheckFailed, Refused
from models.settings import Settings
from smgov import output
from smgov.config import load_settings

T = TypeVar("T")

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="ISO date or datetime to act or answer as of (default: now)"),
]
ByOpt = Annotated[str, typer.Option("--by", help="index number of the person acting")]


def effective_time(as_of: str | None) -> dt.datetime:
    return parse_instant(as_of) if as_of else system_now()


def open_engine(settings: Settings, *, require_schema: bool = True) -> Any:
    from pathlib import Path

    from database import is_current, make_engine

    url = settings.resolved_database_url
    if require_schema and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///")).expanduser()
        if not path.exists():  # a read in an empty home creates nothing
            raise Refused(
                "database",
                f"no smgov database at {path}: run 'smgov db upgrade' first "
                "(or set SMGOV_HOME to the home that holds one)",
            )
    engine = make_engine(settings.resolved_database_url)
    if require_schema and not is_current(engine):
        raise CheckFailed("database: no smgov schema here; run 'smgov db upgrade' first")
    return engine


def run(use_case: Callable[[Any], T], *, as_of: str | None = None) -> T:
    from services.context import run as run_use_case

    settings = load_settings()
    return run_use_case(open_engine(settings), settings, effective_time(as_of), use_case)


def writable(option: str, path: str) -> str:
    """An output file's folder must exist: a clean refusal, never a traceback or a new folder."""
    from pathlib import Path

    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise Refused(option, f"folder {folder} does not exist")
    if Path(path).is_dir():
        raise Refused(option, f"{path} is a folder, not a file")
    return path


def show(value: Any, as_json: bool, columns: list[str] | None = None) -> None:
    if as_json:
        output.emit_json(value)
    elif isinstance(value, list):
        output.table(value, columns or (list(value[0]) if value else []))
    else:
        output.record(value)


def quiet_prefect() -> None:
    """Before Prefect is imported: no telemetry (a closed network; and it locks SQLite)."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def csv_rows(
    file: str, columns: Sequence[str], *, field: str = "FILE"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a UTF-8 CSV with a header row, numbered as a spreadsheet shows them (the header is
    row 1). A missing column, a bad encoding or broken CSV is one refusal naming the file."""
    import csv

    reader: csv.DictReader[str] | None = None
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            # strict: a stray or unterminated quote is broken CSV, never silently joined rows
            reader = csv.DictReader(handle, strict=True)
            absent = [c for c in columns if c not in (reader.fieldnames or [])]
            if absent:
                raise Refused(
                    field, f"missing columns: {', '.join(absent)} (expected {','.join(columns)})"
                )
            yield from enumerate(reader, start=2)
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 0
        raise Refused(field, f"cannot read {file}: broken CSV at line {line}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise Refused(field, f"cannot read {file}: not UTF-8 text") from exc
    except OSError as exc:
        raise Refused(field, f"cannot read {file}: {exc.strerror or type(exc).__name__}") from exc


def optional_date(text: str | None, field: str) -> dt.date | None:
    return parse_date(text, field=field) if text else None


def refuse_rows(errors: Sequence[tuple[int, str]], field: str = "FILE.csv") -> Refused:
    """An import refused as a whole: every bad row but the last on its own `error:` line, the
    last as the refusal the caller raises (so the command still ends with one exit 2)."""
    for number, error in errors[:-1]:
        sys.stderr.write(f"error: row {number}: {one_line(error)}\n")
    number, error = errors[-1]
    return Refused(f"{field} row {number}", one_line(error))


def print_imported(report: Any, what: str, as_json: bool) -> None:
    """The summary of an entity or staff import: counts, then each rejected row."""
    summary = {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": [{"row": n, "error": e} for n, e in report.rejected],
    }
    if as_json:
        output.emit_json(summary)
        return
    typer.echo(
        f"{report.created} {what} added, {report.updated} updated, {report.unchanged} "
        f"unchanged, {len(report.rejected)} rows rejected"
    )
    for number, error in report.rejected:
        typer.echo(f"  row {number}: {error}")


def one_line(message: str) -> str:
    """A refusal as one line: control, line-separating and bidirectional-override characters
    (which a hostile value could carry into the message) are shown escaped, never obeyed."""
    import unicodedata

    return "".join(
        f"\\u{ord(c):04x}"
        if unicodedata.category(c) in ("Cc", "Zl", "Zp")
        or "\u202a" <= c <= "\u202e"
        or "\u2066" <= c <= "\u2069"
        else c
        for c in message
    )
