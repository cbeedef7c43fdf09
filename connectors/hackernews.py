"""Hacker News stories and comments that mention the brand, through the Algolia search API; monitor-only.

``search_by_date`` is asked for items after a ``created_at_i`` watermark (minus a look-back window for late
indexing, de-duplicated by id) and paged until the last page.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Connector, ConnectorSettings
from connectors.http import HttpClient
from connectors.reviews import Batch, Watermark, read_newest_first, strip_html

API = "https://hn.algolia.com"
ITEM = "https://news.ycombinator.com/item?id="


@dataclass(kw_only=True)
class HackerNewsSettings(ConnectorSettings):
    """``[connectors.hackernews]``: the search terms."""

    queries: list[str] = field(default_factory=list)
    tags: str = "(story,comment)"
    hits_per_page: int = 100
    max_pages: int = 10
    backfill_hours: int = 72

    def problems(self, path: str) -> list[str]:
        if self.enabled and not self.queries:
            return [f"{path}.queries: expected at least one search term"]
        return []


class HackerNewsConnector(Connector):
    """Hacker News mentions; no write API, so answers are by hand."""

    name = "hackernews"
    Settings = HackerNewsSettings
    rules = ReplyRules(can_reply=False)
    settings: HackerNewsSettings

    def __init__(self, settings: HackerNewsSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.http = HttpClient(
            self.name, settings.base_url or API, clock=self.clock, timeout=settings.timeout_seconds
        )

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        start = (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()
        batch = Batch()
        for query in self.settings.queries:
            mark = Watermark(state.get(query), start=start)
            batch += read_newest_first(
                self.name,
                mark,
                self._pages(query, mark),
                self.to_mention,
                item_id=lambda hit: hit.get("objectID"),
            )
            state[query] = mark.state()
        unique = {m.id: m for m in batch.mentions}  # one item can match several queries
        bad = {q.item_id or q.raw: q for q in batch.quarantined}
        return FetchResult(
            sorted(unique.values(), key=lambda m: m.created_at),
            json.dumps(state, sort_keys=True),
            list(bad.values()),
        )

    def _pages(self, query: str, mark: Watermark) -> Iterator[list[Any]]:
        for page in range(self.settings.max_pages):
            params = {
                "query": query,
                "tags": self.settings.tags,
                "numericFilters": f"created_at_i>{int(mark.floor)}",
                "hitsPerPage": self.settings.hits_per_page,
                "page": page,
            }
            body = self.http.get("/api/v1/search_by_date", params=params) or {}
            yield body.get("hits", [])
            if page + 1 >= int(body.get("nbPages", 0)):
                return

    def to_mention(self, hit: dict[str, Any]) -> Mention:
        is_comment = "comment" in hit.get("_tags", [])
        if is_comment:
            text = strip_html(hit.get("comment_text") or "")
        else:
            text = "\n\n".join(
                p for p in (hit.get("title"), strip_html(hit.get("story_text") or ""), hit.get("url")) if p
            )
        if not text:
            raise ValueError(f"item {hit.get('objectID')} has no text")
        return Mention(
            platform=self.name,
            id=str(hit["objectID"]),
            url=ITEM + str(hit["objectID"]),
            author=Author(handle=hit["author"], display_name=hit["author"], id=hit["author"]),
            text=text,
            created_at=datetime.fromtimestamp(int(hit["created_at_i"]), tz=UTC),
            kind="comment" if is_comment else "post",
            parent_id=str(hit["parent_id"]) if is_comment and hit.get("parent_id") else None,
            thread_id=str(hit.get("story_id") or hit["objectID"]),
            raw=hit,
        )
