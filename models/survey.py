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

`Survey.nearest` is the same survey for a whole registry at once (a reassessment campaign surveys
every account against every other): comparing every pair is N² work, 10^10 pairs at 100,000
accounts. On a platform with more than `EXACT_UP_TO` accounts it compares each account with its
nearest neighbours only — the sorted-neighbourhood method of record linkage: the accounts sorted
by name, by name read backwards, and, once per language, by purpose, audience and name; each
account is compared with the `NEIGHBOURS` accounts on either side of it in each order. Those
are the accounts a duplicate would sit beside: the same or a near name, or the same purpose and
audience in a shared language. Each pair found is scored exactly as `compare` scores it (rapidfuzz
`cpdist`, pair by pair), and the first `limit` are kept, best first. Smaller platforms, and the
approval survey of a new request, are surveyed exactly.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from rapidfuzz import fuzz, process

from models.words import W

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


class Candidate(NamedTuple):
    """An account anywhere in the UN system: a registry account, a pending request, or an entry
    of the reference list of agencies, funds and programmes (a tuple: a survey reads 100,000)."""

    ref: str  # "account:12", "request:3", "survey:7"
    owner: str  # entity code or organization
    platform: str
    name: str  # handle and display name
    languages: frozenset[str]
    purpose: str
    audience: str
    url: str | None = None


class Match(NamedTuple):
    """An overlap found by the survey (a tuple: a registry's survey makes hundreds of
    thousands of them)."""

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


@functools.lru_cache(maxsize=4096)
def _shared(left: frozenset[str], right: frozenset[str]) -> str:
    """The languages two accounts share, in words ('' for none); a registry has few distinct
    sets of languages, so each pair of sets is worked out once."""
    return ", ".join(sorted(left & right))


def _match(
    proposed: Candidate, other: Candidate, name: float, purpose: Any, audience: Any
) -> Match | None:
    """The overlap of two accounts on one platform from their scores (`purpose` and `audience`
    are read only when they share a language: a number, or a function computing it)."""
    shared = _shared(proposed.languages, other.languages)
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
                _overlap_words(proposed.platform, shared, round(purpose), round(audience)),
            )
    if name >= NAME_CONFUSING:
        return Match(
            other.ref,
            other.owner,
            other.url,
            round(name, 1),
            _name_words(proposed.platform, round(name)),
        )
    return None


#: The pieces a match's reason is written in (`_overlap_words`, `_name_words`; joined by "; "),
#: which a door shows in its reader's words (`models.assessment.SAID`, `smgov.web_texts.said`).
SAID = (
    W("same platform ({platform}) and language ({languages})"),
    W("purpose {purpose}% and audience {audience}% similar"),
    W("confusingly similar name on {platform} ({name}%)"),
)
#: A candidate's ref (`account:12`, `request:3`, `survey:7`) as a door names it to people
REFS = {
    "account": W("account {number}"),
    "request": W("request {number}"),
    "survey": W("entry {number} of the UN system list"),
}


@functools.lru_cache(maxsize=65536)
def _overlap_words(platform: str, shared: str, purpose: int, audience: int) -> str:
    """Why two accounts overlap, in words (few distinct texts: each written once)."""
    return (
        f"same platform ({platform}) and language ({shared}); purpose {purpose}% and "
        f"audience {audience}% similar"
    )


@functools.lru_cache(maxsize=4096)
def _name_words(platform: str, name: int) -> str:
    """Why two names are confusing, in words."""
    return f"confusingly similar name on {platform} ({name}%)"


def survey(proposed: Candidate, others: list[Candidate]) -> list[Match]:
    """Every overlap, best first."""
    return Survey(others).matches([proposed])[0]


#: Cells of one score matrix computed at a time (float64: 16 MB each).
_CELLS = 2_000_000

#: `Survey.nearest`: a platform with at most this many accounts is surveyed exactly (every pair).
EXACT_UP_TO = 2_000
#: `Survey.nearest`: how many neighbours on either side, in each order, an account is compared with.
NEIGHBOURS = 5
#: Characters of each text that place an account in a sorted order (the scores use whole texts).
_KEY_CHARS = 48


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


