"""Apple App Store reviews: the public customer-reviews feed per storefront, or the App Store Connect API.

Without credentials the connector reads the public RSS JSON feed of each configured storefront and is monitor-only
(the bot hands the manager a "reply by hand" task). With an App Store Connect key it reads
``/v1/apps/{id}/customerReviews`` instead and replies through ``/v1/customerReviewResponses``: one response per
review, which a later reply overwrites.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt

from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, Secret
from connectors.http import HttpClient
from connectors.reviews import Batch, Watermark, read_newest_first

RSS = "https://itunes.apple.com"
API = "https://api.appstoreconnect.apple.com"
RSS_PAGES = 10
RSS_LISTED = 500  # the feed lists at most the 500 newest reviews (10 pages of 50)
TOKEN_SECONDS = 15 * 60  # Apple refuses tokens that live longer than 20 minutes


@dataclass(kw_only=True)
class AppStoreSettings(ConnectorSettings):
    """``[connectors.appstore]``: the app, its storefronts and, optionally, an App Store Connect API key."""

    app_id: str = ""
    countries: list[str] = field(default_factory=lambda: ["us"])
    rss_base_url: str = ""
    key_id: str = ""
    issuer_id: str = ""
    private_key: Secret | None = None
    backfill_hours: int = 168

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled and not self.app_id.isdigit():
            out.append(f"{path}.app_id: expected the app's numeric Apple id")
        if self.enabled and self.private_key and not (self.key_id and self.issuer_id):
            out.append(
                f"{path}.key_id, issuer_id: both are needed with private_key (App Store Connect API key)"
            )
        return out


def _label(entry: dict[str, Any], key: str) -> str:
    """The ``label`` of a feed entry's field, or ``""``."""
    value = entry.get(key)
    return str(value.get("label", "")) if isinstance(value, dict) else ""


