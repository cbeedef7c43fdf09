"""Every surface escapes outside text for itself, tried with hostile text of every kind (hypothesis): the reply and
its final check, the Discord card, the Markdown and HTML reports, the terminal."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import discord
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.text import Text

from bot import escape
from bot import report as weekly
from bot.cli import cli
from bot.config import BrandSettings, parse_config
from bot.models import Author, Case, Mention, ReplyRules, Triage
from bot.store import Store
from responders import compose, guard
from responders.discord import card_context, card_embed, link, quote

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
BRAND = BrandSettings(name="Acme", contact_email="care@acme.example", contact_url="https://acme.example/help")
CONFIG = {"brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"}}
NASTY = [
    "@everyone",
    "@here",
    "<@&123456789012345678>",
    "<@123456789012345678>",
    "<#123456789012345678>",
    "<t:1700000000:R>",
    "[acme support](https://evil.example)",
    "![x](https://evil.example/x.png)",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "&lt;script&gt;",
    "\x1b[31m",
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "\x9b2J",
    "\u202e",
    "\u2066",
    "\u200b",
    "\ufeff",
    "\x00",
    "\x07",
    "\r\n",
    "\u2028",
    "\ud800",
    "\udfff",
    "{name}",
    "{0}",
    "%s",
    "%(name)s",
    "[red]",
    "[/]",
    "[link=https://evil.example]x[/link]",
    "https://evil.example/acme-refund-form",
    "www.evil.example",
    "evil.example/refund",
    "@victim@other.example",
    "u/victim",
    "refunds@evil.example",
    "```",
    "||spoiler||",
    "# heading",
    "-# small",
    "> quote",
    "**bold**",
    "| cell |",
    "\\",
    "👨‍👩‍👧",
    "Ana",
]
pieces = st.one_of(
    st.sampled_from(NASTY),
    st.text(st.characters(exclude_categories=()), max_size=12),
)
hostile = st.lists(pieces, max_size=8).map("".join)
# Huge sizes too: a long post, a name of thousands of characters.
hostile_big = st.one_of(hostile, st.tuples(hostile, st.sampled_from([200, 5000])).map(lambda t: t[0] * t[1]))
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def storable(text: str) -> str:
    # Lone surrogates are replaced at the Mention boundary (another part of this work); SQLite cannot store them.
    return text.encode("utf-8", "replace").decode("utf-8") if text else text


def unescaped(text: str, char: str) -> list[int]:
    """Where ``char`` occurs in ``text`` without a backslash escaping it (an odd run of backslashes before it)."""
    out = []
    for m in re.finditer(re.escape(char), text):
        run = len(text[: m.start()]) - len(text[: m.start()].rstrip("\\"))
        if run % 2 == 0:
            out.append(m.start())
    return out


def mention(
    *, platform="mastodon", url="https://social.example/@a/1", handle="a", name="", text=""
) -> Mention:
    return Mention(
        platform=platform,
        id="1",
        url=url,
        author=Author(handle, name, "1"),
        text=text or "my order is late",
        created_at=NOW - timedelta(minutes=5),
    )


# -- the brand's words --------------------------------------------------------------------------------------


@FAST
@given(name=hostile_big, handle=hostile, text=hostile_big)
def test_a_reply_says_nothing_a_stranger_wrote(name, handle, text):
    m = mention(name=name, handle=handle, text=text)
    case = Case(1, "C-00001", "mastodon", "1", handle, name, "complaint", "open", "contact", NOW, NOW)
    for intent in ("complaint", "inquiry", "praise"):
        for rules in (ReplyRules(), ReplyRules(can_message=True, max_length=500)):
            composed = compose.compose(m, Triage(intent=intent), brand=BRAND, rules=rules, can_reply=True)
            assert guard.check(composed.text, brand=BRAND, handles=[handle]) == []
            assert not any("contact routes" in p or "handle" in p for p in composed.problems)
            greeting = guard.greeting(m.author)
            assert greeting.name in composed.text and composed.notes == tuple(
                filter(None, [greeting.dropped])
            )
            assert not (greeting.name and greeting.dropped)
    for private in (
        compose.private_opening(case, m, BRAND),
        compose.private_follow_up(case, m, BRAND, last=True),
    ):
        assert guard.check(private, brand=BRAND, handles=[handle]) == []


@FAST
@given(text=hostile_big, handle=hostile)
@example(text="@²", handle="")  # a number that is not a decimal digit still makes a handle
def test_the_final_check_never_passes_a_link_handle_or_hidden_character(text, handle):
    if guard.check(text, brand=BRAND, handles=[handle]):
        return
    assert not escape.invisible(text)
    assert "](" not in text and not re.search(r"<\s*/?[a-z!]", text, re.I)
    rest = text.replace("https://acme.example/help", "").replace("care@acme.example", "")
    assert not re.search(r"://|www\.", rest, re.I)
    named = {h.lower() for h in re.findall(r"(?<![\w@/])@([\w.-]*\w)", rest)}
    assert named <= {handle.lower().lstrip("@"), handle.lower().lstrip("@").split("@")[0]}


# -- Discord ------------------------------------------------------------------------------------------------


def assert_inert_on_discord(embed: discord.Embed) -> None:
    """Every part of a card Discord renders as Markdown is inert (a plain "<https://…>" is the one link it may
    show); the parts it shows as they are (author, footer) hide nothing; the card keeps Discord's limits."""
    rendered = [embed.title or "", embed.description or ""]
    rendered += [f.name or "" for f in embed.fields] + [f.value or "" for f in embed.fields]
    for part in rendered:
        body = re.sub(r"```\n.*?\n```", "", part, flags=re.S)  # the reply itself is shown as code
        assert not re.search(r"@(everyone|here)", body, re.I)
        assert unescaped(body, "[") == [] and unescaped(body, "]") == []
        for at in unescaped(body, "<"):  # no "<@…>", "<#…>", "<t:…>": only a plain link
            assert re.match(r"<https?://[^\s<>()\[\]`|\\\"']+>", body[at:]), body[at:]
        assert not escape.invisible(body.replace("@\u200b", "@"))
    for part in (embed.author.name or "", embed.footer.text or ""):
        assert not escape.invisible(part)
    assert embed.url is None or link(embed.url) == f"<{embed.url}>"
    assert len(embed.title or "") <= 256 and len(embed.description or "") <= 4096 and len(embed) <= 6000
    assert len(embed.fields) <= 25 and all(len(f.value) <= 1024 and len(f.name) <= 256 for f in embed.fields)


