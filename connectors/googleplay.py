"""Google Play reviews through google-api-python-client (Android Publisher v3): list, reply, look up our reply.

Only recent production reviews with text are listed, newest first. Review ids contain ``:`` (the client
percent-encodes them). A reply is at most 350 characters and a later reply replaces the earlier one. Credentials are
a service account key file whose path is in an environment variable; google-auth trades it for access tokens. A key
can expire (an organisation policy, or a date set when it was made): Google publishes each key's certificate at the
key file's ``client_x509_cert_url``, whose end date is the key's, read once a day.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import google_auth_httplib2
import httplib2
from cryptography import x509
from google.oauth2 import service_account
from googleapiclient.discovery import build

from bot.errors import FatalError, ReplyNotAllowed
from bot.models import Author, CredentialExpiry, FetchResult, Mention, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, Secret
from connectors.googleapi import REPLY_ERRORS as REPLY_ERRORS
from connectors.googleapi import STATUS_ERRORS as STATUS_ERRORS
from connectors.googleapi import CountingHttp, execute
from connectors.reviews import Watermark, read_newest_first

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/androidpublisher"
MAX_REPLY = 350
KEY_CHECK_EVERY = timedelta(hours=24)


@dataclass(kw_only=True)
class GooglePlaySettings(ConnectorSettings):
    """``[connectors.googleplay]``: the app's package name and a service account allowed to reply to reviews."""

    package_name: str = ""
    service_account_file: Secret | None = None
    page_size: int = 100
    backfill_hours: int = 168

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled and not self.package_name:
            out.append(f'{path}.package_name: expected the app\'s package name, e.g. "com.acme.app"')
        if self.enabled and not self.service_account_file:
            out.append(
                f'{path}.service_account_file: expected {{ env = "NAME" }} naming the key file\'s path'
            )
        return out


