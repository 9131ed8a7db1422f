"""`smgov custody` (where credentials are held, 4.2) and `smgov incident` (security incidents,
4.1(d))."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from models.errors import CheckFailed
from smgov.cli.common import (
    AccountArg,
    AsOfOpt,
    ByOpt,
    T,
    command,
    effective_time,
    group,
    lang,
    open_engine,
    run,
)
from smgov.config import load_settings

custody_app = group("Where credentials are held (4.2).")
incident_app = group("Security incidents (4.1(d)).")


@command(
    custody_app,
    "attest",
    example="smgov custody attest 1 --vault-ref vault://ohchr/x-main --by 100002",
)
def custody_attest(
    account: AccountArg,
    vault_ref: Annotated[
        str,
        typer.Option(
            "--vault-ref",
            metavar="REF",
            help="Where the credentials are held: a vault entry's reference, a scheme and a "
            "path such as vault:kv/ohchr/x-unhumanrights or vault://kv/ohchr/x (letters, digits "
            "and _ . / # - only), never the secret.",
        ),
    ],
    by: ByOpt,
    as_of: AsOfOpt = None,
) -> None:
    """Attest that the account's credentials were rotated and are held where --vault-ref
    says (4.2)."""
    from services.custody import attest

    custody = run(lambda c: attest(c, ref=account, vault_ref=vault_ref, by=by), as_of=as_of)
    typer.echo(
        T(
            lang(),
            "custody of account {account} recorded at {vault}",
            account=str(custody.account_id),
            vault=custody.vault_ref,
        )
    )


@command(
    incident_app,
    "report",
    example='smgov incident report 1 --kind compromise --details "password reset mail not ours" '
    "--by 100002",
)
def incident_report(
    account: AccountArg,
    kind: Annotated[
        str,
        typer.Option(
            "--kind", metavar="KIND", help="The incident: compromise, threat or impersonation."
        ),
    ],
    details: Annotated[
        str, typer.Option("--details", metavar="TEXT", help="What happened, and when.")
    ],
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

    settings = load_settings()
    report = run(use_case, as_of=as_of)
    now = effective_time(
        as_of
    )  # after the alerts were written at their own `now`: deliver them at once
    delivered = deliver(open_engine(settings), settings, now=now)
    typer.echo(
        T(
            lang(),
            "incident {id} recorded; {sent} messages sent, {failed} failed",
            id=str(report.incident),
            sent=str(delivered.sent),
            failed=str(delivered.failed + delivered.dead),
        )
    )
    if report.security_undelivered:
        raise CheckFailed(
            "SMGOV_SECURITY_EMAIL: not set, so the Department of Safety and Security was NOT "
            f"told of incident {report.incident} (4.1(d)); set it and report again"
        )
