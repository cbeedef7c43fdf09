"""Connectors, one module per platform, registered here by their config name.

The registry maps the name used in ``[connectors.<name>]`` to ``module:Class``; a module (and its client library)
is imported only when its table is present in the configuration.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.models import ReplyRules
    from connectors.base import Connector

REGISTRY: dict[str, str] = {
    "file": "connectors.file:FileConnector",
    "reddit": "connectors.reddit:RedditConnector",
    "appstore": "connectors.appstore:AppStoreConnector",
    "googleplay": "connectors.googleplay:GooglePlayConnector",
    "feed": "connectors.feed:FeedConnector",
    "google_business": "connectors.google_business:GoogleBusinessConnector",
    "trustpilot": "connectors.trustpilot:TrustpilotConnector",
    "yelp": "connectors.yelp:YelpConnector",
    "hackernews": "connectors.hackernews:HackerNewsConnector",
    "x": "connectors.x:XConnector",
    "mastodon": "connectors.mastodon:MastodonConnector",
    "bluesky": "connectors.bluesky:BlueskyConnector",
    "youtube": "connectors.youtube:YouTubeConnector",
    "facebook": "connectors.meta:FacebookConnector",
    "instagram": "connectors.meta:InstagramConnector",
}


def load(name: str) -> type[Connector]:
    """Import and return the connector class registered as ``name``."""
    module, _, cls = REGISTRY[name].partition(":")
    return getattr(import_module(module), cls)


def rules_for(platform: str) -> ReplyRules:
    """What a public reply on ``platform`` may be; a platform no connector knows (an import's) is answered by hand."""
    from bot.models import ReplyRules

    return load(platform).rules if platform in REGISTRY else ReplyRules(can_reply=False)
