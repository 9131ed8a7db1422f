"""`smgov obligation`: who must do what by when."""

from __future__ import annotations

from typing import Annotated

import typer

from models.ids import MAX_ID
from smgov.cli.common import (
    AsOfOpt,
    ByOpt,
    EntityFilterOpt,
    JsonOpt,
    T,
    command,
    group,
    lang,
    run,
    show,
)

app = group("Obligations: who must do what by when, and what is overdue.")


@command(app, "list", example="smgov obligation list --entity OHCHR --state open --json")
def obligation_list(
    entity: EntityFilterOpt = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state", metavar="STATE", help="Only those in this state: open, met or withdrawn."
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """What is due, for whom, by when."""
    from services import obligations

    words = "en" if as_json else lang()  # the JSON's `due` stays English
    show(
        run(
            lambda c: obligations.list_obligations(c, entity=entity, state=state, lang=words),
            as_of=as_of,
        ),
        as_json,
        ["id", "clause", "kind", "subject", "assignee", "due", "days_left", "state"],
    )


@command(app, "meet", example='smgov obligation meet 42 --by 100001 --note "bio now in French too"')
def obligation_meet(
    obligation_id: Annotated[
        int,
        typer.Argument(
            metavar="ID", min=1, max=MAX_ID, help="The obligation's number (smgov obligation list)."
        ),
    ],
    by: ByOpt,
    note: Annotated[str, typer.Option("--note", metavar="TEXT", help="What was done.")],
    as_of: AsOfOpt = None,
) -> None:
    """Record that a duty (e.g. a condition of continuation) is met."""
    from services.reassessment import meet

    run(lambda c: meet(c, obligation_id=obligation_id, by=by, note=note), as_of=as_of)
    typer.echo(T(lang(), "obligation {id} met", id=str(obligation_id)))
