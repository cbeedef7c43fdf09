"""A loopback Bluesky PDS + AppView + chat service speaking XRPC, for the atproto SDK.

Serves ``/xrpc/<nsid>`` with the lexicons' JSON shapes and XRPC errors (``{"error", "message"}``): sessions
(``createSession`` counted; JWT-shaped tokens with an ``exp`` claim; ``ExpiredToken`` 400 once an access token has
expired by the fake's clock), mention/reply/quote notifications and ``searchPosts`` with cursor pagination,
``getPosts``, ``getPostThread``, ``createRecord`` of posts (300 graphemes, reply refs checked), ``resolveHandle``,
and the chat endpoints, answered only behind ``atproto-proxy: did:web:api.bsky.chat#bsky_chat`` as the real PDS
proxies them. Every answer carries ``ratelimit-*`` headers.

Posts, post views and notifications have the fields of the AppView's recorded answers (``tests/fixtures/bluesky/``):
embeds (images with alt text, quotes, quotes with images, link cards) as records and resolved as views, the
``viewer`` state of the post and of its author (blocks), ``labels``, ``langs``, ``reply`` refs.
"""

from __future__ import annotations

import itertools
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import regex

from bot.clock import Clock, SystemClock
from connectors.fakes.server import FakePlatform, Request, Response, route

HANDLE = "acme.com"
DID = "did:plc:acmebrand0000000000000"
PASSWORD_ENV = "BLUESKY_APP_PASSWORD"
PASSWORD = "abcd-efgh-ijkl-mnop"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"
SECRET = "fake-bluesky-signing-key-for-loopback-only"
ACCESS_TTL = timedelta(hours=2)
LIMIT = 3000
WINDOW = 300
TID_CHARS = "234567abcdefghijklmnopqrstuvwxyz"


def _error(status: int, error: str, message: str) -> Response:
    return Response(status, {"error": error, "message": message})


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


