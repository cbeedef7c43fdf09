"""The cards as managers see them: embeds posted by the real discord.py client to the loopback fake Discord, with
only the buttons that apply; and one card rendered to a PNG in headless Chromium for a person to look at."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FakeClock
from bot.config import load_config
from bot.models import Author, Mention, Triage
from bot.store import Store
from connectors.fakes.discord import FakeDiscord
from responders.discord import ApprovalBot
from responders.discord.cards import COMPLAINT_COLOURS, EMBED_MAX, INTENT_COLOURS
from tests.conftest import wait_for

NOW = datetime.now(UTC).replace(microsecond=0)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.fixture
def discord_fake():
    fake = FakeDiscord().start()
    yield fake
    fake.stop()


class Cards:
    """A store seeded with drafts, and the bot that posts their cards on connecting."""

    def __init__(self, config_path, discord: FakeDiscord):
        self.config = load_config(config_path)
        self.path = config_path.parent / "bot.db"
        self.store = Store.open(self.path)
        self.discord = discord
        self.bot: ApprovalBot | None = None
        self.ids = iter(range(1, 1000))

    def mention(self, platform="reddit", *, text, author="marta_k", minutes_ago=5, **fields) -> Mention:
        number = next(self.ids)
        m = Mention(
            platform=platform,
            id=f"t1_{number}",
            url=f"https://www.reddit.com/r/acme/comments/abc/_/{number}/",
            author=Author(author, "Marta K", "u1"),
            text=text,
            created_at=NOW - timedelta(minutes=minutes_ago),
            kind=fields.pop("kind", "comment"),
            **fields,
        )
        self.store.save_fetch(platform, [m], None, now=NOW)
        return m

    def draft(self, m: Mention, triage: Triage, *, reply="Thank you for telling us.", case=True, **fields):
        self.store.save_triage(m, triage, now=NOW)
        opened = (
            self.store.open_case(m, intent=triage.intent, due_at=NOW + timedelta(hours=17), now=NOW)
            if case
            else None
        )
        return self.store.add_draft(
            m, intent=triage.intent, text=reply, now=NOW, case_id=opened.id if opened else None, **fields
        )

    def start(self) -> ApprovalBot:
        self.bot = ApprovalBot(
            store_path=self.path,
            token="fake-token",
            guild_id=int(self.discord.guild_id),
            channel_id=int(self.discord.channel_id),
            manager_roles=["Community Manager"],
            clock=FakeClock(NOW),
            api_base=self.discord.api_base,
            gateway_url=self.discord.gateway_url,
            config=self.config,
        ).start()
        assert self.bot.ready.wait(20), "the bot never became ready"
        return self.bot

    def card(self, draft_id: int) -> dict:
        message_id = wait_for(lambda: self.store.discord_card(draft_id), what=f"the card of draft {draft_id}")
        return self.discord.message(message_id)


@pytest.fixture
def cards(config_path, discord_fake):
    c = Cards(config_path, discord_fake)
    yield c
    if c.bot:
        c.bot.stop()


def fields(card: dict) -> dict[str, str]:
    (embed,) = card["embeds"]
    return {f["name"]: f["value"] for f in embed["fields"]}


def buttons(card: dict) -> list[str]:
    return [c["label"] for row in card["components"] for c in row["components"]]


def size(embed: dict) -> int:
    """An embed's characters as Discord counts them against its 6000."""
    texts = [
        embed.get("title", ""),
        embed.get("description", ""),
        (embed.get("footer") or {}).get("text", ""),
    ]
    texts.append((embed.get("author") or {}).get("name", ""))
    texts += [f["name"] + f["value"] for f in embed.get("fields", [])]
    return sum(len(t) for t in texts)


