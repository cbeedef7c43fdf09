"""A loopback App Store: the public customer-reviews RSS JSON feed and the App Store Connect reviews API.

The feed is served per storefront and page like ``itunes.apple.com`` in the recorded answer
(``tests/fixtures/appstore``): ``feed.entry`` a list, or an object when there is one entry; entries without a date
(``entry_dates=True`` adds one); with ``metadata_entry=True`` an app-metadata entry without ``im:rating`` first, as
older feeds had. The API checks the ES256 bearer token against the
key it generated, pages ``customerReviews`` by ``links.next`` and keeps one response per review, overwritten by a
later one, with Apple's ``X-Rate-Limit`` header and JSON:API error bodies.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from connectors.fakes.server import FakePlatform, Request, Response, route

APP_ID = "1234567890"
KEY_ID = "ABC123DEFG"
ISSUER = "57246542-96fe-1a63-e053-0824d011072a"
KEY_ENV = "APPSTORE_PRIVATE_KEY"
PACIFIC = ZoneInfo("America/Los_Angeles")  # the feed's times are Cupertino's


def _error(status: int, code: str, detail: str) -> Response:
    return Response(
        status, {"errors": [{"status": str(status), "code": code, "title": code, "detail": detail}]}
    )


class FakeAppStore(FakePlatform):
    """Fake App Store: reviews per storefront, the Connect API and its review responses."""

    platform = "appstore"

    def __init__(
        self,
        *,
        app_id: str = APP_ID,
        rss_page_size: int = 50,
        metadata_entry: bool = False,
        entry_dates: bool = False,
    ):
        super().__init__()
        self.entry_dates = entry_dates
        self.app_id = app_id
        self.rss_page_size = rss_page_size
        self.metadata_entry = metadata_entry
        self.reviews: list[dict[str, Any]] = []
        self.responses: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self.hour_remaining = 3600
        self._ids = itertools.count(11223344556)
        self._response_ids = itertools.count(1)
        self.key = ec.generate_private_key(ec.SECP256R1())

    # -- state helpers for tests and the demo ----------------------------------------------------------------

    @property
    def private_key_pem(self) -> str:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()

    def add_review(
        self,
        *,
        nickname: str,
        rating: int,
        title: str,
        body: str,
        created: datetime | None = None,
        country: str = "us",
    ) -> str:
        """Add a review (newest first in every listing); return its id."""
        rid = str(next(self._ids))
        self.reviews.append(
            {
                "id": rid,
                "nickname": nickname,
                "rating": rating,
                "title": title,
                "body": body,
                "created": created or datetime.now(UTC),
                "country": country,
                "version": "2.4.1",
            }
        )
        return rid

    def add_recorded(self, item: dict[str, Any], *, created: datetime, country: str = "us") -> None:
        """Serve a recorded feed entry or Connect API review (``"type": "customerReviews"``) as it is; ``created``
        places it among the others, newest first."""
        kind = "api" if item.get("type") == "customerReviews" else "rss"
        rid = item["id"] if kind == "api" else item["id"]["label"]
        self.reviews.append({"id": rid, "created": created, "country": country, "raw": item, "kind": kind})

    def publish(self, sample: dict[str, Any]) -> None:
        created = datetime.now(UTC) - timedelta(minutes=float(sample.get("minutes_ago", 0)))
        text = sample["text"]
        title = sample.get("title") or text.split(".")[0][:60]
        self.add_review(
            nickname=sample.get("name") or sample["author"],
            rating=int(sample.get("rating", 3)),
            title=title,
            body=text,
            created=created,
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "rss_base_url": self.base_url,
            "app_id": self.app_id,
            "countries": ["us"],
            "key_id": KEY_ID,
            "issuer_id": ISSUER,
            "private_key": {"env": KEY_ENV},
        }

    def environment(self) -> dict[str, str]:
        return {KEY_ENV: self.private_key_pem}

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        if request.path.startswith("/v1/"):
            return {"X-Rate-Limit": f"user-hour-lim:3600;user-hour-rem:{self.hour_remaining}"}
        return {}

    def _newest_first(self, country: str | None = None) -> list[dict[str, Any]]:
        reviews = [
            r
            for r in self.reviews
            if (country is None or r["country"] == country) and r.get("kind") != ("api" if country else "rss")
        ]
        return sorted(reviews, key=lambda r: (r["created"], r["id"]), reverse=True)

    # -- public RSS feed -------------------------------------------------------------------------------------

    @route(
        "GET",
        r"/(?P<cc>[a-z]{2})/rss/customerreviews/page=(?P<page>\d+)/id=(?P<app>\d+)/sortby=mostrecent/json",
    )
    def rss(self, request: Request) -> Any:
        page = int(request.params["page"])
        if not 1 <= page <= 10:
            return Response(400, "Invalid page", content_type="text/plain")
        reviews = self._newest_first(request.params["cc"]) if request.params["app"] == self.app_id else []
        size = self.rss_page_size
        chunk = reviews[(page - 1) * size : page * size]
        entries: list[dict[str, Any]] = [self._entry(r) for r in chunk]
        if page == 1 and self.metadata_entry and entries:
            entries.insert(0, self._metadata())
        cc = request.params["cc"]
        self_link = f"https://itunes.apple.com/{cc}/rss/customerreviews/id={self.app_id}/sortBy=mostRecent/page={page}/json"
        feed: dict[str, Any] = {
            "author": {"name": {"label": "iTunes Store"}, "uri": {"label": "http://www.apple.com/itunes/"}},
            "updated": {"label": datetime.now(UTC).astimezone(PACIFIC).isoformat(timespec="seconds")},
            "rights": {"label": "Copyright 2008 Apple Inc."},
            "title": {"label": "iTunes Store: Customer Reviews"},
            "icon": {"label": "http://itunes.apple.com/favicon.ico"},
            "link": [{"attributes": {"rel": "self", "href": self_link}}],
            "id": {"label": self_link},
        }
        if entries:
            feed["entry"] = entries[0] if len(entries) == 1 else entries
        return {"feed": feed}

    def _metadata(self) -> dict[str, Any]:
        return {
            "im:name": {"label": "Acme"},
            "im:artist": {"label": "Acme Inc."},
            "id": {"label": f"https://apps.apple.com/us/app/acme/id{self.app_id}"},
            "title": {"label": "Acme - Acme Inc."},
        }

    def _entry(self, r: dict[str, Any]) -> dict[str, Any]:
        if "raw" in r:
            return r["raw"]
        entry = {
            "author": {
                "name": {"label": r["nickname"]},
                "uri": {
                    "label": f"https://itunes.apple.com/{r['country']}/reviews/id{abs(hash(r['nickname'])) % 10**9}"
                },
                "label": "",
            },
            "im:rating": {"label": str(r["rating"])},
            "im:version": {"label": r["version"]},
            "id": {"label": r["id"]},
            "title": {"label": r["title"]},
            "content": {"label": r["body"], "attributes": {"type": "text"}},
            "link": {
                "attributes": {
                    "rel": "related",
                    "href": f"https://itunes.apple.com/{r['country']}/review?id={self.app_id}&type=Purple%20Software",
                }
            },
            "im:voteSum": {"label": "0"},
            "im:voteCount": {"label": "0"},
            "im:contentType": {"attributes": {"term": "Application", "label": "Application"}},
        }
        if self.entry_dates:
            entry["updated"] = {"label": r["created"].astimezone(PACIFIC).isoformat(timespec="seconds")}
        return entry

    # -- App Store Connect API -------------------------------------------------------------------------------

    def _auth(self, request: Request) -> Response | None:
        header = request.header("authorization")
        if not header.startswith("Bearer "):
            return _error(401, "NOT_AUTHORIZED", "Authentication credentials are missing or invalid.")
        try:
            claims = jwt.decode(
                header[7:],
                self.key.public_key(),
                algorithms=["ES256"],
                audience="appstoreconnect-v1",
                options={"verify_exp": False},  # the bot's clock may be a test's fake clock
            )
            kid = jwt.get_unverified_header(header[7:]).get("kid")
        except jwt.PyJWTError as exc:
            return _error(401, "NOT_AUTHORIZED", f"Authentication credentials are invalid: {exc}")
        if kid != KEY_ID or claims.get("iss") != ISSUER or claims["exp"] - claims["iat"] > 20 * 60:
            return _error(401, "NOT_AUTHORIZED", "Authentication credentials are invalid.")
        self.hour_remaining -= 1
        return None

    @route("GET", r"/v1/apps/(?P<app>\d+)")
    def app(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        if request.params["app"] != self.app_id:
            return _error(404, "NOT_FOUND", "The specified resource does not exist")
        return {
            "data": {
                "type": "apps",
                "id": self.app_id,
                "attributes": {"name": "Acme", "bundleId": "com.acme.app"},
            }
        }

    @route("GET", r"/v1/apps/(?P<app>\d+)/customerReviews")
    def customer_reviews(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        if request.params["app"] != self.app_id:
            return _error(404, "NOT_FOUND", "The specified resource does not exist")
        limit = min(int(request.arg("limit", "50")), 200)
        offset = int(request.arg("cursor", "0"))
        reviews = self._newest_first()
        page = reviews[offset : offset + limit]
        path = f"{self.base_url}/v1/apps/{self.app_id}/customerReviews"
        query = {k: v[0] for k, v in request.query.items() if k != "cursor"}
        links = {"self": f"{path}?{urlencode(query)}"}
        if offset + limit < len(reviews):
            links["next"] = f"{path}?{urlencode({**query, 'cursor': offset + limit})}"
        include = "response" in (request.arg("include") or "")
        data, included = [], []
        for r in page:
            response = self.responses.get(r["id"])
            data.append(r["raw"] if "raw" in r else self._api_item(r, response, include=include))
            if include and response:
                included.append(self._response_resource(response))
        body: dict[str, Any] = {
            "data": data,
            "links": links,
            "meta": {"paging": {"total": len(reviews), "limit": limit}},
        }
        if include:
            body["included"] = included
        return body

    def _api_item(
        self, r: dict[str, Any], response: dict[str, Any] | None, *, include: bool
    ) -> dict[str, Any]:
        own = f"{self.base_url}/v1/customerReviews/{r['id']}"
        relation: dict[str, Any] = {
            "links": {"self": f"{own}/relationships/response", "related": f"{own}/response"}
        }
        if include:  # JSON:API names the related resource only when it was asked to include it
            relation["data"] = {"type": "customerReviewResponses", "id": response["id"]} if response else None
        return {
            "type": "customerReviews",
            "id": r["id"],
            "attributes": {
                "rating": r["rating"],
                "title": r["title"],
                "body": r["body"],
                "reviewerNickname": r["nickname"],
                "createdDate": r["created"].astimezone(PACIFIC).isoformat(timespec="seconds"),
                "territory": {"us": "USA", "gb": "GBR", "jp": "JPN"}.get(r["country"], r["country"].upper()),
            },
            "relationships": {"response": relation},
            "links": {"self": own},
        }

    def _response_resource(self, response: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "customerReviewResponses",
            "id": response["id"],
            "attributes": {
                "responseBody": response["text"],
                "lastModifiedDate": response["modified"],
                "state": "PENDING_PUBLISH",
            },
        }

    @route("POST", r"/v1/customerReviewResponses")
    def respond(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        try:
            data = request.json["data"]
            text = data["attributes"]["responseBody"]
            review_id = data["relationships"]["review"]["data"]["id"]
        except (KeyError, TypeError, ValueError):
            return _error(422, "ENTITY_ERROR", "The request entity is invalid.")
        if not any(r["id"] == review_id for r in self.reviews):
            return _error(404, "NOT_FOUND", f"There is no customerReviews with id '{review_id}'")
        existing = self.responses.get(review_id)
        response = {
            "id": existing["id"] if existing else f"r{next(self._response_ids):08d}",
            "text": text,
            "modified": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.responses[review_id] = response  # one response per review: a later one overwrites
        self.log.append({"kind": "reply", "in_reply_to": review_id, "text": text, "id": response["id"]})
        return Response(201, {"data": self._response_resource(response), "links": {"self": ""}})

    @route("GET", r"/v1/customerReviews/(?P<id>[^/]+)/response")
    def review_response(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        response = self.responses.get(request.params["id"])
        if not response:
            return _error(404, "NOT_FOUND", "The specified resource does not exist")
        return {"data": self._response_resource(response)}
