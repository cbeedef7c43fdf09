"""Row ↔ record conversion: what the store's tables hold, as the frozen dataclasses its methods return.

Times are stored as sortable UTC ISO text (the same on both engines) and come back as aware datetimes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from bot.models import Author, Case, Draft, Mention, Triage, bounded_json, utc


def iso(dt: datetime | None) -> str | None:
    """A UTC timestamp as sortable ISO text."""
    return utc(dt).isoformat(timespec="seconds") if dt else None


def parse_time(text: str | None) -> datetime | None:
    """Stored ISO text as an aware UTC datetime (the report parses a few hundred thousand: UTC is kept as is)."""
    if not text:
        return None
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is UTC else utc(at)


@dataclass(frozen=True)
class Person:
    platform: str
    handle: str
    display_name: str | None
    first_seen: datetime | None
    last_seen: datetime | None
    mentions: int
    complaints: int
    praise: int
    stage: str | None


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    draft_id: int | None
    case_id: int | None
    detail: str | None


@dataclass(frozen=True)
class OutboxItem:
    id: int
    draft_id: int | None
    case_id: int | None
    kind: str
    platform: str
    mention_id: str
    text: str
    idempotency_key: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    posted_id: str | None
    error: str | None
    created_at: datetime
    sent_at: datetime | None
    claimed_by: str | None
    claimed_at: datetime | None


@dataclass(frozen=True)
class CaseEvent:
    id: int
    case_id: int
    at: datetime
    actor: str
    kind: str
    note: str | None


@dataclass(frozen=True)
class Label:
    id: int
    platform: str | None
    mention_id: str | None
    text: str
    complaint: bool
    intent: str | None
    source: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class StoredModel:
    """A trained model's version and scores (its serialised bytes come from ``Store.model_blob``)."""

    version: str
    kind: str
    created_at: datetime
    active: bool
    scores: dict[str, Any]


@dataclass(frozen=True)
class Run:
    """One poll of a connector; ``last_ok`` (from ``last_runs``) is its connector's latest successful poll."""

    id: int
    connector: str
    started_at: datetime
    duration_ms: int
    fetched: int
    new: int
    errors: int
    status: str
    error: str | None
    calls: int | None
    last_ok: datetime | None = None


@dataclass(frozen=True)
class ManualContact:
    """A draft answered by hand whose open case still needs its private opening."""

    draft_id: int
    platform: str
    mention_id: str
    case_id: int


@dataclass(frozen=True)
class Lease:
    """Who holds ``name`` (a connector's poll, the leader's duties) and until when, unless renewed."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ReportMail:
    """One recipient of one week's report mail: ``state`` is pending (to be tried at ``next_attempt_at``), sent,
    or failed (given up); ``queued_at`` is when the week's mail was first due."""

    week: str
    recipient: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    error: str | None
    sent_at: datetime | None
    queued_at: datetime


# -- the weekly report's read-only queries (``bot.store.reports``) ------------------------------------------


@dataclass(frozen=True)
class VolumeBucket:
    """Mentions (not our own) of one time bucket, platform and intent (``untriaged`` when none): their count,
    the sum and count of their sentiment scores, and the sum and count of their star ratings (reviews)."""

    bucket: int
    platform: str
    intent: str
    n: int
    sentiment_sum: float
    sentiment_n: int
    rating_sum: int
    rating_n: int


@dataclass(frozen=True)
class Wait:
    """How long one mention waited for an answer: when it was posted and first answered (a public reply, or the
    first private contact of its case)."""

    platform: str
    intent: str | None
    posted_at: datetime
    answered_at: datetime


@dataclass(frozen=True)
class CaseTiming:
    """A case opened for a mention, with the mention's time (``created_at``) and the case's clocks."""

    platform: str
    intent: str | None
    status: str
    owner: str | None
    created_at: datetime
    due_at: datetime | None
    acknowledged_at: datetime | None
    contacted_at: datetime | None
    customer_replied_at: datetime | None


