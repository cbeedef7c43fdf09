"""Google Play: Google's reference reviews through google-api-python-client and the connector; the fake held to the
reference and to the discovery document the client library ships."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import pytest
import requests

from bot.clock import FakeClock
from bot.errors import FatalError, ReplyNotAllowed, TransientError
from connectors.fakes.googleplay import TOKEN, FakeGooglePlay
from connectors.googleplay import REPLY_ERRORS, STATUS_ERRORS
from tests.conformance import assert_conforms, fixture
from tests.review_helpers import connector_for

RECORDED = fixture("googleplay", "reviews_list.json")
REPLY = fixture("googleplay", "reviews_reply.json")
DISCOVERY = json.loads(
    (
        resources.files("googleapiclient") / "discovery_cache" / "documents" / "androidpublisher.v3.json"
    ).read_text()
)


def example(schema: dict[str, Any]) -> Any:
    """An instance of a discovery-document schema with every property filled in by its type."""
    if "$ref" in schema:
        return example(DISCOVERY["schemas"][schema["$ref"]])
    kind = schema.get("type")
    if kind == "object":
        return {name: example(prop) for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(schema["items"])]
    return {"string": "", "integer": 0, "number": 0.5, "boolean": True}[kind]


@pytest.fixture
def clock():
    return FakeClock(datetime(2015, 10, 2, tzinfo=UTC))


@pytest.fixture
def fake():
    with FakeGooglePlay(max_results=1) as fake:
        for review in RECORDED["reviews"]:
            fake.reviews[review["reviewId"]] = copy.deepcopy(review)
        yield fake


def play(fake, clock, monkeypatch):
    # Google's reference has a review of 1974 (its own typo): the window reaches back that far.
    return connector_for(fake, clock, monkeypatch, backfill_hours=24 * 366 * 45)


def test_reference_reviews_become_mentions_field_by_field(fake, clock, monkeypatch):
    result = play(fake, clock, monkeypatch).fetch(None)
    assert len(fake.calls("GET", "/reviews$")) == 2  # paged by tokenPagination, one review a page
    john, jane = result.mentions
    assert (jane.id, jane.kind, jane.rating, jane.lang, jane.edited) == ("12345678", "review", 5, None, False)
    assert (jane.author.handle, jane.author.display_name, jane.author.id) == (
        "Jane Bloggs",
        "Jane Bloggs",
        "",
    )
    assert jane.text == "This is the best app ever!"
    assert jane.created_at == datetime.fromtimestamp(1443676826, tz=UTC)
    assert jane.url == "https://play.google.com/store/apps/details?id=com.acme.app&reviewId=12345678"
    assert (jane.parent_id, jane.thread_id, jane.unanswerable) == (None, None, None)
    assert (john.id, john.rating, john.lang, john.text) == ("11223344", 5, "en", "I love using this app!")
    assert john.created_at == datetime.fromtimestamp(141582134, tz=UTC)
    assert john.edited is False  # our reply (2015) came after the review's last change
    assert result.quarantined == []


def test_a_review_changed_after_our_reply_is_edited(fake, clock, monkeypatch):
    review = fake.reviews["11223344"]
    review["comments"][0]["userComment"]["lastModified"]["seconds"] = "1443600000"
    mentions = {m.id: m for m in play(fake, clock, monkeypatch).fetch(None).mentions}
    assert mentions["11223344"].edited is True and mentions["12345678"].edited is False


def test_restart_from_the_cursor_gets_only_newer_reviews(fake, clock, monkeypatch):
    first = play(fake, clock, monkeypatch).fetch(None)
    clock.advance(minutes=5)
    new = fake.add_review(author="Ana", rating=2, title="Crashes", text="On start", modified=clock.now())
    second = play(fake, clock, monkeypatch).fetch(first.cursor)
    assert [(m.id, m.text, m.rating) for m in second.mentions] == [(new, "Crashes\n\nOn start", 2)]


def test_a_review_without_a_user_comment_is_quarantined_not_dropped(fake, clock, monkeypatch):
    fake.reviews["gp:broken"] = {
        "reviewId": "gp:broken",
        "authorName": "X",
        "comments": [{"developerComment": RECORDED["reviews"][1]["comments"][1]["developerComment"]}],
    }
    result = play(fake, clock, monkeypatch).fetch(None)
    assert {m.id for m in result.mentions} == {"12345678", "11223344"}
    [bad] = result.quarantined
    assert bad.item_id == "gp:broken" and bad.reason == "ValueError: the review has no user comment"


def test_errors_are_mapped_by_table():
    assert STATUS_ERRORS[401] is FatalError and STATUS_ERRORS.get(400, TransientError) is TransientError
    assert REPLY_ERRORS[400] is ReplyNotAllowed and REPLY_ERRORS[404] is ReplyNotAllowed


def test_a_reply_to_a_review_gone_is_refused_for_that_reply_only(fake, clock, monkeypatch):
    bot = play(fake, clock, monkeypatch)
    [john, _] = bot.fetch(None).mentions
    del fake.reviews[john.id]
    with pytest.raises(ReplyNotAllowed):
        bot.reply(john, "Thank you, John", idempotency_key="k")


def test_the_fake_serves_the_reference_shape(clock):
    with FakeGooglePlay(max_results=2) as fake:
        for i in range(3):
            fake.add_review(author=f"A{i}", rating=i + 1, text="Acme", title="T" if i else "")
        base = f"{fake.base_url}/androidpublisher/v3/applications/com.acme.app/reviews"
        headers = {"Authorization": f"Bearer {TOKEN}"}
        answer = requests.get(base, params={"maxResults": 2}, headers=headers, timeout=5)
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        body = answer.json()
        assert "nextPageToken" in body["tokenPagination"]
        listing = example({"$ref": "ReviewsListResponse"})
        assert_conforms(body, RECORDED, listing)
        rid = body["reviews"][0]["reviewId"]
        got = requests.get(f"{base}/{rid}", headers=headers, timeout=5).json()
        assert_conforms(got, *RECORDED["reviews"], example({"$ref": "Review"}))
        reply = requests.post(f"{base}/{rid}:reply", json={"replyText": "Thanks"}, headers=headers, timeout=5)
        assert reply.status_code == 200
        assert_conforms(reply.json(), REPLY, example({"$ref": "ReviewsReplyResponse"}))
        refused = requests.post(
            f"{base}/{rid}:reply", json={"replyText": "x" * 351}, headers=headers, timeout=5
        )
        assert refused.status_code == 400 and refused.json()["error"]["status"] == "INVALID_ARGUMENT"
