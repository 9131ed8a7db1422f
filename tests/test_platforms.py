"""Platforms, handles and account URLs: the same account is never entered twice (1.1(b), 3.4)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.platforms import (
    MAX_URL_LENGTH,
    PLATFORM_CODES,
    PLATFORMS,
    PlatformError,
    check_handle,
    normalise_url,
    parse_platform,
    platform_of_url,
)

# One account per row: (platform, canonical URL, variants that must all normalise to it).
# Between them the variants use another host alias, a www./m./mobile./web. prefix, upper case
# where the platform ignores case, trailing slashes, a query string, a fragment, no scheme, http.
SAME_ACCOUNT: list[tuple[str, str, list[str]]] = [
    (
        "x",
        "https://x.com/un",
        [
            "https://twitter.com/UN",
            "http://www.twitter.com/UN/",
            "mobile.twitter.com/UN",
            "x.com/un?lang=fr",
            "https://X.COM/UN#top",
            "https://m.x.com/Un",
            "//twitter.com/UN",
            "https://x.com:443/UN",
            "https://someone@x.com/UN",
            "https://twitter.com/UN/media",
            "https://x.com//UN//",
            "  https://x.com/UN  ",
        ],
    ),
    (
        "facebook",
        "https://facebook.com/unitednations",
        [
            "https://www.facebook.com/UnitedNations/",
            "fb.com/unitednations",
            "https://m.facebook.com/UnitedNations?ref=bookmarks",
            "http://fr-fr.facebook.com/UnitedNations#about",
            "web.facebook.com/UnitedNations",
            "https://fr.facebook.com/UnitedNations/about",
            "facebook.com/pg/UnitedNations/posts",
            "https://mbasic.facebook.com/unitednations",
        ],
    ),
    (
        "facebook",
        "https://facebook.com/profile.php?id=100064",
        [
            "https://www.facebook.com/profile.php?id=100064&ref=xyz",
            "m.facebook.com/profile.php?id=100064#timeline",
            "http://fb.com/profile.php/?id=100064",
            "https://facebook.com/people/Some-Name/100064/",
            "facebook.com/pages/Some-Name/100064",
        ],
    ),
    (
        "instagram",
        "https://instagram.com/unitednations",
        [
            "instagr.am/UnitedNations",
            "https://www.instagram.com/UnitedNations/?hl=en",
            "http://m.instagram.com/unitednations#grid",
            "https://instagram.com/UnitedNations/reels/",
        ],
    ),
    (
        "linkedin",
        "https://linkedin.com/company/united-nations",
        [
            "https://www.linkedin.com/company/United-Nations/",
            "fr.linkedin.com/company/united-nations/about/?viewAsMember=true",
            "http://m.linkedin.com/company/united-nations#jobs",
            "https://uk.linkedin.com/company/united-nations/posts/?feedView=all",
        ],
    ),
    (
        "linkedin",
        "https://linkedin.com/showcase/un-careers",
        [
            "https://www.linkedin.com/showcase/UN-Careers/",
            "linkedin.com/Showcase/un-careers?trk=x",
        ],
    ),
    (
        "youtube",
        "https://youtube.com/@unitednations",
        [
            "https://www.youtube.com/@UnitedNations",
            "m.youtube.com/@unitednations/videos",
            "http://youtube.com/@UnitedNations/?si=abc",
            "https://www.youtube.com/@UnitedNations/featured#top",
        ],
    ),
    (
        "youtube",
        "https://youtube.com/channel/UC5O114-PQNYkurlTg6hekZw",
        [
            "https://www.youtube.com/channel/UC5O114-PQNYkurlTg6hekZw/",
            "m.youtube.com/Channel/UC5O114-PQNYkurlTg6hekZw/videos?view=0",
            "http://youtube.com/channel/UC5O114-PQNYkurlTg6hekZw#about",
        ],
    ),
    (
        "youtube",
        "https://youtube.com/user/unitednations",
        [
            "https://www.youtube.com/user/UnitedNations",
            "youtube.com/USER/unitednations/?x=1",
        ],
    ),
    (
        "youtube",
        "https://youtube.com/c/unitednations",
        [
            "https://www.youtube.com/c/UnitedNations/playlists",
            "m.youtube.com/c/unitednations#x",
        ],
    ),
    (
        "tiktok",
        "https://tiktok.com/@un",
        [
            "https://www.tiktok.com/@UN?lang=en",
            "m.tiktok.com/@un/",
            "http://tiktok.com/@Un#top",
        ],
    ),
    (
        "threads",
        "https://threads.net/@unitednations",
        [
            "https://www.threads.com/@UnitedNations",
            "threads.net/@unitednations/?hl=fr",
            "http://threads.com/@UnitedNations#replies",
            "https://threads.net/@unitednations/replies",
        ],
    ),
    (
        "bluesky",
        "https://bsky.app/profile/un.org",
        [
            "https://bsky.app/profile/UN.org/",
            "bsky.app/profile/un.org?ref=x",
            "http://www.bsky.app/Profile/UN.ORG#top",
        ],
    ),
    (
        "bluesky",
        "https://bsky.app/profile/did:plc:abc123xyz",
        [
            "bsky.app/profile/did:plc:abc123xyz/",
            "https://bsky.app/profile/did%3Aplc%3Aabc123xyz",
        ],
    ),
    (
        "mastodon",
        "https://mastodon.social/@un",
        [
            "https://Mastodon.Social/@UN/",
            "mastodon.social/users/UN",
            "http://www.mastodon.social/@un?x=1#y",
            "https://fosstodon.org/@UN@mastodon.social",
            "https://mastodon.social/@UN/with_replies",
        ],
    ),
    (
        "whatsapp-channel",
        "https://whatsapp.com/channel/0029VaDh5H6LSmbdKjBA3b0H",
        [
            "https://www.whatsapp.com/channel/0029VaDh5H6LSmbdKjBA3b0H/",
            "whatsapp.com/Channel/0029VaDh5H6LSmbdKjBA3b0H?utm_source=x",
            "http://web.whatsapp.com/channel/0029VaDh5H6LSmbdKjBA3b0H#top",
        ],
    ),
    (
        "telegram",
        "https://t.me/unitednations",
        [
            "https://telegram.me/UnitedNations",
            "t.me/s/UnitedNations",
            "http://www.t.me/unitednations/?x=1",
            "telegram.dog/UnitedNations#top",
        ],
    ),
    (
        "weibo",
        "https://weibo.com/u/1234567890",
        [
            "https://m.weibo.cn/u/1234567890?uid=1",
            "weibo.com/1234567890/",
            "https://weibo.cn/profile/1234567890",
            "http://www.weibo.com/u/1234567890#top",
        ],
    ),
    (
        "weibo",
        "https://weibo.com/unitednations",
        [
            "weibo.com/UnitedNations",
            "https://www.weibo.com/unitednations/?is_all=1",
        ],
    ),
    (
        "wechat",
        "https://mp.weixin.qq.com/mp/profile_ext?action=home&__biz=MzA4NjQ0MjE2Mw==",
        [
            "mp.weixin.qq.com/mp/profile_ext?__biz=MzA4NjQ0MjE2Mw==&scene=124#wechat_redirect",
            "http://mp.weixin.qq.com/mp/profile_ext/?action=home&__biz=MzA4NjQ0MjE2Mw%3D%3D",
        ],
    ),
    (
        "wechat",
        "https://weixin.qq.com/r/AbCdEf",
        [
            "http://www.weixin.qq.com/r/AbCdEf/?x=1#y",
            "weixin.qq.com/r/AbCdEf",
        ],
    ),
    (
        "vk",
        "https://vk.com/un",
        [
            "https://vkontakte.ru/UN",
            "m.vk.com/un/",
            "http://vk.ru/Un?w=wall#top",
        ],
    ),
    (
        "flickr",
        "https://flickr.com/photos/unitednations",
        [
            "https://www.flickr.com/people/UnitedNations/",
            "flickr.com/photos/UnitedNations/albums",
            "http://m.flickr.com/photos/unitednations?x=1#y",
        ],
    ),
    (
        "flickr",
        "https://flickr.com/photos/12345678@N02",
        [
            "flickr.com/photos/12345678@n02/",
            "https://www.flickr.com/people/12345678@N02",
        ],
    ),
    (
        "medium",
        "https://medium.com/@un",
        [
            "https://un.medium.com",
            "https://UN.medium.com/",
            "medium.com/@UN?source=follow",
            "http://www.medium.com/@un#top",
        ],
    ),
    (
        "other",
        "https://example.org/UN/Page",
        [
            "example.org/UN/Page/",
            "http://www.Example.ORG/UN/Page?x=1#y",
            "https://m.example.org:8443/UN/Page",
            "https://example.org/UN/%50age",
        ],
    ),
]

SAME_ACCOUNT_CASES = [
    pytest.param(platform, canonical, variant, id=f"{platform}:{variant.strip()}")
    for platform, canonical, variants in SAME_ACCOUNT
    for variant in [canonical, *variants]
]
# Mastodon instances and 'other' sites have no known host to infer the platform from.
KNOWN_HOST_CASES = [
    case for case in SAME_ACCOUNT_CASES if case.values[0] not in ("mastodon", "other")
]

# (url, platform, part of the rule)
REFUSED: list[tuple[str, str | None, str]] = [
    ("ftp://x.com/UN", None, "scheme ftp"),
    ("javascript:alert(1)", None, "scheme javascript"),
    ("mailto:un@un.org", None, "scheme mailto"),
    ("https:x.com/UN", None, "two slashes"),
    ("", None, "empty"),
    ("   ", None, "empty"),
    ("https://x.com", None, "path"),
    ("https://x.com/", None, "path"),
    ("https://www.facebook.com/?ref=x", "facebook", "path"),
    ("https://twitter.com/UN", "facebook", "host twitter.com belongs to platform x, not facebook"),
    ("https://facebook.com/UN", "other", "belongs to platform facebook"),
    ("https://youtu.be/dQw4w9WgXcQ", None, "youtu.be links point to a video"),
    ("https://youtu.be/dQw4w9WgXcQ", "youtube", "youtu.be links point to a video"),
    ("https://www.youtube.com/watch?v=dQw4w9WgXcQ", "youtube", "not an account"),
    ("https://www.youtube.com/shorts/abc", None, "not an account"),
    ("https://x.com/U N", None, "spaces"),
    ("https://x.com/\tUN", None, "spaces"),
    ("https://x.com/UN\x00", None, "control"),
    ("https://x.com/UN%00", None, "control"),
    ("https://x.com/U\u200bN", None, "spaces or control"),
    ("https://example.org/UN", "facebook", "not a Facebook host"),
    ("https://example.org/UN", "youtube", "not a YouTube host"),
    ("https:///UN", None, "host"),
    ("localhost/UN", None, "domain name"),
    ("https://x.com:abc/UN", None, "port"),
    ("https://x.com/" + "a" * MAX_URL_LENGTH, None, str(MAX_URL_LENGTH)),
    ("https://x.com/UN/status/123", None, "x.com/<handle>"),
    ("https://x.com/abcdefghijklmnop", None, "x.com/<handle>"),
    ("https://x.com/search", None, "x.com/<handle>"),
    ("https://www.tiktok.com/@un/video/123", None, "tiktok.com/@<username>"),
    ("https://www.instagram.com/p/Cabc123/", None, "instagram.com/<username>"),
    ("https://www.linkedin.com/feed/", None, "linkedin.com/company"),
    ("https://www.youtube.com/channel/uc5o114-pqnykurltg6hekzw", None, "channel"),
    ("https://www.facebook.com/profile.php", None, "profile.php?id="),
    ("https://www.facebook.com/profile.php?id=abc", None, "profile.php?id="),
    ("https://www.facebook.com/watch/?v=1", None, "facebook.com/<name>"),
    ("https://flic.kr/p/abc", None, "flic.kr"),
    ("https://t.me/+AbCdEf", None, "invite"),
    ("https://t.me/joinchat/AbCdEf", None, "invite"),
    ("https://t.me/unitednations/123", None, "t.me/<username>"),
    ("https://mastodon.social/@un/1234567", "mastodon", "/@<username>"),
    ("https://mastodon.social/about", "mastodon", "/@<username>"),
    ("https://mastodon.social/@un@threads.net", "mastodon", "lives on platform threads"),
    ("https://www.whatsapp.com/channel/", None, "whatsapp.com/channel/<id>"),
    ("https://chat.whatsapp.com/AbCd", "whatsapp-channel", "not a WhatsApp channel host"),
    ("https://medium.com/@un/some-story-abc123", None, "medium.com/@<username>"),
    ("https://bsky.app/profile/un.org/post/abc", None, "bsky.app/profile/<handle>"),
    ("https://x.com/%FF", None, "UTF-8"),
    ("https://x.com/UN", "myspace", "must be one of"),
]


class TestNormaliseURL:
    @pytest.mark.clause("1.1(b)")
    @pytest.mark.clause("1.1(b)")
    @pytest.mark.parametrize(("platform", "canonical", "variant"), SAME_ACCOUNT_CASES)
    def test_variants_of_one_account_normalise_alike(
        self, platform: str, canonical: str, variant: str
    ) -> None:
        """Every spelling of one account's URL normalises to the same URL (1.1(b))."""
        assert normalise_url(variant, platform) == canonical

    @pytest.mark.clause("1.1(b)")
    @pytest.mark.parametrize(("platform", "canonical", "variant"), KNOWN_HOST_CASES)
    def test_platform_can_be_inferred_from_a_known_host(
        self, platform: str, canonical: str, variant: str
    ) -> None:
        """A URL on a known host normalises alike without naming its platform (1.1(b))."""
        assert platform_of_url(variant) == platform
        assert normalise_url(variant) == canonical

    @pytest.mark.clause("1.1(b)")
    def test_every_platform_has_same_account_cases(self) -> None:
        """The same-account table covers every platform of 3.4(b) (1.1(b))."""
        assert {platform for platform, _, _ in SAME_ACCOUNT} == set(PLATFORM_CODES)

    @pytest.mark.clause("3.4(a)")
    @pytest.mark.clause("3.4(a)")
    @pytest.mark.parametrize(("url", "platform", "rule"), REFUSED)
    def test_refused_urls(self, url: str, platform: str | None, rule: str) -> None:
        """A URL naming no account, or another platform's, is refused in one line (3.4(a))."""
        with pytest.raises(PlatformError) as raised:
            normalise_url(url, platform)
        expected_field = "platform" if platform == "myspace" else "url"
        assert raised.value.field == expected_field
        assert rule in raised.value.rule
        assert str(raised.value) == f"{expected_field}: {raised.value.rule}"
        assert "\n" not in str(raised.value)

    @pytest.mark.clause("1.1(b)")
    @pytest.mark.clause("1.1(b)")
    @pytest.mark.parametrize(
        ("first", "second"),
        [
            ("https://x.com/un", "https://x.com/unwomen"),
            (
                "https://youtube.com/channel/UC5O114-PQNYkurlTg6hekZw",
                "https://youtube.com/channel/UC5O114-PQNYkurlTg6hekZW",
            ),
            (
                "https://whatsapp.com/channel/0029VaDh5H6LSmbdKjBA3b0H",
                "https://whatsapp.com/channel/0029VaDh5H6LSmbdKjBA3b0h",
            ),
            ("https://weixin.qq.com/r/AbCdEf", "https://weixin.qq.com/r/abcdef"),
            ("https://weixin.qq.com/r/AbCdEf", "https://mp.weixin.qq.com/r/AbCdEf"),
            ("https://mastodon.social/@un", "https://mastodon.online/@un"),
            ("https://m.cmx.im/@un", "https://cmx.im/@un"),
        ],
    )
    def test_different_accounts_stay_different(self, first: str, second: str) -> None:
        """Case-sensitive ids, other users and other instances stay distinct (1.1(b))."""
        platform = platform_of_url(first) or "mastodon"
        assert normalise_url(first, platform) != normalise_url(second, platform)

    @pytest.mark.clause("1.1(b)")
    def test_other_keeps_path_case(self) -> None:
        """Paths on an unknown platform keep their case, as nothing says case is free (1.1(b))."""
        assert normalise_url("example.org/UN", "other") != normalise_url("example.org/un", "other")

    @pytest.mark.clause("3.4(b)")
    def test_mastodon_accepts_any_instance(self) -> None:
        """A Mastodon account may live on any host, its instance (3.4(b))."""
        assert (
            normalise_url("https://social.Example.ORG/@Someone", "mastodon")
            == "https://social.example.org/@someone"
        )
        assert platform_of_url("https://social.example.org/@someone") is None

    @pytest.mark.clause("1.1(b)")
    def test_result_is_https_on_the_canonical_host(self) -> None:
        """Host aliases fold to the canonical host, over https (1.1(b))."""
        for platform in PLATFORMS.values():
            for host in platform.hosts:
                assert platform_of_url(f"https://{host}/x") == platform.code
        assert normalise_url("http://twitter.com/UN").startswith("https://x.com/")

    @pytest.mark.clause("3.4(b)")
    @pytest.mark.parametrize(
        ("url", "platform"),
        [
            ("twitter.com/UN", "x"),
            ("https://youtu.be/abc", "youtube"),
            ("https://fr.linkedin.com/company/x", "linkedin"),
            ("un.medium.com", "medium"),
            ("https://m.weibo.cn/u/1", "weibo"),
            ("https://example.org/x", None),
            ("not a url", None),
            ("ftp://x.com/UN", None),
            ("", None),
        ],
    )
    def test_platform_of_url(self, url: str, platform: str | None) -> None:
        """A URL's host tells its platform; an unknown or unreadable one tells none (3.4(b))."""
        assert platform_of_url(url) == platform

    @pytest.mark.clause("1.1(b)")
    @given(data=st.data())
    def test_normalising_is_idempotent(self, data: st.DataObject) -> None:
        """normalise_url is idempotent over generated account URLs (1.1(b))."""
        platform, url = data.draw(_account_urls())
        once = normalise_url(url, platform)
        assert normalise_url(once, platform) == once
        if platform not in ("mastodon", "other"):
            assert normalise_url(once) == once

    @pytest.mark.clause("1.1(b)")
    @pytest.mark.clause("1.1(b)")
    @given(data=st.data())
    def test_case_and_decoration_do_not_make_a_new_account(self, data: st.DataObject) -> None:
        """Case, scheme, host prefix, slash, query or fragment make no new account (1.1(b))."""
        platform, url = data.draw(_account_urls())
        spec = PLATFORMS[platform]
        decorated = data.draw(_decorate(url, spec.case_insensitive, platform == "mastodon"))
        assert normalise_url(decorated, platform) == normalise_url(url, platform)


