"""Facebook Pages and Instagram professional accounts on Meta's Graph API, through ``connectors.http``.

One module for both: the same Page access token, the same error envelope (``error.code``), the same usage headers
and the same private-reply rules. ``facebook`` reads the Page's feed (the Page's posts and visitors' posts), posts
that tag the Page, and the comments under recent posts; ``instagram`` reads the comments under recent media and
media that tag the account. Sources are read newest first against a time watermark kept in the JSON cursor.

Public replies: ``POST /{comment-id}/comments`` (Facebook, also under a visitor post), ``POST
/{ig-comment-id}/replies`` and, for a tagged media, ``POST /{ig-user-id}/mentions``.

The private reply that opens a case is Meta's private reply to a comment or post (``recipient.comment_id``): once
per comment and within 7 days of it. After it, Meta lets the Page write again only when the customer has answered:
within 24 hours of their last message, or up to 7 days with the ``HUMAN_AGENT`` tag. Outside these windows nothing
is sent: ``message`` raises ``ReplyNotAllowed`` with the reason, and the case is left to be contacted by hand with
that reason. What was sent and when the customer last wrote is kept in the store, shared by every daemon.

Rate limits: every answer's ``X-App-Usage`` and ``X-Business-Use-Case-Usage`` headers (percentages of the budget);
from ``usage_limit_percent`` on, the connector stops sending until Meta's ``estimated_time_to_regain_access`` (or
``USAGE_WAIT``), and a throttling error code (``THROTTLING_CODES``) does the same. Nothing sleeps. The Page token's
expiry comes from ``debug_token`` (once a day) and is the connector's ``credential_expiry``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError, excerpt
from bot.models import Author, CredentialExpiry, FetchResult, Mention, PrivateReply, ReplyRules
from connectors.base import Capability, Connector, ConnectorSettings, Secret
from connectors.http import HttpClient, seconds_until_reset
from connectors.reviews import Batch, Watermark, read_newest_first

log = logging.getLogger(__name__)

# Graph API error codes that mean "slow down" (developers.facebook.com/docs/graph-api/overview/rate-limiting).
THROTTLING_CODES = {4, 17, 32, 613, 80001, 80002, 80003, 80004, 80005, 80006, 80008, 80009, 80014}
# Codes that mean the token or its permissions are refused: someone must fix them.
TOKEN_CODES = {102, 190, 200, 10, 3}
# Codes Meta uses to refuse one reply or private reply (the comment gone, already answered, window closed).
REFUSAL_CODES = {100, 368, 551, 10900, 10903, 2018108, 2018278, 2534022}
# The percentages in each usage header; the others hold seconds (``reset_time_duration``) or names.
USAGE_PERCENT_KEYS = {
    "x-app-usage": ("call_count", "total_cputime", "total_time"),
    "x-page-usage": ("call_count", "total_cputime", "total_time"),
    "x-ad-account-usage": ("acc_id_util_pct",),
}
USAGE_WAIT = 600.0  # seconds, when Meta does not say how long a spent budget takes to come back
PRIVATE_REPLY_WINDOW = timedelta(days=7)
STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
TOKEN_CHECK_EVERY = timedelta(hours=24)
# No status raises by itself: the Graph API's status says little, its ``error.code`` says what happened.
GRAPH_STATUS_ERRORS: dict[int, tuple[type[ConnectorError], str]] = {}


@dataclass(kw_only=True)
class MetaSettings(ConnectorSettings):
    """Keys ``[connectors.facebook]`` and ``[connectors.instagram]`` share."""

    access_token: Secret | None = None
    app_secret: Secret | None = None
    api_version: str = "v21.0"
    page_size: int = 25
    max_posts: int = 10
    backfill_hours: int = 168
    usage_limit_percent: int = 90

    def problems(self, path: str) -> list[str]:
        out = []
        if not self.enabled:
            return out
        if not self.access_token:
            out.append(
                f'{path}.access_token: expected {{ env = "NAME" }} naming the Page access token\'s variable'
            )
        if not self.api_version.startswith("v"):
            out.append(f'{path}.api_version: expected a Graph API version such as "v21.0"')
        if not 1 <= self.usage_limit_percent <= 100:
            out.append(f"{path}.usage_limit_percent: expected a percentage from 1 to 100")
        return out


@dataclass(kw_only=True)
class FacebookSettings(MetaSettings):
    """``[connectors.facebook]``: one Page."""

    page_id: str = ""

    def problems(self, path: str) -> list[str]:
        out = super().problems(path)
        if self.enabled and not self.page_id.isdigit():
            out.append(f'{path}.page_id: expected the Page\'s numeric id, e.g. "104857600000001"')
        return out


@dataclass(kw_only=True)
class InstagramSettings(MetaSettings):
    """``[connectors.instagram]``: one professional account, through the Page it is linked to."""

    ig_user_id: str = ""
    page_id: str = ""
    username: str = ""

    def problems(self, path: str) -> list[str]:
        out = super().problems(path)
        if self.enabled and not self.ig_user_id.isdigit():
            out.append(f"{path}.ig_user_id: expected the Instagram professional account's numeric id")
        if self.enabled and not self.page_id.isdigit():
            out.append(f"{path}.page_id: expected the numeric id of the Facebook Page linked to the account")
        return out


class MetaConnector(Connector):
    """What the Facebook and Instagram connectors share: the Graph API client, its errors, usage and windows."""

    settings: MetaSettings
    # What this shared base itself implements; the two connectors add their public replies.
    capabilities = frozenset({Capability.MESSAGE, Capability.RECONCILE_MESSAGE, Capability.PRIVATE})
    rules = ReplyRules(can_reply=False, can_message=True)
    # How ``check`` names the account, and which inbox ``/conversations`` reads (``platform=``).
    platform_label: ClassVar[str] = ""
    conversation_platform: ClassVar[str] = "messenger"

    def __init__(self, settings: MetaSettings, **kwargs: Any):
        super().__init__(settings, **kwargs)
        self.http = HttpClient(
            self.name,
            f"{(settings.base_url or 'https://graph.facebook.com').rstrip('/')}/{settings.api_version}",
            clock=self.clock,
            timeout=settings.timeout_seconds,
            status_errors=GRAPH_STATUS_ERRORS,
        )
        self.blocked_until: datetime | None = None
        self._expiry: CredentialExpiry | None = None
        self._token_checked: datetime | None = None
        self._carry_over(self.state_dir / f"{self.name}-private.json")

    def _carry_over(self, path: Path) -> None:
        """Book the private replies and last messages an older version kept in its JSON file, once, then remove
        the file."""
        try:
            saved = json.loads(path.read_text())
            for mention_id, sent in (saved.get("sent") or {}).items():
                at = datetime.fromtimestamp(float(sent["at"]), tz=UTC)
                self.state.record_private_reply(
                    self.name, mention_id, PrivateReply(recipient=str(sent["recipient"]), at=at)
                )
            for recipient, at in (saved.get("last_in") or {}).items():
                self.state.note_customer_wrote(
                    self.name, recipient, datetime.fromtimestamp(float(at), tz=UTC)
                )
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s: unreadable private-reply record %s (%s): left in place", self.name, path, exc)
            return
        path.unlink(missing_ok=True)

    # -- the Graph API --------------------------------------------------------------------------------------

    def graph(self, method: str, path: str, *, refusal: bool = False, **kwargs: Any) -> Any:
        """One Graph API call. Refused before it is sent while a usage budget is spent; its usage headers read;
        its ``error.code`` mapped: throttling → ``TransientError`` until the budget is back, a refused token →
        ``FatalError``, a refused reply (``refusal=True``) → ``ReplyNotAllowed``."""
        now = self.clock.now()
        if self.blocked_until and now < self.blocked_until:
            wait = (self.blocked_until - now).total_seconds()
            raise TransientError(
                self.name, f"{method} {path}: Graph API usage over the limit", retry_after=wait
            )
        params = dict(kwargs.pop("params", {}) or {})
        token = self.settings.access_token.value() if self.settings.access_token else ""
        params["access_token"] = token
        if self.settings.app_secret and self.settings.app_secret.value():
            # appsecret_proof: Meta refuses a stolen token used without the app secret.
            params["appsecret_proof"] = hmac.new(
                self.settings.app_secret.value().encode(), token.encode(), hashlib.sha256
            ).hexdigest()
        response = self.http.request(method, path, raw=True, params=params, **kwargs)
        self._note_usage(response.headers)
        try:
            body = response.json() if response.content else None
        except ValueError as exc:
            raise TransientError(self.name, f"{method} {path}: malformed JSON answer") from exc
        if response.status_code < 400:
            if not isinstance(body, dict):
                raise TransientError(self.name, f"{method} {path}: malformed JSON answer")
            return body
        error = (body or {}).get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = error.get("code")
        words = (
            f"{method} {path}: HTTP {response.status_code}, code {code}: {excerpt(error.get('message', ''))}"
        )
        if code in THROTTLING_CODES:
            wait = self._regain_seconds(response.headers) or USAGE_WAIT
            self.blocked_until = now + timedelta(seconds=wait)
            raise TransientError(self.name, f"{words} (throttled)", retry_after=wait)
        if response.status_code == 429:
            wait = (
                seconds_until_reset(response.headers, now)
                or self._regain_seconds(response.headers)
                or USAGE_WAIT
            )
            self.blocked_until = now + timedelta(seconds=wait)
            raise TransientError(self.name, f"{words} (rate limited)", retry_after=wait)
        if code in TOKEN_CODES or response.status_code == 401:
            raise FatalError(self.name, words)
        if refusal and (code in REFUSAL_CODES or response.status_code in (400, 403, 404)):
            raise ReplyNotAllowed(self.name, words)
        raise TransientError(self.name, words)

    def _note_usage(self, headers: Any) -> None:
        """Stop before Meta throttles: a usage header at ``usage_limit_percent`` blocks until the budget is back."""
        percents: list[float] = []
        for name, keys in USAGE_PERCENT_KEYS.items():
            usage = _json_header(headers.get(name))
            if isinstance(usage, dict):
                percents += [float(usage[k]) for k in keys if isinstance(usage.get(k), int | float)]
        buc = _json_header(headers.get("x-business-use-case-usage"))
        if isinstance(buc, dict):
            for entries in buc.values():
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, dict):
                        percents += [
                            float(entry[k])
                            for k in ("call_count", "total_cputime", "total_time")
                            if isinstance(entry.get(k), int | float)
                        ]
        if percents and max(percents) >= self.settings.usage_limit_percent:
            wait = self._regain_seconds(headers) or USAGE_WAIT
            self.blocked_until = self.clock.now() + timedelta(seconds=wait)
            log.warning("%s: Graph API usage at %.0f%%: no calls for %ds", self.name, max(percents), wait)

    @staticmethod
    def _regain_seconds(headers: Any) -> float | None:
        buc = _json_header(headers.get("x-business-use-case-usage"))
        minutes = [
            float(entry["estimated_time_to_regain_access"])
            for entries in (buc.values() if isinstance(buc, dict) else [])
            for entry in (entries if isinstance(entries, list) else [])
            if isinstance(entry, dict)
            and isinstance(entry.get("estimated_time_to_regain_access"), int | float)
        ]
        return max(minutes) * 60 if minutes and max(minutes) > 0 else None

    def pages(self, path: str, params: dict[str, Any]) -> Iterator[list[Any]]:
        """The ``data`` of each page of a Graph API edge, following ``paging.next``. Its URL carries our access
        token: only its other parameters are kept, so the token never reaches an error message or a log."""
        while True:
            body = self.graph("GET", path, params=params)
            data = body.get("data")
            yield data if isinstance(data, list) else []
            following = (body.get("paging") or {}).get("next")
            if not isinstance(following, str) or not following:
                return
            split = urlsplit(following)
            params = {k: v for k, v in parse_qsl(split.query) if k not in ("access_token", "appsecret_proof")}
            path = split.path.split(f"/{self.settings.api_version}/", 1)[-1]

    # -- credentials ----------------------------------------------------------------------------------------

    def platform_expiry(self) -> CredentialExpiry | None:
        return self._expiry

    def check_token(self) -> None:
        """Read the Page token's expiry from ``debug_token`` (at most once a day)."""
        now = self.clock.now()
        if self._token_checked and now - self._token_checked < TOKEN_CHECK_EVERY:
            return
        self._token_checked = now
        token = self.settings.access_token.value() if self.settings.access_token else ""
        try:
            data = (self.graph("GET", "debug_token", params={"input_token": token}).get("data")) or {}
        except TransientError as exc:
            # The poll goes on: only the expiry stays as last read until tomorrow's check.
            log.warning("%s: could not read the Page token's expiry: %s", self.name, exc)
            return
        if data.get("is_valid") is False:
            raise FatalError(
                self.name, f"debug_token: the Page token is not valid: {excerpt(data.get('error', ''))}"
            )
        expires = data.get("expires_at") or 0
        # 0: a Page token from a long-lived user token does not expire (until a password change or revocation).
        self._expiry = (
            CredentialExpiry(at=datetime.fromtimestamp(int(expires), tz=UTC), what="Page access token")
            if expires
            else None
        )

    def check(self) -> str:
        self.check_token()
        return f"reading {self.platform_label} as {self.account_name()}"

    def account_name(self) -> str:
        raise NotImplementedError

    # -- fetching helpers ------------------------------------------------------------------------------------

    def start(self) -> float:
        return (self.clock.now() - timedelta(hours=self.settings.backfill_hours)).timestamp()

    def read(self, state: dict[str, Any], key: str, pages: Iterator[list[Any]], parse: Any) -> Batch:
        mark = Watermark(state.get(key), start=self.start())
        batch = read_newest_first(self.name, mark, pages, parse, item_id=lambda item: item.get("id"))
        state[key] = mark.state()
        return batch

    # -- private replies and their windows --------------------------------------------------------------------

    def message(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        now = self.clock.now()
        sent = self.state.private_reply(self.name, mention.id)
        if sent is None:
            return self._private_reply(mention, text, now)
        recipient = sent.recipient
        last_in = self.state.customer_wrote(self.name, recipient)
        if last_in is None:
            raise ReplyNotAllowed(
                self.name,
                "Meta allows one private reply to a comment until the customer answers it; they have not: "
                "contact them by hand",
            )
        since = now - last_in
        payload: dict[str, Any] = {"recipient": {"id": recipient}, "message": {"text": text}}
        if since <= STANDARD_WINDOW:
            payload["messaging_type"] = "RESPONSE"
        elif since <= HUMAN_AGENT_WINDOW:
            payload.update(messaging_type="MESSAGE_TAG", tag="HUMAN_AGENT")
        else:
            raise ReplyNotAllowed(
                self.name,
                f"the messaging window is closed: the customer last wrote {since.days} days ago (Meta allows 24 "
                "hours, 7 days with the human-agent tag): contact them by hand",
            )
        answer = self.graph("POST", f"{self.settings.page_id}/messages", json=payload, refusal=True)
        return str(answer.get("message_id") or "")

    def _private_reply(self, mention: Mention, text: str, now: datetime) -> str:
        age = now - mention.created_at
        if age > PRIVATE_REPLY_WINDOW:
            raise ReplyNotAllowed(
                self.name,
                f"Meta allows a private reply within 7 days of the comment; it is {age.days} days old: "
                "contact the customer by hand",
            )
        if mention.raw.get("can_reply_privately") is False:
            raise ReplyNotAllowed(
                self.name,
                "Meta allows one private reply per comment and says this one cannot have it: contact "
                "the customer by hand",
            )
        payload = {"recipient": {"comment_id": mention.id}, "message": {"text": text}}
        answer = self.graph("POST", f"{self.settings.page_id}/messages", json=payload, refusal=True)
        self.state.record_private_reply(
            self.name, mention.id, PrivateReply(recipient=str(answer.get("recipient_id") or ""), at=now)
        )
        return str(answer.get("message_id") or "")

    def fetch_private(self, cursor: str | None) -> FetchResult:
        """The customers' messages in the Page's conversations (Messenger or Instagram), newest first; each one
        also opens the window for our next message to them."""
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        mark = Watermark(state.get("dm"), start=self.start())
        # The newest page of conversations is enough between two polls.
        newest = self.pages(
            f"{self.settings.page_id}/conversations",
            {
                "platform": self.conversation_platform,
                "fields": "id,updated_time,messages.limit(10){id,message,from,created_time}",
                "limit": self.settings.page_size,
            },
        )
        messages = [
            message
            for conversation in next(newest, [])
            if isinstance(conversation, dict)
            for message in (conversation.get("messages") or {}).get("data") or []
        ]
        own = self.own_accounts()
        theirs = [m for m in messages if str((m.get("from") or {}).get("id", "")).lower() not in own]
        theirs.sort(key=lambda m: m.get("created_time", ""), reverse=True)
        batch = read_newest_first(self.name, mark, [theirs], self.dm_mention, item_id=lambda m: m.get("id"))
        for dm in batch.mentions:
            self.state.note_customer_wrote(self.name, dm.author.id, dm.created_at)
        return FetchResult(
            batch.mentions, json.dumps({"dm": mark.state()}, sort_keys=True), batch.quarantined
        )

    def find_message(self, mention: Mention, text: str) -> str | None:
        """Our message with ``text`` in the newest conversations, sent since ``mention`` was written: the private
        reply (its recipient is known only from the Send API's answer, lost when the send was interrupted) or a
        later message, found by what it says."""
        newest = self.pages(
            f"{self.settings.page_id}/conversations",
            {
                "platform": self.conversation_platform,
                "fields": "id,updated_time,messages.limit(25){id,message,from,created_time}",
                "limit": self.settings.page_size,
            },
        )
        own, wanted = self.own_accounts(), text.strip()
        for conversation in next(newest, []):
            if not isinstance(conversation, dict):
                continue
            for message in (conversation.get("messages") or {}).get("data") or []:
                ours = str((message.get("from") or {}).get("id", "")).lower() in own
                if (
                    ours
                    and str(message.get("message") or "").strip() == wanted
                    and _ts(message.get("created_time")) >= mention.created_at.timestamp()
                ):
                    return str(message["id"])
        return None

    def dm_mention(self, message: dict[str, Any]) -> Mention:
        sender = message["from"]
        name = sender.get("username") or sender.get("name") or sender["id"]
        return Mention(
            platform=self.name,
            id=message["id"],
            url="",
            author=Author(handle=name, display_name=sender.get("name", name), id=str(sender["id"])),
            text=message.get("message") or "",
            created_at=graph_time(message["created_time"]),
            kind="dm",
            raw=message,
        )


class FacebookConnector(MetaConnector):
    """A Facebook Page: visitors' posts, posts that tag the Page, and comments under the Page's recent posts."""

    name = "facebook"
    Settings = FacebookSettings
    rules = ReplyRules(max_length=8000, can_reply=True, can_message=True)
    capabilities = MetaConnector.capabilities | {Capability.REPLY, Capability.RECONCILE}
    platform_label = "the Facebook Page"
    settings: FacebookSettings

    POST_FIELDS = "id,message,from{id,name},created_time,updated_time,permalink_url"
    COMMENT_FIELDS = "id,message,from{id,name},created_time,permalink_url,parent{id},can_reply_privately"

    def own_accounts(self) -> set[str]:
        return super().own_accounts() | {self.settings.page_id.lower()}

    def account_name(self) -> str:
        body = self.graph("GET", self.settings.page_id, params={"fields": "id,name"})
        return str(body.get("name") or self.settings.page_id)

    def fetch(self, cursor: str | None) -> FetchResult:
        self.check_token()
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        page = self.settings.page_id
        params = {"fields": self.POST_FIELDS, "limit": self.settings.page_size}
        feed: list[dict[str, Any]] = []

        def feed_pages() -> Iterator[list[Any]]:
            for items in self.pages(f"{page}/feed", params):
                feed.extend(i for i in items if isinstance(i, dict))
                yield items

        visitors = self.read(state, "feed", feed_pages(), self.post_mention)
        visitors.mentions = [m for m in visitors.mentions if not self.is_own(m.author)]
        batch = visitors
        batch += self.read(state, "tagged", self.pages(f"{page}/tagged", params), self.post_mention)
        floor = Watermark(state.get("comments"), start=self.start()).floor
        recent = [p for p in feed if _ts(p.get("updated_time") or p.get("created_time")) >= floor]
        comments = {
            "fields": self.COMMENT_FIELDS,
            "filter": "stream",
            "order": "reverse_chronological",
            "limit": self.settings.page_size,
        }
        mark = Watermark(state.get("comments"), start=self.start())
        for post in recent[: self.settings.max_posts]:
            batch += read_newest_first(
                self.name,
                mark,
                self.pages(f"{post['id']}/comments", comments),
                self.comment_mention,
                item_id=lambda c: c.get("id"),
            )
        state["comments"] = mark.state()
        batch.mentions.sort(key=lambda m: m.created_at)
        return FetchResult(batch.mentions, json.dumps(state, sort_keys=True), batch.quarantined)

    def post_mention(self, post: dict[str, Any]) -> Mention:
        # ``from`` comes only when asked for and allowed to this token: the recorded posts have none.
        sender = post.get("from") or {}
        name = sender.get("name") or "A Facebook user"
        return Mention(
            platform=self.name,
            id=post["id"],
            url=post.get("permalink_url") or f"https://www.facebook.com/{post['id']}",
            author=Author(handle=name, display_name=name, id=str(sender.get("id", ""))),
            text=post.get("message") or "",
            created_at=graph_time(post["created_time"]),
            kind="post",
            thread_id=post["id"],
            raw=post,
        )

    def comment_mention(self, comment: dict[str, Any]) -> Mention:
        sender = comment.get("from") or {}
        name = sender.get("name") or "A Facebook user"
        parent = (comment.get("parent") or {}).get("id") or _parent_from_permalink(comment)
        return Mention(
            platform=self.name,
            id=comment["id"],
            url=comment.get("permalink_url") or f"https://www.facebook.com/{comment['id']}",
            author=Author(handle=name, display_name=name, id=str(sender.get("id", ""))),
            text=comment.get("message") or "",
            created_at=graph_time(comment["created_time"]),
            kind="reply" if parent else "comment",
            parent_id=parent,
            thread_id=comment["id"].split("_")[0],
            raw=comment,
        )

    def webhook_mentions(self, delivery: dict[str, Any]) -> list[Mention]:
        """The comments and visitor posts of a Page ``feed`` delivery (ids as polling reads them, so a repeated
        delivery or the next poll finds them stored already); other changes (likes, edits, removals) are skipped."""
        out = []
        for entry in delivery.get("entry") or []:
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                if change.get("field") != "feed" or value.get("verb") != "add":
                    continue
                sender = value.get("from") or {}
                common = {
                    "message": value.get("message") or "",
                    "from": {
                        "id": str(sender.get("id", "")),
                        "name": sender.get("name") or "A Facebook user",
                    },
                    "created_time": _epoch_time(value.get("created_time") or entry.get("time")),
                }
                if value.get("item") == "comment":
                    parent = value.get("parent_id")
                    comment = {**common, "id": value["comment_id"]}
                    if parent and parent != value.get("post_id"):
                        comment["parent"] = {"id": parent}
                    out.append(self.comment_mention(comment))
                elif value.get("item") in ("post", "status", "photo", "video"):
                    out.append(self.post_mention({**common, "id": value["post_id"]}))
        return [m for m in out if not self.is_own(m.author)]

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if len(text) > self.rules.max_length:  # type: ignore[operator]
            raise ReplyNotAllowed(self.name, f"reply is {len(text)} characters; Facebook allows 8000")
        # A reply to a reply goes under the top comment: Facebook threads are two levels deep.
        target = mention.parent_id or mention.id
        return str(self.graph("POST", f"{target}/comments", data={"message": text}, refusal=True)["id"])

    def find_reply(self, mention: Mention) -> str | None:
        """Our comment in ``mention``'s thread posted since it (where ``reply`` puts it), if any."""
        target = mention.parent_id or mention.id
        fields = {"fields": "id,from{id},created_time", "filter": "stream", "limit": 100}
        for page in self.pages(f"{target}/comments", fields):
            for comment in page:
                ours = str((comment.get("from") or {}).get("id", "")) == self.settings.page_id
                if ours and _ts(comment.get("created_time")) >= mention.created_at.timestamp():
                    return str(comment["id"])
        return None


class InstagramConnector(MetaConnector):
    """An Instagram professional account: comments under its recent media, and media that tag it."""

    name = "instagram"
    Settings = InstagramSettings
    rules = ReplyRules(max_length=2200, can_reply=True, can_message=True)
    capabilities = MetaConnector.capabilities | {Capability.REPLY, Capability.RECONCILE}
    platform_label = "the Instagram account"
    conversation_platform = "instagram"
    settings: InstagramSettings

    COMMENT_FIELDS = "id,text,timestamp,username,from{id,username},parent_id,replies{id,text,timestamp,username,from{id,username},parent_id}"

    def own_accounts(self) -> set[str]:
        extra = {self.settings.ig_user_id.lower()} | (
            {self.settings.username.lower()} if self.settings.username else set()
        )
        return super().own_accounts() | extra

    def account_name(self) -> str:
        body = self.graph("GET", self.settings.ig_user_id, params={"fields": "id,username"})
        return "@" + str(body.get("username") or self.settings.ig_user_id)

    def fetch(self, cursor: str | None) -> FetchResult:
        self.check_token()
        state: dict[str, Any] = json.loads(cursor) if cursor else {}
        me = self.settings.ig_user_id
        media = next(
            self.pages(
                f"{me}/media",
                {"fields": "id,caption,timestamp,permalink,comments_count", "limit": self.settings.page_size},
            ),
            [],
        )
        comments: list[dict[str, Any]] = []
        for item in [m for m in media if isinstance(m, dict) and m.get("comments_count")][
            : self.settings.max_posts
        ]:
            for page in self.pages(f"{item['id']}/comments", {"fields": self.COMMENT_FIELDS, "limit": 50}):
                for comment in page:
                    if not isinstance(comment, dict):
                        continue
                    comment.setdefault("media", {"id": item["id"], "permalink": item.get("permalink", "")})
                    comments.append(comment)
                    for reply in (comment.get("replies") or {}).get("data") or []:
                        reply.setdefault("media", comment["media"])
                        reply.setdefault("parent_id", comment.get("id"))
                        comments.append(reply)
        comments.sort(key=lambda c: str(c.get("timestamp", "")), reverse=True)
        batch = self.read(state, "comments", iter([comments]), self.comment_mention)
        batch += self.read(
            state,
            "tags",
            self.pages(
                f"{me}/tags",
                {"fields": "id,caption,timestamp,username,permalink", "limit": self.settings.page_size},
            ),
            self.tag_mention,
        )
        batch.mentions.sort(key=lambda m: m.created_at)
        return FetchResult(batch.mentions, json.dumps(state, sort_keys=True), batch.quarantined)

    def comment_mention(self, comment: dict[str, Any]) -> Mention:
        sender = comment.get("from") or {}
        name = comment.get("username") or sender.get("username") or "an Instagram user"
        parent = comment.get("parent_id")
        media = comment.get("media") or {}
        return Mention(
            platform=self.name,
            id=comment["id"],
            url=media.get("permalink") or "https://www.instagram.com/",
            author=Author(handle=name, display_name=name, id=str(sender.get("id", ""))),
            text=comment.get("text") or "",
            created_at=graph_time(comment["timestamp"]),
            kind="reply" if parent else "comment",
            parent_id=parent,
            thread_id=media.get("id"),
            raw={k: v for k, v in comment.items() if k != "replies"},
        )

    def webhook_mentions(self, delivery: dict[str, Any]) -> list[Mention]:
        """The comments of an Instagram ``comments`` delivery (ids as polling reads them), and the @mentions of a
        ``mentions`` delivery. Those name only ids and Meta keeps no copy: each is read at once from
        ``mentioned_media`` / ``mentioned_comment`` (a Graph API call; a failure raises, and the delivery is not
        acknowledged, so that Meta sends it again)."""
        out = []
        for entry in delivery.get("entry") or []:
            for event in entry.get("messaging") or []:
                if isinstance(event, dict) and (story := self.story_mention(event)) is not None:
                    out.append(story)
            for change in entry.get("changes") or []:
                value = change.get("value") or {}
                if change.get("field") == "mentions":
                    out.append(self.mentioned(str(value["media_id"]), value.get("comment_id")))
                if change.get("field") != "comments":
                    continue
                sender = value.get("from") or {}
                comment = {
                    "id": value["id"],
                    "text": value.get("text") or "",
                    "username": sender.get("username"),
                    "from": sender,
                    "timestamp": _epoch_time(entry.get("time")),
                    "media": {"id": (value.get("media") or {}).get("id", "")},
                }
                if value.get("parent_id"):
                    comment["parent_id"] = value["parent_id"]
                out.append(self.comment_mention(comment))
        return [m for m in out if not self.is_own(m.author)]

    def story_mention(self, event: dict[str, Any]) -> Mention | None:
        """The story mention in an Instagram Messaging ``messaging`` event, or None when it carries none (another
        message, or our own echo). The story's CDN URL expires with the story; the sender's message opens the
        24-hour window for our direct message back."""
        message = event.get("message") or {}
        if not isinstance(message, dict) or message.get("is_echo"):
            return None
        story = next(
            (
                a
                for a in message.get("attachments") or []
                if isinstance(a, dict) and a.get("type") == "story_mention"
            ),
            None,
        )
        if story is None:
            return None
        sender = str((event.get("sender") or {}).get("id") or "")
        created = datetime.fromtimestamp(float(event["timestamp"]) / 1000, UTC)
        self.state.note_customer_wrote(self.name, sender, created)
        url = str((story.get("payload") or {}).get("url") or "")
        return Mention(
            platform=self.name,
            id=str(message["mid"]),
            url=url if url.startswith("https://") else "https://www.instagram.com/",
            author=Author(handle=sender, display_name=sender, id=sender),
            text=str(message.get("text") or ""),
            created_at=created,
            kind="story_mention",
            raw=event,
        )

    def mentioned(self, media_id: str, comment_id: Any = None) -> Mention:
        """The caption (``media_id`` alone) or comment (``comment_id`` on ``media_id``) that @mentions the account,
        on someone else's media."""
        me = self.settings.ig_user_id
        if comment_id:
            field = f"mentioned_comment.comment_id({comment_id}){{id,text,timestamp,username,like_count}}"
            comment = self.graph("GET", me, params={"fields": field}).get("mentioned_comment") or {}
            return self.mentioned_comment_mention(comment, media_id=media_id)
        field = f"mentioned_media.media_id({media_id}){{id,caption,timestamp,username,permalink,media_type}}"
        return self.tag_mention(self.graph("GET", me, params={"fields": field}).get("mentioned_media") or {})

    def mentioned_comment_mention(self, comment: dict[str, Any], *, media_id: str) -> Mention:
        """A comment @mentioning the account under another account's media (answered through ``/mentions``)."""
        name = comment.get("username") or "an Instagram user"
        return Mention(
            platform=self.name,
            id=f"mentioned:{comment['id']}",
            url="https://www.instagram.com/",
            author=Author(handle=name, display_name=name),
            text=comment.get("text") or "",
            created_at=graph_time(comment["timestamp"]),
            kind="comment",
            thread_id=media_id,
            raw=comment,
        )

    def tag_mention(self, media: dict[str, Any]) -> Mention:
        name = media.get("username") or "an Instagram user"
        return Mention(
            platform=self.name,
            id=f"media:{media['id']}",
            url=media.get("permalink") or "https://www.instagram.com/",
            author=Author(handle=name, display_name=name),
            text=media.get("caption") or "",
            created_at=graph_time(media["timestamp"]),
            kind="post",
            thread_id=media["id"],
            raw=media,
        )

    def reply(self, mention: Mention, text: str, *, idempotency_key: str) -> str:
        if mention.kind == "story_mention":
            raise ReplyNotAllowed(
                self.name,
                "a story has no comments: answer a story mention by direct message (within 24 hours)",
            )
        if len(text) > self.rules.max_length:  # type: ignore[operator]
            raise ReplyNotAllowed(self.name, f"reply is {len(text)} characters; Instagram allows 2200")
        if mention.id.startswith("media:"):
            answer = self.graph(
                "POST",
                f"{self.settings.ig_user_id}/mentions",
                data={"media_id": mention.id.removeprefix("media:"), "message": text},
                refusal=True,
            )
        elif mention.id.startswith("mentioned:"):
            answer = self.graph(
                "POST",
                f"{self.settings.ig_user_id}/mentions",
                data={
                    "media_id": mention.thread_id,
                    "comment_id": mention.id.removeprefix("mentioned:"),
                    "message": text,
                },
                refusal=True,
            )
        else:
            # Instagram threads are one level deep: a reply to a reply goes under the top comment.
            target = mention.parent_id or mention.id
            answer = self.graph("POST", f"{target}/replies", data={"message": text}, refusal=True)
        return str(answer["id"])

    def find_reply(self, mention: Mention) -> str | None:
        """Our reply under ``mention``'s comment posted since it, if any (not looked up on others' media)."""
        if mention.id.startswith(("media:", "mentioned:")):
            return None
        target = mention.parent_id or mention.id
        for page in self.pages(f"{target}/replies", {"fields": "id,username,timestamp", "limit": 50}):
            for reply in page:
                ours = str(reply.get("username", "")).lower() in self.own_accounts()
                if ours and _ts(reply.get("timestamp")) >= mention.created_at.timestamp():
                    return str(reply["id"])
        return None

    def _private_reply(self, mention: Mention, text: str, now: datetime) -> str:
        if mention.kind == "story_mention":
            return self._story_mention_message(mention, text, now)
        if mention.id.startswith(("media:", "mentioned:")):
            raise ReplyNotAllowed(
                self.name,
                "Instagram allows private replies to comments only, under the account's own media, not to a post "
                "or comment elsewhere that mentions it: contact by hand",
            )
        return super()._private_reply(mention, text, now)

    def _story_mention_message(self, mention: Mention, text: str, now: datetime) -> str:
        """The first direct message to whoever mentioned us in their story: the Send API to their IGSID, within 24
        hours of the mention (their message); later messages follow the windows of ``message``."""
        age = now - mention.created_at
        if age > STANDARD_WINDOW:
            raise ReplyNotAllowed(
                self.name,
                f"Meta allows a direct message within 24 hours of a story mention; it is {int(age.total_seconds() // 3600)} "
                "hours old: contact the customer by hand",
            )
        payload = {
            "recipient": {"id": mention.author.id},
            "message": {"text": text},
            "messaging_type": "RESPONSE",
        }
        answer = self.graph("POST", f"{self.settings.page_id}/messages", json=payload, refusal=True)
        self.state.record_private_reply(
            self.name,
            mention.id,
            PrivateReply(recipient=str(answer.get("recipient_id") or mention.author.id), at=now),
        )
        return str(answer.get("message_id") or "")


# -- webhooks ---------------------------------------------------------------------------------------------------

SIGNATURE_HEADER = "X-Hub-Signature-256"
# The ``object`` of a webhook delivery → the connector whose items it carries.
WEBHOOK_OBJECTS = {"page": "facebook", "instagram": "instagram"}


def signature_ok(body: bytes, header: str | None, app_secret: str) -> bool:
    """Whether ``X-Hub-Signature-256`` is the HMAC-SHA256 of the raw ``body`` with the app secret (as Meta signs)."""
    if not (header and app_secret and header.startswith("sha256=")):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header.removeprefix("sha256="))


