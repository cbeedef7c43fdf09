"""YouTube comments through google-api-python-client (YouTube Data API v3): the brand channel's comment threads,
public replies, and, sparingly, a search for videos that name the brand.

``commentThreads.list(allThreadsRelatedToChannelId=…)`` lists the threads on all the channel's videos, newest
first, each with its top-level comment and the first few replies (YouTube sends a limited number; a long thread's
later replies are not read). A reply is ``comments.insert`` with the thread's id as ``parentId``, at most 10,000
characters; YouTube has no private channel, so a case opened here is followed up by hand.

The Data API counts every call against a daily quota (10,000 units unless Google granted more; a list costs 1, a
reply 50, a search 100), reset at midnight Pacific time. ``QuotaLedger`` books what is spent today in the store, so
a restart does not forget it and several daemons on one database share one count, and is asked before each call:
polling stops while ``reply_reserve`` units are left, so replies approved late in the day still go out, and nothing
is sent that would overrun the quota.
The pause is a ``TransientError`` until the reset, never a fatal one. The credential is the channel owner's OAuth
refresh token (scope ``youtube.force-ssl``), traded by google-auth for access tokens.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import google_auth_httplib2
from google.oauth2.credentials import Credentials
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from bot.clock import Clock
from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError, excerpt
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, PlatformState, Secret
from connectors.googleapi import CountingHttp, execute
from connectors.reviews import Batch, Watermark, read_newest_first

log = logging.getLogger(__name__)

SCOPE = "https://www.googleapis.com/auth/youtube.force-ssl"
MAX_REPLY = 10_000
PACIFIC = ZoneInfo("America/Los_Angeles")
# Units each kind of call costs (developers.google.com/youtube/v3/determine_quota_cost).
COST = {"list": 1, "reply": 50, "search": 100}
# The quota reasons YouTube gives with a 403 (``error.errors[].reason``): spent until midnight Pacific time.
QUOTA_REASONS = {"quotaExceeded", "dailyLimitExceeded"}
# Reasons a reply is refused for that comment only (comments turned off, the thread gone or held).
REPLY_REFUSALS = {
    "commentsDisabled",
    "forbidden",
    "commentNotFound",
    "parentCommentIsPrivate",
    "processingFailure",
}


@dataclass(kw_only=True)
class YouTubeSettings(ConnectorSettings):
    """``[connectors.youtube]``: the brand's channel and the owner's OAuth client and refresh token."""

    channel_id: str = ""
    client_id: str = ""
    client_secret: Secret | None = None
    refresh_token: Secret | None = None
    token_uri: str = "https://oauth2.googleapis.com/token"
    page_size: int = 100
    backfill_hours: int = 168
    daily_quota: int = 10_000
    reply_reserve: int = 1_000
    search_query: str = ""
    search_every_hours: int = 24

    def problems(self, path: str) -> list[str]:
        out = []
        if not self.enabled:
            return out
        if not self.channel_id.startswith("UC"):
            out.append(
                f'{path}.channel_id: expected the brand channel\'s id, e.g. "UCxxxxxxxxxxxxxxxxxxxxxx"'
            )
        if not self.client_id:
            out.append(f"{path}.client_id: expected the OAuth client id of the Google Cloud project")
        for key in ("client_secret", "refresh_token"):
            if not getattr(self, key):
                out.append(f'{path}.{key}: expected {{ env = "NAME" }} naming an environment variable')
        if self.daily_quota < 1:
            out.append(f"{path}.daily_quota: expected the project's daily quota in units (10000 by default)")
        if not 0 <= self.reply_reserve < self.daily_quota:
            out.append(f"{path}.reply_reserve: expected units kept for replies, from 0 to below daily_quota")
        if self.search_every_hours < 1:
            out.append(f"{path}.search_every_hours: expected hours between searches, at least 1")
        return out


class QuotaLedger:
    """The units spent today (a Pacific-time day, as Google counts), booked in the store so that a restart keeps
    them and every daemon on the same database counts against the same quota."""

    def __init__(
        self, state: PlatformState, *, limit: int, reserve: int, clock: Clock, connector: str = "youtube"
    ):
        self.state, self.connector, self.clock = state, connector, clock
        self.limit, self.reserve = limit, reserve

    def today(self) -> date:
        """The quota day it is now: Google resets the quota at midnight Pacific time."""
        return self.clock.now().astimezone(PACIFIC).date()

    def used(self) -> int:
        """Units booked today."""
        return self.state.quota_used(self.connector, self.today())

    def carry_over(self, path: Path) -> None:
        """Book what an older version counted in its JSON file, once, and remove the file."""
        try:
            saved = json.loads(path.read_text())
            used = int(saved["used"]) if saved.get("day") == self.today().isoformat() else 0
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            # Counting from 0 could overrun the quota: take the day as spent until its reset.
            log.warning("youtube: unreadable quota ledger %s (%s): taken as spent for today", path, exc)
            used = self.limit
        if used:
            self.state.quota_spent(self.connector, self.today(), limit=used)
        path.unlink(missing_ok=True)

    def resets_at(self) -> datetime:
        """The next midnight Pacific time, when Google resets the quota."""
        return datetime.combine(self.today() + timedelta(days=1), time(0), tzinfo=PACIFIC)

    def spend(self, what: str, *, for_reply: bool = False) -> None:
        """Book the cost of one ``what`` call (``COST``) before it is sent; raise the quota pause instead when it
        would eat into the reply reserve (a reply may use the reserve) or overrun the quota."""
        units = COST[what]
        keep = 0 if for_reply else self.reserve
        day = self.today()
        if self.state.spend_quota(self.connector, day, units, cap=self.limit - keep) is not None:
            return
        used = self.state.quota_used(self.connector, day)
        wait = (self.resets_at() - self.clock.now()).total_seconds()
        kept = f", {keep:,} kept for replies" if keep else ""
        raise TransientError(
            self.connector,
            f"quota: a {what} costs {units} units and {used:,} of {self.limit:,} are used today{kept};"
            f" paused until midnight Pacific time (in {wait / 3600:.1f} h)",
            retry_after=wait,
        )

    def spent(self) -> None:
        """YouTube said the quota is gone (another client shares the project): nothing more until the reset."""
        self.state.quota_spent(self.connector, self.today(), limit=self.limit)

    def summary(self) -> str:
        return f"quota {self.used():,} of {self.limit:,} units used today (resets at midnight Pacific time)"


class YouTubeConnector(Connector):
    """Comments on the brand channel's videos; public replies only."""

    name = "youtube"
    Settings = YouTubeSettings
    rules = ReplyRules(max_length=MAX_REPLY, can_reply=True)
    capabilities = frozenset({Capability.REPLY, Capability.RECONCILE})
    settings: YouTubeSettings

    def __init__(self, settings: YouTubeSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self._service: Any = None
        self.http = CountingHttp(timeout=settings.timeout_seconds)
        self.quota = QuotaLedger(
            self.state,
            limit=settings.daily_quota,
            reserve=settings.reply_reserve,
            clock=self.clock,
            connector=self.name,
        )
        self.quota.carry_over(self.state_dir / "youtube-quota.json")

    @property
    def service(self) -> Any:
        if self._service is None:
            s = self.settings
            if not (s.client_secret and s.refresh_token):
                raise FatalError(self.name, "no client_secret or refresh_token configured")
            creds = Credentials(
                token=None,
                refresh_token=s.refresh_token.value(),
                client_id=s.client_id,
                client_secret=s.client_secret.value(),
                token_uri=s.token_uri,
                scopes=[SCOPE],
            )
            self.http.token_uri = s.token_uri
            http = google_auth_httplib2.AuthorizedHttp(creds, http=self.http)
            options = {"api_endpoint": s.base_url.rstrip("/") + "/"} if s.base_url else None
            self._service = build("youtube", "v3", http=http, client_options=options, static_discovery=True)
        return self._service

    def own_accounts(self) -> set[str]:
        return super().own_accounts() | {self.settings.channel_id.lower()}

    def budget(self) -> str | None:
        return self.quota.summary()

    def check(self) -> str:
        body = self._call(
            "list", lambda: self.service.channels().list(part="snippet", id=self.settings.channel_id)
        )
        items = (body or {}).get("items") or []
        if not items:
            raise FatalError(self.name, f"channel {self.settings.channel_id} not found")
        title = items[0].get("snippet", {}).get("title", "")
        return f"reading the comments of the YouTube channel {title!r}; {self.quota.summary()}"

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        now = self.clock.now()
        start = (now - timedelta(hours=self.settings.backfill_hours)).timestamp()
        mark = Watermark(state.get("threads"), start=start)
        batch = read_newest_first(
            self.name, mark, self._comment_pages(), self.to_mention, item_id=lambda c: c["comment"]["id"]
        )
        out = {"threads": mark.state()}
        if self.settings.search_query:
            found = Watermark(state.get("search"), start=start)
            last = state.get("searched")
            due = last is None or now.timestamp() - float(last) >= self.settings.search_every_hours * 3600
            if due:
                batch += self._search(found)
                out["searched"] = now.timestamp()
            elif last is not None:
                out["searched"] = float(last)
            out["search"] = found.state()
        batch.mentions.sort(key=lambda m: m.created_at)
        return FetchResult(batch.mentions, json.dumps(out, sort_keys=True), batch.quarantined)

    def _comment_pages(self) -> Iterator[list[dict[str, Any]]]:
        """Newest-first pages of ``{"thread", "comment"}``: each thread's top-level comment, then its replies."""
        kwargs: dict[str, Any] = {
            "part": "snippet,replies",
            "allThreadsRelatedToChannelId": self.settings.channel_id,
            "order": "time",
            "textFormat": "plainText",
            "maxResults": self.settings.page_size,
        }
        while True:
            body = (
                self._call("list", lambda kwargs=kwargs: self.service.commentThreads().list(**kwargs)) or {}
            )
            page: list[dict[str, Any]] = []
            for thread in body.get("items") or []:
                snippet = thread.get("snippet") if isinstance(thread, dict) else None
                page.append({"thread": thread, "comment": (snippet or {}).get("topLevelComment")})
                replies = ((thread.get("replies") if isinstance(thread, dict) else None) or {}).get(
                    "comments"
                )
                page += [
                    {"thread": thread, "comment": r} for r in (replies if isinstance(replies, list) else [])
                ]
            yield page
            token = body.get("nextPageToken")
            if not token:
                return
            kwargs = {**kwargs, "pageToken": token}

    def to_mention(self, item: dict[str, Any]) -> Mention:
        thread, comment = item["thread"], item["comment"]
        snippet = comment["snippet"]
        video = snippet.get("videoId") or thread["snippet"]["videoId"]
        name = snippet.get("authorDisplayName") or "A YouTube user"
        parent = snippet.get("parentId")
        published = _time(snippet["publishedAt"])
        # textOriginal is guaranteed only to the comment's author; textDisplay is plain text as we ask for it.
        text = snippet.get("textOriginal")
        if text is None:
            text = snippet["textDisplay"]
        return Mention(
            platform=self.name,
            id=comment["id"],
            url=f"https://www.youtube.com/watch?v={video}&lc={comment['id']}",
            author=Author(
                handle=name,
                display_name=name.lstrip("@"),
                id=(snippet.get("authorChannelId") or {}).get("value", ""),
            ),
            text=text,
            created_at=published,
            kind="reply" if parent else "comment",
            parent_id=parent,
            thread_id=thread["id"],
            raw=comment,
            unanswerable=None if thread["snippet"].get("canReply", True) else "replies are turned off",
            edited=bool(snippet.get("updatedAt")) and _time(snippet["updatedAt"]) > published,
        )

    def _search(self, found: Watermark) -> Batch:
        """Videos of other channels that name the brand, published since the last search (one call, 100 units)."""
        after = datetime.fromtimestamp(found.floor, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body = self._call(
            "search",
            lambda: self.service.search().list(
                part="snippet",
                q=self.settings.search_query,
                type="video",
                order="date",
                publishedAfter=after,
                maxResults=50,
            ),
        )
        videos = [v for v in (body or {}).get("items") or [] if isinstance(v, dict)]
        return read_newest_first(
            self.name, found, [videos], self.video_mention, item_id=lambda v: v["id"]["videoId"]
        )

    def video_mention(self, video: dict[str, Any]) -> Mention:
        snippet, vid = video["snippet"], video["id"]["videoId"]
        channel = snippet.get("channelTitle") or snippet["channelId"]
        return Mention(
            platform=self.name,
            id=f"video:{vid}",
            url=f"https://www.youtube.com/watch?v={vid}",
            author=Author(handle=channel, display_name=channel, id=snippet["channelId"]),
            text="\n\n".join(p for p in (snippet.get("title", ""), snippet.get("description", "")) if p),
            created_at=_time(snippet["publishedAt"]),
            kind="post",
            raw=video,
            unanswerable="a video found by search: answer under it by hand if at all",
        )

    # -- replying --------------------------------------------------------------------------------------------

    def can_reply(self, mention: Mention) -> bool:
        return not mention.id.startswith("video:") and not mention.unanswerable

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if len(text) > MAX_REPLY:
            raise ReplyNotAllowed(self.name, f"reply is {len(text)} characters; YouTube allows {MAX_REPLY}")
        if not self.can_reply(mention):
            raise ReplyNotAllowed(self.name, mention.unanswerable or "not a comment")
        # A reply to a reply goes into the same thread: YouTube threads are one level deep.
        body = {"snippet": {"parentId": mention.thread_id or mention.id, "textOriginal": text}}
        posted = self._call(
            "reply", lambda: self.service.comments().insert(part="snippet", body=body), refusal=True
        )
        try:
            return str(posted["id"])
        except (TypeError, KeyError) as exc:
            raise TransientError(self.name, "comments.insert answered without the comment's id") from exc

    @classmethod
    def reply_url(cls, mention: Mention, posted_id: str) -> str:
        video = mention.url.split("v=", 1)[-1].split("&", 1)[0]
        return f"https://www.youtube.com/watch?v={video}&lc={posted_id}"

    def find_reply(self, mention: Mention) -> str | None:
        return next(self._replies_by({self.settings.channel_id.lower()}, mention), (None, None))[1]

    def team_replied(self, mention: Mention) -> str | None:
        found = next(self._replies_by(self.own_accounts(), mention), None)
        return f"{found[0]}:{found[1]}" if found else None

    def _replies_by(self, channels: set[str], mention: Mention) -> Iterator[tuple[str, str]]:
        """(author, comment id) of the replies in ``mention``'s thread, after it, written by ``channels``."""
        body = self._call(
            "list",
            lambda: self.service.comments().list(
                part="snippet",
                parentId=mention.thread_id or mention.id,
                maxResults=100,
                textFormat="plainText",
            ),
        )
        for comment in (body or {}).get("items") or []:
            snippet = comment.get("snippet") or {}
            author = (snippet.get("authorChannelId") or {}).get("value", "")
            after = _time(snippet.get("publishedAt", "1970-01-01T00:00:00Z")) >= mention.created_at
            if author.lower() in channels and comment.get("id") != mention.id and after:
                yield snippet.get("authorDisplayName") or author, str(comment["id"])

    # -- errors ----------------------------------------------------------------------------------------------

    def _call(self, what: str, build_request: Callable[[], Any], *, refusal: bool = False) -> Any:
        """Book ``what``'s cost in the quota ledger, then execute the request once, its failures mapped by
        ``connectors.googleapi`` after YouTube's own 403s: the quota spent (the quota pause) and, for a reply
        (``refusal``), a reply refused for that comment only. Nothing sleeps here."""
        self.quota.spend(what, for_reply=refusal)
        return execute(
            self.name,
            build_request,
            clock=self.clock,
            refusal=refusal,
            credential_refused="refresh token refused",
            first=lambda exc: self._youtube_error(exc, refusal=refusal),
        )

    def _youtube_error(self, exc: HttpError, *, refusal: bool) -> ConnectorError | None:
        """What a 403 means on YouTube by its reasons; ``None`` for every other answer."""
        if exc.resp.status != 403:
            return None
        reasons = _reasons(exc)
        if reasons & QUOTA_REASONS:
            self.quota.spent()
            wait = (self.quota.resets_at() - self.clock.now()).total_seconds()
            return TransientError(
                self.name,
                "quota: YouTube says the daily quota is spent; paused until midnight Pacific time",
                retry_after=wait,
            )
        if refusal and reasons & REPLY_REFUSALS:
            reason = excerpt(str(exc.reason or ""))
            return ReplyNotAllowed(self.name, f"HTTP 403 ({', '.join(sorted(reasons))}): {reason}")
        return None


def _reasons(exc: HttpError) -> set[str]:
    """The ``reason`` of each entry of Google's error envelope (``error.errors[]``)."""
    try:
        errors = json.loads(exc.content)["error"].get("errors") or []
        return {str(e.get("reason")) for e in errors if isinstance(e, dict)}
    except (ValueError, TypeError, KeyError, AttributeError):
        return set()


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
