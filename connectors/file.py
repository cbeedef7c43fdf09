"""Imports JSONL or CSV exports: backfills, and review tools that can only export.

Each row becomes a ``Mention``. Recognised columns: ``id``, ``platform``, ``author`` (or ``handle``), ``name``,
``author_id``, ``text`` (or ``body``/``content``), ``created_at`` (ISO 8601 or epoch seconds), ``url``, ``kind``,
``rating``, ``parent_id``, ``thread_id``, ``lang``. Only ``text`` is required; a row without ``id`` gets a stable
one from its content. The cursor remembers how many rows of each file were read, so appended rows are picked up
and nothing is imported twice.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.models import Author, FetchResult, Mention, ReplyRules
from connectors.base import Connector, ConnectorSettings

log = logging.getLogger(__name__)

KINDS = {"post", "comment", "reply", "review", "dm"}


@dataclass(kw_only=True)
class FileSettings(ConnectorSettings):
    """``[connectors.file]``: which files to import."""

    paths: list[str] = field(default_factory=list)
    platform: str = "import"


class FileConnector(Connector):
    """Reads mentions from JSONL and CSV files; monitor-only."""

    name = "file"
    Settings = FileSettings
    rules = ReplyRules(can_reply=False)
    settings: FileSettings

    def files(self) -> list[Path]:
        found: list[Path] = []
        for pattern in self.settings.paths:
            found.extend(Path(p) for p in sorted(glob.glob(str(Path(pattern).expanduser()))))
        return found

    def fetch(self, cursor: str | None) -> FetchResult:
        done: dict[str, int] = json.loads(cursor) if cursor else {}
        mentions: list[Mention] = []
        for path in self.files():
            rows = list(read_rows(path))
            start = done.get(str(path), 0)
            for number, row in enumerate(rows[start:], start=start + 1):
                try:
                    mentions.append(self.to_mention(row))
                except (KeyError, ValueError, TypeError) as exc:
                    log.warning("file: %s row %d skipped: %s", path, number, exc)
            done[str(path)] = len(rows)
        return FetchResult(mentions, json.dumps(done, sort_keys=True))

    def to_mention(self, row: dict[str, Any]) -> Mention:
        text = first(row, "text", "body", "content")
        if not text:
            raise ValueError("no text")
        handle = first(row, "author", "handle", "user") or "unknown"
        created = parse_when(first(row, "created_at", "date", "time"))
        mention_id = first(row, "id") or hashlib.sha1(f"{handle}|{created}|{text}".encode()).hexdigest()[:16]
        kind = first(row, "kind") or ("review" if first(row, "rating") else "post")
        if kind not in KINDS:
            raise ValueError(f"kind {kind!r} is not one of {', '.join(sorted(KINDS))}")
        rating = first(row, "rating")
        return Mention(
            platform=first(row, "platform") or self.settings.platform,
            id=str(mention_id),
            url=first(row, "url") or "",
            author=Author(
                handle=handle, display_name=first(row, "name") or "", id=first(row, "author_id") or ""
            ),
            text=text,
            created_at=created,
            kind=kind,
            rating=int(float(rating)) if rating not in (None, "") else None,
            parent_id=first(row, "parent_id"),
            thread_id=first(row, "thread_id"),
            lang=first(row, "lang"),
            raw=row,
        )


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a JSONL or CSV file; a malformed JSON line becomes an empty row so numbering stays stable."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                log.warning("file: %s line %d is not JSON: %s", path, number, exc)
                rows.append({})
    return rows


def first(row: dict[str, Any], *names: str) -> Any:
    for name in names:
        value = row.get(name)
        if value not in (None, ""):
            return str(value) if not isinstance(value, str) else value
    return None


def parse_when(value: str | None) -> datetime:
    if value is None:
        raise ValueError("no created_at")
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
