"""Social media platforms, account handles and account URLs (3.4(a), 3.4(b), 1.1(b)).

The registry is one central database in which the same account is never entered twice (1.1(b)).
An account is identified by its platform and its URL, so this module decides when two URLs name
the same account: **two URLs that normalise alike are the same account.**

`normalise_url` returns ``https://<canonical host>/<path>``:

* the scheme may be left out, ``http`` becomes ``https``; userinfo, port, query string, fragment,
  empty path segments and trailing slashes go; the host is lowercased and loses a ``www.``,
  ``m.``, ``mobile.`` or ``web.`` prefix (and, for Facebook and LinkedIn, a language or country
  subdomain such as ``fr.`` or ``en-gb.``);
* a host alias is folded to the platform's canonical host (``twitter.com`` -> ``x.com``);
* the path must name an account in the platform's own URL shape (``x.com/<handle>``,
  ``tiktok.com/@<name>``, ``youtube.com/channel/<id>``...); case is folded where the platform's
  account names are case-insensitive and kept where they are not (YouTube channel ids, WhatsApp
  channel ids, WeChat links, and paths of platform ``other``);
* percent-encoding is made canonical (decoded, then re-encoded in one way), so ``%41`` and ``A``
  or ``é`` and ``%C3%A9`` compare alike.

Every function is pure and raises `PlatformError` (a `ValueError` naming the field and the rule)
for input it refuses, except `platform_of_url`, which only answers "whose host is this?".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote, unquote, urlsplit

from models.errors import R

__all__ = [
    "MAX_URL_LENGTH",
    "PLATFORMS",
    "PLATFORM_CODES",
    "Platform",
    "PlatformError",
    "check_handle",
    "normalise_url",
    "parse_platform",
    "platform_of_url",
]

MAX_URL_LENGTH = 2048
"""The longest URL accepted, before and after normalisation (the registry's column width)."""

MAX_STORED_HANDLE = 260
"""The longest handle the registry stores (the column width), whatever the platform allows."""


@dataclass(frozen=True)
class Platform:
    """A social media platform an institutional account can live on (3.4(b)).

    ``hosts`` are the hosts recognised as the platform's, canonical host first. `normalise_url`
    folds every other host to the first one, except the short-link hosts it refuses (``youtu.be``,
    ``flic.kr``) and WeChat's ``mp.weixin.qq.com``, which serves other pages than
    ``weixin.qq.com`` and is kept as typed. Mastodon (any instance) and ``other`` list no host.

    ``handle_max`` is the platform's own limit on the length of an account name, in characters.

    ``case_insensitive`` says whether the platform treats account names (and so the account part
    of its URLs) without regard to case; exceptions inside a platform are noted where the URL
    shapes are defined below.
    """

    code: str
    label: str
    hosts: tuple[str, ...]
    handle_max: int
    case_insensitive: bool


_PLATFORM_LIST: tuple[Platform, ...] = (
    # X: usernames are at most 15 characters of [A-Za-z0-9_], unique regardless of case.
    Platform("x", "X", ("x.com", "twitter.com"), 15, True),
    # Facebook: usernames of profiles and Pages are at most 50 characters, letters, digits and
    # periods, unique regardless of case. fb.me is left out: it is a general short-link host
    # (fb.me/e/..., fb.me/g/...) as much as an account alias.
    Platform("facebook", "Facebook", ("facebook.com", "fb.com"), 50, True),
    # Instagram: usernames are at most 30 characters, stored in lower case.
    Platform("instagram", "Instagram", ("instagram.com", "instagr.am"), 30, True),
    # LinkedIn: custom public URLs are 3-100 characters; page slugs are lower case.
    Platform("linkedin", "LinkedIn", ("linkedin.com",), 100, True),
    # YouTube: channel names are at most 100 characters (@handles 3-30). Handles, /c/ and /user/
    # names are case-insensitive; /channel/UC... ids are case-sensitive (see _youtube).
    # youtu.be is recognised only to be refused: it links to a video, never to a channel.
    Platform("youtube", "YouTube", ("youtube.com", "youtu.be"), 100, True),
    # TikTok: usernames are at most 24 characters, case-insensitive.
    Platform("tiktok", "TikTok", ("tiktok.com",), 24, True),
    # Threads: the username is the Instagram one (30 characters). threads.net was the first host;
    # threads.com serves the same profiles and is folded to it.
    Platform("threads", "Threads", ("threads.net", "threads.com"), 30, True),
    # Bluesky: a handle is a domain name (at most 253 characters), case-insensitive; DIDs are
    # lower case by construction.
    Platform("bluesky", "Bluesky", ("bsky.app",), 253, True),
    # Mastodon: usernames are at most 30 characters and unique regardless of case on an instance;
    # an account lives on any host (its instance), so no host is listed.
    Platform("mastodon", "Mastodon", (), 30, True),
    # WhatsApp channels are identified by a case-sensitive id (whatsapp.com/channel/<id>).
    # 100 bounds the channel's name or id generously.
    Platform("whatsapp-channel", "WhatsApp channel", ("whatsapp.com",), 100, False),
    # Telegram: usernames are 5-32 characters of [A-Za-z0-9_], case-insensitive.
    Platform("telegram", "Telegram", ("t.me", "telegram.me", "telegram.dog"), 32, True),
    # Weibo: nicknames are at most 30 characters; custom domains are lower-case ASCII.
    Platform("weibo", "Weibo", ("weibo.com", "weibo.cn"), 30, True),
    # WeChat: official account names are at most 30 characters. Its links (QR links
    # weixin.qq.com/r/<code>, profile links with a base64 __biz id) are case-sensitive.
    Platform("wechat", "WeChat", ("weixin.qq.com", "mp.weixin.qq.com"), 30, False),
    # VK: short addresses are at most 32 characters, case-insensitive. vk.ru and the old
    # vkontakte.ru serve the same pages as vk.com.
    Platform("vk", "VK", ("vk.com", "vkontakte.ru", "vk.ru"), 32, True),
    # Flickr: path aliases are case-insensitive; user ids (NSIDs, 12345678@N02) are written with
    # an upper-case N, which normalise_url restores. Flickr publishes no screen-name limit: 50 is a
    # generous bound. flic.kr short links encode ids case-sensitively and are refused.
    Platform("flickr", "Flickr", ("flickr.com", "flic.kr"), 50, True),
    # Medium: usernames are case-insensitive (name.medium.com is folded to medium.com/@name).
    # Medium publishes no username limit: 30 is the observed one.
    Platform("medium", "Medium", ("medium.com",), 30, True),
    # Any other platform: nothing is known about its names, so paths keep their case.
    Platform("other", "Other", (), 200, False),
)

PLATFORMS: dict[str, Platform] = {p.code: p for p in _PLATFORM_LIST}
PLATFORM_CODES: tuple[str, ...] = tuple(PLATFORMS)


class PlatformError(ValueError):
    """A refused platform, URL or handle: .field ("platform", "url" or "handle") and .rule.

    ``str()`` gives the one-line error ``<field>: <rule>``.
    """

    def __init__(self, field: str, rule: str, **params: Any) -> None:
        self.field = field
        self.template = rule  # the rule as the catalogs hold it (`models.errors.R`)
        self.params = params
        self.rule = rule.format(**params) if params else rule
        super().__init__(f"{field}: {self.rule}")


# --------------------------------------------------------------------------------------------
# Platforms


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.casefold())


