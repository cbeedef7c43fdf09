"""A loopback Mastodon server for Mastodon.py: notifications, search, statuses, context.

It serves ``/api/v1/instance``, ``/api/v2/instance``, ``/api/v1/accounts/verify_credentials``,
``/api/v1/notifications`` (``types[]``, ``since_id``/``min_id``/``max_id``, ``limit`` ≤ 80, ``Link`` pagination),
``/api/v2/search`` (statuses; refused with 503 when ``search_enabled`` is off, as a server without Elasticsearch
answers nothing useful), ``POST /api/v1/statuses`` (form-encoded, ``Idempotency-Key`` honoured: the same key gives
back the same status), and ``/api/v1/statuses/:id/context``, with Mastodon's JSON shapes
(HTML ``content``, string ids, ``acct``), ``{"error": …}`` errors and ``X-RateLimit-*`` headers over 5-minute windows.
"""

from __future__ import annotations

import html
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bot.clock import Clock, SystemClock
from connectors.fakes.server import FakePlatform, Request, Response, route

TOKEN = "fake-mastodon-token-acme"
DOMAIN = "acme.social"
LIMIT = 300
WINDOW = 300
MENTION = re.compile(r"(?<![\w@])@(\w+)(?:@([\w.-]+))?")
LINK = re.compile(r"https?://[^\s<]+")


def iso(dt: datetime) -> str:
    """Mastodon's timestamp format: ``2024-06-10T12:00:00.000Z``."""
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def error(status: int, message: str) -> Response:
    return Response(status, {"error": message})


