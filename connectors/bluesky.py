"""Bluesky through the atproto SDK: mention, reply and quote notifications and a keyword search; replies and chat.

A poll asks one source, in turns (notifications, then ``searchPosts`` when keywords are set), each remembering the
newest ``indexedAt`` it has seen, so a quiet poll is one request. Replies carry the right ``root`` and ``parent``
references (the root is the parent's own root when the parent is itself a reply). The private follow-up goes
through the chat service (``atproto-proxy`` header).

``createSession`` is tightly limited (about 30 per 5 minutes and 300 a day), so the session is persisted and reused
across restarts, and refreshed when the access token expires. The session string holds tokens, so it is kept out
of the database and the logs (secrets never go there) in a file only the bot's user can read (``session_file``,
default: beside the database).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from atproto import Client, models
from atproto_client.exceptions import (
    AtProtocolError,
    BadRequestError,
    NetworkError,
    RateLimitExceededError,
    RequestErrorBase,
    UnauthorizedError,
)
from atproto_client.models.utils import get_model_as_dict
from atproto_client.request import Request

from bot.errors import FatalError, ReplyNotAllowed, TransientError
from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Connector, ConnectorSettings, Secret
from connectors.http import seconds_until_reset

log = logging.getLogger(__name__)

MAX_GRAPHEMES = 300
REASONS = ["mention", "reply", "quote"]
WEB = "https://bsky.app/profile"


@dataclass(kw_only=True)
class BlueskySettings(ConnectorSettings):
    """``[connectors.bluesky]``: the brand's handle, an app password, what to search for, where the session lives."""

    base_url: str = "https://bsky.social"
    handle: str = ""
    app_password: Secret | None = None
    keywords: list[str] = field(default_factory=list)
    session_file: str = ""
    page_size: int = 50
    max_pages: int = 10
    backfill_hours: int = 24

    def problems(self, path: str) -> list[str]:
        out = []
        if self.enabled:
            if "." not in self.handle:
                out.append(f"{path}.handle: expected the brand's full handle, e.g. 'acme.bsky.social'")
            if self.app_password is None:
                out.append(f'{path}.app_password: expected {{ env = "NAME" }} holding an app password')
        if not 1 <= self.page_size <= 100:
            out.append(f"{path}.page_size: expected 1 to 100")
        if self.max_pages < 1:
            out.append(f"{path}.max_pages: expected at least 1")
        return out


