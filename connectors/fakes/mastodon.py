"""A loopback Mastodon server: instance, mention notifications, search, statuses with Idempotency-Key, context,
rate limits (300 requests per five-minute window), Link pagination and ``{"error": …}`` bodies.

Accounts, statuses and notifications have the fields (and only the fields) of the answers Mastodon 4.5 sent in
Mastodon.py's recordings (``tests/fixtures/mastodon/``): content warnings, sensitive media with descriptions, edits,
reblogs, visibility; a deleted status leaves its mention notification with ``"status": null``, as recorded."""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime, timedelta
from html import escape
from typing import Any

from bot.clock import Clock, SystemClock
from connectors.fakes.server import FakePlatform, Request, Response, route

TOKEN = "mastodon-fake-token"


def account_entity(
    aid: str, acct: str, name: str = "", *, created: str = "2024-01-01T00:00:00.000Z", followers: int = 0
) -> dict:
    """An account as Mastodon serialises it (the recorded field set)."""
    username = acct.split("@")[0]
    base = f"https://social.example/@{acct}"
    return {
        "id": aid,
        "username": username,
        "acct": acct,
        "display_name": name,
        "locked": False,
        "bot": False,
        "discoverable": None,
        "indexable": False,
        "group": False,
        "created_at": created,
        "note": "",
        "url": base,
        "uri": f"https://social.example/users/{username}",
        "avatar": "https://social.example/avatars/original/missing.png",
        "avatar_static": "https://social.example/avatars/original/missing.png",
        "avatar_description": "",
        "header": "https://social.example/headers/original/missing.png",
        "header_static": "https://social.example/headers/original/missing.png",
        "header_description": "",
        "followers_count": followers,
        "following_count": 0,
        "statuses_count": 0,
        "last_status_at": None,
        "hide_collections": None,
        "show_media": True,
        "show_media_replies": True,
        "show_featured": True,
        "noindex": False,
        "emojis": [],
        "roles": [],
        "fields": [],
    }


BRAND = account_entity("1", "acme", "Acme")


_TOKENS = re.compile(
    r"(?P<url>https?://[^\s<]+)|(?<![\w/])@(?P<user>\w+)(?:@(?P<domain>[\w.-]+\w))?|(?<![\w&])#(?P<tag>\w*[^\W\d]\w*)"
)


