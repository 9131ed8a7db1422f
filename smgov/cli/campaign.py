"""`smgov campaign`: the inventory (3.4) and reassessment (3.2, 3.3) campaigns; each runs its
process (its Prefect flow when a Prefect server is configured)."""

from __future__ import annotations

from typing import Annotated

import typer

from smgov import output
from smgov.cli.common import (
    AsOfOpt,
    JsonOpt,
    ManualGroup,
    T,
    command,
    effective_time,
    group,
    lang,
    open_engine,
    optional_date,
    run,
    show,
)
from smgov.config import load_settings


class CampaignGroup(ManualGroup):
    order = ("start", "status")  # a campaign is started before its status is read


app = group("Inventory (3.4) and reassessment (3.2, 3.3) campaigns.", CampaignGroup)
start_app = group("Open a campaign: the inventory or a reassessment.")
app.add_typer(start_app, name="start")


@command(start_app, "inventory", example="smgov campaign start inventory --issued-on 2026-01-15")
def campaign_start_inventory(
    issued_on: Annotated[
        str | None,
        typer.Option(
            "--issued-on",
            metavar="DATE",
            help="The bulletin's issuance date, from which the 60 days run: YYYY-MM-DD "
            "(default: SMGOV_ISSUANCE_DATE).",
        ),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option("--entity", metavar="CODE", help="Only this entity (default: every one)."),
    ] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Open the 60-day inventory campaign (3.4) per entity; starting it twice opens nothing."""
    from models.clock import iso

    settings = load_settings()
    open_engine(settings).dispose()
    from models.registry import issuance_of

    anchor = issuance_of(settings.issuance_date, optional_date(issued_on, "--issued-on"))
    if entity:
        from services.entities import get_entity

        run(lambda c: get_entity(c, entity))
    from flows.run import run_process

    summary = run_process(
        "inventory", issued_on=anchor.isoformat(), entity=entity, as_of=iso(effective_time(as_of))
    )
    if as_json:
        output.emit_json(summary)
    else:
        import datetime as dt

        typer.echo(
            T(
                lang(),
                "inventory of {date}: campaigns opened: {opened}; already open: {already_open}; "
                "initial assessments (3.3): {assessments}; messages sent: {sent}",
                date=dt.date.fromisoformat(summary["issued_on"]),
                opened=str(summary["opened"]),
                already_open=str(summary["already_open"]),
                assessments=str(summary["assessments"]),
                sent=str(summary["sent"]),
            )
        )


@command(
    start_app,
    "reassessment",
    example="smgov campaign start reassessment --entity OHCHR --due 2026-06-30",
)
def campaign_start_reassessment(
    entity: Annotated[
        str | None,
        typer.Option("--entity", metavar="CODE", help="Only this entity (default: every one)."),
    ] = None,
    due: Annotated[
        str | None,
        typer.Option(
            "--due",
            metavar="DATE",
            help="The deadline: YYYY-MM-DD (default: SMGOV_ASSESSMENT_DAYS from today, 30 "
            "unless set).",
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Open a reassessment campaign now: one assessment per active account, pre-filled."""
    from models.clock import iso

    settings = load_settings()
    open_engine(settings).dispose()
    deadline = optional_date(due, "--due")
    if entity:
        from services.entities import get_entity

        run(lambda c: get_entity(c, entity))
    from flows.run import run_process

    summary = run_process(
        "reassessment",
        as_of=iso(effective_time(as_of)),
        entity=entity,
        due=deadline.isoformat() if deadline else None,
        on_demand=True,
    )
    if as_json:
        output.emit_json(summary)
    else:
        typer.echo(
            T(
                lang(),
                "campaigns opened: {campaigns}; assessments opened: {assessments}; accounts that "
                "kept their open assessment: {kept}",
                campaigns=str(summary["campaigns"]),
                assessments=str(summary["assessments"]),
                kept=str(summary["kept"]),
            )
        )


@command(app, "status", example="smgov campaign status --json")
def campaign_status(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Per campaign and entity: accounts entered, complete, missing, days left or overdue."""
    from services.inventory import status

    words = "en" if as_json else lang()  # the JSON's `due` stays English
    show(
        run(lambda c: status(c, words), as_of=as_of),
        as_json,
        [
            "campaign",
            "kind",
            "entity",
            "due",
            "days_left",
            "state",
            "outcome",
            "accounts",
            "complete",
            "incomplete",
        ],
    )
