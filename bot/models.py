"""The plain records that travel between connectors, the store, triage and the responders."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["post", "comment", "reply", "review", "dm", "story_mention"]
Intent = Literal["complaint", "inquiry", "praise", "other"]
# The reason a triage gives when neither a thank-you for praise nor an apology fits for sure (``Triage.held``).
HELD = "held for a human: "


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


# What a stranger's text may be once it crosses into a ``Mention``: SQLite and every surface take it as it is. The
# longest posts the platforms allow are 40,000 characters (a Reddit self post); anything longer is cut, visibly.
MAX_TEXT = 40_000
MAX_FIELD = 1_000  # handles, names, ids, urls, languages
MAX_RAW = 1_000_000  # bytes of the platform's own JSON kept with a mention or a quarantined item
MAX_EXCERPT = 300  # an error message or a reason, as logged and stored: it may quote a platform's answer
_UNSAFE = re.compile("[\x00\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def safe_text(value: Any, *, limit: int = MAX_FIELD) -> str:
    """``value`` as text that can be stored and shown: lone surrogates replaced by U+FFFD, NUL removed, and at most
    ``limit`` characters, with a visible mark where it was cut."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if _UNSAFE.search(text):
        text = _UNSAFE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", text)
    if len(text) > limit:
        mark = f" [… cut by mentionbot: {len(text):,} characters in all]"
        text = text[: max(0, limit - len(mark))] + mark
    return text


def excerpt(value: Any, *, limit: int = MAX_EXCERPT) -> str:
    """``value`` as one line of text without control characters, at most ``limit`` characters (marked where cut):
    what is kept of an error message, which may quote a response body or a stranger's text."""
    return safe_text(_CONTROL.sub("", " ".join(str(value).split())), limit=limit)


