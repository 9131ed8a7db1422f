"""The `smgov` command line (cli.md is its stable surface). Parse, call a service, print.

One module per command group (`entity`, `account`, `request`, ...), the shared options and
helpers in `common`; this module assembles the root `app` and holds the console script `main`.

Exit codes: 0 done; 2 refused (bad input, a rule, no authority) with one `error:` line on stderr;
1 a check found a problem or the command could not run. Commands that orchestrate nothing never
import Prefect; the process commands (`sweep`, `request new`, `campaign start`, `hr event`, ...)
run their flow through flows.run.run_process: the Prefect flow when a Prefect server is
configured, else the flow's code in this process, without Prefect.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from typer._click import exceptions as parse_errors  # typer 0.29 vendors click

from models.errors import CheckFailed, Refused
from smgov.cli import (
    account,
    assessment,
    audit,
    campaign,
    custody,
    db,
    entity,
    hr,
    obligation,
    outbox,
    report,
    request,
    serve,
    setup,
    staff,
)
from smgov.cli.common import ManualGroup, one_line


class Root(ManualGroup):
    """`smgov`: its commands in the order a user meets them — try it, set it up, fill the
    registry, approve and review accounts, follow the duties, handle people leaving and
    incidents, check and report, run it."""

    order = (
        "demo",
        "doctor",
        "notify",
        "db",
        "entity",
        "staff",
        "account",
        "authorize",
        "acknowledge",
        "request",
        "survey",
        "campaign",
        "assessment",
        "assess",
        "activity",
        "obligation",
        "sweep",
        "outbox",
        "hr",
        "custody",
        "incident",
        "audit",
        "report",
        "clauses",
        "serve",
        "api",
    )


app = typer.Typer(
    cls=Root,
    rich_markup_mode="markdown",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Governance of the UN Secretariat's institutional social media accounts: the registry, "
    "approvals, reassessments, separations and the reminders that keep them on time. "
    "Run smgov COMMAND --help for each command.",
    epilog="Example: smgov demo",
)
for commands in (setup.root, account.root, assessment.root, outbox.root, report.root, serve.root):
    app.add_typer(commands)  # root commands: smgov doctor, smgov authorize, smgov sweep, ...
for group, name in (
    (setup.notify_app, "notify"),
    (db.app, "db"),
    (entity.app, "entity"),
    (staff.app, "staff"),
    (account.app, "account"),
    (request.app, "request"),
    (request.survey_app, "survey"),
    (campaign.app, "campaign"),
    (assessment.app, "assessment"),
    (assessment.activity_app, "activity"),
    (obligation.app, "obligation"),
    (outbox.app, "outbox"),
    (hr.app, "hr"),
    (custody.custody_app, "custody"),
    (custody.incident_app, "incident"),
    (audit.app, "audit"),
    (report.app, "report"),
):
    app.add_typer(group, name=name)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version  # only --version reads the package metadata

        typer.echo(f"smgov {version('smgov')}")
        raise typer.Exit()


@app.callback()  # the root's own options; its help is the Typer's above
def _root(
    _version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print smgov's version and exit.",
        ),
    ] = False,
) -> None:
    pass


def main(argv: list[str] | None = None) -> None:
    """Console script: run the command, turning every refusal into one `error:` line."""
    import os

    os.umask(0o077)  # whatever the caller's umask, smgov's files are private (0600/0700)
    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="smgov", standalone_mode=False)
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except parse_errors.NoArgsIsHelpError as shown:
        shown.show()
        sys.exit(0)
    except parse_errors.UsageError as exc:
        sys.stderr.write(f"error: {one_line(exc.format_message().splitlines()[0])}\n")
        sys.exit(2)
    except typer.Abort:
        sys.stderr.write("error: aborted\n")
        sys.exit(1)
    except Refused as exc:
        sys.stderr.write(f"error: {one_line(str(exc))}\n")
        sys.exit(2)
    except CheckFailed as exc:
        sys.stderr.write(f"error: {one_line(str(exc))}\n")
        sys.exit(1)


__all__ = ["app", "main"]
