"""A loopback X API v2 for tweepy's ``Client``: timelines, recent search, posting, DMs, rate limits.

It serves ``GET /2/users/me``, ``/2/users/by/username/:username``, ``/2/users/:id/mentions``, ``/2/users/:id/tweets``,
``/2/tweets/search/recent``, ``POST /2/tweets``, ``POST /2/dm_conversations/with/:id/messages`` and
``GET /2/dm_conversations/with/:id/dm_events`` with X's shapes: ``data`` / ``includes.users`` / ``includes.tweets`` /
``meta`` (``newest_id``, ``oldest_id``, ``result_count``, ``next_token``), only the fields asked for, snowflake ids,
HTML-escaped text with ``t.co`` links and ``entities``, problem-shaped errors, and ``x-rate-limit-*`` headers over
15-minute windows (a spent window answers 429). A reply is refused with 403 where the author of the post did not
mention or quote the account, as X does for self-serve apps since February 2026.
"""

from __future__ import annotations

import hmac
import html
import itertools
import re
import shlex
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from urllib.parse import unquote, urlencode

from oauthlib.oauth1.rfc5849 import signature as oauth

from bot.clock import Clock, SystemClock
from connectors.fakes.server import FakePlatform, Request, Response, route

BRAND_ID = "783214"
BRAND = "Acme"
BEARER = "AAAAAAAAAAAAAAAAAAAAAFakeAcmeBearer"
CONSUMER_KEY = "fake-consumer-key"
CONSUMER_SECRET = "fake-consumer-secret"
ACCESS_TOKEN = f"{BRAND_ID}-fakeAcmeAccessToken"
ACCESS_SECRET = "fake-access-token-secret"
EPOCH_MS = 1288834974657
WINDOW = 900
# Requests per 15-minute window, per endpoint (the app-level figures of X's documentation).
LIMITS = {
    "GET /2/tweets/search/recent": 450,
    "GET /2/users/:id/mentions": 450,
    "GET /2/users/:id/tweets": 1500,
    "GET /2/users/me": 75,
    "GET /2/users/by/username/:username": 300,
    "POST /2/tweets": 100,
    "POST /2/dm_conversations/with/:id/messages": 15,
    "GET /2/dm_conversations/with/:id/dm_events": 300,
    "GET /2/dm_events": 300,
}
DEFAULT_TWEET = ("id", "text", "edit_history_tweet_ids")
DEFAULT_USER = ("id", "name", "username")
MAX_TEXT = 280  # longer posts (X Premium) keep their whole text in ``note_tweet``
MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
LINK = re.compile(r"https?://\S+")
HASHTAG = re.compile(r"(?<![\w#])#(\w+)")


def problem(status: int, title: str, detail: str, kind: str = "about:blank") -> Response:
    """An error in X's "problem" shape."""
    return Response(status, {"title": title, "detail": detail, "type": kind, "status": status})


def invalid(parameter: str, value: str, message: str) -> Response:
    """A 400 for a bad query parameter, in the shape of X's reference example of an invalid request."""
    return Response(
        400,
        {
            "title": "Invalid Request",
            "detail": message,
            "type": "https://api.x.com/2/problems/invalid-request",
        },
    )


def not_found(kind: str, resource_id: str, what: str = "id") -> dict[str, str]:
    """An entry of ``errors`` for something asked for that is not there (a partial error in a 200)."""
    return {
        "resource_id": resource_id,
        "resource_type": kind,
        "title": "Not Found Error",
        "detail": f"Could not find {kind} with {what}: [{resource_id}].",
        "type": "https://api.x.com/2/problems/resource-not-found",
    }


