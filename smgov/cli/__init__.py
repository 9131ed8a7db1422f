"""The `smgov` command line (cli.md is its stable surface). Parse, call a service, print.

One module per command group (`entity`, `account`, `request`, ...), the shared options and
helpers in `common`; this module assembles the root (`app`, or for `main` only the command a
command line names) and holds the console script `main`.

Exit codes: 0 done; 2 refused (bad input, a rule, no authority) with one `error:` line on stderr;
1 a check found a problem or the command could not run. Commands that orchestrate nothing never
import Prefect; the process commands (`sweep`, `request new`, `campaign start`, `hr event`, ...)
run their flow through flows.run.run_process: the Prefect flow when a Prefect server is
configured, else the flow's code in this process, without Prefect.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from typing import Annotated

import typer
from typer._click import exceptions as parse_errors  # typer 0.29 vendors click

from models.errors import CheckFailed, Refused
from smgov.cli.common import ManualGroup, one_line

#: Every command of `smgov`, in the order a user meets them — try it, set it up, fill the
#: registry, approve and review accounts, follow the duties, handle people leaving and
#: incidents, check and report, run it — each with where it is declared: a group's Typer
#: (`module`, `attribute`), or (`module`, None) for a root command of that module's `root`
#: Typer. A command line loads only the module of the command it names (start-up time:
#: building all of them costs about 0.1 s of CPU, issue 20); `smgov --help` loads them all.
COMMANDS: dict[str, tuple[str, str | None]] = {
    "demo": ("serve", None),
    "doctor": ("setup", None),
    "notify": ("setup", "notify_app"),
    "db": ("db", "app"),
    "entity": ("entity", "app"),
    "staff": ("staff", "app"),
    "account": ("account", "app"),
    "authorize": ("account", None),
    "acknowledge": ("account", None),
    "request": ("request", "app"),
    "survey": ("request", "survey_app"),
    "campaign": ("campaign", "app"),
    "assessment": ("assessment", "app"),
    "assess": ("assessment", None),
    "activity": ("assessment", "activity_app"),
    "obligation": ("obligation", "app"),
    "sweep": ("outbox", None),
    "outbox": ("outbox", "app"),
    "hr": ("hr", "app"),
    "custody": ("custody", "custody_app"),
    "incident": ("custody", "incident_app"),
    "audit": ("audit", "app"),
    "report": ("report", "app"),
    "clauses": ("report", None),
    "serve": ("serve", None),
    "api": ("serve", None),
}


class Root(ManualGroup):
    """`smgov`: its commands in the order of COMMANDS."""

    order = tuple(COMMANDS)


def _print_version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version  # only --version reads the package metadata

        typer.echo(f"smgov {version('smgov')}")
        raise typer.Exit()


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
    pass  # the root's own options; its help is the Typer's (assemble)


def assemble(names: Iterable[str]) -> typer.Typer:
    """The `smgov` Typer holding the commands `names` (keys of COMMANDS), each module imported
    here; a root command brings its module's other root commands along."""
    root = typer.Typer(
        cls=Root,
        rich_markup_mode="markdown",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        help="Governance of the UN Secretariat's institutional social media accounts: the "
        "registry, approvals, reassessments, separations and the reminders that keep them on "
        "time. Run smgov COMMAND --help for each command.",
        epilog="Example: smgov demo",
    )
    root.callback()(_root)
    roots: set[str] = set()
    for name in names:
        where, attribute = COMMANDS[name]
        module = importlib.import_module(f"smgov.cli.{where}")
        if attribute is not None:
            root.add_typer(getattr(module, attribute), name=name)
        elif where not in roots:  # smgov doctor, smgov authorize, smgov sweep, ...
            roots.add(where)
            root.add_typer(module.root)
    return root


def __getattr__(name: str) -> typer.Typer:
    """`smgov.cli.app`: the whole command tree (the docs and the tests read it), built when
    first asked for."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = globals()["app"] = assemble(COMMANDS)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console script: run the command, turning every refusal into one `error:` line."""
    import os

    os.umask(0o077)  # whatever the caller's umask, smgov's files are private (0600/0700)
    args = sys.argv[1:] if argv is None else argv
    # the command named first, alone; anything else (--help, --version, a typo) sees them all
    named = args[:1] if args and args[0] in COMMANDS else COMMANDS
    command = typer.main.get_command(assemble(named))
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
    except Exception as exc:
        failed = _database_failure(exc)
        if failed is None:
            raise  # a fault of smgov's own: its traceback is the report
        sys.stderr.write(f"error: database: {one_line(failed)}\n")
        sys.exit(1)


def _database_failure(exc: BaseException) -> str | None:
    """The driver's own first line when the database could not be reached or could not do
    the work (refused, unknown host, wrong password, locked past the busy timeout, disk
    full): the command could not run (exit 1). Never the URL, which may hold a password."""
    errors = sys.modules.get("sqlalchemy.exc")  # loaded if the failure came from it
    if errors is None or not isinstance(exc, errors.OperationalError | errors.InterfaceError):
        return None
    lines = [line.strip() for line in str(exc.orig or "").splitlines() if line.strip()]
    return lines[0] if lines else type(exc.orig).__name__


__all__ = ["app", "main"]
