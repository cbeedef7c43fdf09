"""Bluesky through the atproto SDK: mention/reply/quote notifications, keyword search, threaded replies, DMs.

Mention ids are ``at://`` URIs. Reads go through the SDK's XRPC invoke and keep the answer's JSON as it came, so
one malformed item is quarantined instead of failing the page's model. What a post embeds is read with its text:
image and video descriptions, a link card's title and description, and the quoted post (a notification carries
only a reference to it, so the quoted posts of a page are fetched with one ``getPosts``). A reply carries ``root``
and ``parent`` strong refs (``root`` is the parent's own ``reply.root`` when the parent is itself a reply). Private messages go through
the chat service behind the ``atproto-proxy`` header. ``createSession`` is limited to a few dozen calls a day, so
the session is kept in a file (see ``SessionFile``) and refreshed with ``refreshSession``; the app password is used
only when no stored session works.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import regex

# atproto_client, not the atproto bundle: the bundle also loads the firehose, server and identity packages.
from atproto_client import Client, SessionEvent, models
from atproto_client import exceptions as at_exceptions
from atproto_client.models.dot_dict import DotDict
from atproto_client.request import Request as AtRequest
from atproto_core.exceptions import AtProtocolError

from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError
from bot.models import Author, CredentialExpiry, FetchResult, Mention, Quarantined, ReplyRules, utc
from connectors.base import Capability, Connector, ConnectorSettings, Secret
from connectors.http import RateLimit, seconds_until_reset, timeouts
from connectors.reviews import Watermark

log = logging.getLogger(__name__)

WEB = "https://bsky.app"
MAX_POST = 300  # graphemes
MAX_POST_BYTES = 3000
MAX_MESSAGE = 1000
REASONS = ["mention", "reply", "quote"]
TOKEN_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}
MAX_URIS = 25  # getPosts takes at most this many
# Labels Bluesky's own moderation puts on a post it has taken down.
TAKEN_DOWN = {"!takedown", "!suspend"}


class _Refused(FatalError):
    """Bluesky will not serve this to our login (search without the access it needs, a chat it refuses)."""


# An XRPC error name, else the HTTP status → (the error when reading, the error when posting or messaging, what it
# means). Token errors count only after one session renewal. A refused post or message is a refusal of that one
# action (a human takes it over); a refused read stays refused until someone acts. Anything else is transient.
ERRORS: dict[str | int, tuple[type[ConnectorError], type[ConnectorError], str]] = {
    **{name: (FatalError, FatalError, "session refused") for name in TOKEN_ERRORS},
    "InvalidConvo": (_Refused, ReplyNotAllowed, "no conversation possible"),
    "ConvoLocked": (_Refused, ReplyNotAllowed, "the conversation is locked"),
    "BlockedActor": (_Refused, ReplyNotAllowed, "blocked"),
    "NotFollowedBySender": (_Refused, ReplyNotAllowed, "they take messages only from people they follow"),
    "InvalidRecord": (TransientError, ReplyNotAllowed, "Bluesky refused the post"),
    400: (TransientError, ReplyNotAllowed, "refused"),
    401: (_Refused, ReplyNotAllowed, "forbidden"),
    403: (_Refused, ReplyNotAllowed, "forbidden"),
    404: (_Refused, ReplyNotAllowed, "not served"),
    501: (_Refused, ReplyNotAllowed, "not served"),
}


def graphemes(text: str) -> int:
    """User-perceived characters, as Bluesky counts a post's length."""
    return len(regex.findall(r"\X", text))


@dataclass(kw_only=True)
class BlueskySettings(ConnectorSettings):
    """``[connectors.bluesky]``: the brand's account, an app password with DM access, and what to search for."""

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
        if self.enabled and not self.handle:
            out.append(f'{path}.handle: expected the brand\'s Bluesky handle, e.g. "acme.com"')
        if self.enabled and not self.app_password:
            out.append(f'{path}.app_password: expected {{ env = "NAME" }} naming an app password')
        if not 1 <= self.page_size <= 100:
            out.append(f"{path}.page_size: expected 1 to 100, got {self.page_size}")
        if self.max_pages < 1:
            out.append(f"{path}.max_pages: expected at least 1, got {self.max_pages}")
        return out