def handshake(params: Any, verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo when Meta's verification request names our verify token, else ``None``."""
    if params.get("hub.mode") != "subscribe" or not verify_token:
        return None
    if not hmac.compare_digest(str(params.get("hub.verify_token", "")), verify_token):
        return None
    return str(params.get("hub.challenge", ""))


def graph_time(value: str) -> datetime:
    """A Graph API time (``2026-12-02T10:15:00+0000``)."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)


def _epoch_time(value: Any) -> str:
    """A webhook's epoch seconds as a Graph API time."""
    return datetime.fromtimestamp(int(value), tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def _ts(value: Any) -> float:
    try:
        return graph_time(str(value)).timestamp()
    except ValueError:
        return 0.0


def _parent_from_permalink(comment: dict[str, Any]) -> str | None:
    """The top comment's id of a Facebook reply, from its ``permalink_url``
    (``…/posts/{post}/?comment_id={top}&reply_comment_id={reply}``) when ``parent`` was not given."""
    split = urlsplit(str(comment.get("permalink_url") or ""))
    query = dict(parse_qsl(split.query))
    if "reply_comment_id" not in query or "comment_id" not in query:
        return None
    post = split.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{post}_{query['comment_id']}"


def _json_header(value: str | None) -> Any:
    if not value:
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None
