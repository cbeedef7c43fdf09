"""The fake X held to what X sent (tweepy's recorded cassettes) and to X's own reference examples
(``tests/fixtures/x/``): for each endpoint the connector uses, asked as the connector asks, every field the fake
serves is one X sends there, with the same type; the status codes and the ``x-rate-limit-*`` headers are X's."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import requests
from requests_oauthlib import OAuth1

from connectors.fakes.x import (
    ACCESS_SECRET,
    ACCESS_TOKEN,
    BEARER,
    BRAND_ID,
    CONSUMER_KEY,
    CONSUMER_SECRET,
    FakeX,
)
from connectors.x import EXPANSIONS, TWEET_FIELDS, USER_FIELDS
from tests.conformance import assert_conforms, fixture

APP = {"Authorization": f"Bearer {BEARER}"}
USER = OAuth1(CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_SECRET)
READ = {
    "expansions": ",".join(EXPANSIONS),
    "tweet.fields": ",".join(TWEET_FIELDS),
    "user.fields": ",".join(USER_FIELDS),
    "max_results": 100,
}


def bodies(*names: str) -> list[Any]:
    """The recorded (or reference) answer bodies in ``names``; a file may hold a list of answers."""
    out = []
    for name in names:
        recorded = fixture("x", name)
        out += [r["body"] for r in (recorded if isinstance(recorded, list) else [recorded])]
    return out


# Every recorded or reference answer that carries posts, users and meta: a timeline or a search page.
PAGES = (
    "mentions.json",
    "search_recent.json",
    "users_tweets.json",
    "docs_mentions.json",
    "docs_search.json",
    "docs_payloads.json",
    "docs_conversation.json",
    "docs_note_tweet.json",
    "docs_partial_errors.json",
)
ERRORS = ("docs_error.json", "docs_unauthorized.json")


def users_seen() -> dict[str, Any]:
    """Every recorded user object, as a DM answer's ``includes.users`` (the same object X expands everywhere)."""
    users = [u for body in bodies(*PAGES) for u in (body.get("includes") or {}).get("users", [])]
    users += [body["data"] for body in bodies("me.json", "user_by_username.json")]
    return {"includes": {"users": users}}


def assert_headers_like(answer: requests.Response, name: str) -> None:
    """The fake's rate-limit headers are the ones X sent on that endpoint, each a whole number."""
    served = {k.lower(): v for k, v in answer.headers.items() if k.lower().startswith("x-rate-limit")}
    want = {k: v for k, v in fixture("x", name)["headers"].items() if k.startswith("x-rate-limit")}
    assert set(served) == set(want) and all(v.isdigit() for v in served.values()), (served, want)


@pytest.fixture
def fake(clock):
    with FakeX(clock=clock) as fake:
        ours = fake.post(
            "Acme", "Acme Hub 3 is here https://acme.example/hub3 #hub3", when=clock.now() - timedelta(days=1)
        )
        first = fake.post(
            "alice", "@Acme my order is late", name="Alice B", when=clock.now() - timedelta(hours=2)
        )
        fake.post(
            "bob",
            "@alice @Acme same here, acme please",
            reply_to=first,
            when=clock.now() - timedelta(hours=1),
        )
        fake.post("kim", "acme finally fixed it", quote=ours, when=clock.now() - timedelta(minutes=30))
        fake.post(
            "lee",
            "@Acme " + "the long story of my broken hub, " * 12,
            when=clock.now() - timedelta(minutes=10),
        )
        yield fake


def test_the_mentions_timeline(fake):
    answer = requests.get(f"{fake.base_url}/2/users/{BRAND_ID}/mentions", params=READ, headers=APP, timeout=5)
    assert answer.status_code == 200 and len(answer.json()["data"]) == 3
    assert_conforms(answer.json(), *bodies(*PAGES))
    assert_headers_like(answer, "mentions.json")
    long = next(t for t in answer.json()["data"] if "note_tweet" in t)
    assert len(long["text"]) <= 280 < len(long["note_tweet"]["text"])


def test_the_recent_search(fake):
    params = {**READ, "query": "acme -is:retweet"}
    answer = requests.get(f"{fake.base_url}/2/tweets/search/recent", params=params, headers=APP, timeout=5)
    assert answer.status_code == 200 and answer.json()["includes"]["tweets"]
    assert_conforms(answer.json(), *bodies(*PAGES))
    assert_headers_like(answer, "search_recent.json")