# Other names people give the platforms, keyed like _key() does (letters and digits only).
_PLATFORM_ALIASES: dict[str, str] = {
    "twitter": "x",
    "xtwitter": "x",
    "twitterx": "x",
    "xformerlytwitter": "x",
    "whatsapp": "whatsapp-channel",  # only a WhatsApp channel is a public institutional account
    "whatsappchannels": "whatsapp-channel",
    "weixin": "wechat",
    "sinaweibo": "weibo",
    "vkontakte": "vk",
    "bsky": "bluesky",
}
_PLATFORM_KEYS: dict[str, str] = {_key(code): code for code in PLATFORM_CODES} | _PLATFORM_ALIASES


def parse_platform(text: str) -> str:
    """The platform code ``text`` names (3.4(b)), ignoring case, spaces, hyphens and underscores.

    "X", "twitter", "WhatsApp-Channel" and "whatsapp channel" are all accepted.
    """
    code = _PLATFORM_KEYS.get(_key(text)) if isinstance(text, str) else None
    if code is None:
        raise PlatformError(
            "platform", R("must be one of {choices}"), choices=", ".join(PLATFORM_CODES)
        )
    return code


def _bad_char(ch: str) -> bool:
    """Whitespace, control, format (zero-width...) and surrogate characters."""
    return ch.isspace() or unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Zs", "Zl", "Zp"}


