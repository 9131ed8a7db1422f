"""`smgov hr`: HR events — separation, reassignment, return (4.2) — by hand or from the HR
system's export; each is applied by the separation process."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from models.errors import CheckFailed, Refused
from models.hr import EVENT_TYPES
from smgov import output
from smgov.cli.common import (
    AsOfOpt,
    JsonOpt,
    T,
    command,
    csv_rows,
    effective_time,
    group,
    lang,
    one_of,
    run,
    show,
)

app = group("HR events: separation, reassignment, return (4.2).")


def dispatch_hr(events: list[tuple[str, str, str]], as_of: str | None, batch: bool) -> Any:
    from flows.run import dispatch
    from models.clock import iso

    try:
        return dispatch(events, as_of=iso(effective_time(as_of)) if as_of else None, inline=batch)
    except Exception as exc:  # stored already: the daily sweep applies it
        raise CheckFailed(
            f"hr: events stored, but processing could not run now ({type(exc).__name__}); "
            "the next sweep applies them"
        ) from exc


@command(
    app,
    "event",
    example="smgov hr event --type separation --staff 100002 --effective 2026-03-10 --id HR-123",
)
def hr_event(
    type_: Annotated[
        str, typer.Option("--type", metavar="TYPE", help=f"The event: {one_of(EVENT_TYPES)}.")
    ],
    staff: Annotated[
        str, typer.Option("--staff", metavar="INDEX", help="Staff index number of the person.")
    ],
    effective: Annotated[
        str,
        typer.Option("--effective", metavar="DATE", help="The day it takes effect: YYYY-MM-DD."),
    ],
    event_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            metavar="EVENT_ID",
            help="HR's id for the event (default: one made of the type, person and date); a "
            "repeated id changes nothing.",
        ),
    ] = None,
    new_entity: Annotated[
        str | None,
        typer.Option(
            "--new-entity", metavar="CODE", help="With --type reassignment: the new entity."
        ),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Record one HR event by hand; it acts on its effective date (now, or at that day's sweep)."""
    from models.hr import parse_event
    from services.separation import record

    ident = event_id or f"cli-{type_}-{staff}-{effective}-{new_entity or ''}".rstrip("-")
    event = parse_event(
        {
            "event_id": ident,
            "type": type_,
            "staff": staff,
            "effective": effective,
            "new_entity": new_entity,
        }
    )
    report = run(lambda c: record(c, [event], source="cli"), as_of=as_of)
    if report.duplicates:
        typer.echo(T(lang(), "HR event {id} was already recorded: nothing changed", id=ident))
        return
    if report.conflicts:
        raise Refused(
            "--id",
            f"HR event {ident} was recorded before with other content: this one is kept as a "
            "conflict (see 'smgov hr list'), not applied",
        )
    words = lang()
    if report.flagged:
        typer.echo(T(words, "HR event {id} flagged: unknown staff member", id=ident))
    else:
        typer.echo(T(words, "HR event {id} stored", id=ident))
    if report.stored:
        outcome = dispatch_hr([(event.type, event.staff, ident)], as_of, batch=False)
        if "emitted" in outcome:
            typer.echo(
                T(words, "sent to the Prefect deployment '{name}'", name="separation-on-hr-event")
            )
        else:
            typer.echo(
                T(
                    words,
                    "HR events applied: {events}; authorizations revoked: {revoked}; accounts "
                    "orphaned: {orphaned}; messages sent: {sent}",
                    events=str(outcome["events"]),
                    revoked=str(outcome["revoked"]),
                    orphaned=str(outcome["orphaned"]),
                    sent=str(outcome["sent"]),
                )
            )


HR_COLUMNS = ("event_id", "type", "staff", "effective", "new_entity")


@command(app, "import", example="smgov hr import export.csv")
def hr_import(
    file: Annotated[
        str,
        typer.Argument(
            metavar="FILE.csv",
            help="The HR system's UTF-8 CSV export, columns " + ",".join(HR_COLUMNS) + ".",
        ),
    ],
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Import a batch export from the HR system: good rows are stored and applied in one flow
    run; bad rows are reported by row number and field."""

    from models.hr import parse_event
    from services.separation import record

    good, bad = [], []
    for number, row in csv_rows(file, HR_COLUMNS):
        try:
            good.append(parse_event(dict(row)))
        except Refused as exc:
            bad.append({"row": number, "error": str(exc)})
    report = run(lambda c: record(c, good, source="csv"), as_of=as_of)
    outcome: dict[str, Any] = {}
    if report.stored:
        outcome = dispatch_hr([(e.type, e.staff, e.event_id) for e in good], as_of, batch=True)
    summary = {
        "stored": len(report.stored),
        "duplicates": len(report.duplicates),
        "conflicts": report.conflicts,
        "flagged": report.flagged,
        "bad_rows": bad,
        "applied": outcome.get("events", 0),
        "revoked": outcome.get("revoked", 0),
    }
    if as_json:
        output.emit_json(summary)
        return
    words = lang()
    typer.echo(
        T(
            words,
            "HR events stored: {stored}; already known: {duplicates}; flagged (unknown staff): "
            "{flagged}; bad rows: {bad}; applied now: {applied}; authorizations revoked: {revoked}",
            stored=str(summary["stored"]),
            duplicates=str(summary["duplicates"]),
            flagged=str(len(report.flagged)),
            bad=str(len(bad)),
            applied=str(summary["applied"]),
            revoked=str(summary["revoked"]),
        )
    )
    for item in bad:
        typer.echo("  " + T(words, "row {row}: {error}", row=str(item["row"]), error=item["error"]))


@command(app, "list", example="smgov hr list --json")
def hr_list(as_json: JsonOpt = False) -> None:
    """HR events received, with their state: pending, revoked (authorizations withdrawn, the
    follow-up to come), applied, or flagged."""
    from services.separation import list_events

    show(
        run(list_events),
        as_json,
        ["event_id", "type", "staff", "effective", "state", "source", "flag"],
    )
