"""Mastodon through Mastodon.py: mention notifications and keyword search; replies and private messages.

A poll asks one source, the sources taking turns (the account's mention notifications, the keyword search when
keywords are set, then each followed hashtag's timeline), each with its own ``min_id`` in the cursor, so a quiet
poll is one request; newer pages follow the ``Link`` header. Search needs a server with full-text search; a server
that refuses it is logged once and asked no more until the next start. Hashtag timelines work on every server.

A customer's private answer arrives as a mention notification of a ``direct`` status: ``fetch`` hands those to
``fetch_private`` (called right after in the same poll), so reading the private channel costs no request of its own.
A ``direct`` status that answers one of the brand's own is only that; any other (a first contact in private) is also
a mention, stored but never answered in public. What a status carries besides its words (the content warning, media
descriptions, a quoted status, the link card) is read with it; a reblog is read as the status it shares.

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
from mastodon.errors import MastodonAPIError, MastodonRatelimitError

from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError
from bot.models import Author, FetchResult, Mention, Quarantined, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, Secret
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


# An HTTP status Mastodon answered → (the error when reading, the error when posting, what it means). A refused
# post is a refusal of that one action (handed to a human); a refused read stops the connector only where waiting
# cannot help (the token). Statuses not here: 429 and 5xx are transient, anything else transient too.
STATUS_ERRORS: dict[int, tuple[type[ConnectorError], type[ConnectorError], str]] = {
    400: (TransientError, ReplyNotAllowed, "bad request"),
    401: (FatalError, FatalError, "access token refused"),
    403: (FatalError, ReplyNotAllowed, "access refused"),
    404: (TransientError, ReplyNotAllowed, "not found (deleted, or not visible to the account)"),
    410: (TransientError, ReplyNotAllowed, "gone"),
    422: (TransientError, ReplyNotAllowed, "the server refused it"),
}
# What a status's attachment is called on the line that carries its description (alt text).
MEDIA_LABELS = {"image": "Image", "gifv": "GIF", "video": "Video", "audio": "Audio"}
GONE = "mention notification without its status: deleted, or no longer visible to the brand's account"
DIRECT = "sent as a private (direct) message: a public reply would expose it"


def plain_text(content: str) -> str:
    """A status's HTML as the plain text a person reads: paragraphs and line breaks kept, tags dropped."""
    text = _TAGS.sub("", _BREAKS.sub("\n", content or ""))
    return html.unescape(text).strip()