# --------------------------------------------------------------------------------------------
# Handles


def check_handle(platform: str, handle: str) -> str:
    """The account name (3.4(a)) without surrounding spaces and leading '@', within the limits.

    Refuses an empty name, one longer than the platform's ``handle_max`` (for Mastodon, the user
    part of ``user@instance``), and any whitespace or control character inside. Case is kept as
    typed: the name is shown, the normalised URL is what identifies the account.
    """
    spec = PLATFORMS[parse_platform(platform)]
    clean = handle.strip().removeprefix("@").strip()
    if not clean:
        raise PlatformError("handle", R("must not be empty"))
    if any(_bad_char(ch) for ch in clean):
        raise PlatformError("handle", R("must not contain spaces or control characters"))
    name = clean
    if spec.code == "mastodon" and "@" in clean:
        name, instance = clean.split("@", 1)
        if not name or not instance:
            raise PlatformError("handle", "a Mastodon handle is user or user@instance")
    if len(name) > spec.handle_max:
        raise PlatformError(
            "handle",
            R("must be at most {limit} characters on {platform}"),
            limit=spec.handle_max,
            platform=spec.label,
        )
    if len(clean) > MAX_STORED_HANDLE:
        raise PlatformError(
            "handle", R("must be at most {limit} characters"), limit=MAX_STORED_HANDLE
        )
    return clean


# --------------------------------------------------------------------------------------------
# Hosts

_HOST_TO_PLATFORM: dict[str, str] = {h: p.code for p in _PLATFORM_LIST for h in p.hosts}
_REFUSED_HOSTS: dict[str, str] = {
    "youtu.be": "youtu.be links point to a video, not an account",
    "flic.kr": "flic.kr short links must be expanded to the flickr.com account URL",
}
_UNFOLDED_HOSTS = frozenset({"mp.weixin.qq.com"})
_HOST_PREFIXES = ("www.", "m.", "mobile.", "web.")
_FACEBOOK_SUBDOMAIN = re.compile(r"(?:[a-z]{2}(?:-[a-z]{2})?|touch|mbasic)\.(facebook\.com)")
_LINKEDIN_SUBDOMAIN = re.compile(r"[a-z]{2}\.(linkedin\.com)")
_MEDIUM_SUBDOMAIN = re.compile(r"([a-z0-9](?:[a-z0-9-]*[a-z0-9])?)\.medium\.com")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST = re.compile(rf"{_LABEL}(?:\.{_LABEL})+")


def _strip_prefixes(host: str, prefixes: tuple[str, ...]) -> str:
    stripped = True
    while stripped:
        stripped = False
        for prefix in prefixes:
            rest = host.removeprefix(prefix)
            if rest != host and "." in rest:
                host, stripped = rest, True
    return host


def _known_host(host: str) -> tuple[str | None, str, list[str]]:
    """(platform or None, host without prefixes, path segments the host stands for)."""
    bare = _strip_prefixes(host, _HOST_PREFIXES)
    for pattern in (_FACEBOOK_SUBDOMAIN, _LINKEDIN_SUBDOMAIN):
        match = pattern.fullmatch(bare)
        if match:
            bare = match.group(1)
    if bare in _HOST_TO_PLATFORM:
        return _HOST_TO_PLATFORM[bare], bare, []
    medium = _MEDIUM_SUBDOMAIN.fullmatch(bare)
    if medium:
        return "medium", bare, ["@" + medium.group(1)]
    return None, bare, []