def test_a_complaint_card_has_what_a_manager_decides_on(cards):
    earlier = cards.mention(text="acme lost my parcel last month", minutes_ago=60 * 24 * 20)
    cards.store.save_triage(earlier, Triage(intent="complaint"), now=NOW)
    parent = cards.mention(text="Has anyone had trouble with acme deliveries?", author="jo")
    complaint = cards.mention(
        text="@everyone yes, acme lost it AGAIN. " + "Still waiting. " * 200, parent_id=parent.id
    )
    draft = cards.draft(
        complaint,
        Triage(
            intent="complaint",
            urgency=2,
            complaint_score=0.93,
            reasons=(
                "repeat contact: complaint #2 from this person",
                "negative tone",
                "lost parcel",
                "fourth",
            ),
        ),
        findings=(),
        notes=("held for a human: a repeat complaint about a lost parcel",),
    )
    cards.start()
    card = cards.card(draft.id)
    (embed,) = card["embeds"]
    assert embed["title"] == f"Complaint on reddit · draft #{draft.id}"
    assert embed["url"] == complaint.url and embed["color"] == COMPLAINT_COLOURS[2]
    assert embed["author"]["name"] == "Marta K (@marta_k)"
    assert embed["description"].startswith("@\u200beveryone yes, acme lost it AGAIN.")  # pings nobody
    assert f"the whole post: <{complaint.url}>" in embed["description"]  # cut, with the way to the rest
    assert size(embed) <= EMBED_MAX and len(embed["description"]) <= 4096
    f = fields(card)
    assert f["In reply to @jo"] == "> Has anyone had trouble with acme deliveries?"
    assert f["Author here"].startswith("1 earlier mention · 1 complaint · 0 open cases · no reply yet")
    assert f["Intent"] == "complaint 93% · urgency 2"
    assert f["Why"].count("•") == 3 and "fourth" not in f["Why"]  # the top reasons
    assert f["Draft reply"] == "```\nThank you for telling us.\n```"
    assert f["Notes"] == "• held for a human: a repeat complaint about a lost parcel"
    assert "Tone guard" not in f and "Platform rules and final check" not in f  # only when there are some
    due = (NOW + timedelta(hours=17)).astimezone(cards.bot.tz)
    case = cards.store.case(draft.case_id)
    assert f["SLA"] == f"case {case.ref} due in 17 h · {due:%a} {due.day} {due:%b %H:%M} {due.tzname()}"
    assert buttons(card) == ["Approve & post", "Edit", "Reject", "Not a complaint", "Take case"]
    assert card["allowed_mentions"] == {"parse": []}


def test_a_praise_card_is_green_and_has_no_complaint_buttons(cards):
    praise = cards.mention(text="acme support sorted it in ten minutes, brilliant")
    draft = cards.draft(praise, Triage(intent="praise", scores={"praise": 0.88}), case=False)
    cards.start()
    card = cards.card(draft.id)
    assert card["embeds"][0]["color"] == INTENT_COLOURS["praise"]
    assert fields(card)["Intent"] == "praise 88% · urgency 0"
    assert fields(card)["Author here"] == "first mention here" and "SLA" not in fields(card)
    assert buttons(card) == ["Approve & post", "Edit", "Reject"]


def test_a_review_card_shows_its_rating_as_stars(cards):
    review = cards.mention(
        "trustpilot", text="Delivery took three weeks and nobody answered my emails.", rating=2, kind="review"
    )
    draft = cards.draft(review, Triage(intent="complaint", urgency=1, complaint_score=0.81))
    cards.start()
    card = cards.card(draft.id)
    assert fields(card)["Rating"] == "★★☆☆☆ 2/5"
    assert card["embeds"][0]["title"] == f"Complaint on trustpilot · draft #{draft.id}"


def test_a_reply_by_hand_card_says_the_language_is_why(cards):
    spanish = cards.mention(text="acme, mi pedido nunca llegó y nadie responde", lang="es")
    draft = cards.draft(
        spanish,
        Triage(intent="complaint", complaint_score=0.7, lang="es", needs_human=True),
        route="manual",
        problems=["language 'es' is not one the team answers in: a human should reply"],
    )
    cards.start()
    card = cards.card(draft.id)
    f = fields(card)
    assert f["Reply by hand"] == "written in Spanish, not a language the team answers in"
    assert (
        "cannot post" not in str(f) and "Platform rules and final check" not in f
    )  # said once, as the cause
    assert buttons(card)[0] == "Approve: I post it by hand" and "Length" not in f


def test_a_decided_card_names_the_decider_and_links_the_reply(cards):
    from connectors.fakes.discord import MANAGER_ID

    m = cards.mention(text="acme my refund is late")
    draft = cards.draft(m, Triage(intent="complaint", complaint_score=0.9))
    cards.start()
    card = cards.card(draft.id)
    cards.discord.click(card["id"], f"mb:reject:{draft.id}", MANAGER_ID)
    wait_for(lambda: any(r["type"] == 9 for r in cards.discord.responses()), what="the reject form")
    cards.discord.submit_modal(f"mb-reject:{draft.id}", {"text": "answered by phone"}, MANAGER_ID, card["id"])
    decided = wait_for(
        lambda: (c := cards.discord.message(card["id"]))["components"] == [] and c, what="the decided card"
    )
    assert fields(decided)["Decision"].startswith("Rejected by Marta Kowalska · ")
    assert fields(decided)["Decision"].endswith(": answered by phone")
    assert decided["embeds"][0]["color"] == 0x4F545C  # grey: nothing left to decide


