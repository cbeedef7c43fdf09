"""Reddit through the real praw against the loopback Reddit: sources, pages, budget, faults, restarts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.clock import FakeClock
from bot.config import parse_config
from bot.errors import TransientError
from bot.pipeline import Pipeline
from bot.store import Store
from connectors.fakes.hackernews import FakeHackerNews
from connectors.fakes.server import Fault
from tests.review_helpers import connector_for


@pytest.fixture
def clock():
    return FakeClock(datetime.now(UTC))


@pytest.fixture
def reddit(fake_reddit, clock, monkeypatch):
    return connector_for(fake_reddit, clock, monkeypatch)


def config_for(tmp_path, *fakes):
    return parse_config(
        {
            "dry_run": False,
            "brand": {"name": "Acme", "contact_email": "care@acme.example", "timezone": "Europe/Amsterdam"},
            "store": {"path": str(tmp_path / "bot.db")},
            "connectors": {f.platform: f.connector_settings() for f in fakes},
        }
    )


def listing_requests(fake):
    return [r for r in fake.requests if r.method == "GET" and "access_token" not in r.path]


def test_comments_and_submissions_from_every_source(fake_reddit, reddit):
    summoned = fake_reddit.add_comment(author="ann", body="u/acme_support my hub is dead")
    post = fake_reddit.add_submission(author="bo", title="Acme refund taking forever", selftext="3 weeks now")
    comment = fake_reddit.add_comment(author="cy", body="same here, my Acme plug died too", parent=post)
    unrelated = fake_reddit.add_comment(author="di", body="nice weather today", parent=post)
    found = {m.id: m for m in reddit.fetch(None).mentions}
    assert {summoned, post, comment} <= set(found) and unrelated not in found
    assert found[comment].kind == "comment" and found[comment].parent_id == post
    assert found[post].kind == "post" and found[post].text == "Acme refund taking forever\n\n3 weeks now"


def test_pages_through_more_than_one_listing_page(fake_reddit, reddit):
    reddit.settings.keywords, reddit.settings.page_size = [], 250
    ids = [fake_reddit.add_comment(author=f"u{i}", body=f"u/acme_support order {i}?") for i in range(260)]
    found = reddit.fetch(None).mentions
    assert len(found) == 250 and set(m.id for m in found) <= set(ids)
    assert len([r for r in listing_requests(fake_reddit) if "mentions" in r.path]) == 3


def test_cursor_after_a_restart_fetches_nothing_twice(fake_reddit, clock, monkeypatch):
    fake_reddit.add_comment(author="ann", body="u/acme_support where is my order?")
    cursor = connector_for(fake_reddit, clock, monkeypatch).fetch(None).cursor
    again = connector_for(fake_reddit, clock, monkeypatch)
    assert again.fetch(cursor).mentions == []
    late = fake_reddit.add_comment(author="bo", body="u/acme_support mine too")
    assert [m.id for m in again.fetch(cursor).mentions] == [late]


def test_quiet_polls_make_one_request_per_source(fake_reddit, reddit):
    cursor = reddit.fetch(None).cursor
    before = len(listing_requests(fake_reddit))
    for _ in range(3):
        result = reddit.fetch(cursor)
        assert result.mentions == [] and result.cursor == cursor
    assert len(listing_requests(fake_reddit)) - before == 3 * 3  # inbox, search:acme, comments


def test_a_spent_budget_waits_for_the_reset_through_the_clock(fake_reddit, reddit, clock):
    fake_reddit.ratelimit_remaining = 2.0
    reddit.fetch(None)
    before = len(fake_reddit.requests)
    with pytest.raises(TransientError, match="budget") as caught:
        reddit.fetch(None)
    assert len(fake_reddit.requests) == before and caught.value.retry_after == pytest.approx(600)
    clock.advance(seconds=601)
    fake_reddit.ratelimit_remaining = 996.0
    reddit.fetch(None)
    assert clock.slept == []


def test_429_waits_for_the_announced_reset(fake_reddit, reddit):
    reddit.check()
    fake_reddit.inject(
        Fault(429, {"message": "Too Many Requests", "error": 429}, headers={"x-ratelimit-reset": "240"})
    )
    with pytest.raises(TransientError, match="429") as caught:
        reddit.fetch(None)
    assert caught.value.retry_after == pytest.approx(240)


def test_faults_are_survived_and_other_connectors_keep_running(tmp_path, fake_reddit, clock, monkeypatch):
    with FakeHackerNews() as hn:
        connectors = {
            "reddit": connector_for(fake_reddit, clock, monkeypatch),
            "hackernews": connector_for(hn, clock, monkeypatch),
        }
        pipe = Pipeline(
            config_for(tmp_path, fake_reddit, hn),
            Store.open(tmp_path / "bot.db"),
            clock=clock,
            connectors=connectors,
        )
        connectors["reddit"].check()
        fake_reddit.add_comment(author="sol", body="u/acme_support my order is late")
        for fault in (
            Fault(503, {"message": "Service Unavailable"}, path="mentions", times=4),
            Fault(disconnect=True, path="mentions", times=4),
            Fault(200, raw=b'{"kind": "Listing", "data": {"children": [', path="mentions"),
        ):
            fake_reddit.inject(fault)
            results = pipe.run_cycle()
            assert [(r.connector, r.status) for r in results] == [("reddit", "error"), ("hackernews", "ok")]
            fake_reddit.faults.clear()
            clock.advance(hours=2)
        assert pipe.poll("reddit").new == 1
        errors = [r["error"] for r in pipe.store.runs("reddit") if r["status"] == "error"]
        assert len(errors) == 3 and all(e.startswith("reddit: ") for e in errors)
        pipe.close()


def test_a_refused_login_pauses_reddit_and_is_reported_once(tmp_path, fake_reddit, clock, monkeypatch):
    reddit = connector_for(fake_reddit, clock, monkeypatch, username="someone_else")
    events = []
    pipe = Pipeline(
        config_for(tmp_path, fake_reddit),
        Store.open(tmp_path / "bot.db"),
        clock=clock,
        connectors={"reddit": reddit},
        on_event=lambda kind, **data: events.append(kind),
    )
    assert pipe.poll("reddit").status == "fatal"
    for _ in range(3):
        clock.advance(minutes=10)
        assert pipe.poll("reddit").status == "paused"
    assert events.count("connector_paused") == 1
    assert len(fake_reddit.calls("POST", "access_token")) == 1
    pipe.close()