def _fail(rule: str) -> NoReturn:
    raise PlatformError("url", rule)


def _clean_host(raw: str) -> str:
    host = raw.lower().rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            _fail(f"host {raw} is not a valid domain name")
    if not _HOST.fullmatch(host):
        _fail(f"host {raw} is not a valid domain name")
    return host


_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def _split(url: str) -> tuple[str, list[str], str]:
    """(lowercased host, decoded non-empty path segments, raw query) of a URL, or PlatformError."""
    if not isinstance(url, str):
        _fail("must be text")
    if len(url) > MAX_URL_LENGTH:
        _fail(f"must be at most {MAX_URL_LENGTH} characters")
    text = url.strip()
    if not text:
        _fail("must not be empty")
    if any(_bad_char(ch) for ch in text):
        _fail("must not contain spaces or control characters")
    scheme = _SCHEME.match(text)
    if text.startswith("//"):
        text = "https:" + text
    elif scheme and not text[scheme.end() :][:1].isdigit():  # "x.com:443/UN" is host and port
        name = scheme.group(1)
        if name.lower() not in ("http", "https"):
            _fail(f"scheme {name}: is not allowed, only http or https")
        if not text[scheme.end() :].startswith("//"):
            _fail(f"must start with {name}:// (two slashes)")
    else:
        text = "https://" + text
    try:
        parts = urlsplit(text)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        _fail("is not a valid URL (host or port)")
    if not parts.hostname:
        _fail("must have a host")
    host = _clean_host(parts.hostname)
    segments: list[str] = []
    for raw in parts.path.split("/"):
        if not raw:
            continue
        try:
            segment = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            _fail("has a percent-encoding that is not UTF-8")
        if any(unicodedata.category(ch) in {"Cc", "Cs"} for ch in segment):
            _fail("must not contain control characters")
        segments.append(segment)
    return host, segments, parts.query


def _query_values(query: str, name: str) -> list[str]:
    values = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if unquote(key) == name:
            values.append(unquote(value))
    return values


def platform_of_url(url: str) -> str | None:
    """The platform whose host ``url`` has, or None for an unknown host or an unreadable URL.

    Mastodon instances are not recognised by host (any host can be one): None.
    """
    try:
        host, _segments, _query = _split(url)
    except PlatformError:
        return None
    return _known_host(host)[0]


# --------------------------------------------------------------------------------------------
# Account paths, per platform. Each takes (canonical host, decoded segments, raw query) and
# returns (host, decoded segments, query to keep) or raises PlatformError.

_Normaliser = Callable[[str, list[str], str], tuple[str, list[str], str]]

_SHAPES: dict[str, str] = {
    "x": "x.com/<handle>",
    "facebook": "facebook.com/<name> or facebook.com/profile.php?id=<number>",
    "instagram": "instagram.com/<username>",
    "linkedin": "linkedin.com/company/<name> (or /showcase/, /school/, /in/)",
    "youtube": "youtube.com/@<handle>, /channel/<UC id>, /c/<name> or /user/<name>",
    "tiktok": "tiktok.com/@<username>",
    "threads": "threads.net/@<username>",
    "bluesky": "bsky.app/profile/<handle>",
    "mastodon": "<instance>/@<username>",
    "whatsapp-channel": "whatsapp.com/channel/<id>",
    "telegram": "t.me/<username>",
    "weibo": "weibo.com/u/<number> or weibo.com/<name>",
    "wechat": "mp.weixin.qq.com/... or weixin.qq.com/...",
    "vk": "vk.com/<name>",
    "flickr": "flickr.com/photos/<name>",
    "medium": "medium.com/@<username>",
}


def _shape(code: str) -> NoReturn:
    _fail(f"a {PLATFORMS[code].label} account URL looks like {_SHAPES[code]}")


