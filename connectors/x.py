"""X (Twitter) through tweepy's v2 ``Client``: brand mentions and keyword search; summoned replies and DMs.

X charges for every request, so a poll makes as few as keep up: **each poll asks one source**, the sources taking
turns as ``rotation`` lists them (by default the brand's mentions timeline, then the keyword search, then the
mentions again …), each with its own ``since_id`` in the cursor. A poll with nothing new therefore costs exactly one
request; a busy one adds a request per further page (``next_token``). The mentions timeline is listed first because
its reads are the cheap "owned" kind and it is where the posts we may answer come from; a post that both @-mentions
the brand and matches a keyword arrives once (the store de-duplicates by id). A source whose rate-limit window is
spent is not asked until it resets (``x-rate-limit-remaining``/``-reset`` of its last answer). Posting costs a
request more: before a reply, one search of the conversation checks that no teammate has answered by hand.

Since February 2026 self-serve apps may reply only where the author summoned the brand's account (an @-mention or a
quote of one of its posts): ``can_reply`` says which mentions qualify, and for the others the pipeline drafts a
"reply by hand" task and the case's private contact goes by DM.

tweepy hard-codes ``https://api.twitter.com``; its public ``session`` is replaced by one that sends every request to
``base_url`` (the loopback fake in tests and the demo), applies the timeout, counts the requests and reads the
rate-limit headers.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
import tweepy

from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError
from bot.models import Author, FetchResult, Mention, Quarantined, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, Secret
from connectors.http import CountingSession, seconds_until_reset

log = logging.getLogger(__name__)
# tweepy logs each request's headers (the bearer token) and oauthlib the signed OAuth fields at DEBUG: secrets never
# go to the log, whatever level the daemon runs at.
for _name in ("tweepy", "oauthlib", "requests_oauthlib"):
    logging.getLogger(_name).setLevel(logging.INFO)

HOSTS = ("https://api.twitter.com", "https://api.x.com")
WEB = "https://x.com"
MAX_REPLY = 280
SOURCES = ("mentions", "search")
# Recent search reaches back seven days; an older since_id is refused, so the window start is used instead.
SEARCH_WINDOW = timedelta(days=7) - timedelta(minutes=5)
TWITTER_EPOCH_MS = 1288834974657
EXPANSIONS = ["author_id", "referenced_tweets.id", "referenced_tweets.id.author_id"]
TWEET_FIELDS = [
    "created_at",
    "author_id",
    "conversation_id",
    "referenced_tweets",
    "in_reply_to_user_id",
    "lang",
    "entities",
    "note_tweet",  # a long post's full text: ``text`` holds only its first 280 characters
]
USER_FIELDS = ["name", "username", "verified", "public_metrics"]
UNKNOWN_LANGS = {"und", "qme", "qht", "qam", "qst", "zxx"}


def snowflake_time(tweet_id: str) -> datetime:
    """When a post with this id was created (X ids are time-ordered snowflakes)."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)


def followers(user: dict[str, Any]) -> int | None:
    """The user's ``public_metrics.followers_count``, where the answer holds one (``Author`` drops a garbled one)."""
    metrics = user.get("public_metrics")
    return metrics.get("followers_count") if isinstance(metrics, dict) else None


