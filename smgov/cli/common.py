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
from typer import core as typer_core

from models.clock import parse_date, parse_instant, system_now
from models.errors import CheckFailed, Refused
from models.languages import OFFICIAL_LANGUAGES
from models.settings import Settings
from smgov import output
from smgov.config import load_settings

R = TypeVar("R")
F = TypeVar("F", bound=Callable[..., Any])

JsonOpt = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout, for scripts.")]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        metavar="DATE",
        help="Act or answer as of this moment: YYYY-MM-DD (noon UTC that day) or an ISO "
        "datetime such as 2026-03-01T09:00+01:00 (UTC if no offset). Default: now.",
    ),
]
ByOpt = Annotated[
    str,
    typer.Option(
        "--by",
        metavar="INDEX",
        help="Staff index number of the person acting; checked against the registry.",
    ),
]
AccountArg = Annotated[
    str,
    typer.Argument(
        metavar="ACCOUNT",
        help="The account: its id (e.g. 12) or its URL (e.g. https://x.com/UNHumanRights).",
    ),
]
EntityFilterOpt = Annotated[
    str | None,
    typer.Option("--entity", metavar="CODE", help="Only this entity's, by its code (e.g. OHCHR)."),
]
CodeArg = Annotated[
    str, typer.Argument(metavar="CODE", help="The entity's code (e.g. OHCHR), in any case.")
]
IndexArg = Annotated[
    str, typer.Argument(metavar="INDEX", help="The staff member's index number (e.g. 100002).")
]
PartialOpt = Annotated[
    bool,
    typer.Option(
        "--partial",
        help="Import the good rows and report the bad ones (default: import nothing unless "
        "every row is good).",
    ),
]


def one_of(values: Sequence[str]) -> str:
    """`a, b or c`: the values an option accepts, for its help text."""
    return ", ".join(values[:-1]) + " or " + values[-1] if len(values) > 1 else "".join(values)


LANGUAGE_HELP = f"Preferred language for messages: {one_of(OFFICIAL_LANGUAGES)}."


# --------------------------------------------------------------------------------------------
# help that reads as a manual: parameters shown by name and metavar (CODE, DATE, INDEX, ...),
# never with Typer's Python type tags (`<str>`, `<list[str]>`, `<bool>`)


class _Argument(typer_core.TyperArgument):
    """An argument named by its metavar (ACCOUNT, FILE.csv, ...) alone."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return None


class _Option(typer_core.TyperOption):
    """An option shown with its metavar; a flag with nothing beside it."""

    def display_type_rich(self, ctx: Any) -> str | None:
        # an option without a metavar still shows its type tag: tests/test_cli_help.py fails on it
        return None if self.is_flag else super().display_type_rich(ctx)


def _as_manual(params: Sequence[Any]) -> None:
    # Typer builds its own parameter objects and offers no hook for their class; these
    # subclasses add no state, only how the help shows them.
    for param in params:
        if type(param) is typer_core.TyperArgument:
            param.__class__ = _Argument
        elif type(param) is typer_core.TyperOption:
            param.__class__ = _Option


class _Manual:
    """What a command and a group share: parameters shown as a manual shows them."""

    params: list[Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _as_manual(self.params)

    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)  # type: ignore[misc]  # TyperCommand's or TyperGroup's
        _as_manual([option])
        return option


class ManualCommand(_Manual, typer_core.TyperCommand):
    """A command whose --help reads as a manual (see _Argument and _Option)."""


class ManualGroup(_Manual, typer_core.TyperGroup):
    """A command group whose --help reads as a manual. Its commands are listed as `order` says,
    then the others in the order they were declared (Typer puts sub-groups last)."""

    order: tuple[str, ...] = ()

    def list_commands(self, ctx: Any) -> list[str]:
        declared = list(self.commands)
        first = [name for name in self.order if name in self.commands]
        return first + [name for name in declared if name not in first]


def group(text: str, cls: type[ManualGroup] = ManualGroup) -> typer.Typer:
    """A command group (`smgov entity`, ...) with help `text`; no arguments shows its help."""
    return typer.Typer(cls=cls, no_args_is_help=True, help=text)


def command(on: typer.Typer, name: str, *, example: str) -> Callable[[F], F]:
    """Declare command `name` of group `on`; its help ends with `example`, a whole command line."""
    return on.command(name, cls=ManualCommand, epilog=f"Example: {example}")


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


def run(use_case: Callable[[Any], R], *, as_of: str | None = None) -> R:
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


def lang() -> str:
    """The operator's language (2.3): SMGOV_LANGUAGE, else the environment's locale, else en."""
    return load_settings().language


def T(lang: str, msgid: str, **params: Any) -> str:  # noqa: N802  # the catalogs' keyword
    """notifications.i18n.T, imported when a command prints (`smgov --help` never loads Babel).
    Ids, index numbers and counts are passed as strings (no digit grouping: the English lines
    read as they always have, and scripts may parse them); dates go through CLDR."""
    from notifications import i18n

    return i18n.T(lang, msgid, **params)


def show(value: Any, as_json: bool, columns: list[str] | None = None) -> None:
    """`--json`: the value as it is; else a table or a record in the operator's language."""
    if as_json:
        output.emit_json(value)
    elif isinstance(value, list):
        output.table(value, columns or (list(value[0]) if value else []), lang())
    else:
        output.record(value, lang())


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
            header = list(reader.fieldnames or [])
            absent = [c for c in columns if c not in header]
            if absent:
                raise Refused(
                    field, f"missing columns: {', '.join(absent)} (expected {','.join(columns)})"
                )
            twice = sorted({c for c in header if header.count(c) > 1})
            if twice:  # the last of two columns of one name would win, unseen
                raise Refused(field, f"the header names {', '.join(twice)} twice")
            for number, row in enumerate(reader, start=2):
                if None in row:  # more cells than the header names: which column is whose?
                    raise Refused(
                        field,
                        f"cannot read {file}: broken CSV at line {reader.line_num}: "
                        f"{len(header) + len(row[None])} fields where the header names "
                        f"{len(header)}",
                    )
                yield number, row
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
    words = lang()
    counts = {
        "created": str(report.created),
        "updated": str(report.updated),
        "unchanged": str(report.unchanged),
        "rejected": str(len(report.rejected)),
    }
    if what == "entities":
        line = T(
            words,
            "{created} entities added, {updated} updated, {unchanged} unchanged, "
            "{rejected} rows rejected",
            **counts,
        )
    else:
        line = T(
            words,
            "{created} staff members added, {updated} updated, {unchanged} unchanged, "
            "{rejected} rows rejected",
            **counts,
        )
    typer.echo(line)
    for number, error in report.rejected:
        typer.echo("  " + T(words, "row {row}: {error}", row=str(number), error=error))


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