def card(store: Store, draft, outcome: str = "") -> discord.Embed:
    return card_embed(card_context(store, draft, now=NOW, tz=ZoneInfo("Europe/Amsterdam"), outcome=outcome))


@FAST
@given(platform=hostile, url=hostile, name=hostile, handle=hostile, text=hostile_big)
def test_the_card_shows_every_outside_field_inert(platform, url, name, handle, text):
    store = Store.memory()
    m = mention(
        platform=storable(platform) or "x",
        url=storable(url),
        name=storable(name),
        handle=storable(handle),
        text=storable(text),
    )
    store.save_fetch(m.platform, [m], None, now=NOW)
    store.save_triage(m, Triage(intent="complaint", reasons=(storable(text)[:80],)), now=NOW)
    composed = compose.compose(m, Triage(intent="complaint"), brand=BRAND, rules=ReplyRules(), can_reply=True)
    draft = store.add_draft(
        m,
        intent="complaint",
        text=composed.text,
        now=NOW,
        notes=(*composed.notes, storable(text)[:60]),
        problems=[storable(text)[:50]],
    )
    assert_inert_on_discord(card(store, draft, outcome=quote(storable(text)[:40])))


def test_the_cards_link_is_never_a_disguised_one():
    assert link("[acme support](https://evil.example)") == "\\[acme support\\](https://evil.example)"
    assert link("https://social.example/@a/1") == "<https://social.example/@a/1>"
    assert link("https://x.example/a>b") != "<https://x.example/a>b>"
    store = Store.memory()
    m = mention(platform="[acme support](https://evil.example)", url="[acme support](https://evil.example)")
    store.save_fetch(m.platform, [m], None, now=NOW)
    draft = store.add_draft(m, intent="complaint", text="Thank you", now=NOW)
    embed = card(store, draft)
    assert embed.url is None and embed.title.count("\\[acme support\\]") == 1
    assert_inert_on_discord(embed)


# -- the reports --------------------------------------------------------------------------------------------


