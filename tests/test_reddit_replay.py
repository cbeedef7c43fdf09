"""Reddit answers recorded from reddit.com (praw's own cassettes, ``tests/fixtures/reddit/``) replayed on 127.0.0.1 to
the real praw through our connector: username mentions, pagination, the cursor after a restart, removed, deleted,
locked, archived and edited items, and an item that cannot be read."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.server import FakePlatform, Request, Response, route
from tests.conformance import fixture
from tests.review_helpers import config_for, connector_for

WEB = "https://www.reddit.com"


def answer(name: str) -> dict[str, Any]:
    """A recorded answer: ``{"status", "headers", "body", …}``."""
    return copy.deepcopy(fixture("reddit", name))


def listing(*children: dict[str, Any], after: str | None = None) -> dict[str, Any]:
    """A recorded Listing envelope (the inbox's) around recorded children."""
    body = answer("inbox.json")
    body["body"]["data"].update(children=list(children), dist=len(children), after=after)
    return body


def children(name: str) -> list[dict[str, Any]]:
    return answer(name)["body"]["data"]["children"]


class ReplayReddit(FakePlatform):
    """Serves recorded answers: ``pages[path pattern][after]`` is the answer for that page."""

    platform = "reddit"

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, dict[str | None, dict[str, Any]]] = {}

    def serve(self, path: str, *pages: dict[str, Any]) -> None:
        """Serve ``pages`` in order at ``path`` (a regex), each after the ``after`` of the one before."""
        chain, after = {}, None
        for page in pages:
            chain[after] = page
            after = page["body"]["data"]["after"]
        self.pages[path] = chain

    @route("POST", r"/api/v1/access_token/?")
    def token(self, request: Request) -> Any:
        return answer("access_token.json")["body"]

    @route("GET", r"/.*")
    def replay(self, request: Request) -> Any:
        for path, chain in self.pages.items():
            if re.fullmatch(path, request.path):
                recorded = chain.get(request.arg("after"))
                if recorded is None:
                    return Response(404, {"message": "Not Found", "error": 404})
                headers = {k: v for k, v in recorded["headers"].items() if k.startswith("x-ratelimit")}
                return Response(recorded["status"], recorded["body"], headers)
        return Response(404, {"message": "Not Found", "error": 404})

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "username": "acme_support",
            "client_id": {"env": "REDDIT_CLIENT_ID"},
            "client_secret": {"env": "REDDIT_CLIENT_SECRET"},
            "password": {"env": "REDDIT_PASSWORD"},
        }

    def environment(self) -> dict[str, str]:
        return {"REDDIT_CLIENT_ID": "id", "REDDIT_CLIENT_SECRET": "secret", "REDDIT_PASSWORD": "pw"}


@pytest.fixture
def replay():
    with ReplayReddit() as fake:
        yield fake


INBOX = r"/message/inbox/?"


def test_recorded_username_mentions_become_mentions_across_two_pages(replay, clock, monkeypatch):
    replay.serve(INBOX, answer("mentions.json"), answer("mentions_page2.json"))
    reddit = connector_for(replay, clock, monkeypatch)
    result = reddit.fetch(None)
    recorded = children("mentions.json") + children("mentions_page2.json")
    assert len(recorded) == 20 and result.quarantined == []
    # every one of the 20 recorded mentions (no permalink, no link_id) is a mention, oldest first
    assert sorted(m.id for m in result.mentions) == sorted(c["data"]["name"] for c in recorded)
    pages = replay.calls("GET", "^/message/inbox")
    assert [p.arg("after") for p in pages] == [None, "t1_ekfncs9"]

    m = next(m for m in result.mentions if m.id == "t1_ekftbox")
    assert (m.platform, m.kind, m.lang, m.rating) == ("reddit", "comment", None, None)
    assert (m.author.handle, m.author.display_name, m.author.id) == (
        "2Botter2Loop",
        "2Botter2Loop",
        "t2_3efd9zdo",
    )
    assert m.text.startswith("Hello /u/<USERNAME>,\n\nYour [submission](https://redd.it/bb1sep) was removed")
    assert (
        m.url
        == f"{WEB}/r/RemovedByBotter/comments/bb24k7/just_a_normal_girl_going_for_her_10th_class_exam/ekftbox/"
    )
    assert m.created_at == datetime(2019, 4, 9, 1, 45, 8, tzinfo=UTC)
    assert (m.parent_id, m.thread_id) == ("t3_bb24k7", "t3_bb24k7")
    assert (m.unanswerable, m.edited) == (None, False) and reddit.can_reply(m)
    assert m.raw["context"].endswith("/ekftbox/?context=3") and "permalink" not in m.raw
    # a reply's link opens our comment in the mention's thread
    assert reddit.reply_url(m, "t1_abc123") == f"{WEB}/comments/bb24k7/_/abc123/"
    for mention, child in zip(
        sorted(result.mentions, key=lambda x: x.id),
        sorted(recorded, key=lambda c: c["data"]["name"]),
        strict=True,
    ):
        data = child["data"]
        post = data["context"].split("/comments/")[1].split("/")[0]
        assert mention.thread_id == f"t3_{post}" and mention.parent_id == data["parent_id"]
        assert mention.url == WEB + data["context"].split("?")[0] and mention.text == data["body"]
        assert mention.author.handle == data["author"] and mention.created_at.tzinfo is UTC


