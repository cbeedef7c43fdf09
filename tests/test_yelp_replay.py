"""Yelp: the reference review excerpt through the connector (Pacific time to UTC); the fake held to it."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
import requests

from bot.clock import FakeClock
from connectors.fakes.yelp import API_KEY, BUSINESS, FakeYelp
from tests.conformance import assert_conforms, fixture
from tests.review_helpers import connector_for

RECORDED = fixture("yelp", "reviews.json")


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 4, 19, 3, 0, tzinfo=UTC))


@pytest.fixture
def fake():
    with FakeYelp() as fake:
        fake.reviews.extend(copy.deepcopy(RECORDED["reviews"]))
        yield fake


def test_the_reference_review_becomes_a_mention_field_by_field(fake, clock, monkeypatch):
    result = connector_for(fake, clock, monkeypatch).fetch(None)
    [m] = result.mentions
    assert (m.id, m.kind, m.rating, m.lang) == ("gR9DTbKCON2g1Z23bWcEpQ", "review", 5, None)
    assert (m.author.handle, m.author.display_name, m.author.id) == (
        "Ella A.",
        "Ella A.",
        "W8UK02IDdRS2GL_66fuq6w",
    )
    assert m.text == "Best tacos in the Bay Area. The al pastor is incredible and the salsa bar is unmatched."
    assert m.created_at == datetime(2026, 4, 19, 2, 32, 11, tzinfo=UTC)  # 19:32:11 Pacific daylight time
    assert m.url == "https://www.yelp.com/biz/rickys-tacos-san-francisco"
    assert (m.parent_id, m.thread_id, m.edited, m.unanswerable) == (None, None, False, None)
    assert result.quarantined == []


def test_restart_and_an_unreadable_review(fake, clock, monkeypatch):
    first = connector_for(fake, clock, monkeypatch).fetch(None)
    clock.advance(minutes=5)
    new = fake.add_review(name="Sam", rating=2, text="Cold food", created=clock.now())
    broken = {**copy.deepcopy(RECORDED["reviews"][0]), "id": "bad-one", "time_created": "yesterday"}
    fake.reviews.append(broken)
    second = connector_for(fake, clock, monkeypatch).fetch(first.cursor)
    assert [(m.id, m.rating) for m in second.mentions] == [(new, 2)]
    [bad] = second.quarantined
    assert bad.item_id == "bad-one" and "ValueError" in bad.reason


def test_the_fake_serves_the_reference_shape(clock):
    with FakeYelp() as fake:
        for i in range(4):
            fake.add_review(name=f"U{i}", rating=i + 1, text="Acme " * 60, created=clock.now())
        answer = requests.get(
            f"{fake.base_url}/v3/businesses/{BUSINESS}/reviews",
            params={"limit": 20, "sort_by": "newest"},
            headers={"Authorization": f"Bearer {API_KEY}"},
            timeout=5,
        )
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        assert len(answer.json()["reviews"]) == 3  # excerpts of the newest three only
        assert_conforms(answer.json(), RECORDED)
        assert {"RateLimit-DailyLimit", "RateLimit-Remaining", "RateLimit-ResetTime"} <= set(answer.headers)
