"""The fake Reddit held to what reddit.com sent (praw's recorded cassettes in ``tests/fixtures/reddit/``): for each
endpoint the connector uses, every field the fake serves is one Reddit sent for that kind of thing, with the same
type; the status codes and the ``x-ratelimit-*`` headers are Reddit's."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from connectors.fakes.reddit import FakeReddit
from tests.conformance import assert_conforms, fixture


def recorded(*names: str) -> list[dict[str, Any]]:
    return [fixture("reddit", name) for name in names]


def things(kind: str, *names: str) -> list[dict[str, Any]]:
    """The recorded Listings ``names`` with only their children of ``kind`` (t1 comment, t3 post, t4 message):
    a comment is held to Reddit's comments, a post to its posts."""
    out = []
    for answer in recorded(*names):
        body = answer["body"]
        body = {
            **body,
            "data": {**body["data"], "children": [c for c in body["data"]["children"] if c["kind"] == kind]},
        }
        out.append(body)
    return out


COMMENTS = ("comments.json", "comments_2016.json", "overview.json", "removed.json", "user_comments.json")
POSTS = ("search.json", "new.json", "overview.json", "removed.json")
INBOX = ("inbox.json", "mentions.json", "mentions_page2.json")


@pytest.fixture(scope="module")
def fake():
    with FakeReddit() as fake:
        now = time.time()
        post = fake.add_submission(
            author="bo", title="Acme hub drops wifi", selftext="help", created_utc=now - 90
        )
        fake.add_comment(author="marta", body="u/acme_support my Acme order is late", created_utc=now - 80)
        fake.add_comment(author="cy", body="My Acme kettle leaks", parent=post, created_utc=now - 70)
        fake.customer_message(author="nina", body="Order 7781", created_utc=now - 60)
        fake.moderate(post, "lock")
        yield fake


def get(fake: FakeReddit, path: str, **params: Any) -> requests.Response:
    return requests.get(
        fake.base_url + path,
        params={"raw_json": 1, **params},
        headers={"Authorization": "bearer t"},
        timeout=5,
    )


def post(fake: FakeReddit, path: str, form: dict[str, str]) -> requests.Response:
    return requests.post(
        fake.base_url + path, data={"api_type": "json", **form}, params={"raw_json": 1}, timeout=5
    )


def children_of(answer: requests.Response, kind: str) -> list[dict[str, Any]]:
    return [c for c in answer.json()["data"]["children"] if c["kind"] == kind]


def assert_headers_like(answer: requests.Response, *names: str) -> None:
    """The fake's rate-limit headers are the ones Reddit sent on the same endpoint, in the same number format."""
    served = {k.lower(): v for k, v in answer.headers.items() if k.lower().startswith("x-ratelimit")}
    for one in recorded(*names):
        want = {k: v for k, v in one["headers"].items() if k.startswith("x-ratelimit")}
        assert set(served) == set(want), (names, served, want)
        for key, value in want.items():
            assert ("." in served[key]) == ("." in value), (key, served[key], value)


def test_the_token_endpoint(fake):
    answer = requests.post(
        fake.base_url + "/api/v1/access_token",
        data={"grant_type": "password", "username": "acme_support", "password": "x"},
        auth=("id", "secret"),
        timeout=5,
    )
    assert answer.status_code == 200
    assert_conforms(answer.json(), *(r["body"] for r in recorded("access_token.json")))
    assert_headers_like(answer, "access_token.json")  # www.reddit.com sends no rate-limit headers


def test_me(fake):
    answer = get(fake, "/api/v1/me")
    assert answer.status_code == 200
    assert_conforms(answer.json(), *(r["body"] for r in recorded("me.json")))
    assert_headers_like(answer, "me.json")


def test_the_inbox_mentions_and_messages(fake):
    for path in ("/message/inbox/", "/message/mentions"):
        answer = get(fake, path, limit=100)
        assert answer.status_code == 200
        mentions = children_of(answer, "t1")
        assert mentions and all(m["data"]["type"] == "username_mention" for m in mentions)
        assert all("permalink" not in m["data"] and "link_id" not in m["data"] for m in mentions)
        assert_conforms(
            {**answer.json(), "data": {**answer.json()["data"], "children": mentions}}, *things("t1", *INBOX)
        )
        assert_headers_like(answer, *INBOX)
    messages = children_of(get(fake, "/message/inbox/", limit=100), "t4")
    assert messages
    assert_conforms(messages, *(t["data"]["children"] for t in things("t4", "inbox.json", "sent.json")))


def test_sent_messages(fake):
    answer = get(fake, "/message/sent/", limit=100)
    assert answer.status_code == 200
    assert_conforms(answer.json(), *(r["body"] for r in recorded("sent.json")))


@pytest.mark.parametrize("path", ["/r/acme/search/", "/r/acme/new/"])
def test_posts(fake, path):
    answer = get(fake, path, q="acme", sort="new", restrict_sr="on", t="week", syntax="lucene", limit=100)
    assert answer.status_code == 200 and children_of(answer, "t3")
    assert_conforms(answer.json(), *things("t3", *POSTS))
    assert_headers_like(answer, "overview.json")  # the 2016 recordings kept no rate-limit headers
    locked = next(c["data"] for c in children_of(answer, "t3") if c["data"]["title"] == "Acme hub drops wifi")
    assert (locked["locked"], locked["archived"], locked["edited"]) == (True, False, False)


@pytest.mark.parametrize("path", ["/r/acme/comments/", "/user/cy/comments/"])
def test_comments(fake, path):
    answer = get(fake, path, limit=100, sort="new")
    assert answer.status_code == 200 and children_of(answer, "t1")
    assert_conforms(answer.json(), *things("t1", *COMMENTS))
    assert_headers_like(answer, "comments.json", "overview.json")
    comment = children_of(answer, "t1")[0]["data"]
    assert {"edited", "locked", "archived", "distinguished", "removal_reason", "banned_by"} <= set(comment)


def test_info(fake):
    name = children_of(get(fake, "/r/acme/comments/", limit=1), "t1")[0]["data"]["name"]
    answer = get(fake, "/api/info/", id=name)
    assert answer.status_code == 200
    assert_conforms(answer.json(), *things("t1", "deleted_comment.json", *COMMENTS))


def test_posting_a_reply_and_a_message(fake):
    parent = children_of(get(fake, "/r/acme/comments/", limit=1), "t1")[0]["data"]["name"]
    answer = post(fake, "/api/comment/", {"thing_id": parent, "text": "Thank you"})
    assert answer.status_code == 200 and answer.json()["json"]["errors"] == []
    assert_conforms(answer.json(), *(r["body"] for r in recorded("comment_reply.json")))
    assert_headers_like(answer, "comment_reply.json")
    answer = post(fake, "/api/compose/", {"to": "nina", "subject": "About your post", "text": "Hello"})
    assert answer.status_code == 200
    assert_conforms(answer.json(), *(r["body"] for r in recorded("compose.json")))
    assert_headers_like(answer, "compose.json")


def test_error_answers(fake):
    fake.unknown_users.add("ghost")
    answer = get(fake, "/user/ghost/comments/")
    assert answer.status_code == 404
    assert_conforms(
        answer.json(), *(r["body"] for r in recorded("error_404.json", "error_401.json", "error_403.json"))
    )
