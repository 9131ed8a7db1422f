"""`smgov assessment` and `smgov assess` (assessments against 3.2: 3.3, 3.8), and
`smgov activity` (the activity figures an assessment reads for impact, 3.2)."""

from __future__ import annotations

from typing import Annotated

import typer

from smgov import output
from smgov.cli.common import AsOfOpt, ByOpt, JsonOpt, csv_rows, run, show

app = typer.Typer(no_args_is_help=True, help="Assessments against 3.2 (3.3, 3.8).")
activity_app = typer.Typer(no_args_is_help=True, help="Activity figures for impact (3.2).")


def assess(
    account: str,
    decision: Annotated[str, typer.Option("--decision", help="continue, conditions, withdraw")],
    reason: Annotated[str, typer.Option("--reason")],
    by: ByOpt,
    condition: Annotated[list[str] | None, typer.Option("--condition")] = None,
    within: Annotated[int, typer.Option("--within", help="days to meet conditions")] = 30,
    as_of: AsOfOpt = None,
) -> None:
    """The head decides an assessment: continue, continue with conditions, or withdraw (3.8)."""
    from services.reassessment import decide

    done = run(
        lambda c: decide(
            c,
            ref=account,
            decision=decision,
            reason=reason,
            by=by,
            conditions=condition,
            within_days=within,
        ),
        as_of=as_of,
    )
    typer.echo(f"assessment {done.id} decided: {decision}")


@app.command("list")
def assessment_list(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Assessments with smgov's recommendation."""
    from services.reassessment import list_assessments

    show(
        run(lambda c: list_assessments(c, entity=entity), as_of=as_of),
        as_json,
        ["id", "account", "reason", "state", "due_at", "recommendation", "decision"],
    )


@app.command("show")
def assessment_show(
    assessment_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """One assessment: findings per criterion, recommendation and why."""
    from services.reassessment import assessment_view, get_assessment

    view = run(lambda c: assessment_view(c, get_assessment(c, assessment_id)), as_of=as_of)
    if as_json:
        output.emit_json(view)
        return
    output.record({k: v for k, v in view.items() if k != "findings"})
    for criterion, found in view["findings"].items():
        typer.echo(f"  {criterion}: {found['finding']} — {found['note']}")


@activity_app.command("import")
def activity_import(
    file: Annotated[str, typer.Argument(metavar="FILE.csv")], as_of: AsOfOpt = None
) -> None:
    """Import activity figures (account,last_post,posts_per_month,followers)."""

    from services.reassessment import import_activity

    rows = list(csv_rows(file, ("account", "last_post", "posts_per_month", "followers")))
    count = run(lambda c: import_activity(c, rows), as_of=as_of)
    typer.echo(f"activity recorded for {count} accounts")