@dataclass(kw_only=True)
class XSettings(ConnectorSettings):
    """``[connectors.x]``: the brand's account, what to search for, an app token and the account's user keys."""

    user_id: str = ""
    username: str = ""
    keywords: list[str] = field(default_factory=list)
    rotation: list[str] = field(default_factory=lambda: ["mentions", "search"])
    bearer_token: Secret | None = None
    consumer_key: Secret | None = None
    consumer_secret: Secret | None = None
    access_token: Secret | None = None
    access_token_secret: Secret | None = None
    page_size: int = 100
    max_pages: int = 10
    backfill_hours: int = 24

    USER_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")

    @property
    def user_context(self) -> bool:
        """Whether the account's OAuth 1.0a user keys are configured (needed to post and send DMs)."""
        return all(getattr(self, key) is not None for key in self.USER_KEYS)

    def query(self) -> str:
        """The recent-search query for the keywords."""
        terms = [f'"{k}"' if " " in k.strip() else k.strip() for k in self.keywords if k.strip()]
        if not terms:
            return ""
        return (f"({' OR '.join(terms)})" if len(terms) > 1 else terms[0]) + " -is:retweet"

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled:
            if not self.user_id.isdigit():
                out.append(f"{path}.user_id: expected the brand account's numeric X user id")
            if not self.username:
                out.append(f"{path}.username: expected the brand account's X handle (without @)")
            if self.bearer_token is None:
                out.append(
                    f'{path}.bearer_token: expected {{ env = "NAME" }} holding the app\'s bearer token'
                )
        given = [key for key in self.USER_KEYS if getattr(self, key) is not None]
        if given and len(given) < len(self.USER_KEYS):
            missing = ", ".join(key for key in self.USER_KEYS if key not in given)
            out.append(f"{path}: posting needs all four user keys; missing {missing} (or remove them all)")
        if not self.rotation or any(source not in SOURCES for source in self.rotation):
            out.append(f"{path}.rotation: expected a non-empty list of {' and '.join(SOURCES)}")
        if len(self.query()) > 512:
            out.append(f"{path}.keywords: the search query is {len(self.query())} characters; X allows 512")
        if not 10 <= self.page_size <= 100:
            out.append(f"{path}.page_size: expected 10 to 100 (posts per request)")
        if self.max_pages < 1:
            out.append(f"{path}.max_pages: expected at least 1")
        return out


class XSession(CountingSession):
    """tweepy's session, pointed at ``base_url``, with a timeout, a request counter and the rate-limit headers."""

    def __init__(self, *, base_url: str, timeout: float):
        super().__init__(timeout=timeout)
        self.base_url = base_url.rstrip("/")
        self.limits: dict[str, tuple[int, float]] = {}  # endpoint → (remaining, reset epoch)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if self.base_url:
            for host in HOSTS:
                if url.startswith(host):
                    url = self.base_url + url[len(host) :]
        response = super().request(method, url, *args, **kwargs)
        remaining, reset = (
            response.headers.get("x-rate-limit-remaining"),
            response.headers.get("x-rate-limit-reset"),
        )
        if remaining is not None and reset is not None:
            try:
                self.limits[endpoint(method, url)] = (int(remaining), float(reset))
            except ValueError:
                log.warning("x: unreadable rate-limit headers %r / %r", remaining, reset)
        return response


def endpoint(method: str, url: str) -> str:
    """The rate-limited endpoint a request belongs to: ``GET /2/users/:id/mentions``."""
    path = requests.utils.urlparse(url).path
    parts = path.split("/")  # "", "2", "users", "783214", "mentions"
    return method.upper() + " " + "/".join(":id" if i > 1 and p.isdigit() else p for i, p in enumerate(parts))


ENDPOINTS = {"mentions": "GET /2/users/:id/mentions", "search": "GET /2/tweets/search/recent"}