@dataclass(frozen=True)
class CaseActivity:
    """Cases opened, resolved and overdue in a range, follow-ups sent, and those opened in it still open."""

    opened: int = 0
    resolved: int = 0
    overdue: int = 0
    follow_ups: int = 0
    still_open: int = 0


@dataclass(frozen=True)
class Decisions:
    """Managers' decisions on drafts: approved as drafted, approved after an edit, rejected."""

    approved: int = 0
    edited: int = 0
    rejected: int = 0

    @property
    def total(self) -> int:
        return self.approved + self.edited + self.rejected


@dataclass(frozen=True)
class PersonWeek:
    """One person's posts of one intent in a range (``n``, the latest ``url`` and ``example``), beside their
    all-time counts from ``people``."""

    platform: str
    handle: str
    name: str | None
    n: int
    url: str | None
    example: str
    complaints: int = 0
    praise: int = 0
    mentions: int = 0
    stage: str | None = None


@dataclass(frozen=True)
class ReachPost:
    """A post and its author's followers (or karma) when it was read."""

    platform: str
    handle: str | None
    reach: int
    intent: str | None
    url: str | None
    text: str


@dataclass(frozen=True)
class MentionText:
    """What the report reads of a mention to find themes and questions."""

    platform: str
    id: str
    url: str | None
    author_handle: str | None
    intent: str | None
    text: str


@dataclass(frozen=True)
class LabelCount:
    """How many mentions managers labelled ``complaint`` (or not) against the intent the filter gave them."""

    predicted: str | None
    complaint: int
    source: str | None
    n: int


@dataclass(frozen=True)
class ConnectorRuns:
    """One connector's polls in a range, and its latest successful poll, new mention and error before its end."""

    connector: str
    polls: int = 0
    failed: int = 0
    errors: int = 0
    fetched: int = 0
    new: int = 0
    calls: int | None = None
    last_ok: datetime | None = None
    last_new_at: datetime | None = None
    last_error: str | None = None


@dataclass(frozen=True)
class Counts:
    """Headline numbers for the status line and the demo summary: mentions stored, drafts by state, posts
    waiting in the outbox (pending or sending), open cases."""

    mentions: int
    awaiting: int
    posted: int
    manual: int
    rejected: int
    dry_run: int
    outbox: int
    open_cases: int


@dataclass(frozen=True)
class DueCases:
    """Open cases nobody acknowledged: past their due time, and due within the reminder window."""

    overdue: int
    due_soon: int


@dataclass(frozen=True)
class Handoff:
    """One platform's cases opened, contacted in private, and those whose customer answered in private."""

    cases: int
    contacted: int
    replied: int


@dataclass(frozen=True)
class CaseMail:
    """One mail of a case's thread (``direction``: out, in, agent, ignored); ``raw`` only for our queued ones."""

    message_id: str
    case_id: int | None
    direction: str
    state: str
    sender: str
    recipient: str
    at: datetime
    raw: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class CaseMirror:
    """The helpdesk ticket a case is mirrored to, and how far its state, owner and articles were read."""

    case_id: int
    backend: str
    remote_id: str
    link: str | None
    state: str | None
    owner: str | None
    last_article: int
    at: datetime | None


_TIME_SUFFIXES = ("_at", "_seen", "_ok", "_due", "_until")


def record(cls: type, row: dict[str, Any]) -> Any:
    """A record of ``cls`` from a row: its times parsed, its flags as booleans, JSON columns decoded."""
    values = {}
    for f in fields(cls):
        if f.name not in row:
            continue
        value = row[f.name]
        if f.type in ("bool", "bool | None") and value is not None:
            value = bool(value)
        elif f.name.endswith(_TIME_SUFFIXES) or f.name == "at":
            value = parse_time(value)
        elif f.name == "scores":
            value = json.loads(value or "{}")
        values[f.name] = value
    return cls(**values)


