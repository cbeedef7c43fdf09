"""Loopback fakes of the platforms: same wire format, status codes and rate-limit headers as the real APIs.

They serve the tests and ``make demo``. ``FAKES`` maps a connector name to its fake's ``module:Class``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.fakes.server import FakePlatform

FAKES: dict[str, str] = {
    "reddit": "connectors.fakes.reddit:FakeReddit",
    "appstore": "connectors.fakes.appstore:FakeAppStore",
    "googleplay": "connectors.fakes.googleplay:FakeGooglePlay",
    "feed": "connectors.fakes.feed:FakeFeeds",
    "google_business": "connectors.fakes.google_business:FakeGoogleBusiness",
    "trustpilot": "connectors.fakes.trustpilot:FakeTrustpilot",
    "yelp": "connectors.fakes.yelp:FakeYelp",
    "hackernews": "connectors.fakes.hackernews:FakeHackerNews",
    "x": "connectors.fakes.x:FakeX",
    "mastodon": "connectors.fakes.mastodon:FakeMastodon",
    "bluesky": "connectors.fakes.bluesky:FakeBluesky",
    "youtube": "connectors.fakes.youtube:FakeYouTube",
    "facebook": "connectors.fakes.meta:FakeFacebook",
    "instagram": "connectors.fakes.meta:FakeInstagram",
}


def load_fake(name: str) -> type[FakePlatform]:
    """Import and return the fake registered for connector ``name``."""
    module, _, cls = FAKES[name].partition(":")
    return getattr(import_module(module), cls)
