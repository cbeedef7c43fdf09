"""App Store: a recorded public review feed and Apple's Connect API example through the connector; the fake held to
them."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bot.clock import FakeClock
from connectors.appstore import AppStoreConnector, AppStoreSettings
from connectors.base import Secret
from connectors.fakes.appstore import FakeAppStore
from tests.conformance import assert_conforms, fixture

FEED = fixture("appstore", "rss_customerreviews_jp.json")
API = fixture("appstore", "customer_reviews.json")


def connector(fake, clock, monkeypatch, *, api: bool) -> AppStoreConnector:
    table = {**fake.connector_settings(), "countries": ["jp"]}
    for key, value in fake.environment().items():
        monkeypatch.setenv(key, value)
    if api:
        table["private_key"] = Secret(env=table["private_key"]["env"])
    else:
        table.pop("private_key")
        table.update(key_id="", issuer_id="")
    return AppStoreConnector(AppStoreSettings(**table), clock=clock)


@pytest.fixture
def clock():
    return FakeClock(datetime(2020, 8, 8, 4, 0, tzinfo=UTC))


@pytest.fixture
def fake(clock):
    with FakeAppStore() as fake:
        for i, entry in enumerate(FEED["feed"]["entry"]):
            fake.add_recorded(copy.deepcopy(entry), created=clock.now() - timedelta(hours=i), country="jp")
        yield fake


def test_recorded_feed_entries_without_dates_become_mentions(fake, clock, monkeypatch):
    result = connector(fake, clock, monkeypatch, api=False).fetch(None)
    assert [
        (m.id, m.rating) for m in result.mentions
    ] == [  # oldest first: the feed's order, read from its end
        ("6281770599", 1),
        ("6282758619", 1),
        ("6290024630", 4),
    ]
    newest = result.mentions[-1]
    assert (newest.author.handle, newest.author.display_name) == ("ヤミ。", "ヤミ。")
    assert newest.author.id == "https://itunes.apple.com/jp/reviews/id638572168"
    assert newest.text.startswith("神アプリ\n\nとにかく周りの人皆んなが暖かく")
    assert newest.text.endswith("だけど不具合が少し多いので、星4で")
    assert newest.url == "https://apps.apple.com/jp/app/id1234567890?see-all=reviews"
    assert newest.created_at == clock.now()  # the entry carries no date: it is dated when first read
    assert (newest.kind, newest.lang, newest.parent_id, newest.edited) == ("review", None, None, False)
    assert result.quarantined == []


def test_undated_entries_are_not_returned_again_after_a_restart(fake, clock, monkeypatch):
    first = connector(fake, clock, monkeypatch, api=False).fetch(None)
    clock.advance(hours=3)  # past the watermark's look-back: only the ids in the cursor know them
    new = fake.add_review(
        nickname="ken", rating=2, title="落ちる", body="起動しない", created=clock.now(), country="jp"
    )
    second = connector(fake, clock, monkeypatch, api=False).fetch(first.cursor)
    assert [(m.id, m.text) for m in second.mentions] == [(new, "落ちる\n\n起動しない")]
    clock.advance(hours=3)
    before = len(fake.calls("GET"))
    assert connector(fake, clock, monkeypatch, api=False).fetch(second.cursor).mentions == []
    assert len(fake.calls("GET")) == before + 1  # a page of known entries ends the paging


def test_an_entry_without_a_rating_label_is_quarantined(fake, clock, monkeypatch):
    broken = copy.deepcopy(FEED["feed"]["entry"][0])
    broken["id"]["label"] = "6290029999"
    broken["im:rating"] = {"label": "four"}
    fake.add_recorded(broken, created=clock.now() + timedelta(minutes=1), country="jp")
    result = connector(fake, clock, monkeypatch, api=False).fetch(None)
    assert len(result.mentions) == 3
    [bad] = result.quarantined
    assert bad.item_id == "6290029999" and "ValueError" in bad.reason


def test_apples_connect_api_example_becomes_a_mention(monkeypatch):
    clock = FakeClock(datetime(2017, 11, 16, tzinfo=UTC))
    with FakeAppStore() as fake:
        [item] = copy.deepcopy(API["data"])
        fake.add_recorded(item, created=datetime(2017, 11, 15, 16, 10, 34, tzinfo=UTC))
        [m] = connector(fake, clock, monkeypatch, api=True).fetch(None).mentions
    assert (m.id, m.rating, m.kind) == ("00000028-b08c-0014-729e-fbd500000000", 5, "review")
    assert (m.author.handle, m.author.display_name) == ("Anne Johnson", "Anne Johnson")
    assert m.text == "Awesome!!!\n\nIt's a really fantastic app!"
    assert m.created_at == datetime(2017, 11, 15, 16, 10, 34, tzinfo=UTC)
    assert m.url == "https://apps.apple.com/app/id1234567890?see-all=reviews"


def test_the_fake_serves_the_recorded_shapes(clock, monkeypatch):
    with FakeAppStore(rss_page_size=2) as fake:
        for i in range(3):
            fake.add_review(
                nickname=f"n{i}", rating=i + 1, title="T", body="B", created=clock.now(), country="jp"
            )
        rss = requests.get(
            f"{fake.base_url}/jp/rss/customerreviews/page=1/id={fake.app_id}/sortby=mostrecent/json",
            timeout=5,
        )
        assert rss.status_code == 200 and rss.headers["Content-Type"] == "application/json"
        assert_conforms(rss.json(), FEED)
        bot = connector(fake, clock, monkeypatch, api=True)
        bot._authorize()
        api = bot.api.session.get(
            f"{fake.base_url}/v1/apps/{fake.app_id}/customerReviews", params={"limit": 2}
        )
        assert api.status_code == 200 and "links" in api.json() and "next" in api.json()["links"]
        assert_conforms(api.json(), API)
        assert api.headers["X-Rate-Limit"].startswith("user-hour-lim:3600;user-hour-rem:")
