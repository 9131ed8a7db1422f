"""The compliance report: where each entity stands against the bulletin, as of a date.

Per entity: accounts by state, completeness of 3.4 entries and what is missing, obligations open
and overdue by clause, campaigns, orphaned accounts (nobody authorized, 4.2), stale attestation
(3.1(c)), dead-lettered messages, and language parity across the six official languages (2.3).
A handful of grouped queries, whatever the size of the registry.
"""

from __future__ import annotations

import html
import io
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import func, or_, select
from sqlmodel import col

from models.clock import days_left, iso, parse_instant
from models.languages import OFFICIAL_LANGUAGES, split_languages
from models.rules import RULES
from models.tables import (
    Account,
    Authorization,
    Campaign,
    Entity,
    Obligation,
    Outbox,
    Staff,
)
from notifications.i18n import date as date_words
from notifications.i18n import due_words
from notifications.templates import title_of
from services.accounts import account_rows, missing_for
from services.authority import require
from services.context import Ctx
from services.subjects import account_words

LIVE = ("approved", "active", "under-reassessment")


def compliance(ctx: Ctx, *, entity: str | None = None, reader: str | None = None) -> dict[str, Any]:
    """The compliance report. Read on a person's behalf (`reader`, the web door), it goes through
    the same authority as every act (models.policy action `read`): their own entity's, or any
    entity's for a registry officer."""
    if reader is not None:
        require(
            ctx,
            actor=reader,
            action="read",
            entity_code=entity,
            subject=f"entity:{entity}" if entity else "registry",
        )
    s, now = ctx.session, ctx.now
    entities = list(s.execute(select(Entity).order_by(col(Entity.code))).scalars())
    if entity:
        entities = [e for e in entities if e.code.upper() == entity.strip().upper()]  # dgc is DGC
    codes = [e.code for e in entities]
    states: dict[str, Counter[str]] = defaultdict(Counter)
    parity: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    languages: dict[str, set[str]] = defaultdict(set)
    # counted by the database: one row per distinct (entity, state, platform, languages)
    for code, state, platform, langs, count in s.execute(
        select(
            col(Account.entity_code),
            col(Account.state),
            col(Account.platform),
            col(Account.languages),
            func.count(),
        )
        .where(col(Account.entity_code).in_(codes))
        .group_by(
            col(Account.entity_code),
            col(Account.state),
            col(Account.platform),
            col(Account.languages),
        )
    ):
        states[code][state] += count
        if state in LIVE:
            for lang in split_languages(langs):
                languages[code].add(lang)
                if lang in OFFICIAL_LANGUAGES:
                    parity[code][platform].add(lang)
    incomplete: dict[str, Counter[str]] = defaultdict(Counter)
    open_by_clause: dict[str, Counter[str]] = defaultdict(Counter)
    overdue_by_clause: dict[str, Counter[str]] = defaultdict(Counter)
    overdue = col(Obligation.due_at) < now
    entry = func.substr(col(Obligation.key), 1, 6) == "entry:"  # exact on both (LIKE is not)
    # counted by the database: one row per (entity, clause, overdue or not, entry duty or not)
    for code, clause, late, of_entry, count in s.execute(
        select(col(Obligation.entity_code), col(Obligation.clause), overdue, entry, func.count())
        .where(
            col(Obligation.entity_code).in_(codes),
            col(Obligation.created_at) <= now,
            or_(col(Obligation.closed_at).is_(None), col(Obligation.closed_at) > now),
        )
        .group_by(col(Obligation.entity_code), col(Obligation.clause), overdue, entry)
    ):
        open_by_clause[code][clause] += count
        if late:
            overdue_by_clause[code][clause] += count
        if of_entry:
            incomplete[code][clause] += count
    held = select(col(Authorization.account_id)).where(col(Authorization.revoked_at).is_(None))
    orphans: dict[str, list[int]] = defaultdict(list)
    for code, account_id in s.execute(
        select(col(Account.entity_code), col(Account.id)).where(
            col(Account.entity_code).in_(codes),
            col(Account.state).in_(LIVE),
            col(Account.id).not_in(held),
        )
    ):
        orphans[code].append(account_id)
    unacknowledged: dict[str, list[list[Any]]] = defaultdict(list)
    for code, account_id, index in s.execute(
        select(col(Account.entity_code), col(Account.id), col(Authorization.staff_index))
        .join(Authorization, col(Authorization.account_id) == col(Account.id))
        .where(
            col(Account.entity_code).in_(codes),
            col(Authorization.revoked_at).is_(None),
            col(Authorization.acknowledged_at).is_(None),
        )
        .order_by(col(Account.id), col(Authorization.id))
    ):
        unacknowledged[code].append([account_id, index])  # authorized, 4.1 not acknowledged
    campaigns: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for c in s.execute(
        select(Campaign).where(col(Campaign.entity_code).in_(codes)).order_by(col(Campaign.id))
    ).scalars():
        campaigns[c.entity_code].append(
            {
                "campaign": c.id,
                "kind": c.kind,
                "state": c.state,
                "outcome": c.outcome,
                "due_at": iso(c.due_at),
            }
        )
    dead: Counter[str] = Counter(
        dict(
            s.execute(
                select(col(Staff.entity_code), func.count())
                .join(Outbox, col(Outbox.recipient_index) == col(Staff.index_number))
                .where(col(Outbox.status) == "dead")
                .group_by(col(Staff.entity_code))
            ).all()
        )
    )
    named = _needing_action(ctx, entities, {a for found in orphans.values() for a in found})
    stale_limit = now.timestamp() - ctx.settings.attestation_days * 86400
    rows = []
    for e in entities:
        total = sum(states[e.code].values())
        live = sum(states[e.code][x] for x in LIVE)
        lacking = sum(incomplete[e.code].values())
        since = e.attested_at or e.created_at
        rows.append(
            {
                "code": e.code,
                "name": e.name,
                "timezone": e.timezone,
                "accounts": total,
                "by_state": dict(sorted(states[e.code].items())),
                "complete": live - lacking,
                "incomplete": lacking,
                "open": sum(open_by_clause[e.code].values()),
                "overdue": sum(overdue_by_clause[e.code].values()),
                "open_by_clause": dict(sorted(open_by_clause[e.code].items())),
                "overdue_by_clause": dict(sorted(overdue_by_clause[e.code].items())),
                "orphaned": sorted(orphans[e.code]),
                "unacknowledged": unacknowledged[e.code],
                "attestation_stale": since.timestamp() < stale_limit,
                "campaigns": campaigns[e.code],
                "dead_letters": dead.get(e.code, 0),
                "languages": sorted(languages[e.code]),
                "parity": {
                    p: {lang: lang in got for lang in OFFICIAL_LANGUAGES}
                    for p, got in sorted(parity[e.code].items())
                },
                "official_languages_covered": sorted(
                    {lang for got in parity[e.code].values() for lang in got}
                ),
                "needing_action": named.get(e.code, []),
            }
        )
    dead_total = s.execute(
        select(func.count()).select_from(Outbox).where(col(Outbox.status) == "dead")
    ).scalar_one()
    return {"as_of": iso(now), "entities": rows, "dead_letters": int(dead_total)}


