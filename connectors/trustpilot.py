"""Trustpilot business-unit reviews: the public reviews list (API key) and the private reply endpoint (OAuth).

Reviews are listed newest first (``orderBy=createdat.desc``) and paged by the ``next-page`` link. A reply is shown
publicly under the review; there is one, and posting again replaces it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.errors import ReplyNotAllowed
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, Secret
from connectors.http import HttpClient
from connectors.reviews import Watermark, read_newest_first

API = "https://api.trustpilot.com"


@dataclass(kw_only=True)
class TrustpilotSettings(ConnectorSettings):
    """``[connectors.trustpilot]``: the business unit, an API key, and a business user's token for replies."""

    business_unit_id: str = ""
    api_key: Secret | None = None
    access_token: Secret | None = None
    business_user_id: str = ""
    page_size: int = 100
    max_pages: int = 10
    backfill_hours: int = 168

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled and not self.business_unit_id:
            out.append(f"{path}.business_unit_id: expected the Trustpilot business unit id")
        if self.enabled and self.api_key is None:
            out.append(f'{path}.api_key: expected {{ env = "NAME" }} holding the Trustpilot API key')
        if self.enabled and self.access_token and not self.business_user_id:
            out.append(f"{path}.business_user_id: expected the business user who signs replies")
        return out


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class TrustpilotConnector(Connector):
    """Trustpilot reviews; replies when a business user's token is configured."""

    name = "trustpilot"
    Settings = TrustpilotSettings
    rules = ReplyRules(one_reply_per_item=True, can_reply=True)
    capabilities = frozenset({Capability.REPLY, Capability.RECONCILE})
    settings: TrustpilotSettings

    def __init__(self, settings: TrustpilotSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.http = HttpClient(
            self.name, settings.base_url or API, clock=self.clock, timeout=settings.timeout_seconds
        )

    def _headers(self, *, private: bool = False) -> dict[str, str]:
        if private:
            token = self.settings.access_token.value() if self.settings.access_token else ""
            return {"Authorization": f"Bearer {token}"}
        return {"apikey": self.settings.api_key.value() if self.settings.api_key else ""}

    def can_reply(self, mention: Mention) -> bool:
        return self.settings.access_token is not None

    def check(self) -> str:
        bu = self.http.get(f"/v1/business-units/{self.settings.business_unit_id}", headers=self._headers())
        return f"business unit {bu.get('displayName', self.settings.business_unit_id)}"

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        start = (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()
        mark = Watermark(state.get("reviews"), start=start)
        batch = read_newest_first(self.name, mark, self._pages(), self.to_mention)
        return FetchResult(
            batch.mentions, json.dumps({"reviews": mark.state()}, sort_keys=True), batch.quarantined
        )

    def _pages(self) -> Iterator[list[Any]]:
        params = {"perPage": self.settings.page_size, "orderBy": "createdat.desc"}
        for page in range(1, self.settings.max_pages + 1):
            body = (
                self.http.get(
                    f"/v1/business-units/{self.settings.business_unit_id}/reviews",
                    params={**params, "page": page},
                    headers=self._headers(),
                )
                or {}
            )
            yield body.get("reviews", [])
            if not any(link.get("rel") == "next-page" for link in body.get("links", [])):
                return

    def to_mention(self, review: dict[str, Any]) -> Mention:
        consumer = review.get("consumer") or {}
        name = consumer.get("displayName") or "Trustpilot user"
        created, updated = review["createdAt"], review.get("updatedAt")
        status = review.get("status")
        return Mention(
            platform=self.name,
            id=review["id"],
            url=f"https://www.trustpilot.com/reviews/{review['id']}",
            author=Author(handle=name, display_name=name, id=consumer.get("id", "")),
            text="\n\n".join(p for p in (review.get("title"), review.get("text")) if p),
            created_at=_dt(created),
            kind="review",
            rating=int(review["stars"]),
            lang=review.get("language"),
            raw=review,
            # Only an active review is shown on Trustpilot; a reported or removed one takes no reply.
            unanswerable=None if status in (None, "active") else f"{status} on Trustpilot",
            edited=bool(updated) and _dt(updated) != _dt(created),
        )

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if not self.can_reply(mention):
            raise ReplyNotAllowed(self.name, "replying needs a business user's access_token; reply by hand")
        self.http.post(
            f"/v1/private/reviews/{mention.id}/reply",
            json={"authorBusinessUserId": self.settings.business_user_id, "message": text},
            headers=self._headers(private=True),
        )
        return f"{mention.id}/reply"

    def find_reply(self, mention: Mention) -> str | None:
        review = self.http.get(f"/v1/reviews/{mention.id}", headers=self._headers()) or {}
        return f"{mention.id}/reply" if review.get("companyReply") else None
