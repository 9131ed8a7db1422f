"""`smgov account`: the account registry (1.1(b), 3.4) — registering, importing, changing,
verifying, closing and withdrawing accounts — and the root commands `authorize` (3.7) and
`acknowledge` (2.2, 4.1)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from models.clock import parse_date
from models.errors import Refused
from models.platforms import PLATFORM_CODES
from models.registry import ACCOUNT_STATES, ROLES, SPEAKS_FOR
from smgov import output
from smgov.cli.common import (
    AccountArg,
    AsOfOpt,
    ByOpt,
    EntityFilterOpt,
    JsonOpt,
    PartialOpt,
    T,
    command,
    csv_rows,
    group,
    lang,
    one_of,
    optional_date,
    refuse_rows,
    run,
    show,
    writable,
)

app = group("The account registry (1.1(b), 3.4): enter, import, change, verify, close.")
root = typer.Typer()  # smgov authorize, smgov acknowledge

PLATFORM_HELP = f"The platform: {one_of(PLATFORM_CODES)} (any case; other needs --platform-name)."
LANGUAGES_HELP = (
    "A language the account publishes in, as an ISO 639-1 code (en, fr, ar, ...); repeat the "
    "option for each."
)


@command(
    app,
    "register",
    example="smgov account register --entity OHCHR --platform x --handle UNHumanRights "
    '--url https://x.com/UNHumanRights --language en --purpose "Human rights news" '
    '--audience "The public" --by 100001',
)
def account_register(
    entity: Annotated[
        str, typer.Option("--entity", metavar="CODE", help="The entity the account speaks for.")
    ],
    platform: Annotated[str, typer.Option("--platform", metavar="PLATFORM", help=PLATFORM_HELP)],
    handle: Annotated[
        str, typer.Option("--handle", metavar="TEXT", help="The account's name on the platform.")
    ],
    url: Annotated[str, typer.Option("--url", metavar="URL", help="The account's address.")],
    language: Annotated[list[str], typer.Option("--language", metavar="LANG", help=LANGUAGES_HELP)],
    purpose: Annotated[
        str, typer.Option("--purpose", metavar="TEXT", help="What the account is for (3.4).")
    ],
    audience: Annotated[
        str, typer.Option("--audience", metavar="TEXT", help="Whom it addresses (3.4).")
    ],
    by: ByOpt,
    platform_name: Annotated[
        str | None,
        typer.Option(
            "--platform-name", metavar="TEXT", help="The platform's name, with --platform other."
        ),
    ] = None,
    created_on: Annotated[
        str | None,
        typer.Option(
            "--created-on",
            metavar="DATE",
            help="When the account was created on the platform: YYYY-MM-DD.",
        ),
    ] = None,
    speaks_for: Annotated[
        str,
        typer.Option(
            "--speaks-for",
            metavar="WHOM",
            help=f"Whom the account speaks for: {one_of(SPEAKS_FOR)}. Only entity is accepted; "
            "the others are refused (1.1(a)).",
        ),
    ] = "entity",
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Enter an institutional account in the central database (3.4, 3.5). Entering it declares
    that it speaks for the entity (1.1(a)); the head's decision covers that declaration."""
    from services import accounts

    created = optional_date(created_on, "--created-on")
    view = run(
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
        ident, url = str(view["id"]), view["url"]
        if view["complete"]:
            line = T(lang(), "account {id} registered ({url}); entry complete", id=ident, url=url)
        else:
            line = T(
                lang(),
                "account {id} registered ({url}); entry incomplete: {missing}",
                id=ident,
                url=url,
                missing=", ".join(view["missing"]),
            )
        typer.echo(line)


@command(app, "import", example="smgov account import inventory.csv --by 100001 --partial")
def account_import(
    file: Annotated[
        str | None,
        typer.Argument(
            metavar="FILE.csv",
            help="A UTF-8 CSV file with the header smgov account import --template prints.",
        ),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(
            "--entity", metavar="CODE", help="Import only this entity's rows, by its code."
        ),
    ] = None,
    partial: PartialOpt = False,
    reject_file: Annotated[
        str | None,
        typer.Option(
            "--reject-file",
            metavar="FILE",
            help="With --partial: where the rejected rows are written, each with its error "
            "(default: FILE.csv.rejects.csv).",
        ),
    ] = None,
    by: Annotated[
        str | None,
        typer.Option("--by", metavar="INDEX", help="Staff index number of the person importing."),
    ] = None,
    template: Annotated[
        bool, typer.Option("--template", help="Print the CSV header to fill, and nothing else.")
    ] = False,
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
        return csv_rows(file, importer.COLUMNS, field="FILE.csv")

    reject_path = (reject_file or f"{file}.rejects.csv") if partial else None
    if reject_path:
        writable("--reject-file", reject_path)
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

        words = lang()

        def progress(rows: int) -> None:
            if not as_json:
                sys.stderr.write(T(words, "checked {rows} rows", rows=str(rows)) + "\n")

        try:
            report = run(
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
            # each bad row on its own line, the last as the refusal itself: one bad row, one line
            raise refuse_rows(refused.errors) from refused
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
            T(
                lang(),
                "{imported} accounts imported ({incomplete} incomplete), {skipped} already "
                "registered, {rejected} rows rejected",
                imported=str(report.imported),
                incomplete=str(report.incomplete),
                skipped=str(report.skipped),
                rejected=str(len(report.rejected)),
            )
        )


@command(
    app,
    "update",
    example='smgov account update 1 --purpose "Human rights news and campaigns" --by 100002',
)
def account_update(
    account: AccountArg,
    by: ByOpt,
    handle: Annotated[
        str | None, typer.Option("--handle", metavar="TEXT", help="A new handle.")
    ] = None,
    url: Annotated[str | None, typer.Option("--url", metavar="URL", help="A new URL.")] = None,
    language: Annotated[
        list[str] | None,
        typer.Option(
            "--language",
            metavar="LANG",
            help="The new languages (replacing the old ones); "
            "repeat the option for each, ISO 639-1 codes such as en, fr, ar.",
        ),
    ] = None,
    purpose: Annotated[
        str | None, typer.Option("--purpose", metavar="TEXT", help="A new purpose (3.4).")
    ] = None,
    audience: Annotated[
        str | None, typer.Option("--audience", metavar="TEXT", help="A new audience (3.4).")
    ] = None,
    changed_on: Annotated[
        str | None,
        typer.Option(
            "--changed-on",
            metavar="DATE",
            help="When it changed on the platform: YYYY-MM-DD (default: today).",
        ),
    ] = None,
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
    when = optional_date(changed_on, "--changed-on")

    def use_case(c: Any) -> tuple[int | None, bool]:
        done = accounts.update(c, ref=account, by=by, changes=changes, changed_on=when)
        return done.account.id, done.changed  # else the entry held it: a change confirmed

    account_id, updated = run(use_case, as_of=as_of)
    if not updated:
        typer.echo(
            T(
                lang(),
                "account {id}: the entry already holds it; the reported change is met (3.6)",
                id=str(account_id),
            )
        )
        return
    typer.echo(T(lang(), "account {id} updated", id=str(account_id)))


@command(app, "list", example="smgov account list --entity OHCHR --state active --json")
def account_list(
    entity: EntityFilterOpt = None,
    state: Annotated[
        str | None,
        typer.Option(
            "--state",
            metavar="STATE",
            help=f"Only accounts in this state: {one_of(ACCOUNT_STATES)}.",
        ),
    ] = None,
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """List registered accounts."""
    from services import accounts

    show(
        run(lambda c: accounts.list_accounts(c, entity=entity, state=state), as_of=as_of),
        as_json,
        ["id", "entity", "platform", "handle", "state", "complete", "missing"],
    )


@command(app, "show", example="smgov account show 1 --json")
def account_show(account: AccountArg, as_json: JsonOpt = False, as_of: AsOfOpt = None) -> None:
    """Show one account, whether its entry is complete and what it lacks (3.4)."""
    from services import accounts

    show(
        run(lambda c: accounts.account_view(c, accounts.get_account(c, account)), as_of=as_of),
        as_json,
    )


@command(app, "verify", example="smgov account verify https://mobile.twitter.com/unhumanrights")
def account_verify(
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL",
            help="The address to check, as found (any case, mobile or tracking variants).",
        ),
    ],
    as_json: JsonOpt = False,
    as_of: AsOfOpt = None,
) -> None:
    """Is URL a registered institutional account, official now, and whose? (exit 0 either way)"""
    from services import accounts

    result = run(lambda c: accounts.verify_url(c, url), as_of=as_of)
    if as_json:
        output.emit_json(result)
        return
    words = lang()
    if result["registered"]:
        from notifications.i18n import word

        found = {
            "url": result["url"],
            "id": str(result["id"]),
            "entity": result["entity"],
            "status": word(result["status"], words),  # a status the service marked
        }
        if result["official"]:
            line = T(
                words, "{url}: registered account {id} of {entity}, official — {status}", **found
            )
        else:
            line = T(
                words,
                "{url}: registered account {id} of {entity}, NOT official — {status}",
                **found,
            )
        typer.echo(line)
    else:
        typer.echo(T(words, "{url}: not a registered institutional account", url=url))
    for warning in result.get("resembles", []):
        like = {"handle": warning["handle"], "entity": warning["entity"]}
        if result["official"]:
            line = T(words, "beware — resembles @{handle} of {entity}", **like)
        else:
            line = T(words, "not official — resembles @{handle} of {entity}", **like)
        typer.echo("  " + line)


@command(
    app,
    "report-change",
    example='smgov account report-change 1 --what "renamed to @UNHumanRightsAR" --field handle '
    "--field url --changed-on 2026-11-30 --by 100002",
)
def account_report_change(
    account: AccountArg,
    what: Annotated[str, typer.Option("--what", metavar="TEXT", help="What changed.")],
    changed_on: Annotated[
        str,
        typer.Option(
            "--changed-on", metavar="DATE", help="When it changed on the platform: YYYY-MM-DD."
        ),
    ],
    by: ByOpt,
    field: Annotated[
        list[str] | None,
        typer.Option(
            "--field",
            metavar="FIELD",
            help="The 3.4 information that changed, repeated for each: handle, url, language, "
            "administrator, alternate, purpose, audience. The duty is then met once each of them "
            "is updated; without it, by the first update of the entry.",
        ),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Report a change made on the platform: the entry must be updated within 10 days (3.6)."""
    from notifications.i18n import due_words
    from services.accounts import report_change
    from services.entities import get_entity

    when = parse_date(changed_on, field="--changed-on")

    def use_case(c: Any) -> Any:
        ob = report_change(c, ref=account, what=what, changed_on=when, by=by, fields=field or ())
        return ob, get_entity(c, ob.entity_code).timezone

    ob, tz = run(use_case, as_of=as_of)
    if ob.state == "met":  # the entry already held what was reported
        typer.echo(
            T(
                lang(),
                "change recorded; already in the entry: obligation {id} met (3.6)",
                id=str(ob.id),
            )
        )
        return
    typer.echo(
        T(
            lang(),
            "change recorded; obligation {id} (3.6) due {due}",
            id=str(ob.id),
            due=due_words(ob.due_at, tz, lang()),
        )
    )


@command(
    app,
    "created",
    example="smgov account created 7 --handle UNHumanRightsAR --url https://x.com/UNHumanRightsAR "
    "--created-on 2026-02-10 --by 100002",
)
def account_created(
    account: AccountArg,
    handle: Annotated[
        str, typer.Option("--handle", metavar="TEXT", help="The handle it was created with.")
    ],
    url: Annotated[str, typer.Option("--url", metavar="URL", help="The account's address.")],
    created_on: Annotated[
        str,
        typer.Option(
            "--created-on", metavar="DATE", help="When it was created on the platform: YYYY-MM-DD."
        ),
    ],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Report an approved account created on the platform: registration due in 10 days (3.5)."""
    from services.requests import created, readiness

    when = parse_date(created_on, field="--created-on")

    def use_case(c: Any) -> Any:
        acc = created(c, ref=account, handle=handle, url=url, created_on=when, by=by)
        return acc, readiness(c, acc)

    acc, lacking = run(use_case, as_of=as_of)
    if lacking:
        line = T(
            lang(),
            "account {id} created at {url}; before it is active: {lacking}",
            id=str(acc.id),
            url=acc.url,
            lacking=", ".join(lacking),
        )
    else:
        line = T(lang(), "account {id} created at {url}; active", id=str(acc.id), url=acc.url)
    typer.echo(line)


@command(
    app,
    "closed",
    example='smgov account closed 3 --closed-on 2026-05-02 --evidence "closed by B. Admin; '
    'posts archived" --by 100002',
)
def account_closed(
    account: AccountArg,
    closed_on: Annotated[
        str,
        typer.Option(
            "--closed-on", metavar="DATE", help="When it was closed on the platform: YYYY-MM-DD."
        ),
    ],
    evidence: Annotated[
        str,
        typer.Option(
            "--evidence",
            metavar="TEXT",
            help="How it was closed, by whom, and where its content is kept.",
        ),
    ],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Record that a withdrawn account was closed on the platform (3.8); nothing is deleted."""
    from services.reassessment import closed

    when = parse_date(closed_on, field="--closed-on")
    acc = run(
        lambda c: closed(c, ref=account, closed_on=when, evidence=evidence, by=by), as_of=as_of
    )
    typer.echo(T(lang(), "account {id} closed on {date}", id=str(acc.id), date=when))


@command(
    app, "withdraw", example='smgov account withdraw 3 --reason "dormant since 2024" --by 100001'
)
def account_withdraw(
    reason: Annotated[
        str, typer.Option("--reason", metavar="TEXT", help="Why approval is withdrawn.")
    ],
    by: ByOpt,
    account: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="ACCOUNT",
            help="The account: its id or its URL; several with --entity (none with --all).",
        ),
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(
            "--entity",
            metavar="CODE",
            help="Withdraw several accounts of this entity in one act: the ACCOUNTs named, "
            "or with --all every one.",
        ),
    ] = None,
    every: Annotated[
        bool,
        typer.Option(
            "--all",
            help="With --entity: every account of the entity not yet withdrawn or closed.",
        ),
    ] = False,
    as_of: AsOfOpt = None,
) -> None:
    """The head withdraws approval of an account at any time (3.8): every authorization revoked,
    the account withdrawn, its closure due. With --entity CODE, several of the entity's
    accounts in one act (the ACCOUNTs named, or --all), e.g. when a mission closes:
    smgov account withdraw --entity UNMIL --all --reason "mission closed" --by 100001."""
    from services.reassessment import withdraw, withdraw_many

    refs = account or []
    if entity is None:
        if every:
            raise Refused("--all", "withdraws every account of an entity: give --entity CODE")
        if len(refs) != 1:
            raise Refused("ACCOUNT", "name one account, or several with --entity CODE")
        done = run(lambda c: withdraw(c, ref=refs[0], reason=reason, by=by), as_of=as_of)
        typer.echo(
            T(
                lang(),
                "approval of account {id} withdrawn (3.8): close it on the platform, then "
                "{command}",
                id=str(done.id),
                command=f"smgov account closed {done.id} --closed-on DATE --evidence TEXT "
                "--by INDEX",
            )
        )
        return
    if every == bool(refs):
        raise Refused("--all", "with --entity, name the accounts or give --all (not both)")
    ids = run(
        lambda c: withdraw_many(
            c, entity=entity, refs=None if every else refs, reason=reason, by=by
        ),
        as_of=as_of,
    )
    typer.echo(
        T(
            lang(),
            "approval withdrawn (3.8) for accounts of {entity}: {count}; close each on the "
            "platform, then {command}",
            count=str(len(ids)),
            entity=entity.strip().upper(),
            command="smgov account closed ACCOUNT --closed-on DATE --evidence TEXT --by INDEX",
        )
    )


@command(
    root,
    "authorize",
    example="smgov authorize 1 --staff 100002 --role administrator --by 100001 "
    "--reference OHCHR/2026/01",
)
def authorize(
    by: ByOpt,
    reference: Annotated[
        str,
        typer.Option(
            "--reference",
            metavar="REF",
            help="The written authorization's reference (e.g. OHCHR/2026/01).",
        ),
    ],
    account: Annotated[
        str | None,
        typer.Argument(
            metavar="ACCOUNT",
            help="The account: its id or its URL (not needed with --declared --entity).",
        ),
    ] = None,
    staff: Annotated[
        str | None,
        typer.Option(
            "--staff", metavar="INDEX", help="Staff index number of the person authorized."
        ),
    ] = None,
    role: Annotated[
        str | None,
        typer.Option("--role", metavar="ROLE", help=f"Their role: {one_of(ROLES)}."),
    ] = None,
    declared: Annotated[
        bool,
        typer.Option(
            "--declared",
            help="Confirm in one act every person an import declared (no --staff or --role).",
        ),
    ] = False,
    entity: Annotated[
        str | None,
        typer.Option(
            "--entity",
            metavar="CODE",
            help="With --declared: every account of this entity instead of one ACCOUNT.",
        ),
    ] = None,
    as_of: AsOfOpt = None,
) -> None:
    """Record the head of entity's written authorization of a staff member (3.7), or with
    --declared confirm in one written act every person an import declared for ACCOUNT (or for
    every account of --entity)."""
    from services import accounts

    if declared:
        if staff is not None or role is not None:
            raise Refused("--declared", "confirms the declared people: no --staff or --role")
        grants = run(
            lambda c: accounts.authorize_declared(
                c, ref=account, entity=entity, by=by, reference=reference
            ),
            as_of=as_of,
        )
        words = lang()
        for g in grants:
            typer.echo(authorized(words, g.staff_index, g.role, str(g.account_id)))
        typer.echo(
            T(
                words,
                "{count} declared people authorized in writing ({reference})",
                count=str(len(grants)),
                reference=reference,
            )
        )
        return
    if account is None or staff is None or role is None or entity is not None:
        raise Refused("ACCOUNT", "give ACCOUNT --staff INDEX --role ROLE (or --declared)", "3.7")
    run(
        lambda c: accounts.authorize(
            c, ref=account, staff=staff, role=role, by=by, reference=reference
        ),
        as_of=as_of,
    )
    typer.echo(authorized(lang(), staff, role, account))


def authorized(words: str, staff: str, role: str, account: str) -> str:
    """`100002 authorized as administrator of account 1`, the role in the operator's words."""
    from notifications.i18n import word

    return T(
        words,
        "{staff} authorized as {role} of account {account}",
        staff=staff,
        role=word(role, words),
        account=account,
    )


@command(root, "acknowledge", example="smgov acknowledge 1 --by 100002")
def acknowledge(account: AccountArg, by: ByOpt, as_of: AsOfOpt = None) -> None:
    """The authorized staff member accepts the duties of 2.2 and 4.1 for ACCOUNT."""
    from services.requests import acknowledge as ack

    run(lambda c: ack(c, ref=account, by=by), as_of=as_of)
    typer.echo(
        T(
            lang(),
            "{staff} acknowledged the duties of 2.2 and 4.1 for account {account}",
            staff=by,
            account=account,
        )
    )