class GooglePlayConnector(Connector):
    """Google Play reviews of one app; replies edit our single reply."""

    name = "googleplay"
    Settings = GooglePlaySettings
    rules = ReplyRules(max_length=MAX_REPLY, one_reply_per_item=True, can_reply=True)
    capabilities = frozenset({Capability.REPLY, Capability.RECONCILE})
    settings: GooglePlaySettings

    def __init__(self, settings: GooglePlaySettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self._service: Any = None
        self.http = CountingHttp(timeout=settings.timeout_seconds)
        self._key_expiry: CredentialExpiry | None = None
        self._key_checked: datetime | None = None

    @property
    def service(self) -> Any:
        if self._service is None:
            s = self.settings
            if not s.service_account_file:
                raise FatalError(self.name, "no service_account_file configured")
            try:
                with open(s.service_account_file.value()) as handle:
                    info = json.load(handle)
                creds = service_account.Credentials.from_service_account_info(info, scopes=[SCOPE])
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                raise FatalError(self.name, f"cannot read the service account key file: {exc}") from exc
            self.http.token_uri = info["token_uri"]
            http = google_auth_httplib2.AuthorizedHttp(creds, http=self.http)
            options = {"api_endpoint": s.base_url.rstrip("/") + "/"} if s.base_url else None
            self._service = build(
                "androidpublisher", "v3", http=http, client_options=options, static_discovery=True
            )
        return self._service

    def check(self) -> str:
        self._call(lambda: self.service.reviews().list(packageName=self.settings.package_name, maxResults=1))
        self._check_key_expiry()
        return f"reading the Google Play reviews of {self.settings.package_name}"

    # -- the key's expiry ------------------------------------------------------------------------------------

    def platform_expiry(self) -> CredentialExpiry | None:
        return self._key_expiry

    def _check_key_expiry(self) -> None:
        """Read the service account key's end date from its public certificate (at most once a day)."""
        now = self.clock.now()
        if self._key_checked and now - self._key_checked < KEY_CHECK_EVERY:
            return
        self._key_checked = now
        try:
            with open(self.settings.service_account_file.value()) as handle:  # type: ignore[union-attr]
                info = json.load(handle)
            url, key_id = info.get("client_x509_cert_url"), info.get("private_key_id")
            if not (url and key_id):
                return
            response, body = self.http.request(url, "GET")
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            cert = x509.load_pem_x509_certificate(json.loads(body)[key_id].encode())
        except (OSError, ValueError, KeyError, TypeError, AttributeError, httplib2.HttpLib2Error) as exc:
            # The poll goes on: only the expiry stays unknown (or as last read) until tomorrow's check.
            log.warning("googleplay: could not read the service account key's certificate: %s", exc)
            return
        ends = cert.not_valid_after_utc
        # Google's certificate of a key that never expires ends on 9999-12-31.
        self._key_expiry = (
            None if ends.year >= 9999 else CredentialExpiry(at=ends, what=f"service account key {key_id[:8]}")
        )

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        self._check_key_expiry()
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        start = (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()
        mark = Watermark(state.get("reviews"), start=start)
        batch = read_newest_first(
            self.name, mark, self._pages(), self.to_mention, item_id=lambda review: review.get("reviewId")
        )
        return FetchResult(
            batch.mentions, json.dumps({"reviews": mark.state()}, sort_keys=True), batch.quarantined
        )

    def _pages(self) -> Iterator[list[Any]]:
        kwargs: dict[str, Any] = {
            "packageName": self.settings.package_name,
            "maxResults": self.settings.page_size,
        }
        while True:
            body = self._call(lambda kwargs=kwargs: self.service.reviews().list(**kwargs)) or {}
            yield body.get("reviews", [])
            token = (body.get("tokenPagination") or {}).get("nextPageToken")
            if not token:
                return
            kwargs = {**kwargs, "token": token}

    def to_mention(self, review: dict[str, Any]) -> Mention:
        user = next((c["userComment"] for c in review["comments"] if "userComment" in c), None)
        if user is None:
            raise ValueError("the review has no user comment")
        ours = next((c["developerComment"] for c in review["comments"] if "developerComment" in c), None)
        # Play joins the title and the body with a tab; a review without a title starts with one.
        title, _, body = user["text"].partition("\t") if "\t" in user["text"] else ("", "", user["text"])
        name = review.get("authorName") or "A Google user"
        modified = int(user["lastModified"]["seconds"])
        return Mention(
            platform=self.name,
            id=review["reviewId"],
            url=f"https://play.google.com/store/apps/details?id={self.settings.package_name}"
            f"&reviewId={review['reviewId']}",
            author=Author(handle=name, display_name=name),
            text="\n\n".join(p.strip() for p in (title, body) if p.strip()),
            created_at=datetime.fromtimestamp(modified, tz=UTC),
            kind="review",
            rating=int(user["starRating"]),
            lang=(user.get("reviewerLanguage") or "").replace("-", "_").split("_")[0]
            or None,  # "en", "en_US"
            raw=review,
            # Play keeps only the last change of a review: one changed after our reply was edited since we read it.
            edited=ours is not None and modified > int((ours.get("lastModified") or {}).get("seconds", 0)),
        )

    # -- replying --------------------------------------------------------------------------------------------

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if len(text) > MAX_REPLY:
            raise ReplyNotAllowed(
                self.name, f"reply is {len(text)} characters; Google Play allows {MAX_REPLY}"
            )
        self._call(
            lambda: self.service.reviews().reply(
                packageName=self.settings.package_name, reviewId=mention.id, body={"replyText": text}
            ),
            refusal=True,
        )
        return f"{mention.id}/reply"

    def find_reply(self, mention: Mention) -> str | None:
        review = self._call(
            lambda: self.service.reviews().get(packageName=self.settings.package_name, reviewId=mention.id)
        )
        has_reply = any("developerComment" in c for c in (review or {}).get("comments", []))
        return f"{mention.id}/reply" if has_reply else None

    # -- errors ----------------------------------------------------------------------------------------------

    def _call(self, build_request: Callable[[], Any], *, refusal: bool = False) -> Any:
        """Execute a client request once, its failures mapped by ``connectors.googleapi`` (``refusal``: a reply,
        refused alone by a 400 or 404)."""
        return execute(self.name, build_request, clock=self.clock, refusal=refusal)
