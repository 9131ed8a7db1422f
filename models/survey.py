"""The duplication survey of 3.2(a), in the pure core: does a proposed account overlap an existing
or pending one anywhere in the United Nations system?

An account overlaps when it serves the same platform and audience in at least one same language
with a similar purpose, or when it bears a confusingly similar name on the same platform. Matching
is on name, purpose and audience (rapidfuzz token-set similarity on normalised text), never on the
handle alone; each match carries its score and the reason in words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rapidfuzz import fuzz

#: Thresholds, 0-100, chosen on the seeded set in tests/test_survey.py.
PURPOSE_SIMILAR = 60.0
AUDIENCE_SIMILAR = 60.0
NAME_CONFUSING = 85.0

_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "of",
        "and",
        "for",
        "to",
        "in",
        "on",
        "at",
        "by",
        "with",
        "des",
        "de",
        "la",
        "le",
        "les",
        "et",
        "du",
        "en",
        "el",
        "los",
        "las",
        "y",
        "official",
        "account",
        "accounts",
        "page",
        "channel",
        "un",
        "united",
        "nations",
    ]
)


@dataclass(frozen=True)
class Candidate:
    """An account anywhere in the UN system: a registry account, a pending request, or an entry
    of the reference list of agencies, funds and programmes."""

    ref: str  # "account:12", "request:3", "survey:7"
    owner: str  # entity code or organization
    platform: str
    name: str  # handle and display name
    languages: frozenset[str]
    purpose: str
    audience: str
    url: str | None = None


@dataclass(frozen=True)
class Match:
    ref: str
    owner: str
    url: str | None
    score: float
    reason: str


def normalise(text: str) -> str:
    """Lower case, accents and punctuation removed, handles split into words, stop words out."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    plain = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", plain)  # UNHuman -> UN Human
    plain = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", plain)  # HumanRights -> Human Rights
    words = re.findall(r"[a-z0-9]+", plain.lower())
    return " ".join(w for w in words if w not in _STOP)


def similarity(a: str, b: str) -> float:
    """Text similarity, 0-100: the mean of token-set (one text contained in the other) and
    token-sort (the same words overall) ratios, so neither a subset nor word order dominates."""
    left, right = normalise(a), normalise(b)
    if not left or not right:
        return 0.0
    return (fuzz.token_set_ratio(left, right) + fuzz.token_sort_ratio(left, right)) / 2


def name_similarity(a: str, b: str) -> float:
    """How alike two account names read (token-sort ratio of the normalised names)."""
    left, right = normalise(a), normalise(b)
    if not left or not right:
        return 0.0
    return float(fuzz.token_sort_ratio(left, right))


def compare(proposed: Candidate, other: Candidate) -> Match | None:
    """The overlap between a proposed account and another, with its score and reason, if any."""
    if proposed.platform != other.platform:
        return None
    name = name_similarity(proposed.name, other.name)
    shared = sorted(proposed.languages & other.languages)
    if shared:
        purpose = similarity(proposed.purpose, other.purpose)
        audience = similarity(proposed.audience, other.audience)
        if purpose >= PURPOSE_SIMILAR and audience >= AUDIENCE_SIMILAR:
            score = round(0.5 * purpose + 0.3 * audience + 0.2 * name, 1)
            return Match(
                other.ref,
                other.owner,
                other.url,
                score,
                f"same platform ({proposed.platform}) and language "
                f"({', '.join(shared)}); purpose {purpose:.0f}% and audience "
                f"{audience:.0f}% similar",
            )
    if name >= NAME_CONFUSING:
        return Match(
            other.ref,
            other.owner,
            other.url,
            round(name, 1),
            f"confusingly similar name on {proposed.platform} ({name:.0f}%)",
        )
    return None


def survey(proposed: Candidate, others: list[Candidate]) -> list[Match]:
    """Every overlap, best first."""
    found = [m for m in (compare(proposed, o) for o in others) if m is not None]
    return sorted(found, key=lambda m: (-m.score, m.ref))
