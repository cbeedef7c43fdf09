"""Capabilities are declared by each connector and held to its methods and reply rules when the class is defined."""

from __future__ import annotations

import pytest

from bot.models import FetchResult, Mention, ReplyRules
from connectors import REGISTRY, load
from connectors.appstore import AppStoreConnector
from connectors.base import Capability, Connector, capability_problems
from connectors.fakes.appstore import FakeAppStore
from connectors.fakes.x import FakeX
from connectors.x import XSettings
from tests.review_helpers import connector_for
from tests.test_appstore import connector as appstore_connector

FULL = frozenset(Capability)
REVIEW_SITE = frozenset({Capability.REPLY, Capability.RECONCILE})


@pytest.mark.parametrize(
    ("platform", "declared"),
    [
        ("reddit", FULL),
        ("x", FULL),
        ("mastodon", FULL),
        ("bluesky", FULL),
        ("youtube", REVIEW_SITE),
        ("facebook", FULL),
        ("instagram", FULL),
        ("appstore", REVIEW_SITE),
        ("googleplay", REVIEW_SITE),
        ("google_business", REVIEW_SITE),
        ("trustpilot", REVIEW_SITE),
        ("yelp", frozenset()),
        ("hackernews", frozenset()),
        ("feed", frozenset()),
        ("file", frozenset()),
    ],
)
def test_every_connector_declares_what_it_does(platform, declared):
    cls = load(platform)
    assert cls.capabilities == declared
    assert capability_problems(cls) == []


def test_the_table_above_covers_every_registered_connector():
    assert set(REGISTRY) == {
        "reddit", "x", "mastodon", "bluesky", "appstore", "googleplay", "google_business", "trustpilot",
        "yelp", "hackernews", "feed", "file", "youtube", "facebook", "instagram",
    }  # fmt: skip


def test_declaring_a_capability_without_its_method_fails_at_definition():
    with pytest.raises(TypeError, match=r"Half: declares 'reconcile' but does not implement find_reply\(\)"):

        class Half(Connector):
            rules = ReplyRules(can_reply=True)
            capabilities = frozenset({Capability.REPLY, Capability.RECONCILE})

            def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
                return "1"


def test_implementing_a_capability_without_declaring_it_fails_at_definition():
    with pytest.raises(
        TypeError, match=r"Quiet: implements fetch_private\(\) but does not declare 'private'"
    ):

        class Quiet(Connector):
            def fetch_private(self, cursor: str | None) -> FetchResult:
                return FetchResult([], cursor)


def test_reply_rules_that_disagree_with_the_capabilities_fail_at_definition():
    with pytest.raises(TypeError, match="rules say can_reply=True but capabilities say otherwise"):

        class Mute(Connector):
            rules = ReplyRules(can_reply=True)


def test_the_app_store_without_a_key_reads_reviews_only(clock, monkeypatch):
    with FakeAppStore() as fake:
        assert appstore_connector(fake, clock, monkeypatch, api=False).capabilities == frozenset()
        assert appstore_connector(fake, clock, monkeypatch, api=True).capabilities == REVIEW_SITE
    assert AppStoreConnector.capabilities == REVIEW_SITE  # the class keeps its declaration


def test_x_without_user_keys_does_nothing_but_read(clock, monkeypatch):
    with FakeX() as fake:
        read_only = connector_for(fake, clock, monkeypatch, **dict.fromkeys(XSettings.USER_KEYS))
        assert read_only.capabilities == frozenset()  # no user context: no posts, no DMs to read or reconcile
        assert connector_for(fake, clock, monkeypatch).capabilities == FULL
