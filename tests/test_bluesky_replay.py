"""Answers the Bluesky AppView really gave (its own recorded views and the atproto SDK's test data,
``tests/fixtures/bluesky/``) replayed on 127.0.0.1 to the real atproto SDK through our connector, and the mentions
they become checked field by field."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.errors import FatalError, ReplyNotAllowed
from connectors.base import Secret
from connectors.bluesky import BlueskyConnector, BlueskySettings
from connectors.fakes.bluesky import FakeBluesky
from connectors.fakes.server import Fault, Request, Response
from tests.conformance import fixture

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # the AppView's recordings set every time to the epoch


class ReplayBluesky(FakeBluesky):
    """The fake (sessions, posting, chat), answering the recorded reads with their recorded bodies."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recorded: list[tuple[str, dict[str, str | None], Any]] = []

    def serve(self, nsid: str, body: Any, **query: str | None) -> None:
        """Answer ``nsid`` (with these query values, when given; ``None``: without that parameter) with ``body``,
        or what ``body(request)`` gives."""
        self.recorded.append((nsid, query, body))

    def _answer(self, request: Request) -> Response:
        for nsid, query, body in self.recorded:
            if request.path == f"/xrpc/{nsid}" and all(request.arg(k) == v for k, v in query.items()):
                did = self._auth(request)
                if isinstance(did, Response):
                    return did
                return Response(200, body(request) if callable(body) else body)
        return super()._answer(request)


@pytest.fixture
def replay(clock, monkeypatch):
    clock.set(datetime(1970, 1, 1, 0, 30, tzinfo=UTC))
    with ReplayBluesky(clock=clock) as fake:
        for key, value in fake.environment().items():
            monkeypatch.setenv(key, value)
        yield fake


def connector(fake: FakeBluesky, clock: Any, **overrides: Any) -> BlueskyConnector:
    table = {**fake.connector_settings(), "keywords": [], **overrides}
    table["app_password"] = Secret(env=table["app_password"]["env"])
    return BlueskyConnector(BlueskySettings(**table), clock=clock)


def recorded(name: str) -> Any:
    return copy.deepcopy(fixture("bluesky", name)["body"])


def posts_at(view: dict[str, Any]) -> Callable[[Request], dict[str, Any]]:
    """A getPosts answer: the recorded post ``view``, at each URI asked for (the AppView's snapshots number their
    records per test, so the quoting and the quoted post come from two recordings)."""
    return lambda request: {"posts": [{**view, "uri": uri} for uri in request.query.get("uris", [])]}


def test_recorded_notifications_field_by_field_with_alt_text_and_the_quoted_post(replay, clock):
    page = recorded("notifications_reasons.json")
    bob_again = next(p for p in recorded("get_posts.json")["posts"] if p["author"]["handle"] == "bob.test")
    replay.serve("app.bsky.notification.listNotifications", page)
    replay.serve("app.bsky.feed.getPosts", posts_at(bob_again))
    result = connector(replay, clock).fetch(None)
    indeed, of_course, bob, dan = page["notifications"]
    mentions = {m.id: m for m in result.mentions}
    assert list(mentions) == [n["uri"] for n in page["notifications"]] and result.quarantined == []
    first = mentions[indeed["uri"]]
    assert (first.platform, first.kind, first.text) == ("bluesky", "reply", "indeed")
    assert (first.author.handle, first.author.display_name, first.author.id) == (
        "carol.test",
        "",
        indeed["author"]["did"],
    )
    assert first.url == f"https://bsky.app/profile/carol.test/post/{indeed['uri'].rsplit('/', 1)[1]}"
    assert first.created_at == EPOCH and first.created_at.tzinfo == UTC
    assert (first.parent_id, first.thread_id) == (
        indeed["record"]["reply"]["parent"]["uri"],
        indeed["record"]["reply"]["root"]["uri"],
    )
    assert (first.lang, first.rating, first.edited, first.unanswerable) == (None, None, False, None)
    assert mentions[of_course["uri"]].thread_id == mentions[of_course["uri"]].parent_id  # a reply to the root
    # an image's alt text, and the quoted post, on their own labelled lines after the author's words
    assert mentions[bob["uri"]].text == (
        "hear that label_me label_me_2\nImage: ../dev-env/assets/key-landscape-small.jpg"
    )
    assert mentions[bob["uri"]].author.display_name == "bobby"
    assert mentions[bob["uri"]].raw["post"]["labels"][0]["val"] == "test-label"
    quote = mentions[dan["uri"]]
    assert (quote.kind, quote.parent_id, quote.thread_id) == ("post", None, dan["uri"])
    assert quote.text == "@alice.bluesky.xyz is the best\nQuoted post by @bob.test: bob back at it again!"
    (ask,) = replay.calls("GET", r"getPosts$")
    assert ask.query["uris"] == [dan["record"]["embed"]["record"]["uri"]]
    assert quote.raw["post"] == dan  # raw kept whole, with the quoted post the text was read from
    assert quote.raw["quoted"]["record"]["text"] == "bob back at it again!"


