"""The duplication survey of 3.2(a), in the pure core: does a proposed account overlap an existing
or pending one anywhere in the United Nations system?

An account overlaps when it serves the same platform and audience in at least one same language
with a similar purpose, or when it bears a confusingly similar name on the same platform. Matching
is on name, purpose and audience (rapidfuzz token-set similarity on normalised text), never on the
handle alone; each match carries its score and the reason in words.

`Survey` runs it in bulk: the others indexed once per platform, every text normalised once, the
scores of a block of proposals against a platform's accounts computed as matrices by rapidfuzz's
bulk scorer (`process.cdist`), purposes and audiences scored once per distinct text. Its matches
are exactly those of `compare`, best first.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from rapidfuzz import fuzz, process

# numpy (~0.1 s to import) is imported by the functions that compute a survey's matrices, so a
# command that surveys nothing (a decision, a campaign over no accounts) never loads it (issue 20)

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


_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")
_WORD = re.compile(r"[a-z0-9]+")


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
    plain = text  # ASCII is its own NFKD form
    if not text.isascii():
        plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    plain = _ACRONYM.sub(r"\1 \2", plain)  # UNHuman -> UN Human
    plain = _CAMEL.sub(r"\1 \2", plain)  # HumanRights -> Human Rights
    words = _WORD.findall(plain.lower())
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
    return _match(
        proposed,
        other,
        name_similarity(proposed.name, other.name),
        lambda: similarity(proposed.purpose, other.purpose),
        lambda: similarity(proposed.audience, other.audience),
    )


def _match(
    proposed: Candidate, other: Candidate, name: float, purpose: Any, audience: Any
) -> Match | None:
    """The overlap of two accounts on one platform from their scores (`purpose` and `audience`
    are read only when they share a language: a number, or a function computing it)."""
    shared = sorted(proposed.languages & other.languages)
    if shared:
        purpose = purpose() if callable(purpose) else purpose
        audience = audience() if callable(audience) else audience
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
    return Survey(others).matches([proposed])[0]


#: Cells of one score matrix computed at a time (float64: 16 MB each).
_CELLS = 2_000_000


class _Texts:
    """Normalised texts, each distinct raw text normalised once."""

    def __init__(self) -> None:
        self.plain: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        found = self.plain.get(text)
        if found is None:
            found = self.plain[text] = normalise(text)
        return found


def _ids(texts: Iterable[str], numbering: dict[str, int]) -> Any:
    """Each text's number among the distinct texts (numbered in order of first sight)."""
    import numpy as np

    return np.fromiter((numbering.setdefault(t, len(numbering)) for t in texts), dtype=np.int64)


def _similarities(left: list[str], right: list[str]) -> Any:
    """`similarity` of every pair of normalised texts, as a matrix."""
    import numpy as np

    both = process.cdist(left, right, scorer=fuzz.token_set_ratio, dtype=np.float64, workers=-1)
    both += process.cdist(left, right, scorer=fuzz.token_sort_ratio, dtype=np.float64, workers=-1)
    both /= 2
    both[[not t for t in left], :] = 0.0
    both[:, [not t for t in right]] = 0.0
    return both


class _Block:
    """One platform's accounts, their texts normalised once."""

    def __init__(self, others: list[Candidate], plain: _Texts, codes: dict[str, int]) -> None:
        import numpy as np

        self.others = others
        self.names = [plain(o.name) for o in others]
        self.unnamed = np.array([not n for n in self.names], dtype=bool)
        self.purpose_texts: dict[str, int] = {}
        self.purposes = _ids((plain(o.purpose) for o in others), self.purpose_texts)
        self.audience_texts: dict[str, int] = {}
        self.audiences = _ids((plain(o.audience) for o in others), self.audience_texts)
        pairs: dict[tuple[int, int], int] = {}  # (purpose, audience) pairs, each once
        self.column_pairs = np.fromiter(
            (
                pairs.setdefault(pair, len(pairs))
                for pair in zip(self.purposes.tolist(), self.audiences.tolist(), strict=True)
            ),
            dtype=np.int64,
        )
        self.pairs = np.array(list(pairs), dtype=np.int64).reshape(-1, 2)
        self.languages = _language_rows(others, codes)
        self.index = {o.ref: i for i, o in enumerate(others)}
        self.rank = np.empty(len(others), dtype=np.int64)  # each ref's place in sorted order
        self.rank[sorted(range(len(others)), key=lambda i: others[i].ref)] = np.arange(len(others))


def _language_rows(candidates: Sequence[Candidate], codes: dict[str, int]) -> Any:
    """A 0/1 row per candidate, a column per language code known to the survey."""
    import numpy as np

    rows = np.zeros((len(candidates), max(len(codes), 1)), dtype=np.float32)
    for i, c in enumerate(candidates):
        for code in c.languages:
            if code in codes:
                rows[i, codes[code]] = 1.0
    return rows


