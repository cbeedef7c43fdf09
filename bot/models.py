"""The plain records that travel between connectors, the store, triage and the responders."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

Kind = Literal["post", "comment", "reply", "review", "dm"]
Intent = Literal["complaint", "inquiry", "praise", "other"]


def utc(dt: datetime) -> datetime:
    """Return ``dt`` as an aware UTC datetime (naive values are taken to be UTC)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Author:
    """Who wrote a mention, as the platform names them."""

    handle: str
    display_name: str = ""
    id: str = ""

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "created_at", utc(self.created_at))

    @property
    def key(self) -> str:
        """The mention's identity across platforms: ``platform:id``."""
        return f"{self.platform}:{self.id}"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What one poll returned: the new mentions and the cursor that covers them."""

    mentions: list[Mention]
    cursor: str | None


@dataclass(frozen=True, slots=True)
class CredentialExpiry:
    """When a connector's credential stops working, as the platform (or the connector's config) says.

    ``renews``: the connector renews it by itself (a session refreshed or logged in again), so nobody needs to act.
    """

    at: datetime  # UTC
    what: str  # e.g. "session refresh token", "service account key", "credentials_expire (config)"
    renews: bool = False


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
