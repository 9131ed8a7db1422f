"""`smgov obligation`: who must do what by when."""

from __future__ import annotations

from typing import Annotated

import typer

from smgov.cli.common import AsOfOpt, ByOpt, JsonOpt, run, show

app = typer.Typer(no_args_is_help=True, help="Who must do what by when.")


@app.command("list")
def obligation_list(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    state: Annotated[str | None, typer.Option("--state", help="open, met or withdrawn")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """What is due, for whom, by when."""
    from services import obligations

    show(
        run(lambda c: obligations.list_obligations(c, entity=entity, state=state), as_of=as_of),
        as_json,
        ["id", "clause", "kind", "subject", "assignee", "due", "days_left", "state"],
    )


@app.command("meet")
def obligation_meet(
    obligation_id: Annotated[int, typer.Argument(metavar="ID")],
    by: ByOpt,
    note: Annotated[str, typer.Option("--note", help="what was done")],
    as_of: AsOfOpt = None,
) -> None:
    """Record that a duty (e.g. a condition of continuation) is met."""
    from services.reassessment import meet

    run(lambda c: meet(c, obligation_id=obligation_id, by=by, note=note), as_of=as_of)
    typer.echo(f"obligation {obligation_id} met")
