"""Google Business Profile: reviews in the reference's shape through the connector; the fake held to it."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest
import requests

from bot.clock import FakeClock
from connectors.fakes.google_business import TOKEN, FakeGoogleBusiness
from tests.conformance import assert_conforms, fixture
from tests.review_helpers import connector_for

RECORDED = fixture("google_business", "reviews_list.json")
REPLY = fixture("google_business", "review_reply.json")


@pytest.fixture
def clock():
    return FakeClock(datetime(2014, 10, 3, 12, 0, tzinfo=UTC))


@pytest.fixture
def fake():
    with FakeGoogleBusiness() as fake:
        for review in RECORDED["reviews"]:
            fake.reviews[review["reviewId"]] = copy.deepcopy(review)
        yield fake


def gbp(fake, clock, monkeypatch, **overrides):
    return connector_for(fake, clock, monkeypatch, **overrides)


def test_reference_reviews_become_mentions_field_by_field(fake, clock, monkeypatch):
    result = gbp(fake, clock, monkeypatch, page_size=1).fetch(None)
    assert len(fake.calls("GET", "/reviews$")) == 2  # paged by nextPageToken
    anonymous, jane = result.mentions
    assert (jane.id, jane.kind, jane.rating) == ("AbFvOqmL0kQ", "review", 2)
    assert (jane.author.handle, jane.author.display_name) == ("Jane Doe", "Jane Doe")
    assert jane.text == "The hub kept dropping Wi-Fi.\n\n(Translated by Google) …"
    assert jane.created_at == datetime(2014, 10, 2, 15, 1, 23, 45123, tzinfo=UTC)  # nanoseconds cut to micro
    assert jane.url == "https://business.google.com/reviews/l/5647382910"
    assert jane.edited is True  # updateTime after createTime
    assert (jane.parent_id, jane.thread_id, jane.lang, jane.unanswerable) == (None, None, None, None)
    assert (anonymous.id, anonymous.rating, anonymous.text) == ("AbFvOqmZ9xw", None, "")
    assert anonymous.author.handle == "A Google user" and anonymous.edited is False
    assert result.quarantined == []


def test_restart_from_the_cursor_gets_only_newer_reviews(fake, clock, monkeypatch):
    first = gbp(fake, clock, monkeypatch).fetch(None)
    clock.advance(minutes=5)
    new = fake.add_review(name="Kim", rating=5, comment="Great", created=clock.now())
    second = gbp(fake, clock, monkeypatch).fetch(first.cursor)
    assert [(m.id, m.rating, m.edited) for m in second.mentions] == [(new, 5, False)]


def test_a_review_without_times_is_quarantined_not_dropped(fake, clock, monkeypatch):
    fake.reviews["broken"] = {
        "name": "accounts/1029384756/locations/5647382910/reviews/broken",
        "reviewId": "broken",
    }
    result = gbp(fake, clock, monkeypatch).fetch(None)
    assert len(result.mentions) == 2
    [bad] = result.quarantined
    assert bad.item_id == "broken" and "KeyError" in bad.reason


def test_the_fake_serves_the_reference_shape(clock):
    with FakeGoogleBusiness() as fake:
        fake.add_review(name="Jo", rating=4, comment="Fine", created=clock.now())
        rid = fake.add_review(name="", rating=1, comment="Bad", created=clock.now(), anonymous=True)
        base = f"{fake.base_url}/v4/accounts/1029384756/locations/5647382910/reviews"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        answer = requests.get(
            base, params={"pageSize": 1, "orderBy": "updateTime desc"}, headers=headers, timeout=5
        )
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        assert "nextPageToken" in answer.json()
        assert_conforms(answer.json(), RECORDED)
        put = requests.put(f"{base}/{rid}/reply", json={"comment": "Sorry"}, headers=headers, timeout=5)
        assert put.status_code == 200
        assert_conforms(put.json(), REPLY)
        assert_conforms(
            requests.get(f"{base}/{rid}", headers=headers, timeout=5).json(), *RECORDED["reviews"]
        )
        denied = requests.get(base, headers={"Authorization": "Bearer wrong"}, timeout=5)
        assert denied.status_code == 401 and denied.json()["error"]["status"] == "UNAUTHENTICATED"