class TestParsePlatform:
    @pytest.mark.clause("3.4(b)")
    @pytest.mark.parametrize("code", PLATFORM_CODES)
    def test_every_code_parses_to_itself_in_any_case(self, code: str) -> None:
        """Each platform code is accepted as typed, in upper case and padded (3.4(b))."""
        assert parse_platform(code) == code
        assert parse_platform(code.upper()) == code
        assert parse_platform(f"  {code} ") == code

    @pytest.mark.clause("3.4(b)")
    @pytest.mark.parametrize(
        ("text", "code"),
        [
            ("X", "x"),
            ("twitter", "x"),
            ("Twitter", "x"),
            ("WhatsApp-Channel", "whatsapp-channel"),
            ("whatsapp channel", "whatsapp-channel"),
            ("whatsapp_channel", "whatsapp-channel"),
            ("LinkedIn", "linkedin"),
            ("YouTube", "youtube"),
            ("Bluesky", "bluesky"),
            ("VKontakte", "vk"),
        ],
    )
    def test_aliases_and_spellings(self, text: str, code: str) -> None:
        """Common names and spellings of a platform are accepted (3.4(b))."""
        assert parse_platform(text) == code

    @pytest.mark.clause("3.4(b)")
    @pytest.mark.clause("3.4(b)")
    @pytest.mark.parametrize("text", ["", "   ", "myspace", "face book book", "x-com"])
    def test_unknown_platform_is_refused(self, text: str) -> None:
        """An unknown platform is refused, listing the platforms allowed (3.4(b))."""
        with pytest.raises(PlatformError) as raised:
            parse_platform(text)
        assert raised.value.field == "platform"
        assert raised.value.rule == "must be one of " + ", ".join(PLATFORM_CODES)

    @pytest.mark.clause("3.4(b)")
    def test_codes_and_table_agree(self) -> None:
        """PLATFORMS holds exactly the codes of PLATFORM_CODES, in order (3.4(b))."""
        assert PLATFORM_CODES == (
            "x",
            "facebook",
            "instagram",
            "linkedin",
            "youtube",
            "tiktok",
            "threads",
            "bluesky",
            "mastodon",
            "whatsapp-channel",
            "telegram",
            "weibo",
            "wechat",
            "vk",
            "flickr",
            "medium",
            "other",
        )
        assert tuple(PLATFORMS) == PLATFORM_CODES
        assert all(PLATFORMS[code].code == code for code in PLATFORM_CODES)
        assert PLATFORMS["whatsapp-channel"].label == "WhatsApp channel"

    @pytest.mark.clause("3.4(b)")
    def test_error_is_a_value_error(self) -> None:
        """PlatformError is a ValueError with a one-line message (3.4(b))."""
        error = PlatformError("platform", "must be one of x")
        assert isinstance(error, ValueError)
        assert (error.field, error.rule, str(error)) == (
            "platform",
            "must be one of x",
            "platform: must be one of x",
        )