def _named(
    code: str,
    segments: list[str],
    name: re.Pattern[str],
    *,
    tabs: frozenset[str] = frozenset(),
    reserved: frozenset[str] = frozenset(),
) -> str:
    """The one name segment, optionally followed by one of the account's own tabs."""
    if not segments or len(segments) > 2 or not name.fullmatch(segments[0]):
        _shape(code)
    if segments[0].lower() in reserved:
        _shape(code)
    if len(segments) == 2 and segments[1].lower() not in tabs:
        _shape(code)
    return segments[0].lower()


_X_NAME = re.compile(r"[A-Za-z0-9_]{1,15}")
_X_RESERVED = frozenset(
    {
        "i",
        "home",
        "search",
        "explore",
        "hashtag",
        "intent",
        "share",
        "settings",
        "messages",
        "notifications",
        "compose",
        "login",
        "logout",
        "signup",
        "tos",
        "privacy",
    }
)
_X_TABS = frozenset(
    {
        "with_replies",
        "media",
        "likes",
        "highlights",
        "articles",
        "followers",
        "following",
        "verified_followers",
    }
)


def _x(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    return host, [_named("x", segments, _X_NAME, tabs=_X_TABS, reserved=_X_RESERVED)], ""


_DIGITS = re.compile(r"[0-9]+")
_FACEBOOK_NAME = re.compile(r"[A-Za-z0-9._\-]{1,100}")
_FACEBOOK_RESERVED = frozenset(
    {
        "watch",
        "events",
        "event",
        "photo",
        "photo.php",
        "photos",
        "story.php",
        "permalink.php",
        "sharer",
        "sharer.php",
        "share",
        "hashtag",
        "login",
        "login.php",
        "help",
        "reel",
        "reels",
        "stories",
        "marketplace",
        "search",
        "home.php",
        "video.php",
        "videos",
        "notes",
        "plugins",
        "dialog",
        "l.php",
        "media",
        "messages",
        "settings",
        "profile.php",
        "pages",
        "people",
        "groups",
        "pg",
    }
)


def _facebook(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    first = segments[0].lower()
    if first == "profile.php":
        # The numeric id is the account here, and it lives in the query: keep ?id= only.
        ids = _query_values(query, "id")
        if len(segments) != 1 or len(ids) != 1 or not _DIGITS.fullmatch(ids[0]):
            _shape("facebook")
        return host, ["profile.php"], f"?id={ids[0]}"
    if first in ("people", "pages"):
        # /people/<Name>/<id> and /pages/<Name>/<id> are the account of that numeric id.
        if len(segments) < 3 or not _DIGITS.fullmatch(segments[2]):
            _shape("facebook")
        return host, ["profile.php"], f"?id={segments[2]}"
    if first == "groups" and len(segments) >= 2 and _FACEBOOK_NAME.fullmatch(segments[1]):
        return host, ["groups", segments[1].lower()], ""
    if first == "pg" and len(segments) >= 2:  # the old /pg/<page>/<tab> form of a Page
        segments = segments[1:]
        first = segments[0].lower()
    if first in _FACEBOOK_RESERVED or not _FACEBOOK_NAME.fullmatch(first):
        _shape("facebook")
    # Everything under facebook.com/<name>/ (about, posts, photos...) belongs to <name>.
    return host, [first], ""


_INSTAGRAM_NAME = re.compile(r"[A-Za-z0-9._]{1,30}")
_INSTAGRAM_RESERVED = frozenset(
    {
        "p",
        "reel",
        "reels",
        "stories",
        "explore",
        "accounts",
        "tv",
        "direct",
        "about",
        "legal",
        "developer",
    }
)
_INSTAGRAM_TABS = frozenset({"reels", "tagged", "guides"})


def _instagram(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    name = _named(
        "instagram", segments, _INSTAGRAM_NAME, tabs=_INSTAGRAM_TABS, reserved=_INSTAGRAM_RESERVED
    )
    return host, [name], ""


_LINKEDIN_KINDS = frozenset({"company", "showcase", "school", "in"})
_LINKEDIN_NAME = re.compile(r"[\w.\-&'~]{1,100}")


def _linkedin(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    if (
        len(segments) < 2
        or segments[0].lower() not in _LINKEDIN_KINDS
        or not _LINKEDIN_NAME.fullmatch(segments[1])
    ):
        _shape("linkedin")
    # LinkedIn posts live at /posts/ and /feed/, so every page under /company/<name>/ (about,
    # posts, jobs, people...) is a section of that page: it is dropped.
    return host, [segments[0].lower(), segments[1].lower()], ""


_YOUTUBE_HANDLE = re.compile(r"@[\w.\-·]{3,30}")
_YOUTUBE_CHANNEL_ID = re.compile(r"UC[A-Za-z0-9_\-]{22}")
_YOUTUBE_NAME = re.compile(r"[\w.\-]{1,100}")
_YOUTUBE_LEGACY_NAME = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_YOUTUBE_NOT_CHANNELS = frozenset(
    {
        "watch",
        "shorts",
        "embed",
        "v",
        "e",
        "live",
        "playlist",
        "results",
        "feed",
        "clip",
        "hashtag",
        "post",
        "redirect",
        "attribution_link",
        "premium",
        "account",
        "signin",
        "logout",
        "t",
        "about",
        "howyoutubeworks",
        "kids",
        "music",
    }
)


def _youtube(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    # Videos live at /watch, /shorts/ and /live/, so every page under a channel's path
    # (videos, featured, playlists...) is a section of that channel: it is dropped.
    first = segments[0]
    if first.startswith("@"):
        if not _YOUTUBE_HANDLE.fullmatch(first):
            _shape("youtube")
        return host, [first.lower()], ""
    kind = first.lower()
    if kind == "channel":
        # Channel ids are case-sensitive (UCx... and UCX... are different channels): keep case.
        if len(segments) < 2 or not _YOUTUBE_CHANNEL_ID.fullmatch(segments[1]):
            _shape("youtube")
        return host, ["channel", segments[1]], ""
    if kind in ("c", "user"):
        if len(segments) < 2 or not _YOUTUBE_NAME.fullmatch(segments[1]):
            _shape("youtube")
        return host, [kind, segments[1].lower()], ""
    if kind in _YOUTUBE_NOT_CHANNELS:
        _fail(
            f"youtube.com/{first} points to a video, a playlist or a YouTube page, not an account"
        )
    if not _YOUTUBE_LEGACY_NAME.fullmatch(first):
        _shape("youtube")
    return host, [kind], ""  # the legacy youtube.com/<custom name> form


_TIKTOK_NAME = re.compile(r"@[A-Za-z0-9._]{1,24}")


def _tiktok(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    return host, [_named("tiktok", segments, _TIKTOK_NAME)], ""


_THREADS_NAME = re.compile(r"@[A-Za-z0-9._]{1,30}")
_THREADS_TABS = frozenset({"replies", "reposts", "media"})


def _threads(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    return host, [_named("threads", segments, _THREADS_NAME, tabs=_THREADS_TABS)], ""


_BLUESKY_NAME = re.compile(r"[A-Za-z0-9._:\-]{1,253}")


def _bluesky(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    if (
        len(segments) != 2
        or segments[0].lower() != "profile"
        or not _BLUESKY_NAME.fullmatch(segments[1])
    ):
        _shape("bluesky")
    return host, ["profile", segments[1].lower()], ""


_FEDIVERSE_USER = re.compile(r"[A-Za-z0-9_]{1,30}")
_FEDIVERSE_TABS = frozenset({"with_replies", "media", "following", "followers"})


def _mastodon(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    first = segments[0]
    if first.lower() == "users" and len(segments) == 2:
        user = segments[1]  # the ActivityPub id /users/<name>, which redirects to /@<name>
    elif first.startswith("@") and len(segments) <= 2:
        user = first[1:]
        if len(segments) == 2 and segments[1].lower() not in _FEDIVERSE_TABS:
            _shape("mastodon")
        if "@" in user:
            # <instance>/@user@home is the home instance's account seen from elsewhere.
            user, home = user.split("@", 1)
            host = _strip_prefixes(_clean_host(home), ("www.",))
            owner = _known_host(host)[0]
            if owner is not None:
                _fail(f"account @{user}@{home} lives on platform {owner}, not mastodon")
    else:
        _shape("mastodon")
    if not _FEDIVERSE_USER.fullmatch(user):
        _shape("mastodon")
    return host, ["@" + user.lower()], ""


_WHATSAPP_ID = re.compile(r"[A-Za-z0-9]{1,100}")


def _whatsapp(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    if (
        len(segments) != 2
        or segments[0].lower() != "channel"
        or not _WHATSAPP_ID.fullmatch(segments[1])
    ):
        _shape("whatsapp-channel")
    return host, ["channel", segments[1]], ""  # channel ids are case-sensitive


_TELEGRAM_NAME = re.compile(r"[A-Za-z0-9_]{1,32}")
_TELEGRAM_RESERVED = frozenset(
    {
        "s",
        "c",
        "joinchat",
        "addstickers",
        "addemoji",
        "share",
        "proxy",
        "socks",
        "iv",
        "login",
    }
)


def _telegram(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    if segments[0].startswith("+") or segments[0].lower() == "joinchat":
        _fail("Telegram invite links are not public accounts: use t.me/<username>")
    if segments[0].lower() == "s" and len(segments) == 2:
        segments = segments[1:]  # t.me/s/<name> is the web preview of the channel <name>
    if len(segments) != 1:
        _shape("telegram")
    return host, [_named("telegram", segments, _TELEGRAM_NAME, reserved=_TELEGRAM_RESERVED)], ""


_WEIBO_NAME = re.compile(r"[A-Za-z0-9_]{1,30}")
_WEIBO_NICK = re.compile(r"[\w\-]{1,30}")


def _weibo(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    first = segments[0].lower()
    if len(segments) == 2 and first in ("u", "profile") and _DIGITS.fullmatch(segments[1]):
        return host, ["u", segments[1]], ""  # m.weibo.cn/profile/<id> is weibo.com/u/<id>
    if len(segments) == 2 and first == "n" and _WEIBO_NICK.fullmatch(segments[1]):
        return host, ["n", segments[1].lower()], ""
    if len(segments) == 1 and _DIGITS.fullmatch(first):
        return host, ["u", first], ""  # weibo.com/<id> is weibo.com/u/<id>
    if len(segments) == 1 and _WEIBO_NAME.fullmatch(first) and first not in ("u", "n"):
        return host, [first], ""
    _shape("weibo")


def _wechat(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    # WeChat links are case-sensitive: the path is kept as typed.
    if [s.lower() for s in segments] == ["mp", "profile_ext"]:
        biz = _query_values(query, "__biz")
        if len(biz) != 1 or not biz[0]:
            _fail("a WeChat profile link needs its __biz account id")
        # The account id lives in the query: keep it (and the action that shows the profile).
        return host, ["mp", "profile_ext"], "?action=home&__biz=" + quote(biz[0], safe="=")
    return host, segments, ""


_VK_NAME = re.compile(r"[A-Za-z0-9_.]{1,32}")
_VK_RESERVED = frozenset({"feed", "im", "search", "video", "photo", "audio", "login", "settings"})


def _vk(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    return host, [_named("vk", segments, _VK_NAME, reserved=_VK_RESERVED)], ""


_FLICKR_NAME = re.compile(r"[A-Za-z0-9_@.\-]{1,50}")
_FLICKR_NSID = re.compile(r"([0-9]+)@n([0-9]+)")
_FLICKR_TABS = frozenset({"albums", "sets", "favorites", "galleries", "collections"})


def _flickr(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    if len(segments) < 2 or segments[0].lower() not in ("photos", "people"):
        _shape("flickr")
    # /people/<name> (profile) and /photos/<name> (photostream) show the same account.
    name = _named("flickr", segments[1:], _FLICKR_NAME, tabs=_FLICKR_TABS)
    nsid = _FLICKR_NSID.fullmatch(name)
    if nsid:
        name = f"{nsid.group(1)}@N{nsid.group(2)}"  # Flickr writes NSIDs with an upper-case N
    return host, ["photos", name], ""


_MEDIUM_USER = re.compile(r"@[A-Za-z0-9._\-]{1,30}")
_MEDIUM_PUBLICATION = re.compile(r"[A-Za-z0-9._\-]{1,100}")
_MEDIUM_RESERVED = frozenset(
    {
        "p",
        "m",
        "tag",
        "tags",
        "search",
        "me",
        "plans",
        "membership",
        "about",
        "creators",
        "topics",
        "policy",
        "new-story",
        "signin",
        "jobs-at-medium",
    }
)


def _medium(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    pattern = _MEDIUM_USER if segments[0].startswith("@") else _MEDIUM_PUBLICATION
    if len(segments) != 1:
        _shape("medium")  # medium.com/@name/<slug> is a story, not the account
    name = _named("medium", segments, pattern, reserved=_MEDIUM_RESERVED)
    return host, [name], ""


def _generic(host: str, segments: list[str], query: str) -> tuple[str, list[str], str]:
    return host, segments, ""


_NORMALISERS: dict[str, _Normaliser] = {
    "x": _x,
    "facebook": _facebook,
    "instagram": _instagram,
    "linkedin": _linkedin,
    "youtube": _youtube,
    "tiktok": _tiktok,
    "threads": _threads,
    "bluesky": _bluesky,
    "mastodon": _mastodon,
    "whatsapp-channel": _whatsapp,
    "telegram": _telegram,
    "weibo": _weibo,
    "wechat": _wechat,
    "vk": _vk,
    "flickr": _flickr,
    "medium": _medium,
    "other": _generic,
}

# RFC 3986 pchar, less the unreserved characters quote() always keeps.
_PATH_SAFE = "!$&'()*+,;=:@"


def normalise_url(url: str, platform: str | None = None) -> str:
    """The canonical form of an account URL: two URLs that normalise alike are the same account.

    With ``platform``, the URL must be that platform's: a host of another known platform is
    refused, and so is an unknown host unless the platform is ``mastodon`` (any instance) or
    ``other``. Without it, the platform is the host's, and an unknown host is treated as
    ``other`` (so a Mastodon URL should be normalised with ``platform="mastodon"``).
    """
    code = parse_platform(platform) if platform is not None else None
    host, segments, query = _split(url)
    owner, bare, implied = _known_host(host)
    if owner is not None:
        if code is not None and code != owner:
            _fail(f"host {bare} belongs to platform {owner}, not {code}")
        if bare in _REFUSED_HOSTS:
            _fail(_REFUSED_HOSTS[bare])
        effective = owner
        canonical = bare if bare in _UNFOLDED_HOSTS else PLATFORMS[owner].hosts[0]
        segments = implied + segments
    elif code is None or code == "other":
        effective, canonical = "other", bare
    elif code == "mastodon":
        # Instances are any host: only www. is dropped (m.example.social may be its own instance).
        effective, canonical = "mastodon", _strip_prefixes(host, ("www.",))
    else:
        spec = PLATFORMS[code]
        expected = [h for h in spec.hosts if h not in _REFUSED_HOSTS]
        _fail(f"host {bare} is not a {spec.label} host (expected {' or '.join(expected)})")
    if not segments:
        _fail("must name the account in its path, not only a host")
    canonical, segments, keep = _NORMALISERS[effective](canonical, segments, query)
    path = "/".join(quote(segment, safe=_PATH_SAFE) for segment in segments)
    result = f"https://{canonical}/{path}{keep}"
    if len(result) > MAX_URL_LENGTH:
        _fail(f"must be at most {MAX_URL_LENGTH} characters")
    return result