class CountingRequest(Request):
    """The SDK's HTTP layer, counting every request (for per-call accounting)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.calls = 0

    def _send_request(self, method: str, url: str, **kwargs: Any):  # type: ignore[override]
        self.calls += 1
        return super()._send_request(method, url, **kwargs)


class BlueskyConnector(Connector):
    """Posts that mention, answer or quote the brand, or match its keywords; replies and chat messages."""

    name = "bluesky"
    Settings = BlueskySettings
    rules = ReplyRules(max_length=MAX_GRAPHEMES, length_unit="graphemes", can_reply=True, can_message=True)
    settings: BlueskySettings

    def __init__(self, settings: BlueskySettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.request = CountingRequest(timeout=settings.timeout_seconds)
        self._client: Client | None = None
        self._on_saved_session = False
        self._turn = 0

    @property
    def calls(self) -> int:
        return self.request.calls

    # -- the session -----------------------------------------------------------------------------------------

    def _session_file(self) -> Path:
        if self.settings.session_file:
            return self.state_dir / Path(self.settings.session_file).expanduser()
        return self.state_dir / f"bluesky-session-{self.settings.handle}"

    def _save_session(self, *_: Any) -> None:
        path = self._session_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self._client.export_session_string())

    @property
    def client(self) -> Client:
        """The logged-in SDK client: the saved session when there is one, else a new one (saved)."""
        if self._client is None:
            client = Client(base_url=self.settings.base_url.rstrip("/"), request=self.request)
            client.on_session_change(self._save_session)
            self._client = client
            saved = self._session_file()
            try:
                if saved.exists():
                    try:
                        client.login(session_string=saved.read_text().strip(), fetch_bsky_profile=False)
                        self._on_saved_session = True
                        return client
                    except (AtProtocolError, ValueError) as exc:
                        log.warning(
                            "bluesky: the saved session was refused (%s); logging in again",
                            type(exc).__name__,
                        )
                password = self.settings.app_password.value() if self.settings.app_password else ""
                client.login(self.settings.handle, password, fetch_bsky_profile=False)
            except BaseException:
                self._client = None
                raise
        return self._client

    def _did(self) -> str:
        """The brand account's DID, from the session."""
        session = self.client._session
        return session.did if session else ""

    def _forget_session(self) -> None:
        """Drop the saved session; the next call logs in with the app password."""
        log.warning("bluesky: the saved session was refused; logging in with the app password")
        self._session_file().unlink(missing_ok=True)
        self._client, self._on_saved_session = None, False

    def own_accounts(self) -> set[str]:
        mine = {self.settings.handle.lower()}
        if self._client is not None and self._client._session:  # the DID, known once logged in
            mine.add(self._client._session.did.lower())
        return super().own_accounts() | mine - {""}

    def check(self) -> str:
        self._call(lambda: self.client)
        return f"logged in as @{self.settings.handle} (session in {self._session_file()})"

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        seen: dict[str, list] = dict(state.get("seen", {}))  # source → [newest indexedAt, uris indexed then]
        turn = max(int(state.get("turn", 0)), self._turn)
        self._turn = turn + 1
        sources = ["notifications"] + (["search"] if self.settings.keywords else [])
        source = sources[turn % len(sources)]
        floor, at_floor = seen.get(source) or [
            _iso(self.clock.now() - timedelta(hours=self.settings.backfill_hours)),
            [],
        ]

        def is_new(view: dict[str, Any]) -> bool:
            return view["indexedAt"] > floor or (view["indexedAt"] == floor and view["uri"] not in at_floor)

        read = self._search if source == "search" else self._notifications
        views = read(floor, is_new)
        mentions = []
        for view in views:
            try:
                mentions.append(self.to_mention(view))
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("bluesky: skipped a malformed post from %s: %s", source, exc)
        if views:
            newest = max(v["indexedAt"] for v in views)
            same = [v["uri"] for v in views if v["indexedAt"] == newest]
            seen[source] = [newest, same + (at_floor if newest == floor else [])]
        else:
            seen[source] = [floor, at_floor]
        mentions.sort(key=lambda m: (m.created_at, m.id))
        return FetchResult(mentions, json.dumps({"seen": seen, "turn": turn + 1}, sort_keys=True))

    def _notifications(self, floor: str, is_new: Callable[[dict], bool]) -> list[dict[str, Any]]:
        """Notifications not seen yet, newest first, page by page until the watermark is reached."""
        out, page_cursor = [], None
        for _ in range(self.settings.max_pages):
            params = {"limit": self.settings.page_size, "reasons": REASONS, "cursor": page_cursor}
            body = self._call(lambda p=params: self.client.app.bsky.notification.list_notifications(params=p))
            items = [get_model_as_dict(n) for n in body.notifications]
            fresh = [n for n in items if is_new(n) and n.get("reason") in REASONS]
            out += fresh
            page_cursor = body.cursor
            if any(n["indexedAt"] < floor for n in items) or not page_cursor:
                break
        return out

    def _search(self, floor: str, is_new: Callable[[dict], bool]) -> list[dict[str, Any]]:
        query = " OR ".join(self.settings.keywords)
        params = {"q": query, "sort": "latest", "since": floor, "limit": min(self.settings.page_size, 100)}
        try:
            body = self._call(lambda: self.client.app.bsky.feed.search_posts(params=params))
        except FatalError as exc:  # the AppView may refuse search (403): keep reading notifications
            log.warning("bluesky: search refused (%s); notifications only", exc)
            self.settings.keywords = []
            return []
        return [p for p in (get_model_as_dict(v) for v in body.posts) if is_new(p)]

    def to_mention(self, view: dict[str, Any]) -> Mention:
        record = view["record"]
        author = view["author"]
        text = _resolved(record)
        reply = record.get("reply") or {}
        rkey = view["uri"].rsplit("/", 1)[-1]
        langs = record.get("langs") or []
        return Mention(
            platform=self.name,
            id=view["uri"],
            url=f"{WEB}/{author['handle']}/post/{rkey}",
            author=Author(
                handle=author["handle"], display_name=author.get("displayName") or "", id=author["did"]
            ),
            text=text,
            created_at=datetime.fromisoformat(record["createdAt"].replace("Z", "+00:00")).astimezone(UTC),
            kind="reply" if reply else "post",
            parent_id=(reply.get("parent") or {}).get("uri"),
            thread_id=(reply.get("root") or {}).get("uri") or view["uri"],
            lang=langs[0] if langs else None,
            raw=view,
        )

    # -- posting ---------------------------------------------------------------------------------------------

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        from responders.compose import grapheme_count

        if grapheme_count(text) > MAX_GRAPHEMES:
            raise ReplyNotAllowed(
                self.name, f"reply is {grapheme_count(text)} graphemes; Bluesky allows {MAX_GRAPHEMES}"
            )
        parent = models.ComAtprotoRepoStrongRef.Main(uri=mention.raw["uri"], cid=mention.raw["cid"])
        root_ref = (mention.raw["record"].get("reply") or {}).get("root")
        root = models.ComAtprotoRepoStrongRef.Main(**root_ref) if root_ref else parent
        ref = models.AppBskyFeedPost.ReplyRef(root=root, parent=parent)
        posted = self._call(
            lambda: self.client.send_post(text, reply_to=ref, profile_identify=self._did(), langs=None),
            posting=True,
        )
        return posted.uri

    def _convo_id(self, mention: Mention) -> str:
        chat = self.client.with_bsky_chat_proxy()
        convo = self._call(
            lambda: chat.chat.bsky.convo.get_convo_for_members(params={"members": [mention.author.id]}),
            posting=True,
        )
        return convo.convo.id

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        convo_id = self._convo_id(mention)
        chat = self.client.with_bsky_chat_proxy()
        sent = self._call(
            lambda: chat.chat.bsky.convo.send_message(data={"convoId": convo_id, "message": {"text": text}}),
            posting=True,
        )
        return sent.id

    def find_message(self, mention: Mention, text: str) -> str | None:
        convo_id = self._convo_id(mention)
        chat = self.client.with_bsky_chat_proxy()
        found = self._call(
            lambda: chat.chat.bsky.convo.get_messages(params={"convoId": convo_id, "limit": 50})
        )
        my_did = self._did()
        for message in found.messages:
            data = get_model_as_dict(message)
            if data.get("sender", {}).get("did") == my_did and data.get("text", "").strip() == text.strip():
                return data["id"]
        return None

    def _replies(self, mention: Mention) -> list[dict[str, Any]]:
        body = self._call(
            lambda: self.client.app.bsky.feed.get_post_thread(params={"uri": mention.id, "depth": 1})
        )
        thread = get_model_as_dict(body.thread)
        return [r["post"] for r in thread.get("replies") or [] if isinstance(r, dict) and "post" in r]

    def find_reply(self, mention: Mention) -> str | None:
        me = self.settings.handle.lower()
        return next((p["uri"] for p in self._replies(mention) if p["author"]["handle"].lower() == me), None)

    def team_replied(self, mention: Mention) -> str | None:
        own = self.own_accounts()
        for post in self._replies(mention):
            if post["author"]["handle"].lower() in own or post["author"]["did"].lower() in own:
                return f"{post['author']['handle']}:{post['uri']}"
        return None

    # -- errors ----------------------------------------------------------------------------------------------

    def _call(self, fn: Callable[[], Any], *, posting: bool = False) -> Any:
        """Run an SDK call, refreshing an expired session once, and map failures to mentionbot's branches."""
        try:
            try:
                return fn()
            except BadRequestError as exc:
                if _error_name(exc) != "ExpiredToken" or self._client is None:
                    raise
                log.info("bluesky: access token expired; refreshing the session")
                try:
                    self._client._refresh_and_set_session()  # SDK: refreshSession and on_session_change
                except (BadRequestError, UnauthorizedError):  # the refresh token is gone too
                    self._forget_session()
                return fn()
            except UnauthorizedError:
                if not self._on_saved_session:
                    raise
                self._forget_session()  # a saved session the server no longer knows: log in afresh, once
                return fn()
        except RateLimitExceededError as exc:
            wait = seconds_until_reset(exc.response.headers if exc.response else {}, self.clock.now())
            raise TransientError(
                self.name, "rate limited (HTTP 429)", retry_after=300.0 if wait is None else wait
            ) from exc
        except UnauthorizedError as exc:
            raise FatalError(self.name, f"login refused: {_error_text(exc)}") from exc
        except BadRequestError as exc:
            if _error_name(exc) == "ExpiredToken":
                raise FatalError(self.name, f"session revoked: {_error_text(exc)}") from exc
            if posting:
                raise ReplyNotAllowed(self.name, f"Bluesky refused: {_error_text(exc)}") from exc
            raise TransientError(self.name, f"HTTP 400: {_error_text(exc)}") from exc
        except httpx.HTTPError as exc:  # the SDK maps only timeouts and network errors
            raise TransientError(self.name, f"{type(exc).__name__}: {exc}") from exc
        except (NetworkError, RequestErrorBase) as exc:
            raise TransientError(self.name, f"{type(exc).__name__}: {_error_text(exc)}") from exc
        except AtProtocolError as exc:  # malformed answers fail the SDK's models
            raise TransientError(self.name, f"malformed answer ({type(exc).__name__})") from exc
        except ValueError as exc:
            raise TransientError(self.name, f"malformed answer: {str(exc)[:200]}") from exc


def _error_name(exc: RequestErrorBase) -> str:
    content = getattr(exc.response, "content", None) if exc.response else None
    return str(getattr(content, "error", "") or "")


def _error_text(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None) if response else None
    if content is not None and getattr(content, "error", None):
        return f"{content.error}: {getattr(content, 'message', '') or ''}".strip(": ")
    if response is not None:
        return f"HTTP {response.status_code}"
    return type(exc).__name__


def _resolved(record: dict[str, Any]) -> str:
    """The post's text with link facets expanded to their full URLs (the text shows them shortened)."""
    text = record.get("text", "")
    raw = text.encode()
    for facet in sorted(record.get("facets") or [], key=lambda f: -f["index"]["byteStart"]):
        for feature in facet.get("features") or []:
            if feature.get("$type", "").endswith("#link") and feature.get("uri"):
                start, end = facet["index"]["byteStart"], facet["index"]["byteEnd"]
                raw = raw[:start] + feature["uri"].encode() + raw[end:]
    return raw.decode(errors="replace")


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