class Survey:
    """The duplication survey against a fixed set of other accounts, in bulk."""

    def __init__(self, others: Iterable[Candidate]) -> None:
        self._plain = _Texts()
        by_platform: dict[str, list[Candidate]] = defaultdict(list)
        for other in others:
            by_platform[other.platform].append(other)
        self._codes: dict[str, int] = {}
        for group in by_platform.values():
            for other in group:
                for code in other.languages:
                    self._codes.setdefault(code, len(self._codes))
        self._groups = dict(by_platform)
        self._blocks: dict[str, _Block] = {}  # a platform's, indexed when first surveyed

    def _block(self, platform: str) -> _Block | None:
        if platform not in self._blocks and platform in self._groups:
            self._blocks[platform] = _Block(self._groups[platform], self._plain, self._codes)
        return self._blocks.get(platform)

    def matches(
        self, proposed: Sequence[Candidate], *, limit: int | None = None, skip_self: bool = False
    ) -> list[list[Match]]:
        """Each proposal's overlaps, best first (the first `limit` of them); `skip_self` leaves
        out another whose ref is the proposal's own (an account surveyed against the registry)."""
        found: list[list[Match]] = [[] for _ in proposed]
        by_platform: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(proposed):
            by_platform[p.platform].append(i)
        for platform, rows in by_platform.items():
            block = self._block(platform)
            if block is None:
                continue
            step = max(1, _CELLS // len(block.others))
            for start in range(0, len(rows), step):
                chunk = [proposed[i] for i in rows[start : start + step]]
                for i, matches in zip(
                    rows[start : start + step],
                    self._block_matches(block, chunk, limit, skip_self),
                    strict=True,
                ):
                    found[i] = matches
        return found

    def _block_matches(
        self, block: _Block, proposed: list[Candidate], limit: int | None, skip_self: bool
    ) -> list[list[Match]]:
        import numpy as np

        plain = self._plain
        names = [plain(p.name) for p in proposed]
        name = process.cdist(
            names, block.names, scorer=fuzz.token_sort_ratio, dtype=np.float64, workers=-1
        )
        name[[not n for n in names], :] = 0.0  # an empty name resembles nothing
        if block.unnamed.any():
            name[:, block.unnamed] = 0.0
        # purpose and audience scored once per pair of distinct texts: `base` is 0.5 x purpose
        # + 0.3 x audience where both are similar enough, else -inf, each cell taking its
        # (purpose, audience) pair's; the score adds 0.2 x name where a language is shared
        purpose_texts: dict[str, int] = {}
        purposes = _ids((plain(p.purpose) for p in proposed), purpose_texts)
        audience_texts: dict[str, int] = {}
        audiences = _ids((plain(p.audience) for p in proposed), audience_texts)
        purpose = _similarities(list(purpose_texts), list(block.purpose_texts))
        audience = _similarities(list(audience_texts), list(block.audience_texts))
        rows_pair: dict[tuple[int, int], int] = {}
        row_pairs = np.fromiter(
            (
                rows_pair.setdefault(pair, len(rows_pair))
                for pair in zip(purposes.tolist(), audiences.tolist(), strict=True)
            ),
            dtype=np.int64,
        )
        left = np.array(list(rows_pair), dtype=np.int64).reshape(-1, 2)
        right = block.pairs
        p_small = purpose[np.ix_(left[:, 0], right[:, 0])]
        a_small = audience[np.ix_(left[:, 1], right[:, 1])]
        base = np.where(
            (p_small >= PURPOSE_SIMILAR) & (a_small >= AUDIENCE_SIMILAR),
            0.5 * p_small + 0.3 * a_small,
            -np.inf,
        )[np.ix_(row_pairs, block.column_pairs)]
        shared = (_language_rows(proposed, self._codes) @ block.languages.T) > 0
        shared &= base > -np.inf
        raw = np.where(name >= NAME_CONFUSING, name, -1.0)
        np.add(base, 0.2 * name, out=base)
        np.copyto(raw, base, where=shared)
        if skip_self:
            for i, p in enumerate(proposed):
                j = block.index.get(p.ref)
                if j is not None:
                    raw[i, j] = -1.0
        keep = raw >= 0
        if limit is not None and raw.shape[1] > limit:
            # only what may rank among the first `limit` once rounded to 0.1
            kth = -np.partition(-raw, limit - 1, axis=1)[:, limit - 1]
            keep &= raw >= (kth - 0.1 - 1e-9)[:, None]
        rows, cols = np.nonzero(keep)
        values = raw[rows, cols]
        distinct, where = np.unique(values, return_inverse=True)
        rounded = np.array([round(float(v), 1) for v in distinct])[where.reshape(-1)]
        order = np.lexsort((block.rank[cols], -rounded, rows))  # best first, then by ref
        rows, cols = rows[order], cols[order]
        if limit is not None:
            place = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
            rows, cols = rows[place < limit], cols[place < limit]
        found: list[list[Match]] = [[] for _ in proposed]
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            other = block.others[j]
            match = _match(
                proposed[i],
                other,
                float(name[i, j]),
                float(purpose[purposes[i], block.purposes[j]]),
                float(audience[audiences[i], block.audiences[j]]),
            )
            assert match is not None  # kept for a score that makes it one
            found[i].append(match)
        return found
