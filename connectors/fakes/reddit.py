"""A loopback Reddit that speaks the OAuth API's wire format, for praw.

It serves the token endpoint, ``/api/v1/me``, ``/message/mentions``, subreddit search and listings, user comment
listings, ``/api/info``, ``/api/comment/`` and ``/api/compose/``, with Reddit's Listing envelopes, fullnames,
``raw_json`` bodies and ``x-ratelimit-*`` headers.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from typing import Any

from connectors.fakes.server import FakePlatform, Request, Response, route

BOT = "acme_support"
# The fields of the new comment in the answer to a reply (``/api/comment``), as recorded.
REPLY_FIELDS = (
    "id",
    "name",
    "author",
    "body",
    "created_utc",
    "link_id",
    "parent_id",
    "subreddit",
    "score",
    "edited",
    "archived",
    "distinguished",
    "banned_by",
    "removal_reason",
)
# The fields of a comment that an inbox item (a username mention) carries, as recorded from reddit.com.
INBOX_FIELDS = (
    "id",
    "name",
    "author",
    "author_fullname",
    "body",
    "created_utc",
    "parent_id",
    "subreddit",
    "subreddit_name_prefixed",
    "link_title",
    "score",
    "distinguished",
)


def listing(things: list[dict[str, Any]], *, limit: int, after: str | None) -> dict[str, Any]:
    """A Reddit Listing of ``things`` (newest first), paged by ``after`` like Reddit does."""
    start = 0
    if after:
        names = [t["data"]["name"] for t in things]
        start = names.index(after) + 1 if after in names else len(things)
    page = things[start : start + limit]
    more = start + limit < len(things)
    return {
        "kind": "Listing",
        "data": {
            "after": page[-1]["data"]["name"] if page and more else None,
            "before": None,
            "dist": len(page),
            "children": page,
            "modhash": None,
        },
    }


class FakeReddit(FakePlatform):
    """Fake Reddit: submissions, comments, mentions of the bot's account, replies and private messages."""

    platform = "reddit"

    def __init__(self, *, bot_username: str = BOT, subreddit: str = "acme"):
        super().__init__()
        self.bot_username = bot_username
        self.subreddit = subreddit
        self.things: dict[str, dict[str, Any]] = {}
        self.messages: list[dict[str, Any]] = []
        self.mentioned: set[str] = set()  # comments that named the bot's account when they were posted
        self._ids = itertools.count(1000)
        # What the x-ratelimit-* headers announce (Reddit: remaining and used in this window, seconds to its reset).
        self.ratelimit_remaining = 996.0
        self.ratelimit_used = 4
        self.ratelimit_reset = 600
        self.max_page = 100  # Reddit's largest Listing page
        self.delay = 0.0  # seconds every answer takes (a slow platform, for client timeouts)
        # Reddit's answer to a new account posting fast, e.g. "you are doing that too much. try again in 7 minutes."
        self.posting_limited = ""
        self.revoked = False  # the account's password changed or the app was revoked: no more tokens
        self.unknown_users: set[str] = set()  # lower-cased names whose profile answers 404

    # -- state helpers for tests and the demo ----------------------------------------------------------------

    def _new_id(self) -> str:
        return format(next(self._ids) * 7919, "x")

    def add_submission(
        self,
        *,
        author: str,
        title: str,
        selftext: str = "",
        subreddit: str | None = None,
        created_utc: float | None = None,
    ) -> str:
        """Create a submission; return its fullname."""
        sid = self._new_id()
        sub = subreddit or self.subreddit
        data = {
            "id": sid,
            "name": f"t3_{sid}",
            "author": author,
            "author_fullname": f"t2_{author}",
            "title": title,
            "selftext": selftext,
            "subreddit": sub,
            "subreddit_name_prefixed": f"r/{sub}",
            "created_utc": float(created_utc if created_utc is not None else time.time()),
            "permalink": f"/r/{sub}/comments/{sid}/{re.sub(r'[^a-z0-9]+', '_', title.lower())[:40]}/",
            "url": f"https://www.reddit.com/r/{sub}/comments/{sid}/",
            "num_comments": 0,
            "score": 1,
            "is_self": True,
            "over_18": False,
            "edited": False,
            "locked": False,
            "archived": False,
            "removed_by_category": None,
            "distinguished": None,
            "banned_by": None,
            "removal_reason": None,
        }
        with self.lock:
            self.things[data["name"]] = {"kind": "t3", "data": data}
        return data["name"]

    def add_comment(
        self,
        *,
        author: str,
        body: str,
        parent: str | None = None,
        created_utc: float | None = None,
    ) -> str:
        """Create a comment (under ``parent``, or under a fresh submission); return its fullname."""
        with self.lock:
            if parent is None:
                parent = self.add_submission(
                    author=author, title="Discussion thread", created_utc=created_utc
                )
            parent_data = self.things[parent]["data"]
            link_id = parent if parent.startswith("t3_") else parent_data["link_id"]
            link = self.things[link_id]["data"]
            cid = self._new_id()
            data = {
                "id": cid,
                "name": f"t1_{cid}",
                "author": author,
                "author_fullname": f"t2_{author}",
                "body": body,
                "created_utc": float(created_utc if created_utc is not None else time.time()),
                "link_id": link_id,
                "parent_id": parent,
                "subreddit": link["subreddit"],
                "permalink": f"{link['permalink']}{cid}/",
                "link_title": link["title"],
                "subreddit_name_prefixed": f"r/{link['subreddit']}",
                "score": 1,
                "edited": False,
                "locked": False,
                "archived": False,
                "distinguished": None,
                "banned_by": None,
                "removal_reason": None,
            }
            self.things[data["name"]] = {"kind": "t1", "data": data}
            link["num_comments"] += 1
            if (
                f"u/{self.bot_username}".lower() in body.lower()
            ):  # Reddit notifies the account as it is posted
                self.mentioned.add(data["name"])
        return data["name"]

    def replies_to(self, fullname: str, *, author: str | None = None) -> list[dict[str, Any]]:
        """Comments whose parent is ``fullname`` (by ``author`` if given)."""
        with self.lock:
            return [
                t["data"]
                for t in self.things.values()
                if t["kind"] == "t1"
                and t["data"]["parent_id"] == fullname
                and (author is None or t["data"]["author"] == author)
            ]

    def _newest(self, kind: str, keep: Any) -> list[dict[str, Any]]:
        with self.lock:
            things = [t for t in self.things.values() if t["kind"] == kind and keep(t["data"])]
        return sorted(things, key=lambda t: (t["data"]["created_utc"], t["data"]["name"]), reverse=True)

    def _limit(self, request: Request) -> int:
        return max(1, min(self.max_page, int(request.arg("limit") or 25)))

    def _answer(self, request: Request) -> Response:
        if self.delay:
            time.sleep(self.delay)
        return super()._answer(request)

    # -- the API ----------------------------------------------------------------------------------------------

    def rate_limit_headers(self, request: Request) -> dict[str, str]:
        if request.path.startswith("/api/v1/access_token"):  # www.reddit.com's token endpoint sends none
            return {}
        return {
            "x-ratelimit-remaining": f"{self.ratelimit_remaining:.1f}",
            "x-ratelimit-used": str(self.ratelimit_used),
            "x-ratelimit-reset": str(self.ratelimit_reset),
        }

    @route("POST", r"/api/v1/access_token/?")
    def access_token(self, request: Request) -> Any:
        form = request.form
        if self.revoked or (
            form.get("grant_type") == "password" and form.get("username") != self.bot_username
        ):
            return {"error": "invalid_grant"}
        return {"access_token": "fake-token", "token_type": "bearer", "expires_in": 86400, "scope": "*"}

    @route("GET", r"/api/v1/me/?")
    def me(self, request: Request) -> Any:
        return {
            "name": self.bot_username,
            "id": "bot1",
            "created_utc": 1600000000.0,
            "comment_karma": 10,
            "link_karma": 1,
            "is_suspended": False,
        }

    @route("GET", r"/message/mentions/?")
    def mentions(self, request: Request) -> Any:
        return listing(self._mentions(), limit=self._limit(request), after=request.arg("after"))

    def _mentions(self) -> list[dict[str, Any]]:
        """Comments that name the bot's account, as inbox items of type ``username_mention``, newest first: the
        inbox's own fields (no ``permalink``, no ``link_id``: the thread is in ``context``)."""
        things = self._newest("t1", lambda d: d["name"] in self.mentioned)
        inbox = []
        for t in things:
            data = {key: t["data"][key] for key in INBOX_FIELDS}
            link = self.things[t["data"]["link_id"]]["data"]
            data.update(
                {
                    "type": "username_mention",
                    "was_comment": True,
                    "new": True,
                    "subject": "username mention",
                    "dest": self.bot_username,
                    "context": f"{t['data']['permalink']}?context=3",
                    "num_comments": link["num_comments"],
                    "likes": None,
                    "replies": "",
                    "first_message": None,
                    "first_message_name": None,
                }
            )
            inbox.append({"kind": "t1", "data": data})
        return inbox

    def moderate(self, fullname: str, action: str) -> None:
        """What happens to a post or comment after it is posted: ``lock``, ``archive`` (six months on), ``remove``
        (by the moderators) or ``delete`` (by its author), shown as Reddit shows it to a user who is not a
        moderator of the subreddit."""
        with self.lock:
            data = self.things[fullname]["data"]
            text = "body" if fullname.startswith("t1_") else "selftext"
            if action in ("lock", "archive"):
                data["locked" if action == "lock" else "archived"] = True
            elif action == "remove":
                data[text] = "[removed]"
                if text == "selftext":
                    data["removed_by_category"] = "moderator"
            elif action == "delete":
                data[text], data["author"] = "[deleted]", "[deleted]"
                data.pop("author_fullname", None)
                if text == "selftext":
                    data["removed_by_category"] = "deleted"
            else:
                raise ValueError(f"unknown action {action!r}")

    def edit(self, fullname: str, text: str) -> None:
        """The author edits a post's text or a comment: ``edited`` becomes the time of the edit."""
        with self.lock:
            data = self.things[fullname]["data"]
            data["body" if fullname.startswith("t1_") else "selftext"] = text
            data["edited"] = float(int(time.time()))

    @route("GET", r"/r/(?P<subs>[^/]+)/search/?")
    def search(self, request: Request) -> Any:
        subs = {s.lower() for s in request.params["subs"].split("+")}
        terms = [t.strip().strip('"') for t in (request.arg("q") or "").lower().split(" or ") if t.strip()]
        things = self._newest(
            "t3",
            lambda d: (
                d["subreddit"].lower() in subs
                and any(t in f"{d['title']} {d['selftext']}".lower() for t in terms)
            ),
        )
        return listing(things, limit=self._limit(request), after=request.arg("after"))

    @route("GET", r"/r/(?P<subs>[^/]+)/new/?")
    def new(self, request: Request) -> Any:
        subs = {s.lower() for s in request.params["subs"].split("+")}
        things = self._newest("t3", lambda d: d["subreddit"].lower() in subs)
        return listing(things, limit=self._limit(request), after=request.arg("after"))

    @route("GET", r"/r/(?P<subs>[^/]+)/comments/?")
    def sub_comments(self, request: Request) -> Any:
        subs = {s.lower() for s in request.params["subs"].split("+")}
        things = self._newest("t1", lambda d: d["subreddit"].lower() in subs)
        return listing(things, limit=self._limit(request), after=request.arg("after"))

    @route("GET", r"/user/(?P<name>[^/]+)/comments/?")
    def user_comments(self, request: Request) -> Any:
        name = request.params["name"].lower()
        if name in self.unknown_users:
            return Response(404, {"message": "Not Found", "error": 404})
        things = self._newest("t1", lambda d: d["author"].lower() == name)
        return listing(things, limit=self._limit(request), after=request.arg("after"))

    @route("GET", r"/api/info/?")
    def info(self, request: Request) -> Any:
        names = (request.arg("id") or "").split(",")
        with self.lock:
            things = [self.things[n] for n in names if n in self.things]
        return listing(things, limit=100, after=None)

    @route("POST", r"/api/comment/?")
    def comment(self, request: Request) -> Any:
        form = request.form
        if self.posting_limited:
            return {"json": {"errors": [["RATELIMIT", self.posting_limited, "ratelimit"]]}}
        parent = form.get("thing_id", "")
        if parent not in self.things:
            return {"json": {"errors": [["INVALID_THING", "that thing does not exist", "thing_id"]]}}
        if not form.get("text", "").strip():
            return {"json": {"errors": [["NO_TEXT", "we need something here", "text"]]}}
        name = self.add_comment(author=self.bot_username, body=form["text"], parent=parent)
        data = {k: v for k, v in self.things[name]["data"].items() if k in REPLY_FIELDS}
        return {"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": data}]}}}

    @route("POST", r"/api/compose/?")
    def compose(self, request: Request) -> Any:
        form = request.form
        if not form.get("to") or not form.get("text"):
            return {"json": {"errors": [["NO_USER", "please enter a username", "to"]]}}
        self.messages.append(
            {
                "to": form["to"],
                "subject": form.get("subject", ""),
                "text": form["text"],
                "from": self.bot_username,
                "created_utc": time.time(),
            }
        )
        self._add_message(
            author=self.bot_username, dest=form["to"], subject=form.get("subject", ""), body=form["text"]
        )
        return {"json": {"errors": []}}

    def customer_message(
        self,
        *,
        author: str,
        body: str,
        subject: str = "re: About your post",
        created_utc: float | None = None,
    ) -> str:
        """A private message from ``author`` to the bot (e.g. a customer answering our first message)."""
        return self._add_message(
            author=author, dest=self.bot_username, subject=subject, body=body, created_utc=created_utc
        )

    def _add_message(
        self, *, author: str, dest: str, subject: str, body: str, created_utc: float | None = None
    ) -> str:
        mid = self._new_id()
        data = {
            "id": mid,
            "name": f"t4_{mid}",
            "author": author,
            "dest": dest,
            "subject": subject,
            "body": body,
            "created_utc": float(created_utc if created_utc is not None else time.time()),
            "was_comment": False,
            "replies": "",
            "subreddit": None,
            "new": True,
            "first_message_name": None,
            "parent_id": None,
            "context": "",
        }
        with self.lock:
            self.things[data["name"]] = {"kind": "t4", "data": data}
        return data["name"]

    @route("GET", r"/message/(?P<box>messages|inbox|unread|sent)/?")
    def message_box(self, request: Request) -> Any:
        me = self.bot_username.lower()
        if request.params["box"] == "sent":
            things = self._newest("t4", lambda d: d["author"].lower() == me)
        elif request.params["box"] == "inbox":  # what was sent to us: messages and username mentions
            things = self._newest("t4", lambda d: d["dest"].lower() == me) + self._mentions()
            things.sort(key=lambda t: (t["data"]["created_utc"], t["data"]["name"]), reverse=True)
        else:
            things = self._newest("t4", lambda d: me in (d["author"].lower(), d["dest"].lower()))
        return listing(things, limit=self._limit(request), after=request.arg("after"))

    # -- the demo interface -----------------------------------------------------------------------------------

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "interval_seconds": 60,
            "subreddits": [self.subreddit],
            "keywords": ["acme"],
            "username": self.bot_username,
            "own_accounts": [self.bot_username, "acme"],
            "client_id": {"env": "REDDIT_CLIENT_ID"},
            "client_secret": {"env": "REDDIT_CLIENT_SECRET"},
            "password": {"env": "REDDIT_PASSWORD"},
            "user_agent": "mentionbot-demo/0.1",
        }

    def environment(self) -> dict[str, str]:
        return {
            "REDDIT_CLIENT_ID": "demo-id",
            "REDDIT_CLIENT_SECRET": "demo-secret",
            "REDDIT_PASSWORD": "demo-pw",
        }

    def config_toml(
        self, *, username: str = "acme_support", interval_seconds: int = 1, rotation: list[str] | None = None
    ) -> str:
        """The ``[connectors.reddit]`` table pointing the real connector at this fake (secrets from
        :meth:`environment`)."""
        rotation_line = f"rotation = {json.dumps(rotation)}\n" if rotation else ""
        return f"""
[connectors.reddit]
enabled = true
base_url = "{self.base_url}"
interval_seconds = {interval_seconds}
subreddits = ["acme"]
keywords = ["acme"]
username = "{username}"
{rotation_line}own_accounts = ["acme"]
client_id = {{ env = "REDDIT_CLIENT_ID" }}
client_secret = {{ env = "REDDIT_CLIENT_SECRET" }}
password = {{ env = "REDDIT_PASSWORD" }}
"""

    def publish(self, sample: dict[str, Any]) -> None:
        created = time.time() - 60 * float(sample.get("minutes_ago", 0))
        if sample.get("kind") == "comment":
            self.add_comment(author=sample["author"], body=sample["text"], created_utc=created)
        else:
            self.add_submission(
                author=sample["author"],
                title=sample.get("title") or sample["text"][:80],
                selftext=sample["text"] if sample.get("title") else "",
                created_utc=created,
            )

    def posted(self) -> list[dict[str, Any]]:
        out = [
            {
                "kind": "reply",
                "in_reply_to": t["data"]["parent_id"],
                "text": t["data"]["body"],
                "id": t["data"]["name"],
            }
            for t in self._newest("t1", lambda d: d["author"] == self.bot_username)
        ][::-1]
        out += [
            {"kind": "message", "in_reply_to": m["to"], "text": m["text"], "id": ""} for m in self.messages
        ]
        return out
