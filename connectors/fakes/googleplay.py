"""A loopback Google Play Developer API (Android Publisher v3 reviews) for google-api-python-client.

Serves ``reviews.list`` (newest first, ``tokenPagination``), ``reviews.get`` and ``reviews.reply`` with Google's
JSON shapes and error envelopes: a reply longer than 350 characters is refused with a 400 like the real API, a wrong
bearer token with a 401, and a later reply replaces the earlier one. It is also the OAuth token endpoint named in the
service account key file it writes, so google-auth's JWT-bearer exchange runs for real.
"""

from __future__ import annotations

import base64
import itertools
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from connectors.fakes.server import FakePlatform, Request, Response, route

PACKAGE = "com.acme.app"
TOKEN = "ya29.fake-play-token"
KEY_FILE_ENV = "GOOGLEPLAY_SERVICE_ACCOUNT_FILE"
ACCOUNT = "mentionbot@acme-play.iam.gserviceaccount.com"
PREFIX = "/androidpublisher/v3/applications/(?P<pkg>[^/]+)/reviews"
KEY_ID = "0123456789abcdef"
NO_EXPIRY = datetime(
    9999, 12, 31, 23, 59, 59, tzinfo=UTC
)  # what Google's certificate says of a key without one


def _error(code: int, status: str, message: str) -> Response:
    return Response(code, {"error": {"code": code, "message": message, "status": status}})


