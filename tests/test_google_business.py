"""Google Business Profile connector against the loopback v4 reviews API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import FatalError, TransientError
from connectors.fakes.google_business import FakeGoogleBusiness
from connectors.fakes.server import Fault
from tests.review_helpers import connector_for, fetch_refused


@pytest.fixture
def fake():
    with FakeGoogleBusiness() as fake:
        yield fake


def seed(fake, clock, n):
    return [
        fake.add_review(
            name=f"Jane {i}",
            rating=i % 5 + 1,
            comment=f"Acme store {i}",
            created=clock.now() - timedelta(minutes=n - i),
        )
        for i in range(n)
    ]


def test_fetch_pages_and_maps_star_rating(fake, clock, monkeypatch):
    ids = seed(fake, clock, 60)
    bot = connector_for(fake, clock, monkeypatch)
    result = bot.fetch(None)
    assert [m.id for m in result.mentions] == ids
    assert [m.rating for m in result.mentions[:5]] == [1, 2, 3, 4, 5]
    assert result.mentions[0].kind == "review"
    calls = fake.calls("GET", "/reviews$")
    assert len(calls) == 2 and calls[1].arg("pageToken") == "50"
    assert calls[0].arg("orderBy") == "updateTime desc"


def test_reply_put_replaces_and_is_found(fake, clock, monkeypatch):
    [rid] = seed(fake, clock, 1)
    bot = connector_for(fake, clock, monkeypatch)
    review = bot.fetch(None).mentions[0]
    assert bot.rules.one_reply_per_item and bot.find_reply(review) is None
    bot.reply(review, "Thank you, Jane!", idempotency_key="a")
    assert bot.reply(review, "Thank you so much, Jane!", idempotency_key="b") == bot.find_reply(review)
    assert fake.reviews[rid]["reviewReply"]["comment"] == "Thank you so much, Jane!"
    assert len(fake.calls("PUT", "/reply$")) == 2


def test_restart_without_duplicates(fake, clock, monkeypatch):
    seed(fake, clock, 3)
    first = connector_for(fake, clock, monkeypatch).fetch(None)
    clock.advance(minutes=2)
    new = fake.add_review(name="Late", rating=2, comment="Rude staff", created=clock.now())
    second = connector_for(fake, clock, monkeypatch).fetch(first.cursor)
    assert [m.id for m in second.mentions] == [new]


def test_faults(fake, clock, monkeypatch):
    seed(fake, clock, 1)
    bot = connector_for(fake, clock, monkeypatch)
    fake.inject(Fault(500, path="/reviews"))
    assert fetch_refused(bot).retry_after is None
    fake.inject(Fault(200, raw=b"<!DOCTYPE html>", path="/reviews"))
    assert "malformed JSON" in str(fetch_refused(bot))
    assert len(bot.fetch(None).mentions) == 1
    fake.inject(
        Fault(429, {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED"}}, headers={"Retry-After": "10"})
    )
    assert fetch_refused(bot).retry_after == 10
    assert len(bot.fetch(None).mentions) == 1
    fake.inject(Fault(502, path="/reviews", times=5))
    with pytest.raises(TransientError):
        bot.fetch(None)
    fake.faults.clear()
    monkeypatch.setenv("GBP_ACCESS_TOKEN", "expired")
    with pytest.raises(FatalError):
        bot.fetch(None)