def mention_row(
    mention: Mention, fetched_at: str | None, *, own: bool = False, triage: Triage | None = None
) -> dict[str, Any]:
    return {
        "platform": mention.platform,
        "id": mention.id,
        "url": mention.url,
        "author_handle": mention.author.handle,
        "author_name": mention.author.display_name,
        "author_id": mention.author.id,
        "author_reach": mention.author.reach,
        "text": mention.text,
        "created_at": iso(mention.created_at),
        "fetched_at": fetched_at,
        "kind": mention.kind,
        "rating": mention.rating,
        "parent_id": mention.parent_id,
        "thread_id": mention.thread_id,
        "lang": (triage.lang or mention.lang) if triage else mention.lang,
        "own": int(own),
        "intent": triage.intent if triage else None,
        "urgency": triage.urgency if triage else None,
        "sentiment": triage.sentiment if triage else None,
        "raw": bounded_json(mention.raw),
        "unanswerable": mention.unanswerable,
        "edited": int(mention.edited),
    }


def triage_row(mention: Mention, triage: Triage, decided_at: str | None) -> tuple[Any, ...]:
    return (
        mention.platform,
        mention.id,
        triage.intent,
        triage.urgency,
        triage.sentiment,
        triage.complaint_score,
        json.dumps(triage.scores),
        json.dumps(list(triage.reasons)),
        triage.lang,
        int(triage.needs_human),
        triage.model_version,
        decided_at,
    )


def triage_from_row(row: dict[str, Any]) -> Triage:
    return Triage(
        intent=row["intent"],
        urgency=row["urgency"] or 0,
        sentiment=row["sentiment"] or 0.0,
        complaint_score=row["complaint_score"] or 0.0,
        scores=json.loads(row["scores"] or "{}"),
        reasons=tuple(json.loads(row["reasons"] or "[]")),
        lang=row["lang"],
        needs_human=bool(row["needs_human"]),
        model_version=row["model_version"] or "",
    )


def mention_from_row(row: dict[str, Any]) -> Mention:
    return Mention(
        platform=row["platform"],
        id=row["id"],
        url=row["url"] or "",
        author=Author(
            row["author_handle"] or "",
            row["author_name"] or "",
            row["author_id"] or "",
            row.get("author_reach"),
        ),
        text=row["text"],
        created_at=parse_time(row["created_at"]),
        kind=row["kind"] or "post",
        rating=row["rating"],
        parent_id=row["parent_id"],
        thread_id=row["thread_id"],
        lang=row["lang"],
        raw=json.loads(row["raw"] or "{}"),
        unanswerable=row.get("unanswerable"),
        edited=bool(row.get("edited")),
    )


def draft_from_row(row: dict[str, Any]) -> Draft:
    return Draft(
        id=row["id"],
        platform=row["platform"],
        mention_id=row["mention_id"],
        intent=row["intent"],
        text=row["text"],
        state=row["state"],
        created_at=parse_time(row["created_at"]),
        updated_at=parse_time(row["updated_at"]),
        template=row["template"] or "",
        route=row["route"] or "reply",
        findings=tuple(json.loads(row["findings"] or "[]")),
        problems=tuple(json.loads(row["problems"] or "[]")),
        decided_by=row["decided_by"],
        reason=row["reason"],
        posted_id=row["posted_id"],
        error=row["error"],
        case_id=row["case_id"],
        notes=tuple(json.loads(row.get("notes") or "[]")),
    )


def case_from_row(row: dict[str, Any]) -> Case:
    times = {
        "opened_at",
        "due_at",
        "acknowledged_at",
        "contacted_at",
        "customer_replied_at",
        "resolved_at",
        "next_follow_up_at",
        "action_due",
    }
    names = Case.__dataclass_fields__
    return Case(**{k: parse_time(v) if k in times else v for k, v in row.items() if k in names})
