"""Languages: content languages are ISO 639-1 (3.4(c)); people read an official one (2.3)."""

from __future__ import annotations

import os

from models.errors import R, Refused

#: The six official languages of the Organization (2.3; GA resolution 69/324, para. 36).
OFFICIAL_LANGUAGES: tuple[str, ...] = ("ar", "zh", "en", "fr", "ru", "es")

#: ISO 639-1, all 183 two-letter codes.
ISO_639_1: frozenset[str] = frozenset(
    [
        "aa",
        "ab",
        "ae",
        "af",
        "ak",
        "am",
        "an",
        "ar",
        "as",
        "av",
        "ay",
        "az",
        "ba",
        "be",
        "bg",
        "bi",
        "bm",
        "bn",
        "bo",
        "br",
        "bs",
        "ca",
        "ce",
        "ch",
        "co",
        "cr",
        "cs",
        "cu",
        "cv",
        "cy",
        "da",
        "de",
        "dv",
        "dz",
        "ee",
        "el",
        "en",
        "eo",
        "es",
        "et",
        "eu",
        "fa",
        "ff",
        "fi",
        "fj",
        "fo",
        "fr",
        "fy",
        "ga",
        "gd",
        "gl",
        "gn",
        "gu",
        "gv",
        "ha",
        "he",
        "hi",
        "ho",
        "hr",
        "ht",
        "hu",
        "hy",
        "hz",
        "ia",
        "id",
        "ie",
        "ig",
        "ii",
        "ik",
        "io",
        "is",
        "it",
        "iu",
        "ja",
        "jv",
        "ka",
        "kg",
        "ki",
        "kj",
        "kk",
        "kl",
        "km",
        "kn",
        "ko",
        "kr",
        "ks",
        "ku",
        "kv",
        "kw",
        "ky",
        "la",
        "lb",
        "lg",
        "li",
        "ln",
        "lo",
        "lt",
        "lu",
        "lv",
        "mg",
        "mh",
        "mi",
        "mk",
        "ml",
        "mn",
        "mr",
        "ms",
        "mt",
        "my",
        "na",
        "nb",
        "nd",
        "ne",
        "ng",
        "nl",
        "nn",
        "no",
        "nr",
        "nv",
        "ny",
        "oc",
        "oj",
        "om",
        "or",
        "os",
        "pa",
        "pi",
        "pl",
        "ps",
        "pt",
        "qu",
        "rm",
        "rn",
        "ro",
        "ru",
        "rw",
        "sa",
        "sc",
        "sd",
        "se",
        "sg",
        "si",
        "sk",
        "sl",
        "sm",
        "sn",
        "so",
        "sq",
        "sr",
        "ss",
        "st",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "ti",
        "tk",
        "tl",
        "tn",
        "to",
        "tr",
        "ts",
        "tt",
        "tw",
        "ty",
        "ug",
        "uk",
        "ur",
        "uz",
        "ve",
        "vi",
        "vo",
        "wa",
        "wo",
        "xh",
        "yi",
        "yo",
        "za",
        "zh",
        "zu",
    ]
)


def check_content_languages(values: list[str]) -> list[str]:
    """3.4(c): one or more ISO 639-1 codes; returned lower-cased, de-duplicated, sorted."""
    codes: set[str] = set()
    for raw in values:
        for part in raw.replace(",", ";").split(";"):
            code = part.strip().lower()
            if not code:
                continue
            if code not in ISO_639_1:
                raise Refused(
                    "language", R("'{code}' is not an ISO 639-1 code"), "3.4(c)", code=part.strip()
                )
            codes.add(code)
    if not codes:
        raise Refused("language", R("at least one content language is required"), "3.4(c)")
    return sorted(codes)


def check_preferred_language(value: str) -> str:
    """A staff member reads messages in one of the six official languages."""
    code = value.strip().lower()
    if code not in OFFICIAL_LANGUAGES:
        raise Refused(
            "language", "must be one of ar, zh, en, fr, ru, es (official languages)", "2.3"
        )
    return code


def join_languages(codes: list[str]) -> str:
    """Stored form of a language list: ';'-separated, sorted (searchable with LIKE)."""
    return ";".join(sorted(codes))


def split_languages(stored: str) -> list[str]:
    """Inverse of `join_languages`."""
    return [c for c in stored.split(";") if c]


def official_language(tag: str | None) -> str:
    """The official language a BCP 47 tag from a directory names (`fr-CH` -> `fr`, `zh-Hans-CN`
    -> `zh`, `es-419` -> `es`); any other language, or none, reads English."""
    primary = (tag or "").strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in OFFICIAL_LANGUAGES else "en"


def environment_language() -> str:
    """The official language of the environment's locale, as POSIX picks it (`LC_ALL`, then
    `LC_MESSAGES`, then `LANG`: `fr_FR.UTF-8` -> `fr`); English when it names none (`C`, `POSIX`,
    unset, or another language)."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").strip()
        if value:
            return official_language(value.split(".", 1)[0].split("@", 1)[0])
    return "en"
