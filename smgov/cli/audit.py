"""`smgov audit`: the keyed audit chain."""

from __future__ import annotations

from typing import Annotated

import typer

from smgov import output
from smgov.cli.common import JsonOpt, T, command, group, lang, run
from smgov.config import load_settings

app = group("The keyed audit chain of every change: keep its head, check it.")


@command(app, "checkpoint", example="smgov audit checkpoint > checkpoint.txt")
def audit_checkpoint() -> None:
    """Print the head of the chain (SEQ:HASH) to keep somewhere safe."""
    from services import audit

    typer.echo(run(lambda c: audit.checkpoint(session=c.session)))


@command(app, "verify", example='smgov audit verify --checkpoint "$(cat checkpoint.txt)"')
def audit_verify(
    checkpoint: Annotated[
        str | None,
        typer.Option(
            "--checkpoint",
            metavar="SEQ:HASH",
            help="A head of the chain printed earlier by smgov audit checkpoint: the chain must "
            "still lead to it (so no newest event was cut off).",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Check the audit chain; exit 1 naming the first broken event."""
    from services import audit

    settings = load_settings()
    key = audit.audit_key(settings)
    count = run(lambda c: audit.verify(session=c.session, key=key, checkpoint_text=checkpoint))
    if as_json:  # a broken chain is an `error:` line and exit 1, as without --json
        output.emit_json({"intact": True, "events": count, "checkpoint": checkpoint})
        return
    typer.echo(T(lang(), "audit chain intact: {count} events", count=str(count)))
