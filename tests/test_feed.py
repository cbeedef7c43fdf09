"""Feed connector with feedparser against the loopback feed host: Google Alerts, RSS, conditional GET."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import FatalError, TransientError
from connectors.fakes.feed import ALERTS, FakeFeeds
from connectors.fakes.server import Fault
from connectors.feed import FeedConnector, FeedSettings, unwrap


@pytest.fixture
def fake():
    with FakeFeeds() as fake:
        yield fake


def make(fake, clock):
    return FeedConnector(FeedSettings(**fake.connector_settings()), clock=clock)


def test_google_alerts_are_unwrapped_and_stripped(fake, clock):
    fake.add_entry(
        title="Why I returned my <b>Acme</b> Hub &amp; what I bought instead",
        summary="The <b>Acme</b> Hub kept dropping Wi-Fi...",
        link="https://gadgets.example/acme-hub?ref=a&b=c",
        published=clock.now() - timedelta(hours=1),
    )
    bot = make(fake, clock)
    [m] = bot.fetch(None).mentions
    assert m.url == "https://gadgets.example/acme-hub?ref=a&b=c"
    assert m.text.startswith("Why I returned my Acme Hub & what I bought instead\n\nThe Acme Hub")
    assert m.id.startswith("tag:google.com,2013:googlealerts/feed:")
    assert m.author.handle == "gadgets.example" and m.rating is None
    assert not bot.can_reply(m) and bot.capabilities == frozenset()


def test_rss_feed_entries(fake, clock):
    fake.add_entry(
        title="Acme Buds review",
        summary="<p>Solid sound, weak case.</p>",
        link="https://blog.example/buds",
        author="Sam",
        published=clock.now() - timedelta(hours=2),
        feed="blog",
    )
    [m] = make(fake, clock).fetch(None).mentions
    assert (m.url, m.author.display_name, m.text) == (
        "https://blog.example/buds",
        "Sam",
        "Acme Buds review\n\nSolid sound, weak case.",
    )


def test_etag_sent_and_304_yields_nothing_then_new_entries_arrive(fake, clock):
    fake.add_entry(title="Acme one", summary="x", link="https://a.example/1", published=clock.now())
    bot = make(fake, clock)
    first = bot.fetch(None)
    assert len(first.mentions) == 1
    second = make(fake, clock).fetch(first.cursor)  # a restart: state comes from the cursor alone
    assert second.mentions == []
    alert_calls = fake.calls("GET", ALERTS)
    assert "if-none-match" not in alert_calls[0].headers
    assert alert_calls[-1].header("if-none-match").startswith('"')
    assert alert_calls[-1].header("if-modified-since")
    clock.advance(minutes=10)
    fake.add_entry(title="Acme two", summary="y", link="https://a.example/2", published=clock.now())
    third = bot.fetch(second.cursor)
    assert [m.url for m in third.mentions] == ["https://a.example/2"]


def test_one_failing_feed_does_not_stop_the_other(fake, clock):
    fake.add_entry(title="Acme one", summary="x", link="https://a.example/1", published=clock.now())
    fake.add_entry(
        title="Acme blog", summary="y", link="https://b.example/1", published=clock.now(), feed="blog"
    )
    bot = make(fake, clock)
    fake.inject(Fault(200, raw=b"<html><body>Sorry, we're down", path="/blog"))
    result = bot.fetch(None)
    assert [m.url for m in result.mentions] == ["https://a.example/1"]
    # the blog's state was not advanced, so its entry comes on the next poll
    assert [m.url for m in bot.fetch(result.cursor).mentions] == ["https://b.example/1"]


def test_faults(fake, clock):
    fake.add_entry(title="Acme", summary="x", link="https://a.example/1", published=clock.now())
    bot = make(fake, clock)
    before = clock.now()
    fake.inject(Fault(500, path="/alerts"))
    assert bot.fetch(None).mentions == []  # that feed is skipped this poll, the others are read
    fake.inject(Fault(429, headers={"Retry-After": "45"}, path="/alerts"))
    assert bot.fetch(None).mentions == []
    assert clock.now() == before  # nothing waited inside the poll
    assert len(bot.fetch(None).mentions) == 1
    fake.inject(Fault(503, path="", times=20))
    with pytest.raises(TransientError):
        bot.fetch(None)
    fake.faults.clear()
    fake.inject(Fault(401, path="/alerts"))
    with pytest.raises(FatalError):
        bot.fetch(None)


def test_unwrap():
    assert unwrap("https://www.google.com/url?rct=j&sa=t&url=https%3A%2F%2Fx.example%2Fa%3Fb%3D1&ct=ga") == (
        "https://x.example/a?b=1"
    )
    assert unwrap("https://x.example/a") == "https://x.example/a"
