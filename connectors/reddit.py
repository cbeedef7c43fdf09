"""Reddit through praw: username mentions in the inbox, and posts and comments in the configured subreddits.

Sources: ``mentions`` (the inbox, ``/message/inbox``: username mentions, and the private messages that
``fetch_private`` then hands to the cases without a request of its own), ``posts`` (subreddit search for the keywords, newest first; every new
post when no keywords are set) and ``comments`` (the subreddits' newest comments, kept when they contain a keyword).
The first poll reads the recent window of every source; after that the sources take turns as ``rotation`` lists
them, so a quiet poll is one request. A turn pages back by the Listing's ``after`` until it meets what it has seen.

praw's ``stream`` generators are not used: they keep their de-duplication set and ``before`` anchor in memory (lost
on restart), sleep for real between empty polls unless ``pause_after`` is negative, and a ``before`` anchor that a
moderator removes makes Reddit answer empty pages for good. Plain listing calls with a cursor of our own (the newest
``created_utc`` seen and the ids seen just behind it) survive restarts and make one request when nothing is new.

Rate limits: Reddit's ``x-ratelimit-remaining/used/reset`` headers are read here, not by prawcore (which would sleep
for real): when the budget is nearly spent, or on a 429, the poll raises ``TransientError`` with ``retry_after``
until the announced reset, measured on the injected clock. prawcore retries a failed read once at once and a post
never (a retried post may be doubled; the outbox reconciles an uncertain post instead).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import praw
import prawcore
import requests

from bot.clock import Clock
from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError
from bot.models import Author, FetchResult, Mention, Quarantined, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, Secret
from connectors.http import CountingSession, seconds_until_reset

log = logging.getLogger(__name__)

WEB = "https://www.reddit.com"
SOURCES = ("mentions", "posts", "comments")
# Search results can show up late: look back this far behind the newest post seen, de-duplicated by id. Listings
# are near real time; a short look-back covers items that share a second or arrive through a lagging cache.
LOOKBACK_SECONDS = {"posts": 3600, "mentions": 120, "comments": 120}
SEEN_LIMIT = 1000
# Stop asking while this few requests are left in Reddit's window (keeps a reply and its message possible).
RESERVE = 2


@dataclass(kw_only=True)
class RedditSettings(ConnectorSettings):
    """``[connectors.reddit]``: a Reddit "script" app and what to watch."""

    subreddits: list[str] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    username: str = ""
    client_id: Secret | None = None
    client_secret: Secret | None = None
    password: Secret | None = None
    user_agent: str = "mentionbot/0.1"
    page_size: int = 100
    max_pages: int = 10
    rotation: list[str] = field(default_factory=lambda: list(SOURCES))

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled:
            for key in ("client_id", "client_secret", "password"):
                if getattr(self, key) is None:
                    out.append(f'{path}.{key}: expected {{ env = "NAME" }}; Reddit needs it to log in')
            if not self.username:
                out.append(f"{path}.username: expected the bot account's Reddit username")
        if self.keywords and not self.subreddits:
            out.append(f"{path}.subreddits: expected at least one subreddit to search for the keywords in")
        if not 1 <= self.page_size <= 100:
            out.append(f"{path}.page_size: expected 1 to 100 (Reddit's largest page)")
        if self.max_pages < 1:
            out.append(f"{path}.max_pages: expected at least 1")
        if not self.rotation or any(source not in SOURCES for source in self.rotation):
            out.append(f"{path}.rotation: expected a non-empty list of {', '.join(SOURCES)}")
        return out


class _NoRetry(prawcore.sessions.RetryStrategy):
    """prawcore's retry strategy with no retries (for posting)."""

    def _sleep_seconds(self) -> float | None:
        return None

    def consume_available_retry(self) -> _NoRetry:
        return self

    def should_retry_on_failure(self) -> bool:
        return False