def test_a_deleted_quoted_post_is_a_partial_error_in_a_200(fake):
    quoted = next(t for t in fake.tweets.values() if t["author_id"] == BRAND_ID)
    del fake.tweets[quoted["id"]]
    params = {**READ, "query": "acme -is:retweet"}
    answer = requests.get(f"{fake.base_url}/2/tweets/search/recent", params=params, headers=APP, timeout=5)
    assert answer.status_code == 200 and answer.json()["data"]
    (problem,) = answer.json()["errors"]
    assert problem["resource_id"] == quoted["id"] and problem["resource_type"] == "tweet"
    assert_conforms(answer.json(), *bodies(*PAGES))


def test_our_own_timeline(fake):
    params = {"max_results": 100, "tweet.fields": "referenced_tweets,conversation_id"}
    answer = requests.get(f"{fake.base_url}/2/users/{BRAND_ID}/tweets", params=params, headers=APP, timeout=5)
    assert answer.status_code == 200
    assert_conforms(answer.json(), *bodies(*PAGES))
    assert_headers_like(answer, "users_tweets.json")


def test_users(fake):
    me = requests.get(f"{fake.base_url}/2/users/me", auth=USER, timeout=5)
    assert me.status_code == 200
    assert_conforms(me.json(), *bodies("me.json"))
    assert_headers_like(me, "me.json")
    by_name = requests.get(f"{fake.base_url}/2/users/by/username/Acme", headers=APP, timeout=5)
    assert by_name.status_code == 200
    assert_conforms(by_name.json(), *bodies("user_by_username.json"))
    missing = requests.get(f"{fake.base_url}/2/users/by/username/nobody", headers=APP, timeout=5)
    assert missing.status_code == 200 and missing.json()["errors"]
    assert_conforms(missing.json(), *bodies("user_by_username.json", "docs_partial_errors.json"))


def test_posting_a_reply_and_a_dm(fake):
    first = next(t for t in fake.tweets.values() if t["text"].startswith("@Acme my order"))
    body = {"text": "Thank you, Alice", "reply": {"in_reply_to_tweet_id": first["id"]}}
    answer = requests.post(f"{fake.base_url}/2/tweets", json=body, auth=USER, timeout=5)
    assert answer.status_code == 201 == fixture("x", "create_tweet.json")["status"]
    assert_conforms(answer.json(), *bodies("create_tweet.json"))
    assert_headers_like(answer, "create_tweet.json")
    answer = requests.post(
        f"{fake.base_url}/2/dm_conversations/with/{first['author_id']}/messages",
        json={"text": "Hello Alice"},
        auth=USER,
        timeout=5,
    )
    assert answer.status_code == 201 == fixture("x", "dm_create.json")["status"]
    assert_conforms(answer.json(), *bodies("dm_create.json"))
    assert_headers_like(answer, "dm_create.json")


def test_reading_dms(fake):
    first = next(t for t in fake.tweets.values() if t["text"].startswith("@Acme my order"))
    fake.customer_dm("alice", "Order 5521")
    params = {
        "dm_event.fields": "id,text,sender_id,created_at",
        "event_types": "MessageCreate",
        "expansions": "sender_id",
        "user.fields": "username,name",
        "max_results": 100,
    }
    answer = requests.get(f"{fake.base_url}/2/dm_events", params=params, auth=USER, timeout=5)
    assert answer.status_code == 200 and answer.json()["data"]
    assert_conforms(
        answer.json(),
        *bodies("dm_events.json", "dm_conversation_events.json", "docs_dm_events.json"),
        users_seen(),
    )
    assert_headers_like(answer, "dm_events.json")
    params = {
        "dm_event.fields": "id,text,sender_id,created_at",
        "event_types": "MessageCreate",
        "max_results": 100,
    }
    answer = requests.get(
        f"{fake.base_url}/2/dm_conversations/with/{first['author_id']}/dm_events",
        params=params,
        auth=USER,
        timeout=5,
    )
    assert answer.status_code == 200
    assert_conforms(answer.json(), *bodies("dm_conversation_events.json", "docs_dm_events.json"))
    assert_headers_like(answer, "dm_conversation_events.json")


def test_errors(fake):
    unauthorized = requests.get(f"{fake.base_url}/2/users/{BRAND_ID}/mentions", params=READ, timeout=5)
    assert unauthorized.status_code == 401
    assert_conforms(unauthorized.json(), *bodies(*ERRORS))
    bad = requests.get(
        f"{fake.base_url}/2/users/{BRAND_ID}/mentions", params={"max_results": 500}, headers=APP, timeout=5
    )
    assert bad.status_code == 400
    assert_conforms(bad.json(), *bodies(*ERRORS))
    fake.limits["GET /2/users/:id/mentions"] = 0
    spent = requests.get(f"{fake.base_url}/2/users/{BRAND_ID}/mentions", params=READ, headers=APP, timeout=5)
    assert spent.status_code == 429
    assert_conforms(spent.json(), *bodies(*ERRORS))
    assert_headers_like(spent, "mentions.json")
