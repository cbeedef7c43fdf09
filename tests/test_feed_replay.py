"""Feeds: a recorded Google Alerts feed and a recorded RSS 2.0 feed through feedparser and the connector; the fake's
XML held to the recorded element and attribute names."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest
import requests

from bot.clock import FakeClock
from connectors.fakes.feed import ALERTS, BLOG, FakeFeeds
from connectors.feed import FeedConnector, FeedSettings
from tests.conformance import FIXTURES

ALERTS_XML = (FIXTURES / "feed" / "google_alerts_atom.xml").read_text(encoding="utf-8")
RSS_XML = (FIXTURES / "feed" / "techcrunch_rss.xml").read_text(encoding="utf-8")


def names(xml: str) -> set[str]:
    """Every element path and attribute name in a document, e.g. ``feed/entry/link@href``."""
    out: set[str] = set()

    def walk(node: ET.Element, path: str) -> None:
        here = f"{path}/{node.tag}" if path else node.tag
        out.add(here)
        out.update(f"{here}@{name}" for name in node.attrib)
        for child in node:
            walk(child, here)

    walk(ET.fromstring(xml.encode()), "")
    return out


@pytest.fixture
def fake():
    with FakeFeeds() as fake:
        yield fake


def bot(fake, clock, **overrides):
    return FeedConnector(FeedSettings(**{**fake.connector_settings(), **overrides}), clock=clock)


def test_the_recorded_google_alerts_feed_becomes_mentions(fake):
    fake.serve_recorded("alerts", ALERTS_XML)
    clock = FakeClock(datetime(2019, 7, 10, 12, 0, tzinfo=UTC))
    result = bot(fake, clock, urls=[fake.base_url + ALERTS]).fetch(None)
    assert len(result.mentions) == 3 and result.quarantined == []
    first = result.mentions[0]  # oldest first
    assert first.id == "tag:google.com,2013:googlealerts/feed:16151843349267390757"
    assert first.url == (
        "https://rivertonroll.com/news/2019/07/10/slack-nasdaqwork-insider-cal-henderson-sells-1500-shares-3.html"
    )
    assert first.created_at == datetime(2019, 7, 10, 11, 36, 15, tzinfo=UTC)
    assert first.text.startswith(
        "Slack (NASDAQ:WORK) Insider Cal Henderson Sells 1500 Shares\n\nSlack (NASDAQ:WORK)"
    )
    assert (first.author.handle, first.author.display_name, first.kind) == (
        "rivertonroll.com",
        "rivertonroll.com",
        "post",
    )
    assert (first.parent_id, first.thread_id, first.rating, first.lang) == (None, None, None, None)
    second = result.mentions[1]
    assert (
        "the Company's decision to go public via ..." in second.text
    )  # &amp;#39; and &amp;nbsp; read as text
    assert second.url == "https://investorplace.com/2019/07/slack-stock-truly-compelling/"


def test_the_recorded_rss_feed_becomes_mentions_and_a_restart_returns_nothing_again(fake):
    fake.serve_recorded("blog", RSS_XML)
    clock = FakeClock(datetime(2011, 11, 2, 18, 0, tzinfo=UTC))
    result = bot(fake, clock, urls=[fake.base_url + BLOG]).fetch(None)
    gmail, angies = result.mentions
    assert angies.id == "http://techcrunch.com/?p=446154"
    assert angies.url == "http://feedproxy.google.com/~r/Techcrunch/~3/kTeeGj4FnwU/"
    assert angies.author.display_name == "Leena Rao" and angies.author.handle == "feedproxy.google.com"
    assert angies.created_at == datetime(2011, 11, 2, 17, 25, 27, tzinfo=UTC)
    assert angies.text.startswith(
        "Angie’s List Sets Price Range IPO At $11 To $13 Per Share; Valued At Over $600M\n\n"
    )
    # A link keeps its address; the description's blank line stays a paragraph break.
    assert (
        "In a new filing (http://www.sec.gov/Archives/edgar/data/1491778/000119312511292292/d222159ds1a.htm),"
        in (angies.text)
    )
    assert "nearly $700 million.\n\nAngie’s List launched in 1995" in angies.text
    assert gmail.created_at < angies.created_at  # oldest first
    clock.advance(minutes=5)
    again = bot(fake, clock, urls=[fake.base_url + BLOG]).fetch(result.cursor)
    assert again.mentions == [] and fake.calls("GET", BLOG)[-1].header("if-none-match")


def test_an_entry_with_neither_title_nor_summary_is_quarantined(fake):
    broken = ALERTS_XML.replace(
        "</feed>",
        "<entry><id>tag:google.com,2013:googlealerts/feed:1</id><published>2019-07-10T11:59:00Z</published></entry></feed>",
    )
    fake.serve_recorded("alerts", broken)
    clock = FakeClock(datetime(2019, 7, 10, 12, 0, tzinfo=UTC))
    result = bot(fake, clock, urls=[fake.base_url + ALERTS]).fetch(None)
    assert len(result.mentions) == 3
    [bad] = result.quarantined
    assert (
        bad.item_id == "tag:google.com,2013:googlealerts/feed:1" and "neither title nor summary" in bad.reason
    )


@pytest.mark.parametrize(
    ("feed", "path", "recorded"), [("alerts", ALERTS, ALERTS_XML), ("blog", BLOG, RSS_XML)]
)
def test_the_fake_serves_the_recorded_element_and_attribute_names(fake, clock, feed, path, recorded):
    fake.add_entry(
        title="<b>Acme</b> hub", summary="It &amp; <b>Acme</b>", link="https://a.example/x", feed=feed
    )
    fake.add_entry(title="Acme two", summary="Two", link="https://b.example/y", author="Sam", feed=feed)
    answer = requests.get(fake.base_url + path, timeout=5)
    assert answer.status_code == 200 and answer.headers["ETag"] and answer.headers["Last-Modified"]
    extra = names(answer.text) - names(recorded)
    assert not extra, f"the fake serves what the recorded feed does not have: {sorted(extra)}"
