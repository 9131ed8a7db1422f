"""`smgov audit`: the keyed audit chain."""

from __future__ import annotations

from typing import Annotated

import typer

from smgov.cli.common import run
from smgov.config import load_settings

app = typer.Typer(no_args_is_help=True, help="The audit chain.")


@app.command("checkpoint")
def audit_checkpoint() -> None:
    """Print the head of the chain (SEQ:HASH) to keep somewhere safe."""
    from services import audit

    typer.echo(run(lambda c: audit.checkpoint(session=c.session)))


@app.command("verify")
def audit_verify(checkpoint: Annotated[str | None, typer.Option("--checkpoint")] = None) -> None:
    """Check the audit chain; exit 1 naming the first broken event."""
    from services import audit

    settings = load_settings()
    key = audit.audit_key(settings)
    count = run(lambda c: audit.verify(session=c.session, key=key, checkpoint_text=checkpoint))
    typer.echo(f"audit chain intact: {count} events")
