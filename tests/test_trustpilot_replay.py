"""Trustpilot: the reference reviews through the connector (stars, language, edits, status); the fake held to them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
import requests

from bot.clock import FakeClock
from connectors.fakes.trustpilot import API_KEY, BUSINESS_UNIT, FakeTrustpilot
from tests.conformance import assert_conforms, fixture
from tests.review_helpers import connector_for

RECORDED = fixture("trustpilot", "reviews_list.json")
UNIT = fixture("trustpilot", "business_unit.json")


@pytest.fixture
def clock():
    return FakeClock(datetime(2026, 4, 28, 12, 0, tzinfo=UTC))


@pytest.fixture
def fake():
    with FakeTrustpilot() as fake:
        for review in RECORDED["reviews"]:
            fake.reviews[review["id"]] = copy.deepcopy(review)
        yield fake


def test_reference_reviews_become_mentions_field_by_field(fake, clock, monkeypatch):
    result = connector_for(fake, clock, monkeypatch, page_size=1).fetch(None)
    assert [c.arg("page") for c in fake.calls("GET", "/reviews$")] == ["1", "2"]
    mette, john = result.mentions
    assert (john.id, john.kind, john.rating, john.lang) == ("5e3de1b45fb06f0001790b51", "review", 5, "en")
    assert (john.author.handle, john.author.display_name, john.author.id) == (
        "John D.",
        "John D.",
        "5e3de1b45fb06f0001790b50",
    )
    assert john.text == (
        "Excellent customer service\n\nI had a great experience with this company. The support team was very "
        "helpful and resolved my issue quickly."
    )
    assert john.created_at == datetime(2026, 4, 28, 10, 15, tzinfo=UTC)
    assert john.url == "https://www.trustpilot.com/reviews/5e3de1b45fb06f0001790b51"
    assert (john.edited, john.unanswerable, john.parent_id, john.thread_id) == (False, None, None, None)
    assert (mette.rating, mette.lang, mette.text) == (
        1,
        "da",
        "Never arrived\n\nOrdered two weeks ago, still nothing.",
    )
    assert mette.edited is True  # updatedAt after createdAt
    assert mette.unanswerable == "reported on Trustpilot"
    assert result.quarantined == []


def test_restart_from_the_cursor_gets_only_newer_reviews(fake, clock, monkeypatch):
    first = connector_for(fake, clock, monkeypatch).fetch(None)
    clock.advance(minutes=3)
    new = fake.add_review(name="Ola", stars=3, title="Ok", text="Fine", created=clock.now())
    second = connector_for(fake, clock, monkeypatch).fetch(first.cursor)
    assert [(m.id, m.rating, m.edited, m.unanswerable) for m in second.mentions] == [(new, 3, False, None)]


def test_a_review_without_stars_is_quarantined_not_dropped(fake, clock, monkeypatch):
    broken = copy.deepcopy(RECORDED["reviews"][0])
    broken.update(id="5e3de1b45fb06f0001790b99", stars=None)
    fake.reviews[broken["id"]] = broken
    result = connector_for(fake, clock, monkeypatch).fetch(None)
    assert len(result.mentions) == 2
    [bad] = result.quarantined
    assert bad.item_id == "5e3de1b45fb06f0001790b99" and "TypeError" in bad.reason


def test_the_fake_serves_the_reference_shape(clock):
    with FakeTrustpilot() as fake:
        for i in range(3):
            fake.add_review(name=f"N{i}", stars=i + 1, title="T", text="Acme", created=clock.now())
        base = f"{fake.base_url}/v1/business-units/{BUSINESS_UNIT}"
        page = requests.get(f"{base}/reviews", params={"perPage": 2}, headers={"apikey": API_KEY}, timeout=5)
        assert page.status_code == 200 and page.headers["Content-Type"] == "application/json"
        assert page.json()["links"][0]["rel"] == "next-page"
        assert_conforms(page.json(), RECORDED)
        assert_conforms(requests.get(base, headers={"apikey": API_KEY}, timeout=5).json(), UNIT)
        assert requests.get(f"{base}/reviews", headers={"apikey": "wrong"}, timeout=5).status_code == 401
