"""Yelp Fusion reviews of one business: monitor-only, since Yelp has no reply or message API.

Yelp returns at most a few review excerpts, newest first, with times in Pacific time. The daily budget comes in the
``RateLimit-*`` headers: when it is spent, polls are refused locally until ``RateLimit-ResetTime``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bot.errors import TransientError
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Connector, ConnectorSettings, Secret
from connectors.http import HttpClient
from connectors.reviews import Watermark, read_newest_first

log = logging.getLogger(__name__)

API = "https://api.yelp.com"
PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass(kw_only=True)
class YelpSettings(ConnectorSettings):
    """``[connectors.yelp]``: the business's Yelp id or alias and a Fusion API key."""

    business_id: str = ""
    api_key: Secret | None = None
    backfill_hours: int = 720

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled and not self.business_id:
            out.append(f"{path}.business_id: expected the business's Yelp id or alias")
        if self.enabled and self.api_key is None:
            out.append(f'{path}.api_key: expected {{ env = "NAME" }} holding the Yelp Fusion API key')
        return out


class YelpConnector(Connector):
    """Yelp review excerpts; the bot drafts the answer and the manager posts it by hand."""

    name = "yelp"
    Settings = YelpSettings
    rules = ReplyRules(can_reply=False)
    settings: YelpSettings

    def __init__(self, settings: YelpSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.http = HttpClient(
            self.name, settings.base_url or API, clock=self.clock, timeout=settings.timeout_seconds
        )
        self.budget_resets_at: datetime | None = None

    def _get(self, path: str, **params: Any) -> Any:
        now = self.clock.now()
        if self.budget_resets_at and now < self.budget_resets_at:
            wait = (self.budget_resets_at - now).total_seconds()
            raise TransientError(self.name, "daily API budget spent", retry_after=wait)
        token = self.settings.api_key.value() if self.settings.api_key else ""
        response = self.http.get(path, params=params, headers={"Authorization": f"Bearer {token}"}, raw=True)
        remaining, reset = (
            response.headers.get("RateLimit-Remaining"),
            response.headers.get("RateLimit-ResetTime"),
        )
        self.budget_resets_at = None
        if remaining is not None and reset and float(remaining) <= 0:
            try:
                self.budget_resets_at = datetime.fromisoformat(reset)
            except ValueError:
                log.warning("yelp: unreadable RateLimit-ResetTime %r", reset)
        if response.status_code >= 400:
            raise TransientError(self.name, f"GET {path}: HTTP {response.status_code}: {response.text[:200]}")
        try:
            return response.json()
        except ValueError as exc:
            raise TransientError(self.name, f"GET {path}: malformed JSON answer") from exc

    def check(self) -> str:
        business = self._get(f"/v3/businesses/{self.settings.business_id}")
        return f"watching {business.get('name', self.settings.business_id)} (monitor-only)"

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        start = (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()
        mark = Watermark(state.get("reviews"), start=start)
        path = f"/v3/businesses/{self.settings.business_id}/reviews"
        body = self._get(path, limit=20, sort_by="newest") or {}
        # One page: Yelp gives only the newest few excerpts.
        batch = read_newest_first(self.name, mark, [body.get("reviews", [])], self.to_mention)
        return FetchResult(
            batch.mentions, json.dumps({"reviews": mark.state()}, sort_keys=True), batch.quarantined
        )

    def to_mention(self, review: dict[str, Any]) -> Mention:
        user = review.get("user") or {}
        name = user.get("name") or "Yelp user"
        created = datetime.strptime(review["time_created"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=PACIFIC)
        return Mention(
            platform=self.name,
            id=review["id"],
            url=review.get("url") or f"https://www.yelp.com/biz/{self.settings.business_id}",
            author=Author(handle=name, display_name=name, id=user.get("id", "")),
            text=review["text"],
            created_at=created,
            kind="review",
            rating=int(float(review["rating"])),
            raw=review,
        )
