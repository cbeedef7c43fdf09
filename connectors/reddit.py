"""Reddit through praw: username mentions in the inbox, keyword search (submissions) and the newest comments
(matched against the keywords) in the configured subreddits.

praw's stream helpers loop and sleep on their own; the daemon polls on its schedule instead, so each poll reads the
newest page(s) of each listing, which is what a stream does on each turn. prawcore paces requests from Reddit's
``X-Ratelimit-*`` headers; the connector also keeps the announced budget and, when a poll would not fit in it,
backs off until the reset through the injected clock instead of letting prawcore sleep.

Mention ids are Reddit fullnames (``t1_…`` comments, ``t3_…`` submissions), so a reply knows what it answers.
The cursor keeps, per source, the newest ``created_utc`` seen and the ids seen within a look-back window behind
it, so an item that search indexes late is still picked up and nothing is fetched twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import praw
import prawcore

from bot.errors import FatalError, TransientError
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Connector, ConnectorSettings, Secret
from connectors.http import CountingSession, seconds_until_reset

log = logging.getLogger(__name__)

WEB = "https://www.reddit.com"
# Search results can show up late; look back this far behind the newest item seen, de-duplicated by id.
LOOKBACK_SECONDS = 3600
SEEN_LIMIT = 1000


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
    # Items per source per poll; praw pages through Reddit's 100-item listings (``after``) to reach it.
    page_size: int = 100

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled:
            for key in ("client_id", "client_secret", "password"):
                if getattr(self, key) is None:
                    out.append(f'{path}.{key}: expected {{ env = "NAME" }}; Reddit needs it to log in')
            if not self.username:
                out.append(f"{path}.username: expected the bot account's Reddit username")
        if not 1 <= self.page_size <= 1000:
            out.append(f"{path}.page_size: expected 1 to 1000 (Reddit listings stop at 1000 items)")
        if self.keywords and not self.subreddits:
            out.append(f"{path}.subreddits: expected at least one subreddit to search for the keywords in")
        return out


class RedditSession(CountingSession):
    """praw's session: counts requests and keeps Reddit's budget (``X-Ratelimit-Remaining`` and ``-Reset``)."""

    def __init__(self, clock: Any):
        super().__init__()
        self.clock = clock
        self.remaining: float | None = None
        self.reset_at: datetime | None = None

    def request(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        response = super().request(*args, **kwargs)
        remaining, reset = (
            response.headers.get("x-ratelimit-remaining"),
            response.headers.get("x-ratelimit-reset"),
        )
        if remaining is not None and reset is not None:
            try:
                self.remaining = float(remaining)
                self.reset_at = self.clock.now() + timedelta(seconds=float(reset))
            except ValueError:
                log.warning("reddit: unreadable rate-limit headers %r / %r", remaining, reset)
        return response

    def wait_needed(self, requests: int) -> float | None:
        """Seconds to wait before ``requests`` more fit in the budget Reddit announced, or ``None``."""
        if self.remaining is None or self.reset_at is None or self.remaining >= requests:
            return None
        wait = (self.reset_at - self.clock.now()).total_seconds()
        return wait if wait > 0 else None


class _NoRetry(prawcore.sessions.RetryStrategy):
    """prawcore's retry strategy, with no retries (for posting)."""

    def _sleep_seconds(self) -> float | None:
        return None

    def consume_available_retry(self) -> _NoRetry:
        return self

    def should_retry_on_failure(self) -> bool:
        return False