def test_the_app_store_reply_link_says_there_is_none_for_one_review(cards):
    bot = ApprovalBot(
        store_path=cards.path, token="", guild_id=1, channel_id=2, manager_roles=[], config=cards.config
    )
    bot.store = cards.store
    review = cards.mention("appstore", text="Crashes on start", rating=1, kind="review")
    said = bot.posted_outcome("appstore", review.id, "resp-1")
    assert said == f"posted; appstore has no link to one reply, it shows under the review on <{review.url}>"
    comment = cards.mention(text="acme where is my parcel", kind="comment")
    assert bot.posted_outcome("reddit", comment.id, "t1_zz").startswith("posted: <https://www.reddit.com/")


# -- a picture ----------------------------------------------------------------------------------------------


def embed_html(card: dict) -> str:
    """A small HTML rendering of a card as Discord draws it: colour bar, author, linked title, post, fields,
    footer and buttons (the text as sent, Markdown escapes and all)."""
    (e,) = card["embeds"]

    def text(value: str) -> str:
        # As Discord shows it: a code block as code, a Markdown escape as the character it escapes.
        parts = re.split(r"```\n(.*?)\n```", value, flags=re.S)
        out = []
        for i, part in enumerate(parts):
            if i % 2:
                out.append(f"<pre>{html.escape(part)}</pre>")
            else:
                out.append(html.escape(re.sub(r"\\([\\*_~|`>#\-\[\]<])", r"\1", part)).replace("\n", "<br>"))
        return "".join(out)

    rows = "".join(
        f"<div class='f{' inline' if f.get('inline') else ''}'><b>{text(f['name'])}</b><div>{text(f['value'])}"
        "</div></div>"
        for f in e.get("fields", [])
    )
    styles = {1: "#5865f2", 2: "#4e5058", 3: "#248046", 4: "#da373c"}
    buttons = "".join(
        f"<span class='b' style='background:{styles.get(c.get('style'), '#4e5058')}'>{text(c['label'])}</span>"
        for row in card["components"]
        for c in row["components"]
    )
    return f"""<!doctype html><meta charset="utf-8"><style>
    body {{ background:#313338; color:#dbdee1; font:14px/1.35 sans-serif; margin:16px; width:560px }}
    .e {{ background:#2b2d31; border-left:4px solid #{e["color"]:06x}; border-radius:4px; padding:10px 14px }}
    .a {{ font-weight:600; font-size:13px }} .t {{ color:#00a8fc; font-weight:700; margin:6px 0 }}
    .f {{ margin-top:8px }} .f.inline {{ display:inline-block; width:31%; vertical-align:top }}
    .f b {{ display:block; font-size:13px }} .ft {{ font-size:12px; color:#949ba4; margin-top:10px }}
    pre {{ background:#1e1f22; border:1px solid #1e1f22; border-radius:4px; padding:6px; white-space:pre-wrap;
           margin:2px 0; font:13px monospace }}
    .b {{ display:inline-block; color:#fff; padding:6px 14px; border-radius:4px; margin:8px 6px 0 0 }}
    </style><div class="e"><div class="a">{text(e["author"]["name"])}</div><div class="t">{text(e["title"])}</div>
    <div>{text(e["description"])}</div>{rows}<div class="ft">{text(e["footer"]["text"])}</div></div>{buttons}"""


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary on PATH (Debian: apt-get install chromium)")
def test_a_card_rendered_in_chromium(cards, tmp_path):
    from PIL import Image

    parent = cards.mention(text="Anyone else waiting on acme deliveries this week?", author="jo")
    m = cards.mention(text="acme lost my parcel again, third time I ask. Order 4411.", parent_id=parent.id)
    draft = cards.draft(
        m,
        Triage(
            intent="complaint",
            urgency=2,
            complaint_score=0.95,
            reasons=("repeat contact: complaint #2 from this person", "negative tone (compound -0.62)"),
        ),
        reply="Marta, we are sorry your parcel went missing again. Please write to care@acme.example (ref. "
        "C-00001) and we will sort it out today.",
    )
    cards.start()
    page = tmp_path / "card.html"
    page.write_text(embed_html(cards.card(draft.id)))
    shot = tmp_path / "discord-card.png"
    subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--hide-scrollbars",
            "--window-size=600,720",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=90,
    )
    print(f"screenshot: {shot}")
    colours = {c: n for n, c in Image.open(shot).convert("RGB").getcolors(maxcolors=1 << 24)}
    assert colours.get((0xC0, 0x39, 0x2B), 0) > 500  # the urgent complaint's red bar
    assert colours.get((0x24, 0x80, 0x46), 0) > 500  # the green Approve button
