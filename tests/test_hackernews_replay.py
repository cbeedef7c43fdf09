"""Hacker News: recorded Algolia hits through the real connector, and the fake held to the recorded answer."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bot.clock import FakeClock
from connectors.fakes.hackernews import FakeHackerNews
from tests.conformance import assert_conforms, fixture
from tests.review_helpers import connector_for

RECORDED = fixture("hackernews", "search_by_date.json")
STORY, COMMENT = RECORDED["hits"]


@pytest.fixture
def clock():
    return FakeClock(datetime(2016, 12, 8, 20, 0, tzinfo=UTC))


@pytest.fixture
def fake():
    with FakeHackerNews() as fake:
        for hit in RECORDED["hits"]:
            fake.add_hit(copy.deepcopy(hit))
        yield fake


def hn(fake, clock, monkeypatch, **overrides):
    table = {"queries": ["blogosphere"], "backfill_hours": 24 * 500, **overrides}
    return connector_for(fake, clock, monkeypatch, **table)


def test_recorded_hits_become_mentions_field_by_field(fake, clock, monkeypatch):
    result = hn(fake, clock, monkeypatch, hits_per_page=1).fetch(None)
    assert len(fake.calls("GET", "search_by_date")) == 2  # one hit a page
    comment, story = result.mentions  # oldest first
    assert comment.id == "9999999" and comment.kind == "comment"
    assert (comment.author.handle, comment.author.display_name, comment.author.id) == ("tcas", "tcas", "tcas")
    assert comment.url == "https://news.ycombinator.com/item?id=9999999"
    assert comment.created_at == datetime(2015, 8, 3, 21, 32, 1, tzinfo=UTC)
    assert (comment.parent_id, comment.thread_id) == ("9999826", "9998227")
    assert (comment.rating, comment.lang, comment.unanswerable, comment.edited) == (None, None, None, False)
    # HN's HTML read as text: paragraphs apart, entities decoded, the link's full address, code kept as written.
    assert comment.text == (
        "First point: the blogosphere map needs the backlinks.\n\n"
        'Second point: I don\'t think "influence" is what you > measure; see '
        "https://en.wikipedia.org/wiki/Network_science#Network_analysis\n\n"
        "  curl -s 'https://hn.algolia.com/api/v1/items/13133437'\n  | jq .children\n\n"
        "That gives the tree."
    )
    assert story.id == "13133437" and story.kind == "post"
    assert story.author.handle == "anigbrowl" and story.parent_id is None and story.thread_id == "13133437"
    assert story.created_at == datetime(2016, 12, 8, 19, 39, 7, tzinfo=UTC)
    assert story.text.startswith(
        "Ask HN: How would I visualize URL propagation in the blogosphere?\n\n"
        "I want to map the dynamics of the blogosphere"
    )
    assert "I don't know how to harvest" in story.text
    assert "directed graph.\n\nFor example, say PG" in story.text
    assert "the HN discussion and/or the original article" in story.text
    assert result.quarantined == []


def test_restart_from_the_cursor_gets_only_newer_hits(fake, clock, monkeypatch):
    first = hn(fake, clock, monkeypatch).fetch(None)
    clock.advance(minutes=10)
    newer = fake.add_item(author="pg", text="The blogosphere, again.\n\nTwo paragraphs.", created=clock.now())
    second = hn(fake, clock, monkeypatch).fetch(first.cursor)
    assert [m.id for m in second.mentions] == [newer]
    assert second.mentions[0].text == "The blogosphere, again.\n\nTwo paragraphs."
    assert hn(fake, clock, monkeypatch).fetch(second.cursor).mentions == []


def test_an_unreadable_hit_is_quarantined_and_the_others_still_come(fake, clock, monkeypatch):
    broken = copy.deepcopy(COMMENT)
    broken.update(objectID="10000001", comment_text="blogosphere <p>broken")
    del broken["author"]  # as a deleted comment's hit might come
    fake.add_hit(broken)
    result = hn(fake, clock, monkeypatch).fetch(None)
    assert {m.id for m in result.mentions} == {"9999999", "13133437"}
    [bad] = result.quarantined
    assert bad.item_id == "10000001" and "author" in bad.reason and '"objectID": "10000001"' in bad.raw
    # The next poll does not set it aside a second time; nothing else is returned again.
    again = hn(fake, clock, monkeypatch).fetch(result.cursor)
    assert again.mentions == [] and again.quarantined == []


def test_the_fake_serves_the_recorded_shape(clock):
    with FakeHackerNews() as fake:
        fake.add_item(
            author="ann", text="Acme's hub? It's fine.\n\nSee https://acme.example/", created=clock.now()
        )
        fake.add_item(
            author="bob", title="Show HN: Acme", text="We built it", comment=False, created=clock.now()
        )
        answer = requests.get(
            f"{fake.base_url}/api/v1/search_by_date",
            params={"query": "acme", "tags": "(story,comment)", "hitsPerPage": 1, "page": 0},
            timeout=5,
        )
        assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/json"
        body = answer.json()
        assert body["nbPages"] == 2 and len(body["hits"]) == 1
        assert_conforms(body, RECORDED)
        second = requests.get(
            f"{fake.base_url}/api/v1/search_by_date",
            params={"query": "acme", "page": 1, "hitsPerPage": 1},
            timeout=5,
        ).json()
        assert_conforms(second, RECORDED)
        kinds = {h["_tags"][0] for h in body["hits"] + second["hits"]}
        assert kinds == {"story", "comment"}
        comment = next(h for h in body["hits"] + second["hits"] if h["_tags"][0] == "comment")
        assert (
            comment["comment_text"]
            == "Acme&#x27;s hub? It&#x27;s fine.<p>See https:&#x2F;&#x2F;acme.example&#x2F;"
        )


def test_the_recorded_story_is_no_older_than_the_window_it_is_asked_for(fake, clock, monkeypatch):
    bot = hn(fake, clock, monkeypatch, backfill_hours=1)
    assert [m.id for m in bot.fetch(None).mentions] == ["13133437"]
    floor = int(fake.calls("GET")[-1].arg("numericFilters").split(">")[1])
    assert floor == int((clock.now() - timedelta(hours=2)).timestamp())
