"""The Meta fake held to Meta's reference examples (tests/fixtures/facebook, tests/fixtures/instagram): every field
it serves is one the reference shows, with the same type; errors and usage headers alike. And the reference
answers read by the connectors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bot.clock import FakeClock
from connectors.fakes.meta import IG_USER_ID, PAGE_ID, TOKEN, FakeFacebook
from connectors.meta import FacebookConnector, InstagramConnector
from tests.conformance import assert_conforms, fixture


@pytest.fixture
def busy():
    clock = FakeClock(datetime(2026, 12, 2, 12, 0, tzinfo=UTC))
    with FakeFacebook(clock=clock) as fake:
        post = fake.page_post("Meet the Acme Hub", at=clock.now() - timedelta(hours=2))
        fake.page_post("Where is my order?", author="Jane Doe", at=clock.now() - timedelta(hours=1))
        top = fake.comment(post, "Bob Smith", "Mine broke", at=clock.now() - timedelta(minutes=30))
        fake.comment(post, "Acme", "Sorry Bob!", parent=top, at=clock.now() - timedelta(minutes=20))
        media = fake.ig_post("The Acme Speaker", at=clock.now() - timedelta(hours=1))
        first = fake.ig_comment(media, "jane_doe", "Crackles", at=clock.now() - timedelta(minutes=10))
        fake.ig_comment(media, "bob", "same", parent=first, at=clock.now() - timedelta(minutes=5))
        fake.ig_tag("dana", "Loving my @acme speaker", at=clock.now())
        fake.customer_writes("2400000000000001", "Jane Doe", "Hi, my order has not arrived", at=clock.now())
        fake.top, fake.first = top, first
        yield fake


def graph(fake, method, path, **params):
    params["access_token"] = params.get("access_token", TOKEN)
    body = params.pop("json", None)
    data = params.pop("data", None)
    return requests.request(
        method, f"{fake.base_url}/v21.0/{path}", params=params, json=body, data=data, timeout=5
    )


def test_facebook_answers_conform(busy):
    feed = graph(busy, "GET", f"{PAGE_ID}/feed", limit=1)
    assert feed.status_code == 200 and "next" in feed.json()["paging"]
    assert_conforms(feed.json(), fixture("facebook", "feed.json"))
    post = next(iter(busy.posts))
    comments = graph(busy, "GET", f"{post}/comments")
    assert comments.status_code == 200 and any("parent" in c for c in comments.json()["data"])
    assert_conforms(comments.json(), fixture("facebook", "comments.json"))
    created = graph(busy, "POST", f"{busy.top}/comments", data={"message": "Thanks"})
    assert_conforms(created.json(), fixture("facebook", "comment_created.json"))
    sent = graph(
        busy,
        "POST",
        f"{PAGE_ID}/messages",
        json={"recipient": {"comment_id": busy.top}, "message": {"text": "Hi"}},
    )
    assert sent.status_code == 200
    assert_conforms(sent.json(), fixture("facebook", "send_api.json"))
    conversations = graph(busy, "GET", f"{PAGE_ID}/conversations", platform="messenger")
    assert conversations.json()["data"]
    assert_conforms(conversations.json(), fixture("facebook", "conversations.json"))
    assert_conforms(
        graph(busy, "GET", "debug_token", input_token=TOKEN).json(), fixture("facebook", "debug_token.json")
    )
    assert_conforms(graph(busy, "GET", PAGE_ID).json(), fixture("facebook", "page.json"))


def test_instagram_answers_conform(busy):
    media = graph(busy, "GET", f"{IG_USER_ID}/media")
    assert_conforms(media.json(), fixture("instagram", "media.json"))
    (item,) = media.json()["data"]
    comments = graph(busy, "GET", f"{item['id']}/comments")
    assert any("replies" in c for c in comments.json()["data"])
    assert_conforms(comments.json(), fixture("instagram", "comments.json"))
    reply = graph(busy, "POST", f"{busy.first}/replies", data={"message": "Sorry!"})
    assert_conforms(reply.json(), fixture("instagram", "reply_created.json"))
    tags = graph(busy, "GET", f"{IG_USER_ID}/tags")
    assert_conforms(tags.json(), fixture("instagram", "tags.json"))
    mention = graph(
        busy,
        "POST",
        f"{IG_USER_ID}/mentions",
        data={"media_id": tags.json()["data"][0]["id"], "message": "Hi"},
    )
    assert_conforms(mention.json(), fixture("instagram", "reply_created.json"))
    assert_conforms(graph(busy, "GET", IG_USER_ID).json(), fixture("instagram", "user.json"))


def test_errors_and_usage_headers_conform(busy):
    recorded = fixture("facebook", "errors.json")
    refused = graph(busy, "GET", f"{PAGE_ID}/feed", access_token="wrong")
    missing = graph(busy, "GET", "1_2/comments")
    outside = graph(
        busy, "POST", f"{PAGE_ID}/messages", json={"recipient": {"id": "999"}, "message": {"text": "Hi"}}
    )
    assert [a.json()["error"]["code"] for a in (refused, missing, outside)] == [190, 100, 10]
    assert outside.json()["error"]["error_subcode"] == 2018278
    for answer in (refused, missing, outside):
        assert_conforms(answer.json(), *[e["body"] for e in recorded])
    headers = fixture("facebook", "usage_headers.json")
    busy.buc = [
        {
            "type": "pages",
            "call_count": 5,
            "total_cputime": 1,
            "total_time": 1,
            "estimated_time_to_regain_access": 0,
        }
    ]
    answer = graph(busy, "GET", f"{PAGE_ID}/feed")
    assert_conforms(json.loads(answer.headers["X-App-Usage"]), headers["x-app-usage"])
    # keyed by the business object's id (the Page's here), each a list of usage entries
    buc = json.loads(answer.headers["X-Business-Use-Case-Usage"])
    assert list(buc) == [PAGE_ID]
    assert_conforms(buc[PAGE_ID], *headers["x-business-use-case-usage"].values())


def test_the_reference_answers_read_by_the_connectors():
    fb = FacebookConnector(FacebookConnector.Settings(page_id="1353269864728879"))
    feed = fixture("facebook", "feed.json")["data"]
    visitor = fb.post_mention(feed[1])
    assert (visitor.author.handle, visitor.kind, visitor.text) == ("Jane Doe", "post", feed[1]["message"])
    assert fb.is_own(fb.post_mention(feed[0]).author)
    ours = fb.comment_mention(fixture("facebook", "comments.json")["data"][1])
    assert (
        ours.kind == "reply"
        and ours.parent_id == "1809938745705498_1809941802371859"
        and fb.is_own(ours.author)
    )
    ig = InstagramConnector(
        InstagramConnector.Settings(ig_user_id="17841405822304914", page_id="1", username="acme")
    )
    comment = fixture("instagram", "comments.json")["data"][0]
    first = ig.comment_mention(comment)
    assert (first.author.handle, first.text, first.kind) == ("jane_doe", "This is awesome!", "comment")
    tag = ig.tag_mention(fixture("instagram", "tags.json")["data"][0])
    assert tag.id == "media:18038143816030069" and tag.author.handle == "dana"
    dm = fb.dm_mention(fixture("facebook", "conversations.json")["data"][0]["messages"]["data"][0])
    assert dm.kind == "dm" and dm.author.id == "2400000000000001"