class TestCheckHandle:
    @pytest.mark.clause("3.4(a)")
    @pytest.mark.parametrize(
        ("platform", "handle", "clean"),
        [
            ("x", "@UN", "UN"),
            ("x", "  @UN  ", "UN"),
            ("x", "UN", "UN"),
            ("instagram", "@unitednations", "unitednations"),
            ("mastodon", "@un@mastodon.social", "un@mastodon.social"),
            ("other", " United ", "United"),
            ("twitter", "@UN", "UN"),
        ],
    )
    def test_cleaning(self, platform: str, handle: str, clean: str) -> None:
        """The account name loses surrounding spaces and a leading '@', keeping case (3.4(a))."""
        assert check_handle(platform, handle) == clean

    @pytest.mark.clause("3.4(a)")
    @pytest.mark.parametrize("code", PLATFORM_CODES)
    def test_platform_limit(self, code: str) -> None:
        """A name of the platform's maximum length is accepted, one more is refused (3.4(a))."""
        limit = PLATFORMS[code].handle_max
        assert check_handle(code, "a" * limit) == "a" * limit
        with pytest.raises(PlatformError) as raised:
            check_handle(code, "a" * (limit + 1))
        assert raised.value.field == "handle"
        assert str(limit) in raised.value.rule

    @pytest.mark.clause("3.4(a)")
    @pytest.mark.parametrize(
        ("code", "limit"),
        [
            ("x", 15),
            ("instagram", 30),
            ("tiktok", 24),
            ("telegram", 32),
            ("facebook", 50),
            ("youtube", 100),
            ("linkedin", 100),
            ("bluesky", 253),
            ("mastodon", 30),
            ("other", 200),
        ],
    )
    def test_documented_limits(self, code: str, limit: int) -> None:
        """Limits follow the platforms' own rules for account names (3.4(a))."""
        assert PLATFORMS[code].handle_max == limit

    @pytest.mark.clause("3.4(a)")
    def test_mastodon_limit_is_on_the_user_part(self) -> None:
        """A Mastodon name's limit applies to the user, not the instance (3.4(a))."""
        assert check_handle("mastodon", "@" + "u" * 30 + "@mastodon.social")
        with pytest.raises(PlatformError):
            check_handle("mastodon", "u" * 31 + "@mastodon.social")
        with pytest.raises(PlatformError):
            check_handle("mastodon", "un@")

    @pytest.mark.clause("3.4(a)")
    @pytest.mark.clause("3.4(a)")
    @pytest.mark.parametrize(
        "handle", ["", "   ", "@", " @ ", "U N", "UN\tHQ", "UN\x00", "U\u200bN", "UN\nHQ"]
    )
    def test_refused_handles(self, handle: str) -> None:
        """An empty name, or one with spaces or control characters inside, is refused (3.4(a))."""
        with pytest.raises(PlatformError) as raised:
            check_handle("x", handle)
        assert raised.value.field == "handle"

    @pytest.mark.clause("3.4(b)")
    def test_unknown_platform(self) -> None:
        """A handle on an unknown platform is refused on the platform (3.4(b))."""
        with pytest.raises(PlatformError) as raised:
            check_handle("myspace", "UN")
        assert raised.value.field == "platform"


