"""Google Business Profile reviews (My Business v4) over plain HTTP: list newest first, reply, find our reply.

v4 is not among google-api-python-client's bundled discovery documents, so this speaks HTTP through the shared
client with a configurable base URL. One reply per review: ``PUT …/reply`` creates it or replaces it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, Secret
from connectors.http import HttpClient
from connectors.reviews import Watermark, read_newest_first

API = "https://mybusiness.googleapis.com"
STARS = {"ONE": 1, "TWO": 2, "THREE": 3, "FOUR": 4, "FIVE": 5}


@dataclass(kw_only=True)
class GoogleBusinessSettings(ConnectorSettings):
    """``[connectors.google_business]``: one verified location and an OAuth token with ``business.manage``."""

    account_id: str = ""
    location_id: str = ""
    access_token: Secret | None = None
    page_size: int = 50
    backfill_hours: int = 168

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled:
            for key in ("account_id", "location_id"):
                if not getattr(self, key):
                    out.append(f"{path}.{key}: expected the Business Profile {key.split('_')[0]} number")
            if self.access_token is None:
                out.append(f'{path}.access_token: expected {{ env = "NAME" }} holding an OAuth access token')
        return out


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class GoogleBusinessConnector(Connector):
    """Reviews of one Google Business Profile location; one reply per review, which a new reply replaces."""

    name = "google_business"
    Settings = GoogleBusinessSettings
    rules = ReplyRules(max_length=4096, one_reply_per_item=True, can_reply=True)
    capabilities = frozenset({Capability.REPLY, Capability.RECONCILE})
    settings: GoogleBusinessSettings

    def __init__(self, settings: GoogleBusinessSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.http = HttpClient(
            self.name, settings.base_url or API, clock=self.clock, timeout=settings.timeout_seconds
        )

    @property
    def location(self) -> str:
        return f"accounts/{self.settings.account_id}/locations/{self.settings.location_id}"

    def _authorize(self) -> None:
        token = self.settings.access_token.value() if self.settings.access_token else ""
        self.http.session.headers["Authorization"] = f"Bearer {token}"

    def check(self) -> str:
        self._authorize()
        body = self.http.get(f"/v4/{self.location}/reviews", params={"pageSize": 1}) or {}
        return f"{self.location}: {body.get('totalReviewCount', 0)} reviews"

    def fetch(self, cursor: str | None) -> FetchResult:
        self._authorize()
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        start = (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()
        mark = Watermark(state.get("reviews"), start=start)
        batch = read_newest_first(
            self.name,
            mark,
            self._pages(),
            self.to_mention,
            stamp=lambda review, _: _dt(review["updateTime"]).timestamp(),  # the order of the list
            item_id=lambda review: review.get("reviewId"),
        )
        return FetchResult(
            batch.mentions, json.dumps({"reviews": mark.state()}, sort_keys=True), batch.quarantined
        )

    def _pages(self) -> Iterator[list[Any]]:
        params: dict[str, Any] = {"pageSize": self.settings.page_size, "orderBy": "updateTime desc"}
        while True:
            body = self.http.get(f"/v4/{self.location}/reviews", params=params) or {}
            yield body.get("reviews", [])
            if not body.get("nextPageToken"):
                return
            params = {**params, "pageToken": body["nextPageToken"]}

    def to_mention(self, review: dict[str, Any]) -> Mention:
        reviewer = review.get("reviewer") or {}
        name = (
            "A Google user" if reviewer.get("isAnonymous") else reviewer.get("displayName") or "A Google user"
        )
        return Mention(
            platform=self.name,
            id=review["reviewId"],
            url=f"https://business.google.com/reviews/l/{self.settings.location_id}",
            author=Author(handle=name, display_name=name),
            text=review.get("comment", ""),
            created_at=_dt(review["createTime"]),
            kind="review",
            rating=STARS.get(review.get("starRating", "")),
            raw=review,
            edited=_dt(review.get("updateTime") or review["createTime"]) != _dt(review["createTime"]),
        )

    def _review_path(self, mention: Mention) -> str:
        return f"/v4/{self.location}/reviews/{quote(mention.id, safe='')}"

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        self._authorize()
        self.http.put(self._review_path(mention) + "/reply", json={"comment": text})
        return f"{mention.id}/reply"

    def find_reply(self, mention: Mention) -> str | None:
        self._authorize()
        review = self.http.get(self._review_path(mention)) or {}
        return f"{mention.id}/reply" if review.get("reviewReply") else None
