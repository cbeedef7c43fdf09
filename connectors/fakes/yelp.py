"""A loopback Yelp Fusion API: a business and up to three review excerpts, with Yelp's ``RateLimit-*`` headers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from connectors.fakes.server import FakePlatform, Request, Response, route

BUSINESS = "acme-gadget-store-san-francisco"
API_KEY = "fake-yelp-key"
KEY_ENV = "YELP_API_KEY"
PACIFIC = ZoneInfo("America/Los_Angeles")


class FakeYelp(FakePlatform):
    """Fake Yelp: one business's newest review excerpts; nothing can be posted."""

    platform = "yelp"

    def __init__(self, *, daily_limit: int = 300):
        super().__init__()
        self.reviews: list[dict[str, Any]] = []
        self.daily_limit = daily_limit
        self.remaining = daily_limit
        self.reset_at = datetime(2030, 1, 1, tzinfo=UTC)
        self._ids = itertools.count(1)

    def add_review(self, *, name: str, rating: int, text: str, created: datetime | None = None) -> str:
        """Add a review; return its id."""
        rid = f"xAG4O7l-t1ubbwVAlPnD{next(self._ids):03d}"
        local = (created or datetime.now(UTC)).astimezone(PACIFIC)
        self.reviews.append(
            {
                "id": rid,
                "url": f"https://www.yelp.com/biz/{BUSINESS}?hrid={rid}",
                "text": text[:160] + ("..." if len(text) > 160 else ""),
                "rating": rating,
                "time_created": local.strftime("%Y-%m-%d %H:%M:%S"),
                "user": {
                    "id": f"u{rid[-6:]}",
                    "profile_url": "https://www.yelp.com/user_details?userid=x",
                    "name": name,
                },
            }
        )
        return rid

    def publish(self, sample: dict[str, Any]) -> None:
        self.add_review(
            name=sample.get("name") or sample["author"],
            rating=int(sample.get("rating", 3)),
            text=sample["text"],
            created=datetime.now(UTC) - timedelta(minutes=float(sample.get("minutes_ago", 0))),
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "business_id": BUSINESS,
            "api_key": {"env": KEY_ENV},
        }

    def environment(self) -> dict[str, str]:
        return {KEY_ENV: API_KEY}

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        return {
            "RateLimit-DailyLimit": str(self.daily_limit),
            "RateLimit-Remaining": str(max(self.remaining, 0)),
            "RateLimit-ResetTime": self.reset_at.isoformat(),
        }

    def _auth(self, request: Request) -> Response | None:
        if request.header("authorization") != f"Bearer {API_KEY}":
            return Response(
                401,
                {
                    "error": {
                        "code": "TOKEN_INVALID",
                        "description": "Invalid access token or authorization header.",
                    }
                },
            )
        if self.remaining <= 0:
            return Response(
                429,
                {
                    "error": {
                        "code": "ACCESS_LIMIT_REACHED",
                        "description": "You've reached the access limit for this client.",
                    }
                },
            )
        self.remaining -= 1
        return None

    @route("GET", r"/v3/businesses/(?P<biz>[\w-]+)")
    def business(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        return {
            "id": "WavvLdfdP6g8aZTtbBQHTw",
            "alias": BUSINESS,
            "name": "Acme Gadget Store",
            "review_count": len(self.reviews),
        }

    @route("GET", r"/v3/businesses/(?P<biz>[\w-]+)/reviews")
    def list_reviews(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        if request.params["biz"] != BUSINESS:
            return Response(
                404,
                {
                    "error": {
                        "code": "BUSINESS_NOT_FOUND",
                        "description": "The requested business could not be found.",
                    }
                },
            )
        newest = sorted(self.reviews, key=lambda r: r["time_created"], reverse=True)
        limit = min(int(request.arg("limit", "3")), 3)
        return {"reviews": newest[:limit], "total": len(self.reviews), "possible_languages": ["en"]}
