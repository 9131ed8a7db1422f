"""The `smgov` command line (cli.md is its stable surface). Parse, call a service, print.

Exit codes: 0 done; 2 refused (bad input, a rule, no authority) with one `error:` line on stderr;
1 a check found a problem or the command could not run. Commands that orchestrate nothing never
import Prefect; the process commands (`sweep`, `request new`, `campaign start`, `hr event`, ...)
run their flow through flows.run.run_process: the Prefect flow when a Prefect server is
configured, else the flow's code in this process, without Prefect.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from typer._click import exceptions as parse_errors  # typer 0.29 vendors click

from models.clock import parse_date, parse_instant, system_now
from models.errors import CheckFailed, Refused
from models.settings import Settings
from smgov import output
from smgov import setup_cli as _setup_cli
from smgov.config import load_settings as _settings

T = TypeVar("T")

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Governance of the UN Secretariat's institutional social media accounts.",
)
db_app = typer.Typer(no_args_is_help=True, help="The database schema.")
entity_app = typer.Typer(no_args_is_help=True, help="Entities of the Secretariat (1.1(c)).")
staff_app = typer.Typer(no_args_is_help=True, help="Staff members.")
account_app = typer.Typer(no_args_is_help=True, help="The account registry (1.1(b), 3.4).")
obligation_app = typer.Typer(no_args_is_help=True, help="Who must do what by when.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit chain.")
outbox_app = typer.Typer(no_args_is_help=True, help="Messages written before they are sent.")
hr_app = typer.Typer(
    no_args_is_help=True, help="HR events: separation, reassignment, return (4.2)."
)
custody_app = typer.Typer(no_args_is_help=True, help="Where credentials are held (4.2).")
incident_app = typer.Typer(no_args_is_help=True, help="Security incidents (4.1(d)).")
campaign_app = typer.Typer(no_args_is_help=True, help="Inventory and reassessment campaigns.")
request_app = typer.Typer(no_args_is_help=True, help="New-account requests (3.2).")
survey_app = typer.Typer(no_args_is_help=True, help="The UN system reference list (3.2(a)).")
assessment_app = typer.Typer(no_args_is_help=True, help="Assessments against 3.2 (3.3, 3.8).")
activity_app = typer.Typer(no_args_is_help=True, help="Activity figures for impact (3.2).")
report_app = typer.Typer(no_args_is_help=True, help="Reports.")
campaign_start_app = typer.Typer(no_args_is_help=True, help="Open a campaign.")
campaign_app.add_typer(campaign_start_app, name="start")
for sub, name in (
    (db_app, "db"),
    (entity_app, "entity"),
    (staff_app, "staff"),
    (account_app, "account"),
    (obligation_app, "obligation"),
    (audit_app, "audit"),
    (outbox_app, "outbox"),
    (hr_app, "hr"),
    (custody_app, "custody"),
    (incident_app, "incident"),
    (campaign_app, "campaign"),
    (request_app, "request"),
    (survey_app, "survey"),
    (assessment_app, "assessment"),
    (activity_app, "activity"),
    (report_app, "report"),
):
    app.add_typer(sub, name=name)

_setup_cli.register(app)  # smgov doctor, smgov notify test

JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON only")]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="ISO date or datetime to act or answer as of (default: now)"),
]
ByOpt = Annotated[str, typer.Option("--by", help="index number of the person acting")]


# --------------------------------------------------------------------------------------------
# plumbing


def _now(as_of: str | None) -> dt.datetime:
    return parse_instant(as_of) if as_of else system_now()


def _engine(settings: Settings, *, require_schema: bool = True) -> Any:
    from pathlib import Path

    from database import is_current, make_engine

    url = settings.resolved_database_url
    if require_schema and url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///")).expanduser()
        if not path.exists():  # a read in an empty home creates nothing
            raise Refused(
                "database",
                f"no smgov database at {path}: run 'smgov db upgrade' first "
                "(or set SMGOV_HOME to the home that holds one)",
            )
    engine = make_engine(settings.resolved_database_url)
    if require_schema and not is_current(engine):
        raise CheckFailed("database: no smgov schema here; run 'smgov db upgrade' first")
    return engine


def _run(use_case: Callable[[Any], T], *, as_of: str | None = None) -> T:
    from services.context import run

    settings = _settings()
    now = _now(as_of)
    return run(_engine(settings), settings, now, use_case)


def _writable(option: str, path: str) -> str:
    """An output file's folder must exist: a clean refusal, never a traceback or a new folder."""
    from pathlib import Path

    folder = Path(path).expanduser().parent
    if not folder.is_dir():
        raise Refused(option, f"folder {folder} does not exist")
    if Path(path).is_dir():
        raise Refused(option, f"{path} is a folder, not a file")
    return path


def _show(value: Any, as_json: bool, columns: list[str] | None = None) -> None:
    if as_json:
        output.emit_json(value)
    elif isinstance(value, list):
        output.table(value, columns or (list(value[0]) if value else []))
    else:
        output.record(value)


def _quiet_prefect() -> None:
    """Before Prefect is imported: no telemetry (a closed network; and it locks SQLite)."""
    import os

    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")