class _RetryOnceNow(prawcore.sessions.RetryStrategy):
    """One immediate retry (prawcore's default sleeps for real): a renewed token after a 401, a blip on a read."""

    def __init__(self, retries: int = 1) -> None:
        self.retries = retries

    def _sleep_seconds(self) -> float | None:
        return None

    def consume_available_retry(self) -> _RetryOnceNow:
        return _RetryOnceNow(self.retries - 1)

    def should_retry_on_failure(self) -> bool:
        return self.retries > 0


class RedditSession(CountingSession):
    """praw's HTTP session: counts requests and takes Reddit's rate-limit headers for the connector, so that
    prawcore's own limiter (which sleeps for real) never sees them."""

    def __init__(self, clock: Clock, *, timeout: float) -> None:
        # praw 8 never applies its ``timeout`` setting and prawcore passes its own 16 s: ours is set here.
        super().__init__(timeout=timeout)
        self.clock = clock
        self.remaining: float | None = None
        self.reset_at: datetime | None = None
        self.last_headers: dict[str, str] = {}

    def request(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        try:
            response = super().request(*args, **kwargs)
        except requests.Timeout as exc:
            # prawcore retries a ReadTimeout (or ConnectTimeout) at once, which doubles the wait on a hung
            # connection; as a plain Timeout it is raised, and the pipeline polls again later.
            raise requests.Timeout(f"no answer within {self.timeout[1]:g} s ({type(exc).__name__})") from exc
        self.last_headers = {k.lower(): v for k, v in response.headers.items()}
        remaining = response.headers.pop("x-ratelimit-remaining", None)
        reset = seconds_until_reset(
            {"x-ratelimit-reset": response.headers.pop("x-ratelimit-reset", None)}, self.clock.now()
        )
        response.headers.pop("x-ratelimit-used", None)
        if remaining is not None:
            try:
                self.remaining = float(remaining)
            except ValueError:
                self.remaining = None
            self.reset_at = self.clock.now() + timedelta(seconds=reset or 0)
        return response

    def wait_seconds(self) -> float | None:
        """Seconds until Reddit's window resets when the budget is (nearly) spent; ``None`` while there is room."""
        if self.remaining is None or self.reset_at is None or self.remaining > RESERVE:
            return None
        wait = (self.reset_at - self.clock.now()).total_seconds()
        return wait if wait > 0 else None


class RedditConnector(Connector):
    """Reddit mentions, posts and comments; public reply and private message."""

    name = "reddit"
    Settings = RedditSettings
    rules = ReplyRules(max_length=10_000, can_reply=True, can_message=True)
    capabilities = frozenset(Capability)  # all of them: replies, DMs, and both read back
    settings: RedditSettings

    def __init__(self, settings: RedditSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self._reddit: praw.Reddit | None = None
        self.session = RedditSession(self.clock, timeout=settings.timeout_seconds)
        self._private: list[Mention] = []
        self._quarantined: list[Quarantined] = []
        self._turn = 0  # a failed turn is not repeated: a failing source must not starve the others
        self._patterns = [re.compile(rf"(?<!\w){re.escape(k)}(?!\w)", re.I) for k in settings.keywords]

    @property
    def calls(self) -> int:
        return self.session.calls

    @property
    def reddit(self) -> praw.Reddit:
        if self._reddit is None:
            s = self.settings
            endpoints = {}
            if s.base_url:
                base = s.base_url.rstrip("/")
                endpoints = {"oauth_url": base, "reddit_url": base, "short_url": base}
            self._reddit = praw.Reddit(
                client_id=s.client_id.value() if s.client_id else "",
                client_secret=s.client_secret.value() if s.client_secret else "",
                username=s.username,
                password=s.password.value() if s.password else "",
                user_agent=s.user_agent,
                check_for_updates=False,
                ratelimit_seconds=0,  # praw would sleep for real on a short "doing that too much"
                requestor_kwargs={"session": self.session},
                **endpoints,
            )
            for core in ("_core", "_authorized_core", "_read_only_core"):
                if hasattr(getattr(self._reddit, core, None), "_retry_strategy_class"):
                    getattr(self._reddit, core)._retry_strategy_class = _RetryOnceNow
        return self._reddit

    def own_accounts(self) -> set[str]:
        return super().own_accounts() | (
            {self.settings.username.lower()} if self.settings.username else set()
        )

    def check(self) -> str:
        me = self._call(lambda: self.reddit.user.me())
        return f"logged in as u/{me.name}"

    # -- fetching --------------------------------------------------------------------------------------------

    def sources(self) -> list[str]:
        """The sources this configuration can ask, in rotation order."""
        usable = {"mentions"} | ({"posts", "comments"} if self.settings.subreddits else set())
        return [s for s in self.settings.rotation if s in usable] or ["mentions"]

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        sources = self.sources()
        if cursor is None:
            asked = list(dict.fromkeys(sources))  # the first run reads every source's recent window
        else:
            turn = max(int(state.get("turn", 0)), self._turn)
            self._turn = turn + 1
            state["turn"] = turn + 1
            asked = [sources[turn % len(sources)]]
        mentions: list[Mention] = []
        self._private = []
        self._quarantined = []
        for source in asked:
            found, state[source] = self._read(source, state.get(source))
            mentions += found
        unique = {m.id: m for m in mentions}  # a summoning comment may also be among the keyword comments
        return FetchResult(
            sorted(unique.values(), key=lambda m: (m.created_at, m.id)),
            json.dumps(state, sort_keys=True),
            quarantined=self._quarantined,
        )

    def _listing(self, source: str, limit: int) -> Iterable[Any]:
        """praw's lazy ListingGenerator for ``source``, newest first; it asks for the next page (``after``) only
        when iteration reaches it."""
        if source == "mentions":
            return self.reddit.inbox.all(limit=limit)
        subs = self.reddit.subreddit("+".join(self.settings.subreddits))
        if source == "comments":
            return subs.comments(limit=limit)
        if not self.settings.keywords:
            return subs.new(limit=limit)
        query = " OR ".join(f'"{k}"' if " " in k else k for k in self.settings.keywords)
        return subs.search(query, sort="new", time_filter="week", limit=limit)

    def _wanted(self, source: str, item: Any) -> bool:
        if source == "mentions":  # the inbox also holds replies to our own comments and posts: not mentions
            return item.name.startswith("t4_") or getattr(item, "type", "") == "username_mention"
        if source != "comments" or not self._patterns:
            return True
        body = getattr(item, "body", "") or ""
        return any(p.search(body) for p in self._patterns)

    def _read(self, source: str, mark: dict[str, Any] | None) -> tuple[list[Mention], dict[str, Any]]:
        """New items of one source after ``mark`` (the recent page on a first run) and the source's new mark:
        the newest ``created_utc`` read and the mentions seen within the look-back behind it."""
        first = mark is None
        mark = mark or {"t": 0.0, "seen": {}}
        lookback = LOOKBACK_SECONDS[source]
        seen: dict[str, float] = dict(mark.get("seen", {}))
        limit = self.settings.page_size if first else self.settings.page_size * self.settings.max_pages
        found: list[Mention] = []
        quarantined = self._quarantined
        newest = float(mark["t"])

        def read() -> None:
            nonlocal newest
            count = 0
            for count, item in enumerate(self._listing(source, limit), start=1):  # noqa: B007
                created = float(getattr(item, "created_utc", 0) or 0)
                if created < mark["t"] - lookback:
                    return  # newest first: the rest was read before
                newest = max(newest, created)
                if item.name in seen or not self._wanted(source, item):
                    continue
                try:
                    mention = self.to_message(item) if item.name.startswith("t4_") else self.to_mention(item)
                except (AttributeError, KeyError, TypeError, ValueError) as exc:
                    # Kept aside with its raw body (shown in ``status``) rather than dropped: the mark moves past it.
                    quarantined.append(Quarantined.of(self.name, _data(item), exc, item_id=item.name))
                    seen[item.name] = created
                    continue
                seen[item.name] = created
                if mention.kind != "dm":
                    found.append(mention)
                elif not first and not self.is_own(mention.author):  # older messages predate any case
                    self._private.append(mention)
            if not first and count >= limit:
                log.warning("reddit: %s had more than %d new items; older ones were skipped", source, limit)

        self._call(read)
        recent = sorted((t, i) for i, t in seen.items() if t >= newest - lookback)[-SEEN_LIMIT:]
        return found, {"t": newest, "seen": {i: t for t, i in recent}}

    def to_mention(self, item: Any) -> Mention:
        """A submission or comment as a ``Mention``. Inbox items (username mentions) carry no ``permalink`` and no
        ``link_id``: their link and thread come from ``context``, ``/r/{sub}/comments/{post}/{slug}/{comment}/``."""
        data = _data(item)
        author = getattr(item, "author", None)  # praw makes "[deleted]" None
        handle = author.name if author is not None else "[deleted]"
        is_comment = item.name.startswith("t1_")
        text = item.body if is_comment else "\n\n".join(p for p in (item.title, item.selftext) if p)
        thread, path = item.name, data.get("permalink")
        if is_comment:
            thread = data.get("link_id")
            found = _CONTEXT.match(str(data.get("context") or ""))
            if found is not None:  # an inbox item
                thread, path = thread or f"t3_{found['post']}", path or found["path"]
            elif not thread:
                raise ValueError(
                    f"comment {item.name} has neither a link_id nor a context link to its thread"
                )
            # Older answers have no permalink; Reddit's short form of a comment's link works as well.
            path = path or f"/comments/{thread.removeprefix('t3_')}/_/{item.id}/"
        if not path:
            raise ValueError(f"{item.name} has no permalink")
        return Mention(
            platform=self.name,
            id=item.name,
            url=WEB + path,
            author=Author(handle=handle, display_name=handle, id=str(data.get("author_fullname") or "")),
            text=text,
            created_at=datetime.fromtimestamp(float(item.created_utc), tz=UTC),
            kind="comment" if is_comment else "post",
            parent_id=data.get("parent_id") if is_comment else None,
            thread_id=thread,
            raw=json.loads(json.dumps(data, default=str)),
            unanswerable=unanswerable(data, text=text if is_comment else data.get("selftext")),
            edited=bool(data.get("edited")),
        )

    def can_reply(self, mention: Mention) -> bool:
        return self.rules.can_reply and mention.unanswerable is None and not self.is_own(mention.author)

    # -- posting ---------------------------------------------------------------------------------------------

    def _thing(self, mention: Mention) -> Any:
        short = mention.id.split("_", 1)[1]
        if mention.id.startswith("t1_"):
            return self.reddit.comment(id=short)
        return self.reddit.submission(id=short)

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        posted = self._call(lambda: self._once(lambda: self._thing(mention).reply(text)), posting=True)
        if posted is None:
            raise TransientError(self.name, f"reply to {mention.id} returned nothing")
        return posted.name

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        subject = f"About your post ({mention.id})"
        self._call(
            lambda: self._once(
                lambda: self.reddit.redditor(mention.author.handle).message(subject=subject, message=text)
            ),
            posting=True,
        )
        return f"pm:{mention.author.handle}:{idempotency_key}"

    def _once(self, fn: Any) -> Any:
        """Run a posting call without prawcore's own retries: a POST retried after a dropped answer may post twice;
        the outbox reconciles an uncertain post instead."""
        core = getattr(self.reddit, "_core", None)
        if not hasattr(core, "_retry_strategy_class"):  # a prawcore without pluggable retries
            log.warning(
                "reddit: cannot turn off prawcore's retries for posting; a dropped answer may repeat a post"
            )
            return fn()
        saved = core._retry_strategy_class
        core._retry_strategy_class = _NoRetry
        try:
            return fn()
        finally:
            core._retry_strategy_class = saved

    def find_message(self, mention: Mention, text: str) -> str | None:
        handle = mention.author.handle.lower()
        for sent in self._call(lambda: list(self.reddit.inbox.sent(limit=100))):
            dest = getattr(sent, "dest", None)
            if getattr(dest, "name", str(dest)).lower() == handle and sent.body.strip() == text.strip():
                return sent.name
        return None

    def fetch_private(self, cursor: str | None) -> FetchResult:
        found, self._private = self._private, []
        return FetchResult(sorted(found, key=lambda m: m.created_at), cursor or "read-with-the-inbox")

    def to_message(self, item: Any) -> Mention:
        """A private message (``t4``) in the inbox as a ``dm`` mention."""
        author = item.author.name if item.author is not None else "[deleted]"
        return Mention(
            platform=self.name,
            id=item.name,
            url=f"{WEB}/message/messages/{item.id}",
            author=Author(author, author, author),
            text=item.body,
            created_at=datetime.fromtimestamp(float(item.created_utc), UTC),
            kind="dm",
        )

    def team_replied(self, mention: Mention) -> str | None:
        for handle in sorted(self.own_accounts()):
            for comment in self._call(lambda h=handle: self._comments_of(h)):
                if getattr(comment, "parent_id", None) == mention.id:
                    return f"{handle}:{comment.name}"
        return None

    def _comments_of(self, handle: str) -> list[Any]:
        """The account's newest comments; none for an account Reddit does not know or has suspended."""
        try:
            return list(self.reddit.redditor(handle).comments.new(limit=100))
        except (prawcore.exceptions.NotFound, prawcore.exceptions.Forbidden):
            log.warning("reddit: own account u/%s is not visible; check own_accounts", handle)
            return []

    @classmethod
    def reply_url(cls, mention: Mention, posted_id: str) -> str:
        thread = (mention.thread_id or mention.id).removeprefix("t3_")
        return f"{WEB}/comments/{thread}/_/{posted_id.removeprefix('t1_')}/"

    def find_reply(self, mention: Mention) -> str | None:
        me = self.reddit.redditor(self.settings.username)
        for comment in self._call(lambda: list(me.comments.new(limit=100))):
            if getattr(comment, "parent_id", None) == mention.id:
                return comment.name
        return None

    # -- errors ----------------------------------------------------------------------------------------------

    def _call(self, fn: Any, *, posting: bool = False) -> Any:
        """Run a praw call within Reddit's rate budget, turning its failures into mentionbot's error branches
        (``ERRORS``; ``posting`` picks the second column: a refusal of one post is not the connector's end)."""
        wait = self.session.wait_seconds()
        if wait is not None:
            raise TransientError(
                self.name,
                f"rate budget spent ({self.session.remaining:.0f} left) until the reset",
                retry_after=wait,
            )
        try:
            return fn()
        except (prawcore.exceptions.PrawcoreException, praw.exceptions.PRAWException, ValueError) as exc:
            raise self._error(exc, posting=posting) from exc

    def _error(self, exc: Exception, *, posting: bool) -> ConnectorError:
        """mentionbot's error for a praw/prawcore failure, by the first class in ``ERRORS`` that it is."""
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
        for kind, (reading, refusing, words) in ERRORS.items():
            if isinstance(exc, kind):
                cls = refusing if posting else reading
                message = words.format(exc=exc, status=status, name=type(exc).__name__)
                if kind is prawcore.exceptions.TooManyRequests:
                    wait = seconds_until_reset(self.session.last_headers, self.clock.now())
                    return TransientError(self.name, message, retry_after=wait)
                if kind is praw.exceptions.RedditAPIException:
                    wait = _posting_wait(exc)
                    if wait is not None:
                        return TransientError(self.name, message, retry_after=wait)
                if kind is prawcore.exceptions.ResponseException and status == 401 and not posting:
                    cls, message = FatalError, "login refused (HTTP 401): check the app's id and secret"
                if cls is TransientError:
                    return TransientError(self.name, message)
                return cls(self.name, message)
        return TransientError(self.name, f"{type(exc).__name__}: {exc}")


# Each failure praw or prawcore raises → (mentionbot's error while reading, while posting, the words), the first
# class that matches wins (subclasses before their bases), as prawcore's own ``STATUS_EXCEPTIONS``. Reading errors
# that will not pass by themselves pause the connector (``FatalError``); a post Reddit refuses is that one post's
# end (``ReplyNotAllowed``: the manager gets a "reply by hand" task), never the connector's.
ERRORS: dict[type[Exception], tuple[type[ConnectorError], type[ConnectorError], str]] = {
    prawcore.exceptions.TooManyRequests: (TransientError, TransientError, "rate limited (HTTP 429)"),
    prawcore.exceptions.BadJSON: (TransientError, TransientError, "malformed answer (not JSON)"),
    prawcore.exceptions.OAuthException: (FatalError, FatalError, "login refused: {exc}"),
    prawcore.exceptions.InvalidToken: (FatalError, FatalError, "login refused: {exc}"),
    prawcore.exceptions.Forbidden: (
        FatalError,
        ReplyNotAllowed,
        "forbidden (HTTP 403): the account lacks access",
    ),
    prawcore.exceptions.NotFound: (TransientError, ReplyNotAllowed, "not found (HTTP 404)"),
    prawcore.exceptions.ServerError: (TransientError, TransientError, "{name}: {exc}"),
    prawcore.exceptions.RequestException: (TransientError, TransientError, "{name}: {exc}"),
    prawcore.exceptions.ResponseException: (TransientError, ReplyNotAllowed, "HTTP {status}"),
    praw.exceptions.RedditAPIException: (TransientError, ReplyNotAllowed, "Reddit refused: {exc}"),
    praw.exceptions.ClientException: (TransientError, ReplyNotAllowed, "{name}: {exc}"),
    ValueError: (TransientError, TransientError, "malformed answer: {exc}"),  # requests' JSONDecodeError
}


_WAIT = re.compile(r"(\d+) (millisecond|second|minute)", re.I)


def _posting_wait(exc: praw.exceptions.RedditAPIException) -> float | None:
    """The wait in Reddit's "you are doing that too much, try again in 7 minutes" (``RATELIMIT``), if any."""
    for item in exc.items:
        found = _WAIT.search(item.message or "") if item.error_type == "RATELIMIT" else None
        if found:
            unit = found.group(2).lower()
            return int(found.group(1)) * (60 if unit == "minute" else 0.001 if unit == "millisecond" else 1)
    return None


# ``context`` of an inbox item: the comment's path, then ``?context=3``.
_CONTEXT = re.compile(r"(?P<path>/r/[^/]+/comments/(?P<post>[0-9a-z]+)/[^/]*/(?P<comment>[0-9a-z]+)/)")
# Who removed a post (``removed_by_category``), as the manager reads it.
_REMOVED_BY = {
    "deleted": "deleted by the author",
    "author": "deleted by the author",
    "moderator": "removed by the moderators",
    "automod_filtered": "removed by the moderators",
    "reddit": "removed by Reddit",
    "anti_evil_ops": "removed by Reddit",
    "content_takedown": "removed by Reddit",
    "copyright_takedown": "removed by Reddit",
}


def _data(item: Any) -> dict[str, Any]:
    """The fields Reddit sent for a praw object (its own attributes, without praw's private ones)."""
    return {k: v for k, v in vars(item).items() if not k.startswith("_")}


def unanswerable(data: dict[str, Any], *, text: Any) -> str | None:
    """Why Reddit would not take a reply to this item (removed, deleted, locked, archived), or ``None``."""
    if data.get("removed_by_category"):
        return _REMOVED_BY.get(str(data["removed_by_category"]), "removed")
    if text == "[removed]" or data.get("banned_by") or data.get("removed"):
        return "removed by the moderators"
    if text == "[deleted]":
        return "deleted by the author"
    if data.get("locked"):
        return "locked"
    if data.get("archived"):
        return "archived"
    if data.get("unrepliable_reason"):
        return f"Reddit does not take replies here ({data['unrepliable_reason']})"
    return None