def _dt(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class AppStoreConnector(Connector):
    """App Store customer reviews; replies through App Store Connect when a key is configured."""

    name = "appstore"
    Settings = AppStoreSettings
    # 5,970 characters is the limit App Store Connect shows for a response.
    rules = ReplyRules(max_length=5970, one_reply_per_item=True, can_reply=True)
    capabilities = frozenset({Capability.REPLY, Capability.RECONCILE})
    reply_url_is_exact = False  # Apple has no public link to one review or its response
    settings: AppStoreSettings

    def __init__(self, settings: AppStoreSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        s = settings
        self.rss = HttpClient(self.name, s.rss_base_url or RSS, clock=self.clock, timeout=s.timeout_seconds)
        self.api = HttpClient(self.name, s.base_url or API, clock=self.clock, timeout=s.timeout_seconds)
        if (
            not self.connected
        ):  # the public RSS feed only: reviews are read, every answer is a task for a human
            self.capabilities = frozenset()

    @property
    def calls(self) -> int:
        return self.rss.calls + self.api.calls

    @property
    def connected(self) -> bool:
        """Whether an App Store Connect key is configured (replies possible)."""
        return bool(self.settings.private_key and self.settings.key_id and self.settings.issuer_id)

    def can_reply(self, mention: Mention) -> bool:
        return self.connected

    def _authorize(self) -> None:
        s = self.settings
        key = s.private_key.value().replace("\\n", "\n") if s.private_key else ""
        if not key:
            raise FatalError(self.name, f"environment variable {s.private_key.env} is empty")  # type: ignore[union-attr]
        now = int(self.clock.now().timestamp())
        claims = {"iss": s.issuer_id, "iat": now, "exp": now + TOKEN_SECONDS, "aud": "appstoreconnect-v1"}
        try:
            token = jwt.encode(claims, key, algorithm="ES256", headers={"kid": s.key_id, "typ": "JWT"})
        except (ValueError, TypeError, jwt.PyJWTError) as exc:
            raise FatalError(self.name, f"the private key cannot sign an ES256 token: {exc}") from exc
        self.api.session.headers["Authorization"] = f"Bearer {token}"

    def check(self) -> str:
        if not self.connected:
            self.rss.get(self._rss_path(self.settings.countries[0], 1))
            return f"reading the public review feed of app {self.settings.app_id} (monitor-only)"
        self._authorize()
        app = self.api.get(f"/v1/apps/{self.settings.app_id}")
        return (
            f"App Store Connect key {self.settings.key_id}: app {app['data']['attributes'].get('name', '?')}"
        )

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        start = (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()
        batch = Batch()
        if self.connected:
            mark = Watermark(state.get("api"), start=start)
            self._authorize()
            batch += read_newest_first(self.name, mark, self._api_pages(), self._api_mention)
            state["api"] = mark.state()
        else:
            for country in self.settings.countries:
                mark = Watermark(state.get(f"rss:{country}"), start=start)
                undated = list(state.get(f"undated:{country}", []))
                parse = lambda entry, country=country: self._rss_mention(entry, country)  # noqa: E731
                got = read_newest_first(
                    self.name,
                    mark,
                    self._rss_pages(country, set(undated)),
                    parse,
                    item_id=lambda entry: _label(entry, "id"),
                )
                state[f"rss:{country}"] = mark.state()
                fresh = [m.id for m in got.mentions if "updated" not in m.raw]
                if fresh or undated:
                    state[f"undated:{country}"] = (fresh + undated)[:RSS_LISTED]
                batch += got
        batch.mentions.sort(key=lambda m: m.created_at)
        return FetchResult(batch.mentions, json.dumps(state, sort_keys=True), batch.quarantined)

    def _rss_path(self, country: str, page: int) -> str:
        return f"/{country}/rss/customerreviews/page={page}/id={self.settings.app_id}/sortby=mostrecent/json"

    def _rss_pages(self, country: str, undated: set[str]) -> Iterator[list[Any]]:
        for page in range(1, RSS_PAGES + 1):
            body = self.rss.get(self._rss_path(country, page))
            entries = (body or {}).get("feed", {}).get("entry", [])
            if isinstance(entries, dict):  # a feed with one entry carries it as an object
                entries = [entries]
            reviews = [e for e in entries if isinstance(e, dict) and "im:rating" in e]  # skip app metadata
            # Entries without a date are known by their ids alone (kept in the cursor).
            unseen = [e for e in reviews if "updated" in e or _label(e, "id") not in undated]
            if not unseen:
                return
            yield unseen

    def _rss_mention(self, entry: dict[str, Any], country: str) -> Mention:
        author = entry.get("author", {})
        name = author.get("name", {}).get("label", "")
        text = "\n\n".join(p for p in (_label(entry, "title"), _label(entry, "content")) if p)
        # Feeds recorded in 2020-21 carry no date on their entries: such a review is dated when first read.
        updated, review_id = _label(entry, "updated"), _label(entry, "id")
        if not review_id:
            raise ValueError("feed entry without an id")
        return Mention(
            platform=self.name,
            id=review_id,
            url=f"https://apps.apple.com/{country}/app/id{self.settings.app_id}?see-all=reviews",
            author=Author(handle=name, display_name=name, id=author.get("uri", {}).get("label", "")),
            text=text,
            created_at=_dt(updated) if updated else self.clock.now(),
            kind="review",
            rating=int(_label(entry, "im:rating")),
            raw={**entry, "country": country},
        )

    def _api_pages(self) -> Iterator[list[Any]]:
        params: dict[str, Any] | None = {"sort": "-createdDate", "limit": 200, "include": "response"}
        url = f"/v1/apps/{self.settings.app_id}/customerReviews"
        while url:
            body = self.api.get(url, params=params) or {}
            params = None  # links.next carries them
            yield body.get("data", [])
            url = (body.get("links") or {}).get("next") or ""

    def _api_mention(self, item: dict[str, Any]) -> Mention:
        a = item["attributes"]
        nickname = a.get("reviewerNickname") or "App Store user"
        return Mention(
            platform=self.name,
            id=str(item["id"]),
            url=f"https://apps.apple.com/app/id{self.settings.app_id}?see-all=reviews",
            author=Author(handle=nickname, display_name=nickname),
            text="\n\n".join(p for p in (a.get("title"), a.get("body")) if p),
            created_at=_dt(a["createdDate"]),
            kind="review",
            rating=int(a["rating"]),
            raw=item,
        )

    # -- replying --------------------------------------------------------------------------------------------

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if not self.connected:
            raise ReplyNotAllowed(self.name, "replying needs an App Store Connect API key; reply by hand")
        self._authorize()
        body = {
            "data": {
                "type": "customerReviewResponses",
                "attributes": {"responseBody": text},
                "relationships": {"review": {"data": {"type": "customerReviews", "id": mention.id}}},
            }
        }
        return str(self.api.post("/v1/customerReviewResponses", json=body)["data"]["id"])

    def find_reply(self, mention: Mention) -> str | None:
        if not self.connected:
            return None
        self._authorize()
        response = self.api.get(f"/v1/customerReviews/{mention.id}/response", raw=True)
        if response.status_code == 404:
            return None
        if response.status_code >= 400:
            raise TransientError(
                self.name, f"looking up the response to {mention.id}: HTTP {response.status_code}"
            )
        data = response.json().get("data")
        return str(data["id"]) if data else None
