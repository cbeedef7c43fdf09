"""Mastodon through Mastodon.py: mention notifications and keyword search; replies and private messages.

A poll asks one source, the sources taking turns (the account's mention notifications, the keyword search when
keywords are set, then each followed hashtag's timeline), each with its own ``min_id`` in the cursor, so a quiet
poll is one request; newer pages follow the ``Link`` header. Search needs a server with full-text search; a server
that refuses it is logged once and asked no more until the next start. Hashtag timelines work on every server.

A customer's private answer arrives as a mention notification of a ``direct`` status: ``fetch`` keeps those out of
the public mentions and hands them to ``fetch_private`` (called right after in the same poll), so reading the
private channel costs no request of its own.

Replies carry an ``Idempotency-Key`` (Mastodon keeps it an hour), so a retried post is not doubled. A private
message is a ``direct`` status that @-mentions the person.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mastodon import Mastodon, MastodonError
from mastodon.errors import (
    MastodonAPIError,
    MastodonNetworkError,
    MastodonNotFoundError,
    MastodonRatelimitError,
    MastodonServerError,
    MastodonUnauthorizedError,
)

from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Connector, ConnectorSettings, Secret
from connectors.http import CountingSession, seconds_until_reset

log = logging.getLogger(__name__)

MAX_STATUS = 500
# A reply starts with the person's @-mention, which the server counts as "@username": leave room for it.
MAX_REPLY = 450
SOURCES = ("mentions", "search")
# Stop asking while this few requests are left in the five-minute window.
RESERVE = 1
_BREAKS = re.compile(r"<br\s*/?>|</p>\s*<p>", re.I)
_TAGS = re.compile(r"<[^>]+>")


def plain_text(content: str) -> str:
    """A status's HTML as the plain text a person reads: paragraphs and line breaks kept, tags dropped."""
    text = _TAGS.sub("", _BREAKS.sub("\n", content or ""))
    return html.unescape(text).strip()


@dataclass(kw_only=True)
class MastodonSettings(ConnectorSettings):
    """``[connectors.mastodon]``: the server, the brand's account, an access token and what to search for."""

    account: str = ""
    access_token: Secret | None = None
    keywords: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    page_size: int = 40
    max_pages: int = 10

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled:
            if not self.base_url.startswith(("http://", "https://")):
                out.append(f"{path}.base_url: expected the server's URL, e.g. 'https://mastodon.social'")
            if not self.account:
                out.append(f"{path}.account: expected the brand account's handle on that server (without @)")
            if self.access_token is None:
                out.append(f'{path}.access_token: expected {{ env = "NAME" }} holding the account\'s token')
        if not 1 <= self.page_size <= 80:
            out.append(f"{path}.page_size: expected 1 to 80 (Mastodon's maximum page)")
        if self.max_pages < 1:
            out.append(f"{path}.max_pages: expected at least 1")
        for tag in self.hashtags:
            if not re.fullmatch(r"#?\w+", tag):
                out.append(f"{path}.hashtags: {tag!r} is not a hashtag (letters, digits and _ only)")
        return out