def _needing_action(
    ctx: Ctx, entities: list[Entity], orphaned: set[int]
) -> dict[str, list[dict[str, Any]]]:
    """Per entity, each account that needs action, named (platform, handle, address) with what
    is wrong: orphaned (4.2; `orphaned`, the live accounts the caller found without a holder),
    incomplete and what it lacks (3.4), overdue duties and days late, written authorizations
    not yet acknowledged (4.1). Sorted by account number."""
    s, now = ctx.session, ctx.now
    tz = {e.code: e.timezone for e in entities}
    scope = (col(Account.entity_code).in_(list(tz)), col(Account.state).in_(LIVE))
    # plain rows: a registry of 100,000 is read without an ORM object per account
    accounts = {a.id: a for a in account_rows(ctx, *scope, dated=False)}
    problems: dict[int, list[str]] = defaultdict(list)
    for aid in sorted(orphaned & accounts.keys()):  # live, no written authorization in force
        problems[aid].append("orphaned: no authorized staff member (4.2)")
    lacking = missing_for(ctx, list(accounts.values()), scope=scope)
    for aid, gaps in lacking.items():
        if gaps:
            problems[aid].append(f"incomplete: missing {', '.join(gaps)} (3.4)")
    for kind, clause, subject, due_at in s.execute(
        select(
            col(Obligation.kind),
            col(Obligation.clause),
            col(Obligation.subject),
            col(Obligation.due_at),
        ).where(
            col(Obligation.entity_code).in_(list(tz)),
            col(Obligation.created_at) <= now,
            col(Obligation.due_at) < now,
            or_(col(Obligation.closed_at).is_(None), col(Obligation.closed_at) > now),
        )
    ):
        number = subject.partition(":")[2]
        if subject.startswith("account:") and number.isdigit() and int(number) in accounts:
            account = accounts[int(number)]
            late = -days_left(due_at, now, tz[account.entity_code])
            problems[account.id or 0].append(
                f"overdue: {title_of(kind, 'en').lower()} [{clause}], "
                f"due {due_words(due_at, tz[account.entity_code])}, {late} day(s) late"
            )
    names = {
        index: name for index, name in s.execute(select(col(Staff.index_number), col(Staff.name)))
    }
    for aid, staff, role in s.execute(
        select(
            col(Authorization.account_id), col(Authorization.staff_index), col(Authorization.role)
        ).where(
            col(Authorization.revoked_at).is_(None), col(Authorization.acknowledged_at).is_(None)
        )
    ):
        if aid in accounts:
            problems[aid].append(
                f"unacknowledged: {names.get(staff, staff)} ({role}) has not acknowledged "
                "the duties of 4.1"
            )
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for aid in sorted(problems):
        account = accounts[aid]
        found[account.entity_code].append(
            {
                "account": aid,
                "name": account_words(
                    account.platform, account.platform_name, account.handle, account.url
                ),
                "url": f"https://{account.url}"
                if account.url and "://" not in account.url
                else account.url,
                "problems": problems[aid],
            }
        )
    return found