class FakeGooglePlay(FakePlatform):
    """Fake Google Play: reviews of one app and the developer's replies."""

    platform = "googleplay"

    def __init__(self, *, package: str = PACKAGE, max_results: int = 100):
        super().__init__()
        self.package = package
        self.max_results = max_results
        self.reviews: dict[str, dict[str, Any]] = {}
        self.log: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        # When the service account key expires (its certificate's notAfter); set it to test expiry warnings.
        self.key_expires = NO_EXPIRY
        self._key_dir = tempfile.TemporaryDirectory(prefix="fake-googleplay-")

    def key_file(self, key: rsa.RSAPrivateKey | None = None) -> str:
        """Write a service account key file whose token endpoint is this fake; return its path."""
        pem = (key or self.key).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        info = {
            "type": "service_account",
            "project_id": "acme-play",
            "private_key_id": KEY_ID,
            "private_key": pem.decode(),
            "client_email": ACCOUNT,
            "client_id": "100000000000000000001",
            "token_uri": f"{self.base_url}/token",
            "client_x509_cert_url": f"{self.base_url}/robot/v1/metadata/x509/{quote(ACCOUNT)}",
        }
        path = Path(self._key_dir.name) / ("other.json" if key else "service-account.json")
        path.write_text(json.dumps(info))
        return str(path)

    def stop(self) -> None:
        super().stop()
        self._key_dir.cleanup()

    def add_review(
        self, *, author: str, rating: int, text: str, title: str = "", modified: datetime | None = None
    ) -> str:
        """Add a review; return its id (which contains a colon, like Play's)."""
        n = next(self._ids)
        rid = "gp:AOqpTO" + base64.urlsafe_b64encode(f"acme-{n:06d}".encode()).decode().rstrip("=")
        seconds = int((modified or datetime.now(UTC)).timestamp())
        self.reviews[rid] = {
            "reviewId": rid,
            "authorName": author,
            "comments": [
                {
                    "userComment": {
                        "text": f"{title}\t{text}",
                        "lastModified": {"seconds": str(seconds), "nanos": 0},
                        "starRating": rating,
                        "reviewerLanguage": "en_US",
                        "device": "a14",
                        "androidOsVersion": 34,
                        "appVersionCode": 241,
                        "appVersionName": "2.4.1",
                        "thumbsUpCount": 0,
                        "thumbsDownCount": 0,
                    }
                }
            ],
        }
        return rid

    def publish(self, sample: dict[str, Any]) -> None:
        modified = datetime.now(UTC) - timedelta(minutes=float(sample.get("minutes_ago", 0)))
        self.add_review(
            author=sample.get("name") or sample["author"],
            rating=int(sample.get("rating", 3)),
            text=sample["text"],
            title=sample.get("title", ""),
            modified=modified,
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "package_name": self.package,
            "service_account_file": {"env": KEY_FILE_ENV},
        }

    def environment(self) -> dict[str, str]:
        return {KEY_FILE_ENV: self.key_file()}

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    def reply_of(self, review_id: str) -> str | None:
        """The developer reply currently shown under a review."""
        for comment in self.reviews[review_id]["comments"]:
            if "developerComment" in comment:
                return comment["developerComment"]["text"]
        return None

    # -- OAuth token endpoint -----------------------------------------------------------------------------------

    @route("POST", "/token")
    def token(self, request: Request) -> Response:
        form = request.form
        try:
            claims = jwt.decode(
                form.get("assertion", ""),
                self.key.public_key(),
                algorithms=["RS256"],
                # google-auth always names Google's own token endpoint as the audience
                audience=["https://oauth2.googleapis.com/token", f"{self.base_url}/token"],
                options={"verify_exp": False},
            )
        except jwt.PyJWTError:
            return Response(400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."})
        if (
            form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer"
            or claims.get("iss") != ACCOUNT
        ):
            return Response(400, {"error": "invalid_grant", "error_description": "Invalid grant."})
        return Response(200, {"access_token": TOKEN, "expires_in": 3599, "token_type": "Bearer"})

    @route("GET", "/robot/v1/metadata/x509/(?P<account>[^/]+)")
    def certificates(self, request: Request) -> Response:
        """The public certificate of each of the account's keys, by key id (no authentication), as Google's."""
        if request.params["account"] not in (ACCOUNT, quote(ACCOUNT)):
            return _error(404, "NOT_FOUND", "Not found")
        name = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, KEY_ID)])
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(datetime(2026, 1, 1, tzinfo=UTC))
            .not_valid_after(self.key_expires)
            .sign(self.key, hashes.SHA256())
        )
        return Response(200, {KEY_ID: cert.public_bytes(serialization.Encoding.PEM).decode()})

    # -- API -------------------------------------------------------------------------------------------------

    def _check(self, request: Request) -> Response | None:
        if request.header("authorization") != f"Bearer {TOKEN}":
            return _error(401, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
        if request.params["pkg"] != self.package:
            return _error(404, "NOT_FOUND", "Package not found: " + request.params["pkg"])
        return None

    @route("GET", PREFIX)
    def list_reviews(self, request: Request) -> Any:
        if denied := self._check(request):
            return denied
        size = min(int(request.arg("maxResults", "10")), self.max_results)
        token = request.arg("token")
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        ordered = sorted(self.reviews.values(), key=_modified, reverse=True)
        page = ordered[start : start + size]
        body: dict[str, Any] = {
            "reviews": page,
            "pageInfo": {"totalResults": len(ordered), "resultPerPage": size, "startIndex": start},
        }
        if start + size < len(ordered):
            body["tokenPagination"] = {
                "nextPageToken": base64.urlsafe_b64encode(str(start + size).encode()).decode()
            }
        return body

    @route("GET", PREFIX + "/(?P<rid>[^/]+)")
    def get_review(self, request: Request) -> Any:
        if denied := self._check(request):
            return denied
        review = self.reviews.get(request.params["rid"])
        return review or _error(404, "NOT_FOUND", "Review not found.")

    @route("POST", PREFIX + "/(?P<rid>[^/]+):reply")
    def reply(self, request: Request) -> Any:
        if denied := self._check(request):
            return denied
        review = self.reviews.get(request.params["rid"])
        if review is None:
            return _error(404, "NOT_FOUND", "Review not found.")
        text = (request.json or {}).get("replyText", "")
        if not text or len(text) > 350:
            return _error(400, "INVALID_ARGUMENT", "Reply text must be between 1 and 350 characters.")
        edited = {"seconds": str(int(datetime.now(UTC).timestamp())), "nanos": 0}
        review["comments"] = [c for c in review["comments"] if "developerComment" not in c]
        review["comments"].append({"developerComment": {"text": text, "lastModified": edited}})
        self.log.append(
            {"kind": "reply", "in_reply_to": review["reviewId"], "text": text, "id": review["reviewId"]}
        )
        return {"result": {"replyText": text, "lastEdited": edited}}


def _modified(review: dict[str, Any]) -> int:
    """When the user last changed the review (the order of the list)."""
    for comment in review.get("comments", []):
        if "userComment" in comment:
            return int(comment["userComment"]["lastModified"]["seconds"])
    return 0