class SessionFile:
    """The login session, kept in a file readable only by its owner.

    The session holds bearer tokens, so it is a secret: never logged and never in the database (whose rows are
    exported, backed up and shown to managers). Secrets come from the environment, but the session changes at
    every refresh, so it cannot live there; a 0600 file in the bot's state folder is the one place left. It is tied
    to the service and handle it was made for, and replaced atomically so a crash never leaves half a token.
    """

    def __init__(self, path: Path, *, service: str, identifier: str):
        self.path = path
        self.key = {"service": service, "identifier": identifier.lower()}

    def load(self) -> str | None:
        """The stored session string, if there is one for this service and handle."""
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("bluesky: ignoring unreadable session file %s: %s", self.path, type(exc).__name__)
            return None
        if not isinstance(data, dict) or {k: data.get(k) for k in self.key} != self.key:
            return None
        return data.get("session") or None

    def save(self, session: str) -> None:
        """Write the session (0600, atomically)."""
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({**self.key, "session": session}, handle)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)

    def clear(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class _Request(AtRequest):
    """The SDK's HTTP layer, telling the connector each answer's headers (for the rate-limit budget)."""

    def __init__(self, *, on_headers: Callable[[httpx.Headers], None], **kwargs: Any):
        super().__init__(**kwargs)
        self._on_headers = on_headers

    def _new_instance(self) -> _Request:
        return type(self)(on_headers=self._on_headers, **self._client_kwargs)

    def _send_request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self._on_headers(None)
        try:
            response = super()._send_request(method, url, **kwargs)
        except at_exceptions.RequestErrorBase as exc:
            if exc.response is not None:
                self._on_headers(httpx.Headers(exc.response.headers))
            raise
        self._on_headers(response.headers)
        return response


class _Client(Client):
    """The SDK client on the connector's clock (session expiry and post timestamps)."""

    clock: Any = None

    def get_current_time(self) -> datetime:
        return self.clock.now() if self.clock else super().get_current_time()

    def _inherit_clone_state(self, original: Any) -> None:
        super()._inherit_clone_state(original)
        self.clock = original.clock


class BlueskyConnector(Connector):
    """Bluesky notifications and search; threaded public replies and private chat messages."""

    name = "bluesky"
    Settings = BlueskySettings
    rules = ReplyRules(max_length=MAX_POST, length_unit="graphemes", can_reply=True, can_message=True)
    capabilities = frozenset(Capability)  # all of them: replies, DMs, and both read back
    settings: BlueskySettings

    def __init__(self, settings: BlueskySettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.rate = RateLimit()
        self._client: _Client | None = None
        self._chat_client: _Client | None = None
        self._did = ""
        self._search_off = False
        self._members: dict[str, dict[str, str]] = {}
        self._calls = 0
        where = Path(settings.session_file or f"bluesky-session-{settings.handle}").expanduser()
        self.sessions = SessionFile(
            self.state_dir / where,  # beside the database unless absolute
            service=settings.base_url or "https://bsky.social",
            identifier=settings.handle,
        )

    @property
    def calls(self) -> int:
        """Requests sent so far (recorded per poll by the pipeline)."""
        return self._calls

    # -- session ----------------------------------------------------------------------------------------------

    @property
    def client(self) -> _Client:
        if self._client is None:
            connect, read = timeouts(self.settings.timeout_seconds)
            client = _Client(
                self.settings.base_url or None,
                request=_Request(on_headers=self._note_rate, timeout=httpx.Timeout(read, connect=connect)),
            )
            client.clock = self.clock
            client.on_session_change(self._session_changed)
            stored = self.sessions.load()
            if stored:
                try:
                    client.login(session_string=stored, fetch_bsky_profile=False)
                except (ValueError, AtProtocolError) as exc:
                    log.warning("bluesky: stored session unusable (%s); logging in again", type(exc).__name__)
                    stored = None
            if not stored:
                self._login(client)
            self._did = client._session.did if client._session else ""
            self._client = client
        return self._client

    @property
    def chat(self) -> _Client:
        if self._chat_client is None:
            self._chat_client = self.client.with_bsky_chat_proxy()
        return self._chat_client

    def _session_changed(self, event: SessionEvent, session: Any) -> None:
        if event in (SessionEvent.CREATE, SessionEvent.REFRESH):
            self.sessions.save(session.export())
            self._did = session.did

    def _login(self, client: _Client) -> None:
        """createSession with the app password (rate-limited by Bluesky: only when no stored session works)."""
        secret = self.settings.app_password.value() if self.settings.app_password else ""
        if not secret:
            raise FatalError(self.name, "no app password configured")
        log.info("bluesky: creating a new session for %s", self.settings.handle)
        try:
            client.login(self.settings.handle, secret, fetch_bsky_profile=False)
        except at_exceptions.UnauthorizedError as exc:
            self.sessions.clear()
            raise FatalError(self.name, f"login refused for {self.settings.handle}: {_reason(exc)}") from exc
        except at_exceptions.BadRequestError as exc:
            raise FatalError(self.name, f"login refused for {self.settings.handle}: {_reason(exc)}") from exc

    def _renew(self) -> None:
        """The access token expired or was refused: refresh it, or log in again if the refresh is refused too."""
        try:
            self.client._refresh_and_set_session()
            return
        except (
            at_exceptions.BadRequestError,
            at_exceptions.UnauthorizedError,
            at_exceptions.LoginRequiredError,
        ):
            log.warning("bluesky: session refresh refused; logging in again")
        self.sessions.clear()
        self._login(self.client)

    def platform_expiry(self) -> CredentialExpiry | None:
        """The session's refresh token ``exp``: refreshing it rolls it on, and past it the app password logs in
        again, so it renews by itself (app passwords themselves do not expire)."""
        session = self._client._session if self._client else None
        exp = session.refresh_jwt_payload.exp if session else None
        if not exp:
            return None
        return CredentialExpiry(
            at=datetime.fromtimestamp(exp, tz=UTC), what="session refresh token", renews=True
        )

    def own_accounts(self) -> set[str]:
        own = super().own_accounts() | {self.settings.handle.lower()}
        return own | ({self._did.lower()} if self._did else set())

    def check(self) -> str:
        body = self._query("com.atproto.server.getSession")
        return f"logged in as @{body.get('handle')} ({body.get('did')})"

    # -- fetching --------------------------------------------------------------------------------------------

    def fetch(self, cursor: str | None) -> FetchResult:
        """One source per poll, in turns (notifications, then each keyword's search): a quiet poll is one request."""
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        start = (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()
        searches = [] if self._search_off else [f"search:{k}" for k in self.settings.keywords]
        sources = ["notifications", *searches]
        turn = int(state.get("turn", 0))
        source = sources[turn % len(sources)]
        state["turn"] = (turn + 1) % len(sources)
        mark = Watermark(state.get(source), start=start)
        if source == "notifications":
            found, quarantined = self._pages(
                "app.bsky.notification.listNotifications", "notifications", mark, reasons=REASONS
            )
        else:
            try:
                found, quarantined = self._pages(
                    "app.bsky.feed.searchPosts",
                    "posts",
                    mark,
                    q=source[7:],
                    sort="latest",
                    since=_iso(mark.floor),
                )
            except _Refused as exc:  # search needs more than our login allows: monitor notifications only
                log.warning("bluesky: keyword search unavailable (%s); watching notifications only", exc)
                self._search_off = True
                state["turn"] = 0
                return self.fetch(json.dumps(state))
        state[source] = mark.state()
        quoted = self._quoted_posts(found)
        mentions: dict[str, Mention] = {}
        for item in found:
            reason = item.get("reason", "mention") if source == "notifications" else "search"
            if reason not in (*REASONS, "search"):
                continue  # a like, repost or follow: asked for by no one (the server filters by reasons)
            try:
                mention = self.to_mention(item, reason, quoted=quoted)
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
                quarantined.append(Quarantined.of(self.name, item, f"{source}: {type(exc).__name__}: {exc}"))
                continue
            mentions.setdefault(mention.id, mention)
        out = sorted(mentions.values(), key=lambda m: m.created_at)
        return FetchResult(out, json.dumps(state, sort_keys=True), quarantined=quarantined)

    def _quoted_posts(self, items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """The posts that these notifications quote, by URI (a notification's record holds only a reference)."""
        uris = list(
            dict.fromkeys(u for i in items if not i.get("embed") and (u := _quoted_uri(i.get("record"))))
        )
        posts: dict[str, dict[str, Any]] = {}
        for at in range(0, len(uris), MAX_URIS):
            body = self._query("app.bsky.feed.getPosts", uris=uris[at : at + MAX_URIS])
            for post in body.get("posts") or []:
                if isinstance(post, dict) and isinstance(post.get("uri"), str):
                    posts[post["uri"]] = post
        return posts

    def _pages(
        self, nsid: str, key: str, mark: Watermark, **params: Any
    ) -> tuple[list[dict[str, Any]], list[Quarantined]]:
        """Items newer than the watermark, newest first, page by page until an old one shows up; and the items
        without a readable time or URI, quarantined."""
        out: list[dict[str, Any]] = []
        quarantined: list[Quarantined] = []
        page_cursor = None
        for _ in range(self.settings.max_pages):
            body = self._query(nsid, limit=self.settings.page_size, cursor=page_cursor, **params)
            items = body.get(key)
            if not isinstance(items, list):
                raise TransientError(self.name, f"{nsid}: answer without {key!r}")
            caught_up = False
            for item in items:
                try:
                    ts = _time(item["indexedAt"]).timestamp()
                    uri = str(item["uri"])
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    quarantined.append(
                        Quarantined.of(self.name, item, f"{nsid}: {type(exc).__name__}: {exc}")
                    )
                    continue
                # Both lists are ordered by indexedAt, newest first: an item seen before (or older than what
                # earlier polls covered) means the rest of the list has been read already.
                caught_up = caught_up or uri in mark.seen or ts < mark.t
                if mark.is_new(ts, uri):
                    mark.add(ts, uri)
                    out.append(item)
            page_cursor = body.get("cursor")
            if not page_cursor or not items or caught_up:
                break
        return out, quarantined

    def to_mention(
        self, item: dict[str, Any], reason: str, *, quoted: dict[str, dict[str, Any]] | None = None
    ) -> Mention:
        """A notification or a search hit (a post view) as a mention; ``quoted``: the posts that notifications
        quote, by URI."""
        record, author, uri = item["record"], item["author"], item["uri"]
        if record.get("$type", "app.bsky.feed.post") != "app.bsky.feed.post":
            raise ValueError(f"not a post: {record.get('$type')}")
        reply = record.get("reply") or {}
        handle = author["handle"]
        langs = record.get("langs") or []
        # A post view (search) carries its embed resolved; a notification only the record's own embed.
        quoted = quoted or {}
        extras = embed_lines(item.get("embed") or record.get("embed"), quoted)
        raw = {"reason": reason, "post": item, "record": record}
        if (quotes := _quoted_uri(record)) in quoted and not item.get("embed"):
            raw["quoted"] = quoted[quotes]  # what the text's quoted line was read from
        return Mention(
            platform=self.name,
            id=uri,
            url=f"{WEB}/profile/{handle}/post/{uri.rsplit('/', 1)[1]}",
            author=Author(handle=handle, display_name=author.get("displayName") or "", id=author["did"]),
            text="\n".join(line for line in [self.plain_text(record), *extras] if line),
            created_at=_time(record.get("createdAt") or item["indexedAt"]),
            kind="reply" if reply else "post",
            parent_id=(reply.get("parent") or {}).get("uri"),
            thread_id=(reply.get("root") or {}).get("uri") or uri,
            lang=langs[0].split("-")[0] if langs else None,
            raw=raw,
            unanswerable=_unanswerable(item),
        )

    def plain_text(self, record: dict[str, Any]) -> str:
        """The post's text with link facets expanded to their full URL and mentions to the full handle."""
        data = str(record.get("text", "")).encode()
        pieces, at = [], 0
        facets = sorted(record.get("facets") or [], key=lambda f: f["index"]["byteStart"])
        for facet in facets:
            start, end = int(facet["index"]["byteStart"]), int(facet["index"]["byteEnd"])
            if start < at or end > len(data):
                continue
            replacement = None
            for feature in facet.get("features", []):
                kind = feature.get("$type", "")
                if kind.endswith("#link"):
                    replacement = feature["uri"]
                elif kind.endswith("#mention") and feature.get("did") == self._did:
                    replacement = "@" + self.settings.handle
            if replacement is None:
                continue
            pieces += [data[at:start].decode(errors="replace"), replacement]
            at = end
        pieces.append(data[at:].decode(errors="replace"))
        return "".join(pieces).strip()

    # -- replying --------------------------------------------------------------------------------------------

    def _strong_ref(self, mention: Mention) -> tuple[dict[str, str], dict[str, Any]]:
        """The mention's ``{uri, cid}`` and record, from what was fetched or else from its thread."""
        post = (mention.raw or {}).get("post") or {}
        if post.get("cid") and post.get("record"):
            return {"uri": mention.id, "cid": post["cid"]}, post["record"]
        thread = self._query("app.bsky.feed.getPostThread", uri=mention.id, depth=0)["thread"]["post"]
        return {"uri": thread["uri"], "cid": thread["cid"]}, thread["record"]

    def reply_refs(self, mention: Mention) -> dict[str, dict[str, str]]:
        """``root`` and ``parent`` of a reply to ``mention``: root is the parent's own root when it is a reply."""
        parent, record = self._strong_ref(mention)
        root = (record.get("reply") or {}).get("root") or parent
        return {"root": {"uri": root["uri"], "cid": root["cid"]}, "parent": parent}

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        length = graphemes(text)
        if length > MAX_POST or len(text.encode()) > MAX_POST_BYTES:
            raise ReplyNotAllowed(self.name, f"reply is {length} graphemes; Bluesky allows {MAX_POST}")
        refs = self.reply_refs(mention)
        reply_to = models.AppBskyFeedPost.ReplyRef(
            root=models.ComAtprotoRepoStrongRef.Main(**refs["root"]),
            parent=models.ComAtprotoRepoStrongRef.Main(**refs["parent"]),
        )

        def send() -> Any:
            facets = self.client.detect_facets(text)
            return self.client.send_post(
                text,
                profile_identify=self._did,
                reply_to=reply_to,
                facets=facets or None,
                langs=[mention.lang or "en"],
            )

        return self._call(send, posting=True).uri

    def _replies(self, mention: Mention) -> list[dict[str, Any]]:
        body = self._query("app.bsky.feed.getPostThread", uri=mention.id, depth=1, parentHeight=0)
        return [r.get("post") or {} for r in (body.get("thread") or {}).get("replies") or []]

    @classmethod
    def reply_url(cls, mention: Mention, posted_id: str) -> str:
        did, _, rkey = posted_id.removeprefix("at://").partition("/app.bsky.feed.post/")
        return f"{WEB}/profile/{did}/post/{rkey}" if rkey else mention.url

    def find_reply(self, mention: Mention) -> str | None:
        self.client  # noqa: B018 - logs in, so our DID is known
        for post in self._replies(mention):
            if (post.get("author") or {}).get("did") == self._did:
                return post.get("uri")
        return None

    def team_replied(self, mention: Mention) -> str | None:
        own = self.own_accounts()
        for post in self._replies(mention):
            author = post.get("author") or {}
            if str(author.get("handle", "")).lower() in own or str(author.get("did", "")).lower() in own:
                return f"{author.get('handle')}:{post.get('uri')}"
        return None

    # -- private messages ------------------------------------------------------------------------------------

    def _convo_id(self, mention: Mention) -> str:
        body = self._query("chat.bsky.convo.getConvoForMembers", chat=True, members=[mention.author.id])
        return body["convo"]["id"]

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if graphemes(text) > MAX_MESSAGE:
            raise ReplyNotAllowed(self.name, f"message is longer than {MAX_MESSAGE} graphemes")
        if not mention.author.id.startswith("did:"):
            raise ReplyNotAllowed(self.name, f"no DID known for @{mention.author.handle}")
        try:
            convo = self._convo_id(mention)
            data = models.ChatBskyConvoSendMessage.Data(
                convo_id=convo, message=models.ChatBskyConvoDefs.MessageInput(text=text)
            )
            sent = self._call(
                lambda: self.chat.invoke_procedure("chat.bsky.convo.sendMessage", data=data), posting=True
            )
        except _Refused as exc:
            raise ReplyNotAllowed(self.name, str(exc)) from exc
        return _content(self.name, sent)["id"]

    def find_message(self, mention: Mention, text: str) -> str | None:
        convo = self._convo_id(mention)
        body = self._query("chat.bsky.convo.getMessages", chat=True, convoId=convo, limit=100)
        for message in body.get("messages") or []:
            if (message.get("sender") or {}).get("did") == self._did and message.get(
                "text", ""
            ).strip() == text.strip():
                return message.get("id")
        return None

    def fetch_private(self, cursor: str | None) -> FetchResult:
        state = json.loads(cursor) if cursor else {}
        since = state.get("t", (self.clock.now() - timedelta(hours=1)).timestamp())
        body = self._query("chat.bsky.convo.getLog", chat=True, cursor=state.get("rev"))
        out, quarantined = [], []
        for entry in body.get("logs") or []:
            if not str(entry.get("$type", "")).endswith("#logCreateMessage"):
                continue
            message = entry.get("message") or {}
            try:
                sender = message["sender"]["did"]
                sent_at = _time(message["sentAt"])
                if sender == self._did or sent_at.timestamp() < since:
                    continue
                who = self._member(entry["convoId"], sender)
                out.append(
                    Mention(
                        platform=self.name,
                        id=message["id"],
                        url=f"{WEB}/messages/{entry['convoId']}",
                        author=Author(
                            handle=who.get("handle", sender),
                            display_name=who.get("displayName", ""),
                            id=sender,
                        ),
                        text=message.get("text", ""),
                        created_at=sent_at,
                        kind="dm",
                        thread_id=entry["convoId"],
                        raw=entry,
                    )
                )
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                item_id = message.get("id") if isinstance(message, dict) else None
                reason = f"chat.bsky.convo.getLog: {type(exc).__name__}: {exc}"
                quarantined.append(Quarantined.of(self.name, entry, reason, item_id=item_id))
        rev = body.get("cursor") or state.get("rev")
        return FetchResult(out, json.dumps({"rev": rev, "t": since}), quarantined=quarantined)

    def _member(self, convo_id: str, did: str) -> dict[str, str]:
        if did not in self._members:
            body = self._query("chat.bsky.convo.getConvo", chat=True, convoId=convo_id)
            for member in body["convo"]["members"]:
                self._members[member["did"]] = member
        return self._members.get(did, {})

    # -- calls and errors ------------------------------------------------------------------------------------

    def _note_rate(self, headers: httpx.Headers | None) -> None:
        if headers is None:  # a request is about to be sent
            self._calls += 1
            return
        with contextlib.suppress(ValueError):
            if "ratelimit-remaining" in headers:
                self.rate.remaining = float(headers["ratelimit-remaining"])
        wait = seconds_until_reset({"ratelimit-reset": headers.get("ratelimit-reset")}, self.clock.now())
        if wait is not None:
            self.rate.reset_at = self.clock.now().timestamp() + wait

    def _query(self, nsid: str, *, chat: bool = False, **params: Any) -> dict[str, Any]:
        """An XRPC query's JSON answer, as a dict."""
        params = {k: v for k, v in params.items() if v is not None}
        response = self._call(
            lambda: (self.chat if chat else self.client).invoke_query(nsid, params=_Params(params))
        )
        return _content(self.name, response)

    def _call(self, fn: Callable[[], Any], *, posting: bool = False) -> Any:
        """Run an SDK call: renew the session once on a token error; map failures by ``ERRORS``."""
        now = self.clock.now().timestamp()
        if self.rate.remaining == 0 and self.rate.reset_at and self.rate.reset_at > now:
            raise TransientError(self.name, "request budget spent", retry_after=self.rate.reset_at - now)
        renew, renewed = False, False
        while True:
            try:
                if renew:
                    renew, renewed = False, True
                    self._renew()
                return fn()
            except at_exceptions.RateLimitExceededError as exc:
                headers = exc.response.headers if exc.response else {}
                wait = seconds_until_reset(headers, self.clock.now())
                raise TransientError(
                    self.name, "rate limited (HTTP 429)", retry_after=60.0 if wait is None else wait
                ) from exc
            except at_exceptions.RequestErrorBase as exc:
                if exc.response is None:  # the connection, not Bluesky
                    raise TransientError(self.name, f"connection failed: {type(exc).__name__}") from exc
                error = _error_name(exc)
                if error in TOKEN_ERRORS and not renewed and self._client is not None:
                    log.info("bluesky: session token refused (%s); renewing", error)
                    renew = True
                    continue
                read, post, meaning = (
                    ERRORS.get(error)
                    or ERRORS.get(exc.response.status_code)
                    or (
                        TransientError,
                        TransientError,
                        "failed",
                    )
                )
                raise (post if posting else read)(self.name, f"{meaning}: {_reason(exc)}") from exc
            except httpx.HTTPError as exc:
                raise TransientError(self.name, f"connection failed: {type(exc).__name__}") from exc
            except ValueError as exc:  # a garbled JSON body
                raise TransientError(self.name, f"malformed answer: {type(exc).__name__}") from exc
            except AtProtocolError as exc:
                raise TransientError(self.name, f"{type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        for client in (self._chat_client, self._client):
            if client is not None:
                client.request.close()


class _Params(DotDict):
    """Query parameters handed to the SDK's raw invoke as they are (already in the lexicon's camelCase)."""

    def __init__(self, params: dict[str, Any]):
        object.__setattr__(self, "_params", params)

    def __bool__(self) -> bool:
        return bool(self._params)

    def to_dict(self) -> dict[str, Any]:
        return dict(self._params)


def _content(connector: str, response: Any) -> dict[str, Any]:
    content = getattr(response, "content", None)
    if not isinstance(content, dict):
        raise TransientError(connector, "malformed answer: not a JSON object")
    return content


def _error_name(exc: at_exceptions.RequestErrorBase) -> str:
    content = exc.response.content if exc.response is not None else None
    return str(getattr(content, "error", "") or "")


def _reason(exc: at_exceptions.RequestErrorBase) -> str:
    response = exc.response
    if response is None:
        return type(exc).__name__
    content = response.content
    error = getattr(content, "error", None)
    message = getattr(content, "message", None)
    return f"HTTP {response.status_code} {error or ''}{': ' + message if message else ''}".strip()


def embed_lines(embed: Any, quoted: dict[str, dict[str, Any]]) -> list[str]:
    """What a post embeds, one labelled line each (not the author's own words): image and video descriptions,
    the link card, the quoted post. ``embed`` is the record's embed or the post view's resolved one."""
    if not isinstance(embed, dict):
        return []
    kind = str(embed.get("$type", "")).split("#")[0]
    lines = []
    if kind == "app.bsky.embed.images":
        for image in embed.get("images") or []:
            if isinstance(image, dict) and (alt := str(image.get("alt") or "").strip()):
                lines.append(f"Image: {alt}")
    elif kind == "app.bsky.embed.video":
        if alt := str(embed.get("alt") or "").strip():
            lines.append(f"Video: {alt}")
    elif kind == "app.bsky.embed.external":
        card = embed.get("external") if isinstance(embed.get("external"), dict) else {}
        title, about = str(card.get("title") or "").strip(), str(card.get("description") or "").strip()
        if title or about:
            lines.append("Link: " + " — ".join(part for part in (title, about) if part))
    elif kind == "app.bsky.embed.record":
        lines += _quote_lines(embed.get("record"), quoted)
    elif kind == "app.bsky.embed.recordWithMedia":
        lines += embed_lines(embed.get("media"), quoted)
        inner = embed.get("record") if isinstance(embed.get("record"), dict) else {}
        lines += _quote_lines(inner.get("record"), quoted)
    return lines


def _quote_lines(record: Any, quoted: dict[str, dict[str, Any]]) -> list[str]:
    """The quoted post as a line: from the view (``#viewRecord``), or a reference looked up in ``quoted``."""
    if not isinstance(record, dict):
        return []
    kind = str(record.get("$type", ""))
    if kind.endswith(("#viewNotFound", "#viewBlocked", "#viewDetached")):
        return ["Quoted post: not available (deleted, blocked or detached)"]
    if kind.endswith("#viewRecord"):
        author, value = record.get("author") or {}, record.get("value") or {}
    elif record.get("uri") in quoted:
        post = quoted[record["uri"]]
        author, value = post.get("author") or {}, post.get("record") or {}
    else:
        return []
    text = str(value.get("text") or "").strip() if isinstance(value, dict) else ""
    alts = [line for line in embed_lines(value.get("embed"), {}) if not line.startswith("Quoted")]
    words = " / ".join(part for part in [text, *alts] if part)
    return [f"Quoted post by @{author.get('handle', '')}: {words}"] if words else []


def _quoted_uri(record: Any) -> str | None:
    """The URI of the post a record quotes (``embed.record`` or ``embed.recordWithMedia``), if any."""
    embed = record.get("embed") if isinstance(record, dict) else None
    if not isinstance(embed, dict):
        return None
    ref = embed.get("record") if isinstance(embed.get("record"), dict) else {}
    if str(embed.get("$type", "")).startswith("app.bsky.embed.recordWithMedia"):
        ref = ref.get("record") if isinstance(ref.get("record"), dict) else {}
    uri = ref.get("uri")
    return uri if isinstance(uri, str) and "/app.bsky.feed.post/" in uri else None


def _unanswerable(item: dict[str, Any]) -> str | None:
    """Why Bluesky would not take a reply to this post (a block either way, a thread gate, a takedown)."""
    viewer = (item.get("author") or {}).get("viewer") or {}
    if viewer.get("blockedBy"):
        return "the author blocks the brand's account"
    if viewer.get("blocking"):
        return "the brand's account blocks the author"
    if (item.get("viewer") or {}).get("replyDisabled"):
        return "the author limits who may reply (thread gate)"
    if any(isinstance(label, dict) and label.get("val") in TAKEN_DOWN for label in item.get("labels") or []):
        return "taken down by Bluesky's moderators"
    return None


def _time(value: str) -> datetime:
    return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
