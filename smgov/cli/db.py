"""`smgov db`: the database schema."""

from __future__ import annotations

import typer

from smgov.cli.common import open_engine
from smgov.config import load_settings

app = typer.Typer(no_args_is_help=True, help="The database schema.")


@app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    from database import upgrade

    settings = load_settings()
    declared = upgrade(open_engine(settings, require_schema=False))
    typer.echo("database is at the newest schema")
    if declared:
        typer.echo(
            f"{declared} authorizations granted by imports are now declared (3.7): the head "
            "confirms them with smgov authorize --entity CODE --declared --by HEAD --reference REF"
        )