def seeded_report(platform: str, handle: str, text: str, error: str) -> weekly.Report:
    store = Store.memory()
    config = parse_config(CONFIG)
    week = weekly.last_complete_week(NOW, ZoneInfo("Europe/Amsterdam"))
    at = week.start + timedelta(days=2)
    rows = [
        ("complaint", f"{text} my refund never came"),
        ("complaint", f"my refund never came {text}"),
        ("inquiry", f"how do I cancel my subscription? {text}"),
        ("inquiry", f"{text} can I cancel my subscription?"),
        ("praise", f"{text} love it"),
    ]
    for i, (intent, body) in enumerate(rows):
        m = Mention(
            platform=platform,
            id=f"m{i}",
            url=f"https://example.test/{i}",
            author=Author(handle, handle),
            text=body,
            created_at=at,
        )
        store.save_fetch(platform, [m], None, now=at)
        store.save_triage(m, Triage(intent=intent), now=at)
        store.add_draft(m, intent=intent, text="Thank you", now=at)
    store.record_run(
        platform, started_at=at, duration_ms=1, fetched=1, new=1, errors=1, status="error", error=error
    )
    store.set_connector_paused(platform, error)
    return weekly.build(store, config, week=week, now=NOW)


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(platform=hostile, handle=hostile, text=hostile, error=hostile)
@example(
    platform="x", handle="h", text="t", error="²@everyone"
)  # "²" before "@" makes an address to autolink
def test_both_reports_escape_every_stranger_written_field(platform, handle, text, error):
    report = seeded_report(
        storable(platform) or "x", storable(handle) or "h", storable(text), storable(error)
    )
    md = weekly.markdown(report)
    md.encode("utf-8")
    assert "\x1b" not in md and "\x00" not in md and not escape.invisible(md)
    for char in "<[]`|*_~&":
        for at in unescaped(md, char):
            # Our own syntax only: table pipes, headings' emphasis in the footer, the backticks of a command.
            assert char in "|_`", (char, md[max(0, at - 30) : at + 30])
    assert not re.search(r"(?<!\\)://|[\w.+-]@", md)  # no autolink: "https://", "a@b.example"
    html = weekly.to_html(report, {})
    html.encode("utf-8")
    assert "<script" not in html.lower() and "\x1b" not in html and "\x00" not in html
    parser = Tags()
    parser.feed(html)
    assert parser.tags <= {
        "html",
        "meta",
        "title",
        "style",
        "body",
        "h1",
        "h2",
        "p",
        "table",
        "tr",
        "th",
        "td",
        "footer",
        "header",  # the report's own layout: the title bar, the headline's cards and sparklines
        "section",
        "div",
        "svg",
        "polyline",
    }


def test_markdown_cells_are_literal():
    cell = weekly.md_cell(
        "[acme](https://evil.example) <script> a|b *x* \x1b[31mred\x00 www.evil.example a@b.c"
    )
    assert cell == (
        "\\[acme\\](https\\://evil.example) \\<script> a\\|b \\*x\\* red www\\.evil.example a\\@b.c"
    )


# -- the terminal -------------------------------------------------------------------------------------------


@FAST
@given(text=hostile_big)
def test_the_terminal_shows_outside_text_as_written(text):
    shown = escape.terminal(text)
    rendered = Text.from_markup(
        f"[bold]{shown}[/bold]"
    )  # as the command line prints it, inside its own markup
    # rich's escape leaves a trailing run of backslashes a little short: harmless, as no markup comes of it.
    assert rendered.plain.rstrip("\\") == escape.visible(text).rstrip("\\")
    assert {str(span.style) for span in rendered.spans} <= {"bold"}
    out = io.StringIO()
    # As bot.terminal's consoles print: without rich's highlighter, whose regexes crawl on a long hostile text.
    Console(file=out, force_terminal=True, width=120, highlight=False).print(shown)
    printed = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # rich's own styling, if any
    assert "\x1b" not in printed and "\x07" not in printed


def test_mentionbot_queue_prints_markup_and_escapes_as_text(tmp_path):
    (tmp_path / "config.toml").write_text(
        'dry_run = true\n[brand]\ncontact_email = "care@acme.example"\n[store]\npath = "bot.db"\n'
    )
    store = Store.open(tmp_path / "bot.db")
    m = mention(
        platform="mastodon",
        handle="[red]mal[/red]",
        text="[link=https://evil.example]click[/link] \x1b]8;;https://evil.example\x07here\x1b]8;;\x07 \x1b[2J",
    )
    store.save_fetch(m.platform, [m], None, now=NOW)
    store.add_draft(m, intent="complaint", text="Thank you", now=NOW, notes=["name left out: '[bold]x'"])
    store.close()
    result = CliRunner().invoke(cli, ["-c", str(tmp_path / "config.toml"), "queue"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert "[red]mal[/red]" in result.output and "[link=https://evil.example]click[/link]" in result.output
    assert "\x1b" not in result.output and "[bold]x" in result.output