def _distinct(values: Any) -> tuple[Any, Any]:
    """The distinct values, sorted, and where each value is among them (np.unique's answer with
    return_inverse, by one sort: numpy's hashing unique took a second for 640,000 integers)."""
    import numpy as np

    order = np.argsort(values, kind="stable")
    ranked = values[order]
    new = np.empty(len(ranked), dtype=bool)
    new[:1] = True
    np.not_equal(ranked[1:], ranked[:-1], out=new[1:])
    where = np.empty(len(values), dtype=np.int64)
    where[order] = np.cumsum(new) - 1
    return ranked[new], where


def _workers(pairs: int) -> int:
    """rapidfuzz's threads for `pairs` pairs: all cores for many; one for a few, where starting
    the threads would cost more than the scoring (about 0.4 ms a call)."""
    return -1 if pairs > 20_000 else 1


def _pair_similarities(left: list[str], right: list[str], rows: Any, columns: Any) -> Any:
    """`similarity` of left[rows[k]] and right[columns[k]] for each k, each distinct pair of
    texts scored once."""
    import numpy as np

    if not len(rows):
        return np.zeros(0)
    pairs, where = _distinct(rows * len(right) + columns)
    first = [left[i] for i in (pairs // len(right)).tolist()]
    second = [right[j] for j in (pairs % len(right)).tolist()]
    both: Any = np.zeros(len(pairs))
    for scorer in (fuzz.token_set_ratio, fuzz.token_sort_ratio):
        both += process.cpdist(
            first, second, scorer=scorer, dtype=np.float64, workers=_workers(len(first))
        )
    both /= 2
    both[[not (a and b) for a, b in zip(first, second, strict=True)]] = 0.0
    return both[where.reshape(-1)]


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
        self.masks = _masks(others, codes)
        self.orders: _Orders | None = None  # built when first walked (Survey.nearest)
        self.index = {o.ref: i for i, o in enumerate(others)}
        self.rank = np.empty(len(others), dtype=np.int64)  # each ref's place in sorted order
        self.rank[sorted(range(len(others)), key=lambda i: others[i].ref)] = np.arange(len(others))


def _masks(candidates: Sequence[Candidate], codes: dict[str, int]) -> Any:
    """Each candidate's languages as a bit mask, a bit per language code known to the survey
    (a code it does not know is shared with nobody in it)."""
    import numpy as np

    return np.fromiter(
        (sum(1 << codes[c] for c in x.languages if c in codes) for x in candidates),
        dtype=np.int64,
        count=len(candidates),
    )


def _sorted_words(text: str) -> str:
    """A text with its words in order (rapidfuzz's token-sort ratio is the plain ratio of two
    texts so sorted)."""
    return " ".join(sorted(text.split()))


def _order_keys(name: str, purpose: str, audience: str, languages: Iterable[str]) -> list[str]:
    """Where an account sits in each of `_Orders`' orders: by name, by name backwards, and once
    per language by purpose, audience and name."""
    cut = _KEY_CHARS
    per_language = f"{purpose[:cut]}\x1f{audience[:cut]}\x1f{name[:cut]}"
    return [name[:cut], name[::-1][:cut], *(f"{code}\x1f{per_language}" for code in languages)]


class _Orders:
    """A platform's accounts in the orders `Survey.nearest` walks: sorted keys, and which
    account each key is (an account has one key per order, one per language in the last)."""

    def __init__(self, block: _Block) -> None:
        import numpy as np

        purposes = list(block.purpose_texts)
        audiences = list(block.audience_texts)
        keyed: list[tuple[str, int]] = []
        for j, other in enumerate(block.others):
            for order, key in enumerate(
                _order_keys(
                    block.names[j],
                    purposes[block.purposes[j]],
                    audiences[block.audiences[j]],
                    sorted(other.languages),
                )
            ):
                keyed.append((f"{min(order, 2)}{key}", j))
        keyed.sort()
        self.keys = [key for key, _ in keyed]
        self.members = np.fromiter((j for _, j in keyed), dtype=np.int64, count=len(keyed))
        self.purposes, self.audiences = purposes, audiences
        # token_sort_ratio is the plain ratio of the names with their words sorted: sorted once
        self.names = np.array([_sorted_words(n) for n in block.names], dtype=object)

        # where each order begins and ends, and where each account's keys sit
        self.low = np.array([bisect_left(self.keys, str(o)) for o in range(3)], dtype=np.int64)
        self.high = np.array([bisect_left(self.keys, str(o + 1)) for o in range(3)])
        self.order_of = np.array([int(key[0]) for key in self.keys], dtype=np.int64)
        self.places = np.argsort(self.members, kind="stable")  # each account's places, grouped
        self.first = np.searchsorted(self.members[self.places], np.arange(len(block.others) + 1))

    def of_members(self, members: Any) -> tuple[Any, Any]:
        """The places of these accounts' keys (already in the orders), and whose each is."""
        import numpy as np

        counts = self.first[members + 1] - self.first[members]
        starts = np.repeat(self.first[members], counts)
        offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        return self.places[starts + offsets], np.repeat(np.arange(len(members)), counts)

    def place(self, key: str) -> int:
        """Where a key not in the orders would sort in its own (its first character)."""
        order = int(key[0])
        return bisect_left(self.keys, key, int(self.low[order]), int(self.high[order]))

    def near(self, at: Any, window: int) -> Any:
        """For each place, the accounts within `window` places of it in its own order (the
        orders are kept apart by their first character): a (len(at), 2 x window + 1) array of
        block indices."""
        import numpy as np

        order = self.order_of[np.clip(at, 0, len(self.keys) - 1)]
        low, high = self.low[order], np.maximum(self.high[order] - 1, self.low[order])
        places = np.clip(at[:, None] + np.arange(-window, window + 1), low[:, None], high[:, None])
        return self.members[places]


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

    def accounts_of(self, owners: set[str]) -> list[Candidate]:
        """The registry accounts (refs `account:N`) of these owners among the others, by
        platform."""
        return [
            c
            for group in self._groups.values()
            for c in group
            if c.owner in owners and c.ref.startswith("account:")
        ]

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

    def nearest(
        self,
        proposed: Sequence[Candidate],
        *,
        limit: int,
        skip_self: bool = False,
        window: int = NEIGHBOURS,
        exact_up_to: int = EXACT_UP_TO,
    ) -> list[list[Match]]:
        """Each proposal's first `limit` overlaps, best first, for a whole registry at once: on
        a platform of more than `EXACT_UP_TO` accounts, among its `window` nearest neighbours in
        each order (see the module's text); on a smaller one, exactly as `matches`."""
        found: list[list[Match]] = [[] for _ in proposed]
        by_platform: dict[str, list[int]] = defaultdict(list)
        for i, p in enumerate(proposed):
            by_platform[p.platform].append(i)
        for platform, rows in by_platform.items():
            block = self._block(platform)
            if block is None:
                continue
            chunk = [proposed[i] for i in rows]
            if len(block.others) <= exact_up_to:
                results = self.matches(chunk, limit=limit, skip_self=skip_self)
            else:
                results = self._nearest_matches(block, chunk, limit, skip_self, window)
            for i, matches in zip(rows, results, strict=True):
                found[i] = matches
        return found

    def _nearest_matches(
        self, block: _Block, proposed: list[Candidate], limit: int, skip_self: bool, window: int
    ) -> list[list[Match]]:
        import numpy as np

        plain = self._plain
        if block.orders is None:
            block.orders = _Orders(block)
        orders = block.orders
        names = [plain(p.name) for p in proposed]
        purposes = [plain(p.purpose) for p in proposed]
        audiences = [plain(p.audience) for p in proposed]
        # an account of the block has its keys in the orders already; another is placed there
        own = np.array([block.index.get(p.ref, -1) for p in proposed], dtype=np.int64)
        inside = np.array(
            [j >= 0 and block.others[j] == p for j, p in zip(own.tolist(), proposed, strict=True)],
            dtype=bool,
        )
        at, whose = orders.of_members(own[inside])
        whose = np.nonzero(inside)[0][whose]
        placed: list[int] = []
        owners: list[int] = []
        for i in np.nonzero(~inside)[0].tolist():
            p = proposed[i]
            for order, key in enumerate(
                _order_keys(names[i], purposes[i], audiences[i], sorted(p.languages))
            ):
                placed.append(orders.place(f"{min(order, 2)}{key}"))
                owners.append(i)
        at = np.concatenate([at, np.array(placed, dtype=np.int64)])
        whose = np.concatenate([whose, np.array(owners, dtype=np.int64)])
        near = orders.near(at, window)
        # the pairs (proposal, neighbour), each once, itself left out where asked
        left = np.repeat(whose, near.shape[1])
        right = near.reshape(-1)
        size = len(block.others)
        pairs = _distinct(left * size + right)[0]
        left, right = pairs // size, pairs % size
        if skip_self:
            keep = right != own[left]
            left, right = left[keep], right[keep]
        texts = np.array(
            [
                orders.names[j] if member else _sorted_words(n)
                for j, member, n in zip(own.tolist(), inside.tolist(), names, strict=True)
            ],
            dtype=object,
        )
        name = process.cpdist(
            texts[left].tolist(),
            orders.names[right].tolist(),
            scorer=fuzz.ratio,
            dtype=np.float64,
            workers=_workers(len(left)),
        )
        unnamed = np.array([not n for n in names], dtype=bool)
        name[unnamed[left] | block.unnamed[right]] = 0.0  # an empty name resembles nothing
        purpose = _pair_similarities(purposes, orders.purposes, left, block.purposes[right])
        audience = _pair_similarities(audiences, orders.audiences, left, block.audiences[right])
        shared = (_masks(proposed, self._codes)[left] & block.masks[right]) != 0
        similar = (purpose >= PURPOSE_SIMILAR) & (audience >= AUDIENCE_SIMILAR)
        raw = np.where(name >= NAME_CONFUSING, name, -1.0)
        overlap = shared & similar
        raw[overlap] = (0.5 * purpose + 0.3 * audience + 0.2 * name)[overlap]
        keep = np.nonzero(raw >= 0)[0]
        distinct, where = _distinct(raw[keep])
        rounded = np.array([round(float(v), 1) for v in distinct])[where.reshape(-1)]
        # best first, then by ref; the first `limit` of each proposal
        keep = keep[np.lexsort((block.rank[right[keep]], -rounded, left[keep]))]
        rows = left[keep]
        place = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left")
        found: list[list[Match]] = [[] for _ in proposed]
        chosen = keep[place < limit]
        others = block.others
        for i, j, by_name, by_purpose, by_audience in zip(
            left[chosen].tolist(),
            right[chosen].tolist(),
            name[chosen].tolist(),
            purpose[chosen].tolist(),
            audience[chosen].tolist(),
            strict=True,
        ):
            match = _match(proposed[i], others[j], by_name, by_purpose, by_audience)
            assert match is not None  # kept for a score that makes it one
            found[i].append(match)
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


#: account id -> its first three overlaps as the findings name them, "ref (owner): reason"
Overlaps = dict[int, tuple[str, ...]]


def named(matches: Sequence[Match]) -> tuple[str, ...]:
    """Overlaps as an assessment's findings name them (3.2(a))."""
    return tuple(f"{m.ref} ({m.owner}): {m.reason}" for m in matches)


def overlaps_of(survey: Survey, codes: Sequence[str]) -> Overlaps:
    """The survey's first three overlaps of every registry account of the entities `codes`, as
    the survey's index holds them (its accounts as they were when it was built): a campaign's,
    worked out before its transaction (`services.reassessment.surveyed`), so the write lock is
    not held while it runs."""
    mine = survey.accounts_of(set(codes))
    found = survey.nearest(mine, limit=3, skip_self=True)
    return {int(c.ref.split(":")[1]): named(m) for c, m in zip(mine, found, strict=True)}