def iso(dt: datetime) -> str:
    """X's timestamp format: ``2026-11-16T09:00:00.000Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def full_text(tweet: dict[str, Any]) -> str:
    """A post's whole text (a long post's is in its ``note_tweet``), still HTML-escaped as X sends it."""
    return (tweet.get("note_tweet") or {}).get("text") or tweet["text"]


def tagged(tweet: dict[str, Any]) -> list[str]:
    """The usernames a post @-mentions, lower-cased (a long post's from its ``note_tweet``)."""
    found = ((tweet.get("note_tweet") or {}).get("entities") or tweet["entities"]).get("mentions", [])
    return [m["username"].lower() for m in found]


def token_for(tweet_id: str) -> str:
    """An opaque pagination token that resumes at ``tweet_id`` (inclusive)."""
    n, out = int(tweet_id), ""
    while n:
        n, digit = divmod(n, 36)
        out = "0123456789abcdefghijklmnopqrstuvwxyz"[digit] + out
    return "b26v89c" + out


def untoken(token: str) -> int | None:
    """The post id a pagination token resumes at (None for a token we did not hand out)."""
    return int(token[7:], 36) if token.startswith("b26v89c") and len(token) > 7 else None


class FakeX(FakePlatform):
    """Fake X: users, posts, the brand account's replies and DMs."""

    platform = "x"

    def __init__(self, *, clock: Clock | None = None, brand: str = BRAND, brand_id: str = BRAND_ID):
        super().__init__()
        self.clock = clock or SystemClock()
        self.brand, self.brand_id = brand, brand_id
        self.users: dict[str, dict[str, Any]] = {}
        self.tweets: dict[str, dict[str, Any]] = {}
        self.dms: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []
        self.closed_dms: set[str] = set()  # user ids that accept no DMs from the brand
        self.delay = 0.0  # seconds every answer takes (a slow platform, for client timeouts)
        self.limits = dict(LIMITS)
        self.windows: dict[str, tuple[float, int]] = {}  # endpoint → (window start, requests used)
        self._seq = itertools.count()
        self._user_ids = itertools.count(1_402_000_001)
        self._links = itertools.count(1)
        self._last_ms = 0
        self.add_user(brand, "Acme", user_id=brand_id)

    # -- state helpers for tests and the demo ----------------------------------------------------------------

    def add_user(
        self, username: str, name: str = "", *, user_id: str | None = None, followers: int = 0
    ) -> str:
        """Add a user with ``followers`` (or return the id of the one with that handle)."""
        for user in self.users.values():
            if user["username"].lower() == username.lower():
                return user["id"]
        uid = user_id or str(next(self._user_ids))
        self.users[uid] = {
            "id": uid,
            "name": name or username,
            "username": username,
            "verified": False,
            "created_at": "2015-03-01T10:00:00.000Z",
            "public_metrics": {
                "followers_count": followers,
                "following_count": 0,
                "tweet_count": 0,
                "listed_count": 0,
            },
        }
        return uid

    def _snowflake(self, when: datetime) -> str:
        ms = max(int(when.timestamp() * 1000), self._last_ms)
        self._last_ms = ms
        return str(((ms - EPOCH_MS) << 22) | (next(self._seq) % 4096))

    def post(
        self,
        author: str,
        text: str,
        *,
        name: str = "",
        when: datetime | None = None,
        reply_to: str | None = None,
        quote: str | None = None,
        lang: str = "en",
    ) -> str:
        """Publish a post as X stores it (escaped text, t.co links, entities); return its id."""
        uid = self.add_user(author, name)
        when = when or self.clock.now()
        tid = self._snowflake(when)
        if quote:
            quoted_author = self.users[self.tweets[quote]["author_id"]]["username"]
            text = f"{text} https://x.com/{quoted_author}/status/{quote}"
        entities: dict[str, list] = {}
        links = []
        for match in LINK.finditer(text):
            links.append((match.group(), f"https://t.co/{format(next(self._links) * 7919, 'x'):0>10}"))
        for long, short in links:
            text = text.replace(long, short, 1)
        for long, short in links:
            start = text.index(short)
            shown = re.sub(r"^https?://(www\.)?", "", long)
            entities.setdefault("urls", []).append(
                {
                    "start": start,
                    "end": start + len(short),
                    "url": short,
                    "expanded_url": long,
                    "display_url": shown if len(shown) <= 25 else shown[:24] + "…",
                }
            )
        for match in MENTION.finditer(text):
            # X's examples name a mentioned account by username only (no id): so does the fake.
            tagged = {"start": match.start(), "end": match.end(), "username": match.group(1)}
            entities.setdefault("mentions", []).append(tagged)
        for match in HASHTAG.finditer(text):
            entities.setdefault("hashtags", []).append(
                {"start": match.start(), "end": match.end(), "tag": match.group(1)}
            )
        refs = []
        conversation = tid
        parent_author = None
        if reply_to:
            refs.append({"type": "replied_to", "id": reply_to})
            conversation = self.tweets[reply_to]["conversation_id"]
            parent_author = self.tweets[reply_to]["author_id"]
        if quote:
            refs.append({"type": "quoted", "id": quote})
        shown, shown_entities = text, entities
        if len(text) > MAX_TEXT:  # a long post: ``text`` is its start, the whole is in ``note_tweet``
            shown = text[: MAX_TEXT - 1] + "…"
            shown_entities = {
                kind: [e for e in found if e["end"] < MAX_TEXT] for kind, found in entities.items()
            }
            shown_entities = {kind: found for kind, found in shown_entities.items() if found}
        tweet: dict[str, Any] = {
            "id": tid,
            "text": html.escape(shown, quote=False),
            "edit_history_tweet_ids": [tid],
            "author_id": uid,
            "created_at": iso(when),
            "conversation_id": conversation,
            "lang": lang,
            "entities": shown_entities,
            "public_metrics": {"retweet_count": 0, "reply_count": 0, "like_count": 0, "quote_count": 0},
            "possibly_sensitive": False,
            "reply_settings": "everyone",
        }
        if shown != text:
            tweet["note_tweet"] = {"text": html.escape(text, quote=False), "entities": entities}
        if refs:
            tweet["referenced_tweets"] = refs
        if parent_author:
            tweet["in_reply_to_user_id"] = parent_author
        self.tweets[tid] = tweet
        return tid

    def brand_post(self) -> str:
        """The brand's pinned announcement (created once), for samples that quote it."""
        for tid, tweet in self.tweets.items():
            if tweet["author_id"] == self.brand_id and "referenced_tweets" not in tweet:
                return tid
        return self.post(
            self.brand,
            "Acme Hub 3 is here: faster sync, longer battery, same price. Order today at https://acme.example/hub3",
            when=self.clock.now() - timedelta(days=2),
        )

    def publish(self, sample: dict[str, Any]) -> None:
        text = sample["text"]
        quote = self.brand_post() if sample.get("quote") else None
        if sample.get("summoned") and not quote and f"@{self.brand}".lower() not in text.lower():
            text = f"@{self.brand} {text}"
        self.add_user(sample["author"], sample.get("name", ""), followers=int(sample.get("followers", 0)))
        self.post(
            sample["author"],
            text,
            name=sample.get("name", ""),
            when=self.clock.now() - timedelta(minutes=float(sample.get("minutes_ago", 0))),
            quote=quote,
            lang=sample.get("lang", "en"),
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "user_id": self.brand_id,
            "username": self.brand,
            "keywords": ["acme"],
            "own_accounts": [self.brand],
            "bearer_token": {"env": "X_BEARER_TOKEN"},
            "consumer_key": {"env": "X_CONSUMER_KEY"},
            "consumer_secret": {"env": "X_CONSUMER_SECRET"},
            "access_token": {"env": "X_ACCESS_TOKEN"},
            "access_token_secret": {"env": "X_ACCESS_TOKEN_SECRET"},
        }

    def environment(self) -> dict[str, str]:
        return {
            "X_BEARER_TOKEN": BEARER,
            "X_CONSUMER_KEY": CONSUMER_KEY,
            "X_CONSUMER_SECRET": CONSUMER_SECRET,
            "X_ACCESS_TOKEN": ACCESS_TOKEN,
            "X_ACCESS_TOKEN_SECRET": ACCESS_SECRET,
        }

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    # -- plumbing: auth and rate limits ---------------------------------------------------------------------

    def _endpoint(self, request: Request) -> str:
        parts = [":id" if i > 1 and p.isdigit() else p for i, p in enumerate(request.path.split("/"))]
        if request.path.startswith("/2/users/by/username/"):
            parts[-1] = ":username"
        return f"{request.method} {'/'.join(parts)}"

    def _window(self, key: str, *, use: bool) -> tuple[int, int, float]:
        now = self.clock.now().timestamp()
        start, used = self.windows.get(key, (now, 0))
        if now >= start + WINDOW:
            start, used = now, 0
        if use:
            used += 1
            self.windows[key] = (start, used)
        limit = self.limits.get(key, 300)
        return limit, max(limit - used, 0), start + WINDOW

    def _answer(self, request: Request) -> Response:
        if self.delay:
            time.sleep(self.delay)
        key = self._endpoint(request)
        if key in self.limits:
            with self.lock:
                limit, remaining, reset = self._window(key, use=False)
                if remaining <= 0:
                    response = problem(429, "Too Many Requests", "Too Many Requests")
                    response.headers = self._limit_headers(limit, 0, reset)
                    return response
                limit, remaining, reset = self._window(key, use=True)
        response = super()._answer(request)
        if key in self.limits:
            response.headers = {**self._limit_headers(limit, remaining, reset), **response.headers}
        return response

    @staticmethod
    def _limit_headers(limit: int, remaining: int, reset: float) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(reset)),
        }

    def _auth(self, request: Request, *, user: bool = False) -> Response | None:
        """None when the request carries the app's bearer token (reads) or the account's OAuth 1.0a keys."""
        header = request.header("authorization")
        if header.startswith("OAuth "):
            fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
            if (
                fields.get("oauth_consumer_key") == CONSUMER_KEY
                and fields.get("oauth_token") == ACCESS_TOKEN
                and self._signed(request, unquote(fields.get("oauth_signature", "")))
            ):
                return None
            return problem(401, "Unauthorized", "Unauthorized")
        if header == f"Bearer {BEARER}":
            if user:
                return problem(
                    403,
                    "Unsupported Authentication",
                    "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  "
                    "Supported authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context].",
                    "https://api.twitter.com/2/problems/unsupported-authentication",
                )
            return None
        return problem(401, "Unauthorized", "Unauthorized")

    def _signed(self, request: Request, signature: str) -> bool:
        """Whether the OAuth 1.0a HMAC-SHA1 signature is right for this request and the account's secrets."""
        query = urlencode([(k, v) for k, values in request.query.items() for v in values])
        params = oauth.collect_parameters(
            uri_query=query, headers={"Authorization": request.header("authorization")}
        )
        base = oauth.signature_base_string(
            request.method,
            oauth.base_string_uri(self.base_url + request.path),
            oauth.normalize_parameters(params),
        )
        secrets = SimpleNamespace(client_secret=CONSUMER_SECRET, resource_owner_secret=ACCESS_SECRET)
        return hmac.compare_digest(oauth.sign_hmac_sha1_with_client(base, secrets), signature)

    # -- shaping answers -------------------------------------------------------------------------------------

    def _fields(self, request: Request, name: str, default: tuple[str, ...]) -> set[str]:
        return set(default) | {f for f in (request.arg(name) or "").split(",") if f}

    def _shape_user(self, user: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        return {k: v for k, v in user.items() if k in fields}

    def _shape_tweet(self, tweet: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        return {k: v for k, v in tweet.items() if k in fields}

    def _page(self, request: Request, tweets: list[dict[str, Any]], *, low: int, token_name: str) -> Any:
        """One page of ``tweets`` (any order) as X answers a timeline or a search."""
        size = request.arg("max_results", "10")
        if not size.isdigit() or not low <= int(size) <= 100:
            return invalid(
                "max_results",
                size,
                f"The `max_results` query parameter value [{size}] is not between {low} and 100",
            )
        since, until = request.arg("since_id"), request.arg("until_id")
        start, end = request.arg("start_time"), request.arg("end_time")
        picked = []
        for tweet in tweets:
            n = int(tweet["id"])
            if (since and n <= int(since)) or (until and n >= int(until)):
                continue
            if start and tweet["created_at"] < start.replace("Z", ".000Z"):
                continue
            if end and tweet["created_at"] >= end.replace("Z", ".000Z"):
                continue
            picked.append(tweet)
        picked.sort(key=lambda t: int(t["id"]), reverse=True)
        token = request.arg(token_name)
        if token:
            resume = untoken(token)
            if resume is None:
                return invalid(
                    token_name, token, f"The `{token_name}` query parameter value [{token}] is not valid"
                )
            picked = [t for t in picked if int(t["id"]) <= resume]
        page, rest = picked[: int(size)], picked[int(size) :]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta = {"newest_id": page[0]["id"], "oldest_id": page[-1]["id"], "result_count": len(page)}
        if rest:
            meta["next_token"] = token_for(rest[0]["id"])
        if not page:
            return {"meta": meta}
        tweet_fields = self._fields(request, "tweet.fields", DEFAULT_TWEET)
        user_fields = self._fields(request, "user.fields", DEFAULT_USER)
        expansions = set((request.arg("expansions") or "").split(","))
        users: dict[str, dict] = {}
        related: dict[str, dict] = {}
        missing: dict[str, dict] = {}
        for tweet in page:
            if "author_id" in expansions:
                users.setdefault(tweet["author_id"], self.users[tweet["author_id"]])
            for ref in tweet.get("referenced_tweets", []):
                other = self.tweets.get(ref["id"])
                if other is None:  # deleted: X leaves it out and says so in ``errors`` (a 200 all the same)
                    if "referenced_tweets.id" in expansions:
                        missing.setdefault(ref["id"], not_found("tweet", ref["id"]))
                    continue
                if "referenced_tweets.id" in expansions:
                    related.setdefault(other["id"], other)
                if "referenced_tweets.id.author_id" in expansions:
                    users.setdefault(other["author_id"], self.users[other["author_id"]])
        body: dict[str, Any] = {"data": [self._shape_tweet(t, tweet_fields) for t in page]}
        includes: dict[str, list] = {}
        if users:
            includes["users"] = [self._shape_user(u, user_fields) for u in users.values()]
        if related:
            # X's examples show expanded posts without edit_history_tweet_ids: so does the fake.
            shown = tweet_fields - {"edit_history_tweet_ids"}
            includes["tweets"] = [self._shape_tweet(t, shown) for t in related.values()]
        if includes:
            body["includes"] = includes
        if missing:
            body["errors"] = list(missing.values())
        body["meta"] = meta
        return body

    def matches(self, query: str, tweet: dict[str, Any]) -> bool:
        """Whether ``tweet`` matches a search query (terms, "phrases", OR groups, from:, conversation_id:,
        is:retweet, is:reply, lang:, @handle; a leading ``-`` negates)."""
        text = html.unescape(full_text(tweet)).lower()
        author = self.users[tweet["author_id"]]["username"].lower()
        refs = {r["type"] for r in tweet.get("referenced_tweets", [])}

        def term(token: str) -> bool:
            negate = token.startswith("-") and len(token) > 1
            token = token[1:] if negate else token
            key, _, value = token.partition(":")
            if value and key in ("from", "conversation_id", "is", "lang"):
                result = {
                    "from": author == value.lower(),
                    "conversation_id": tweet["conversation_id"] == value,
                    "is": (value == "retweet" and "retweeted" in refs)
                    or (value == "reply" and "replied_to" in refs),
                    "lang": tweet.get("lang") == value,
                }[key]
            elif token.startswith("@"):
                result = token[1:].lower() in tagged(tweet)
            else:
                result = re.search(r"(?<!\w)" + re.escape(token.lower()) + r"(?!\w)", text) is not None
            return result != negate

        clauses = re.findall(r'-?\([^)]*\)|-?"[^"]*"|\S+', query)
        for clause in clauses:
            if clause.lstrip("-").startswith("("):
                negate = clause.startswith("-")
                inner = clause.lstrip("-")[1:-1]
                options = [" ".join(shlex.split(part)) for part in re.split(r"\s+OR\s+", inner)]
                if any(term(o) for o in options) == negate:
                    return False
            elif not term(clause.replace('"', "")):
                return False
        return True

    # -- API -------------------------------------------------------------------------------------------------

    @route("GET", "/2/users/me")
    def me(self, request: Request) -> Any:
        if denied := self._auth(request, user=True):
            return denied
        return {
            "data": self._shape_user(
                self.users[self.brand_id], self._fields(request, "user.fields", DEFAULT_USER)
            )
        }

    @route("GET", "/2/users/by/username/(?P<username>\\w+)")
    def user_by_name(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        for user in self.users.values():
            if user["username"].lower() == request.params["username"].lower():
                return {"data": self._shape_user(user, self._fields(request, "user.fields", DEFAULT_USER))}
        return {"errors": [not_found("user", request.params["username"], "username")]}

    @route("GET", "/2/users/(?P<uid>\\d+)/mentions")
    def mentions(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        user = self.users.get(request.params["uid"])
        if user is None:
            return problem(404, "Not Found Error", f"Could not find user with id: [{request.params['uid']}].")
        handle = user["username"].lower()
        naming = [t for t in self.tweets.values() if handle in tagged(t)]
        return self._page(request, naming, low=5, token_name="pagination_token")

    @route("GET", "/2/users/(?P<uid>\\d+)/tweets")
    def timeline(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        own = [t for t in self.tweets.values() if t["author_id"] == request.params["uid"]]
        return self._page(request, own, low=5, token_name="pagination_token")

    @route("GET", "/2/tweets/search/recent")
    def search(self, request: Request) -> Any:
        if denied := self._auth(request):
            return denied
        query = request.arg("query") or ""
        if not query or len(query) > 512:
            return invalid(
                "query", query, "The `query` query parameter value must be 1 to 512 characters long"
            )
        oldest = self.clock.now() - timedelta(days=7)
        since = request.arg("since_id")
        if since and since.isdigit() and ((int(since) >> 22) + EPOCH_MS) / 1000 < oldest.timestamp():
            return invalid(
                "since_id",
                since,
                f"Invalid 'since_id':'{since}'. 'since_id' must be a tweet id created after {iso(oldest)}.",
            )
        recent = [
            t for t in self.tweets.values() if t["created_at"] >= iso(oldest) and self.matches(query, t)
        ]
        return self._page(request, recent, low=10, token_name="next_token")

    @route("POST", "/2/tweets")
    def create_tweet(self, request: Request) -> Any:
        if denied := self._auth(request, user=True):
            return denied
        body = request.json or {}
        text = body.get("text") or ""
        if not text or len(text) > 280:
            return invalid("text", text[:40], "Tweet text must be between 1 and 280 characters.")
        parent_id = (body.get("reply") or {}).get("in_reply_to_tweet_id")
        if parent_id is not None:
            parent = self.tweets.get(str(parent_id))
            if parent is None:
                return problem(
                    403,
                    "Forbidden",
                    "You attempted to reply to a Tweet that is deleted or not visible to you.",
                )
            if not self.summoned(parent):
                return problem(
                    403,
                    "Forbidden",
                    "Reply to this conversation is not allowed because you have not been mentioned or otherwise "
                    "engaged by the author of the post you are replying to.",
                )
        if any(
            t["author_id"] == self.brand_id and html.unescape(t["text"]) == text for t in self.tweets.values()
        ):
            return problem(403, "Forbidden", "You are not allowed to create a Tweet with duplicate content.")
        tid = self.post(self.brand, text, reply_to=str(parent_id) if parent_id else None)
        self.log.append({"kind": "reply", "in_reply_to": parent_id, "text": text, "id": tid})
        return Response(201, {"data": {"id": tid, "text": self.tweets[tid]["text"]}})

    def summoned(self, tweet: dict[str, Any]) -> bool:
        """Whether the brand may reply to ``tweet``: its author mentioned or quoted the brand (or it is ours)."""
        if tweet["author_id"] == self.brand_id:
            return True
        if self.users[self.brand_id]["username"].lower() in tagged(tweet):
            return True
        quoted = [r["id"] for r in tweet.get("referenced_tweets", []) if r["type"] == "quoted"]
        return any(self.tweets.get(q, {}).get("author_id") == self.brand_id for q in quoted)

    @route("POST", "/2/dm_conversations/with/(?P<pid>\\d+)/messages")
    def send_dm(self, request: Request) -> Any:
        if denied := self._auth(request, user=True):
            return denied
        pid = request.params["pid"]
        if pid not in self.users:
            return problem(404, "Not Found Error", f"Could not find user with id: [{pid}].")
        if pid in self.closed_dms:
            return problem(403, "Forbidden", "You are not permitted to send Direct Messages to this user.")
        text = (request.json or {}).get("text") or ""
        if not text or len(text) > 10_000:
            return invalid("text", text[:40], "Direct Message text must be between 1 and 10000 characters.")
        conversation = "-".join(sorted([self.brand_id, pid], key=int))
        event_id = self._snowflake(self.clock.now())
        self.dms.append(
            {
                "id": event_id,
                "event_type": "MessageCreate",
                "text": text,
                "sender_id": self.brand_id,
                "dm_conversation_id": conversation,
                "created_at": iso(self.clock.now()),
                "participant": pid,
            }
        )
        # A DM names a person, not a post: it is logged against their latest post (the one the bot answers).
        mention = next(
            (
                t["id"]
                for t in sorted(self.tweets.values(), key=lambda t: -int(t["id"]))
                if t["author_id"] == pid
            ),
            None,
        )
        self.log.append({"kind": "message", "in_reply_to": mention, "to": pid, "text": text, "id": event_id})
        return Response(201, {"data": {"dm_conversation_id": conversation, "dm_event_id": event_id}})

    def customer_dm(self, username: str, text: str) -> str:
        """The customer writes to the brand in private; returns the DM event id."""
        with self.lock:
            user = next(u for u in self.users.values() if u["username"].lower() == username.lower())
            event_id = self._snowflake(self.clock.now())
            self.dms.append(
                {
                    "id": event_id,
                    "event_type": "MessageCreate",
                    "text": text,
                    "sender_id": user["id"],
                    "dm_conversation_id": "-".join(sorted([self.brand_id, user["id"]], key=int)),
                    "created_at": iso(self.clock.now()),
                    "participant": user["id"],
                }
            )
            return event_id

    @route("GET", "/2/dm_events")
    def all_dm_events(self, request: Request) -> Any:
        if denied := self._auth(request, user=True):
            return denied
        fields = self._fields(request, "dm_event.fields", ("id", "event_type", "text"))
        size = int(request.arg("max_results", "100"))
        page = [{k: v for k, v in e.items() if k in fields} for e in reversed(self.dms)][:size]
        if not page:
            return {"meta": {"result_count": 0}}
        body: dict[str, Any] = {"data": page, "meta": {"result_count": len(page)}}
        if "sender_id" in (request.arg("expansions") or ""):
            user_fields = self._fields(request, "user.fields", ("id", "name", "username"))
            senders = {e["sender_id"] for e in page if "sender_id" in e}
            body["includes"] = {
                "users": [self._shape_user(self.users[i], user_fields) for i in senders if i in self.users]
            }
        return body

    @route("GET", "/2/dm_conversations/with/(?P<pid>\\d+)/dm_events")
    def dm_events(self, request: Request) -> Any:
        if denied := self._auth(request, user=True):
            return denied
        fields = self._fields(request, "dm_event.fields", ("id", "event_type", "text"))
        events = [e for e in reversed(self.dms) if e["participant"] == request.params["pid"]]
        size = int(request.arg("max_results", "100"))
        page = [{k: v for k, v in e.items() if k in fields} for e in events[:size]]
        return {"data": page, "meta": {"result_count": len(page)}} if page else {"meta": {"result_count": 0}}