def _human(as_of: str) -> str:
    return date_words(parse_instant(as_of).date(), "en")


def as_table(report: dict[str, Any]) -> str:
    lines = [f"compliance as of {_human(report['as_of'])}", ""]
    head = (
        f"{'ENTITY':<10} {'ACCOUNTS':>8} {'COMPLETE':>8} {'OPEN':>5} {'OVERDUE':>7} "
        f"{'ORPHANED':>8}  OFFICIAL LANGUAGES"
    )
    lines.append(head)
    for e in report["entities"]:
        langs = " ".join(
            code if code in e["official_languages_covered"] else "--" for code in OFFICIAL_LANGUAGES
        )
        lines.append(
            f"{e['code']:<10} {e['accounts']:>8} {e['complete']:>8} {e['open']:>5} "
            f"{e['overdue']:>7} {len(e['orphaned']):>8}  {langs}"
        )
        if e["unacknowledged"]:
            who = ", ".join(f"{index} (account {acc})" for acc, index in e["unacknowledged"])
            lines.append(f"{'':<10} authorized, 4.1 not yet acknowledged: {who}")
    lines.append("")
    lines.append(f"dead-lettered messages: {report['dead_letters']}")
    for e in report["entities"]:
        if e["needing_action"]:
            lines.append("")
            lines.append(f"{e['code']} — accounts needing action:")
            for item in e["needing_action"]:
                lines.append(f"  {item['name']}")
                lines.extend(f"    - {problem}" for problem in item["problems"])
    return "\n".join(lines) + "\n"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula (it begins with = + - @, a tab or a
    carriage return) gets a leading apostrophe (OWASP, CSV injection); numbers are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def as_csv(report: dict[str, Any]) -> str:
    import csv

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "as_of",
            "entity",
            "accounts",
            "complete",
            "incomplete",
            "open",
            "overdue",
            "orphaned",
            "attestation_stale",
            "dead_letters",
            *OFFICIAL_LANGUAGES,
            "needing_action",
        ]
    )
    for e in report["entities"]:
        writer.writerow(
            [
                csv_cell(report["as_of"]),
                csv_cell(e["code"]),
                e["accounts"],
                e["complete"],
                e["incomplete"],
                e["open"],
                e["overdue"],
                len(e["orphaned"]),
                e["attestation_stale"],
                e["dead_letters"],
                *[int(c in e["official_languages_covered"]) for c in OFFICIAL_LANGUAGES],
                " | ".join(
                    f"{item['name']}: {'; '.join(item['problems'])}" for item in e["needing_action"]
                ),
            ]
        )
    return out.getvalue()


