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
from smgov.cli.common import one_line

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Governance of the UN Secretariat's institutional social media accounts.",
)
for group, name in (
    (db.app, "db"),
    (entity.app, "entity"),
    (staff.app, "staff"),
    (account.app, "account"),
    (obligation.app, "obligation"),
    (audit.app, "audit"),
    (outbox.app, "outbox"),
    (hr.app, "hr"),
    (custody.custody_app, "custody"),
    (custody.incident_app, "incident"),
    (campaign.app, "campaign"),
    (request.app, "request"),
    (request.survey_app, "survey"),
    (assessment.app, "assessment"),
    (assessment.activity_app, "activity"),
    (report.app, "report"),
):
    app.add_typer(group, name=name)
setup.register(app)  # smgov doctor, smgov notify test
for command, name in (
    (account.authorize, "authorize"),
    (outbox.sweep, "sweep"),
    (serve.api, "api"),
    (account.acknowledge, "acknowledge"),
    (assessment.assess, "assess"),
    (serve.demo, "demo"),
    (report.clauses, "clauses"),
    (serve.serve, "serve"),
):
    app.command(name)(command)


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
