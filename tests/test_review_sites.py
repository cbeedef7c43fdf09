"""Every review-site connector: its fake's table passes the real config loader, and the demo samples come through."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources

import pytest

from bot.clock import FakeClock
from bot.config import parse_config
from connectors import load
from connectors.fakes import load_fake

SITES = ["appstore", "googleplay", "google_business", "trustpilot", "yelp", "feed", "hackernews"]


def samples(name: str) -> list[dict]:
    path = resources.files("connectors.fakes") / "samples" / f"{name}.jsonl"
    return (
        [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.is_file() else []
    )


@pytest.mark.parametrize("name", SITES)
def test_fake_table_is_valid_config_and_samples_are_fetched(name, monkeypatch):
    fake = load_fake(name)()
    with fake:
        for key, value in fake.environment().items():
            monkeypatch.setenv(key, value)
        config = parse_config(
            {
                "brand": {"name": "Acme", "contact_email": "care@acme.example"},
                "connectors": {name: fake.connector_settings()},
            }
        )
        cls = load(name)
        clock = FakeClock(datetime.now(UTC))  # the samples are dated by wall time
        bot = cls(config.connectors[name], clock=clock)
        assert bot.check()
        posts = samples(name) or [
            {"author": "sam", "name": "Sam", "text": "Acme is great", "rating": 5, "minutes_ago": 5}
        ]
        for post in posts:
            fake.publish(post)
        mentions = bot.fetch(None).mentions
        assert len(mentions) == len(posts)
        if name in ("appstore", "googleplay", "google_business", "trustpilot", "yelp"):
            assert sorted(m.rating for m in mentions) == sorted(int(p["rating"]) for p in posts)
            assert {m.kind for m in mentions} == {"review"}
        assert cls.rules.can_message is False
        assert cls.rules.can_reply is (name in ("appstore", "googleplay", "google_business", "trustpilot"))
        if cls.rules.can_reply:
            assert cls.rules.one_reply_per_item


def test_demo_samples_cover_all_ratings():
    for name in ("appstore", "googleplay"):
        assert {p["rating"] for p in samples(name)} == {1, 2, 3, 4, 5}, name
    assert len(samples("feed")) >= 8
