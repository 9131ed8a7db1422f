"""`smgov assessment` and `smgov assess` (assessments against 3.2: 3.3, 3.8), and
`smgov activity` (the activity figures an assessment reads for impact, 3.2)."""

from __future__ import annotations

from typing import Annotated

import typer

from models.assessment import DECISIONS
from models.ids import MAX_ID
from smgov import output
from smgov.cli.common import (
    AccountArg,
    AsOfOpt,
    ByOpt,
    EntityFilterOpt,
    JsonOpt,
    T,
    command,
    csv_rows,
    group,
    lang,
    one_of,
    run,
    show,
)

app = group("Assessments of accounts against 3.2, with smgov's recommendation (3.3, 3.8).")
activity_app = group("Activity figures an assessment reads for impact (3.2).")
root = typer.Typer()  # smgov assess

ACTIVITY_COLUMNS = ("account", "last_post", "posts_per_month", "followers")


@command(
    root,
    "assess",
    example='smgov assess 1 --decision conditions --reason "no French" --condition "post in '
    'French weekly" --within 60 --by 100001',
)
def assess(
    account: AccountArg,
    decision: Annotated[
        str,
        typer.Option(
            "--decision",
            metavar="DECISION",
            help=f"The head's decision: {one_of(DECISIONS)}; conditions means continue with "
            "the conditions given by --condition.",
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", metavar="TEXT", help="The reasons.")],
    by: ByOpt,
    condition: Annotated[
        list[str] | None,
        typer.Option(
            "--condition",
            metavar="TEXT",
            help="With --decision conditions: a condition to meet; repeat for each.",
        ),
    ] = None,
    within: Annotated[
        int,
        typer.Option("--within", metavar="DAYS", help="Days to meet the conditions."),
    ] = 30,
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
    typer.echo(T(lang(), "assessment {id} decided: {decision}", id=str(done.id), decision=decision))


@command(app, "list", example="smgov assessment list --entity OHCHR")
def assessment_list(
    entity: EntityFilterOpt = None,
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


@command(app, "show", example="smgov assessment show 5 --json")
def assessment_show(
    assessment_id: Annotated[
        int,
        typer.Argument(
            metavar="ID", min=1, max=MAX_ID, help="The assessment's number (smgov assessment list)."
        ),
    ],
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """One assessment: findings per criterion, recommendation and why."""
    from services.reassessment import assessment_view, get_assessment

    view = run(lambda c: assessment_view(c, get_assessment(c, assessment_id)), as_of=as_of)
    if as_json:
        output.emit_json(view)
        return
    output.record({k: v for k, v in view.items() if k != "findings"}, lang())
    for criterion, found in view["findings"].items():
        typer.echo(f"  {criterion}: {found['finding']} — {found['note']}")


@command(activity_app, "import", example="smgov activity import activity.csv")
def activity_import(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE.csv",
            help="A UTF-8 CSV file with the columns " + ",".join(ACTIVITY_COLUMNS) + ".",
        ),
    ],
    as_of: AsOfOpt = None,
) -> None:
    """Import activity figures (account,last_post,posts_per_month,followers)."""

    from services.reassessment import import_activity

    rows = list(csv_rows(file, ACTIVITY_COLUMNS))
    count = run(lambda c: import_activity(c, rows), as_of=as_of)
    typer.echo(T(lang(), "activity recorded for {count} accounts", count=str(count)))
