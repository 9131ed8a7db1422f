"""`smgov db`: the database schema."""

from __future__ import annotations

import typer

from smgov.cli.common import T, command, group, lang, open_engine
from smgov.config import load_settings

app = group("The database schema: create it, or migrate it after an upgrade of smgov.")


@command(app, "upgrade", example="smgov db upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    from database import upgrade

    settings = load_settings()
    declared = upgrade(open_engine(settings, require_schema=False))
    words = lang()
    typer.echo(T(words, "database is at the newest schema"))
    if declared:
        typer.echo(
            T(
                words,
                "{count} authorizations granted by imports are now declared (3.7): the head "
                "confirms them with {command}",
                count=str(declared),
                command="smgov authorize --entity CODE --declared --by HEAD --reference REF",
            )
        )