def test_an_image_only_quote_from_bsky_social_is_not_empty(replay, clock):
    thread = recorded("thread_embed_media.json")["thread"]
    replay.serve("app.bsky.feed.searchPosts", {"posts": [thread["post"]]})
    bsky = connector(replay, clock, keywords=["sdk"], backfill_hours=24 * 365 * 60)
    cursor = json.dumps({"turn": 1})  # the search's turn
    (mention,) = bsky.fetch(cursor).mentions
    assert thread["post"]["record"]["text"] == ""
    assert mention.text == "Quoted post by @test.marshal.dev: test"
    assert (mention.id, mention.author.handle, mention.lang) == (
        thread["post"]["uri"],
        "test.marshal.dev",
        "en",
    )
    assert mention.created_at == datetime(2023, 9, 28, 12, 49, 36, 735000, tzinfo=UTC)
    assert mention.url == "https://bsky.app/profile/test.marshal.dev/post/3kaheyt6vpc22"
    assert mention.raw["post"]["embed"] == thread["post"]["embed"]


def test_recorded_search_hits_read_their_resolved_quotes(replay, clock):
    page = recorded("search_posts.json")
    replay.serve("app.bsky.feed.searchPosts", page)
    bsky = connector(replay, clock, keywords=["alice"])
    mentions = {m.text.split("\n")[0]: m for m in bsky.fetch(json.dumps({"turn": 1})).mentions}
    quoting = mentions["yoohoo label_me"]
    quoted = page["posts"][1]["embed"]["record"]
    assert (
        quoting.text
        == f"yoohoo label_me\nQuoted post by @{quoted['author']['handle']}: {quoted['value']['text']}"
    )
    assert mentions["thanks bob"].kind == "reply"
    assert replay.calls("GET", r"getPosts$") == []  # a post view carries its quote resolved


def test_pages_and_the_cursor_after_a_restart(replay, clock):
    page = recorded("notifications_reasons.json")
    items = page["notifications"]
    replay.serve(
        "app.bsky.notification.listNotifications", {"notifications": items[:2], "cursor": "p2"}, cursor=None
    )
    replay.serve("app.bsky.notification.listNotifications", {"notifications": items[2:]}, cursor="p2")
    replay.serve("app.bsky.feed.getPosts", {"posts": []})
    first = connector(replay, clock, page_size=2).fetch(None)
    assert [m.id for m in first.mentions] == [n["uri"] for n in items]
    assert [r.arg("cursor") for r in replay.calls("GET", "listNotifications$")] == [None, "p2"]
    # a new connector, from the stored cursor: the same page again is nothing new; the recorded quote
    # notification (beside a repost and a follow, which were not asked for) is the only new one
    replay.recorded.clear()
    later = recorded("notifications_quote.json")
    replay.serve("app.bsky.notification.listNotifications", {"notifications": later["notifications"] + items})
    replay.serve("app.bsky.feed.getPosts", {"posts": []})  # the quoted post is gone
    again = connector(replay, clock, page_size=2).fetch(first.cursor)
    (quote,) = again.mentions
    assert (quote.id, quote.text, quote.raw["reason"]) == (
        later["notifications"][2]["uri"],
        "yoohoo label_me",
        "quote",
    )
    assert again.quarantined == []


def test_an_unreadable_notification_is_quarantined_and_the_rest_read(replay, clock):
    page = recorded("notifications_reasons.json")
    broken = copy.deepcopy(page["notifications"][0])
    del broken["author"]["handle"]
    no_time = {**page["notifications"][1], "indexedAt": None}
    replay.serve(
        "app.bsky.notification.listNotifications",
        {"notifications": [broken, no_time, *page["notifications"][2:]]},
    )
    replay.serve("app.bsky.feed.getPosts", {"posts": []})
    result = connector(replay, clock).fetch(None)
    assert [m.author.handle for m in result.mentions] == ["bob.test", "dan.test"]
    assert sorted(q.item_id for q in result.quarantined) == sorted([broken["uri"], no_time["uri"]])
    assert all(
        q.reason.split(":")[0] in {"notifications", "app.bsky.notification.listNotifications"}
        for q in result.quarantined
    )
    assert (
        json.loads(next(q.raw for q in result.quarantined if q.item_id == broken["uri"]))["record"]["text"]
        == "indeed"
    )


def test_a_refused_post_is_that_posts_refusal_and_a_refused_session_pauses(replay, clock):
    replay.add_post(author="jane.bsky.social", text="@acme.com my order is late")
    bsky = connector(replay, clock, backfill_hours=1)
    (mention,) = bsky.fetch(None).mentions
    for status, error in ((400, "InvalidRecord"), (403, "Forbidden"), (400, "InvalidSwap")):
        replay.inject(Fault(status, {"error": error, "message": "refused"}, path="createRecord"))
        with pytest.raises(ReplyNotAllowed, match=error):
            bsky.reply(mention, "Thank you", idempotency_key="k")
    replay.inject(Fault(400, {"error": "ConvoLocked", "message": "convo is locked"}, path="sendMessage"))
    with pytest.raises(ReplyNotAllowed, match="locked"):
        bsky.message(mention, "Hello", idempotency_key="m")
    replay.revoke()  # the session and the app password stop working: reading cannot go on, the connector pauses
    with pytest.raises(FatalError, match="login refused"):
        bsky.fetch(None)