def bounded_json(value: Any) -> str:
    """``value`` as JSON (surrogates escaped, so always storable), replaced by a marked head of itself when it is
    larger than ``MAX_RAW``."""
    text = json.dumps(value, default=str)
    if len(text) > MAX_RAW:
        text = json.dumps({"mentionbot_cut": len(text), "head": text[: MAX_RAW // 2]})
    return text


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a mention, as the platform names them."""

    handle: str
    display_name: str = ""
    id: str = ""
    # Followers (or karma) where the platform says it with the post; None where it does not.
    reach: int | None = None

    def __post_init__(self) -> None:
        for name in ("handle", "display_name", "id"):
            value = getattr(self, name)
            if not isinstance(value, str) or _UNSAFE.search(value) or len(value) > MAX_FIELD:
                object.__setattr__(self, name, safe_text(value))
        if self.reach is not None and (type(self.reach) is not int or not 0 <= self.reach < 2**63):
            object.__setattr__(self, "reach", None)

    @property
    def name(self) -> str:
        """The name to greet the person by: the display name's first word, else the handle."""
        first = self.display_name.strip().split(" ")[0] if self.display_name.strip() else ""
        return first or self.handle


@dataclass(frozen=True, slots=True)
class Mention:
    """One post, comment, review or message about the brand, as fetched."""

    platform: str
    id: str
    url: str
    author: Author
    text: str
    created_at: datetime
    kind: Kind = "post"
    rating: int | None = None
    parent_id: str | None = None
    thread_id: str | None = None
    lang: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    # Why the platform would not take a reply to it (e.g. "removed by the moderators", "locked", "archived",
    # "deleted"): such a mention is stored and triaged but never answered, and the reason is shown with its draft.
    unanswerable: str | None = None
    edited: bool = False  # the author changed it after posting (we read the version fetched)

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", utc(self.created_at))
        # The boundary where a stranger's text becomes ours: every connector and ``import`` passes through here.
        object.__setattr__(self, "text", safe_text(self.text, limit=MAX_TEXT))
        for name in ("platform", "id", "url", "parent_id", "thread_id", "lang", "unanswerable"):
            value = getattr(self, name)
            if value is not None and (
                not isinstance(value, str) or _UNSAFE.search(value) or len(value) > MAX_FIELD
            ):
                object.__setattr__(self, name, safe_text(value))

    @property
    def key(self) -> str:
        """The mention's identity across platforms: ``platform:id``."""
        return f"{self.platform}:{self.id}"


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An item a connector fetched but could not read: kept aside with its raw body and the reason, shown in
    ``mentionbot status``, so the cursor can move past it without losing it."""

    platform: str
    item_id: str
    reason: str
    raw: str  # the item as received (JSON where it was JSON), bounded

    @classmethod
    def of(cls, platform: str, item: Any, error: BaseException | str, *, item_id: Any = None) -> Quarantined:
        """The quarantine record of ``item`` that failed with ``error``; its id taken from ``item_id`` or the
        item's own ``id``/``uri`` where it has one."""
        if item_id is None and isinstance(item, dict):
            item_id = item.get("id") or item.get("uri") or item.get("name")
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        raw = item if isinstance(item, str) else bounded_json(item)
        return cls(
            platform=safe_text(platform),
            item_id=safe_text("" if item_id is None else item_id),
            reason=excerpt(reason),
            raw=safe_text(raw, limit=MAX_RAW),
        )


@dataclass(frozen=True, slots=True)
class QuarantinedItem:
    """A quarantined item as stored: which connector set it aside, and when."""

    id: int
    connector: str
    at: datetime
    item: Quarantined


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one poll returned: the new mentions, the cursor that covers them, and the items it could not read
    (stored aside in the same transaction, so the cursor never moves past an item that was not kept)."""

    mentions: list[Mention]
    cursor: str | None
    quarantined: list[Quarantined] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class CredentialExpiry:
    """When a connector's credential stops working, as the platform (or the connector's config) says.

    ``renews``: the connector renews it by itself (a session refreshed or logged in again), so nobody needs to act.
    """

    at: datetime  # UTC
    what: str  # e.g. "session refresh token", "service account key", "credentials_expire (config)"
    renews: bool = False


@dataclass(frozen=True, slots=True)
class PrivateReply:
    """The private reply a connector sent to open a case (Meta allows one per comment): to whom, and when."""

    recipient: str  # the platform's id of the customer it reached
    at: datetime  # UTC


@dataclass(frozen=True, slots=True)
class ReplyRules:
    """What a platform allows a public reply to be; the composer and approval respect these before posting."""

    max_length: int | None = None
    length_unit: Literal["characters", "graphemes"] = "characters"
    one_reply_per_item: bool = False
    can_reply: bool = True
    can_message: bool = False


@dataclass(frozen=True, slots=True)
class Triage:
    """The triage decision for one mention, with the numbers and words that decided it."""

    intent: Intent
    urgency: int = 0
    sentiment: float = 0.0
    complaint_score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    lang: str | None = None
    needs_human: bool = False
    model_version: str = "rules-v0"

    @property
    def held(self) -> str:
        """Why the reply's kind is for a human to choose (mixed or uncertain signals), or "" when it is clear.

        Kept among the reasons, so a decision read back from the store says it too."""
        return next((r.removeprefix(HELD) for r in self.reasons if r.startswith(HELD)), "")


DraftState = Literal[
    "awaiting", "approved", "posting", "posted", "manual", "failed", "rejected", "team_replied", "dry_run"
]


@dataclass(frozen=True, slots=True)
class Draft:
    """A drafted public reply and where it is on its way to being posted."""

    id: int
    platform: str
    mention_id: str
    intent: str
    text: str
    state: DraftState
    created_at: datetime
    updated_at: datetime
    template: str = ""
    route: Literal["reply", "manual"] = "reply"
    findings: tuple[str, ...] = ()
    problems: tuple[str, ...] = ()
    decided_by: str | None = None
    reason: str | None = None
    posted_id: str | None = None
    error: str | None = None
    case_id: int | None = None
    notes: tuple[str, ...] = ()  # for the manager, not blocking (why the person's name was left out)


@dataclass(frozen=True, slots=True)
class Case:
    """The private follow-up of one complaint or inquiry: one owner, a due time, a complete history."""

    id: int
    ref: str
    platform: str
    mention_id: str
    author_handle: str
    author_name: str
    intent: str
    status: Literal["open", "closed"]
    stage: str
    opened_at: datetime
    due_at: datetime
    owner: str | None = None
    acknowledged_at: datetime | None = None
    contacted_at: datetime | None = None
    customer_replied_at: datetime | None = None
    resolved_at: datetime | None = None
    follow_ups: int = 0
    next_follow_up_at: datetime | None = None
    action: str | None = None
    action_owner: str | None = None
    action_due: datetime | None = None


@dataclass(frozen=True)
class AuthorHistory:
    """What a card says about the person behind a post: their earlier mentions here, and our contact with them."""

    earlier_mentions: int = 0
    complaints: int = 0
    open_cases: int = 0
    last_contact: datetime | None = None  # our latest public reply to them that was posted


@dataclass(frozen=True)
class DiscordState:
    """The approval bot's connection to Discord, recorded so that ``mentionbot status`` can tell it."""

    state: Literal["connecting", "connected", "down", "refused", "stopped"]
    since: datetime  # when it entered this state
    checked_at: datetime  # when the bot last confirmed it (a stale record means the bot is not running)
    error: str = ""
