"""Yelp connector against the loopback Fusion API: monitor-only, Pacific times, the daily budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import FatalError, TransientError
from connectors.fakes.server import Fault
from connectors.fakes.yelp import FakeYelp
from tests.review_helpers import connector_for, fetch_refused


@pytest.fixture
def fake():
    with FakeYelp() as fake:
        yield fake


def test_fetch_maps_rating_and_pacific_time_and_is_monitor_only(fake, clock, monkeypatch):
    created = clock.now() - timedelta(hours=3)
    rid = fake.add_review(name="Amy K.", rating=2, text="Acme store lost my repair order.", created=created)
    bot = connector_for(fake, clock, monkeypatch)
    [m] = bot.fetch(None).mentions
    assert (m.id, m.rating, m.kind, m.created_at) == (rid, 2, "review", created.replace(microsecond=0))
    assert m.url.startswith("https://www.yelp.com/biz/")
    assert bot.rules.can_reply is False and not bot.can_reply(m) and "reply" not in bot.capabilities


def test_restart_without_duplicates(fake, clock, monkeypatch):
    fake.add_review(name="A", rating=5, text="Great", created=clock.now() - timedelta(hours=1))
    first = connector_for(fake, clock, monkeypatch).fetch(None)
    new = fake.add_review(name="B", rating=1, text="Awful", created=clock.now())
    assert [m.id for m in connector_for(fake, clock, monkeypatch).fetch(first.cursor).mentions] == [new]


def test_spent_daily_budget_waits_for_the_reset(fake, clock, monkeypatch):
    fake.add_review(name="A", rating=5, text="Great", created=clock.now())
    fake.remaining = 1
    fake.reset_at = clock.now() + timedelta(hours=5)
    bot = connector_for(fake, clock, monkeypatch)
    assert len(bot.fetch(None).mentions) == 1
    calls = len(fake.calls())
    with pytest.raises(TransientError) as raised:
        bot.fetch(None)
    assert raised.value.retry_after == pytest.approx(5 * 3600)
    assert len(fake.calls()) == calls  # refused locally, the budget is not wasted
    clock.advance(hours=5, seconds=1)
    fake.remaining = 300
    assert bot.fetch(None).cursor


def test_faults(fake, clock, monkeypatch):
    fake.add_review(name="A", rating=4, text="Good", created=datetime.now(UTC))
    bot = connector_for(fake, clock, monkeypatch)
    fake.inject(Fault(500, path="/reviews"))
    assert fetch_refused(bot).retry_after is None
    fake.inject(Fault(429, {"error": {"code": "TOO_MANY_REQUESTS_PER_SECOND"}}, path="/reviews"))
    assert fetch_refused(bot).retry_after == 60  # a 429 that does not say how long: a minute
    assert bot.fetch(None).cursor
    fake.inject(Fault(200, raw=b"not json", path="/reviews"))
    with pytest.raises(TransientError):
        bot.fetch(None)
    monkeypatch.setenv("YELP_API_KEY", "revoked")
    with pytest.raises(FatalError):
        bot.fetch(None)
