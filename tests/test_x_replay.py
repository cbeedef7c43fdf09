"""X answers recorded by tweepy (its cassettes) and X's own reference examples (``tests/fixtures/x/``) replayed on
127.0.0.1 to the real tweepy ``Client`` through our connector: posts it cannot read are quarantined (the cursor
moves past them, none is lost), pagination, the cursor after a restart, long posts, partial errors."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.server import FakePlatform, Request, Response, route
from tests.conformance import fixture
from tests.review_helpers import config_for, connector_for

USER_ID = "783214"  # the account whose mentions tweepy recorded (@Twitter)
EMPTY = "dm_events.json"  # X's answer with nothing in it, as recorded: {"meta": {"result_count": 0}}


def answer(name: str) -> dict[str, Any]:
    return copy.deepcopy(fixture("x", name))


class ReplayX(FakePlatform):
    """Serves recorded answers of the mentions timeline: ``pages[pagination_token]``, and ``newer`` to a request
    with a ``since_id``."""

    platform = "x"

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str | None, dict[str, Any]] = {}
        self.newer: dict[str, Any] | None = None

    def serve(self, *pages: dict[str, Any]) -> None:
        """Serve ``pages`` in order, each at the ``next_token`` of the one before."""
        self.pages, token = {}, None
        for page in pages:
            self.pages[token] = page
            token = (page["body"].get("meta") or {}).get("next_token")

    @route("GET", r"/2/users/\d+/mentions")
    def mentions(self, request: Request) -> Any:
        if request.arg("since_id") and self.newer is not None:
            recorded = self.newer
        else:
            recorded = self.pages.get(request.arg("pagination_token"))
        if recorded is None:
            return Response(400, answer("docs_error.json")["body"])
        headers = {k: v for k, v in recorded.get("headers", {}).items() if k.startswith("x-rate-limit")}
        return Response(recorded["status"], recorded["body"], headers)

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "user_id": USER_ID,
            "username": "Twitter",
            "rotation": ["mentions"],
            "bearer_token": {"env": "X_BEARER_TOKEN"},
        }

    def environment(self) -> dict[str, str]:
        return {"X_BEARER_TOKEN": "AAAA-replay"}


@pytest.fixture
def replay():
    with ReplayX() as fake:
        yield fake


def page(*tweets: dict[str, Any], users: list[dict[str, Any]], **includes: Any) -> dict[str, Any]:
    """A mentions page of reference posts, newest first, in the envelope of X's own example."""
    recorded = answer("docs_mentions.json")
    ordered = sorted(tweets, key=lambda t: -int(t["id"]))
    recorded["body"] = {
        "data": ordered,
        "includes": {"users": users, **includes},
        "meta": {"newest_id": ordered[0]["id"], "oldest_id": ordered[-1]["id"], "result_count": len(ordered)},
    }
    return recorded


def test_recorded_mentions_x_could_not_give_us_are_quarantined_and_the_cursor_moves_on(
    tmp_path, replay, clock, monkeypatch
):
    recorded = answer("mentions.json")  # tweepy asked for the default fields only: no author, no time
    replay.serve(recorded, answer(EMPTY))
    x = connector_for(replay, clock, monkeypatch)
    store = Store.open(tmp_path / "bot.db")
    pipeline = Pipeline(config_for(tmp_path, replay), store, clock=clock, connectors={"x": x})
    result = pipeline.poll("x")
    assert (result.status, result.fetched, result.new, result.quarantined) == ("ok", 0, 0, 10)
    ids = [t["id"] for t in recorded["body"]["data"]]
    assert sorted(q.item.item_id for q in store.quarantined("x")) == sorted(ids)
    assert all("author_id" in q.item.reason for q in store.quarantined("x"))
    assert store.quarantine_counts() == {"x": 10}
    requests = replay.calls("GET", "/mentions$")
    assert [r.arg("pagination_token") for r in requests] == [None, recorded["body"]["meta"]["next_token"]]
    pipeline.close()

    # a second instance resumes after the newest of them, none of which is lost
    again = Pipeline(
        config_for(tmp_path, replay),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"x": connector_for(replay, clock, monkeypatch)},
    )
    replay.newer = answer(EMPTY)
    assert again.poll("x").status == "ok"
    assert replay.calls("GET", "/mentions$")[-1].arg("since_id") == recorded["body"]["meta"]["newest_id"]
    assert again.store.quarantine_counts() == {"x": 10}
    again.close()