def test_after_a_restart_the_stored_cursor_gets_only_the_newer_mentions(tmp_path, replay, clock, monkeypatch):
    everything = answer("mentions.json")
    earlier = copy.deepcopy(everything)
    del earlier["body"]["data"]["children"][:2]  # the inbox before the two newest mentions arrived
    earlier["body"]["data"]["after"] = None
    replay.serve(INBOX, earlier)
    reddit = connector_for(replay, clock, monkeypatch)  # (sets the fake credentials in the environment)
    config = config_for(tmp_path, replay)
    first = Pipeline(config, Store.open(tmp_path / "bot.db"), clock=clock, connectors={"reddit": reddit})
    assert first.poll("reddit").new == 14
    first.close()

    replay.serve(INBOX, everything)
    store = Store.open(tmp_path / "bot.db")
    again = Pipeline(
        config, store, clock=clock, connectors={"reddit": connector_for(replay, clock, monkeypatch)}
    )
    result = again.poll("reddit")
    assert (result.status, result.fetched, result.new) == ("ok", 2, 2)
    assert sorted(m.id for m in store.mentions() if m.id in ("t1_ekftbox", "t1_ekftage")) == [
        "t1_ekftage",
        "t1_ekftbox",
    ]
    assert len([m for m in store.mentions() if m.platform == "reddit"]) == 16
    again.close()


def test_removed_deleted_locked_archived_and_edited_items_are_marked(replay, clock, monkeypatch):
    removed_comment, removed_post = children("removed.json")
    deleted = children("deleted_comment.json")[0]
    normal, locked = children("overview.json")[:2]
    archived_edited, archived, *_ = children("search.json")
    replay.serve(INBOX, listing())
    replay.serve(r"/r/[^/]+/new/?", listing(removed_post, archived_edited, archived))
    replay.serve(r"/r/[^/]+/comments/?", listing(normal, locked, deleted, removed_comment))
    reddit = connector_for(replay, clock, monkeypatch, subreddits=["acme"])
    found = {m.id: m for m in reddit.fetch(None).mentions}
    expected = {
        normal["data"]["name"]: (None, False),
        locked["data"]["name"]: ("locked", False),
        deleted["data"]["name"]: ("deleted by the author", False),
        removed_comment["data"]["name"]: ("removed by the moderators", False),
        removed_post["data"]["name"]: ("removed by the moderators", False),
        archived_edited["data"]["name"]: ("archived", True),
        archived["data"]["name"]: ("archived", False),
    }
    assert {i: (m.unanswerable, m.edited) for i, m in found.items()} == expected
    assert archived_edited["data"]["edited"] == 1439447718.0 and archived["data"]["edited"] is False
    assert (
        found[deleted["data"]["name"]].url == f"{WEB}/comments/52o2fl/_/d7ltvl0/"
    )  # recorded without a permalink
    assert [i for i, m in found.items() if reddit.can_reply(m)] == [normal["data"]["name"]]
    assert found[deleted["data"]["name"]].author.handle == "[deleted]"
    post = found[archived["data"]["name"]]
    assert (post.kind, post.thread_id, post.url) == ("post", post.id, WEB + archived["data"]["permalink"])


def test_an_item_that_cannot_be_read_is_quarantined_and_the_rest_are_read(replay, clock, monkeypatch):
    page = answer("mentions.json")
    broken = page["body"]["data"]["children"][3]["data"]
    del broken["context"]  # an inbox comment with no link to its thread at all
    page["body"]["data"]["after"] = None
    replay.serve(INBOX, page)
    reddit = connector_for(replay, clock, monkeypatch)
    result = reddit.fetch(None)
    assert len(result.mentions) == 15 and broken["name"] not in {m.id for m in result.mentions}
    (item,) = result.quarantined
    assert (item.platform, item.item_id) == ("reddit", broken["name"]) and "context" in item.reason
    assert broken["id"] in item.raw
    assert broken["name"] in result.cursor  # kept aside, so the mark may move past it
    again = reddit.fetch(result.cursor)
    assert (again.mentions, again.quarantined) == ([], [])
