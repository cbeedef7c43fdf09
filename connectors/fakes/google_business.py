"""A loopback Google Business Profile (My Business v4 reviews): list by ``updateTime desc``, get, ``PUT …/reply``."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.fakes.server import FakePlatform, Request, Response, route

ACCOUNT, LOCATION = "1029384756", "5647382910"
TOKEN = "ya29.fake-gbp-token"
TOKEN_ENV = "GBP_ACCESS_TOKEN"
STARS = ["", "ONE", "TWO", "THREE", "FOUR", "FIVE"]
PREFIX = r"/v4/accounts/(?P<account>\d+)/locations/(?P<location>\d+)/reviews"


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _error(code: int, status: str, message: str) -> Response:
    return Response(code, {"error": {"code": code, "message": message, "status": status}})


class FakeGoogleBusiness(FakePlatform):
    """Fake Business Profile: one location's reviews and the owner's replies."""

    platform = "google_business"

    def __init__(self) -> None:
        super().__init__()
        self.reviews: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self._ids = itertools.count(1)

    def add_review(
        self,
        *,
        name: str,
        rating: int,
        comment: str,
        created: datetime | None = None,
        anonymous: bool = False,
    ) -> str:
        """Add a review; return its id."""
        rid = f"AbFvOqm{next(self._ids):05d}xQ"
        stamp = _stamp(created or datetime.now(UTC))
        self.reviews[rid] = {
            "name": f"accounts/{ACCOUNT}/locations/{LOCATION}/reviews/{rid}",
            "reviewId": rid,
            # Google fills in the name (and photo) only of a reviewer who is not anonymous.
            "reviewer": {"isAnonymous": True} if anonymous else {"displayName": name, "isAnonymous": False},
            "starRating": STARS[rating],
            "comment": comment,
            "createTime": stamp,
            "updateTime": stamp,
        }
        return rid

    def publish(self, sample: dict[str, Any]) -> None:
        created = datetime.now(UTC) - timedelta(minutes=float(sample.get("minutes_ago", 0)))
        self.add_review(
            name=sample.get("name") or sample["author"],
            rating=int(sample.get("rating", 3)),
            comment=sample["text"],
            created=created,
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "account_id": ACCOUNT,
            "location_id": LOCATION,
            "access_token": {"env": TOKEN_ENV},
        }

    def environment(self) -> dict[str, str]:
        return {TOKEN_ENV: TOKEN}

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    def _check(self, request: Request) -> Response | None:
        if request.header("authorization") != f"Bearer {TOKEN}":
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if (request.params["account"], request.params["location"]) != (ACCOUNT, LOCATION):
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        return None

    @route("GET", PREFIX)
    def list_reviews(self, request: Request) -> Any:
        if denied := self._check(request):
            return denied
        if request.arg("orderBy", "updateTime desc") != "updateTime desc":
            return _error(400, "INVALID_ARGUMENT", "Unsupported orderBy")
        size = min(int(request.arg("pageSize", "50")), 50)
        start = int(request.arg("pageToken", "0") or 0)
        ordered = sorted(self.reviews.values(), key=lambda r: r.get("updateTime", ""), reverse=True)
        stars = [STARS.index(r["starRating"]) for r in ordered if r.get("starRating") in STARS[1:]]
        body: dict[str, Any] = {
            "reviews": ordered[start : start + size],
            "averageRating": round(sum(stars) / max(len(stars), 1), 1),
            "totalReviewCount": len(ordered),
        }
        if start + size < len(ordered):
            body["nextPageToken"] = str(start + size)
        return body

    @route("GET", PREFIX + "/(?P<rid>[^/]+)")
    def get_review(self, request: Request) -> Any:
        if denied := self._check(request):
            return denied
        return self.reviews.get(request.params["rid"]) or _error(
            404, "NOT_FOUND", "Requested entity was not found."
        )

    @route("PUT", PREFIX + "/(?P<rid>[^/]+)/reply")
    def put_reply(self, request: Request) -> Any:
        if denied := self._check(request):
            return denied
        review = self.reviews.get(request.params["rid"])
        if review is None:
            return _error(404, "NOT_FOUND", "Requested entity was not found.")
        comment = (request.json or {}).get("comment", "")
        if not comment or len(comment) > 4096:
            return _error(400, "INVALID_ARGUMENT", "Request contains an invalid argument.")
        review["reviewReply"] = {"comment": comment, "updateTime": _stamp(datetime.now(UTC))}
        self.log.append(
            {
                "kind": "reply",
                "in_reply_to": review["reviewId"],
                "text": comment,
                "id": review["reviewId"] + "/reply",
            }
        )
        return review["reviewReply"]
