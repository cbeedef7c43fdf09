"""Hacker News connector against the loopback Algolia search API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.fakes.hackernews import FakeHackerNews
from connectors.fakes.server import Fault
from tests.review_helpers import connector_for, fetch_refused


@pytest.fixture
def fake():
    with FakeHackerNews() as fake:
        yield fake


def test_fetch_pages_with_watermark_and_restart(fake, clock, monkeypatch):
    ids = [
        fake.add_item(
            author=f"u{i}", text=f"Acme thing {i} & <more>", created=clock.now() - timedelta(minutes=30 - i)
        )
        for i in range(25)
    ]
    story = fake.add_item(
        author="pg", title="Show HN: Acme", text="We built Acme", comment=False, created=clock.now()
    )
    fake.add_item(author="x", text="unrelated", created=clock.now())
    bot = connector_for(fake, clock, monkeypatch, hits_per_page=10)
    first = bot.fetch(None)
    assert [m.id for m in first.mentions] == [*ids, story]
    assert first.mentions[0].text == "Acme thing 0 & <more>" and first.mentions[0].kind == "comment"
    assert first.mentions[-1].kind == "post" and first.mentions[-1].url.endswith(f"item?id={story}")
    assert len(fake.calls("GET")) == 3
    assert fake.calls("GET")[0].arg("numericFilters").startswith("created_at_i>")
    clock.advance(minutes=1)
    new = fake.add_item(author="late", text="Acme late", created=clock.now())
    second = connector_for(fake, clock, monkeypatch).fetch(first.cursor)
    assert [m.id for m in second.mentions] == [new]
    floor = int(fake.calls("GET")[-1].arg("numericFilters").split(">")[1])
    assert floor > int((clock.now() - timedelta(hours=2)).timestamp())
    assert not bot.can_reply(second.mentions[0])


def test_faults(fake, clock, monkeypatch):
    fake.add_item(author="a", text="Acme", created=clock.now())
    bot = connector_for(fake, clock, monkeypatch)
    fake.inject(Fault(500))
    assert fetch_refused(bot).retry_after is None  # the pipeline's back-off
    fake.inject(Fault(200, raw=b"garbage"))
    assert "malformed JSON" in str(fetch_refused(bot))
    first = bot.fetch(None)
    assert len(first.mentions) == 1
    fake.inject(Fault(429, headers={"Retry-After": "3"}))
    assert fetch_refused(bot, first.cursor).retry_after == 3
    assert bot.fetch(first.cursor).mentions == []
