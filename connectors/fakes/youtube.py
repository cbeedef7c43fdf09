"""A loopback YouTube Data API v3 (comment threads, comments, channels, search) for google-api-python-client.

Serves ``commentThreads.list`` (``allThreadsRelatedToChannelId``, newest first, ``nextPageToken``), ``comments.list``
(``parentId``), ``comments.insert``, ``channels.list`` and ``search.list`` with the shapes of Google's reference and
its error envelope (``error.errors[].reason``): a reply over 10,000 characters is refused with a 400, a reply where
comments are off with a 403 ``commentsDisabled``, a wrong bearer token with a 401. It keeps its own quota ledger by
Google's costs (list 1, insert 50, search 100) and answers 403 ``quotaExceeded`` once it is spent, as the real API
does. It is also the OAuth token endpoint, so google-auth's refresh-token exchange runs for real.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.fakes.server import FakePlatform, Request, Response, route

CHANNEL = "UCacmeBrandChannel0000001"
CHANNEL_TITLE = "Acme"
CLIENT_ID = "1234567890-acme.apps.googleusercontent.com"
CLIENT_SECRET_ENV = "YOUTUBE_CLIENT_SECRET"
REFRESH_TOKEN_ENV = "YOUTUBE_REFRESH_TOKEN"
CLIENT_SECRET = "fake-youtube-client-secret"
REFRESH_TOKEN = "1//fake-youtube-refresh-token"
TOKEN = "ya29.fake-youtube-token"
API = "/youtube/v3"
COST = {"list": 1, "insert": 50, "search": 100}
QUOTA_MESSAGE = (
    'The request cannot be completed because you have exceeded your <a href="/youtube/v3/getting-started#quota">'
    "quota</a>."
)


def error(code: int, reason: str, message: str, domain: str = "youtube.api") -> Response:
    """Google's error envelope, as the YouTube Data API sends it."""
    return Response(
        code,
        {
            "error": {
                "code": code,
                "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}],
            }
        },
    )


def stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def etag(*parts: Any) -> str:
    return base64.urlsafe_b64encode(hashlib.sha1(repr(parts).encode()).digest()).decode()[:27]


