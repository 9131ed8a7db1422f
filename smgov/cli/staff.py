"""`smgov staff`: staff members, from the command line or a CSV file."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from models.errors import Refused
from smgov.cli.common import (
    LANGUAGE_HELP,
    AsOfOpt,
    EntityFilterOpt,
    IndexArg,
    JsonOpt,
    PartialOpt,
    T,
    command,
    csv_rows,
    group,
    lang,
    print_imported,
    refuse_rows,
    run,
    show,
)
from smgov.cli.hr import dispatch_hr

app = group("Staff members: who they are, their entity and their preferred language.")


#: naming a registry officer (1.1(b)): on `staff add`, and on `staff update` for one whose post
#: a move or a separation ended
RegistryOfficerOpt = Annotated[
    bool,
    typer.Option(
        "--registry-officer",
        help="Name them a registry officer (keeps the registry; again, after a move or a "
        "separation ended it).",
    ),
]
NamingOfficerOpt = Annotated[
    str | None,
    typer.Option(
        "--by",
        metavar="INDEX",
        help="Staff index number of the registry officer naming them (--registry-officer).",
    ),
]


@command(
    app,
    "add",
    example='smgov staff add 100002 --name "B. Admin" --email admin@un.example --entity OHCHR '
    "--language fr",
)
def staff_add(
    index: IndexArg,
    name: Annotated[str, typer.Option("--name", metavar="TEXT", help="The person's full name.")],
    email: Annotated[
        str, typer.Option("--email", metavar="EMAIL", help="Where smgov writes to them.")
    ],
    entity: Annotated[
        str, typer.Option("--entity", metavar="CODE", help="The entity they work for, by code.")
    ],
    language: Annotated[str, typer.Option("--language", metavar="LANG", help=LANGUAGE_HELP)] = "en",
    registry_officer: RegistryOfficerOpt = False,
    by: NamingOfficerOpt = None,
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
    typer.echo(T(lang(), "staff member {index} added", index=index))


@command(app, "import", example="smgov staff import staff.csv")
def staff_import(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE.csv",
            help="A UTF-8 CSV file with the columns index,name,email,entity,language.",
        ),
    ],
    partial: PartialOpt = False,
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


@command(app, "update", example="smgov staff update 100002 --email b.admin@un.example")
def staff_update(
    index: IndexArg,
    name: Annotated[
        str | None, typer.Option("--name", metavar="TEXT", help="A new full name.")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", metavar="EMAIL", help="A new e-mail address.")
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(
            "--entity", metavar="CODE", help="A new entity, by code: a reassignment (4.2)."
        ),
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", metavar="LANG", help=LANGUAGE_HELP)
    ] = None,
    registry_officer: RegistryOfficerOpt = False,
    by: NamingOfficerOpt = None,
    as_of: AsOfOpt = None,
) -> None:
    """Change a staff member's details; a new entity is a reassignment through the HR inbox
    (their written authorizations are withdrawn, 4.2); `--registry-officer --by INDEX` names
    them a registry officer (1.1(b))."""
    from services import staff as staff_service
    from services.authority import OPERATOR

    details = (name, email, entity, language)
    if all(x is None for x in details) and not registry_officer:
        raise Refused(
            "INDEX",
            "name what changes: --name, --email, --entity, --language or --registry-officer",
        )
    if registry_officer:
        from services import entities

        run(
            lambda c: entities.name_registry_officer(c, index=index, by=by or OPERATOR),
            as_of=as_of,
        )
        typer.echo(T(lang(), "staff member {index} is a registry officer", index=index))
        if all(x is None for x in details):
            return
    change = run(
        lambda c: staff_service.update_staff(
            c, index, name=name, email=email, entity=entity, language=language
        ),
        as_of=as_of,
    )
    words = lang()
    typer.echo(T(words, "staff member {index} updated", index=change.record.index))
    if change.events:
        dispatch_hr(change.events, as_of, batch=False)
        typer.echo(
            T(
                words,
                "reassigned to {code}: written authorizations withdrawn (4.2)",
                code=change.record.entity,
            )
        )


@command(app, "list", example="smgov staff list --entity OHCHR")
def staff_list(
    entity: EntityFilterOpt = None,
    unplaced: Annotated[
        bool,
        typer.Option(
            "--unplaced",
            help="Only staff whose directory department names no entity yet (see smgov entity "
            "alias).",
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


@command(app, "show", example="smgov staff show 100002 --json")
def staff_show(index: IndexArg, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Show one staff member and their written authorizations (3.7)."""
    from services import entities

    show(
        run(
            lambda c: entities.staff_view(c, entities.get_staff(c, index, field="INDEX")),
            as_of=as_of,
        ),
        as_json,
    )
