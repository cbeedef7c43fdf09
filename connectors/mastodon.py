"""Mastodon through Mastodon.py: mention notifications and keyword search; replies and ``direct`` messages.

A poll reads the brand account's mention notifications newer than the cursor (``min_id``, then the ``Link`` header's
``prev`` pages) and, where keywords are configured, one ``/api/v2/search`` of statuses (a server without full-text
search refuses it: that is logged once and the mentions still count). A ``direct`` status that mentions the brand
arrives as a mention notification too; it is private, so ``fetch`` keeps it aside and ``fetch_private`` hands it over
(to attach a customer's private answer to their case) without a request of its own: a quiet poll costs one request.

Mastodon.py is built with ``ratelimit_method="throw"`` (the pipeline backs off; nothing sleeps) and
``mastodon_version="4.3.0"`` (no instance probing), on a ``CountingSession`` so every request is counted.
The wait after a 429 comes from ``X-RateLimit-Reset`` against the injected clock, not from Mastodon.py's own
real-time arithmetic.
"""

from __future__ import annotations

import html
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from mastodon import (
    Mastodon,
    MastodonAPIError,
    MastodonError,
    MastodonNetworkError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Connector, ConnectorSettings, Secret
from connectors.http import CountingSession

log = logging.getLogger(__name__)
MAX_STATUS = 500
ANCHOR = re.compile(r"<a\s[^>]*?href=\"([^\"]*)\"[^>]*>(.*?)</a>", re.S)
TAG = re.compile(r"<[^>]+>")


def to_text(content: str) -> str:
    """Mastodon's HTML ``content`` as plain text: paragraphs and breaks kept, links shown as their address."""

    def link(match: re.Match) -> str:
        inner = TAG.sub("", match.group(2))
        if "mention" in match.group(0) or "hashtag" in match.group(0) or inner.startswith(("@", "#")):
            return inner
        return html.unescape(match.group(1))

    text = re.sub(r"<br\s*/?>", "\n", content)
    text = re.sub(r"</p>\s*<p>", "\n\n", text)
    text = ANCHOR.sub(link, text)
    return html.unescape(TAG.sub("", text)).strip()


def plain(value: Any) -> Any:
    """Mastodon.py's parsed objects back to JSON values (its datetimes as ISO strings)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def aware(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


@dataclass(kw_only=True)
class MastodonSettings(ConnectorSettings):
    """``[connectors.mastodon]``: the instance, the brand account's token and what to search for."""

    access_token: Secret | None = None
    keywords: list[str] = field(default_factory=list)
    page_size: int = 40
    max_pages: int = 10
    backfill_hours: int = 24

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled and not self.base_url:
            out.append(f'{path}.base_url: expected the instance address, e.g. "https://mastodon.social"')
        if self.enabled and self.access_token is None:
            out.append(f'{path}.access_token: expected {{ env = "NAME" }} holding the account\'s token')
        if not 1 <= self.page_size <= 80:
            out.append(f"{path}.page_size: expected 1 to 80 (notifications per request)")
        if self.max_pages < 1:
            out.append(f"{path}.max_pages: expected at least 1")
        return out


class LastResponseSession(CountingSession):
    """Counts requests, applies the timeout and keeps the last answer's headers (for the rate-limit reset)."""

    def __init__(self, *, timeout: float):
        super().__init__()
        self.timeout = timeout
        self.headers_seen: dict[str, str] = {}

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["timeout"] = self.timeout
        response = super().request(method, url, *args, **kwargs)
        self.headers_seen = dict(response.headers)
        return response


class MastodonConnector(Connector):
    """Statuses that mention the brand's Mastodon account or match its keywords; replies and direct messages."""

    name = "mastodon"
    Settings = MastodonSettings
    rules = ReplyRules(max_length=MAX_STATUS, can_reply=True, can_message=True)
    idempotent_posts = True
    settings: MastodonSettings

    def __init__(self, settings: MastodonSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.session = LastResponseSession(timeout=settings.timeout_seconds)
        self._api: Mastodon | None = None
        self._me: dict[str, Any] | None = None
        self._search_refused = False
        self._private: list[Mention] = []  # direct statuses seen by ``fetch``, for ``fetch_private``

    @property
    def calls(self) -> int:
        return self.session.calls

    @property
    def api(self) -> Mastodon:
        """Mastodon.py's client on our session (built on first use, when the secret is read)."""
        if self._api is None:
            token = self.settings.access_token.value() if self.settings.access_token else None
            self._api = Mastodon(
                access_token=token,
                api_base_url=self.settings.base_url,
                session=self.session,
                ratelimit_method="throw",
                mastodon_version="4.3.0",
                version_check_mode="none",
                request_timeout=self.settings.timeout_seconds,
            )
        return self._api

    def me(self) -> dict[str, Any]:
        """The brand's account (asked once)."""
        if self._me is None:
            self._me = plain(self._call(self.api.account_verify_credentials))
        return self._me

    def own_accounts(self) -> set[str]:
        mine = {self._me["acct"].lower(), str(self._me["id"])} if self._me else set()
        return super().own_accounts() | mine

    def check(self) -> str:
        me = self.me()
        return f"logged in as @{me['acct']} (id {me['id']})"

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        self.me()
        found: dict[str, Mention] = {}
        notes, state["mentions"] = self._read(
            lambda **kw: self.api.notifications(types=["mention"], **kw), state.get("mentions")
        )
        for note in notes:
            status = note.get("status") if isinstance(note, dict) else None
            if status is not None and status.get("visibility") == "direct":
                self._private.append(self.to_mention(plain(status), kind="dm"))
            else:
                self._add(found, status, "notification")
        query = " ".join(k.strip() for k in self.settings.keywords if k.strip())
        if query and not self._search_refused:
            try:
                statuses, state["search"] = self._search(query, state.get("search"))
            except TransientError as exc:
                if "HTTP" not in str(exc) or "search" not in str(exc).lower():
                    raise
                log.warning("mastodon: keyword search not available on this server (%s); mentions only", exc)
                self._search_refused = True
                statuses = []
            for status in statuses:
                self._add(found, status, "search")
        mentions = sorted(found.values(), key=lambda m: (m.created_at, int(m.id)))
        return FetchResult(mentions, json.dumps(state, sort_keys=True))

    def _add(self, found: dict[str, Mention], status: Any, source: str) -> None:
        try:
            if status is None or status.get("visibility") == "direct":
                return
            mention = self.to_mention(plain(status))
            found[mention.id] = mention
        except (KeyError, TypeError, ValueError) as exc:
            log.warning("mastodon: skipped a malformed status from %s: %s", source, exc)

    def _read(self, get: Callable[..., Any], since: str | None) -> tuple[list, str | None]:
        """Items newer than ``since`` (or within the backfill window on a first run) and the newest id."""
        s = self.settings
        items: list = []
        if since:
            page = self._call(lambda: get(min_id=since, limit=s.page_size))
            for _ in range(s.max_pages):
                if not page:
                    break
                items += page
                if len(page) < s.page_size:
                    break
                page = self._call(lambda p=page: self.api.fetch_previous(p))
        else:
            start = self.clock.now() - timedelta(hours=s.backfill_hours)
            page = self._call(lambda: get(limit=s.page_size))
            for _ in range(s.max_pages):
                if not page:
                    break
                items += [i for i in page if aware(i["created_at"]) >= start]
                if len(page) < s.page_size or aware(page[-1]["created_at"]) < start:
                    break
                page = self._call(lambda p=page: self.api.fetch_next(p))
        ids = [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i]
        newest = max(ids, key=int) if ids else since
        return items, newest

    def _search(self, query: str, since: str | None) -> tuple[list, str | None]:
        """One page of statuses matching ``query``, those newer than ``since`` (search is ranked, not paged by id:
        Mastodon.py also refuses ``min_id`` here without probing the instance's version)."""
        found = self._call(
            lambda: self.api.search_v2(
                query, result_type="statuses", resolve=False, limit=self.settings.page_size
            )
        )
        statuses = [s for s in found.get("statuses", []) if isinstance(s, dict) and "id" in s]
        if since:
            statuses = [s for s in statuses if int(s["id"]) > int(since)]
        else:
            start = self.clock.now() - timedelta(hours=self.settings.backfill_hours)
            statuses = [s for s in statuses if aware(s["created_at"]) >= start]
        newest = max((str(s["id"]) for s in statuses), key=int, default=since)
        return statuses, newest

    def to_mention(self, status: dict[str, Any], *, kind: str | None = None) -> Mention:
        """One status as a ``Mention``; ``raw`` is the status JSON."""
        account = status["account"]
        parent = status.get("in_reply_to_id")
        return Mention(
            platform=self.name,
            id=str(status["id"]),
            url=status.get("url") or status["uri"],
            author=Author(
                handle=account["acct"], display_name=account.get("display_name", ""), id=str(account["id"])
            ),
            text=to_text(status["content"]),
            created_at=aware(status["created_at"]),
            kind=kind or ("reply" if parent else "post"),
            parent_id=str(parent) if parent else None,
            lang=status.get("language") or None,
            raw=status,
        )

    def fetch_private(self, cursor: str | None) -> FetchResult:
        seen = [m for m in self._private if not cursor or int(m.id) > int(cursor)]
        self._private = []
        newest = max((m.id for m in seen), key=int, default=cursor)
        return FetchResult(sorted(seen, key=lambda m: (m.created_at, int(m.id))), newest)

    # -- posting ---------------------------------------------------------------------------------------------

    def can_reply(self, mention: Mention) -> bool:
        return self.rules.can_reply and not self.is_own(mention.author)

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if len(text) > MAX_STATUS:
            raise ReplyNotAllowed(self.name, f"reply is {len(text)} characters; Mastodon allows {MAX_STATUS}")
        handle = f"@{mention.author.handle}"
        body = text if handle.lower() in text.lower() else f"{handle} {text}"
        if len(body) > MAX_STATUS:
            body = text
        visibility = "unlisted" if mention.raw.get("visibility") == "unlisted" else "public"
        status = self._call(
            lambda: self.api.status_post(
                body, in_reply_to_id=mention.id, visibility=visibility, idempotency_key=idempotency_key
            ),
            posting=True,
        )
        return str(status["id"])

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        body = f"@{mention.author.handle} {text}"
        if len(body) > MAX_STATUS:
            raise ReplyNotAllowed(
                self.name, f"message is {len(body)} characters; Mastodon allows {MAX_STATUS}"
            )
        status = self._call(
            lambda: self.api.status_post(body, visibility="direct", idempotency_key=idempotency_key),
            posting=True,
        )
        return str(status["id"])

    def _replies_by(self, mention: Mention) -> list[dict[str, Any]]:
        context = plain(self._call(lambda: self.api.status_context(mention.id)))
        return [s for s in context.get("descendants", []) if str(s.get("in_reply_to_id")) == mention.id]

    def find_reply(self, mention: Mention) -> str | None:
        me = str(self.me()["id"])
        for status in self._replies_by(mention):
            if str(status["account"]["id"]) == me:
                return str(status["id"])
        return None

    def team_replied(self, mention: Mention) -> str | None:
        me = str(self.me()["id"])
        own = self.own_accounts()
        for status in self._replies_by(mention):
            account = status["account"]
            if str(account["id"]) != me and (account["acct"].lower() in own or str(account["id"]) in own):
                return f"{account['acct']}:{status['id']}"
        return None

    # -- errors ----------------------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], Any], *, posting: bool = False) -> Any:
        """Run a Mastodon.py call, turning its failures into mentionbot's error branches."""
        try:
            return fn()
        except MastodonRatelimitError as exc:
            raise TransientError(
                self.name, "rate limited (HTTP 429)", retry_after=self._reset_wait()
            ) from exc
        except MastodonUnauthorizedError as exc:
            raise FatalError(self.name, f"access token refused (HTTP 401): {_detail(exc)}") from exc
        except MastodonServerError as exc:
            raise TransientError(self.name, f"HTTP {_status(exc)}: {_detail(exc)}") from exc
        except MastodonNetworkError as exc:
            raise TransientError(self.name, f"network error: {type(exc.__cause__ or exc).__name__}") from exc
        except MastodonAPIError as exc:
            if "JSON" in str(exc):
                raise TransientError(self.name, "malformed JSON answer") from exc
            status = _status(exc)
            if status == 403:
                raise FatalError(self.name, f"access refused (HTTP 403): {_detail(exc)}") from exc
            if posting and status in (404, 422):
                raise ReplyNotAllowed(self.name, f"Mastodon refused the post: {_detail(exc)}") from exc
            raise TransientError(self.name, f"HTTP {status}: {_detail(exc)} (refused)") from exc
        except MastodonError as exc:
            raise TransientError(self.name, f"{type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise TransientError(self.name, f"{type(exc).__name__}: {exc}") from exc

    def _reset_wait(self) -> float:
        """Seconds until ``X-RateLimit-Reset`` (an ISO time) by the injected clock; 5 minutes when unreadable."""
        value = self.session.headers_seen.get("X-RateLimit-Reset", "")
        try:
            return max(0.0, (aware(value) - self.clock.now()).total_seconds())
        except ValueError:
            return 300.0


def _status(exc: MastodonAPIError) -> Any:
    return exc.args[1] if len(exc.args) > 1 else "?"


def _detail(exc: MastodonAPIError) -> str:
    return str(exc.args[3] if len(exc.args) > 3 else exc)[:300]