class XConnector(Connector):
    """X posts that mention the brand or match its keywords; replies where summoned, DMs otherwise."""

    name = "x"
    Settings = XSettings
    rules = ReplyRules(max_length=MAX_REPLY, can_reply=True, can_message=True)
    capabilities = frozenset(Capability)  # all of them: replies, DMs, and both read back
    settings: XSettings

    def __init__(self, settings: XSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        if not settings.user_context:  # read-only: every answer is a task for a human
            self.rules = ReplyRules(max_length=MAX_REPLY, can_reply=False, can_message=False)
            self.capabilities = frozenset()
        self.session = XSession(base_url=settings.base_url, timeout=settings.timeout_seconds)
        self._client: tweepy.Client | None = None
        self._turn = 0  # a failed turn is not repeated: a failing source must not starve the other

    @property
    def calls(self) -> int:
        return self.session.calls

    @property
    def client(self) -> tweepy.Client:
        """tweepy's v2 client on our session (built on first use, when the secrets are read)."""
        if self._client is None:
            s = self.settings

            def secret(value: Secret | None) -> str | None:
                return value.value() if value else None

            self._client = tweepy.Client(
                bearer_token=secret(s.bearer_token),
                consumer_key=secret(s.consumer_key),
                consumer_secret=secret(s.consumer_secret),
                access_token=secret(s.access_token),
                access_token_secret=secret(s.access_token_secret),
                return_type=dict,
                wait_on_rate_limit=False,  # it would time.sleep; the pipeline backs off instead
            )
            self._client.session = self.session
        return self._client

    def own_accounts(self) -> set[str]:
        mine = {self.settings.username.lower(), self.settings.user_id} - {""}
        return super().own_accounts() | mine

    def check(self) -> str:
        if self.settings.user_context:
            me = self._call(lambda: self.client.get_me(user_auth=True))["data"]
            return f"logged in as @{me['username']} (id {me['id']})"
        user = self._call(lambda: self.client.get_user(username=self.settings.username))["data"]
        return f"reading as an app for @{user['username']} (no user keys: replies and DMs are done by hand)"

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        since: dict[str, str] = dict(state.get("since", {}))
        turn = max(int(state.get("turn", 0)), self._turn)
        self._turn = turn + 1
        source = self._source(turn)
        # A turn that stops at max_pages leaves the older posts for the next turns of its source (``backlog``:
        # read below ``until``; ``since`` moves to the newest only once the backlog is read): none is skipped.
        backlog: dict[str, dict[str, str]] = dict(state.get("backlog", {}))
        pending = backlog.pop(source, None)
        tweets, includes, newest, until = self._read(
            source, since.get(source), until=pending["until"] if pending else None
        )
        if pending:
            newest = pending["newest"]
        if until:
            backlog[source] = {"until": until, "newest": newest or until}
        elif newest:
            since[source] = newest
        users = {u["id"]: u for u in includes.get("users", []) if isinstance(u, dict) and "id" in u}
        related = {t["id"]: t for t in includes.get("tweets", []) if isinstance(t, dict) and "id" in t}
        mentions, quarantined = [], []
        for tweet in tweets:
            try:
                mentions.append(self.to_mention(tweet, users, related))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                # since_id moves past it: kept aside with its raw body (``status`` shows it), never lost.
                item_id = tweet.get("id") if isinstance(tweet, dict) else None
                quarantined.append(Quarantined.of(self.name, {"data": tweet}, exc, item_id=item_id))
        mentions.sort(key=lambda m: (m.created_at, int(m.id)))
        cursor = {"since": since, "turn": turn + 1} | ({"backlog": backlog} if backlog else {})
        return FetchResult(mentions, json.dumps(cursor, sort_keys=True), quarantined=quarantined)

    def _source(self, turn: int) -> str:
        """The source this turn asks: the rotation's, unless it cannot be asked (no keywords, limit spent)."""
        rotation = [s for s in self.settings.rotation if s != "search" or self.settings.query()] or [
            "mentions"
        ]
        order = [rotation[(turn + i) % len(rotation)] for i in range(len(rotation))]
        now = self.clock.now().timestamp()
        waits = {}
        for source in order:
            remaining, reset = self.session.limits.get(ENDPOINTS[source], (1, 0.0))
            if remaining > 0 or reset <= now:
                return source
            waits[source] = reset - now
        raise TransientError(self.name, "rate limit spent on every source", retry_after=min(waits.values()))

    def _read(
        self, source: str, since_id: str | None, *, until: str | None = None
    ) -> tuple[list[dict], dict[str, list], str | None, str | None]:
        """The posts of ``source`` newer than ``since_id`` (or in the backfill window) and older than ``until``,
        up to ``max_pages`` pages; the newest id, and the oldest id read when older posts remain unread."""
        s = self.settings
        params: dict[str, Any] = {
            "max_results": s.page_size,
            "expansions": EXPANSIONS,
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
        }
        now = self.clock.now()
        start = now - timedelta(hours=s.backfill_hours)
        if source == "search":
            start = max(start, now - SEARCH_WINDOW)
            if since_id and snowflake_time(since_id) < now - SEARCH_WINDOW:
                since_id = None  # outside the search window: X would refuse it
        if since_id:
            params["since_id"] = since_id
        else:
            params["start_time"] = start
        if until:
            params["until_id"] = until
        page_key = "next_token" if source == "search" else "pagination_token"
        tweets: list[dict] = []
        includes: dict[str, list] = {"users": [], "tweets": []}
        newest = since_id
        for page in range(s.max_pages):
            if source == "search":
                body = self._call(lambda p=dict(params): self.client.search_recent_tweets(s.query(), **p))
            else:
                body = self._call(lambda p=dict(params): self.client.get_users_mentions(s.user_id, **p))
            if not isinstance(body, dict):
                raise TransientError(self.name, f"{source}: malformed answer")
            meta = body.get("meta") or {}
            data = body.get("data") or []
            tweets += data if isinstance(data, list) else [data]
            for problem in body.get("errors") or []:
                # A 200 with ``errors`` is a partial answer (a deleted quoted post, a suspended author): the
                # posts of the page are still read; one that needs what is missing is quarantined.
                log.info("x: %s answered with a partial error: %s", source, _problem(problem))
            for key in ("users", "tweets"):
                includes[key] += (body.get("includes") or {}).get(key, [])
            if page == 0 and meta.get("newest_id"):
                newest = str(meta["newest_id"])
                if since_id and int(since_id) > int(newest):
                    newest = since_id
            token = meta.get("next_token")
            if not token or not data:
                break
            params[page_key] = token
        else:
            ids = [int(t["id"]) for t in tweets if isinstance(t, dict) and str(t.get("id", "")).isdigit()]
            if ids:
                log.info(
                    "x: %s has more than %d pages of new posts; the older ones come next", source, s.max_pages
                )
                return tweets, includes, newest, str(min(ids))
        return tweets, includes, newest, None

    def to_mention(self, tweet: dict[str, Any], users: dict[str, dict], related: dict[str, dict]) -> Mention:
        """One post as a ``Mention``; ``raw`` is X's single-post shape: ``{"data": …, "includes": …}``. A long
        post is read from its ``note_tweet`` (``text`` is cut at 280 characters)."""
        tweet_id = str(tweet["id"])
        if not tweet_id.isdigit():
            raise ValueError(f"post id {tweet_id!r} is not a number")
        if "author_id" not in tweet:
            raise KeyError("author_id: the post came without its author")
        if tweet["author_id"] not in users:
            raise KeyError(f"author {tweet['author_id']}: not among the answer's includes.users")
        user = users[tweet["author_id"]]
        note = tweet.get("note_tweet") if isinstance(tweet.get("note_tweet"), dict) else {}
        text = note.get("text") or tweet["text"]
        if not isinstance(text, str):
            raise TypeError(f"text is {type(text).__name__}, not a string")
        for link in entities(tweet).get("urls", []):
            expanded = link.get("unwound_url") or link.get("expanded_url")
            if link.get("url") and expanded:
                text = text.replace(link["url"], expanded)
        refs = tweet.get("referenced_tweets") or []
        parent = next((r["id"] for r in refs if r.get("type") == "replied_to"), None)
        quoted = [related[r["id"]] for r in refs if r.get("id") in related]
        authors = [user] + [users[t["author_id"]] for t in quoted if t.get("author_id") in users]
        lang = tweet.get("lang")
        created = tweet.get("created_at")
        return Mention(
            platform=self.name,
            id=tweet_id,
            url=f"{WEB}/{user['username']}/status/{tweet_id}",
            author=Author(
                handle=user["username"],
                display_name=user.get("name", ""),
                id=str(user["id"]),
                reach=followers(user),
            ),
            text=html.unescape(text),
            # The id is a snowflake: it says when the post was made to the millisecond, should the field be missing.
            created_at=datetime.fromisoformat(created.replace("Z", "+00:00"))
            if created
            else snowflake_time(tweet_id),
            kind="reply" if parent else "post",
            parent_id=parent,
            thread_id=tweet.get("conversation_id"),
            lang=None if not lang or lang in UNKNOWN_LANGS else lang,
            raw={"data": tweet, "includes": {"users": authors, "tweets": quoted}},
            edited=len(tweet.get("edit_history_tweet_ids") or [tweet_id]) > 1,
        )

    # -- the summoned rule ------------------------------------------------------------------------------------

    def summoned(self, mention: Mention) -> bool:
        """Whether the author @-mentioned the brand's account or quoted one of its posts."""
        tweet = mention.raw.get("data") or {}
        me, my_id = self.settings.username.lower(), self.settings.user_id
        for tagged in entities(tweet).get("mentions", []):
            if str(tagged.get("id", "")) == my_id or str(tagged.get("username", "")).lower() == me:
                return True
        quoted = {r.get("id") for r in tweet.get("referenced_tweets") or [] if r.get("type") == "quoted"}
        return any(
            t.get("id") in quoted and str(t.get("author_id")) == my_id
            for t in (mention.raw.get("includes") or {}).get("tweets", [])
        )

    def can_reply(self, mention: Mention) -> bool:
        return self.rules.can_reply and not self.is_own(mention.author) and self.summoned(mention)

    # -- posting ---------------------------------------------------------------------------------------------

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if not self.can_reply(mention):
            raise ReplyNotAllowed(
                self.name,
                f"@{mention.author.handle} did not mention or quote @{self.settings.username}: "
                "X lets the app reply only where summoned; reply by hand or by DM",
            )
        if len(text) > MAX_REPLY:
            raise ReplyNotAllowed(self.name, f"reply is {len(text)} characters; X allows {MAX_REPLY}")
        body = self._call(
            lambda: self.client.create_tweet(text=text, in_reply_to_tweet_id=mention.id, user_auth=True),
            posting=True,
        )
        return str(body["data"]["id"])

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if not self.rules.can_message:
            raise ReplyNotAllowed(self.name, "no user keys configured: DMs are sent by hand")
        body = self._call(
            lambda: self.client.create_direct_message(
                participant_id=mention.author.id, text=text, user_auth=True
            ),
            posting=True,
        )
        return str(body["data"]["dm_event_id"])

    @classmethod
    def reply_url(cls, mention: Mention, posted_id: str) -> str:
        return f"{WEB}/i/web/status/{posted_id}"

    def find_reply(self, mention: Mention) -> str | None:
        # Our replies to it are newer than it: one page of our own timeline since its id is enough.
        body = self._call(
            lambda: self.client.get_users_tweets(
                self.settings.user_id,
                since_id=mention.id,
                max_results=100,
                tweet_fields=["referenced_tweets", "conversation_id"],
            )
        )
        for tweet in body.get("data") or []:
            refs = tweet.get("referenced_tweets") or []
            if any(r.get("type") == "replied_to" and r.get("id") == mention.id for r in refs):
                return str(tweet["id"])
        return None

    def team_replied(self, mention: Mention) -> str | None:
        handles = sorted(a for a in self.own_accounts() if not a.isdigit())
        if not handles or not mention.thread_id:
            return None
        authors = " OR ".join(f"from:{h}" for h in handles)
        body = self._call(
            lambda: self.client.search_recent_tweets(
                f"conversation_id:{mention.thread_id} ({authors})",
                max_results=10,
                expansions=["author_id"],
                tweet_fields=["referenced_tweets", "author_id"],
            )
        )
        users = {u["id"]: u["username"] for u in (body.get("includes") or {}).get("users", [])}
        for tweet in body.get("data") or []:
            refs = tweet.get("referenced_tweets") or []
            if any(r.get("type") == "replied_to" and r.get("id") == mention.id for r in refs):
                return f"{users.get(tweet.get('author_id'), tweet.get('author_id'))}:{tweet['id']}"
        return None

    def find_message(self, mention: Mention, text: str) -> str | None:
        body = self._call(
            lambda: self.client.get_direct_message_events(
                participant_id=mention.author.id,
                dm_event_fields=["id", "text", "sender_id", "created_at", "dm_conversation_id"],
                event_types="MessageCreate",
                max_results=100,
                user_auth=True,
            )
        )
        for event in body.get("data") or []:
            if (
                str(event.get("sender_id")) == self.settings.user_id
                and event.get("text", "").strip() == text.strip()
            ):
                return str(event["id"])
        return None

    def fetch_private(self, cursor: str | None) -> FetchResult:
        """The customers' DMs to the brand newer than ``cursor`` (one request; the pipeline asks only while an open
        case waits for an answer by DM, so a quiet account pays nothing)."""
        if not self.rules.can_message:
            return FetchResult([], cursor)
        body = self._call(
            lambda: self.client.get_direct_message_events(
                dm_event_fields=["id", "text", "sender_id", "created_at"],
                event_types="MessageCreate",
                expansions=["sender_id"],
                user_fields=["username", "name"],
                max_results=100,
                user_auth=True,
            )
        )
        users = {u["id"]: u for u in (body.get("includes") or {}).get("users", [])}
        floor = int(cursor) if cursor and cursor.isdigit() else 0
        newest, found = floor, []
        for event in body.get("data") or []:
            event_id, sender = int(event["id"]), str(event.get("sender_id", ""))
            newest = max(newest, event_id)
            if event_id <= floor or sender == self.settings.user_id or sender not in users:
                continue
            created = datetime.fromisoformat(event["created_at"].replace("Z", "+00:00"))
            if cursor is None and created < self.clock.now() - timedelta(days=1):
                continue  # first read: older DMs predate any case we contacted
            user = users[sender]
            found.append(
                Mention(
                    platform=self.name,
                    id=f"dm:{event['id']}",
                    url=f"{WEB}/messages",
                    author=Author(handle=user["username"], display_name=user.get("name", ""), id=sender),
                    text=html.unescape(event.get("text", "")),
                    created_at=created,
                    kind="dm",
                )
            )
        return FetchResult(sorted(found, key=lambda m: m.created_at), str(newest) if newest else cursor)

    # -- errors ----------------------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], Any], *, posting: bool = False) -> Any:
        """Run a tweepy call, turning its failures into mentionbot's error branches by ``ERRORS`` (``posting``
        picks the second column)."""
        try:
            return fn()
        except (tweepy.HTTPException, requests.RequestException) as exc:
            raise self._error(exc, posting=posting) from exc

    def _error(self, exc: Exception, *, posting: bool) -> ConnectorError:
        """mentionbot's error for a tweepy/requests failure, by the first class in ``ERRORS`` that it is."""
        for kind, (reading, refusing, words) in ERRORS.items():
            if isinstance(exc, kind):
                cls = refusing if posting else reading
                response = getattr(exc, "response", None)
                status = getattr(response, "status_code", None)
                detail = _detail(exc) if isinstance(exc, tweepy.HTTPException) else str(exc)
                message = words.format(status=status, detail=detail, name=type(exc).__name__)
                if cls is TransientError:
                    wait = None
                    if isinstance(exc, tweepy.TooManyRequests):
                        reset = {"x-rate-limit-reset": response.headers.get("x-rate-limit-reset")}
                        wait = seconds_until_reset(reset, self.clock.now())
                        wait = 900.0 if wait is None else wait  # X's window is 15 minutes
                    return TransientError(self.name, message, retry_after=wait)
                return cls(self.name, message)
        return TransientError(self.name, f"{type(exc).__name__}: {exc}")


# Each failure tweepy or requests raises → (mentionbot's error while reading, while posting, the words); the first
# class that matches wins (subclasses before their bases), as prawcore's ``STATUS_EXCEPTIONS``. A refused read
# credential pauses the connector (``FatalError``); a post X refuses is that one post's end (``ReplyNotAllowed``:
# the manager gets a "reply by hand" task), never the connector's.
ERRORS: dict[type[Exception], tuple[type[ConnectorError], type[ConnectorError], str]] = {
    tweepy.TooManyRequests: (TransientError, TransientError, "rate limited (HTTP 429)"),
    tweepy.Unauthorized: (FatalError, FatalError, "credential refused (HTTP 401): {detail}"),
    tweepy.Forbidden: (FatalError, ReplyNotAllowed, "access refused (HTTP 403): {detail}"),
    tweepy.BadRequest: (TransientError, ReplyNotAllowed, "HTTP {status}: {detail}"),
    tweepy.NotFound: (TransientError, ReplyNotAllowed, "HTTP {status}: {detail}"),
    tweepy.HTTPException: (TransientError, TransientError, "HTTP {status}: {detail}"),  # 5xx and the rest
    requests.JSONDecodeError: (TransientError, TransientError, "malformed JSON answer"),
    requests.RequestException: (TransientError, TransientError, "{name}: {detail}"),
}


def entities(tweet: dict[str, Any]) -> dict[str, list]:
    """The entities of a post's full text: a long post's are in its ``note_tweet`` (their offsets are into that
    text; the top-level ones cover only the first 280 characters)."""
    note = tweet.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("entities"), dict):
        return note["entities"]
    return tweet.get("entities") or {}


def _problem(problem: Any) -> str:
    """One entry of X's ``errors`` array, in its own words (a stranger may have written parts of it)."""
    if not isinstance(problem, dict):
        return repr(problem)[:200]
    words = problem.get("detail") or problem.get("message") or problem.get("title") or ""
    return f"{problem.get('title', 'error')}: {words}"[:300]


def _detail(exc: tweepy.HTTPException) -> str:
    """X's own words for a refusal (its ``detail``, or the first error's message)."""
    try:
        body = exc.response.json()
    except ValueError:
        return exc.response.reason or ""
    if isinstance(body, dict):
        errors = body.get("errors") or [{}]
        return str(body.get("detail") or errors[0].get("message") or body.get("title") or "")[:300]
    return ""