# --------------------------------------------------------------------------------------------
# Hypothesis strategies: an account URL per platform, and decorations that must not matter.

_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _name(extra: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=_ALNUM + extra, min_size=min_size, max_size=max_size)


_TEMPLATES: dict[str, tuple[str, st.SearchStrategy[str]]] = {
    "x": ("x.com/{}", _name("_", 1, 15)),
    "facebook": ("facebook.com/{}", _name(".", 5, 50)),
    "instagram": ("instagram.com/{}", _name("._", 1, 30)),
    "linkedin": ("linkedin.com/company/{}", _name("-", 1, 100)),
    "youtube": ("youtube.com/@{}", _name("._-", 3, 30)),
    "tiktok": ("tiktok.com/@{}", _name("._", 1, 24)),
    "threads": ("threads.net/@{}", _name("._", 1, 30)),
    "bluesky": ("bsky.app/profile/{}.bsky.social", _name("-", 1, 60)),
    "mastodon": ("mastodon.social/@{}", _name("_", 1, 30)),
    "whatsapp-channel": ("whatsapp.com/channel/{}", _name("", 1, 40)),
    "telegram": ("t.me/{}", _name("_", 5, 32)),
    "weibo": ("weibo.com/{}", _name("_", 1, 30)),
    "wechat": ("weixin.qq.com/r/{}", _name("-_", 1, 40)),
    "vk": ("vk.com/{}", _name("_.", 1, 32)),
    "flickr": ("flickr.com/photos/{}", _name("_-", 1, 50)),
    "medium": ("medium.com/@{}", _name("._-", 1, 30)),
    "other": (
        "example.org/{}",
        st.text(
            alphabet=st.characters(
                codec="utf-8",
                exclude_categories=("Cc", "Cf", "Cs", "Zs", "Zl", "Zp"),
                exclude_characters="/?#%",
            ),
            min_size=1,
            max_size=40,
        ),
    ),
}

