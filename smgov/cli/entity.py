"""`smgov entity`: the entities of the Secretariat (1.1(c)), their heads, acting heads and
data-entry delegates, and the head's attestation of their entries (3.1(c))."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from smgov.cli.common import (
    AsOfOpt,
    ByOpt,
    JsonOpt,
    csv_rows,
    optional_date,
    print_imported,
    refuse_rows,
    run,
    show,
)
from smgov.config import load_settings

app = typer.Typer(no_args_is_help=True, help="Entities of the Secretariat (1.1(c)).")


@app.command("add")
def entity_add(
    code: str,
    name: Annotated[str, typer.Option("--name")],
    kind: Annotated[str, typer.Option("--kind", help="department, office, ... (1.1(c))")],
    timezone: Annotated[str | None, typer.Option("--timezone", help="IANA name")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Add an entity of the Secretariat."""
    from services import entities

    tz = timezone or load_settings().default_timezone
    entity = run(
        lambda c: entities.add_entity(c, code=code, name=name, kind=kind, timezone=tz), as_of=as_of
    )
    typer.echo(f"entity {entity.code} added")


@app.command("import")
def entity_import(
    file: Annotated[str, typer.Argument(metavar="FILE.csv")],
    partial: Annotated[bool, typer.Option("--partial", help="import the good rows")] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Import entities from CSV (code,name,kind,timezone): all rows or none (unless --partial);
    codes are case-insensitive (dgc is DGC)."""
    from services import staff as staff_service

    def read() -> Iterator[tuple[int, dict[str, Any]]]:
        return csv_rows(file, staff_service.ENTITY_COLUMNS, field="FILE.csv")

    try:
        report = run(
            lambda c: staff_service.import_entities(c, read=read, partial=partial), as_of=as_of
        )
    except staff_service.ImportRefused as refused:
        raise refuse_rows(refused.errors) from refused
    print_imported(report, "entities", as_json)


@app.command("alias")
def entity_alias(
    code: str,
    directory_name: Annotated[
        str,
        typer.Option("--directory-name", help="the department name the identity provider sends"),
    ],
    as_of: AsOfOpt = None,
) -> None:
    """Map the identity provider's name for an entity (SCIM `department`) to the entity."""
    from services import staff as staff_service

    row = run(
        lambda c: staff_service.alias(c, code=code, directory_name=directory_name), as_of=as_of
    )
    typer.echo(f"directory name '{row.directory_name}' is entity {row.entity_code}")


@app.command("set-head")
def entity_set_head(
    code: str,
    staff: Annotated[str, typer.Option("--staff")],
    by: Annotated[
        str | None,
        typer.Option("--by", help="the registry officer acting (required once there are any)"),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Name the head of entity; the outgoing head's open duties pass to the new head."""
    from services import entities
    from services.authority import OPERATOR

    run(
        lambda c: entities.set_head(c, code=code, staff_index=staff, by=by or OPERATOR),
        as_of=as_of,
    )
    typer.echo(f"{staff} is head of {code}")


@app.command("acting-head")
def entity_acting_head(
    code: str,
    staff: Annotated[str, typer.Option("--staff")],
    from_: Annotated[str, typer.Option("--from")],
    to: Annotated[str, typer.Option("--to")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Appoint an officer-in-charge acting as head for a period (inclusive dates)."""
    from services import entities

    start, end = optional_date(from_, "--from"), optional_date(to, "--to")
    run(
        lambda c: entities.appoint(
            c,
            code=code,
            staff_index=staff,
            role="officer-in-charge",
            by=by,
            starts_on=start,
            ends_on=end,
        ),
        as_of=as_of,
    )
    typer.echo(f"{staff} acts as head of {code} from {from_} to {to}")


@app.command("delegate")
def entity_delegate(
    code: str, staff: Annotated[str, typer.Option("--staff")], by: ByOpt, as_of: AsOfOpt = None
) -> None:
    """Name a data-entry delegate who may keep the entity's registry data (3.1(c))."""
    from services import entities

    run(
        lambda c: entities.appoint(c, code=code, staff_index=staff, role="delegate", by=by),
        as_of=as_of,
    )
    typer.echo(f"{staff} may enter registry data for {code}")


@app.command("attest")
def entity_attest(code: str, by: ByOpt, as_of: AsOfOpt = None) -> None:
    """The head confirms the entity's entries are current and correct (3.1(c))."""
    from services.inventory import attest

    run(lambda c: attest(c, code=code, by=by), as_of=as_of)
    typer.echo(f"{code}'s entries attested by {by}")


@app.command("list")
def entity_list(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """List entities."""
    from services import entities

    show(
        run(entities.list_entities, as_of=as_of),
        as_json,
        ["code", "kind", "timezone", "head", "name"],
    )


@app.command("show")
def entity_show(code: str, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Show one entity."""
    from services import entities

    show(
        run(
            lambda c: entities.entity_view(c, entities.get_entity(c, code, field="CODE")),
            as_of=as_of,
        ),
        as_json,
    )
