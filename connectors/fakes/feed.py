"""A loopback feed host: a Google Alerts Atom feed and a blog's RSS 2.0 feed, with ETag/Last-Modified and 304s.

The Alerts feed looks like Google's: ``tag:google.com,2013:googlealerts/feed:…`` ids, ``<b>`` markup in titles and
HTML-escaped content, and links that are ``https://www.google.com/url?…&url=<real>`` redirects.
"""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape

from connectors.fakes.server import FakePlatform, Request, Response, route

ALERTS = "/alerts/feeds/01234567890123456789/1122334455667788990"
BLOG = "/blog/rss.xml"


class FakeFeeds(FakePlatform):
    """Fake feed host: entries appear in the Alerts feed (or the blog feed) and are served conditionally."""

    platform = "feed"

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[str, list[dict[str, Any]]] = {"alerts": [], "blog": []}
        self.recorded: dict[str, str] = {}  # a recorded feed served as it is, by feed name
        self._ids = itertools.count(14211970238470000000)

    def add_entry(
        self,
        *,
        title: str,
        summary: str,
        link: str,
        author: str = "",
        published: datetime | None = None,
        feed: str = "alerts",
    ) -> str:
        """Add an entry to ``alerts`` or ``blog``; return its id as the feed shows it."""
        n = next(self._ids)
        eid = (
            f"tag:google.com,2013:googlealerts/feed:{n}"
            if feed == "alerts"
            else f"https://blog.example/?p={n}"
        )
        self.entries[feed].append(
            {
                "id": eid,
                "title": title,
                "summary": summary,
                "link": link,
                "author": author,
                "published": published or datetime.now(UTC),
            }
        )
        return eid

    def serve_recorded(self, feed: str, body: str) -> None:
        """Serve a recorded document as the ``alerts`` or ``blog`` feed, unchanged."""
        self.recorded[feed] = body

    def publish(self, sample: dict[str, Any]) -> None:
        published = datetime.now(UTC) - timedelta(minutes=float(sample.get("minutes_ago", 0)))
        site = sample.get("site") or f"{sample['author']}.example"
        slug = "-".join((sample.get("title") or sample["text"]).lower().split()[:6])
        title = sample.get("title") or sample["text"][:80]
        self.add_entry(
            title=title.replace("Acme", "<b>Acme</b>"),
            summary=sample["text"].replace("Acme", "<b>Acme</b>"),
            link=f"https://{site}/{quote(slug)}",
            author=sample.get("name", ""),
            published=published,
            feed=sample.get("feed", "alerts"),
        )

    def connector_settings(self) -> dict[str, Any]:
        return {"enabled": True, "urls": [self.base_url + ALERTS, self.base_url + BLOG]}

    def posted(self) -> list[dict[str, Any]]:
        return []

    # -- feeds -----------------------------------------------------------------------------------------------

    def _conditional(self, request: Request, body: str, entries: list[dict[str, Any]], kind: str) -> Response:
        etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:20] + '"'
        newest = max((e["published"] for e in entries), default=datetime(2026, 1, 1, tzinfo=UTC))
        modified = format_datetime(newest.astimezone(UTC), usegmt=True)
        headers = {"ETag": etag, "Last-Modified": modified, "Cache-Control": "private, max-age=0"}
        if request.header("if-none-match") == etag:
            return Response(304, b"", headers)
        return Response(200, body, headers, content_type=kind)

    @route("GET", ALERTS)
    def alerts(self, request: Request) -> Response:
        if "alerts" in self.recorded:
            return self._conditional(
                request, self.recorded["alerts"], [], "application/atom+xml; charset=utf-8"
            )
        entries = sorted(self.entries["alerts"], key=lambda e: e["published"], reverse=True)
        items = []
        for e in entries:
            redirect = (
                "https://www.google.com/url?rct=j&sa=t&url="
                + quote(e["link"], safe="")
                + "&ct=ga&cd=CAIyGjE&usg=AOvVaw0"
            )
            stamp = e["published"].strftime("%Y-%m-%dT%H:%M:%SZ")
            items.append(
                f'<entry><id>{e["id"]}</id><title type="html">{escape(e["title"])}</title>'
                f'<link href="{escape(redirect)}"/><published>{stamp}</published><updated>{stamp}</updated>'
                f'<content type="html">{escape(e["summary"])}</content><author><name/></author></entry>'
            )
        body = (
            '<?xml version="1.0" encoding="utf-8"?>'
            '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:idx="urn:atom-extension:indexing">'
            "<id>tag:google.com,2005:reader/user/01234567890123456789/state/com.google/alerts/1122334455667788990</id>"
            "<title>Google Alert - acme</title>"
            f'<link href="https://www.google.com/alerts/feeds{ALERTS[13:]}" rel="self"/>'
            f"<updated>{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</updated>"
            + "".join(items)
            + "</feed>"
        )
        return self._conditional(request, body, entries, "application/atom+xml; charset=utf-8")

    @route("GET", BLOG)
    def blog(self, request: Request) -> Response:
        if "blog" in self.recorded:
            return self._conditional(request, self.recorded["blog"], [], "application/rss+xml; charset=UTF-8")
        entries = sorted(self.entries["blog"], key=lambda e: e["published"], reverse=True)
        items = "".join(
            f"<item><title>{escape(e['title'])}</title><link>{escape(e['link'])}</link>"
            f'<guid isPermaLink="false">{escape(e["id"])}</guid>'
            f"<pubDate>{format_datetime(e['published'], usegmt=True)}</pubDate>"
            f"<dc:creator>{escape(e['author'])}</dc:creator><description>{escape(e['summary'])}</description></item>"
            for e in entries
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
            "<channel><title>Gadget Weekly</title><link>https://blog.example/</link>"
            f"<description>Reviews of gadgets</description>{items}</channel></rss>"
        )
        return self._conditional(request, body, entries, "application/rss+xml; charset=UTF-8")