class FakeBluesky(FakePlatform):
    """Fake Bluesky: the brand's account, other people's posts about it, and its direct messages."""

    platform = "bluesky"

    def __init__(self, *, clock: Clock | None = None, handle: str = HANDLE, max_limit: int = 100):
        super().__init__()
        self.clock = clock or SystemClock()
        self.handle, self.did = handle, DID
        self.password = PASSWORD
        self.max_limit = max_limit
        self.profiles: dict[str, dict[str, Any]] = {
            DID: {"did": DID, "handle": handle, "displayName": "Acme"}
        }
        self.posts: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.convos: dict[str, dict[str, Any]] = {}
        self.chat_log: list[dict[str, Any]] = []
        self.log: list[dict[str, Any]] = []
        self.create_session_calls = 0
        self.refresh_calls = 0
        self.search_available = True
        self.brand_post: str | None = None
        self.access: dict[str, str] = {}  # access token -> did
        self.refresh: dict[str, str] = {}
        self.expired: set[str] = set()
        self.blocked_by: set[str] = set()
        self._hits: list[float] = []
        self._seq = itertools.count(1)
        self._state_dir = tempfile.TemporaryDirectory(prefix="fake-bluesky-")

    def stop(self) -> None:
        super().stop()
        self._state_dir.cleanup()

    # -- test and demo helpers --------------------------------------------------------------------------------

    def _tid(self) -> str:
        n = int(self.clock.now().timestamp() * 1_000_000) << 10 | next(self._seq) & 0x3FF
        out = ""
        for _ in range(13):
            out = TID_CHARS[n & 31] + out
            n >>= 5
        return out

    def profile(self, handle: str, name: str = "") -> dict[str, Any]:
        """The profile of ``handle``, created on first use."""
        for p in self.profiles.values():
            if p["handle"] == handle:
                return p
        did = "did:plc:" + regex.sub(r"[^a-z0-9]", "", handle.lower())[:16].ljust(24, "x")
        self.profiles[did] = {"did": did, "handle": handle, "displayName": name or handle.split(".")[0]}
        return self.profiles[did]

    def _author(self, did: str) -> dict[str, Any]:
        p = self.profiles[did]
        return {
            "did": did,
            "handle": p["handle"],
            "displayName": p["displayName"],
            "avatar": f"https://cdn.bsky.app/img/avatar/plain/{did}/bafkrei@jpeg",
            "associated": {"activitySubscription": {"allowSubscriptions": "followers"}},
            "viewer": {
                "muted": False,
                "blockedBy": did in self.blocked_by,
                "mutedOnlyQuoteposts": False,
                "mutedOnlyReposts": False,
            },
            "labels": [],
            "createdAt": "2024-01-01T00:00:00.000Z",
        }

    def block(self, handle: str) -> None:
        """``handle`` blocks the brand's account (their posts show ``viewer.blockedBy``)."""
        self.blocked_by.add(self.profile(handle)["did"])

    def add_post(
        self,
        *,
        author: str,
        text: str,
        name: str = "",
        reply_to: str | None = None,
        quote: str | None = None,
        at: datetime | None = None,
        lang: str = "en",
        link: str | None = None,
        images: list[str] | None = None,
        card: tuple[str, str, str] | None = None,
    ) -> str:
        """Post as ``author`` (a handle); @-mentions of the brand get a facet; ``images`` are alt texts, ``card`` a
        link card's (uri, title, description); return the post's at:// URI."""
        who = self.profile(author, name)
        at = at or self.clock.now()
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": _iso(at),
            "langs": [lang],
        }
        facets = []
        data = text.encode()
        for m in regex.finditer(r"@([a-z0-9.-]+\.[a-z]+)", text):
            target = next((p for p in self.profiles.values() if p["handle"] == m.group(1)), None)
            if target:
                start = len(text[: m.start()].encode())
                facets.append(
                    {
                        "index": {"byteStart": start, "byteEnd": start + len(m.group(0).encode())},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": target["did"]}],
                    }
                )
        if link:
            short = link.split("//", 1)[-1][:20] + "..."
            record["text"] = text = f"{text} {short}"
            data = text.encode()
            facets.append(
                {
                    "index": {"byteStart": len(data) - len(short.encode()), "byteEnd": len(data)},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": link}],
                }
            )
        if facets:
            record["facets"] = facets
        if reply_to:
            parent = self.posts[reply_to]
            root = parent["record"].get("reply", {}).get("root") or {
                "uri": parent["uri"],
                "cid": parent["cid"],
            }
            record["reply"] = {"root": root, "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
        media: dict[str, Any] | None = None
        if images:
            media = {
                "$type": "app.bsky.embed.images",
                "images": [
                    {
                        "alt": alt,
                        "image": {
                            "$type": "blob",
                            "ref": {"$link": f"bafkreiimage{n:04d}"},
                            "mimeType": "image/jpeg",
                            "size": 4114,
                        },
                    }
                    for n, alt in enumerate(images)
                ],
            }
        elif card:
            uri, title, description = card
            media = {
                "$type": "app.bsky.embed.external",
                "external": {"uri": uri, "title": title, "description": description},
            }
        if quote:
            q = self.posts[quote]
            ref = {"$type": "app.bsky.embed.record", "record": {"uri": q["uri"], "cid": q["cid"]}}
            record["embed"] = (
                {"$type": "app.bsky.embed.recordWithMedia", "record": ref, "media": media} if media else ref
            )
        elif media:
            record["embed"] = media
        return self._store(who["did"], record, at)

    def _store(self, did: str, record: dict[str, Any], at: datetime) -> str:
        rkey = self._tid()
        uri = f"at://{did}/app.bsky.feed.post/{rkey}"
        cid = (
            "bafyrei"
            + regex.sub(r"[^a-z2-7]", "", jwt.utils.base64url_encode(uri.encode()).decode().lower())[-52:]
        )
        post = {"uri": uri, "cid": cid, "did": did, "record": record, "indexedAt": _iso(at)}
        self.posts[uri] = post
        if did != self.did:
            self._notify(post)
        return uri

    def _notify(self, post: dict[str, Any]) -> None:
        record = post["record"]
        reason = None
        parent = record.get("reply", {}).get("parent", {}).get("uri", "")
        quoted = record.get("embed", {}).get("record", {})
        quoted = quoted.get("record", {}).get("uri", "") if "record" in quoted else quoted.get("uri", "")
        if parent.startswith(f"at://{self.did}/"):
            reason = "reply"
        elif quoted.startswith(f"at://{self.did}/"):
            reason = "quote"
        elif any(
            f.get("did") == self.did for facet in record.get("facets", []) for f in facet.get("features", [])
        ):
            reason = "mention"
        if reason:
            self.notifications.append(
                {
                    "uri": post["uri"],
                    "cid": post["cid"],
                    "author": self._author(post["did"]),
                    "reason": reason,
                    **({"reasonSubject": parent or quoted} if reason != "mention" else {}),
                    "record": record,
                    "isRead": False,
                    "indexedAt": post["indexedAt"],
                    "labels": [],
                }
            )

    def customer_dm(self, handle: str, text: str) -> str:
        """``handle`` writes to the brand in private; return the message id."""
        who = self.profile(handle)
        convo = self._convo([who["did"], self.did])
        return self._send(convo, who["did"], text)["id"]

    def expire_sessions(self) -> None:
        """Make every access token issued so far expire early (the refresh tokens stay valid)."""
        self.expired.update(self.access)

    def revoke(self) -> None:
        """The account owner revokes the app password: sessions end and the password no longer works."""
        self.access.clear()
        self.refresh.clear()
        self.password = "revoked"

    def publish(self, sample: dict[str, Any]) -> None:
        at = self.clock.now() - timedelta(minutes=float(sample.get("minutes_ago", 0)))
        kind = sample.get("kind", "mention")
        brand_post = None
        if kind in ("reply", "quote"):
            brand_post = self.add_post(
                author=self.handle, text="New on the Acme blog: what is next for Acme.", at=at
            )
        self.add_post(
            author=sample["author"],
            name=sample.get("name", ""),
            text=sample["text"],
            reply_to=brand_post if kind == "reply" else None,
            quote=brand_post if kind == "quote" else None,
            at=at,
            lang=sample.get("lang", "en"),
            link=sample.get("link"),
            images=sample.get("images"),
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "handle": self.handle,
            "app_password": {"env": PASSWORD_ENV},
            "keywords": ["acme"],
            "session_file": str(Path(self._state_dir.name) / "bluesky-session.json"),
        }

    def environment(self) -> dict[str, str]:
        return {PASSWORD_ENV: PASSWORD}

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        now = self.clock.now().timestamp()
        window_start = now - now % WINDOW
        self._hits = [t for t in self._hits if t >= window_start] + [now]
        used = len(self._hits)
        return {
            "ratelimit-limit": str(LIMIT),
            "ratelimit-remaining": str(max(0, LIMIT - used)),
            "ratelimit-reset": str(int(window_start + WINDOW)),
            "ratelimit-policy": f"{LIMIT};w={WINDOW}",
        }

    # -- sessions ---------------------------------------------------------------------------------------------

    def _tokens(self, did: str) -> dict[str, str]:
        now = self.clock.now()
        n = next(self._seq)
        access = jwt.encode(
            {
                "scope": "com.atproto.appPassPrivileged",
                "sub": did,
                "iat": int(now.timestamp()),
                "jti": f"a{n}",
                "exp": int((now + ACCESS_TTL).timestamp()),
                "aud": "did:web:fake.bsky",
            },
            SECRET,
            algorithm="HS256",
        )
        refresh = jwt.encode(
            {
                "scope": "com.atproto.refresh",
                "sub": did,
                "jti": f"r{n}",
                "exp": int((now + timedelta(days=60)).timestamp()),
            },
            SECRET,
            algorithm="HS256",
        )
        self.access[access] = did
        self.refresh[refresh] = did
        p = self.profiles[did]
        return {"accessJwt": access, "refreshJwt": refresh, "handle": p["handle"], "did": did, "active": True}

    def _bearer(self, request: Request) -> str:
        return request.header("authorization").removeprefix("Bearer ").strip()

    def _auth(self, request: Request) -> Response | str:
        """The caller's DID, or the XRPC error the PDS answers."""
        token = self._bearer(request)
        if not token:
            return _error(401, "AuthMissing", "Authentication Required")
        try:
            claims = jwt.decode(
                token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_aud": False}
            )
        except jwt.PyJWTError:
            return _error(400, "InvalidToken", "Token could not be verified")
        if claims.get("scope") == "com.atproto.refresh":
            return _error(400, "InvalidToken", "Bad token scope")
        if token not in self.access:
            return _error(400, "InvalidToken", "Token could not be verified")
        if claims["exp"] <= self.clock.now().timestamp() or token in self.expired:
            return _error(400, "ExpiredToken", "Token has expired")
        return self.access[token]

    @route("POST", "/xrpc/com.atproto.server.createSession")
    def create_session(self, request: Request) -> Any:
        self.create_session_calls += 1
        body = request.json or {}
        ident = str(body.get("identifier", "")).lower()
        did = next((d for d, p in self.profiles.items() if ident in (d, p["handle"])), None)
        if did != self.did or body.get("password") != self.password:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        return self._tokens(did)

    @route("POST", "/xrpc/com.atproto.server.refreshSession")
    def refresh_session(self, request: Request) -> Any:
        self.refresh_calls += 1
        token = self._bearer(request)
        did = self.refresh.pop(token, None)
        if did is None:
            return _error(400, "ExpiredToken", "Token has been revoked")
        return self._tokens(did)

    @route("GET", "/xrpc/com.atproto.server.getSession")
    def get_session(self, request: Request) -> Any:
        did = self._auth(request)
        if isinstance(did, Response):
            return did
        p = self.profiles[did]
        return {"handle": p["handle"], "did": did, "active": True}

    @route("GET", "/xrpc/com.atproto.identity.resolveHandle")
    def resolve_handle(self, request: Request) -> Any:
        handle = request.arg("handle", "")
        for p in self.profiles.values():
            if p["handle"] == handle:
                return {"did": p["did"]}
        return _error(400, "InvalidRequest", "Unable to resolve handle")

    # -- reading ----------------------------------------------------------------------------------------------

    def _page(self, items: list[dict[str, Any]], request: Request) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; the cursor is the sort key of the last item returned."""
        limit = int(request.arg("limit", "50"))
        if not 1 <= limit <= self.max_limit:
            raise ValueError("limit")
        ordered = sorted(items, key=lambda i: (i["indexedAt"], i["uri"]), reverse=True)
        cursor = request.arg("cursor")
        if cursor:
            ordered = [i for i in ordered if f"{i['indexedAt']}::{i['uri']}" < cursor]
        page = ordered[:limit]
        more = len(ordered) > limit
        return page, (f"{page[-1]['indexedAt']}::{page[-1]['uri']}" if more else None)

    @route("GET", "/xrpc/app.bsky.notification.listNotifications")
    def list_notifications(self, request: Request) -> Any:
        did = self._auth(request)
        if isinstance(did, Response):
            return did
        reasons = request.query.get("reasons") or request.query.get("reasons[]")
        # The author's view (its viewer state: blocks) as of this request, as the AppView hydrates it.
        items = [
            {**n, "author": self._author(n["author"]["did"])}
            for n in self.notifications
            if not reasons or n["reason"] in reasons
        ]
        try:
            page, cursor = self._page(items, request)
        except ValueError:
            return _error(400, "InvalidRequest", "limit must be between 1 and 100")
        return {"notifications": page, **({"cursor": cursor} if cursor else {}), "priority": False}

    def _counts(self, uri: str) -> dict[str, int]:
        replies = sum(
            1 for p in self.posts.values() if p["record"].get("reply", {}).get("parent", {}).get("uri") == uri
        )
        return {"replyCount": replies, "repostCount": 0, "likeCount": 0, "quoteCount": 0}

    def post_view(self, uri: str) -> dict[str, Any]:
        post = self.posts[uri]
        view = {
            "uri": uri,
            "cid": post["cid"],
            "author": self._author(post["did"]),
            "record": post["record"],
            **(
                {"embed": self._embed_view(post["record"]["embed"], post["did"])}
                if "embed" in post["record"]
                else {}
            ),
            "bookmarkCount": 0,
            **self._counts(uri),
            "indexedAt": post["indexedAt"],
            "viewer": {"bookmarked": False, "embeddingDisabled": False, "threadMuted": False},
            "labels": [],
        }
        return view

    def _embed_view(self, embed: dict[str, Any], did: str) -> dict[str, Any]:
        """A record's embed as the AppView resolves it in a post view."""
        kind = embed["$type"]
        if kind == "app.bsky.embed.images":
            cdn = f"https://cdn.bsky.app/img/feed_{{}}/plain/{did}"
            images = [
                {
                    "alt": i["alt"],
                    "fullsize": f"{cdn.format('fullsize')}/{i['image']['ref']['$link']}@jpeg",
                    "thumb": f"{cdn.format('thumbnail')}/{i['image']['ref']['$link']}@jpeg",
                }
                for i in embed["images"]
            ]
            return {"$type": "app.bsky.embed.images#view", "images": images}
        if kind == "app.bsky.embed.external":
            return {"$type": "app.bsky.embed.external#view", "external": dict(embed["external"])}
        if kind == "app.bsky.embed.record":
            return {
                "$type": "app.bsky.embed.record#view",
                "record": self._view_record(embed["record"]["uri"]),
            }
        return {
            "$type": "app.bsky.embed.recordWithMedia#view",
            "media": self._embed_view(embed["media"], did),
            "record": {"record": self._view_record(embed["record"]["record"]["uri"])},
        }

    def _view_record(self, uri: str) -> dict[str, Any]:
        post = self.posts.get(uri)
        if post is None:
            return {"$type": "app.bsky.embed.record#viewNotFound", "uri": uri, "notFound": True}
        embed = post["record"].get("embed")
        return {
            "$type": "app.bsky.embed.record#viewRecord",
            "uri": uri,
            "cid": post["cid"],
            "author": self._author(post["did"]),
            "value": post["record"],
            "labels": [],
            **self._counts(uri),
            "indexedAt": post["indexedAt"],
            "embeds": [self._embed_view(embed, post["did"])] if embed else [],
        }

    @route("GET", "/xrpc/app.bsky.feed.getPosts")
    def get_posts(self, request: Request) -> Any:
        did = self._auth(request)
        if isinstance(did, Response):
            return did
        uris = request.query.get("uris") or request.query.get("uris[]") or []
        if len(uris) > 25:
            return _error(400, "InvalidRequest", "uris must not have more than 25 elements")
        return {"posts": [self.post_view(u) for u in uris if u in self.posts]}

    @route("GET", "/xrpc/app.bsky.feed.searchPosts")
    def search_posts(self, request: Request) -> Any:
        did = self._auth(request)
        if isinstance(did, Response):
            return did
        if not self.search_available:
            return _error(403, "Forbidden", "Search is not available")
        q = (request.arg("q") or "").lower()
        since = request.arg("since") or ""
        items = [
            self.post_view(uri)
            for uri, p in self.posts.items()
            if q in p["record"]["text"].lower() and p["indexedAt"] >= since
        ]
        try:
            page, cursor = self._page(items, request)
        except ValueError:
            return _error(400, "InvalidRequest", "limit must be between 1 and 100")
        return {"posts": page, **({"cursor": cursor} if cursor else {}), "hitsTotal": len(items)}

    @route("GET", "/xrpc/app.bsky.feed.getPostThread")
    def get_post_thread(self, request: Request) -> Any:
        did = self._auth(request)
        if isinstance(did, Response):
            return did
        uri = request.arg("uri", "")
        if uri not in self.posts:
            return _error(400, "NotFound", f"Post not found: {uri}")
        # One level of replies, as the AppView answers depth=1 (deeper nodes carry no "replies" key).
        replies = [
            {"$type": "app.bsky.feed.defs#threadViewPost", "post": self.post_view(u)}
            for u, p in self.posts.items()
            if p["record"].get("reply", {}).get("parent", {}).get("uri") == uri
        ]
        return {
            "thread": {
                "$type": "app.bsky.feed.defs#threadViewPost",
                "post": self.post_view(uri),
                "replies": replies,
            }
        }

    # -- writing ----------------------------------------------------------------------------------------------

    @route("POST", "/xrpc/com.atproto.repo.createRecord")
    def create_record(self, request: Request) -> Any:
        did = self._auth(request)
        if isinstance(did, Response):
            return did
        body = request.json or {}
        if body.get("repo") not in (did, self.profiles[did]["handle"]):
            return _error(401, "AuthRequiredError", "Input/repo must be the authenticated account")
        record = body.get("record") or {}
        if body.get("collection") != "app.bsky.feed.post" or record.get("$type") != "app.bsky.feed.post":
            return _error(400, "InvalidRequest", "Only posts are accepted here")
        text = record.get("text", "")
        if len(regex.findall(r"\X", text)) > 300 or len(text.encode()) > 3000:
            return _error(
                400,
                "InvalidRecord",
                "Invalid app.bsky.feed.post record: Record/text must not be longer than 300 graphemes",
            )
        reply = record.get("reply")
        if reply:
            for part in ("root", "parent"):
                ref = reply.get(part) or {}
                if ref.get("uri") not in self.posts or self.posts[ref["uri"]]["cid"] != ref.get("cid"):
                    return _error(
                        400, "InvalidRecord", f"Invalid app.bsky.feed.post record: reply {part} not found"
                    )
        uri = self._store(did, record, self.clock.now())
        self.log.append(
            {
                "kind": "reply" if reply else "post",
                "in_reply_to": (reply or {}).get("parent", {}).get("uri"),
                "root": (reply or {}).get("root", {}).get("uri"),
                "text": text,
                "id": uri,
            }
        )
        return {"uri": uri, "cid": self.posts[uri]["cid"], "validationStatus": "valid"}

    # -- chat (behind the proxy header) ----------------------------------------------------------------------

    def _chat(self, request: Request) -> Response | str:
        if request.header("atproto-proxy") != CHAT_PROXY:
            return _error(501, "MethodNotImplemented", "Method Not Implemented")
        return self._auth(request)

    def _convo(self, members: list[str]) -> dict[str, Any]:
        key = ",".join(sorted(set(members)))
        if key not in self.convos:
            self.convos[key] = {
                "id": f"3convo{len(self.convos) + 1:07d}",
                "members": sorted(set(members)),
                "messages": [],
            }
        return self.convos[key]

    def _convo_view(self, convo: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": convo["id"],
            "rev": self._rev(),
            "members": [self._author(d) for d in convo["members"]],
            "muted": False,
            "unreadCount": 0,
        }

    def _rev(self) -> str:
        return f"{len(self.chat_log):013d}"

    def _send(self, convo: dict[str, Any], sender: str, text: str) -> dict[str, Any]:
        message = {
            "$type": "chat.bsky.convo.defs#messageView",
            "id": f"3msg{len(self.chat_log) + 1:08d}",
            "rev": f"{len(self.chat_log) + 1:013d}",
            "text": text,
            "sender": {"did": sender},
            "sentAt": _iso(self.clock.now()),
        }
        convo["messages"].append(message)
        self.chat_log.append(
            {
                "$type": "chat.bsky.convo.defs#logCreateMessage",
                "rev": message["rev"],
                "convoId": convo["id"],
                "message": message,
            }
        )
        return message

    def _convo_by_id(self, convo_id: str, did: str) -> dict[str, Any] | None:
        return next((c for c in self.convos.values() if c["id"] == convo_id and did in c["members"]), None)

    @route("GET", "/xrpc/chat.bsky.convo.getConvoForMembers")
    def get_convo_for_members(self, request: Request) -> Any:
        did = self._chat(request)
        if isinstance(did, Response):
            return did
        members = request.query.get("members") or request.query.get("members[]") or []
        if any(m not in self.profiles for m in members):
            return _error(400, "InvalidRequest", "Member not found")
        return {"convo": self._convo_view(self._convo([*members, did]))}

    @route("GET", "/xrpc/chat.bsky.convo.getConvo")
    def get_convo(self, request: Request) -> Any:
        did = self._chat(request)
        if isinstance(did, Response):
            return did
        convo = self._convo_by_id(request.arg("convoId", ""), did)
        return {"convo": self._convo_view(convo)} if convo else _error(400, "InvalidConvo", "Convo not found")

    @route("POST", "/xrpc/chat.bsky.convo.sendMessage")
    def send_message(self, request: Request) -> Any:
        did = self._chat(request)
        if isinstance(did, Response):
            return did
        body = request.json or {}
        convo = self._convo_by_id(body.get("convoId", ""), did)
        if convo is None:
            return _error(400, "InvalidConvo", "Convo not found")
        text = (body.get("message") or {}).get("text", "")
        if not text or len(regex.findall(r"\X", text)) > 1000:
            return _error(400, "InvalidRequest", "Message text must be 1 to 1000 graphemes")
        message = self._send(convo, did, text)
        other = next(m for m in convo["members"] if m != did)
        self.log.append(
            {
                "kind": "message",
                "in_reply_to": other,
                "to": self.profiles[other]["handle"],
                "text": text,
                "id": message["id"],
            }
        )
        return message

    @route("GET", "/xrpc/chat.bsky.convo.getMessages")
    def get_messages(self, request: Request) -> Any:
        did = self._chat(request)
        if isinstance(did, Response):
            return did
        convo = self._convo_by_id(request.arg("convoId", ""), did)
        if convo is None:
            return _error(400, "InvalidConvo", "Convo not found")
        limit = int(request.arg("limit", "50"))
        newest_first = list(reversed(convo["messages"]))
        cursor = request.arg("cursor")
        if cursor:
            newest_first = [m for m in newest_first if m["rev"] < cursor]
        page = newest_first[:limit]
        more = len(newest_first) > limit
        return {"messages": page, **({"cursor": page[-1]["rev"]} if more else {})}

    @route("GET", "/xrpc/chat.bsky.convo.getLog")
    def get_log(self, request: Request) -> Any:
        did = self._chat(request)
        if isinstance(did, Response):
            return did
        cursor = request.arg("cursor") or ""
        mine = {c["id"] for c in self.convos.values() if did in c["members"]}
        logs = [e for e in self.chat_log if e["rev"] > cursor and e["convoId"] in mine][:100]
        return {"logs": logs, "cursor": logs[-1]["rev"] if logs else (cursor or self._rev())}
