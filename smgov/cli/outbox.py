"""`smgov sweep` (remind, escalate, deliver) and `smgov outbox`: messages written before they
are sent."""

from __future__ import annotations

from typing import Annotated

import typer

from models.clock import parse_instant
from models.errors import CheckFailed
from models.ids import MAX_ID
from smgov import output
from smgov.cli.common import (
    AsOfOpt,
    JsonOpt,
    T,
    command,
    effective_time,
    group,
    lang,
    open_engine,
    run,
    show,
)
from smgov.config import load_settings

app = group("Messages written before they are sent: list, deliver, retry.")
root = typer.Typer()  # smgov sweep


@command(root, "sweep", example="smgov sweep --as-of 2026-12-07 --json")
def sweep(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Remind and escalate everything due as of now (or --as-of), then deliver the outbox.

    Runs the `reminders` process (its Prefect flow when a Prefect server is configured). Exit 0
    when it ran, even if some messages could not be delivered (they are counted and retried
    later); 1 when it could not run."""
    from models.clock import iso

    settings = load_settings()
    open_engine(settings).dispose()
    now = effective_time(as_of)
    from flows.run import run_process

    try:
        summary = run_process("reminders", as_of=iso(now))
    except Exception as exc:  # the flow could not run: exit 1 with one line, details in Prefect
        raise CheckFailed(f"sweep: could not run: {type(exc).__name__}: {exc}") from exc
    from services.doctor import delivery_notes

    notes = delivery_notes(settings)  # who could not be told (honest escalation)
    if as_json:
        output.emit_json({**summary, "not_configured": notes})
    else:
        typer.echo(
            T(
                lang(),
                "sweep as of {moment}: messages queued: {queued}; sent: {sent}; failed: {failed}",
                moment=parse_instant(summary["as_of"]),
                queued=str(summary["queued"]),
                sent=str(summary["sent"]),
                failed=str(summary["failed"]),
            )
        )
        for note in notes:
            typer.echo(note)


@command(app, "list", example="smgov outbox list --failed")
def outbox_list(
    failed: Annotated[
        bool, typer.Option("--failed", help="Only failed and dead-lettered messages.")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Messages written for delivery, newest last (--failed: failed and dead-lettered only)."""
    from notifications.outbox import list_messages

    show(
        run(lambda c: list_messages(session=c.session, failed=failed)),
        as_json,
        ["id", "channel", "recipient", "status", "attempts", "subject"],
    )


@command(app, "deliver", example="smgov outbox deliver")
def outbox_deliver(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Deliver every message due now (or --as-of), and nothing else: no reminder is queued
    (the sweep does that). Exit 0 when it ran, even if some messages could not be delivered
    (they are counted and retried later)."""
    from notifications.outbox import deliver

    settings = load_settings()
    engine = open_engine(settings)
    try:
        report = deliver(engine, settings, now=effective_time(as_of))
    finally:
        engine.dispose()
    summary = {"sent": report.sent, "failed": report.failed + report.dead, "dead": report.dead}
    if as_json:
        output.emit_json(summary)
    else:
        typer.echo(
            T(
                lang(),
                "{sent} sent, {failed} failed ({dead} dead)",
                sent=str(summary["sent"]),
                failed=str(summary["failed"]),
                dead=str(summary["dead"]),
            )
        )


@command(app, "retry", example="smgov outbox retry 17")
def outbox_retry(
    message: Annotated[
        int | None,
        typer.Argument(
            metavar="ID",
            min=1,
            max=MAX_ID,
            help="The message's number (smgov outbox list); default: every failed message.",
        ),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Make failed (and dead-lettered) messages due again, then deliver them now."""
    from notifications.outbox import deliver, make_due_again

    settings = load_settings()
    engine = open_engine(settings)
    now = effective_time(as_of)
    count = run(
        lambda c: make_due_again(session=c.session, now=now, message_id=message), as_of=as_of
    )
    report = deliver(engine, settings, now=now)
    typer.echo(
        T(
            lang(),
            "{count} messages made due again; {sent} sent, {failed} failed",
            count=str(count),
            sent=str(report.sent),
            failed=str(report.failed + report.dead),
        )
    )
