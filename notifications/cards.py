"""Teams messages as Adaptive Cards (schema 1.5), posted through apprise's Workflows plugin.

A card holds the same content as the e-mail, in the reader's language: a title, per duty a
FactSet (account, entity, due day, days left, responsible) and its next step, and an
`Action.OpenUrl` button to the task in the web door. The button's address is written as
`smgov-task:/path` and made absolute as the card is sent (SMGOV_PUBLIC_URL); without a web door
the button is left out and the card shows the command (notifications.channels)."""

from __future__ import annotations

import json
from typing import Any

CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
TASK_SCHEME = "smgov-task:"
MAX_ITEMS = 20  # a Workflows post carries at most 28 KB: the first 20 duties, then a count


def task_path(subject: str) -> str:
    """The web door's page for a duty's subject (smgov.web.path_of, without importing it)."""
    kind, _, number = subject.partition(":")
    if kind == "request" and number.isdigit():
        return f"/requests/{number}"
    if kind == "account" and number.isdigit():
        return f"/accounts/{number}/custody"
    return "/tasks"


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def card(
    *,
    lang: str,
    rtl: bool,
    title: str,
    items: list[dict[str, Any]],
    more: str | None,
    fallback: str,
) -> str:
    """The card's JSON. Each item: `title`, `facts` [(label, value)], `text` (lines), and
    optionally `button` (label) with `path` (the task's page)."""
    body: list[dict[str, Any]] = [
        _text(title, weight="Bolder", size="Large", style="heading"),
    ]
    for item in items[:MAX_ITEMS]:
        content: list[dict[str, Any]] = [_text(item["title"], weight="Bolder")]
        if item.get("facts"):
            content.append(
                {
                    "type": "FactSet",
                    "facts": [{"title": k, "value": v} for k, v in item["facts"]],
                }
            )
        content.extend(_text(line, spacing="Small") for line in item.get("text", ()))
        if item.get("button"):
            content.append(
                {
                    "type": "ActionSet",
                    "actions": [
                        {
                            "type": "Action.OpenUrl",
                            "title": item["button"],
                            "url": TASK_SCHEME + item["path"],
                        }
                    ],
                }
            )
        body.append({"type": "Container", "separator": True, "items": content})
    if more:
        body.append(_text(more, isSubtle=True))
    value = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": "1.5",
        "lang": lang,
        "rtl": rtl,
        "fallbackText": fallback[:2000],
        "body": body,
    }
    return json.dumps(value, ensure_ascii=False)


def resolve(card_json: str, public_url: str | None) -> dict[str, Any]:
    """The card as posted: task buttons made absolute, or left out without a web door."""
    value: dict[str, Any] = json.loads(card_json)
    base = (public_url or "").rstrip("/")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("type") == "ActionSet":
                actions = [
                    {**a, "url": base + a["url"].removeprefix(TASK_SCHEME)}
                    for a in node["actions"]
                    if base or not str(a.get("url", "")).startswith(TASK_SCHEME)
                ]
                return {**node, "actions": actions} if actions else None
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [x for x in (walk(v) for v in node) if x is not None]
        return node

    resolved: dict[str, Any] = walk(value)
    return resolved


def workflows_payload(card_value: dict[str, Any]) -> dict[str, Any]:
    """What a Teams Workflows ("Post card in a chat or channel") trigger takes."""
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card_value,
            }
        ],
    }
