"""RSS and Atom feeds (news, blogs, Google Alerts) parsed with feedparser; monitor-only.

Each feed is fetched with a conditional GET (the ETag and Last-Modified it last sent, kept in the cursor), so an
unchanged feed costs a 304 and yields nothing. Google Alerts links are ``google.com/url?…&url=<real>`` redirects:
the real address is taken out, and the ``<b>`` markup in their titles is stripped. A feed that fails is skipped
for this poll with a warning and its state kept; the poll fails only when every feed failed.
"""

from __future__ import annotations

import calendar
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import feedparser

from bot.errors import TransientError
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Connector, ConnectorSettings
from connectors.http import HttpClient
from connectors.reviews import Batch, Watermark, read_newest_first, strip_html

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class FeedSettings(ConnectorSettings):
    """``[connectors.feed]``: the feeds to watch."""

    urls: list[str] = field(default_factory=list)
    backfill_hours: int = 72

    def problems(self, path: str) -> list[str]:
        bad = [u for u in self.urls if not u.startswith(("http://", "https://"))]
        out = [f"{path}.urls: not an http(s) URL: {u}" for u in bad]
        if self.enabled and not self.urls:
            out.append(f"{path}.urls: expected at least one feed URL")
        return out


def unwrap(link: str) -> str:
    """The real address behind a Google redirect link (Google Alerts), else the link itself."""
    parts = urlsplit(link)
    if parts.netloc.endswith("google.com") and parts.path == "/url":
        query = parse_qs(parts.query)
        for key in ("url", "q"):
            if query.get(key):
                return query[key][0]
    return link


class FeedConnector(Connector):
    """Entries of RSS/Atom feeds; no replies (the manager answers by hand where the article allows)."""

    name = "feed"
    Settings = FeedSettings
    rules = ReplyRules(can_reply=False)
    settings: FeedSettings

    def __init__(self, settings: FeedSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.http = HttpClient(
            self.name, settings.base_url, clock=self.clock, timeout=settings.timeout_seconds
        )

    def check(self) -> str:
        return f"watching {len(self.settings.urls)} feed(s)"

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        start = (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()
        batch = Batch()
        failures: list[TransientError] = []
        for url in self.settings.urls:
            feed_state = dict(state.get(url) or {})
            try:
                batch += self._fetch_feed(url, feed_state, start)
            except TransientError as exc:
                log.warning("feed: skipped %s this poll: %s", url, exc)
                failures.append(exc)
                continue
            state[url] = feed_state
        if failures and len(failures) == len(self.settings.urls):
            raise failures[-1]
        batch.mentions.sort(key=lambda m: m.created_at)
        return FetchResult(batch.mentions, json.dumps(state, sort_keys=True), batch.quarantined)

    def _fetch_feed(self, url: str, feed_state: dict[str, Any], start: float) -> Batch:
        headers = {"Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.8"}
        if feed_state.get("etag"):
            headers["If-None-Match"] = feed_state["etag"]
        if feed_state.get("modified"):
            headers["If-Modified-Since"] = feed_state["modified"]
        response = self.http.get(url, raw=True, headers=headers)
        if response.status_code == 304:
            return Batch()
        if response.status_code >= 400:
            raise TransientError(self.name, f"GET {url}: HTTP {response.status_code}")
        parsed = feedparser.parse(
            response.content, response_headers={k.lower(): v for k, v in response.headers.items()}
        )
        if parsed.bozo and not parsed.entries:
            raise TransientError(self.name, f"GET {url}: not a feed ({parsed.get('bozo_exception')!r})")
        mark = Watermark(feed_state.get("mark"), start=start)
        # A feed is one page, in no promised order.
        batch = read_newest_first(
            self.name,
            mark,
            [parsed.entries],
            lambda entry: self.to_mention(entry, parsed.feed, url),
            item_id=lambda entry: entry.get("id") or entry.get("link"),
        )
        feed_state.update(
            etag=response.headers.get("ETag"),
            modified=response.headers.get("Last-Modified"),
            mark=mark.state(),
        )
        return batch

    def to_mention(self, entry: Any, feed: Any, url: str) -> Mention:
        link = unwrap(entry.get("link", ""))
        entry_id = entry.get("id") or link or hashlib.sha1(entry.get("title", "").encode()).hexdigest()
        stamp = entry.get("published_parsed") or entry.get("updated_parsed")
        created = datetime.fromtimestamp(calendar.timegm(stamp), tz=UTC) if stamp else self.clock.now()
        title = strip_html(entry.get("title", ""))
        summary = strip_html(entry.get("summary", ""))
        source = urlsplit(link).netloc or strip_html(feed.get("title", "")) or urlsplit(url).netloc
        author = entry.get("author") or source
        if not (title or summary):
            raise ValueError("entry has neither title nor summary")
        return Mention(
            platform=self.name,
            id=entry_id,
            url=link or url,
            author=Author(handle=source, display_name=author, id=source),
            text="\n\n".join(p for p in (title, summary) if p),
            created_at=created,
            kind="post",
            raw={
                "feed": url,
                "id": entry_id,
                "title": entry.get("title", ""),
                "link": entry.get("link", ""),
                "summary": entry.get("summary", ""),
                "published": entry.get("published") or entry.get("updated") or "",
            },
        )
