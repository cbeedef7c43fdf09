"""A loopback Trustpilot API: business-unit reviews (API key) and the private reply endpoint (business user token).

Reviews have the fields of the reference answer (``tests/fixtures/trustpilot``): ``updatedAt``, ``status``,
``verificationLevel``, a consumer and business unit by id. A company reply is shown on the single review.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.fakes.server import FakePlatform, Request, Response, route

BUSINESS_UNIT = "5e3de1b45fb06f0001790000"
BUSINESS_USER = "5e3de1b45fb06f0001791111"
API_KEY, TOKEN = "fake-tp-apikey", "fake-tp-token"
KEY_ENV, TOKEN_ENV = "TRUSTPILOT_API_KEY", "TRUSTPILOT_ACCESS_TOKEN"


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeTrustpilot(FakePlatform):
    """Fake Trustpilot: one business unit's reviews and its company replies."""

    platform = "trustpilot"

    def __init__(self) -> None:
        super().__init__()
        self.reviews: dict[str, dict[str, Any]] = {}
        self.replies: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self._ids = itertools.count(0x5E3DE1B45FB06F0001792000)

    def add_review(
        self,
        *,
        name: str,
        stars: int,
        title: str,
        text: str,
        created: datetime | None = None,
        updated: datetime | None = None,
        status: str = "active",
        language: str = "en",
    ) -> str:
        """Add a review; return its id."""
        rid = format(next(self._ids), "x")
        created = created or datetime.now(UTC)
        self.reviews[rid] = {
            "id": rid,
            "stars": stars,
            "title": title,
            "text": text,
            "language": language,
            "createdAt": _stamp(created),
            "updatedAt": _stamp(updated or created),
            "consumer": {"id": f"c{rid[-8:]}", "displayName": name},
            "businessUnit": {"id": BUSINESS_UNIT},
            "status": status,
            "verificationLevel": "not-verified",
        }
        return rid

    def publish(self, sample: dict[str, Any]) -> None:
        self.add_review(
            name=sample.get("name") or sample["author"],
            stars=int(sample.get("rating", 3)),
            title=sample.get("title") or sample["text"].split(".")[0][:60],
            text=sample["text"],
            created=datetime.now(UTC) - timedelta(minutes=float(sample.get("minutes_ago", 0))),
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "business_unit_id": BUSINESS_UNIT,
            "business_user_id": BUSINESS_USER,
            "api_key": {"env": KEY_ENV},
            "access_token": {"env": TOKEN_ENV},
        }

    def environment(self) -> dict[str, str]:
        return {KEY_ENV: API_KEY, TOKEN_ENV: TOKEN}

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    def _key(self, request: Request) -> Response | None:
        if (request.header("apikey") or request.arg("apikey")) != API_KEY:
            return Response(
                401, {"fault": {"faultstring": "Invalid ApiKey", "detail": {"errorcode": "InvalidApiKey"}}}
            )
        return None

    @route("GET", r"/v1/business-units/(?P<bu>\w+)")
    def business_unit(self, request: Request) -> Any:
        if denied := self._key(request):
            return denied
        if request.params["bu"] != BUSINESS_UNIT:
            return Response(404, {"message": "Business unit not found", "errorCode": 404})
        return {"id": BUSINESS_UNIT, "displayName": "Acme", "name": {"identifying": "acme.example"}}

    @route("GET", r"/v1/business-units/(?P<bu>\w+)/reviews")
    def list_reviews(self, request: Request) -> Any:
        if denied := self._key(request):
            return denied
        if request.params["bu"] != BUSINESS_UNIT:
            return Response(404, {"message": "Business unit not found", "errorCode": 404})
        per_page = min(int(request.arg("perPage", "20")), 100)
        page = int(request.arg("page", "1"))
        ordered = sorted(self.reviews.values(), key=lambda r: r.get("createdAt") or "", reverse=True)
        chunk = ordered[(page - 1) * per_page : page * per_page]
        links = []
        if page * per_page < len(ordered):
            href = f"{self.base_url}/v1/business-units/{BUSINESS_UNIT}/reviews?page={page + 1}&perPage={per_page}"
            links.append({"href": href, "method": "GET", "rel": "next-page"})
        return {"reviews": chunk, "links": links, "totalNumberOfReviews": len(ordered)}

    @route("GET", r"/v1/reviews/(?P<rid>\w+)")
    def get_review(self, request: Request) -> Any:
        if denied := self._key(request):
            return denied
        review = self.reviews.get(request.params["rid"])
        if review is None:
            return Response(404, {"message": "Not found", "errorCode": 404})
        return {**review, "companyReply": self.replies.get(review["id"])}

    @route("POST", r"/v1/private/reviews/(?P<rid>\w+)/reply")
    def reply(self, request: Request) -> Any:
        if request.header("authorization") != f"Bearer {TOKEN}":
            return Response(401, {"fault": {"faultstring": "Invalid Access Token"}})
        review = self.reviews.get(request.params["rid"])
        if review is None:
            return Response(404, {"message": "Not found", "errorCode": 404})
        body = request.json or {}
        if body.get("authorBusinessUserId") != BUSINESS_USER or not body.get("message"):
            return Response(400, {"message": "Invalid request", "errorCode": 400})
        self.replies[review["id"]] = {"text": body["message"], "createdAt": _stamp(datetime.now(UTC))}
        self.log.append(
            {
                "kind": "reply",
                "in_reply_to": review["id"],
                "text": body["message"],
                "id": review["id"] + "/reply",
            }
        )
        return Response(201, b"")
