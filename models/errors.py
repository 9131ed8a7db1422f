"""The refusals smgov speaks in: one line naming the field and the rule (cli.md, exit 2)."""

from __future__ import annotations

from typing import Any


def R(rule: str) -> str:  # noqa: N802  # gettext-style marker, extracted by name
    """Marks a refusal's rule for the message catalogs (`scripts/i18n.sh extract` finds it by
    this name): the CLI prints the rule in English; a web page shows it in its reader's language
    (`smgov.web_texts.refusal`), its `{fields}` filled from the refusal's parameters."""
    return rule


class Refused(Exception):
    """A request refused by a rule of the bulletin or by validation: nothing is written.

    `rule` may name parameters (`R("is longer than {limit} characters")`, `limit=4000`): the
    English `rule` is then filled in, and `template` and `params` keep what a door translates."""

    exit_code = 2
    #: The refusal as a message a door translates for its reader (a notifications.i18n.Msg), when
    #: the service wrote one; the CLI prints the English `field: rule`.
    words: object | None = None

    def __init__(self, field: str, rule: str, clause: str | None = None, **params: Any) -> None:
        self.field = field
        self.template = rule
        self.params = params
        self.rule = rule.format(**params) if params else rule
        self.clause = clause
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f" ({self.clause})" if self.clause else ""
        return f"{self.field}: {self.rule}{where}"


class NotFound(Refused):
    """The named entity, staff member, account or record does not exist."""


class NotAuthorized(Refused):
    """The acting person has no authority for this action; the refusal itself is audited."""

    def __init__(
        self,
        field: str,
        rule: str,
        clause: str | None = None,
        *,
        actor: str,
        action: str,
        subject: str,
    ) -> None:
        self.actor = actor
        self.action = action
        self.subject = subject
        super().__init__(field, rule, clause)


class CheckFailed(Exception):
    """A check found a problem (exit 1), e.g. a broken audit chain."""

    exit_code = 1
