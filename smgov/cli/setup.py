"""`smgov doctor` and `smgov notify test`: is this deployment set up to tell people what is due?
(The door only parses and prints; the checks live in services.doctor.)"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from models.errors import CheckFailed, Refused
from models.languages import OFFICIAL_LANGUAGES
from smgov import output
from smgov.cli.common import JsonOpt, command, group, one_of
from smgov.config import load_settings

root = typer.Typer()  # smgov doctor
notify_app = group("Try the delivery channels: e-mail and Microsoft Teams.")

MARK = {"ok": "ok   ", "warn": "warn ", "error": "ERROR"}


@command(root, "doctor", example="smgov doctor --json")
def doctor(as_json: JsonOpt = False) -> None:
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


@command(notify_app, "test", example="smgov notify test --to registry@un.org --language fr")
def notify_test(
    to: Annotated[
        str,
        typer.Option(
            "--to", metavar="EMAIL", help="The e-mail address that receives the test message."
        ),
    ],
    language: Annotated[
        str,
        typer.Option(
            "--language",
            metavar="LANG",
            help=f"The message's language: {one_of(OFFICIAL_LANGUAGES)}.",
        ),
    ] = "en",
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