class RedditConnector(Connector):
    """Reddit mentions and keyword search; public reply and private message."""

    name = "reddit"
    Settings = RedditSettings
    rules = ReplyRules(max_length=10_000, can_reply=True, can_message=True)
    settings: RedditSettings

    def __init__(self, settings: RedditSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self._reddit: praw.Reddit | None = None
        self.session = RedditSession(self.clock)

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
                timeout=int(s.timeout_seconds),
                requestor_kwargs={"session": self.session},
                **endpoints,
            )
        return self._reddit

    def own_accounts(self) -> set[str]:
        return super().own_accounts() | (
            {self.settings.username.lower()} if self.settings.username else set()
        )

    def check(self) -> str:
        me = self._call(lambda: self.reddit.user.me())
        return f"logged in as u/{me.name}"

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        mentions: list[Mention] = []
        limit = self.settings.page_size
        sources = {"inbox": lambda: self.reddit.inbox.mentions(limit=limit)}
        if self.settings.subreddits and self.settings.keywords:
            subs = self.reddit.subreddit("+".join(self.settings.subreddits))
            for keyword in self.settings.keywords:
                sources[f"search:{keyword}"] = lambda kw=keyword: subs.search(
                    kw, sort="new", time_filter="week", limit=limit
                )
            # Reddit's search finds submissions only: the subreddits' newest comments are read and matched here.
            words = [k.lower() for k in self.settings.keywords]
            sources["comments"] = lambda: (
                c for c in subs.comments(limit=limit) if any(w in (c.body or "").lower() for w in words)
            )
        pages = len(sources) * max(1, -(-limit // 100))
        if (wait := self.session.wait_needed(pages)) is not None:
            raise TransientError(
                self.name, f"rate budget nearly spent ({self.session.remaining:g} left)", retry_after=wait
            )
        for source, listing in sources.items():
            mark = state.get(source, {"t": 0.0, "ids": []})
            seen = set(mark["ids"])
            items = self._call(lambda listing=listing: list(listing()))
            newest = mark["t"]
            for item in items:
                created = float(getattr(item, "created_utc", 0) or 0)
                if created < mark["t"] - LOOKBACK_SECONDS or item.name in seen:
                    continue
                try:
                    mention = self.to_mention(item)
                except (AttributeError, TypeError, ValueError) as exc:
                    log.warning("reddit: skipped a malformed %s item: %s", source, exc)
                    continue
                seen.add(item.name)
                mentions.append(mention)
                newest = max(newest, created)
            recent = {m.id: m.created_at.timestamp() for m in mentions}
            keep = [i for i in seen if recent.get(i, newest) >= newest - LOOKBACK_SECONDS or i in mark["ids"]]
            state[source] = {"t": newest, "ids": sorted(keep)[-SEEN_LIMIT:]}
        unique = {m.id: m for m in mentions}  # a summoning comment is also among the subreddit's comments
        return FetchResult(
            sorted(unique.values(), key=lambda m: m.created_at), json.dumps(state, sort_keys=True)
        )

    def to_mention(self, item: Any) -> Mention:
        data = {k: v for k, v in vars(item).items() if not k.startswith("_")}
        author = getattr(item, "author", None)
        handle = author.name if author is not None else "[deleted]"
        is_comment = item.name.startswith("t1_")
        text = item.body if is_comment else "\n\n".join(p for p in (item.title, item.selftext) if p)
        return Mention(
            platform=self.name,
            id=item.name,
            url=WEB + item.permalink,
            author=Author(handle=handle, display_name=handle, id=str(data.get("author_fullname") or "")),
            text=text,
            created_at=datetime.fromtimestamp(float(item.created_utc), tz=UTC),
            kind="comment" if is_comment else "post",
            parent_id=data.get("parent_id") if is_comment else None,
            thread_id=data.get("link_id") if is_comment else item.name,
            raw=json.loads(json.dumps(data, default=str)),
        )

    # -- posting ---------------------------------------------------------------------------------------------

    def _thing(self, mention: Mention) -> Any:
        short = mention.id.split("_", 1)[1]
        if mention.id.startswith("t1_"):
            return self.reddit.comment(id=short)
        return self.reddit.submission(id=short)

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        posted = self._call(lambda: self._once(lambda: self._thing(mention).reply(text)))
        if posted is None:
            raise TransientError(self.name, f"reply to {mention.id} returned nothing")
        return posted.name

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        subject = f"About your post ({mention.id})"
        self._call(
            lambda: self._once(
                lambda: self.reddit.redditor(mention.author.handle).message(subject=subject, message=text)
            )
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
        mark = json.loads(cursor) if cursor else {"t": self.clock.now().timestamp(), "ids": []}
        seen, newest, out = set(mark["ids"]), mark["t"], []
        me = self.settings.username.lower()
        for item in self._call(lambda: list(self.reddit.inbox.messages(limit=self.settings.page_size))):
            created = float(getattr(item, "created_utc", 0) or 0)
            author = getattr(item, "author", None)
            if item.name in seen or created < mark["t"] - LOOKBACK_SECONDS or author is None:
                continue
            if author.name.lower() == me:
                continue
            seen.add(item.name)
            newest = max(newest, created)
            out.append(
                Mention(
                    platform=self.name,
                    id=item.name,
                    url=f"{WEB}/message/messages/{item.id}",
                    author=Author(author.name, author.name, author.name),
                    text=item.body,
                    created_at=datetime.fromtimestamp(created, UTC),
                    kind="dm",
                )
            )
        keep = sorted(seen)[-SEEN_LIMIT:]
        return FetchResult(sorted(out, key=lambda m: m.created_at), json.dumps({"t": newest, "ids": keep}))

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

    def find_reply(self, mention: Mention) -> str | None:
        me = self.reddit.redditor(self.settings.username)
        for comment in self._call(lambda: list(me.comments.new(limit=100))):
            if getattr(comment, "parent_id", None) == mention.id:
                return comment.name
        return None

    # -- errors ----------------------------------------------------------------------------------------------

    def _call(self, fn: Any) -> Any:
        """Run a praw call, turning its failures into mentionbot's two error branches."""
        try:
            return fn()
        except prawcore.exceptions.TooManyRequests as exc:
            wait = seconds_until_reset(exc.response.headers, self.clock.now())
            raise TransientError(self.name, "rate limited (HTTP 429)", retry_after=wait) from exc
        except (prawcore.exceptions.OAuthException, prawcore.exceptions.InvalidToken) as exc:
            raise FatalError(self.name, f"login refused: {exc}") from exc
        except prawcore.exceptions.Forbidden as exc:
            raise FatalError(self.name, "forbidden (HTTP 403): the account lacks access") from exc
        except (prawcore.exceptions.ServerError, prawcore.exceptions.RequestException) as exc:
            raise TransientError(self.name, f"{type(exc).__name__}: {exc}") from exc
        except prawcore.exceptions.ResponseException as exc:
            raise TransientError(self.name, f"HTTP {exc.response.status_code}") from exc
        except praw.exceptions.RedditAPIException as exc:
            raise TransientError(self.name, f"Reddit refused: {exc}") from exc
        except ValueError as exc:  # requests' JSONDecodeError on a garbled body
            raise TransientError(self.name, f"malformed answer: {exc}") from exc