def status_text(status: dict[str, Any]) -> str:
    """What triage reads: the content warning, the author's words, then each attachment's description, a quoted
    status and the link card, every one on its own line with a short label (not the author's own words)."""
    lines = []
    if warning := str(status.get("spoiler_text") or "").strip():
        lines.append(f"Content warning: {warning}")
    if body := plain_text(status.get("content") or ""):
        lines.append(body)
    for media in status.get("media_attachments") or []:
        if isinstance(media, dict) and (alt := str(media.get("description") or "").strip()):
            lines.append(f"{MEDIA_LABELS.get(str(media.get('type')), 'Attachment')}: {alt}")
    quoted = (
        (status.get("quote") or {}).get("quoted_status") if isinstance(status.get("quote"), dict) else None
    )
    if isinstance(quoted, dict) and (words := plain_text(quoted.get("content") or "")):
        lines.append(f"Quoted post by @{(quoted.get('account') or {}).get('acct', '')}: {words}")
    card = status.get("card") if isinstance(status.get("card"), dict) else {}
    if title := str(card.get("title") or "").strip():
        about = str(card.get("description") or "").strip()
        lines.append(f"Link: {title}" + (f" — {about}" if about else ""))
    return "\n".join(lines)


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
    capabilities = frozenset(Capability)  # all of them: replies, DMs, and both read back
    idempotent_posts = True
    settings: MastodonSettings

    def __init__(self, settings: MastodonSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.session = MastodonSession(timeout=settings.timeout_seconds)
        self._api: Mastodon | None = None
        self._private: list[Mention] = []
        self._search_refused = False
        self._turn = 0
        self._me = ""

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
            items, newest = self._search(since.get("search"))
        elif source.startswith("tag:"):
            items, newest = self._hashtag(source[4:], since.get(source))
        else:
            items, newest = self._notifications(since.get("mentions"))
        if newest:
            since[source] = newest
        public, self._private, quarantined = [], [], []
        seen: set[str] = set()
        for item in items:
            status = item.get("status") if source == "mentions" and isinstance(item, dict) else item
            if status is None:  # as mastodon.social sends the mention of a status deleted since
                quarantined.append(Quarantined.of(self.name, _plain(item), f"{source}: {GONE}"))
                continue
            try:
                mention = self.to_mention(status)
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                reason = f"{source}: {type(exc).__name__}: {exc}"
                quarantined.append(Quarantined.of(self.name, _plain(item), reason))
                continue
            if mention.id in seen:
                continue  # a reblog of a status this page also holds
            seen.add(mention.id)
            if mention.kind == "dm":
                self._private.append(mention)
                if self._answers_us(status):
                    continue  # an answer in a private conversation we started: the case's, not a new mention
            public.append(mention)
        public.sort(key=lambda m: (m.created_at, m.id))
        cursor = json.dumps({"since": since, "turn": turn + 1}, sort_keys=True)
        return FetchResult(public, cursor, quarantined=quarantined)

    def _answers_us(self, status: dict[str, Any]) -> bool:
        """Whether a direct status replies to one of the brand's own statuses."""
        to = status.get("in_reply_to_account_id")
        return bool(to) and str(to) == self._my_id()

    def fetch_private(self, cursor: str | None) -> FetchResult:
        found, self._private = self._private, []
        mine = self.own_accounts()
        return FetchResult(
            [m for m in found if m.author.handle.lower() not in mine], cursor or "seen-in-fetch"
        )

    def _notifications(self, min_id: str | None) -> tuple[list[Any], str | None]:
        """Mention notifications after ``min_id`` (the newest page on the first run)."""
        return self._paged(
            lambda: self.api.notifications(types=["mention"], min_id=min_id, limit=self.settings.page_size),
            min_id,
            self.settings.page_size,
        )

    def _hashtag(self, tag: str, min_id: str | None) -> tuple[list[Any], str | None]:
        """Public statuses with ``#tag`` after ``min_id``: a server without full-text search still has these."""
        limit = min(self.settings.page_size, 40)  # the tag timeline's largest page
        return self._paged(lambda: self.api.timeline_hashtag(tag, min_id=min_id, limit=limit), min_id, limit)

    def _paged(
        self, first: Callable[[], Any], min_id: str | None, limit: int
    ) -> tuple[list[Any], str | None]:
        """Items after ``min_id``, paging to newer ones by the ``Link: rel="prev"`` header as Mastodon announces
        it; every item as it came (the caller reads or quarantines each) and the newest item id."""
        found: list[Any] = []
        newest = min_id
        page = self._call(first)
        for number in range(1, self.settings.max_pages + 1):
            if not isinstance(page, list):
                raise TransientError(self.name, "malformed answer: expected a list")
            found += page
            ids = [str(i["id"]) for i in page if isinstance(i, dict) and i.get("id") is not None]
            if ids:
                newest = max([*ids, *([newest] if newest else [])], key=_id_order)
            if len(page) < limit or min_id is None:
                break
            if number == self.settings.max_pages:
                log.warning(
                    "mastodon: more than %d pages of new items; the rest waits for the next poll", number
                )
                break
            page = self._call(lambda p=page: self.api.fetch_previous(p)) or []
        # A first run on a quiet source still leaves a watermark, so the next poll pages from the start.
        return found, newest or "0"

    def _search(self, min_id: str | None) -> tuple[list[Any], str | None]:
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
        # Only newer ones; an item without a readable id is kept for the caller to quarantine.
        statuses = [
            s
            for s in (found.get("statuses") or [])
            if not isinstance(s, dict)
            or s.get("id") is None
            or not min_id
            or _id_order(str(s["id"])) > _id_order(min_id)
        ]
        ids = [str(s["id"]) for s in statuses if isinstance(s, dict) and s.get("id") is not None]
        newest = max([min_id or "0", *ids], key=_id_order)
        return statuses, (newest if newest != "0" else None)

    def to_mention(self, status: dict[str, Any]) -> Mention:
        """A status as a mention. A reblog is read as the status it shares: those are its author's words, and a
        reply goes to that status and its author, never to the one who boosted it."""
        if isinstance(status.get("reblog"), dict):
            status = status["reblog"]
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
                reach=account.get("followers_count"),
            ),
            text=status_text(status),
            created_at=created.astimezone(UTC),
            kind="dm" if direct else ("reply" if parent else "post"),
            parent_id=str(parent) if parent else None,
            thread_id=str(status.get("in_reply_to_id") or status["id"]),
            lang=status.get("language"),
            raw=_plain(status),
            unanswerable=_unanswerable(status),
            edited=bool(status.get("edited_at")),
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
        if not self._me:
            self._me = str(self._call(self.api.account_verify_credentials)["id"])
        return self._me

    # -- errors ----------------------------------------------------------------------------------------------

    def _detail(self, exc: Exception) -> str:
        """The server's own words (its ``error``), else the exception's summary, never a response body."""
        if self.session.last_error:
            return self.session.last_error
        if len(exc.args) >= 4 and exc.args[3]:
            return str(exc.args[3])[:300]
        return str(exc.args[0])[:120] if exc.args else type(exc).__name__

    def _call(self, fn: Callable[[], Any], *, posting: bool = False) -> Any:
        """Run a Mastodon.py call within the server's rate budget, its failures mapped by ``STATUS_ERRORS``."""
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
        except MastodonAPIError as exc:
            status = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else None
            if status in STATUS_ERRORS:
                read, post, meaning = STATUS_ERRORS[status]
                error = post if posting else read
                raise error(self.name, f"{meaning} (HTTP {status}): {self._detail(exc)}") from exc
            what = f"HTTP {status}" if status else "malformed answer"
            raise TransientError(self.name, f"{type(exc).__name__}: {what}: {self._detail(exc)}") from exc
        except MastodonError as exc:  # the network, a timeout, an answer Mastodon.py could not read
            raise TransientError(self.name, f"{type(exc).__name__}: {self._detail(exc)}") from exc


def _unanswerable(status: dict[str, Any]) -> str | None:
    """Why Mastodon would not take (or should not get) a public reply to ``status``, if it would not."""
    account = status.get("account") or {}
    if account.get("suspended"):
        return "the account is suspended"
    if account.get("limited"):
        return "the account is limited by its server's moderators"
    if status.get("visibility") == "direct":
        return DIRECT
    return None


def _plain(value: Any) -> Any:
    """Mastodon.py's entity as plain JSON (its datetimes as text), without the empty fields it adds."""
    return _without_nulls(json.loads(json.dumps(value, default=str)))


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