class FakeYouTube(FakePlatform):
    """Fake YouTube: the brand channel's videos, their comment threads and replies, and other channels' videos."""

    platform = "youtube"

    def __init__(self, *, channel: str = CHANNEL, max_results: int = 100, quota: int = 10_000):
        super().__init__()
        self.channel = channel
        self.max_results = max_results
        self.quota = quota
        self.used = 0
        self.videos: dict[
            str, dict[str, Any]
        ] = {}  # video id -> {"channel": id, "title": ..., "comments": bool}
        self.threads: dict[str, dict[str, Any]] = {}  # thread id -> the thread's top-level comment
        self.replies: dict[str, list[dict[str, Any]]] = {}  # thread id -> its replies, oldest first
        self.found: list[dict[str, Any]] = []  # search results: other channels' videos
        self.log: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.add_video("dQw4w9WgXcQ", "Acme Hub setup in 3 minutes")

    # -- what tests and the demo use --------------------------------------------------------------------------

    def add_video(self, video_id: str, title: str, *, comments: bool = True) -> str:
        self.videos[video_id] = {"channel": self.channel, "title": title, "comments": comments}
        return video_id

    def comment(
        self,
        *,
        author: str,
        text: str,
        video: str = "dQw4w9WgXcQ",
        at: datetime | None = None,
        reply_to: str | None = None,
        channel: str | None = None,
        edited: datetime | None = None,
    ) -> str:
        """Add a top-level comment on ``video`` (or a reply in thread ``reply_to``); return its id."""
        n = next(self._ids)
        at = at or datetime.now(UTC)
        author_channel = channel or "UC" + hashlib.sha1(author.encode()).hexdigest()[:22]
        thread = reply_to
        cid = "Ugz" + base64.urlsafe_b64encode(f"acme{n:07d}yt".encode()).decode().rstrip("=") + "AaABAg"
        if thread:
            cid = f"{thread}.{n:04d}Acme{n:08d}"
            video = self.threads[thread]["snippet"]["videoId"]
        snippet: dict[str, Any] = {
            "channelId": self.videos[video]["channel"],
            "videoId": video,
            "textDisplay": text.replace("&", "&amp;").replace("<", "&lt;").replace("\n", "<br>"),
            "textOriginal": text,
            "authorDisplayName": author if author.startswith("@") else f"@{author}",
            "authorProfileImageUrl": f"https://yt3.ggpht.com/ytc/{author_channel}=s48-c-k-c0x00ffffff-no-rj",
            "authorChannelUrl": f"http://www.youtube.com/channel/{author_channel}",
            "authorChannelId": {"value": author_channel},
            "canRate": True,
            "viewerRating": "none",
            "likeCount": 0,
            "publishedAt": stamp(at),
            "updatedAt": stamp(edited or at),
        }
        if thread:
            snippet["parentId"] = thread
        resource = {"kind": "youtube#comment", "etag": etag(cid, text), "id": cid, "snippet": snippet}
        if thread:
            self.replies[thread].append(resource)
        else:
            self.threads[cid] = resource
            self.replies[cid] = []
        return cid

    def add_search_result(self, *, channel: str, title: str, description: str, at: datetime) -> str:
        vid = "vid" + f"{next(self._ids):08d}"
        self.found.append(
            {
                "kind": "youtube#searchResult",
                "etag": etag(vid),
                "id": {"kind": "youtube#video", "videoId": vid},
                "snippet": {
                    "publishedAt": stamp(at),
                    "channelId": "UC" + hashlib.sha1(channel.encode()).hexdigest()[:22],
                    "title": title,
                    "description": description,
                    "thumbnails": {
                        "default": {
                            "url": f"https://i.ytimg.com/vi/{vid}/default.jpg",
                            "width": 120,
                            "height": 90,
                        }
                    },
                    "channelTitle": channel,
                    "liveBroadcastContent": "none",
                },
            }
        )
        return vid

    def publish(self, sample: dict[str, Any]) -> None:
        at = datetime.now(UTC) - timedelta(minutes=float(sample.get("minutes_ago", 0)))
        video = sample.get("video", "dQw4w9WgXcQ")
        if video not in self.videos:
            self.add_video(video, sample.get("video_title", "Acme"))
        self.comment(author=sample["author"], text=sample["text"], video=video, at=at)

    def connector_settings(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "base_url": self.base_url,
            "token_uri": f"{self.base_url}/token",
            "channel_id": self.channel,
            "client_id": CLIENT_ID,
            "client_secret": {"env": CLIENT_SECRET_ENV},
            "refresh_token": {"env": REFRESH_TOKEN_ENV},
        }

    def environment(self) -> dict[str, str]:
        return {CLIENT_SECRET_ENV: CLIENT_SECRET, REFRESH_TOKEN_ENV: REFRESH_TOKEN}

    def posted(self) -> list[dict[str, Any]]:
        return list(self.log)

    # -- OAuth token endpoint -----------------------------------------------------------------------------------

    @route("POST", "/token")
    def token(self, request: Request) -> Response:
        form = request.form
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("refresh_token") != REFRESH_TOKEN
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return Response(
                400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
            )
        return Response(
            200,
            {
                "access_token": TOKEN,
                "expires_in": 3599,
                "scope": form.get("scope", ""),
                "token_type": "Bearer",
            },
        )

    # -- API -------------------------------------------------------------------------------------------------

    def _check(self, request: Request, what: str) -> Response | None:
        if request.header("authorization") != f"Bearer {TOKEN}":
            return error(401, "authError", "Request had invalid authentication credentials.", domain="global")
        # Google charges a request whether it succeeds or not, once it is authenticated.
        if self.used + COST[what] > self.quota:
            return error(403, "quotaExceeded", QUOTA_MESSAGE, domain="youtube.quota")
        self.used += COST[what]
        return None

    def thread_resource(self, tid: str, with_replies: bool) -> dict[str, Any]:
        top = self.threads[tid]
        video = top["snippet"]["videoId"]
        thread: dict[str, Any] = {
            "kind": "youtube#commentThread",
            "etag": etag(tid, len(self.replies[tid])),
            "id": tid,
            "snippet": {
                "channelId": self.videos[video]["channel"],
                "videoId": video,
                "topLevelComment": top,
                "canReply": self.videos[video]["comments"],
                "totalReplyCount": len(self.replies[tid]),
                "isPublic": True,
            },
        }
        if with_replies and self.replies[tid]:
            # YouTube sends a few of a thread's replies with it (comments.list has them all).
            thread["replies"] = {"comments": list(reversed(self.replies[tid][-5:]))}
        return thread

    def _page(self, request: Request, items: list[Any], kind: str) -> dict[str, Any]:
        size = min(int(request.arg("maxResults", "20")), self.max_results)
        token = request.arg("pageToken")
        start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        body: dict[str, Any] = {
            "kind": kind,
            "etag": etag(kind, start, len(items)),
            "pageInfo": {"totalResults": len(items), "resultsPerPage": size},
            "items": items[start : start + size],
        }
        if start + size < len(items):
            body["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return body

    @route("GET", API + "/commentThreads")
    def list_threads(self, request: Request) -> Any:
        if denied := self._check(request, "list"):
            return denied
        channel = request.arg("allThreadsRelatedToChannelId")
        if channel != self.channel:
            return error(404, "channelNotFound", "The channel could not be found.")
        order = sorted(self.threads, key=lambda t: self.threads[t]["snippet"]["publishedAt"], reverse=True)
        with_replies = "replies" in (request.arg("part") or "").split(",")
        items = [self.thread_resource(t, with_replies) for t in order]
        return self._page(request, items, "youtube#commentThreadListResponse")

    @route("GET", API + "/comments")
    def list_comments(self, request: Request) -> Any:
        if denied := self._check(request, "list"):
            return denied
        parent = request.arg("parentId") or ""
        if parent not in self.replies:
            return error(404, "commentNotFound", "One or more of the requested comments cannot be found.")
        return self._page(request, self.replies[parent], "youtube#commentListResponse")

    @route("POST", API + "/comments")
    def insert_comment(self, request: Request) -> Any:
        if denied := self._check(request, "insert"):
            return denied
        snippet = (request.json or {}).get("snippet") or {}
        parent, text = snippet.get("parentId", ""), snippet.get("textOriginal", "")
        if parent not in self.threads:
            return error(404, "parentCommentNotFound", "The comment's parent could not be found.")
        if not self.videos[self.threads[parent]["snippet"]["videoId"]]["comments"]:
            return error(403, "commentsDisabled", "The video has disabled comments.")
        if not text.strip() or len(text) > 10_000:
            return error(400, "commentTextTooLong", "The comment text is too long.")
        cid = self.comment(author=CHANNEL_TITLE, text=text, reply_to=parent, channel=self.channel)
        self.log.append({"kind": "reply", "in_reply_to": parent, "text": text, "id": cid})
        return self.replies[parent][-1]

    @route("GET", API + "/channels")
    def list_channels(self, request: Request) -> Any:
        if denied := self._check(request, "list"):
            return denied
        items = []
        if request.arg("id") == self.channel:
            items = [
                {
                    "kind": "youtube#channel",
                    "etag": etag(self.channel),
                    "id": self.channel,
                    "snippet": {
                        "title": CHANNEL_TITLE,
                        "description": "",
                        "publishedAt": "2015-03-02T09:00:00Z",
                    },
                }
            ]
        return {
            "kind": "youtube#channelListResponse",
            "etag": etag("channels"),
            "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
            "items": items,
        }

    @route("GET", API + "/search")
    def search(self, request: Request) -> Any:
        if denied := self._check(request, "search"):
            return denied
        words = (request.arg("q") or "").lower().split()
        after = request.arg("publishedAfter") or "1970-01-01T00:00:00Z"
        hits = [
            v
            for v in sorted(self.found, key=lambda v: v["snippet"]["publishedAt"], reverse=True)
            if v["snippet"]["publishedAt"] >= after
            and all(w in (v["snippet"]["title"] + " " + v["snippet"]["description"]).lower() for w in words)
        ]
        body = self._page(request, hits, "youtube#searchListResponse")
        body["regionCode"] = "NL"
        return body
