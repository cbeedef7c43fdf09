"""App Store connector against the loopback App Store: public feed (monitor-only) and the Connect API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.errors import FatalError, ReplyNotAllowed, TransientError
from connectors.appstore import AppStoreConnector, AppStoreSettings
from connectors.base import Secret
from connectors.fakes.appstore import FakeAppStore
from connectors.fakes.server import Fault
from tests.review_helpers import fetch_refused


@pytest.fixture
def fake():
    with FakeAppStore(rss_page_size=3, metadata_entry=True, entry_dates=True) as fake:
        yield fake


def connector(fake, clock, monkeypatch, *, api: bool) -> AppStoreConnector:
    table = fake.connector_settings()
    for key, value in fake.environment().items():
        monkeypatch.setenv(key, value)
    if not api:
        table.pop("private_key")
        table.update(key_id="", issuer_id="")
    else:
        table["private_key"] = Secret(env=table["private_key"]["env"])
    return AppStoreConnector(AppStoreSettings(**table), clock=clock)


def seed(fake, clock, n=7):
    return [
        fake.add_review(
            nickname=f"user{i}",
            rating=i % 5 + 1,
            title=f"Title {i}",
            body=f"Acme review number {i}",
            created=clock.now() - timedelta(minutes=10 * (n - i)),
        )
        for i in range(n)
    ]


def test_public_feed_pages_skips_metadata_and_maps_ratings(fake, clock, monkeypatch):
    ids = seed(fake, clock)
    bot = connector(fake, clock, monkeypatch, api=False)
    result = bot.fetch(None)
    assert [m.id for m in result.mentions] == ids  # oldest first, across three feed pages
    assert [m.rating for m in result.mentions] == [1, 2, 3, 4, 5, 1, 2]
    assert all(m.kind == "review" for m in result.mentions)
    assert result.mentions[0].text == "Title 0\n\nAcme review number 0"
    assert len(fake.calls("GET", r"/rss/customerreviews/page=")) >= 3
    assert bot.rules.one_reply_per_item and not bot.can_reply(result.mentions[0])
    with pytest.raises(ReplyNotAllowed):
        bot.reply(result.mentions[0], "Thanks", idempotency_key="k")


def test_public_feed_single_entry_is_an_object(clock, monkeypatch):
    with FakeAppStore(metadata_entry=False) as fake:
        rid = fake.add_review(
            nickname="Jane", rating=2, title="Crashes", body="On start", created=clock.now()
        )
        bot = connector(fake, clock, monkeypatch, api=False)
        raw = fake.rss(type("R", (), {"params": {"cc": "us", "page": "1", "app": fake.app_id}})())
        assert isinstance(raw["feed"]["entry"], dict)
        assert [m.id for m in bot.fetch(None).mentions] == [rid]


def test_restart_returns_no_duplicates_and_picks_up_new_reviews(fake, clock, monkeypatch):
    seed(fake, clock)
    first = connector(fake, clock, monkeypatch, api=False).fetch(None)
    clock.advance(minutes=5)
    new = fake.add_review(nickname="late", rating=1, title="Refund?", body="Where is it", created=clock.now())
    again = connector(fake, clock, monkeypatch, api=False).fetch(json.loads(json.dumps(first.cursor)))
    assert [m.id for m in again.mentions] == [new]
    assert connector(fake, clock, monkeypatch, api=False).fetch(again.cursor).mentions == []


def test_connect_api_fetch_reply_overwrites_and_find_reply(fake, clock, monkeypatch):
    ids = seed(fake, clock, n=5)
    bot = connector(fake, clock, monkeypatch, api=True)
    result = bot.fetch(None)
    assert [m.id for m in result.mentions] == ids
    assert result.mentions[-1].rating == 5
    review = result.mentions[0]
    assert bot.can_reply(review) and bot.find_reply(review) is None
    first = bot.reply(review, "Sorry about that, please write to care@acme.example", idempotency_key="a")
    second = bot.reply(review, "Edited: please write to care@acme.example", idempotency_key="b")
    assert first == second == bot.find_reply(review)
    assert fake.responses[review.id]["text"].startswith("Edited")
    assert [p["in_reply_to"] for p in fake.posted()] == [review.id, review.id]
    auth = fake.calls("POST", "customerReviewResponses")[0].header("authorization")
    assert auth.startswith("Bearer ey")


def test_connect_api_pages_by_links_next(fake, clock, monkeypatch):
    ids = seed(fake, clock, n=230)
    result = connector(fake, clock, monkeypatch, api=True).fetch(None)
    assert [m.id for m in result.mentions] == ids
    assert len(fake.calls("GET", "customerReviews")) == 2


def test_faults_500_garbage_and_429_are_survived(fake, clock, monkeypatch):
    seed(fake, clock, n=2)
    bot = connector(fake, clock, monkeypatch, api=True)
    fake.inject(Fault(500, {"errors": []}, path="customerReviews"))
    assert fetch_refused(bot).retry_after is None
    fake.inject(Fault(200, raw=b"<html>oops", path="customerReviews"))
    assert "malformed JSON" in str(fetch_refused(bot))
    assert len(bot.fetch(None).mentions) == 2
    fake.inject(
        Fault(
            429, {"errors": [{"code": "RATE_LIMIT_EXCEEDED"}]}, headers={"Retry-After": "30"}, path="custom"
        )
    )
    assert fetch_refused(bot).retry_after == 30
    assert len(bot.fetch(None).mentions) == 2
    fake.inject(Fault(503, path="customerReviews", times=10))
    with pytest.raises(TransientError):
        bot.fetch(None)


def test_refused_key_is_fatal(fake, clock, monkeypatch):
    bot = connector(fake, clock, monkeypatch, api=True)
    monkeypatch.setenv("APPSTORE_PRIVATE_KEY", FakeAppStore().private_key_pem)  # someone else's key
    with pytest.raises(FatalError):
        bot.fetch(None)
