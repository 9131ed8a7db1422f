"""`smgov doctor` and `smgov notify test`: is this deployment set up to tell people what is due?
(The door only parses and prints; the checks live in services.doctor.)"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from models.errors import CheckFailed, Refused
from smgov import output
from smgov.config import load_settings

notify_app = typer.Typer(no_args_is_help=True, help="Try the delivery channels.")

MARK = {"ok": "ok   ", "warn": "warn ", "error": "ERROR"}


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
    app.add_typer(notify_app, name="notify")


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON only")] = False,
) -> None:
    """Check the set-up: database, keys, SMTP (EHLO, STARTTLS, AUTH; nothing sent), the apprise
    file and its tags, the registry and security addresses, the issuance date and the web door.
    Exit 1 on any error."""
    from services.doctor import diagnose

    checks = diagnose(load_settings())
    if as_json:
        output.emit_json([c.view() for c in checks])
    else:
        for check in checks:
            typer.echo(f"{MARK[check.status]} {check.name}: {check.detail}")
    errors = sum(c.status == "error" for c in checks)
    if errors:
        raise CheckFailed(f"doctor: {errors} error(s); fix them, then run 'smgov doctor' again")


@notify_app.command("test")
def notify_test(
    to: Annotated[str, typer.Option("--to", help="the e-mail address that receives the test")],
    language: Annotated[str, typer.Option("--language", help="ar, zh, en, fr, ru or es")] = "en",
) -> None:
    """Send one real message through each configured channel: e-mail to --to (or the local mail
    folder), and Teams to each tag of the apprise file. Exit 1 if any channel fails."""
    from models.languages import check_preferred_language
    from notifications.channels import Outgoing, TeamsChannel, channels_from
    from notifications.outbox import new_message_id
    from notifications.templates import render_test

    if "@" not in to or to.startswith("@") or to.endswith("@"):
        raise Refused("--to", "must be an e-mail address")
    lang = check_preferred_language(language)
    settings = load_settings()
    channels = channels_from(settings)
    message = render_test(lang)
    failed = 0
    targets = [("email", to)] + [("teams", tag) for tag in sorted(TeamsChannel(settings).tags())]
    for channel, recipient in targets:
        result = channels[channel].send(
            Outgoing(
                new_message_id(),
                recipient,
                message.subject,
                message.text,
                rich=message.html if channel == "email" else message.card,
                language=lang,
            )
        )
        failed += not result.ok
        typer.echo(f"{'sent ' if result.ok else 'FAILED'} {channel} {recipient}: {result.detail}")
    if failed:
        raise CheckFailed(f"notify test: {failed} channel(s) failed")
    sys.stdout.flush()