def _chart(parity: dict[str, dict[str, bool]]) -> str:
    """A platform x official-language grid as inline SVG (filled: covered)."""
    cell, left, top = 28, 90, 22
    platforms = list(parity) or ["(none)"]
    width, height = left + cell * len(OFFICIAL_LANGUAGES) + 4, top + cell * len(platforms) + 4
    parts = [
        f'<svg role="img" aria-label="language parity" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, lang in enumerate(OFFICIAL_LANGUAGES):
        parts.append(
            f'<text x="{left + i * cell + cell / 2}" y="15" text-anchor="middle" '
            f'font-size="12">{lang}</text>'
        )
    for j, platform in enumerate(platforms):
        y = top + j * cell
        parts.append(
            f'<text x="{left - 6}" y="{y + cell / 2 + 4}" text-anchor="end" '
            f'font-size="12">{html.escape(platform)}</text>'
        )
        for i, lang in enumerate(OFFICIAL_LANGUAGES):
            on = parity.get(platform, {}).get(lang, False)
            parts.append(
                f'<rect x="{left + i * cell + 2}" y="{y + 2}" width="{cell - 4}" '
                f'height="{cell - 4}" rx="4" fill="{"#1a7f37" if on else "#eaeef2"}" '
                f'stroke="#8c959f"><title>{html.escape(platform)} {lang}: '
                f"{'covered' if on else 'not covered'}</title></rect>"
            )
    parts.append("</svg>")
    return "".join(parts)


parity_chart = _chart  # the web door draws the same chart


def as_html(report: dict[str, Any]) -> str:
    """One self-contained page: a section per entity with its parity chart."""
    sections = []
    for e in report["entities"]:
        titles = {rule.clause: rule.title for rule in RULES}
        clauses = (
            "".join(
                f"<tr><td>{html.escape(c)} {html.escape(titles.get(c, titles.get(c[:3], '')))}"
                f"</td><td>{n}</td>"
                f"<td>{e['overdue_by_clause'].get(c, 0)}</td></tr>"
                for c, n in e["open_by_clause"].items()
            )
            or '<tr><td colspan="3">none</td></tr>'
        )
        campaigns = (
            "".join(
                f"<li>{html.escape(c['kind'])} — {c['state']}"
                f"{' (' + c['outcome'] + ')' if c['outcome'] else ''}, due "
                f"{due_words(parse_instant(c['due_at']), e['timezone'])}</li>"
                for c in e["campaigns"]
            )
            or "<li>none</li>"
        )
        needing = (
            "".join(
                f'<li><a href="{html.escape(item["url"] or "")}">{html.escape(item["name"])}</a>'
                "<ul>"
                + "".join(f"<li>{html.escape(p)}</li>" for p in item["problems"])
                + "</ul></li>"
                for item in e["needing_action"]
            )
            or "<li>none</li>"
        )
        sections.append(f"""
<section id="entity-{html.escape(e["code"])}" aria-labelledby="h-{html.escape(e["code"])}">
  <h2 id="h-{html.escape(e["code"])}">{html.escape(e["code"])} — {html.escape(e["name"])}</h2>
  <p class="figures"><strong>{e["accounts"]}</strong> accounts · <strong>{e["complete"]}</strong>
  complete · <strong>{e["incomplete"]}</strong> incomplete (3.4) · <strong>{e["overdue"]}</strong>
  overdue · <strong>{len(e["orphaned"])}</strong> orphaned (4.2) ·
  attestation {"<em>stale</em>" if e["attestation_stale"] else "current"} (3.1(c)) ·
  {e["dead_letters"]} undelivered messages</p>
  <div class="grid"><div><h3>Language parity (2.3)</h3>{_chart(e["parity"])}</div>
  <div><h3>Open obligations by clause</h3><table><thead><tr><th>clause</th><th>open</th>
  <th>overdue</th></tr></thead><tbody>{clauses}</tbody></table>
  <h3>Campaigns</h3><ul>{campaigns}</ul></div></div>
  <h3>Accounts needing action</h3><ul class="needing">{needing}</ul>
</section>""")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>smgov compliance, {_human(report["as_of"])}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }}
section {{ border: 1px solid #d0d7de; border-radius: 8px; padding: 1rem 1.5rem; margin: 1rem 0; }}
.grid {{ display: flex; gap: 3rem; flex-wrap: wrap; }}
table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #d0d7de; padding: 2px 8px; }}
em {{ color: #cf222e; font-style: normal; font-weight: bold; }}
</style></head>
<body><h1>Institutional social media accounts — compliance as of {_human(report["as_of"])}</h1>
<p>Secretary-General's bulletin <cite>Institutional use of social media</cite>.
{len(report["entities"])} entities · {report["dead_letters"]} dead-lettered messages.</p>
{"".join(sections)}
</body></html>
"""


def clause_counts(ctx: Ctx) -> dict[str, tuple[int, int]]:
    """Open and overdue obligations per clause as of `ctx.now`, a clause counting its
    sub-clauses (3.4 takes 3.4(d))."""
    from models.rules import RULES

    rows = ctx.session.execute(
        select(col(Obligation.clause), col(Obligation.due_at)).where(
            col(Obligation.created_at) <= ctx.now,
            or_(col(Obligation.closed_at).is_(None), col(Obligation.closed_at) > ctx.now),
        )
    ).all()
    out: dict[str, tuple[int, int]] = {}
    for rule in RULES:
        mine = [
            due
            for clause, due in rows
            if clause == rule.clause or clause.startswith(rule.clause + "(")
        ]
        out[rule.clause] = (len(mine), sum(1 for due in mine if due < ctx.now))
    return out
