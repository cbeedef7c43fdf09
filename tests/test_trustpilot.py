"""Trustpilot connector against the loopback Trustpilot API."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.errors import FatalError, ReplyNotAllowed, TransientError
from connectors.fakes.server import Fault
from connectors.fakes.trustpilot import FakeTrustpilot
from tests.review_helpers import connector_for, fetch_refused


@pytest.fixture
def fake():
    with FakeTrustpilot() as fake:
        yield fake


def seed(fake, clock, n):
    return [
        fake.add_review(
            name=f"John {i}",
            stars=i % 5 + 1,
            title=f"T{i}",
            text=f"Acme {i}",
            created=clock.now() - timedelta(minutes=n - i),
        )
        for i in range(n)
    ]


def test_fetch_pages_maps_stars_and_text(fake, clock, monkeypatch):
    ids = seed(fake, clock, 7)
    bot = connector_for(fake, clock, monkeypatch, page_size=3)
    result = bot.fetch(None)
    assert [m.id for m in result.mentions] == ids
    assert [m.rating for m in result.mentions[:5]] == [1, 2, 3, 4, 5]
    assert result.mentions[0].text == "T0\n\nAcme 0"
    calls = fake.calls("GET", "/reviews$")
    assert [c.arg("page") for c in calls] == ["1", "2", "3"]
    assert calls[0].arg("orderBy") == "createdat.desc" and calls[0].header("apikey") == "fake-tp-apikey"


def test_reply_overwrites_company_reply_and_is_found(fake, clock, monkeypatch):
    [rid] = seed(fake, clock, 1)
    bot = connector_for(fake, clock, monkeypatch)
    review = bot.fetch(None).mentions[0]
    assert bot.find_reply(review) is None
    bot.reply(review, "Sorry John, please email care@acme.example", idempotency_key="a")
    bot.reply(review, "Edited", idempotency_key="b")
    assert fake.replies[rid]["text"] == "Edited"
    assert bot.find_reply(review) == f"{rid}/reply"
    assert fake.calls("POST")[0].json["authorBusinessUserId"] == "5e3de1b45fb06f0001791111"


def test_without_business_user_token_it_is_monitor_only(fake, clock, monkeypatch):
    seed(fake, clock, 1)
    bot = connector_for(fake, clock, monkeypatch, access_token=None)
    review = bot.fetch(None).mentions[0]
    assert not bot.can_reply(review)
    with pytest.raises(ReplyNotAllowed):
        bot.reply(review, "x", idempotency_key="a")


def test_restart_and_faults(fake, clock, monkeypatch):
    seed(fake, clock, 2)
    bot = connector_for(fake, clock, monkeypatch)
    fake.inject(Fault(503, path="/reviews"))
    assert fetch_refused(bot).retry_after is None
    fake.inject(Fault(200, raw=b"{", path="/reviews"))
    fetch_refused(bot)
    first = bot.fetch(None)
    assert len(first.mentions) == 2
    fake.inject(Fault(429, headers={"Retry-After": "5"}, path="/reviews"))
    assert fetch_refused(bot).retry_after == 5
    assert len(bot.fetch(None).mentions) == 2
    assert connector_for(fake, clock, monkeypatch).fetch(first.cursor).mentions == []
    fake.inject(Fault(500, path="/reviews", times=5))
    with pytest.raises(TransientError):
        bot.fetch(None)
    fake.faults.clear()
    monkeypatch.setenv("TRUSTPILOT_API_KEY", "wrong")
    with pytest.raises(FatalError):
        bot.fetch(None)