def test_a_reference_mentions_page_becomes_mentions_field_by_field_and_pages_on(replay, clock, monkeypatch):
    recorded = answer("docs_mentions.json")
    replay.serve(recorded, answer(EMPTY))
    x = connector_for(replay, clock, monkeypatch)
    result = x.fetch(None)
    (m,) = result.mentions
    assert result.quarantined == []
    assert (m.platform, m.id, m.kind, m.rating, m.lang) == ("x", "1301573587187331074", "post", None, None)
    assert (m.author.id, m.author.handle, m.author.display_name) == ("1234567890", "developer", "Dev Person")
    assert m.author.reach is None  # this recording did not ask for the user's public_metrics
    assert m.text == "Hey @XDevelopers, love the new API!"
    assert m.url == "https://x.com/developer/status/1301573587187331074"
    assert m.created_at == datetime(2024, 1, 15, 10, 30, tzinfo=UTC)
    assert (m.parent_id, m.thread_id, m.edited, m.unanswerable) == (None, None, False, None)
    requests = replay.calls("GET", "/mentions$")
    assert requests[1].arg("pagination_token") == "t3buvdr5pujq9g7bggsnf3ep2ha28"
    assert "note_tweet" in requests[0].arg("tweet.fields").split(",")

    # a new connector resuming from that cursor asks since the newest id and gets only what is newer
    payload = answer("docs_payloads.json")[0]["body"]
    replay.newer = page(
        *payload["data"], users=payload["includes"]["users"], tweets=payload["includes"]["tweets"]
    )
    later = connector_for(replay, clock, monkeypatch).fetch(result.cursor)
    (reply,) = later.mentions
    assert replay.calls("GET", "/mentions$")[-1].arg("since_id") == m.id
    assert (reply.id, reply.kind, reply.parent_id, reply.thread_id) == (
        "1307025659294674945",
        "reply",
        "1304102743196356610",
        "1304102743196356610",
    )
    assert reply.author.handle == "TwitterDev" and reply.lang == "en"
    assert reply.author.reach == 513961  # includes.users[].public_metrics.followers_count, as recorded
    assert "public_metrics" in replay.calls("GET", "/mentions$")[-1].arg("user.fields").split(",")
    assert reply.text.endswith(
        "https://dev.to/twitterdev/understanding-the-new-tweet-payload-in-the-twitter-api-v2-1fg5"
    )
    assert reply.created_at == datetime(2020, 9, 18, 18, 36, 15, tzinfo=UTC)


def test_a_long_post_is_read_from_its_note_tweet(replay, clock, monkeypatch):
    recorded = answer("docs_note_tweet.json")
    replay.serve(recorded)
    x = connector_for(replay, clock, monkeypatch)
    (m,) = x.fetch(None).mentions
    note = recorded["body"]["data"][0]["note_tweet"]["text"]
    assert len(recorded["body"]["data"][0]["text"]) <= 280 < len(m.text)
    assert m.text == note.replace("https://t.co/Ab12Cd34Ef", "https://example.com/order-55120")
    assert "or my money back" in m.text and x.summoned(m)


def test_a_partial_error_in_a_200_keeps_the_page_and_sets_aside_only_what_cannot_be_read(
    replay, clock, monkeypatch
):
    posts = answer("docs_payloads.json")
    reply = posts[1][
        "body"
    ]  # a reply whose replied-to post was deleted: X leaves it out and says so in errors
    quote = posts[2]["body"]
    (problem,) = answer("docs_partial_errors.json")[0]["body"]["errors"]
    deleted = next(r["id"] for r in reply["data"][0]["referenced_tweets"])
    problem.update(
        resource_id=deleted, detail=f"Could not find tweet with referenced_tweets.id: [{deleted}]."
    )
    orphan = dict(quote["data"][0], id="1400000000000000000", author_id="99")  # its author is suspended
    recorded = page(
        reply["data"][0],
        quote["data"][0],
        orphan,
        users=reply["includes"]["users"] + quote["includes"]["users"],
    )
    recorded["body"]["errors"] = [problem]
    replay.serve(recorded)
    result = connector_for(replay, clock, monkeypatch).fetch(None)
    assert sorted(m.id for m in result.mentions) == sorted([reply["data"][0]["id"], quote["data"][0]["id"]])
    (aside,) = result.quarantined
    assert aside.item_id == orphan["id"] and "includes.users" in aside.reason
    got = {m.id: m for m in result.mentions}[reply["data"][0]["id"]]
    assert got.parent_id == deleted and got.raw["includes"]["tweets"] == []
