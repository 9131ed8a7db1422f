"""The accounts a proposal or an account is compared with in the duplication survey (3.2(a)),
read as plain rows: a module of its own, light to import, for the campaign's survey process
(`services.survey_process`) as much as for the approval's survey (`services.requests`)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlmodel import Session, col

from models.languages import split_languages
from models.requests import PENDING
from models.tables import Account, AccountRequest, SurveyAccount

if TYPE_CHECKING:
    from models.survey import Candidate


def candidates_in(session: Session, *, exclude_request: int | None = None) -> list[Candidate]:
    """Every existing or pending account in the UN system that a proposal is compared with: the
    registry's accounts and the reference list read as plain rows (a 100k registry is read in a
    fraction of the time its ORM objects would take), each set of languages parsed once; read
    by `session`, a use case's or a reader's (a campaign's survey in a process of its own)."""
    from models.survey import Candidate

    languages: dict[str, frozenset[str]] = {}

    def parsed(text: str) -> frozenset[str]:
        found = languages.get(text)
        if found is None:
            found = languages[text] = frozenset(split_languages(text))
        return found

    found = [
        Candidate(f"account:{a_id}", owner, platform, handle, parsed(langs), purpose, audience, url)
        for a_id, owner, platform, handle, langs, purpose, audience, url in session.execute(
            select(
                col(Account.id),
                col(Account.entity_code),
                col(Account.platform),
                col(Account.handle),
                col(Account.languages),
                col(Account.purpose),
                col(Account.audience),
                col(Account.url),
            ).where(col(Account.state).not_in(("withdrawn", "closed")))
        )
    ]
    for r in session.execute(
        select(AccountRequest).where(col(AccountRequest.state).in_(PENDING))
    ).scalars():
        if r.id == exclude_request:
            continue
        ev = json.loads(r.evidence)
        found.append(
            Candidate(
                f"request:{r.id}",
                r.entity_code,
                r.platform,
                r.handle,
                parsed(r.languages),
                ev.get("purpose", ""),
                ev.get("audience", ""),
            )
        )
    found.extend(
        Candidate(f"survey:{s_id}", owner, platform, handle, parsed(langs), purpose, audience, url)
        for s_id, owner, platform, handle, langs, purpose, audience, url in session.execute(
            select(
                col(SurveyAccount.id),
                col(SurveyAccount.organization),
                col(SurveyAccount.platform),
                col(SurveyAccount.handle),
                col(SurveyAccount.languages),
                col(SurveyAccount.purpose),
                col(SurveyAccount.audience),
                col(SurveyAccount.url),
            )
        )
    )
    return found