class MastodonSession(CountingSession):
    """Mastodon.py's session: counts requests and remembers the last answer's rate-limit headers."""

    def __init__(self, *, timeout: float) -> None:
        super().__init__(timeout=timeout)
        self.last_headers: dict[str, str] = {}
        self.last_error = ""

    def request(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        response = super().request(*args, **kwargs)
        self.last_headers = {k.lower(): v for k, v in response.headers.items()}
        self.last_error = ""
        if not response.ok:
            with contextlib.suppress(ValueError, AttributeError):
                self.last_error = str(response.json().get("error", ""))[:300]
        return response

    def wait_seconds(self, now: datetime) -> float | None:
        """Seconds until the server's window resets when its budget is (nearly) spent; ``None`` while there is
        room. Stopping one request short also keeps Mastodon.py's own check (on the real time) from firing."""
        try:
            remaining = float(self.last_headers.get("x-ratelimit-remaining", ""))
        except ValueError:
            return None
        if remaining > RESERVE:
            return None
        wait = seconds_until_reset(self.last_headers, now)
        return wait if wait else None


class MastodonConnector(Connector):
    """Statuses that mention the brand's account or match its keywords; replies and direct messages."""

    name = "mastodon"
    Settings = MastodonSettings
    rules = ReplyRules(max_length=MAX_REPLY, can_reply=True, can_message=True)
    idempotent_posts = True
    settings: MastodonSettings

    def __init__(self, settings: MastodonSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.session = MastodonSession(timeout=settings.timeout_seconds)
        self._api: Mastodon | None = None
        self._private: list[Mention] = []
        self._search_refused = False
        self._turn = 0

    @property
    def calls(self) -> int:
        return self.session.calls

    @property
    def api(self) -> Mastodon:
        if self._api is None:
            self._api = Mastodon(
                access_token=self.settings.access_token.value() if self.settings.access_token else None,
                api_base_url=self.settings.base_url.rstrip("/"),
                mastodon_version="4.3.0",  # no version probe (it recurses when the probe fails)
                version_check_mode="none",
                ratelimit_method="throw",  # the pipeline backs off through its clock; never a real sleep
                request_timeout=self.settings.timeout_seconds,
                session=self.session,
            )
        return self._api

    def own_accounts(self) -> set[str]:
        return super().own_accounts() | {self.settings.account.lower().lstrip("@")} - {""}

    def check(self) -> str:
        me = self._call(self.api.account_verify_credentials)
        return f"logged in as @{me['acct']} on {self.settings.base_url}"

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        since: dict[str, str] = dict(state.get("since", {}))
        turn = max(int(state.get("turn", 0)), self._turn)
        self._turn = turn + 1
        sources = ["mentions"] + (["search"] if self.settings.keywords and not self._search_refused else [])
        sources += [f"tag:{tag.lstrip('#').lower()}" for tag in self.settings.hashtags]
        source = sources[turn % len(sources)]
        if source == "search":
            statuses, newest = self._search(since.get("search"))
        elif source.startswith("tag:"):
            statuses, newest = self._hashtag(source[4:], since.get(source))
        else:
            statuses, newest = self._notifications(since.get("mentions"))
        if newest:
            since[source] = newest
        public, self._private = [], []
        for status in statuses:
            try:
                mention = self.to_mention(status)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("mastodon: skipped a malformed status from %s: %s", source, exc)
                continue
            (self._private if mention.kind == "dm" else public).append(mention)
        public.sort(key=lambda m: (m.created_at, m.id))
        return FetchResult(public, json.dumps({"since": since, "turn": turn + 1}, sort_keys=True))

    def fetch_private(self, cursor: str | None) -> FetchResult:
        found, self._private = self._private, []
        mine = self.own_accounts()
        return FetchResult(
            [m for m in found if m.author.handle.lower() not in mine], cursor or "seen-in-fetch"
        )

    def _notifications(self, min_id: str | None) -> tuple[list[dict], str | None]:
        """Statuses of the mention notifications after ``min_id`` (the newest page on the first run)."""
        return self._paged(
            lambda: self.api.notifications(types=["mention"], min_id=min_id, limit=self.settings.page_size),
            min_id,
            self.settings.page_size,
            lambda n: n.get("status"),
        )

    def _hashtag(self, tag: str, min_id: str | None) -> tuple[list[dict], str | None]:
        """Public statuses with ``#tag`` after ``min_id``: a server without full-text search still has these."""
        limit = min(self.settings.page_size, 40)  # the tag timeline's largest page
        return self._paged(
            lambda: self.api.timeline_hashtag(tag, min_id=min_id, limit=limit), min_id, limit, lambda s: s
        )

    def _paged(
        self, first: Callable[[], Any], min_id: str | None, limit: int, status_of: Callable[[dict], Any]
    ) -> tuple[list[dict], str | None]:
        """Items after ``min_id``, paging to newer ones by the ``Link: rel="prev"`` header as Mastodon announces
        it; the statuses they carry and the newest item id."""
        statuses: list[dict] = []
        newest = min_id
        page = self._call(first)
        for number in range(1, self.settings.max_pages + 1):
            if not isinstance(page, list):
                raise TransientError(self.name, "malformed answer: expected a list")
            items = [i for i in page if isinstance(i, dict) and "id" in i]
            statuses += [s for s in map(status_of, items) if isinstance(s, dict)]
            if items:
                newest = max((str(i["id"]) for i in items), key=_id_order)
            if len(page) < limit or min_id is None:
                break
            if number == self.settings.max_pages:
                log.warning(
                    "mastodon: more than %d pages of new items; the rest waits for the next poll", number
                )
                break
            page = self._call(lambda p=page: self.api.fetch_previous(p)) or []
        # A first run on a quiet source still leaves a watermark, so the next poll pages from the start.
        return statuses, newest or "0"

    def _search(self, min_id: str | None) -> tuple[list[dict], str | None]:
        """Statuses matching the keywords newer than ``min_id``. ``min_id`` is applied here, not sent: Mastodon.py
        refuses search's ``min_id`` ("Advanced search parameters require Mastodon 2.8.0+") unless it has probed
        the instance's version, which ``mastodon_version`` skips."""
        query = " OR ".join(self.settings.keywords)
        try:
            found = self._call(lambda: self.api.search_v2(query, result_type="statuses", resolve=False))
        except TransientError as exc:
            if "HTTP 4" not in str(exc):
                raise
            self._search_refused = True
            log.warning("mastodon: the server refused search (%s); only mentions are read", exc)
            return [], min_id
        statuses = [
            s
            for s in (found.get("statuses") or [])
            if isinstance(s, dict) and (not min_id or _id_order(str(s.get("id", ""))) > _id_order(min_id))
        ]
        newest = max([min_id or "0", *(str(s["id"]) for s in statuses)], key=_id_order)
        return statuses, (newest if newest != "0" else None)

    def to_mention(self, status: dict[str, Any]) -> Mention:
        account = status["account"]
        created = status["created_at"]
        if isinstance(created, str):
            created = datetime.fromisoformat(created.replace("Z", "+00:00"))
        if created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        direct = status.get("visibility") == "direct"
        parent = status.get("in_reply_to_id")
        return Mention(
            platform=self.name,
            id=str(status["id"]),
            url=status.get("url") or status.get("uri") or "",
            author=Author(
                handle=str(account["acct"]),
                display_name=account.get("display_name") or "",
                id=str(account["id"]),
            ),
            text=plain_text(status.get("content", "")),
            created_at=created.astimezone(UTC),
            kind="dm" if direct else ("reply" if parent else "post"),
            parent_id=str(parent) if parent else None,
            thread_id=str(status.get("in_reply_to_id") or status["id"]),
            lang=status.get("language"),
            raw=_without_nulls(json.loads(json.dumps(status, default=str))),
        )

    # -- posting ---------------------------------------------------------------------------------------------

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        counted = len(f"@{mention.author.handle.split('@')[0]} {text}")
        if counted > MAX_STATUS:
            raise ReplyNotAllowed(self.name, f"reply is {counted} characters; the server allows {MAX_STATUS}")
        visibility = mention.raw.get("visibility") or "public"
        status = self._call(
            lambda: self.api.status_post(
                f"@{mention.author.handle} {text}",
                in_reply_to_id=mention.id,
                visibility="unlisted" if visibility == "public" else visibility,
                idempotency_key=idempotency_key,
            ),
            posting=True,
        )
        return str(status["id"])

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        status = self._call(
            lambda: self.api.status_post(
                f"@{mention.author.handle} {text}", visibility="direct", idempotency_key=idempotency_key
            ),
            posting=True,
        )
        return str(status["id"])

    def _replies_in_thread(self, mention: Mention) -> list[dict]:
        context = self._call(lambda: self.api.status_context(mention.id))
        return [
            s
            for s in context.get("descendants") or []
            if str(s.get("in_reply_to_id")) == mention.id and isinstance(s.get("account"), dict)
        ]

    def find_reply(self, mention: Mention) -> str | None:
        me = self.settings.account.lower()
        return next(
            (str(s["id"]) for s in self._replies_in_thread(mention) if s["account"]["acct"].lower() == me),
            None,
        )

    def team_replied(self, mention: Mention) -> str | None:
        own = self.own_accounts()
        for status in self._replies_in_thread(mention):
            if status["account"]["acct"].lower() in own:
                return f"{status['account']['acct']}:{status['id']}"
        return None

    def find_message(self, mention: Mention, text: str) -> str | None:
        statuses = self._call(lambda: self.api.account_statuses(self._my_id(), limit=40))
        for status in statuses or []:
            if status.get("visibility") == "direct" and text.strip() in plain_text(status.get("content", "")):
                return str(status["id"])
        return None

    def _my_id(self) -> str:
        return str(self._call(self.api.account_verify_credentials)["id"])

    # -- errors ----------------------------------------------------------------------------------------------

    def _detail(self, exc: Exception) -> str:
        """The server's own words (its ``error``), else the exception's summary, never a response body."""
        if self.session.last_error:
            return self.session.last_error
        if len(exc.args) >= 4 and exc.args[3]:
            return str(exc.args[3])[:300]
        return str(exc.args[0])[:120] if exc.args else type(exc).__name__

    def _call(self, fn: Callable[[], Any], *, posting: bool = False) -> Any:
        """Run a Mastodon.py call within the server's rate budget, turning its failures into mentionbot's error
        branches."""
        wait = self.session.wait_seconds(self.clock.now())
        if wait is not None:
            raise TransientError(self.name, "rate budget spent until the reset", retry_after=wait)
        try:
            return fn()
        except MastodonRatelimitError as exc:
            wait = seconds_until_reset(self.session.last_headers, self.clock.now())
            raise TransientError(
                self.name, "rate limited (HTTP 429)", retry_after=300.0 if wait is None else wait
            ) from exc
        except MastodonUnauthorizedError as exc:
            raise FatalError(self.name, f"access token refused (HTTP 401): {self._detail(exc)}") from exc
        except (MastodonServerError, MastodonNetworkError) as exc:
            raise TransientError(self.name, f"{type(exc).__name__}: {self._detail(exc)}") from exc
        except MastodonNotFoundError as exc:
            if posting:
                raise ReplyNotAllowed(self.name, f"the status is gone: {self._detail(exc)}") from exc
            raise TransientError(self.name, f"HTTP 404: {self._detail(exc)}") from exc
        except MastodonAPIError as exc:
            status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
            if status == 403:
                raise FatalError(self.name, f"access refused (HTTP 403): {self._detail(exc)}") from exc
            if posting and status in (400, 422):
                raise ReplyNotAllowed(self.name, f"the server refused the post: {self._detail(exc)}") from exc
            what = f"HTTP {status}" if status else "malformed answer"
            raise TransientError(self.name, f"{what}: {self._detail(exc)}") from exc
        except MastodonError as exc:
            raise TransientError(self.name, f"{type(exc).__name__}: {exc}") from exc


def _without_nulls(value: Any) -> Any:
    """Mastodon.py's typed entities carry every field of the API version, mostly empty: keep what was there."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _id_order(status_id: str) -> tuple[int, str]:
    """Mastodon ids are opaque strings, in practice numbers of growing length: order them as such."""
    return (len(status_id), status_id)
