"""`smgov entity`: the entities of the Secretariat (1.1(c)), their heads, acting heads and
data-entry delegates, and the head's attestation of their entries (3.1(c))."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any

import typer

from models.registry import ENTITY_KINDS
from smgov.cli.common import (
    AsOfOpt,
    ByOpt,
    CodeArg,
    JsonOpt,
    PartialOpt,
    T,
    command,
    csv_rows,
    group,
    lang,
    one_of,
    optional_date,
    print_imported,
    refuse_rows,
    run,
    show,
)
from smgov.config import load_settings

app = group("Entities of the Secretariat (1.1(c)): their heads, acting heads and delegates.")


@command(
    app,
    "add",
    example='smgov entity add OHCHR --name "Office of the High Commissioner for Human Rights" '
    "--kind office --timezone Europe/Zurich",
)
def entity_add(
    code: Annotated[
        str,
        typer.Argument(
            metavar="CODE", help="A short code for the entity (e.g. OHCHR): letters and digits."
        ),
    ],
    name: Annotated[str, typer.Option("--name", metavar="TEXT", help="The entity's full name.")],
    kind: Annotated[
        str,
        typer.Option(
            "--kind", metavar="KIND", help=f"The kind of entity (1.1(c)): {one_of(ENTITY_KINDS)}."
        ),
    ],
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            metavar="TZ",
            help="The entity's IANA time zone, in which its deadlines fall (e.g. "
            "America/New_York). Default: SMGOV_DEFAULT_TIMEZONE.",
        ),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Add an entity of the Secretariat."""
    from services import entities

    tz = timezone or load_settings().default_timezone
    entity = run(
        lambda c: entities.add_entity(c, code=code, name=name, kind=kind, timezone=tz), as_of=as_of
    )
    typer.echo(T(lang(), "entity {code} added", code=entity.code))


@command(app, "import", example="smgov entity import entities.csv --partial")
def entity_import(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE.csv", help="A UTF-8 CSV file with the columns code,name,kind,timezone."
        ),
    ],
    partial: PartialOpt = False,
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


@command(
    app,
    "alias",
    example='smgov entity alias OHCHR --directory-name "Office of the High Commissioner for '
    'Human Rights"',
)
def entity_alias(
    code: CodeArg,
    directory_name: Annotated[
        str,
        typer.Option(
            "--directory-name",
            metavar="NAME",
            help="The department name the identity provider sends (SCIM `department`).",
        ),
    ],
    as_of: AsOfOpt = None,
) -> None:
    """Map the identity provider's name for an entity (SCIM `department`) to the entity."""
    from services import staff as staff_service

    row = run(
        lambda c: staff_service.alias(c, code=code, directory_name=directory_name), as_of=as_of
    )
    typer.echo(
        T(
            lang(),
            "directory name '{name}' is entity {code}",
            name=row.directory_name,
            code=row.entity_code,
        )
    )


@command(app, "set-head", example="smgov entity set-head OHCHR --staff 100001 --by 100009")
def entity_set_head(
    code: CodeArg,
    staff: Annotated[
        str,
        typer.Option("--staff", metavar="INDEX", help="Staff index number of the new head."),
    ],
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="INDEX",
            help="Staff index number of the registry officer acting (required once the "
            "registry has officers).",
        ),
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
    typer.echo(T(lang(), "{staff} is head of {code}", staff=staff, code=code))


@command(
    app,
    "acting-head",
    example="smgov entity acting-head OHCHR --staff 100004 --from 2026-07-01 --to 2026-07-31 "
    "--by 100001",
)
def entity_acting_head(
    code: CodeArg,
    staff: Annotated[
        str,
        typer.Option(
            "--staff", metavar="INDEX", help="Staff index number of the officer-in-charge."
        ),
    ],
    from_: Annotated[
        str, typer.Option("--from", metavar="DATE", help="First day acting: YYYY-MM-DD.")
    ],
    to: Annotated[
        str, typer.Option("--to", metavar="DATE", help="Last day acting (included): YYYY-MM-DD.")
    ],
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
    typer.echo(
        T(
            lang(),
            "{staff} acts as head of {code} from {start} to {end}",
            staff=staff,
            code=code,
            start=start,
            end=end,
        )
    )


@command(app, "delegate", example="smgov entity delegate OHCHR --staff 100005 --by 100001")
def entity_delegate(
    code: CodeArg,
    staff: Annotated[
        str,
        typer.Option("--staff", metavar="INDEX", help="Staff index number of the delegate."),
    ],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Name a data-entry delegate who may keep the entity's registry data (3.1(c))."""
    from services import entities

    run(
        lambda c: entities.appoint(c, code=code, staff_index=staff, role="delegate", by=by),
        as_of=as_of,
    )
    typer.echo(T(lang(), "{staff} may enter registry data for {code}", staff=staff, code=code))


@command(app, "attest", example="smgov entity attest OHCHR --by 100001")
def entity_attest(code: CodeArg, by: ByOpt, as_of: AsOfOpt = None) -> None:
    """The head confirms the entity's entries are current and correct (3.1(c))."""
    from services.inventory import attest

    run(lambda c: attest(c, code=code, by=by), as_of=as_of)
    typer.echo(T(lang(), "{code}'s entries attested by {staff}", code=code, staff=by))


@command(app, "list", example="smgov entity list --json")
def entity_list(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """List entities."""
    from services import entities

    show(
        run(entities.list_entities, as_of=as_of),
        as_json,
        ["code", "kind", "timezone", "head", "name"],
    )


@command(app, "show", example="smgov entity show OHCHR")
def entity_show(code: CodeArg, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Show one entity."""
    from services import entities

    show(
        run(
            lambda c: entities.entity_view(c, entities.get_entity(c, code, field="CODE")),
            as_of=as_of,
        ),
        as_json,
    )
