"""A loopback Meta Graph API: one Facebook Page and the Instagram professional account linked to it.

Serves what the ``facebook`` and ``instagram`` connectors call, with the Graph API's shapes: ``data`` and
``paging.cursors``/``paging.next`` lists, ``{"id": …}`` on a post, ``{"recipient_id", "message_id"}`` from the Send
API, and the error envelope ``{"error": {"message", "type", "code", "fbtrace_id"}}``. It enforces what Meta
enforces: a private reply once per comment and within 7 days of it; after it, a message only within 24 hours of the
customer's last message, or 7 days with the ``HUMAN_AGENT`` tag (error 10 / subcode 2018278 otherwise); code 190 for
a wrong token. Every answer carries ``X-App-Usage`` and ``X-Business-Use-Case-Usage`` from ``usage`` and ``buc``.
It also signs webhook deliveries as Meta does (``X-Hub-Signature-256``), for the webhook tests.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from connectors.fakes.server import FakePlatform, Request, Response, route

VERSION = "v21.0"
PAGE_ID = "104857600000001"
PAGE_NAME = "Acme"
IG_USER_ID = "17841400000000001"
IG_USERNAME = "acme"
TOKEN = "EAAGfakePageToken"
APP_ID = "1234567890123456"
TOKEN_ENV = "META_PAGE_ACCESS_TOKEN"
V = f"/{VERSION}"


def graph_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def error(
    status: int, code: int, message: str, *, kind: str = "OAuthException", subcode: int | None = None
) -> Response:
    body: dict[str, Any] = {
        "message": message,
        "type": kind,
        "code": code,
        "fbtrace_id": "AbCdEfGhIjKlMnOpQrStUv",
    }
    if subcode is not None:
        body["error_subcode"] = subcode
    return Response(status, {"error": body})


class FakeMeta(FakePlatform):
    """Fake Graph API state for one Page and its Instagram account; ``FakeFacebook`` and ``FakeInstagram`` are the
    same server, configured for their connector."""

    platform = "facebook"

    def __init__(self, *, clock: Any = None, page_size: int = 25):
        super().__init__()
        self.clock = clock
        self.page_size = page_size
        self._ids = itertools.count(1001)
        self.posts: dict[str, dict[str, Any]] = {}  # Facebook posts (the Page's and visitors')
        self.tagged: dict[str, dict[str, Any]] = {}  # posts elsewhere that tag the Page
        self.comments: dict[str, dict[str, Any]] = {}  # Facebook comments, by id (with "_post")
        self.media: dict[str, dict[str, Any]] = {}  # Instagram media of the account
        self.ig_comments: dict[str, dict[str, Any]] = {}  # Instagram comments (with "_media")
        self.ig_tags: dict[str, dict[str, Any]] = {}  # media of others that tag the account
        self.ig_mentioned_media: dict[str, dict[str, Any]] = {}  # others' media whose caption @mentions us
        self.ig_mentioned_comments: dict[str, dict[str, Any]] = {}  # comments elsewhere that @mention us
        self.conversations: dict[str, list[dict[str, Any]]] = {}  # user id -> messages, oldest first
        self.story_mentions: dict[
            str, dict[str, Any]
        ] = {}  # mid -> the story mention's sender, time, CDN URL
        self.private_replied: set[str] = set()
        self.log: list[dict[str, Any]] = []
        self.usage = {"call_count": 2, "total_cputime": 1, "total_time": 1}
        self.buc: list[dict[str, Any]] | None = None
        self.token_expires_at = 0  # 0: never (a Page token from a long-lived user token)
        self.token_valid = True

    def now(self) -> datetime:
        return self.clock.now() if self.clock else datetime.now(UTC)

    def _id(self) -> str:
        return str(next(self._ids))

    # -- what tests and the demo use --------------------------------------------------------------------------

    def page_post(
        self, text: str, *, at: datetime | None = None, author: str | None = None, user_id: str = ""
    ) -> str:
        """A post on the Page's feed: the Page's own, or a visitor's (``author``)."""
        pid = f"{PAGE_ID}_{self._id()}"
        sender = (
            {"name": author, "id": user_id or _user_id(author)}
            if author
            else {"name": PAGE_NAME, "id": PAGE_ID}
        )
        created = graph_time(at or self.now())
        self.posts[pid] = {
            "id": pid,
            "message": text,
            "from": sender,
            "created_time": created,
            "updated_time": created,
            "permalink_url": f"https://www.facebook.com/{pid.replace('_', '/posts/')}",
        }
        return pid

    def tag_post(self, author: str, text: str, *, at: datetime | None = None) -> str:
        uid = _user_id(author)
        pid = f"{uid}_{self._id()}"
        created = graph_time(at or self.now())
        self.tagged[pid] = {
            "id": pid,
            "message": text,
            "from": {"name": author, "id": uid},
            "created_time": created,
            "updated_time": created,
            "permalink_url": f"https://www.facebook.com/{uid}/posts/{pid.split('_')[1]}",
        }
        return pid

    def comment(
        self, post: str, author: str, text: str, *, at: datetime | None = None, parent: str | None = None
    ) -> str:
        """A comment under ``post`` (or a reply to comment ``parent``)."""
        cid = f"{post.split('_')[1]}_{self._id()}"
        when = at or self.now()
        sender = (
            {"name": PAGE_NAME, "id": PAGE_ID}
            if author == PAGE_NAME
            else {"name": author, "id": _user_id(author)}
        )
        comment: dict[str, Any] = {
            "id": cid,
            "message": text,
            "from": sender,
            "created_time": graph_time(when),
            "permalink_url": _comment_permalink(post, cid, parent),
            "can_reply_privately": author != PAGE_NAME,
            "_post": post,
        }
        if parent:
            comment["parent"] = {"id": parent}
        self.comments[cid] = comment
        self.posts[post]["updated_time"] = max(self.posts[post]["updated_time"], graph_time(when))
        return cid

    def ig_post(self, caption: str, *, at: datetime | None = None) -> str:
        mid = "1790" + self._id()
        self.media[mid] = {
            "id": mid,
            "caption": caption,
            "timestamp": graph_time(at or self.now()),
            "permalink": f"https://www.instagram.com/p/C{mid}/",
        }
        return mid

    def ig_comment(
        self, media: str, username: str, text: str, *, at: datetime | None = None, parent: str | None = None
    ) -> str:
        cid = "1800" + self._id()
        uid = IG_USER_ID if username == IG_USERNAME else _user_id(username, ig=True)
        self.ig_comments[cid] = {
            "id": cid,
            "text": text,
            "timestamp": graph_time(at or self.now()),
            "username": username,
            "from": {"id": uid, "username": username},
            "_media": media,
            **({"parent_id": parent} if parent else {}),
        }
        return cid

    def ig_tag(self, username: str, caption: str, *, at: datetime | None = None) -> str:
        mid = "1791" + self._id()
        self.ig_tags[mid] = {
            "id": mid,
            "caption": caption,
            "timestamp": graph_time(at or self.now()),
            "username": username,
            "permalink": f"https://www.instagram.com/p/D{mid}/",
        }
        return mid

    def ig_caption_mention(self, username: str, caption: str, *, at: datetime | None = None) -> str:
        """Another account's media whose caption @mentions ours (Meta tells by the ``mentions`` webhook only)."""
        mid = "1792" + self._id()
        self.ig_mentioned_media[mid] = {
            "id": mid,
            "caption": caption,
            "timestamp": graph_time(at or self.now()),
            "username": username,
            "media_type": "IMAGE",
            "permalink": f"https://www.instagram.com/p/E{mid}/",
        }
        return mid

    def ig_comment_mention(
        self, username: str, text: str, *, on: str | None = None, at: datetime | None = None
    ) -> tuple[str, str]:
        """A comment @mentioning our account under another account's media ``on`` (a new one by default);
        returns ``(media id, comment id)``."""
        media = on or self.ig_caption_mention("someone_else", "A post of someone else", at=at)
        cid = "1801" + self._id()
        self.ig_mentioned_comments[cid] = {
            "id": cid,
            "text": text,
            "timestamp": graph_time(at or self.now()),
            "username": username,
            "like_count": 0,
            "_media": media,
        }
        return media, cid

    def customer_writes(
        self, user_id: str, name: str, text: str, *, at: datetime | None = None, ig: bool = False
    ) -> str:
        """The customer answers in Messenger (or Instagram Direct)."""
        mid = "m_" + self._id()
        sender = {"id": user_id, "username": name} if ig else {"id": user_id, "name": name}
        self.conversations.setdefault(user_id, []).append(
            {
                "id": mid,
                "message": text,
                "from": sender,
                "created_time": graph_time(at or self.now()),
                "_ig": ig,
            }
        )
        return mid

    def ig_story_mention(self, username: str, *, at: datetime | None = None) -> str:
        """Someone mentions our account in their story: Meta puts it in the Instagram Direct inbox (a message from
        them, which opens the 24-hour window) and tells by the ``messages`` webhook only. Returns its ``mid``."""
        user = _user_id(username, ig=True)
        mid = self.customer_writes(user, username, "", at=at, ig=True)
        self.story_mentions[mid] = {
            "sender": user,
            "at": at or self.now(),
            "url": f"https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={self._id()}",
        }
        return mid

    def publish(self, sample: dict[str, Any]) -> None:
        at = self.now() - timedelta(minutes=float(sample.get("minutes_ago", 0)))
        if not self.posts:
            self.page_post("Meet the new Acme Hub!", at=at - timedelta(hours=1))
        post = next(iter(self.posts))
        if sample.get("kind") == "post":
            self.page_post(sample["text"], at=at, author=sample["author"])
        else:
            self.comment(post, sample["author"], sample["text"], at=at)

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "api_version": VERSION,
            "page_id": PAGE_ID,
            "access_token": {"env": TOKEN_ENV},
        }

    def environment(self) -> dict[str, str]:
        return {TOKEN_ENV: TOKEN}

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        headers = {"X-App-Usage": json.dumps(self.usage)}
        if self.buc is not None:
            headers["X-Business-Use-Case-Usage"] = json.dumps({PAGE_ID: self.buc})
        return headers

    def sign(self, body: bytes, secret: str) -> str:
        """The ``X-Hub-Signature-256`` Meta sends with a webhook delivery."""
        return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()

    # -- plumbing -------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> Response | None:
        if request.arg("access_token") != TOKEN or not self.token_valid:
            return error(400, 190, "Invalid OAuth access token - Cannot parse access token")
        return None

    def _list(
        self, request: Request, items: list[dict[str, Any]], fields: dict[str, Any] | None = None
    ) -> Any:
        """A Graph API list, newest first, cursor-paged like Meta's (``after`` cursors and a ``next`` URL)."""
        size = min(int(request.arg("limit", "25")), self.page_size)
        after = request.arg("after")
        start = int(after) if after else 0
        page = [_public(i) for i in items[start : start + size]]
        body: dict[str, Any] = {"data": page}
        if page:
            body["paging"] = {"cursors": {"before": str(start), "after": str(start + len(page))}}
            if start + size < len(items):
                query = {k: v[0] for k, v in request.query.items() if k != "after"}
                query["after"] = str(start + len(page))
                body["paging"]["next"] = f"{self.base_url}{request.path}?{urlencode(query)}"
        return body

    # -- Graph API: tokens and accounts -------------------------------------------------------------------------

    @route("GET", V + "/debug_token")
    def debug_token(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        return {
            "data": {
                "app_id": APP_ID,
                "type": "PAGE",
                "application": "Acme Care",
                "data_access_expires_at": int((self.now() + timedelta(days=90)).timestamp()),
                "expires_at": self.token_expires_at,
                "is_valid": self.token_valid,
                "scopes": [
                    "pages_show_list",
                    "pages_read_engagement",
                    "pages_manage_engagement",
                    "pages_read_user_content",
                    "pages_messaging",
                    "instagram_basic",
                    "instagram_manage_comments",
                    "instagram_manage_messages",
                ],
                "user_id": "10000000000000001",
            }
        }

    @route("GET", V + "/(?P<node>[0-9]+)")
    def node(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        if request.params["node"] == PAGE_ID:
            return {"id": PAGE_ID, "name": PAGE_NAME}
        if request.params["node"] == IG_USER_ID:
            return self._ig_user(request.arg("fields", ""))
        return error(400, 100, "Unsupported get request.", kind="GraphMethodException", subcode=33)

    # -- Facebook ---------------------------------------------------------------------------------------------

    def _ig_user(self, fields: str) -> Any:
        """``GET /{ig-user-id}``, with the ``mentioned_comment`` / ``mentioned_media`` lookups by id."""
        lookup = re.match(
            r"(mentioned_comment)\.comment_id\((\w+)\)|(mentioned_media)\.media_id\((\w+)\)", fields
        )
        if not lookup:
            return {"id": IG_USER_ID, "username": IG_USERNAME}
        field, wanted = (lookup[1], lookup[2]) if lookup[1] else (lookup[3], lookup[4])
        found = (self.ig_mentioned_comments if lookup[1] else self.ig_mentioned_media).get(wanted)
        if found is None:
            return error(
                400, 100, f"Object with ID '{wanted}' does not exist", kind="GraphMethodException", subcode=33
            )
        return {field: _public(found), "id": IG_USER_ID}

    @route("GET", V + f"/{PAGE_ID}/feed")
    def feed(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        return self._list(request, sorted(self.posts.values(), key=lambda p: p["created_time"], reverse=True))

    @route("GET", V + f"/{PAGE_ID}/tagged")
    def tagged_posts(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        return self._list(
            request, sorted(self.tagged.values(), key=lambda p: p["created_time"], reverse=True)
        )

    @route("GET", V + "/(?P<post>[0-9]+_[0-9]+)/comments")
    def post_comments(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        post = request.params["post"]
        if post not in self.posts and post not in self.comments:
            return error(
                400, 100, f"Object with ID '{post}' does not exist", kind="GraphMethodException", subcode=33
            )
        under = [
            c
            for c in self.comments.values()
            if c["_post"] == post or (c.get("parent") or {}).get("id") == post
        ]
        under.sort(key=lambda c: c["created_time"], reverse=True)
        return self._list(request, under)

    @route("POST", V + "/(?P<target>[0-9]+_[0-9]+)/comments")
    def post_comment(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        target, text = request.params["target"], request.form.get("message", "")
        if target not in self.posts and target not in self.comments:
            return error(
                400, 100, f"Object with ID '{target}' does not exist", kind="GraphMethodException", subcode=33
            )
        if not text or len(text) > 8000:
            return error(400, 100, "Invalid parameter", subcode=1357046)
        post = target if target in self.posts else self.comments[target]["_post"]
        cid = self.comment(post, PAGE_NAME, text, parent=None if target in self.posts else target)
        self.log.append({"kind": "reply", "in_reply_to": target, "text": text, "id": cid})
        return {"id": cid}

    # -- the Send API (Messenger and Instagram messaging) ---------------------------------------------------------

    @route("POST", V + f"/{PAGE_ID}/messages")
    def send(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        body = request.json or {}
        recipient, text = body.get("recipient") or {}, (body.get("message") or {}).get("text", "")
        now = self.now()
        if "comment_id" in recipient:
            cid = recipient["comment_id"]
            comment = self.comments.get(cid) or self.ig_comments.get(cid)
            if comment is None:
                return error(400, 100, "Invalid comment_id", subcode=2018001)
            created = datetime.strptime(
                comment.get("created_time") or comment["timestamp"], "%Y-%m-%dT%H:%M:%S%z"
            )
            if cid in self.private_replied:
                return error(400, 10900, "Activity already replied to")
            if now - created > timedelta(days=7):
                return error(400, 10903, "This activity can't be replied to")
            self.private_replied.add(cid)
            user = comment["from"]["id"]
            self.log.append({"kind": "message", "in_reply_to": cid, "text": text, "to": user})
            return {
                "recipient_id": user,
                "message_id": self._page_writes(user, text, ig=cid in self.ig_comments),
            }
        user = str(recipient.get("id", ""))
        theirs = [m for m in self.conversations.get(user, []) if m["from"]["id"] == user]
        if not theirs:
            return error(400, 10, "This message is sent outside of allowed window.", subcode=2018278)
        since = now - datetime.strptime(theirs[-1]["created_time"], "%Y-%m-%dT%H:%M:%S%z")
        tagged = body.get("messaging_type") == "MESSAGE_TAG" and body.get("tag") == "HUMAN_AGENT"
        if since > (timedelta(days=7) if tagged else timedelta(hours=24)):
            return error(400, 10, "This message is sent outside of allowed window.", subcode=2018278)
        self.log.append({"kind": "message", "to": user, "text": text, "tag": body.get("tag")})
        return {"recipient_id": user, "message_id": self._page_writes(user, text, ig=theirs[-1]["_ig"])}

    def _page_writes(self, user: str, text: str, *, ig: bool) -> str:
        """Our message in the conversation with ``user``, where Messenger (or Instagram Direct) shows it."""
        mid = "m_" + self._id()
        sender = {"id": IG_USER_ID, "username": IG_USERNAME} if ig else {"name": PAGE_NAME, "id": PAGE_ID}
        self.conversations.setdefault(user, []).append(
            {"id": mid, "message": text, "from": sender, "created_time": graph_time(self.now()), "_ig": ig}
        )
        return mid

    @route("GET", V + f"/{PAGE_ID}/conversations")
    def list_conversations(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        ig = request.arg("platform") == "instagram"
        out = []
        for user, messages in self.conversations.items():
            mine = [m for m in messages if m["_ig"] == ig]
            if not mine:
                continue
            newest = sorted(mine, key=lambda m: m["created_time"], reverse=True)[:10]
            out.append(
                {
                    "id": f"t_{user}",
                    "updated_time": newest[0]["created_time"],
                    "messages": {
                        "data": [_public(m) for m in newest],
                        "paging": {"cursors": {"after": "MTA="}},
                    },
                }
            )
        out.sort(key=lambda c: c["updated_time"], reverse=True)
        return self._list(request, out)

    # -- Instagram ----------------------------------------------------------------------------------------------

    @route("GET", V + f"/{IG_USER_ID}/media")
    def ig_media(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        items = []
        for media in sorted(self.media.values(), key=lambda m: m["timestamp"], reverse=True):
            count = sum(1 for c in self.ig_comments.values() if c["_media"] == media["id"])
            items.append({**media, "comments_count": count})
        return self._list(request, items)

    @route("GET", V + "/(?P<media>1790[0-9]+)/comments")
    def ig_media_comments(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        media = request.params["media"]
        top = [c for c in self.ig_comments.values() if c["_media"] == media and "parent_id" not in c]
        top.sort(key=lambda c: c["timestamp"], reverse=True)
        items = []
        for comment in top:
            replies = [_public(r) for r in self.ig_comments.values() if r.get("parent_id") == comment["id"]]
            item = {k: v for k, v in _public(comment).items()}
            if replies:
                item["replies"] = {"data": replies}
            items.append(item)
        return self._list(request, items)

    @route("GET", V + "/(?P<comment>1800[0-9]+)/replies")
    def ig_replies(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        parent = request.params["comment"]
        if parent not in self.ig_comments:
            return error(
                400, 100, f"Object with ID '{parent}' does not exist", kind="GraphMethodException", subcode=33
            )
        replies = [r for r in self.ig_comments.values() if r.get("parent_id") == parent]
        return self._list(request, sorted(replies, key=lambda r: r["timestamp"], reverse=True))

    @route("POST", V + "/(?P<comment>1800[0-9]+)/replies")
    def ig_reply(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        parent, text = request.params["comment"], request.form.get("message", "")
        if parent not in self.ig_comments:
            return error(
                400, 100, f"Object with ID '{parent}' does not exist", kind="GraphMethodException", subcode=33
            )
        if not text or len(text) > 2200:
            return error(400, 100, "Invalid parameter")
        cid = self.ig_comment(self.ig_comments[parent]["_media"], IG_USERNAME, text, parent=parent)
        self.log.append({"kind": "reply", "in_reply_to": parent, "text": text, "id": cid})
        return {"id": cid}

    @route("GET", V + f"/{IG_USER_ID}/tags")
    def ig_tagged(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        return self._list(request, sorted(self.ig_tags.values(), key=lambda m: m["timestamp"], reverse=True))

    @route("POST", V + f"/{IG_USER_ID}/mentions")
    def ig_mention_reply(self, request: Request) -> Any:
        if denied := self._authorized(request):
            return denied
        media, text = request.form.get("media_id", ""), request.form.get("message", "")
        comment = request.form.get("comment_id")
        if comment:
            if (self.ig_mentioned_comments.get(comment) or {}).get("_media") != media:
                return error(400, 100, "Invalid parameter")
            target = f"mentioned:{comment}"
        elif media in self.ig_tags or media in self.ig_mentioned_media:
            target = f"media:{media}"
        else:
            return error(400, 100, "Invalid parameter")
        cid = "1800" + self._id()
        self.log.append({"kind": "reply", "in_reply_to": target, "text": text, "id": cid})
        return {"id": cid}


class FakeFacebook(FakeMeta):
    platform = "facebook"


class FakeInstagram(FakeMeta):
    platform = "instagram"

    def connector_settings(self) -> dict[str, Any]:
        return {**super().connector_settings(), "ig_user_id": IG_USER_ID, "username": IG_USERNAME}

    def publish(self, sample: dict[str, Any]) -> None:
        at = self.now() - timedelta(minutes=float(sample.get("minutes_ago", 0)))
        if not self.media:
            self.ig_post("The Acme Speaker is here", at=at - timedelta(hours=1))
        if sample.get("kind") == "post":
            self.ig_tag(sample["author"], sample["text"], at=at)
        else:
            self.ig_comment(next(iter(self.media)), sample["author"], sample["text"], at=at)


def _user_id(name: str | None, *, ig: bool = False) -> str:
    digits = str(int(hashlib.sha1((name or "").encode()).hexdigest()[:12], 16))
    return ("1784" if ig else "2400") + digits.rjust(13, "0")[:13]


def _comment_permalink(post: str, cid: str, parent: str | None) -> str:
    """A comment's ``permalink_url`` as Facebook writes it: a reply names its top comment and itself."""
    page, post_part = post.split("_")
    query = f"comment_id={cid.split('_')[1]}"
    if parent:
        query = f"comment_id={parent.split('_')[1]}&reply_comment_id={cid.split('_')[1]}"
    return f"https://www.facebook.com/{page}/posts/{post_part}/?{query}"


def _public(item: dict[str, Any]) -> dict[str, Any]:
    """An item without the fake's own bookkeeping keys."""
    return {k: v for k, v in item.items() if not k.startswith("_")}


class WebhookSender:
    """Meta's side of the webhooks, for the tests: builds deliveries from the fake's items, signs them with the
    app secret (``X-Hub-Signature-256``), repeats some and forges others, and keeps each answer's status."""

    def __init__(self, url: str, app_secret: str):
        self.url = url.rstrip("/") + "/meta"
        self.app_secret = app_secret
        self.statuses: list[int] = []

    def send(
        self, delivery: dict[str, Any], *, times: int = 1, forge: bool = False, unsigned: bool = False
    ) -> list[int]:
        import requests

        body = json.dumps(delivery).encode()
        secret = "not-the-app-secret" if forge else self.app_secret
        headers = {"Content-Type": "application/json"}
        if not unsigned:
            headers["X-Hub-Signature-256"] = (
                "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            )
        out = [
            requests.post(self.url, data=body, headers=headers, timeout=10).status_code for _ in range(times)
        ]
        self.statuses += out
        return out

    def verify(self, verify_token: str, challenge: str = "1158201444") -> Any:
        import requests

        params = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
        return requests.get(self.url, params=params, timeout=10)


def feed_delivery(fake: FakeMeta, comment_id: str) -> dict[str, Any]:
    """The Page ``feed`` delivery Meta sends when comment ``comment_id`` is added."""
    comment = fake.comments[comment_id]
    created = int(datetime.strptime(comment["created_time"], "%Y-%m-%dT%H:%M:%S%z").timestamp())
    value = {
        "from": comment["from"],
        "post": {
            "status_type": "added_photos",
            "is_published": True,
            "updated_time": comment["created_time"],
            "permalink_url": fake.posts[comment["_post"]]["permalink_url"],
            "promotion_status": "inactive",
            "id": comment["_post"],
        },
        "message": comment["message"],
        "post_id": comment["_post"],
        "comment_id": comment_id,
        "created_time": created,
        "item": "comment",
        "parent_id": (comment.get("parent") or {}).get("id", comment["_post"]),
        "verb": "add",
    }
    return {
        "entry": [{"id": PAGE_ID, "time": created, "changes": [{"value": value, "field": "feed"}]}],
        "object": "page",
    }


def comments_delivery(fake: FakeMeta, comment_id: str) -> dict[str, Any]:
    """The Instagram ``comments`` delivery Meta sends when comment ``comment_id`` is added."""
    comment = fake.ig_comments[comment_id]
    created = int(datetime.strptime(comment["timestamp"], "%Y-%m-%dT%H:%M:%S%z").timestamp())
    value: dict[str, Any] = {
        "from": comment["from"],
        "media": {"id": comment["_media"], "media_product_type": "FEED"},
        "id": comment_id,
        "text": comment["text"],
    }
    if comment.get("parent_id"):
        value["parent_id"] = comment["parent_id"]
    return {
        "entry": [{"id": IG_USER_ID, "time": created, "changes": [{"value": value, "field": "comments"}]}],
        "object": "instagram",
    }


def mentions_delivery(fake: FakeMeta, media_id: str, comment_id: str | None = None) -> dict[str, Any]:
    """The Instagram ``mentions`` delivery Meta sends when a caption (or a comment, ``comment_id``) @mentions us:
    ids only, as in Meta's examples (tests/fixtures/instagram/webhook_mentions.json)."""
    value = {"comment_id": comment_id, "media_id": media_id} if comment_id else {"media_id": media_id}
    when = int(fake.now().timestamp())
    return {
        "entry": [{"changes": [{"field": "mentions", "value": value}], "id": IG_USER_ID, "time": when}],
        "object": "instagram",
    }


def story_mention_delivery(fake: FakeMeta, mid: str) -> dict[str, Any]:
    """The Instagram Messaging delivery Meta sends when someone mentions us in their story (``mid`` from
    ``ig_story_mention``), as in Meta's example (tests/fixtures/instagram/webhook_story_mention.json)."""
    story = fake.story_mentions[mid]
    millis = int(story["at"].timestamp() * 1000)
    return {
        "object": "instagram",
        "entry": [
            {
                "id": IG_USER_ID,
                "time": int(fake.now().timestamp() * 1000),
                "messaging": [
                    {
                        "sender": {"id": story["sender"]},
                        "recipient": {"id": IG_USER_ID},
                        "timestamp": millis,
                        "message": {
                            "mid": mid,
                            "attachments": [{"type": "story_mention", "payload": {"url": story["url"]}}],
                        },
                    }
                ],
            }
        ],
    }