def _csv_rows(
    file: str, columns: Sequence[str], *, field: str = "FILE"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows of a UTF-8 CSV with a header row, numbered as a spreadsheet shows them (the header is
    row 1). A missing column, a bad encoding or broken CSV is one refusal naming the file."""
    import csv

    reader: csv.DictReader[str] | None = None
    try:
        with open(file, encoding="utf-8-sig", newline="") as handle:
            # strict: a stray or unterminated quote is broken CSV, never silently joined rows
            reader = csv.DictReader(handle, strict=True)
            absent = [c for c in columns if c not in (reader.fieldnames or [])]
            if absent:
                raise Refused(
                    field, f"missing columns: {', '.join(absent)} (expected {','.join(columns)})"
                )
            yield from enumerate(reader, start=2)
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 0
        raise Refused(field, f"cannot read {file}: broken CSV at line {line}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise Refused(field, f"cannot read {file}: not UTF-8 text") from exc
    except OSError as exc:
        raise Refused(field, f"cannot read {file}: {exc.strerror or type(exc).__name__}") from exc


def _date(text: str | None, field: str) -> dt.date | None:
    return parse_date(text, field=field) if text else None


# --------------------------------------------------------------------------------------------
# db


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    from database import upgrade

    settings = _settings()
    engine = _engine(settings, require_schema=False)
    declared = upgrade(engine)
    typer.echo("database is at the newest schema")
    if declared:
        typer.echo(
            f"{declared} authorizations granted by imports are now declared (3.7): the head "
            "confirms them with smgov authorize --entity CODE --declared --by HEAD --reference REF"
        )


# --------------------------------------------------------------------------------------------
# entities


@entity_app.command("add")
def entity_add(
    code: str,
    name: Annotated[str, typer.Option("--name")],
    kind: Annotated[str, typer.Option("--kind", help="department, office, ... (1.1(c))")],
    timezone: Annotated[str | None, typer.Option("--timezone", help="IANA name")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Add an entity of the Secretariat."""
    from services import entities

    tz = timezone or _settings().default_timezone
    entity = _run(
        lambda c: entities.add_entity(c, code=code, name=name, kind=kind, timezone=tz), as_of=as_of
    )
    typer.echo(f"entity {entity.code} added")


@entity_app.command("import")
def entity_import(
    file: Annotated[str, typer.Argument(metavar="FILE.csv")],
    partial: Annotated[bool, typer.Option("--partial", help="import the good rows")] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Import entities from CSV (code,name,kind,timezone): all rows or none (unless --partial);
    codes are case-insensitive (dgc is DGC)."""
    from services import staff as staff_service

    def read() -> Iterator[tuple[int, dict[str, Any]]]:
        return _csv_rows(file, staff_service.ENTITY_COLUMNS, field="FILE.csv")

    try:
        report = _run(
            lambda c: staff_service.import_entities(c, read=read, partial=partial), as_of=as_of
        )
    except staff_service.ImportRefused as refused:
        for number, error in refused.errors[:-1]:
            sys.stderr.write(f"error: row {number}: {one_line(error)}\n")
        number, error = refused.errors[-1]
        raise Refused(f"FILE.csv row {number}", one_line(error)) from refused
    _imported(report, "entities", as_json)


@entity_app.command("alias")
def entity_alias(
    code: str,
    directory_name: Annotated[
        str,
        typer.Option("--directory-name", help="the department name the identity provider sends"),
    ],
    as_of: AsOfOpt = None,
) -> None:
    """Map the identity provider's name for an entity (SCIM `department`) to the entity."""
    from services import staff as staff_service

    row = _run(
        lambda c: staff_service.alias(c, code=code, directory_name=directory_name), as_of=as_of
    )
    typer.echo(f"directory name '{row.directory_name}' is entity {row.entity_code}")


@entity_app.command("set-head")
def entity_set_head(
    code: str,
    staff: Annotated[str, typer.Option("--staff")],
    by: Annotated[
        str | None,
        typer.Option("--by", help="the registry officer acting (required once there are any)"),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Name the head of entity; the outgoing head's open duties pass to the new head."""
    from services import entities
    from services.authority import OPERATOR

    _run(
        lambda c: entities.set_head(c, code=code, staff_index=staff, by=by or OPERATOR),
        as_of=as_of,
    )
    typer.echo(f"{staff} is head of {code}")


@entity_app.command("acting-head")
def entity_acting_head(
    code: str,
    staff: Annotated[str, typer.Option("--staff")],
    from_: Annotated[str, typer.Option("--from")],
    to: Annotated[str, typer.Option("--to")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Appoint an officer-in-charge acting as head for a period (inclusive dates)."""
    from services import entities

    start, end = _date(from_, "--from"), _date(to, "--to")
    _run(
        lambda c: entities.appoint(
            c,
            code=code,
            staff_index=staff,
            role="officer-in-charge",
            by=by,
            starts_on=start,
            ends_on=end,
        ),
        as_of=as_of,
    )
    typer.echo(f"{staff} acts as head of {code} from {from_} to {to}")


@entity_app.command("delegate")
def entity_delegate(
    code: str, staff: Annotated[str, typer.Option("--staff")], by: ByOpt, as_of: AsOfOpt = None
) -> None:
    """Name a data-entry delegate who may keep the entity's registry data (3.1(c))."""
    from services import entities

    _run(
        lambda c: entities.appoint(c, code=code, staff_index=staff, role="delegate", by=by),
        as_of=as_of,
    )
    typer.echo(f"{staff} may enter registry data for {code}")


@entity_app.command("list")
def entity_list(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """List entities."""
    from services import entities

    _show(
        _run(entities.list_entities, as_of=as_of),
        as_json,
        ["code", "kind", "timezone", "head", "name"],
    )


@entity_app.command("show")
def entity_show(code: str, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Show one entity."""
    from services import entities

    _show(
        _run(
            lambda c: entities.entity_view(c, entities.get_entity(c, code, field="CODE")),
            as_of=as_of,
        ),
        as_json,
    )


# --------------------------------------------------------------------------------------------
# staff


@staff_app.command("add")
def staff_add(
    index: str,
    name: Annotated[str, typer.Option("--name")],
    email: Annotated[str, typer.Option("--email")],
    entity: Annotated[str, typer.Option("--entity")],
    language: Annotated[str, typer.Option("--language", help="ar, zh, en, fr, ru or es")] = "en",
    registry_officer: Annotated[bool, typer.Option("--registry-officer")] = False,
    by: Annotated[
        str | None,
        typer.Option("--by", help="the registry officer naming a registry officer"),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Add a staff member."""
    from services import entities
    from services.authority import OPERATOR

    _run(
        lambda c: entities.add_staff(
            c,
            index=index,
            name=name,
            email=email,
            entity=entity,
            language=language,
            registry_officer=registry_officer,
            by=by or OPERATOR,
        ),
        as_of=as_of,
    )
    typer.echo(f"staff member {index} added")


@staff_app.command("list")
def staff_list(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    unplaced: Annotated[
        bool,
        typer.Option(
            "--unplaced", help="only staff whose directory department names no entity yet"
        ),
    ] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """List staff members with their status (active, separated, reassigned)."""
    from services import entities

    _show(
        _run(lambda c: entities.list_staff(c, entity=entity, unplaced=unplaced), as_of=as_of),
        as_json,
        ["index", "name", "entity", "status", "language", "email", "directory_department"],
    )


@staff_app.command("update")
def staff_update(
    index: str,
    name: Annotated[str | None, typer.Option("--name")] = None,
    email: Annotated[str | None, typer.Option("--email")] = None,
    entity: Annotated[
        str | None, typer.Option("--entity", help="a new entity: a reassignment (4.2)")
    ] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="ar, zh, en, fr, ru or es")
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Change a staff member's details; a new entity is a reassignment through the HR inbox
    (their written authorizations are withdrawn, 4.2)."""
    from services import staff as staff_service

    if name is None and email is None and entity is None and language is None:
        raise Refused("INDEX", "name what changes: --name, --email, --entity or --language")
    change = _run(
        lambda c: staff_service.update_staff(
            c, index, name=name, email=email, entity=entity, language=language
        ),
        as_of=as_of,
    )
    typer.echo(f"staff member {change.record.index} updated")
    if change.events:
        _dispatch_hr(change.events, as_of, batch=False)
        typer.echo(f"reassigned to {change.record.entity}: written authorizations withdrawn (4.2)")


@staff_app.command("import")
def staff_import(
    file: Annotated[str, typer.Argument(metavar="FILE.csv")],
    partial: Annotated[bool, typer.Option("--partial", help="import the good rows")] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Import staff from CSV (index,name,email,entity,language): every row checked, nothing
    imported if any is bad (unless --partial); importing the same file again changes nothing."""
    from services import staff as staff_service

    def read() -> Iterator[tuple[int, dict[str, Any]]]:
        return _csv_rows(file, staff_service.STAFF_COLUMNS, field="FILE.csv")

    try:
        report = _run(
            lambda c: staff_service.import_staff(c, read=read, partial=partial), as_of=as_of
        )
    except staff_service.ImportRefused as refused:
        for number, error in refused.errors[:-1]:
            sys.stderr.write(f"error: row {number}: {one_line(error)}\n")
        number, error = refused.errors[-1]
        raise Refused(f"FILE.csv row {number}", one_line(error)) from refused
    if report.events:
        _dispatch_hr(report.events, as_of, batch=True)
    _imported(report, "staff members", as_json)


def _imported(report: Any, what: str, as_json: bool) -> None:
    summary = {
        "rows": report.rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "rejected": [{"row": n, "error": e} for n, e in report.rejected],
    }
    if as_json:
        output.emit_json(summary)
        return
    typer.echo(
        f"{report.created} {what} added, {report.updated} updated, {report.unchanged} "
        f"unchanged, {len(report.rejected)} rows rejected"
    )
    for number, error in report.rejected:
        typer.echo(f"  row {number}: {error}")


@staff_app.command("show")
def staff_show(index: str, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Show one staff member and their written authorizations (3.7)."""
    from services import entities

    _show(
        _run(
            lambda c: entities.staff_view(c, entities.get_staff(c, index, field="INDEX")),
            as_of=as_of,
        ),
        as_json,
    )


# --------------------------------------------------------------------------------------------
# accounts


@account_app.command("register")
def account_register(
    entity: Annotated[str, typer.Option("--entity")],
    platform: Annotated[str, typer.Option("--platform")],
    handle: Annotated[str, typer.Option("--handle")],
    url: Annotated[str, typer.Option("--url")],
    language: Annotated[list[str], typer.Option("--language", help="ISO 639-1; repeatable")],
    purpose: Annotated[str, typer.Option("--purpose")],
    audience: Annotated[str, typer.Option("--audience")],
    by: ByOpt,
    platform_name: Annotated[str | None, typer.Option("--platform-name")] = None,
    created_on: Annotated[str | None, typer.Option("--created-on")] = None,
    speaks_for: Annotated[
        str,
        typer.Option(
            "--speaks-for",
            help="whom the account speaks for: entity (1.1(a)); person or staff-body are refused",
        ),
    ] = "entity",
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Enter an institutional account in the central database (3.4, 3.5). Entering it declares
    that it speaks for the entity (1.1(a)); the head's decision covers that declaration."""
    from services import accounts

    created = _date(created_on, "--created-on")
    view = _run(
        lambda c: accounts.account_view(
            c,
            accounts.register(
                c,
                entity=entity,
                platform=platform,
                handle=handle,
                url=url,
                languages=language,
                purpose=purpose,
                audience=audience,
                by=by,
                created_on=created,
                platform_name=platform_name,
                speaks_for=speaks_for,
            ),
        ),
        as_of=as_of,
    )
    if as_json:
        output.emit_json(view)
    else:
        state = "complete" if view["complete"] else "incomplete: " + ", ".join(view["missing"])
        typer.echo(f"account {view['id']} registered ({view['url']}); entry {state}")


@account_app.command("update")
def account_update(
    account: str,
    by: ByOpt,
    handle: Annotated[str | None, typer.Option("--handle")] = None,
    url: Annotated[str | None, typer.Option("--url")] = None,
    language: Annotated[list[str] | None, typer.Option("--language")] = None,
    purpose: Annotated[str | None, typer.Option("--purpose")] = None,
    audience: Annotated[str | None, typer.Option("--audience")] = None,
    changed_on: Annotated[str | None, typer.Option("--changed-on")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Change an account's 3.4 information; the change is recorded (3.6)."""
    from services import accounts

    changes = {
        "handle": handle,
        "url": url,
        "languages": language or None,
        "purpose": purpose,
        "audience": audience,
    }
    when = _date(changed_on, "--changed-on")
    acc = _run(
        lambda c: accounts.update(c, ref=account, by=by, changes=changes, changed_on=when),
        as_of=as_of,
    )
    typer.echo(f"account {acc.id} updated")


@account_app.command("list")
def account_list(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    state: Annotated[str | None, typer.Option("--state")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """List registered accounts."""
    from services import accounts

    _show(
        _run(lambda c: accounts.list_accounts(c, entity=entity, state=state), as_of=as_of),
        as_json,
        ["id", "entity", "platform", "handle", "state", "complete", "missing"],
    )


@account_app.command("show")
def account_show(account: str, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Show one account, whether its entry is complete and what it lacks (3.4)."""
    from services import accounts

    _show(
        _run(lambda c: accounts.account_view(c, accounts.get_account(c, account)), as_of=as_of),
        as_json,
    )


@account_app.command("verify")
def account_verify(url: str, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Is URL a registered institutional account, official now, and whose? (exit 0 either way)"""
    from services import accounts

    result = _run(lambda c: accounts.verify_url(c, url), as_of=as_of)
    if as_json:
        output.emit_json(result)
        return
    if result["registered"]:
        official = "official" if result["official"] else "NOT official"
        typer.echo(
            f"{result['url']}: registered account {result['id']} of {result['entity']}, "
            f"{official} — {result['status']}"
        )
    else:
        typer.echo(f"{url}: not a registered institutional account")
    for warning in result.get("resembles", []):
        lead = "beware" if result["official"] else "not official"
        typer.echo(f"  {lead} — resembles @{warning['handle']} of {warning['entity']}")


@app.command("authorize")
def authorize(
    by: ByOpt,
    reference: Annotated[str, typer.Option("--reference", help="the written authorization")],
    account: Annotated[str | None, typer.Argument()] = None,
    staff: Annotated[str | None, typer.Option("--staff")] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="administrator, alternate or publisher")
    ] = None,
    declared: Annotated[
        bool, typer.Option("--declared", help="confirm every person an import declared")
    ] = False,
    entity: Annotated[str | None, typer.Option("--entity", help="with --declared")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Record the head of entity's written authorization of a staff member (3.7), or with
    --declared confirm in one written act every person an import declared for ACCOUNT (or for
    every account of --entity)."""
    from services import accounts

    if declared:
        if staff is not None or role is not None:
            raise Refused("--declared", "confirms the declared people: no --staff or --role")
        grants = _run(
            lambda c: accounts.authorize_declared(
                c, ref=account, entity=entity, by=by, reference=reference
            ),
            as_of=as_of,
        )
        for g in grants:
            typer.echo(f"{g.staff_index} authorized as {g.role} of account {g.account_id}")
        typer.echo(f"{len(grants)} declared people authorized in writing ({reference})")
        return
    if account is None or staff is None or role is None or entity is not None:
        raise Refused("ACCOUNT", "give ACCOUNT --staff INDEX --role ROLE (or --declared)", "3.7")
    _run(
        lambda c: accounts.authorize(
            c, ref=account, staff=staff, role=role, by=by, reference=reference
        ),
        as_of=as_of,
    )
    typer.echo(f"{staff} authorized as {role} of account {account}")


# --------------------------------------------------------------------------------------------
# obligations


@obligation_app.command("list")
def obligation_list(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    state: Annotated[str | None, typer.Option("--state", help="open, met or withdrawn")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """What is due, for whom, by when."""
    from services import obligations

    _show(
        _run(lambda c: obligations.list_obligations(c, entity=entity, state=state), as_of=as_of),
        as_json,
        ["id", "clause", "kind", "subject", "assignee", "due", "days_left", "state"],
    )


# --------------------------------------------------------------------------------------------
# audit


@audit_app.command("verify")
def audit_verify(checkpoint: Annotated[str | None, typer.Option("--checkpoint")] = None) -> None:
    """Check the audit chain; exit 1 naming the first broken event."""
    from services import audit

    settings = _settings()
    key = audit.audit_key(settings)
    count = _run(lambda c: audit.verify(session=c.session, key=key, checkpoint_text=checkpoint))
    typer.echo(f"audit chain intact: {count} events")


@audit_app.command("checkpoint")
def audit_checkpoint() -> None:
    """Print the head of the chain (SEQ:HASH) to keep somewhere safe."""
    from services import audit

    typer.echo(_run(lambda c: audit.checkpoint(session=c.session)))


# --------------------------------------------------------------------------------------------
# reminders and the outbox


@app.command("sweep")
def sweep(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Remind and escalate everything due as of now (or --as-of), then deliver the outbox.

    Runs the `reminders` process (its Prefect flow when a Prefect server is configured). Exit 0
    when it ran, even if some messages could not be delivered (they are counted and retried
    later); 1 when it could not run."""
    from models.clock import iso

    settings = _settings()
    _engine(settings).dispose()
    now = _now(as_of)
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
            f"sweep as of {summary['as_of']}: {summary['queued']} messages queued, "
            f"{summary['sent']} sent, {summary['failed']} failed"
        )
        for note in notes:
            typer.echo(note)


@outbox_app.command("list")
def outbox_list(
    failed: Annotated[bool, typer.Option("--failed")] = False, as_json: JsonOpt = False
) -> None:
    """Messages written for delivery, newest last (--failed: failed and dead-lettered only)."""
    from notifications.outbox import list_messages

    _show(
        _run(lambda c: list_messages(session=c.session, failed=failed)),
        as_json,
        ["id", "channel", "recipient", "status", "attempts", "subject"],
    )


@outbox_app.command("deliver")
def outbox_deliver(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Deliver every message due now (or --as-of), and nothing else: no reminder is queued
    (the sweep does that). Exit 0 when it ran, even if some messages could not be delivered
    (they are counted and retried later)."""
    from notifications.outbox import deliver

    settings = _settings()
    engine = _engine(settings)
    try:
        report = deliver(engine, settings, now=_now(as_of))
    finally:
        engine.dispose()
    summary = {"sent": report.sent, "failed": report.failed + report.dead, "dead": report.dead}
    if as_json:
        output.emit_json(summary)
    else:
        typer.echo(f"{summary['sent']} sent, {summary['failed']} failed ({summary['dead']} dead)")


@outbox_app.command("retry")
def outbox_retry(
    message: Annotated[int | None, typer.Argument(metavar="[ID]")] = None, as_of: AsOfOpt = None
) -> None:
    """Make failed (and dead-lettered) messages due again, then deliver them now."""
    from notifications.outbox import deliver, make_due_again

    settings = _settings()
    engine = _engine(settings)
    now = _now(as_of)
    count = _run(
        lambda c: make_due_again(session=c.session, now=now, message_id=message), as_of=as_of
    )
    report = deliver(engine, settings, now=now)
    typer.echo(
        f"{count} messages made due again; {report.sent} sent, {report.failed + report.dead} failed"
    )


# --------------------------------------------------------------------------------------------
# HR events, custody and incidents (4.2, 4.1(d))


def _dispatch_hr(events: list[tuple[str, str, str]], as_of: str | None, batch: bool) -> Any:
    from flows.run import dispatch
    from models.clock import iso

    try:
        return dispatch(events, as_of=iso(_now(as_of)) if as_of else None, inline=batch)
    except Exception as exc:  # stored already: the daily sweep applies it
        raise CheckFailed(
            f"hr: events stored, but processing could not run now ({type(exc).__name__}); "
            "the next sweep applies them"
        ) from exc


@hr_app.command("event")
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
    report = _run(lambda c: record(c, [event], source="cli"), as_of=as_of)
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
        outcome = _dispatch_hr([(event.type, event.staff, ident)], as_of, batch=False)
        if "emitted" in outcome:
            typer.echo("sent to the Prefect deployment 'separation-on-hr-event'")
        else:
            typer.echo(
                f"applied {outcome['events']} events: {outcome['revoked']} "
                f"authorizations revoked, {outcome['orphaned']} accounts orphaned, "
                f"{outcome['sent']} messages sent"
            )


HR_COLUMNS = ("event_id", "type", "staff", "effective", "new_entity")


@hr_app.command("import")
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
    for number, row in _csv_rows(file, HR_COLUMNS):
        try:
            good.append(parse_event(dict(row)))
        except Refused as exc:
            bad.append({"row": number, "error": str(exc)})
    report = _run(lambda c: record(c, good, source="csv"), as_of=as_of)
    outcome: dict[str, Any] = {}
    if report.stored:
        outcome = _dispatch_hr([(e.type, e.staff, e.event_id) for e in good], as_of, batch=True)
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


@hr_app.command("list")
def hr_list(as_json: JsonOpt = False) -> None:
    """HR events received, with their state: pending, revoked (authorizations withdrawn, the
    follow-up to come), applied, or flagged."""
    from services.separation import list_events

    _show(
        _run(list_events),
        as_json,
        ["event_id", "type", "staff", "effective", "state", "source", "flag"],
    )


@custody_app.command("attest")
def custody_attest(
    account: str,
    vault_ref: Annotated[str, typer.Option("--vault-ref", help="where it is held, not the secret")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Attest that the account's credentials were rotated and are held at VAULT_REF (4.2)."""
    from services.custody import attest

    custody = _run(lambda c: attest(c, ref=account, vault_ref=vault_ref, by=by), as_of=as_of)
    typer.echo(f"custody of account {custody.account_id} recorded at {custody.vault_ref}")


@incident_app.command("report")
def incident_report(
    account: str,
    kind: Annotated[str, typer.Option("--kind", help="compromise, threat or impersonation")],
    details: Annotated[str, typer.Option("--details")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Report a security incident: Safety and Security, the head and the registry hear at once."""
    from notifications.outbox import deliver
    from services.custody import report_incident
    from services.reminders import queue_due

    def use_case(ctx: Any) -> Any:
        report = report_incident(ctx, ref=account, kind=kind, details=details, by=by)
        if report.obligations:
            queue_due(ctx, only=report.obligations)
        return report

    settings = _settings()
    report = _run(use_case, as_of=as_of)
    now = _now(as_of)  # after the alerts were written at their own `now`: deliver them at once
    delivered = deliver(_engine(settings), settings, now=now)
    typer.echo(
        f"incident {report.incident} recorded; {delivered.sent} messages sent, "
        f"{delivered.failed + delivered.dead} failed"
    )
    if report.security_undelivered:
        raise CheckFailed(
            "SMGOV_SECURITY_EMAIL: not set, so the Department of Safety and Security was NOT "
            f"told of incident {report.incident} (4.1(d)); set it and report again"
        )


@app.command("api")
def api(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
) -> None:
    """Serve the HR intake webhook (POST /hr/events), SCIM 2.0 (/scim/v2, with SMGOV_SCIM_TOKEN)
    and the web door (pages, /verify)."""
    import uvicorn

    from smgov.api import create_app
    from smgov.scim import scim_token

    _quiet_prefect()
    settings = _settings()
    scim_token(settings)  # a short SCIM token is refused before anything starts
    _engine(settings).dispose()
    import signal

    def stopped(_signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    # uvicorn shuts down on SIGTERM or SIGINT, then raises the signal again: to this handler,
    # so that what this process started is stopped too (not left re-parented to PID 1).
    signal.signal(signal.SIGTERM, stopped)
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
    finally:
        stop_children()


# --------------------------------------------------------------------------------------------
# the inventory (3.4), changes (3.6) and attestation (3.1(c))


@campaign_start_app.command("inventory")
def campaign_start_inventory(
    issued_on: Annotated[str | None, typer.Option("--issued-on")] = None,
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Open the 60-day inventory campaign (3.4) per entity; starting it twice opens nothing."""
    from models.clock import iso

    settings = _settings()
    _engine(settings).dispose()
    from models.registry import issuance_of

    anchor = issuance_of(settings.issuance_date, _date(issued_on, "--issued-on"))
    if entity:
        from services.entities import get_entity

        _run(lambda c: get_entity(c, entity))
    from flows.run import run_process

    summary = run_process(
        "inventory", issued_on=anchor.isoformat(), entity=entity, as_of=iso(_now(as_of))
    )
    if as_json:
        output.emit_json(summary)
    else:
        typer.echo(
            f"inventory of {summary['issued_on']}: {summary['opened']} campaigns opened, "
            f"{summary['already_open']} already open, {summary['assessments']} initial "
            f"assessments (3.3), {summary['sent']} messages sent"
        )


@campaign_app.command("status")
def campaign_status(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Per campaign and entity: accounts entered, complete, missing, days left or overdue."""
    from services.inventory import status

    _show(
        _run(status, as_of=as_of),
        as_json,
        [
            "campaign",
            "kind",
            "entity",
            "due",
            "days_left",
            "state",
            "outcome",
            "accounts",
            "complete",
            "incomplete",
        ],
    )


@account_app.command("import")
def account_import(
    file: Annotated[str | None, typer.Argument(metavar="FILE.csv")] = None,
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    partial: Annotated[bool, typer.Option("--partial", help="import the good rows")] = False,
    reject_file: Annotated[str | None, typer.Option("--reject-file")] = None,
    by: Annotated[str | None, typer.Option("--by")] = None,
    template: Annotated[bool, typer.Option("--template", help="print the CSV header")] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Import existing accounts from CSV: all rows checked, all errors reported, nothing
    imported if any row is bad (unless --partial); re-importing changes nothing."""
    import csv

    from services import importer

    if template:
        typer.echo(importer.template())
        return
    if file is None:
        raise Refused("FILE.csv", "name the CSV file (or --template)")
    if by is None:
        raise Refused("--by", "name the person importing (index number)")

    def read() -> Iterator[tuple[int, dict[str, Any]]]:
        return _csv_rows(file, importer.COLUMNS, field="FILE.csv")

    reject_path = (reject_file or f"{file}.rejects.csv") if partial else None
    if reject_path:
        _writable("--reject-file", reject_path)
    with contextlib.ExitStack() as stack:
        writer = None
        if reject_path:
            handle = stack.enter_context(open(reject_path, "w", encoding="utf-8", newline=""))
            writer = csv.writer(handle)
            writer.writerow([*importer.COLUMNS, "error"])

        def reject(number: int, row: dict[str, Any], error: str) -> None:
            if writer:
                cells = [row.get(c, "") for c in importer.COLUMNS]
                writer.writerow([*cells, f"row {number}: {error}"])

        def progress(rows: int) -> None:
            if not as_json:
                sys.stderr.write(f"checked {rows} rows\n")

        try:
            report = _run(
                lambda c: importer.import_accounts(
                    c,
                    read=read,
                    by=by,
                    entity=entity,
                    partial=partial,
                    reject=reject,
                    progress=progress,
                ),
                as_of=as_of,
            )
        except importer.ImportRefused as refused:
            for number, error in refused.errors:
                sys.stderr.write(f"error: row {number}: {one_line(error)}\n")
            raise
    summary = {
        "rows": report.rows,
        "imported": report.imported,
        "skipped": report.skipped,
        "rejected": [{"row": n, "error": e} for n, e in report.rejected],
        "incomplete": report.incomplete,
        "reject_file": reject_path,
    }
    if as_json:
        output.emit_json(summary)
    else:
        typer.echo(
            f"{report.imported} accounts imported ({report.incomplete} incomplete), "
            f"{report.skipped} already registered, {len(report.rejected)} rows rejected"
        )


@account_app.command("report-change")
def account_report_change(
    account: str,
    what: Annotated[str, typer.Option("--what")],
    changed_on: Annotated[str, typer.Option("--changed-on")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Report a change made on the platform: the entry must be updated within 10 days (3.6)."""
    from services.accounts import report_change

    when = parse_date(changed_on, field="--changed-on")
    ob = _run(
        lambda c: report_change(c, ref=account, what=what, changed_on=when, by=by), as_of=as_of
    )
    typer.echo(f"change recorded; obligation {ob.id} (3.6) due {ob.due_at.date().isoformat()}")


@entity_app.command("attest")
def entity_attest(code: str, by: ByOpt, as_of: AsOfOpt = None) -> None:
    """The head confirms the entity's entries are current and correct (3.1(c))."""
    from services.inventory import attest

    _run(lambda c: attest(c, code=code, by=by), as_of=as_of)
    typer.echo(f"{code}'s entries attested by {by}")


# --------------------------------------------------------------------------------------------
# new-account approval (2.1, 3.2, 3.7)


def _request_file(path: str) -> Any:
    import yaml

    from models.requests import parse_request

    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise Refused("--file", f"cannot read {path} as UTF-8 YAML: {type(exc).__name__}") from exc
    return parse_request(raw)


def _carry_on(request_id: int, as_of: str | None) -> dict[str, Any]:
    from flows.run import run_process
    from models.clock import iso

    try:
        return run_process("approval", request_id=request_id, as_of=iso(_now(as_of)))
    except Exception as exc:  # recorded already; the next run carries it on
        raise CheckFailed(
            f"request {request_id}: recorded, but the approval flow could not "
            f"run now ({type(exc).__name__})"
        ) from exc


@request_app.command("new")
def request_new(
    file: Annotated[str | None, typer.Option("--file", help="REQUEST.yaml")] = None,
    by: Annotated[str | None, typer.Option("--by")] = None,
    template: Annotated[bool, typer.Option("--template", help="print a request to fill")] = False,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Request a new account with the 3.2 evidence; smgov surveys for duplicates itself."""
    from models.requests import TEMPLATE
    from services import requests

    if template:
        typer.echo(TEMPLATE, nl=False)
        return
    if file is None or by is None:
        raise Refused("--file" if file is None else "--by", "is required (or --template)")
    data = _request_file(file)
    request = _run(lambda c: requests.submit(c, data, by=by), as_of=as_of)
    request_id = int(request.id or 0)
    _carry_on(request_id, as_of)
    view = _run(
        lambda c: requests.request_view(c, requests.get_request(c, request_id)), as_of=as_of
    )
    if as_json:
        output.emit_json(view)
    else:
        typer.echo(
            f"request {view['id']} submitted; {len(view['duplicates'])} possible "
            f"duplicates found; the head of {view['entity']} has been asked to decide"
        )


@request_app.command("resubmit")
def request_resubmit(
    request_id: Annotated[int, typer.Argument(metavar="ID")],
    file: Annotated[str, typer.Option("--file")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Answer a request returned for information."""
    from services import requests

    data = _request_file(file)
    _run(lambda c: requests.resubmit(c, request_id, data, by=by), as_of=as_of)
    _carry_on(request_id, as_of)
    typer.echo(f"request {request_id} resubmitted")


@request_app.command("withdraw")
def request_withdraw(
    request_id: Annotated[int, typer.Argument(metavar="ID")],
    by: ByOpt,
    reason: Annotated[str, typer.Option("--reason")] = "withdrawn by the requester",
    as_of: AsOfOpt = None,
) -> None:
    """Withdraw one's own request."""
    from services import requests

    _run(lambda c: requests.withdraw(c, request_id, by=by, reason=reason), as_of=as_of)
    typer.echo(f"request {request_id} withdrawn")


@request_app.command("decide")
def request_decide(
    request_id: Annotated[int, typer.Argument(metavar="ID")],
    decision: Annotated[str, typer.Option("--decision", help="approve, reject or return")],
    reason: Annotated[str, typer.Option("--reason")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """The head of entity (or officer-in-charge) decides, with reasons."""
    from services import requests

    request = _run(
        lambda c: requests.decide(c, request_id, decision=decision, reason=reason, by=by),
        as_of=as_of,
    )
    _carry_on(request_id, as_of)
    extra = f"; account {request.account_id} awaits creation" if request.account_id else ""
    typer.echo(f"request {request_id} {request.state}{extra}")


@request_app.command("list")
def request_list(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Requests and their state."""
    from services import requests

    _show(
        _run(requests.list_requests, as_of=as_of),
        as_json,
        ["id", "entity", "platform", "handle", "state", "requested_by", "account"],
    )


@request_app.command("show")
def request_show(
    request_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """A request: evidence, duplication survey, language parity, history."""
    from services import requests

    view = _run(
        lambda c: requests.request_view(c, requests.get_request(c, request_id)), as_of=as_of
    )
    if as_json:
        output.emit_json(view)
        return
    output.record({k: v for k, v in view.items() if k not in ("evidence", "parity")})
    for key, value in view["evidence"].items():
        typer.echo(f"  {key}: {value}")
    for platform, langs in view["parity"].items():
        covered = " ".join(code if ok else "--" for code, ok in langs.items())
        typer.echo(f"  parity {platform}: {covered}")


@survey_app.command("import")
def survey_import(file: Annotated[str, typer.Argument(metavar="FILE.csv")]) -> None:
    """Load other UN system organizations' accounts (columns: organization,platform,handle,url,
    languages,purpose,audience) for the duplication survey (3.2(a))."""

    from services.requests import SURVEY_COLUMNS, import_survey

    rows = list(_csv_rows(file, SURVEY_COLUMNS))
    result = _run(lambda c: import_survey(c, rows))
    typer.echo(
        f"{result['added']} accounts added to the reference list, {result['updated']} updated"
    )


@account_app.command("created")
def account_created(
    account: str,
    handle: Annotated[str, typer.Option("--handle")],
    url: Annotated[str, typer.Option("--url")],
    created_on: Annotated[str, typer.Option("--created-on")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Report an approved account created on the platform: registration due in 10 days (3.5)."""
    from services.requests import created, readiness

    when = parse_date(created_on, field="--created-on")

    def use_case(c: Any) -> Any:
        acc = created(c, ref=account, handle=handle, url=url, created_on=when, by=by)
        return acc, readiness(c, acc)

    acc, lacking = _run(use_case, as_of=as_of)
    still = f"; before it is active: {', '.join(lacking)}" if lacking else "; active"
    typer.echo(f"account {acc.id} created at {acc.url}{still}")


@app.command("acknowledge")
def acknowledge(account: str, by: ByOpt, as_of: AsOfOpt = None) -> None:
    """The authorized staff member accepts the duties of 2.2 and 4.1 for ACCOUNT."""
    from services.requests import acknowledge as ack

    _run(lambda c: ack(c, ref=account, by=by), as_of=as_of)
    typer.echo(f"{by} acknowledged the duties of 2.2 and 4.1 for account {account}")


# --------------------------------------------------------------------------------------------
# reassessment (3.2, 3.3) and withdrawal (3.8)


@campaign_start_app.command("reassessment")
def campaign_start_reassessment(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    due: Annotated[str | None, typer.Option("--due", help="deadline (default: 30 days)")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Open a reassessment campaign now: one assessment per active account, pre-filled."""
    from models.clock import iso

    settings = _settings()
    _engine(settings).dispose()
    deadline = _date(due, "--due")
    if entity:
        from services.entities import get_entity

        _run(lambda c: get_entity(c, entity))
    from flows.run import run_process

    summary = run_process(
        "reassessment",
        as_of=iso(_now(as_of)),
        entity=entity,
        due=deadline.isoformat() if deadline else None,
        on_demand=True,
    )
    if as_json:
        output.emit_json(summary)
    else:
        typer.echo(
            f"{summary['campaigns']} campaigns opened, {summary['assessments']} "
            f"assessments, {summary['kept']} accounts kept their open assessment"
        )


@app.command("assess")
def assess(
    account: str,
    decision: Annotated[str, typer.Option("--decision", help="continue, conditions, withdraw")],
    reason: Annotated[str, typer.Option("--reason")],
    by: ByOpt,
    condition: Annotated[list[str] | None, typer.Option("--condition")] = None,
    within: Annotated[int, typer.Option("--within", help="days to meet conditions")] = 30,
    as_of: AsOfOpt = None,
) -> None:
    """The head decides an assessment: continue, continue with conditions, or withdraw (3.8)."""
    from services.reassessment import decide

    done = _run(
        lambda c: decide(
            c,
            ref=account,
            decision=decision,
            reason=reason,
            by=by,
            conditions=condition,
            within_days=within,
        ),
        as_of=as_of,
    )
    typer.echo(f"assessment {done.id} decided: {decision}")


@assessment_app.command("list")
def assessment_list(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Assessments with smgov's recommendation."""
    from services.reassessment import list_assessments

    _show(
        _run(lambda c: list_assessments(c, entity=entity), as_of=as_of),
        as_json,
        ["id", "account", "reason", "state", "due_at", "recommendation", "decision"],
    )


@assessment_app.command("show")
def assessment_show(
    assessment_id: Annotated[int, typer.Argument(metavar="ID")],
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """One assessment: findings per criterion, recommendation and why."""
    from services.reassessment import assessment_view, get_assessment

    view = _run(lambda c: assessment_view(c, get_assessment(c, assessment_id)), as_of=as_of)
    if as_json:
        output.emit_json(view)
        return
    output.record({k: v for k, v in view.items() if k != "findings"})
    for criterion, found in view["findings"].items():
        typer.echo(f"  {criterion}: {found['finding']} — {found['note']}")


@account_app.command("closed")
def account_closed(
    account: str,
    closed_on: Annotated[str, typer.Option("--closed-on")],
    evidence: Annotated[str, typer.Option("--evidence", help="how, by whom, content kept")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Record that a withdrawn account was closed on the platform (3.8); nothing is deleted."""
    from services.reassessment import closed

    when = parse_date(closed_on, field="--closed-on")
    acc = _run(
        lambda c: closed(c, ref=account, closed_on=when, evidence=evidence, by=by), as_of=as_of
    )
    typer.echo(f"account {acc.id} closed on {when}")


@account_app.command("withdraw")
def account_withdraw(
    account: str,
    reason: Annotated[str, typer.Option("--reason")],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """The head withdraws approval of an account at any time (3.8): every authorization revoked,
    the account withdrawn, its closure due."""
    from services.reassessment import withdraw

    done = _run(lambda c: withdraw(c, ref=account, reason=reason, by=by), as_of=as_of)
    typer.echo(
        f"approval of account {done.id} withdrawn (3.8): close it on the platform, then "
        f"smgov account closed {done.id} --closed-on DATE --evidence TEXT --by INDEX"
    )


@obligation_app.command("meet")
def obligation_meet(
    obligation_id: Annotated[int, typer.Argument(metavar="ID")],
    by: ByOpt,
    note: Annotated[str, typer.Option("--note", help="what was done")],
    as_of: AsOfOpt = None,
) -> None:
    """Record that a duty (e.g. a condition of continuation) is met."""
    from services.reassessment import meet

    _run(lambda c: meet(c, obligation_id=obligation_id, by=by, note=note), as_of=as_of)
    typer.echo(f"obligation {obligation_id} met")


@activity_app.command("import")
def activity_import(
    file: Annotated[str, typer.Argument(metavar="FILE.csv")], as_of: AsOfOpt = None
) -> None:
    """Import activity figures (account,last_post,posts_per_month,followers)."""

    from services.reassessment import import_activity

    rows = list(_csv_rows(file, ("account", "last_post", "posts_per_month", "followers")))
    count = _run(lambda c: import_activity(c, rows), as_of=as_of)
    typer.echo(f"activity recorded for {count} accounts")


# --------------------------------------------------------------------------------------------
# reports and the demo


@report_app.command("compliance")
def report_compliance(
    entity: Annotated[str | None, typer.Option("--entity")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, csv or html")] = "table",
    as_json: JsonOpt = False,
    out: Annotated[str | None, typer.Option("--output", help="write to FILE")] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Where each entity stands: completeness, overdue duties, orphans, parity (2.3)."""
    from services import reports

    kind = "json" if as_json else fmt
    if kind not in ("table", "json", "csv", "html"):
        raise Refused("--format", "must be table, json, csv or html")
    if out:
        _writable("--output", out)
    if entity:
        from services.entities import get_entity

        _run(lambda c: get_entity(c, entity))
    data = _run(lambda c: reports.compliance(c, entity=entity), as_of=as_of)
    if kind == "json":
        import json

        text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    else:
        text = {"table": reports.as_table, "csv": reports.as_csv, "html": reports.as_html}[kind](
            data
        )
    if out:
        with open(out, "w", encoding="utf-8") as handle:
            handle.write(text)
        if kind != "json":
            typer.echo(f"report written to {out}")
    else:
        sys.stdout.write(text)


@app.command("demo")
def demo(
    home: Annotated[str, typer.Option("--home", help="the demo's own home")] = "./smgov-demo",
) -> None:
    """Tell the whole story on a fictional organization, in its own home and database."""
    from smgov.demo import run_demo

    run_demo(home)


@app.command("clauses")
def clauses(as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Each actionable item of the bulletin: its status (enforced, recorded, outside software),
    the rule, its code, the tests marked to prove it, open and overdue obligations."""
    from models.rules import RULES, clause_tests, tests_for
    from services.reports import clause_counts

    index = clause_tests()
    counts = _run(clause_counts, as_of=as_of)
    rows: list[dict[str, Any]] = []
    for rule in RULES:
        opened, overdue = counts.get(rule.clause, (0, 0))
        rows.append(
            {
                "clause": rule.clause,
                "title": rule.title,
                "status": rule.status,
                "rule": rule.rule,
                "code": rule.code,
                "tests": tests_for(rule.clause, index),
                "open": opened,
                "overdue": overdue,
            }
        )
    if as_json:
        output.emit_json(rows)
        return
    for row in rows:
        typer.echo(
            f"{row['clause']:7} {row['status']:16} open {row['open']:>4}  "
            f"overdue {row['overdue']:>4}  tests {len(row['tests']):>3}  {row['title']}: "
            f"{row['rule']}"
        )


@app.command("serve")
def serve() -> None:
    """Run every flow on its schedule and its event triggers (one machine); Ctrl-C stops it."""
    _quiet_prefect()
    settings = _settings()
    _engine(settings).dispose()
    from flows.serve import serve_all

    try:
        serve_all(settings)
    except RuntimeError as exc:
        raise CheckFailed(f"serve: {exc}") from exc
    finally:
        stop_children()


# --------------------------------------------------------------------------------------------
# entry point


def _children(pid: int) -> list[int]:
    """The processes `pid` started that are still running (Linux /proc; elsewhere none)."""
    import os
    from pathlib import Path

    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            found.extend(int(x) for x in task.read_text().split())
        except OSError:
            continue
    return sorted(set(found) - {os.getpid()})


def stop_children(grace: float = 10.0) -> None:
    """Stop every process this one started, and theirs (Prefect's temporary server, flow runs):
    SIGTERM, then SIGKILL after `grace` seconds. None is left re-parented to PID 1."""
    import contextlib
    import os
    import signal
    import time

    tree: list[int] = []
    todo = _children(os.getpid())
    while todo:
        pid = todo.pop()
        if pid not in tree:
            tree.append(pid)
            todo.extend(_children(pid))
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in tree:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            if not any(Path(f"/proc/{pid}").exists() for pid in tree):
                return
            time.sleep(0.1)


def one_line(message: str) -> str:
    """A refusal as one line: control, line-separating and bidirectional-override characters
    (which a hostile value could carry into the message) are shown escaped, never obeyed."""
    import unicodedata

    return "".join(
        f"\\u{ord(c):04x}"
        if unicodedata.category(c) in ("Cc", "Zl", "Zp")
        or "\u202a" <= c <= "\u202e"
        or "\u2066" <= c <= "\u2069"
        else c
        for c in message
    )


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


if __name__ == "__main__":
    main()