class FakeMastodon(FakePlatform):
    """Fake Mastodon instance ``acme.social`` with the brand account ``acme``."""

    platform = "mastodon"

    def __init__(self, *, clock: Clock | None = None):
        super().__init__()
        self.clock = clock or SystemClock()
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.notifications: list[dict[str, Any]] = []
        self.idempotency: dict[str, str] = {}
        self.log: list[dict[str, Any]] = []
        self.search_enabled = True
        self.window: tuple[float, int] = (0.0, 0)
        self._ids = itertools.count(113_000_000_000_000_001)
        self._nids = itertools.count(5001)
        self.brand_id = self.add_account("acme", "Acme")

    # -- state helpers ---------------------------------------------------------------------------------------

    def add_account(self, acct: str, name: str = "") -> str:
        """Add an account (``alice`` local, ``alice@example.social`` remote); return its id."""
        for account in self.accounts.values():
            if account["acct"] == acct:
                return account["id"]
        username, _, host = acct.partition("@")
        account_id = str(100 + len(self.accounts))
        self.accounts[account_id] = {
            "id": account_id,
            "username": username,
            "acct": acct,
            "display_name": name or username,
            "url": f"https://{host or DOMAIN}/@{username}",
            "bot": False,
        }
        return account_id

    def content(self, text: str) -> str:
        """The status text as Mastodon renders it: escaped, links and mentions as anchors, in a paragraph."""

        def anchor(match: re.Match) -> str:
            token = match.group(0)
            if token.startswith("@"):
                user, host = match.group(1), match.group(2) or DOMAIN
                return (
                    f'<span class="h-card"><a href="https://{host}/@{user}" class="u-url mention">'
                    f"@<span>{user}</span></a></span>"
                )
            scheme, _, rest = token.partition("://")
            return (
                f'<a href="{html.escape(token)}" rel="nofollow noopener" target="_blank">'
                f'<span class="invisible">{scheme}://</span><span class="ellipsis">{html.escape(rest[:30])}</span>'
                f'<span class="invisible">{html.escape(rest[30:])}</span></a>'
            )

        parts = re.split(r"(https?://[^\s<]+|(?<![\w@])@\w+(?:@[\w.-]+)?)", text)
        out = "".join(
            anchor(MENTION.match(p) or LINK.match(p))
            if (MENTION.fullmatch(p) or LINK.fullmatch(p))
            else html.escape(p)
            for p in parts
        )
        return "<p>" + out.replace("\n\n", "</p><p>").replace("\n", "<br />") + "</p>"

    def post(
        self,
        acct: str,
        text: str,
        *,
        name: str = "",
        when: datetime | None = None,
        reply_to: str | None = None,
        visibility: str = "public",
    ) -> str:
        """Publish a status as ``acct``; notify the brand when it mentions ``@acme``; return its id."""
        account_id = self.add_account(acct, name)
        account = self.accounts[account_id]
        when = when or self.clock.now()
        status_id = str(next(self._ids))
        host = acct.partition("@")[2] or DOMAIN
        parent = self.statuses.get(reply_to or "")
        status = {
            "id": status_id,
            "created_at": iso(when),
            "in_reply_to_id": reply_to,
            "in_reply_to_account_id": parent["account"]["id"] if parent else None,
            "visibility": visibility,
            "language": "en",
            "uri": f"https://{host}/users/{account['username']}/statuses/{status_id}",
            "url": f"https://{host}/@{account['username']}/{status_id}",
            "content": self.content(text),
            "account": dict(account),
            "mentions": [
                {"id": self.add_account(m.group(0)[1:]), "acct": m.group(0)[1:], "username": m.group(1)}
                for m in MENTION.finditer(text)
            ],
            "replies_count": 0,
            "favourites_count": 0,
            "reblogs_count": 0,
        }
        self.statuses[status_id] = status
        if account_id != self.brand_id and any(m["id"] == self.brand_id for m in status["mentions"]):
            self.notifications.append(
                {
                    "id": str(next(self._nids)),
                    "type": "mention",
                    "created_at": iso(when),
                    "account": dict(account),
                    "status": status,
                }
            )
        return status_id

    # -- demo interface --------------------------------------------------------------------------------------

    def publish(self, sample: dict[str, Any]) -> None:
        when = self.clock.now() - timedelta(minutes=sample.get("minutes_ago", 0))
        self.post(sample["author"], sample["text"], name=sample.get("name", ""), when=when)

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "access_token": {"env": "MASTODON_ACCESS_TOKEN"},
            "keywords": ["acme"],
        }

    def environment(self) -> dict[str, str]:
        return {"MASTODON_ACCESS_TOKEN": TOKEN}

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    # -- wire ------------------------------------------------------------------------------------------------

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        now = self.clock.now().timestamp()
        start, used = self.window
        if now >= start + WINDOW:
            start, used = now - now % WINDOW, 0
        self.window = (start, used + 1)
        reset = datetime.fromtimestamp(start + WINDOW, tz=UTC)
        return {
            "X-RateLimit-Limit": str(LIMIT),
            "X-RateLimit-Remaining": str(max(0, LIMIT - used - 1)),
            "X-RateLimit-Reset": iso(reset),
        }

    def _authorized(self, request: Request) -> bool:
        return request.header("authorization") == f"Bearer {TOKEN}"

    @route("GET", r"/api/v[12]/instance/?")
    def instance(self, request: Request) -> Any:
        return {"uri": DOMAIN, "domain": DOMAIN, "title": "Acme Social", "version": "4.3.0"}

    @route("GET", r"/api/v1/accounts/verify_credentials")
    def verify(self, request: Request) -> Any:
        if not self._authorized(request):
            return error(401, "The access token is invalid")
        return self.accounts[self.brand_id]

    def _page(self, request: Request, items: list[dict], path: str) -> Response:
        """Mastodon's id paging: newest first, ``min_id`` pages up from the cursor, ``Link`` next/prev."""
        limit = min(int(request.arg("limit") or 40), 80)
        since, low, high = (request.arg(k) for k in ("since_id", "min_id", "max_id"))
        chosen = [i for i in items if (not high or int(i["id"]) < int(high))]
        chosen = [i for i in chosen if not (since or low) or int(i["id"]) > int(since or low)]
        chosen.sort(key=lambda i: int(i["id"]))
        page = chosen[:limit] if low else chosen[-limit:]
        page.reverse()
        headers = {}
        if page:
            keep = {k: v for k, v in request.query.items() if k not in ("max_id", "min_id", "since_id")}
            base = f"{self.base_url}{path}"
            older = urlencode({**keep, "max_id": page[-1]["id"]}, doseq=True)
            newer = urlencode({**keep, "min_id": page[0]["id"]}, doseq=True)
            headers["Link"] = f'<{base}?{older}>; rel="next", <{base}?{newer}>; rel="prev"'
        return Response(200, page, headers)

    @route("GET", r"/api/v1/notifications")
    def list_notifications(self, request: Request) -> Any:
        if not self._authorized(request):
            return error(401, "The access token is invalid")
        types = request.query.get("types[]")
        items = [n for n in self.notifications if not types or n["type"] in types]
        return self._page(request, items, "/api/v1/notifications")

    @route("GET", r"/api/v2/search")
    def search(self, request: Request) -> Any:
        if not self._authorized(request):
            return error(401, "The access token is invalid")
        if not self.search_enabled:
            return error(503, "Search is not enabled on this server")
        q = (request.arg("q") or "").lower()
        found = [
            s
            for s in self.statuses.values()
            if s["visibility"] == "public"
            and q
            and q in html.unescape(re.sub(r"<[^>]+>", "", s["content"])).lower()
        ]
        page = self._page(request, found, "/api/v2/search")
        return Response(200, {"accounts": [], "statuses": page.body, "hashtags": []})

    @route("POST", r"/api/v1/statuses")
    def create_status(self, request: Request) -> Any:
        if not self._authorized(request):
            return error(401, "The access token is invalid")
        key = request.header("idempotency-key")
        if key and key in self.idempotency:
            return self.statuses[self.idempotency[key]]
        form = request.form
        text, reply_to = form.get("status", ""), form.get("in_reply_to_id") or None
        if not text.strip():
            return error(422, "Validation failed: Text can't be blank")
        if len(text) > 500:
            return error(422, "Validation failed: Text character limit of 500 exceeded")
        if reply_to and reply_to not in self.statuses:
            return error(404, "Record not found")
        visibility = form.get("visibility") or "public"
        status_id = self.post("acme", text, reply_to=reply_to, visibility=visibility)
        if key:
            self.idempotency[key] = status_id
        if reply_to:
            self.statuses[reply_to]["replies_count"] += 1
        target = self.statuses[reply_to] if reply_to else None
        self.log.append(
            {
                "kind": "message" if visibility == "direct" else "reply",
                "in_reply_to": reply_to,
                "to": target["account"]["acct"] if target else None,
                "text": text,
                "id": status_id,
            }
        )
        return self.statuses[status_id]

    @route("GET", r"/api/v1/statuses/(?P<id>\d+)/context")
    def context(self, request: Request) -> Any:
        if request.params["id"] not in self.statuses:
            return error(404, "Record not found")
        ancestors, cur = [], self.statuses[request.params["id"]]
        while cur.get("in_reply_to_id") in self.statuses:
            cur = self.statuses[cur["in_reply_to_id"]]
            ancestors.insert(0, cur)
        descendants, frontier = [], [request.params["id"]]
        while frontier:
            parent = frontier.pop(0)
            children = [s for s in self.statuses.values() if s["in_reply_to_id"] == parent]
            descendants += children
            frontier += [c["id"] for c in children]
        return {"ancestors": ancestors, "descendants": descendants}