def render(text: str) -> str:
    """``text`` as the HTML Mastodon stores: paragraphs, line breaks, and links, mentions and hashtags marked up."""

    def token(m: re.Match) -> str:
        if url := m.group("url"):
            scheme, rest = url.split("://", 1)
            return (
                f'<a href="{url}" target="_blank" rel="nofollow noopener" translate="no">'
                f'<span class="invisible">{scheme}://</span><span class="">{rest}</span>'
                '<span class="invisible"></span></a>'
            )
        if user := m.group("user"):
            acct = f"{user}@{m.group('domain')}" if m.group("domain") else user
            return (
                f'<span class="h-card" translate="no"><a href="https://social.example/@{acct}" '
                f'class="u-url mention">@<span>{user}</span></a></span>'
            )
        tag = m.group("tag")
        return f'<a href="https://social.example/tags/{tag.lower()}" class="mention hashtag" rel="tag">#<span>{tag}</span></a>'

    paragraphs = [escape(p, quote=False).replace("\n", "<br />") for p in text.split("\n\n")]
    return "".join(f"<p>{_TOKENS.sub(token, p)}</p>" for p in paragraphs)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeMastodon(FakePlatform):
    """One Mastodon server where the brand's account is @acme."""

    platform = "mastodon"

    def __init__(self, *, search: bool = True, clock: Clock | None = None) -> None:
        super().__init__()
        self.clock = clock or SystemClock()
        self.search_enabled = search
        self.accounts: dict[str, dict[str, Any]] = {"acme": dict(BRAND)}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.idempotency: dict[str, str] = {}  # key → status id
        self.via_api: list[str] = []  # statuses the bot posted through the API
        self.texts: dict[str, str] = {}  # status id → the text as written (statuses carry HTML)
        self.limit_remaining = 300
        self.delay = 0.0  # seconds every answer takes (a slow server, for client timeouts)
        self.window_ends: datetime | None = None
        self._status_ids = itertools.count(113000000000000001)
        self._notification_ids = itertools.count(5001)
        self._account_ids = itertools.count(100)

    # -- what tests and the demo use -------------------------------------------------------------------------

    def account(self, acct: str, name: str = "", *, followers: int = 0) -> dict[str, Any]:
        """The account ``acct``, created with ``followers`` the first time."""
        if acct not in self.accounts:
            self.accounts[acct] = account_entity(
                str(next(self._account_ids)), acct, name, followers=followers
            )
        return self.accounts[acct]

    def post(
        self,
        author: str,
        text: str,
        *,
        name: str = "",
        when: datetime | None = None,
        reply_to: str | None = None,
        visibility: str = "public",
        notify: bool = True,
        lang: str | None = "en",
        spoiler: str = "",
        media: list[str] | None = None,
        sensitive: bool = False,
    ) -> str:
        """A status by ``author`` (its text becomes HTML as Mastodon renders it), with a content warning
        ``spoiler`` and images described by ``media``; a mention notification for the brand when ``notify``.
        Returns the status id."""
        with self.lock:
            account = self.account(author, name)
            sid = str(next(self._status_ids))
            created = _iso(when or self.clock.now())
            status = {
                "id": sid,
                "created_at": created,
                "in_reply_to_id": reply_to,
                "in_reply_to_account_id": self.statuses[reply_to]["account"]["id"] if reply_to else None,
                "sensitive": sensitive or bool(spoiler),
                "spoiler_text": spoiler,
                "visibility": visibility,
                "language": lang,
                "uri": f"https://social.example/users/{account['username']}/statuses/{sid}",
                "url": f"https://social.example/@{account['acct']}/{sid}",
                "replies_count": 0,
                "reblogs_count": 0,
                "favourites_count": 0,
                "quotes_count": 0,
                "edited_at": None,
                "favourited": False,
                "reblogged": False,
                "muted": False,
                "bookmarked": False,
                "content": render(text),
                "filtered": [],
                "reblog": None,
                "account": account,
                "media_attachments": [self._media(sid, i, alt) for i, alt in enumerate(media or [])],
                "mentions": [
                    {"id": a["id"], "username": a["username"], "url": a["url"], "acct": a["acct"]}
                    for a in (self.accounts.get(w.lstrip("@")) for w in text.split() if w.startswith("@"))
                    if a
                ],
                "tags": [],
                "emojis": [],
                "quote": None,
                "card": None,
                "poll": None,
            }
            self.statuses[sid] = status
            self.texts[sid] = text
            account["statuses_count"] += 1
            account["last_status_at"] = created[:10]
            if notify and author != "acme":
                self.notifications.append(
                    {
                        "id": str(next(self._notification_ids)),
                        "type": "mention",
                        "created_at": status["created_at"],
                        "group_key": "",
                        "account": account,
                        "status": status,
                    }
                )
                note = self.notifications[-1]
                note["group_key"] = f"ungrouped-{note['id']}"
            return sid

    def _media(self, sid: str, n: int, description: str) -> dict[str, Any]:
        mid = f"{sid}{n}"
        files = f"https://social.example/system/media_attachments/files/{mid}"
        return {
            "id": mid,
            "type": "image",
            "url": f"{files}/original/photo.jpg",
            "preview_url": f"{files}/small/photo.jpg",
            "remote_url": None,
            "preview_remote_url": None,
            "text_url": None,
            "meta": {"original": {"width": 640, "height": 480}, "small": {"width": 400, "height": 300}},
            "description": description or None,
            "blurhash": "UPN1Ddxup{IT9an~.8RjK-oy%gkE%#W?i^t6",
        }

    def edit(self, sid: str, text: str) -> None:
        """The author edits status ``sid``: new content and ``edited_at``, as Mastodon records it."""
        with self.lock:
            self.statuses[sid].update(content=render(text), edited_at=_iso(self.clock.now()))
            self.texts[sid] = text

    def delete(self, sid: str) -> None:
        """The author deletes status ``sid``; its mention notification stays, with ``"status": null``."""
        with self.lock:
            self.statuses.pop(sid)
            for note in self.notifications:
                if note["status"] and note["status"]["id"] == sid:
                    note["status"] = None

    def boost(self, booster: str, sid: str) -> str:
        """``booster`` reblogs status ``sid``: a status of its own with empty content and ``reblog`` set."""
        with self.lock:
            account = self.account(booster)
            wrapper = self.post(booster, "", notify=False, lang=None)
            original = self.statuses[sid]
            self.statuses[wrapper].update(
                content="",
                reblog=original,
                visibility=original["visibility"],
                uri=f"https://social.example/users/{account['username']}/statuses/{wrapper}/activity",
                url=f"https://social.example/users/{account['username']}/statuses/{wrapper}/activity",
            )
            return wrapper

    def publish(self, sample: dict[str, Any]) -> None:
        text = sample["text"] if "@acme" in sample["text"].lower() else f"@acme {sample['text']}"
        with self.lock:
            self.account(sample["author"], sample.get("name", ""), followers=int(sample.get("followers", 0)))
        self.post(
            sample["author"],
            text,
            name=sample.get("name", ""),
            when=self.clock.now() - timedelta(minutes=sample.get("minutes_ago", 5)),
            lang=sample.get("lang", "en"),
            spoiler=sample.get("content_warning", ""),
            media=sample.get("images"),
        )

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "account": "acme",
            "access_token": {"env": "MASTODON_ACCESS_TOKEN"},
            "interval_seconds": 60,
        }

    def environment(self) -> dict[str, str]:
        return {"MASTODON_ACCESS_TOKEN": TOKEN}

    def posted(self) -> list[dict[str, Any]]:
        out = []
        with self.lock:
            mine = [self.statuses[sid] for sid in self.via_api]
        for status in mine:
            if status["visibility"] == "direct":
                mentioned = {m["acct"] for m in status["mentions"]}
                theirs = [s["id"] for s in self.statuses.values() if s["account"]["acct"] in mentioned]
                out.append(
                    {
                        "kind": "message",
                        "in_reply_to": max(theirs, default=None),
                        "text": self.texts[status["id"]],
                        "id": status["id"],
                    }
                )
            else:
                out.append(
                    {
                        "kind": "reply",
                        "in_reply_to": status["in_reply_to_id"],
                        "text": self.texts[status["id"]],
                        "id": status["id"],
                    }
                )
        return out

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        with self.lock:
            now = self.clock.now()
            if self.window_ends is None or now >= self.window_ends:  # Mastodon's budget is per five minutes
                self.window_ends, self.limit_remaining = now + timedelta(minutes=5), 300
            if request.path.startswith("/api/"):
                self.limit_remaining = max(0, self.limit_remaining - 1)
            reset = self.window_ends
            return {
                "X-RateLimit-Limit": "300",
                "X-RateLimit-Remaining": str(self.limit_remaining),
                "X-RateLimit-Reset": _iso(reset),
            }

    def _answer(self, request: Request) -> Response:
        if self.delay:
            time.sleep(self.delay)
        return super()._answer(request)

    # -- the API ---------------------------------------------------------------------------------------------

    def _authorised(self, request: Request) -> Response | None:
        if request.header("authorization") != f"Bearer {TOKEN}":
            return Response(401, {"error": "The access token is invalid"})
        return None

    @route("GET", "/api/v1/instance/?")
    def instance_v1(self, request: Request) -> Response:
        return Response(
            200,
            {
                "uri": "social.example",
                "title": "social.example",
                "version": "4.3.0",
                "configuration": {"statuses": {"max_characters": 500}},
            },
        )

    @route("GET", "/api/v2/instance/?")
    def instance(self, request: Request) -> Response:
        return Response(
            200,
            {
                "domain": "social.example",
                "title": "social.example",
                "version": "4.3.0",
                "configuration": {"statuses": {"max_characters": 500}},
            },
        )

    @route("GET", "/api/v1/accounts/verify_credentials")
    def verify(self, request: Request) -> Response:
        return self._authorised(request) or Response(200, self.accounts["acme"])

    @route("GET", "/api/v1/notifications")
    def list_notifications(self, request: Request) -> Response:
        if denied := self._authorised(request):
            return denied
        types = request.query.get("types[]") or []
        limit = min(int(request.arg("limit") or 40), 80)
        with self.lock:
            items = [n for n in self.notifications if not types or n["type"] in types]
        key = lambda n: int(n["id"])  # noqa: E731
        if min_id := request.arg("min_id"):
            # the page right after min_id (oldest first), answered newest first as Mastodon does
            page = sorted((n for n in items if key(n) > int(min_id)), key=key)[:limit]
        else:
            page = sorted(items, key=key)[-limit:]
        page.sort(key=key, reverse=True)
        headers = {}
        if page:
            kinds = "".join(f"&types%5B%5D={t}" for t in types)  # Mastodon keeps the filter in its links
            base = f"{self.base_url}/api/v1/notifications?limit={limit}{kinds}"
            headers["Link"] = (
                f'<{base}&max_id={page[-1]["id"]}>; rel="next", <{base}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return Response(200, page, headers)

    @route("GET", "/api/v2/search")
    def search(self, request: Request) -> Response:
        if denied := self._authorised(request):
            return denied
        if not self.search_enabled:
            return Response(422, {"error": "Full-text search is not enabled on this server"})
        terms = [t.strip().lower() for t in (request.arg("q") or "").split(" OR ") if t.strip()]
        min_id = int(request.arg("min_id") or 0)
        with self.lock:
            found = [
                s
                for s in self.statuses.values()
                if s["visibility"] == "public"
                and int(s["id"]) > min_id
                and any(t in self.texts[s["id"]].lower() for t in terms)
            ]
        found.sort(key=lambda s: int(s["id"]), reverse=True)
        return Response(200, {"accounts": [], "statuses": found[:40], "hashtags": []})

    @route("GET", r"/api/v1/timelines/tag/(?P<tag>\w+)")
    def tag_timeline(self, request: Request) -> Response:
        tag = request.params["tag"].lower()
        limit = min(int(request.arg("limit") or 20), 40)
        with self.lock:
            items = [
                s
                for s in self.statuses.values()
                if s["visibility"] == "public" and f'/tags/{tag}"' in s["content"]
            ]
        key = lambda s: int(s["id"])  # noqa: E731
        if min_id := request.arg("min_id"):
            page = sorted((s for s in items if key(s) > int(min_id)), key=key)[:limit]
        else:
            page = sorted(items, key=key)[-limit:]
        page.sort(key=key, reverse=True)
        headers = {}
        if page:
            base = f"{self.base_url}/api/v1/timelines/tag/{tag}?limit={limit}"
            headers["Link"] = (
                f'<{base}&max_id={page[-1]["id"]}>; rel="next", <{base}&min_id={page[0]["id"]}>; rel="prev"'
            )
        return Response(200, page, headers)

    @route("POST", "/api/v1/statuses")
    def create_status(self, request: Request) -> Response:
        if denied := self._authorised(request):
            return denied
        form = request.form if request.body and not request.body.startswith(b"{") else request.json
        key = request.header("idempotency-key")
        with self.lock:
            if key and key in self.idempotency:
                return Response(200, self.statuses[self.idempotency[key]])
            text = str(form.get("status", ""))
            if not text.strip():
                return Response(422, {"error": "Validation failed: Text can't be blank"})
            if len(text) > 500:
                return Response(422, {"error": "Validation failed: Text character limit of 500 exceeded"})
            reply_to = form.get("in_reply_to_id") or None
            if reply_to and reply_to not in self.statuses:
                return Response(404, {"error": "Record not found"})
            sid = self.post(
                "acme", text, reply_to=reply_to, visibility=form.get("visibility") or "public", notify=False
            )
            status = self.statuses[sid]
            status["application"] = {"name": "mentionbot", "website": None}
            self.via_api.append(sid)
            if key:
                self.idempotency[key] = sid
            return Response(200, status)

    @route("GET", r"/api/v1/statuses/(?P<sid>\d+)/context")
    def context(self, request: Request) -> Response:
        sid = request.params["sid"]
        if denied := self._authorised(request):
            return denied
        with self.lock:
            if sid not in self.statuses:
                return Response(404, {"error": "Record not found"})
            below, frontier = [], {sid}
            for status in sorted(self.statuses.values(), key=lambda s: int(s["id"])):
                if status["in_reply_to_id"] in frontier:
                    below.append(status)
                    frontier.add(status["id"])
            return Response(200, {"ancestors": [], "descendants": below})

    @route("GET", r"/api/v1/accounts/(?P<aid>\d+)/statuses")
    def account_statuses(self, request: Request) -> Response:
        aid = request.params["aid"]
        if denied := self._authorised(request):
            return denied
        with self.lock:
            mine = [s for s in self.statuses.values() if s["account"]["id"] == aid]
        mine.sort(key=lambda s: int(s["id"]), reverse=True)
        return Response(200, mine[: int(request.arg("limit") or 20)])
