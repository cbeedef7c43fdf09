"""A loopback HN Algolia search API: ``search_by_date`` with ``query``, ``tags``, ``numericFilters`` and paging.

Hits have the fields of recorded Algolia answers (``tests/fixtures/hackernews``): HN's own HTML in ``comment_text``
and ``story_text`` (paragraphs joined by a bare ``<p>``, entities such as ``&#x27;`` and ``&#x2F;``), ``points`` null
on comments, ``children`` ids, ``updated_at``; a text story has no ``url``. Recorded hits can be served as they are
(``add_hit``).
"""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from connectors.fakes.server import FakePlatform, Request, Response, route


class FakeHackerNews(FakePlatform):
    """Fake HN search: stories and comments, newest first."""

    platform = "hackernews"

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict[str, Any]] = []
        self._ids = itertools.count(40123456)

    def add_item(
        self,
        *,
        author: str,
        text: str,
        title: str = "",
        created: datetime | None = None,
        comment: bool = True,
    ) -> str:
        """Add a story (``comment=False``) or a comment on story 40120000; return its objectID. Blank lines in
        ``text`` become HN's paragraph breaks."""
        oid = str(next(self._ids))
        when = created or datetime.now(UTC)
        stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = "<p>".join(_hn_html(p) for p in text.split("\n\n"))
        hit: dict[str, Any] = {
            "_tags": [
                "comment" if comment else "story",
                f"author_{author}",
                "story_40120000" if comment else f"story_{oid}",
            ],
            "author": author,
            "children": [],
            "created_at": stamp,
            "created_at_i": int(when.timestamp()),
            "objectID": oid,
            "updated_at": stamp,
        }
        if comment:
            hit.update(
                comment_text=body,
                parent_id=40122222,
                points=None,
                story_id=40120000,
                story_title="Ask HN: What do you use for home Wi-Fi?",
                story_url=None,
            )
        else:
            hit.update(title=title or text[:80], story_text=body, points=3, num_comments=0, story_id=int(oid))
        self.items.append(hit)
        return oid

    def add_hit(self, hit: dict[str, Any]) -> None:
        """Serve a recorded hit as it is."""
        self.items.append(hit)

    def publish(self, sample: dict[str, Any]) -> None:
        self.add_item(
            author=sample["author"],
            text=sample["text"],
            title=sample.get("title", ""),
            created=datetime.now(UTC) - timedelta(minutes=float(sample.get("minutes_ago", 0))),
            comment=sample.get("kind", "comment") != "post",
        )

    def connector_settings(self) -> dict[str, Any]:
        return {"enabled": True, "base_url": self.base_url, "queries": ["acme"]}

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        return {"Access-Control-Allow-Origin": "*"}

    @route("GET", "/api/v1/search_by_date")
    def search(self, request: Request) -> Any:
        query = (request.arg("query") or "").lower()
        tags = re.findall(r"\w+", request.arg("tags") or "")
        floor = 0
        for flt in (request.arg("numericFilters") or "").split(","):
            if m := re.fullmatch(r"created_at_i>(\d+)", flt.strip()):
                floor = int(m.group(1))
            elif flt.strip():
                return Response(400, {"message": f"invalid numeric filter {flt}", "status": 400})
        hits = [
            h
            for h in self.items
            if h["created_at_i"] > floor
            and (not tags or set(tags) & set(h["_tags"]))
            and query in " ".join(h.get(k) or "" for k in ("comment_text", "title", "story_text")).lower()
        ]
        hits.sort(key=lambda h: h["created_at_i"], reverse=True)
        per_page = int(request.arg("hitsPerPage", "20"))
        page = int(request.arg("page", "0"))
        pages = (len(hits) + per_page - 1) // per_page
        return {
            "hits": hits[page * per_page : (page + 1) * per_page],
            "nbHits": len(hits),
            "page": page,
            "nbPages": pages,
            "hitsPerPage": per_page,
            "query": query,
            "params": "",
            "processingTimeMS": 1,
        }


def _hn_html(text: str) -> str:
    """Text as HN stores it: HTML-escaped (quotes and slashes as entities), lines kept."""
    return escape(text).replace("/", "&#x2F;")