_RESERVED_NAMES = {
    "p",
    "s",
    "c",
    "i",
    "im",
    "me",
    "m",
    "u",
    "n",
    "tv",
    "tag",
    "feed",
    "home",
    "share",
    "about",
    "login",
    "search",
    "video",
    "photo",
    "audio",
    "tags",
    "plans",
    "policy",
    "topics",
    "proxy",
    "socks",
    "iv",
    "direct",
    "legal",
    "explore",
    "reels",
    "reel",
    "stories",
    "accounts",
    "settings",
    "messages",
    "compose",
    "logout",
    "signup",
    "tos",
    "privacy",
    "intent",
    "hashtag",
    "notifications",
    "developer",
    "creators",
    "membership",
    "signin",
    "addstickers",
    "addemoji",
    "joinchat",
    "jobs-at-medium",
    "new-story",
    "watch",
    "events",
    "event",
    "photos",
    "videos",
    "notes",
    "plugins",
    "dialog",
    "media",
    "pages",
    "people",
    "groups",
    "pg",
    "marketplace",
    "help",
    "sharer",
    "sharer.php",
    "photo.php",
    "story.php",
    "permalink.php",
    "login.php",
    "home.php",
    "video.php",
    "l.php",
    "profile.php",
}


@st.composite
def _account_urls(draw: st.DrawFn) -> tuple[str, str]:
    platform = draw(st.sampled_from(PLATFORM_CODES))
    template, names = _TEMPLATES[platform]
    name = draw(names.filter(lambda n: n.lower() not in _RESERVED_NAMES))
    if platform == "weibo" and name.isdigit():
        name = "w" + name[1:]
    if platform == "other" and name.strip(".") == "":
        name = "x" + name
    return platform, template.format(name)


@st.composite
def _decorate(draw: st.DrawFn, url: str, case_insensitive: bool, mastodon: bool) -> str:
    host, _, path = url.partition("/")
    if case_insensitive and draw(st.booleans()):
        path = path.swapcase() if draw(st.booleans()) else path.upper()
    # Only www. is dropped before a Mastodon instance: m.example.social may be another one.
    prefixes = ["", "www."] if mastodon else ["", "www.", "m.", "mobile.", "web."]
    host = draw(st.sampled_from(prefixes)) + host
    if draw(st.booleans()):
        host = host.upper()
    scheme = draw(st.sampled_from(["", "http://", "https://", "HTTPS://", "//"]))
    slash = draw(st.sampled_from(["", "/", "//"]))
    query = draw(st.sampled_from(["", "?utm_source=x", "?a=1&b=2", "?"]))
    fragment = draw(st.sampled_from(["", "#top", "#"]))
    return f"{scheme}{host}/{path}{slash}{query}{fragment}"
