"""Look-alike handles (issue 18): does a handle pass for another entity's official one?

Two tests, both pure:
- the same *skeleton* (Unicode TR 39, "confusable detection"): every character is replaced by a
  representative of the characters it can be mistaken for, from Unicode's confusables data as
  the `confusable_homoglyphs` package ships it (Cyrillic а for Latin a, 0 for O, I and 1 for l,
  fullwidth letters, ...), after compatibility normalization (NFKC) and with the separators
  `_ . -` dropped;
- or, for handles of 8 characters or more, one edit away (Levenshtein distance 1 with rapidfuzz)
  once both are skeletons, case folded: `UNHumanRlghts` against `UNHumanRights`.
Identical handles are not look-alikes (they are the same account, or a duplicate: 3.2(a)).
"""

from __future__ import annotations

import functools
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

SEPARATORS = str.maketrans("", "", "_.-@ ")
MIN_FUZZY = 8  # shorter handles (UNEP, UNDP) differ by one letter legitimately


@functools.cache
def _representatives() -> dict[str, str]:
    """Each confusable character -> the representative of its group: the smallest ASCII
    character of the group when it has one (so look-alikes fall on plain Latin letters)."""
    from confusable_homoglyphs import confusables  # type: ignore[import-untyped]  # no stubs

    data: dict[str, list[dict[str, str]]] = confusables.confusables_data
    parent: dict[str, str] = {}

    def find(ch: str) -> str:
        while parent.get(ch, ch) != ch:
            parent[ch] = parent.get(parent[ch], parent[ch])
            ch = parent[ch]
        return ch

    def union(a: str, b: str) -> None:
        ra, rb = find(a), find(b)
        if ra == rb:
            return
        # an ASCII root wins, then the smaller code point: groups settle on ASCII letters
        if (not ra.isascii(), ra) <= (not rb.isascii(), rb):
            parent[rb] = ra
        else:
            parent[ra] = rb

    for ch, glyphs in data.items():
        if len(ch) != 1:
            continue
        for glyph in glyphs:
            other = glyph["c"].strip("\u200e\u200f")
            if len(other) == 1 and (ch.isascii() is False or other.isascii() is False):
                union(ch, other)  # never merge two ASCII letters through a foreign glyph
            elif len(other) == 1 and ch.lower() in "il1|o0" and other.lower() in "il1|o0":
                union(ch, other)  # the classic ASCII confusables: l I 1 |, O 0
    return {ch: find(ch) for ch in parent}


@functools.cache
def _translation() -> dict[int, str]:
    """`_representatives` as a `str.translate` table (the characters that change only)."""
    return {ord(ch): rep for ch, rep in _representatives().items() if ch != rep}


def skeleton(handle: str) -> str:
    """A handle's skeleton: NFKC, separators dropped, each character replaced by its group's
    representative, then case folded (one `translate` per step: a request's view surveys the
    skeletons of every official handle on its platform, 100,000 of them)."""
    text = handle if handle.isascii() else unicodedata.normalize("NFKC", handle)
    return text.translate(SEPARATORS).translate(_translation()).casefold()


@dataclass(frozen=True)
class Resemblance:
    """An official handle that `handle` resembles, and why (`skeleton` or `one-edit`)."""

    handle: str
    entity: str
    platform: str
    why: str


def resembles(handle: str, official: str) -> str | None:
    """Why `handle` passes for `official` ('skeleton' or 'one-edit'), or None."""
    return _resembles(handle.casefold().translate(SEPARATORS), skeleton(handle), official)


def _resembles(plain: str, a: str, official: str) -> str | None:
    """`resembles` for a handle whose plain form and skeleton are worked out already."""
    if plain == official.casefold().translate(SEPARATORS):
        return None
    b = skeleton(official)
    if a == b:
        return "skeleton"
    if min(len(a), len(b)) >= MIN_FUZZY and Levenshtein.distance(a, b, score_cutoff=1) <= 1:
        return "one-edit"
    return None


def lookalikes(
    handle: str, officials: Iterable[tuple[str, str, str]], *, limit: int = 3
) -> list[Resemblance]:
    """The official handles `(handle, entity, platform)` that `handle` resembles, at most
    `limit`, skeleton matches first."""
    plain, mine = handle.casefold().translate(SEPARATORS), skeleton(handle)
    found = [
        Resemblance(other, entity, platform, why)
        for other, entity, platform in officials
        if (why := _resembles(plain, mine, other)) is not None
    ]
    found.sort(key=lambda r: (r.why != "skeleton", r.handle))
    return found[:limit]
