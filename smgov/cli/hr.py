"""`smgov hr`: HR events — separation, reassignment, return (4.2) — by hand or from the HR
system's export; each is applied by the separation process."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from models.errors import CheckFailed, Refused
from smgov import output
from smgov.cli.common import AsOfOpt, JsonOpt, csv_rows, effective_time, run, show

app = typer.Typer(no_args_is_help=True, help="HR events: separation, reassignment, return (4.2).")


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


@app.command("event")
def hr_event(
    type_: Annotated[str, typer.Option("--type", help="separation, reassignment or return")],
    staff: Annotated[str, typer.Option("--staff")],
    effective: Annotated[str, typer.Option("--effective", help="ISO date")],
    event_id: Annotated[str | None, typer.Option("--id", help="HR's event id")] = None,
    new_entity: Annotated[str | None, typer.Option("--new-entity")] = None,
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
        typer.echo(f"HR event {ident} was already recorded: nothing changed")
        return
    if report.conflicts:
        raise Refused(
            "--id",
            f"HR event {ident} was recorded before with other content: this one is kept as a "
            "conflict (see 'smgov hr list'), not applied",
        )
    state = "flagged: unknown staff member" if report.flagged else "stored"
    typer.echo(f"HR event {ident} {state}")
    if report.stored:
        outcome = dispatch_hr([(event.type, event.staff, ident)], as_of, batch=False)
        if "emitted" in outcome:
            typer.echo("sent to the Prefect deployment 'separation-on-hr-event'")
        else:
            typer.echo(
                f"applied {outcome['events']} events: {outcome['revoked']} "
                f"authorizations revoked, {outcome['orphaned']} accounts orphaned, "
                f"{outcome['sent']} messages sent"
            )


HR_COLUMNS = ("event_id", "type", "staff", "effective", "new_entity")


@app.command("import")
def hr_import(
    file: Annotated[str, typer.Argument(metavar="FILE.csv")],
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
    typer.echo(
        f"{summary['stored']} events stored, {summary['duplicates']} already known, "
        f"{len(report.flagged)} flagged (unknown staff), {len(bad)} bad rows; "
        f"{summary['applied']} applied now, {summary['revoked']} authorizations revoked"
    )
    for item in bad:
        typer.echo(f"  row {item['row']}: {item['error']}")


@app.command("list")
def hr_list(as_json: JsonOpt = False) -> None:
    """HR events received, with their state: pending, revoked (authorizations withdrawn, the
    follow-up to come), applied, or flagged."""
    from services.separation import list_events

    show(
        run(list_events),
        as_json,
        ["event_id", "type", "staff", "effective", "state", "source", "flag"],
    )
