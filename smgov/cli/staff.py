"""`smgov staff`: staff members, from the command line or a CSV file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from models.errors import Refused
from smgov.cli.common import AsOfOpt, JsonOpt, csv_rows, print_imported, refuse_rows, run, show
from smgov.cli.hr import dispatch_hr

app = typer.Typer(no_args_is_help=True, help="Staff members.")


@app.command("add")
def staff_add(
    index: str,
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[str, typer.Option("--email")],
    entity: Annotated[str, typer.Option("--entity")],
    language: Annotated[str, typer.Option("--language", help="ar, zh, en, fr, ru or es")] = "en",
    registry_officer: Annotated[bool, typer.Option("--registry-officer")] = False,
    by: Annotated[
        str | None,
        typer.Option("--by", help="the registry officer naming a registry officer"),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Add a staff member."""
    from services import entities
    from services.authority import OPERATOR

    run(
        lambda c: entities.add_staff(
            c,
            index=index,
            name=name,
            email=email,
            entity=entity,
            language=language,
            registry_officer=registry_officer,
            by=by or OPERATOR,
        ),
        as_of=as_of,
    )
    typer.echo(f"staff member {index} added")


@app.command("import")
def staff_import(
    file: Annotated[str, typer.Argument(metavar="FILE.csv")],
    partial: Annotated[bool, typer.Option("--partial", help="import the good rows")] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Import staff from CSV (index,name,email,entity,language): every row checked, nothing
    imported if any is bad (unless --partial); importing the same file again changes nothing."""
    from services import staff as staff_service

    def read() -> Iterator[tuple[int, dict[str, Any]]]:
        return csv_rows(file, staff_service.STAFF_COLUMNS, field="FILE.csv")

    try:
        report = run(
            lambda c: staff_service.import_staff(c, read=read, partial=partial), as_of=as_of
        )
    except staff_service.ImportRefused as refused:
        raise refuse_rows(refused.errors) from refused
    if report.events:
        dispatch_hr(report.events, as_of, batch=True)
    print_imported(report, "staff members", as_json)


@app.command("update")
def staff_update(
    index: str,
    name: Annotated[str | None, typer.Option("--name")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="a new entity: a reassignment (4.2)")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="ar, zh, en, fr, ru or es")
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Change a staff member's details; a new entity is a reassignment through the HR inbox
    (their written authorizations are withdrawn, 4.2)."""
    from services import staff as staff_service

    if name is None and email is None and entity is None and language is None:
        raise Refused("INDEX", "name what changes: --name, --email, --entity or --language")
    change = run(
        lambda c: staff_service.update_staff(
            c, index, name=name, email=email, entity=entity, language=language
        ),
        as_of=as_of,
    )
    typer.echo(f"staff member {change.record.index} updated")
    if change.events:
        dispatch_hr(change.events, as_of, batch=False)
        typer.echo(f"reassigned to {change.record.entity}: written authorizations withdrawn (4.2)")


@app.command("list")
def staff_list(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    unplaced: Annotated[
        bool,
        typer.Option(
            "--unplaced", help="only staff whose directory department names no entity yet"
        ),
    ] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """List staff members with their status (active, separated, reassigned)."""
    from services import entities

    show(
        run(lambda c: entities.list_staff(c, entity=entity, unplaced=unplaced), as_of=as_of),
        as_json,
        ["index", "name", "entity", "status", "language", "email", "directory_department"],
    )


@app.command("show")
def staff_show(index: str, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Show one staff member and their written authorizations (3.7)."""
    from services import entities

    show(
        run(
            lambda c: entities.staff_view(c, entities.get_staff(c, index, field="INDEX")),
            as_of=as_of,
        ),
        as_json,
    )
