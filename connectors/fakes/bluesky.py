"""A loopback Bluesky PDS and AppView over XRPC: sessions, notifications, search, posts, threads and the chat proxy."""

from __future__ import annotations

import base64
import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.clock import Clock, SystemClock
from connectors.fakes.server import FakePlatform, Request, Response, route

BRAND_DID = "did:plc:acmebrand0000000000000000"
BRAND_HANDLE = "acme.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
CHAT_PROXY = "did:web:api.bsky.chat#bsky_chat"


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def _error(status: int, error: str, message: str) -> Response:
    return Response(status, {"error": error, "message": message})


class FakeBluesky(FakePlatform):
    """One PDS where the brand is @acme.bsky.social, with the AppView and chat service behind it."""

    platform = "bluesky"

    def __init__(self, *, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or SystemClock()
        self.profiles: dict[str, dict[str, Any]] = {
            BRAND_DID: {"did": BRAND_DID, "handle": BRAND_HANDLE, "displayName": "Acme"}
        }
        self.posts: dict[str, dict[str, Any]] = {}  # uri → post view
        self.notifications: list[dict[str, Any]] = []
        self.messages: list[dict[str, Any]] = []  # chat messages, with "convoId"
        self.sessions_created = 0
        self.access_tokens: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.expired: set[str] = set()
        self.remaining = 3000
        self.bot_posts: list[str] = []  # uris of records the bot created
        self._seq = itertools.count(1)

    # -- what tests and the demo use -------------------------------------------------------------------------

    def profile(self, handle: str, name: str = "") -> dict[str, Any]:
        for profile in self.profiles.values():
            if profile["handle"] == handle:
                return profile
        did = f"did:plc:{handle.split('.')[0].replace('_', '')[:12]}{next(self._seq):012d}"
        self.profiles[did] = {"did": did, "handle": handle, "displayName": name}
        return self.profiles[did]

    def post(
        self,
        handle: str,
        text: str,
        *,
        name: str = "",
        when: datetime | None = None,
        reply_to: str | None = None,
        notify: bool = True,
        reason: str = "mention",
        lang: str = "en",
    ) -> str:
        """A post by ``handle``; a notification for the brand when ``notify``. Returns its at:// uri."""
        with self.lock:
            author = self.profile(handle, name)
            return self._create(
                author,
                text,
                when=when or self.clock.now(),
                reply_to=reply_to,
                notify=notify,
                reason=reason,
                lang=lang,
            )

    def _create(
        self, author, text, *, when, reply_to=None, notify=False, reason="mention", lang="en", reply=None
    ):
        seq = next(self._seq)
        rkey = f"3l{seq:011d}"
        uri = f"at://{author['did']}/app.bsky.feed.post/{rkey}"
        record: dict[str, Any] = {
            "$type": "app.bsky.feed.post",
            "text": text,
            "createdAt": _iso(when),
            "langs": [lang],
        }
        facets = []
        for word in text.split():
            if word.startswith("@") and word[1:].rstrip(".,!?:") == BRAND_HANDLE:
                start = text.encode().index(word.encode())
                facets.append(
                    {
                        "index": {"byteStart": start, "byteEnd": start + len(word.rstrip(".,!?:").encode())},
                        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": BRAND_DID}],
                    }
                )
        if facets:
            record["facets"] = facets
        if reply is None and reply_to:
            parent = self.posts[reply_to]
            root = (parent["record"].get("reply") or {}).get("root") or {
                "uri": parent["uri"],
                "cid": parent["cid"],
            }
            reply = {"root": root, "parent": {"uri": parent["uri"], "cid": parent["cid"]}}
        if reply:
            record["reply"] = reply
        view = {
            "uri": uri,
            "cid": f"bafyreib{seq:050d}",
            "author": dict(author),
            "record": record,
            "indexedAt": _iso(when + timedelta(seconds=1)),
            "replyCount": 0,
            "repostCount": 0,
            "likeCount": 0,
            "labels": [],
        }
        self.posts[uri] = view
        if notify and author["did"] != BRAND_DID:
            self.notifications.append(
                {
                    "uri": uri,
                    "cid": view["cid"],
                    "author": dict(author),
                    "reason": "reply" if reply else reason,
                    "record": record,
                    "isRead": False,
                    "indexedAt": view["indexedAt"],
                    "labels": [],
                }
            )
        return uri

    def chat_from(self, handle: str, text: str) -> None:
        """The customer writes to the brand in the chat."""
        with self.lock:
            author = self.profile(handle)
            self.messages.append(self._message(self._convo_id(author["did"]), author["did"], text))

    def publish(self, sample: dict[str, Any]) -> None:
        text = sample["text"] if f"@{BRAND_HANDLE}" in sample["text"] else f"@{BRAND_HANDLE} {sample['text']}"
        self.post(
            sample["author"],
            text,
            name=sample.get("name", ""),
            when=self.clock.now() - timedelta(minutes=sample.get("minutes_ago", 5)),
            lang=sample.get("lang", "en"),
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "handle": BRAND_HANDLE,
            "app_password": {"env": "BLUESKY_APP_PASSWORD"},
            "interval_seconds": 60,
        }

    def environment(self) -> dict[str, str]:
        return {"BLUESKY_APP_PASSWORD": APP_PASSWORD}

    def posted(self) -> list[dict[str, Any]]:
        with self.lock:
            out = [
                {
                    "kind": "reply",
                    "in_reply_to": self.posts[uri]["record"]["reply"]["parent"]["uri"],
                    "text": self.posts[uri]["record"]["text"],
                    "id": uri,
                    "reply": self.posts[uri]["record"]["reply"],
                }
                for uri in self.bot_posts
            ]
            for message in self.messages:
                if message["sender"]["did"] == BRAND_DID:
                    member = message["convoId"].removeprefix("convo-")
                    theirs = [p["uri"] for p in self.posts.values() if p["author"]["did"] == member]
                    out.append(
                        {
                            "kind": "message",
                            "in_reply_to": theirs[-1] if theirs else None,
                            "text": message["text"],
                            "id": message["id"],
                        }
                    )
            return out

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far answer ``ExpiredToken``, as when the JWT's two hours are up."""
        with self.lock:
            self.expired |= self.access_tokens

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        with self.lock:
            self.remaining = max(0, self.remaining - 1)
            reset = int((self.clock.now() + timedelta(minutes=5)).timestamp())
            return {
                "ratelimit-limit": "3000",
                "ratelimit-remaining": str(self.remaining),
                "ratelimit-reset": str(reset),
                "ratelimit-policy": "3000;w=300",
            }

    # -- sessions --------------------------------------------------------------------------------------------

    def _tokens(self) -> dict[str, str]:
        seq = next(self._seq)
        exp = int((datetime.now(UTC) + timedelta(hours=2)).timestamp())
        access = f"{_b64({'typ': 'at+jwt', 'alg': 'ES256K'})}.{_b64({'scope': 'com.atproto.appPass', 'sub': BRAND_DID, 'exp': exp, 'jti': f'a{seq}'})}.c2ln"
        refresh = f"{_b64({'typ': 'refresh+jwt', 'alg': 'ES256K'})}.{_b64({'scope': 'com.atproto.refresh', 'sub': BRAND_DID, 'exp': exp + 86400 * 60, 'jti': f'r{seq}'})}.c2ln"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return {
            "accessJwt": access,
            "refreshJwt": refresh,
            "handle": BRAND_HANDLE,
            "did": BRAND_DID,
            "active": True,
        }

    @route("POST", "/xrpc/com.atproto.server.createSession")
    def create_session(self, request: Request) -> Response:
        body = request.json or {}
        self.sessions_created += 1
        if body.get("identifier") not in (BRAND_HANDLE, BRAND_DID) or body.get("password") != APP_PASSWORD:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password")
        return Response(200, self._tokens())

    @route("POST", "/xrpc/com.atproto.server.refreshSession")
    def refresh_session(self, request: Request) -> Response:
        token = request.header("authorization").removeprefix("Bearer ")
        if token not in self.refresh_tokens:
            return _error(400, "ExpiredToken", "Token has been revoked")
        self.refresh_tokens.discard(token)
        return Response(200, self._tokens())

    def _auth(self, request: Request) -> Response | None:
        token = request.header("authorization").removeprefix("Bearer ")
        if token in self.expired:
            return _error(400, "ExpiredToken", "Token has expired")
        if token not in self.access_tokens:
            return _error(401, "AuthenticationRequired", "Invalid token")
        return None

    # -- reading ---------------------------------------------------------------------------------------------

    @route("GET", "/xrpc/app.bsky.notification.listNotifications")
    def list_notifications(self, request: Request) -> Response:
        if denied := self._auth(request):
            return denied
        reasons = request.query.get("reasons") or []
        limit = int(request.arg("limit") or 50)
        items = sorted(
            (n for n in self.notifications if not reasons or n["reason"] in reasons),
            key=lambda n: n["indexedAt"],
            reverse=True,
        )
        start = int(request.arg("cursor") or 0)
        page = items[start : start + limit]
        body: dict[str, Any] = {"notifications": page, "seenAt": _iso(self.clock.now())}
        if start + limit < len(items):
            body["cursor"] = str(start + limit)
        return Response(200, body)

    @route("GET", "/xrpc/app.bsky.feed.searchPosts")
    def search_posts(self, request: Request) -> Response:
        if denied := self._auth(request):
            return denied
        terms = [t.lower() for t in (request.arg("q") or "").split() if t.lower() != "or"]
        since = request.arg("since") or ""
        found = sorted(
            (
                p
                for p in self.posts.values()
                if p["indexedAt"] >= since and any(t in p["record"]["text"].lower() for t in terms)
            ),
            key=lambda p: p["indexedAt"],
            reverse=True,
        )
        limit = int(request.arg("limit") or 25)
        return Response(200, {"posts": found[:limit], "hitsTotal": len(found)})

    @route("GET", "/xrpc/app.bsky.feed.getPostThread")
    def get_post_thread(self, request: Request) -> Response:
        if denied := self._auth(request):
            return denied
        uri = request.arg("uri")
        if uri not in self.posts:
            return _error(400, "NotFound", f"Post not found: {uri}")
        replies = [
            {"$type": "app.bsky.feed.defs#threadViewPost", "post": p, "replies": []}
            for p in self.posts.values()
            if (p["record"].get("reply") or {}).get("parent", {}).get("uri") == uri
        ]
        thread = {"$type": "app.bsky.feed.defs#threadViewPost", "post": self.posts[uri], "replies": replies}
        return Response(200, {"thread": thread})

    # -- writing ---------------------------------------------------------------------------------------------

    @route("POST", "/xrpc/com.atproto.repo.createRecord")
    def create_record(self, request: Request) -> Response:
        if denied := self._auth(request):
            return denied
        body = request.json or {}
        record = body.get("record") or {}
        if body.get("repo") != BRAND_DID or body.get("collection") != "app.bsky.feed.post":
            return _error(400, "InvalidRequest", "repo must be the session's DID and collection a post")
        if len(record.get("text", "")) > 3000:
            return _error(400, "InvalidRequest", "Record/text must not be longer than 300 graphemes")
        reply = record.get("reply")
        if reply and (reply["parent"]["uri"] not in self.posts or reply["root"]["uri"] not in self.posts):
            return _error(400, "InvalidRequest", "reply refs point to unknown posts")
        when = datetime.fromisoformat(record.get("createdAt", _iso(self.clock.now())).replace("Z", "+00:00"))
        uri = self._create(self.profiles[BRAND_DID], record.get("text", ""), when=when, reply=reply)
        self.bot_posts.append(uri)
        return Response(200, {"uri": uri, "cid": self.posts[uri]["cid"], "validationStatus": "valid"})

    # -- chat (behind the atproto-proxy header) --------------------------------------------------------------

    def _chat(self, request: Request) -> Response | None:
        if denied := self._auth(request):
            return denied
        if request.header("atproto-proxy") != CHAT_PROXY:
            return _error(
                400, "InvalidRequest", "chat methods need the atproto-proxy header for the chat service"
            )
        return None

    @staticmethod
    def _convo_id(member: str) -> str:
        return f"convo-{member}"

    def _message(self, convo_id: str, sender: str, text: str) -> dict[str, Any]:
        seq = next(self._seq)
        return {
            "$type": "chat.bsky.convo.defs#messageView",
            "id": f"msg{seq}",
            "rev": f"rev{seq:08d}",
            "text": text,
            "sender": {"did": sender},
            "sentAt": _iso(self.clock.now()),
            "convoId": convo_id,
        }

    @route("GET", "/xrpc/chat.bsky.convo.getConvoForMembers")
    def get_convo(self, request: Request) -> Response:
        if denied := self._chat(request):
            return denied
        others = [m for m in request.query.get("members") or [] if m != BRAND_DID]
        if len(others) != 1 or others[0] not in self.profiles:
            return _error(400, "InvalidRequest", "unknown members")
        member = self.profiles[others[0]]
        convo = {
            "id": self._convo_id(member["did"]),
            "rev": "rev0",
            "members": [self.profiles[BRAND_DID], member],
            "muted": False,
            "unreadCount": 0,
        }
        return Response(200, {"convo": convo})

    @route("POST", "/xrpc/chat.bsky.convo.sendMessage")
    def send_message(self, request: Request) -> Response:
        if denied := self._chat(request):
            return denied
        body = request.json or {}
        message = self._message(
            body.get("convoId", ""), BRAND_DID, (body.get("message") or {}).get("text", "")
        )
        self.messages.append(message)
        return Response(200, {k: v for k, v in message.items() if k != "convoId"})

    @route("GET", "/xrpc/chat.bsky.convo.getMessages")
    def get_messages(self, request: Request) -> Response:
        if denied := self._chat(request):
            return denied
        convo = request.arg("convoId")
        found = [
            {k: v for k, v in m.items() if k != "convoId"}
            for m in reversed(self.messages)
            if m["convoId"] == convo
        ]
        return Response(200, {"messages": found[: int(request.arg("limit") or 50)]})
