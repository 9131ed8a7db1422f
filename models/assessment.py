"""Assessments in the pure core: the findings smgov can see itself against the 3.2 criteria, the
recommendation it draws from them, and the staggering of yearly reassessments (3.2, 3.3, 3.8)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import NamedTuple

from models.words import W

CRITERIA = ("3.2(a)", "3.2(b)", "3.2(c)", "3.2(d)", "3.2(e)", "3.1(c)")
#: The pieces smgov's findings and recommendations are written in (`prefill`, `recommend`): a
#: note or a why is pieces joined by "; ", a piece may carry a label ("3.2(c): ...", a matched
#: account's "ref (owner): ..."); the data keep the English, and a door shows each piece in its
#: reader's words (`smgov.web_texts.said`). A `{piece}` is itself a piece.
SAID = (
    W("met"),
    W("not met"),
    W("not known"),
    W("overlaps"),
    W("no overlapping account found by the survey"),
    W("purpose and intended audience recorded"),
    W("purpose or audience missing"),
    W("no authorized administrator"),
    W("administrator {index} is {status}"),
    W("no alternate"),
    W("alternate {index} is {status}"),
    W("administrator and alternate authorized and active"),
    W("risk analysis on file"),
    W("no risk analysis on file"),
    W("editorial standards on file"),
    W("no editorial standards on file"),
    W("entry incomplete: {items}"),
    W("entries not attested in the last {days} days"),
    W("entry complete and recently attested"),
    W("last post {days} days ago, {posts} posts a month, {followers} followers"),
    W("last post {days} days ago, {posts} posts a month"),
    W("last post {days} days ago, {followers} followers"),
    W("last post {days} days ago"),
    W("dormant and {criteria} not met: withdraw approval and close (3.8)"),
    W("withdraw, or continue on condition of fixing — {piece}"),
    W("every criterion smgov can see is met"),
)
FINDINGS = ("met", "not met", "not known")
DECISIONS = ("continue", "conditions", "withdraw")
DORMANT_DAYS = 180


class Evidence(NamedTuple):
    """What smgov knows of one account when an assessment opens (a tuple: a campaign makes one
    per account, 100,000 at a time, and a frozen dataclass sets each field through
    `object.__setattr__`, a third of the per-account loop)."""

    administrator: str | None  # index of the active-authorized administrator
    administrator_status: str | None  # their staff status (active, separated, reassigned)
    alternate: str | None
    alternate_status: str | None
    overlaps: tuple[str, ...]  # survey matches, as "ref (owner): reason"
    missing: tuple[str, ...]  # 3.4 items missing from the entry
    attested_days_ago: int | None  # days since the head last attested the entity's entries
    purpose: str
    audience: str
    risk_recorded: bool  # a 3.2(d) risk analysis is on file (approval request)
    editorial_recorded: bool  # 3.2(e) editorial standards on file
    last_post_days_ago: int | None = None
    posts_per_month: float | None = None
    followers: int | None = None


def prefill(ev: Evidence, *, stale_after: int = 180) -> dict[str, dict[str, str]]:
    """Findings per criterion, each with a note saying why."""
    out: dict[str, dict[str, str]] = {}
    if ev.overlaps:
        out["3.2(a)"] = {"finding": "not met", "note": "overlaps: " + "; ".join(ev.overlaps[:3])}
    else:
        out["3.2(a)"] = {"finding": "met", "note": "no overlapping account found by the survey"}
    out["3.2(b)"] = (
        {"finding": "met", "note": "purpose and intended audience recorded"}
        if ev.purpose.strip() and ev.audience.strip()
        else {"finding": "not met", "note": "purpose or audience missing"}
    )
    problems = []
    if ev.administrator is None:
        problems.append("no authorized administrator")
    elif ev.administrator_status != "active":
        problems.append(f"administrator {ev.administrator} is {ev.administrator_status}")
    if ev.alternate is None:
        problems.append("no alternate")
    elif ev.alternate_status != "active":
        problems.append(f"alternate {ev.alternate} is {ev.alternate_status}")
    out["3.2(c)"] = (
        {"finding": "not met", "note": "; ".join(problems)}
        if problems
        else {"finding": "met", "note": "administrator and alternate authorized and active"}
    )
    out["3.2(d)"] = (
        {"finding": "met", "note": "risk analysis on file"}
        if ev.risk_recorded
        else {"finding": "not known", "note": "no risk analysis on file"}
    )
    out["3.2(e)"] = (
        {"finding": "met", "note": "editorial standards on file"}
        if ev.editorial_recorded
        else {"finding": "not known", "note": "no editorial standards on file"}
    )
    stale = ev.attested_days_ago is None or ev.attested_days_ago > stale_after
    if ev.missing or stale:
        why = []
        if ev.missing:
            why.append("entry incomplete: " + ", ".join(ev.missing))
        if stale:
            why.append("entries not attested in the last " + str(stale_after) + " days")
        out["3.1(c)"] = {"finding": "not met", "note": "; ".join(why)}
    else:
        out["3.1(c)"] = {"finding": "met", "note": "entry complete and recently attested"}
    if ev.last_post_days_ago is not None:
        dormant = ev.last_post_days_ago > DORMANT_DAYS
        note = (
            f"last post {ev.last_post_days_ago} days ago"
            + (f", {ev.posts_per_month:g} posts a month" if ev.posts_per_month is not None else "")
            + (f", {ev.followers} followers" if ev.followers is not None else "")
        )
        out["impact"] = {"finding": "not met" if dormant else "met", "note": note}
    return out


def recommend(findings: dict[str, dict[str, str]]) -> tuple[str, str]:
    """continue, conditions or withdraw — and why."""
    unmet = [c for c, f in findings.items() if f["finding"] == "not met"]
    if "impact" in unmet and ("3.2(a)" in unmet or "3.2(c)" in unmet):
        return "withdraw", (
            "dormant and "
            + ", ".join(c for c in unmet if c != "impact")
            + " not met: withdraw approval and close (3.8)"
        )
    if unmet:
        fixes = "; ".join(f"{c}: {findings[c]['note']}" for c in unmet)
        return "conditions", f"withdraw, or continue on condition of fixing — {fixes}"
    return "continue", "every criterion smgov can see is met"


def stagger(entities: list[str], taken: Counter[int], *, weeks: int = 52) -> dict[str, int]:
    """Spread entities over `weeks` weeks: each goes to the least-loaded week (earliest on ties),
    so no week carries more than ceil(n / weeks) of them."""
    load = Counter({w: taken.get(w, 0) for w in range(weeks)})
    chosen: dict[str, int] = {}
    for code in entities:
        week = min(range(weeks), key=lambda w: (load[w], w))
        chosen[code] = week
        load[week] += 1
    return chosen


def week_start(first: dt.date, week: int) -> dt.date:
    return first + dt.timedelta(weeks=week)
