"""Imports JSONL or CSV exports: backfills, and review tools that can only export.

Each row becomes a ``Mention``. Recognised columns: ``id``, ``platform``, ``author`` (or ``handle``), ``name``,
``author_id``, ``text`` (or ``body``/``content``), ``created_at`` (ISO 8601 or epoch seconds), ``url``, ``kind``,
``rating``, ``parent_id``, ``thread_id``, ``lang``. ``text`` and ``created_at`` are required; a row without ``id``
gets a stable one from its content. A row that cannot be read (not JSON, not UTF-8, not an object, a field of the
wrong kind) is set aside with its file, line and reason, and the rows after it are read as usual; a binary file is
set aside whole. The cursor remembers how many rows of each file were read, so appended rows are picked up and
nothing is imported twice.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import io
import json
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.models import MAX_FIELD, Author, FetchResult, Mention, Quarantined, ReplyRules
from connectors.base import Connector, ConnectorSettings

log = logging.getLogger(__name__)

KINDS = {"post", "comment", "reply", "review", "dm"}
PLATFORM = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
URL = re.compile(r"https?://\S+", re.IGNORECASE)
# Text files have no NUL in their first kilobytes; images, archives, databases and UTF-16 files do.
SNIFF = 8192
# The whole file is in memory already; csv's default of 131,072 characters would refuse a long review outright
# (it is cut to size at the Mention boundary instead).
CSV_FIELD_LIMIT = 1 << 30
_UNDECODABLE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of bytes that are not UTF-8


@dataclass(kw_only=True)
class FileSettings(ConnectorSettings):
    """``[connectors.file]``: which files to import."""

    paths: list[str] = field(default_factory=list)
    platform: str = "import"


@dataclass(frozen=True, slots=True)
class Row:
    """One row of an import file: the mention it makes, or why it makes none (``line`` 0: the whole file)."""

    path: Path
    line: int
    mention: Mention | None = None
    problem: str | None = None
    raw: Any = None  # the row as read, kept with a row set aside

    @property
    def where(self) -> str:
        """``path:line`` (the path alone for the whole file)."""
        return f"{self.path}:{self.line}" if self.line else str(self.path)

    def quarantined(self, platform: str) -> Quarantined:
        """The row as an item set aside, named by its file and line."""
        assert self.problem is not None
        return Quarantined.of(platform, self.raw, self.problem, item_id=self.where)


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
        quarantined: list[Quarantined] = []
        for path in self.files():
            rows = self.rows(path)
            for row in rows[done.get(str(path), 0) :]:
                if row.mention is not None:
                    mentions.append(row.mention)
                else:
                    quarantined.append(row.quarantined(self.settings.platform))
            done[str(path)] = len(rows)
        return FetchResult(mentions, json.dumps(done, sort_keys=True), quarantined)

    def rows(self, path: Path) -> list[Row]:
        """Every row of ``path``, in file order, as a mention or the reason it is not one."""
        out = []
        for line, value, problem in read_rows(path):
            if problem is None:
                try:
                    out.append(Row(path, line, mention=self.to_mention(value)))
                    continue
                except ValueError as exc:  # ours, and UnicodeError: the message says what is wrong
                    problem = str(exc)
                except Exception as exc:  # a stranger's row never stops the rows after it
                    problem = f"{type(exc).__name__}: {exc}"
            out.append(Row(path, line, problem=problem, raw=value))
        return out

    def to_mention(self, row: Any) -> Mention:
        """The mention a row makes; ``ValueError`` saying which field is wrong where it makes none."""
        if not isinstance(row, dict):
            raise ValueError(f"expected an object with text and created_at, got {kind_of(row)}")
        text = first(row, "text", "body", "content")
        if not text or not text.strip():
            raise ValueError("no text")
        handle = first(row, "author", "handle", "user") or "unknown"
        created = parse_when(first(row, "created_at", "date", "time"))
        mention_id = (
            first(row, "id")
            or hashlib.sha1(f"{handle}|{created}|{text}".encode("utf-8", "surrogatepass")).hexdigest()[:16]
        )
        if len(mention_id) > MAX_FIELD:
            raise ValueError(f"id: longer than {MAX_FIELD:,} characters")
        kind = first(row, "kind") or ("review" if first(row, "rating") else "post")
        if kind not in KINDS:
            raise ValueError(f"kind {shown(kind)} is not one of {', '.join(sorted(KINDS))}")
        platform = first(row, "platform") or self.settings.platform
        if not PLATFORM.fullmatch(platform):
            raise ValueError(f"platform {shown(platform)}: expected a plain name like trustpilot")
        url = first(row, "url") or ""
        if url and not (URL.fullmatch(url) and len(url) <= MAX_FIELD):
            raise ValueError(f"url {shown(url)}: expected an http(s) address")
        return Mention(
            platform=platform,
            id=mention_id,
            url=url,
            author=Author(
                handle=handle, display_name=first(row, "name") or "", id=first(row, "author_id") or ""
            ),
            text=text,
            created_at=created,
            kind=kind,
            rating=parse_rating(first(row, "rating")),
            parent_id=first(row, "parent_id"),
            thread_id=first(row, "thread_id"),
            lang=first(row, "lang"),
            raw=row,
        )


def read_rows(path: Path) -> list[tuple[int, Any, str | None]]:
    """The rows of a JSONL or CSV file as ``(line, row, None)``, or ``(line, what was read, why it is no row)``
    for a line that cannot be read; line 0 stands for the whole file (unreadable or binary)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        return [(0, None, f"cannot be read: {exc.strerror or exc}")]
    if b"\x00" in data[:SNIFF]:
        return [(0, None, "a binary file, not UTF-8 JSONL or CSV text")]
    if data.startswith(b"\xef\xbb\xbf"):  # the byte-order mark spreadsheets write
        data = data[3:]
    if path.suffix.lower() == ".csv":
        return _csv_rows(data)
    rows: list[tuple[int, Any, str | None]] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            rows.append(
                (number, raw.decode("utf-8", "backslashreplace"), f"not UTF-8 text (byte {exc.start + 1})")
            )
            continue
        try:
            rows.append((number, json.loads(line), None))
        except json.JSONDecodeError as exc:
            rows.append((number, line, f"not JSON: {exc.msg} (column {exc.colno})"))
        except (ValueError, RecursionError) as exc:  # a 5,000-digit number, arrays nested too deeply
            rows.append((number, line, f"not JSON: {type(exc).__name__}"))
    return rows


def _csv_rows(data: bytes) -> list[tuple[int, Any, str | None]]:
    reader = csv.DictReader(io.StringIO(data.decode("utf-8", "surrogateescape"), newline=""))
    rows: list[tuple[int, Any, str | None]] = []
    limit = csv.field_size_limit(CSV_FIELD_LIMIT)
    try:
        while True:
            before = reader.line_num
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                rows.append((reader.line_num, None, f"not CSV: {exc}"))
                if reader.line_num == before:  # the reader cannot move on
                    break
                continue
            # kept as read: the store's JSON escapes what surrogateescape made of the bytes that are not UTF-8
            bad = any(isinstance(v, str) and _UNDECODABLE.search(v) for v in (*row, *row.values()))
            rows.append((reader.line_num, row, "not UTF-8 text" if bad else None))
    finally:
        csv.field_size_limit(limit)
    return rows


def first(row: dict[str, Any], *names: str) -> str | None:
    """The first of ``names`` the row has a value for, as text; ``ValueError`` for a value that is no text."""
    for name in names:
        value = row.get(name)
        if value in (None, ""):
            continue
        if isinstance(value, str):
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{name}: expected text, got {kind_of(value)}")
        return str(value)
    return None


def parse_when(value: str | None) -> datetime:
    """``created_at`` as epoch seconds or ISO 8601 (UTC when it names no zone)."""
    if value is None:
        raise ValueError("no created_at")
    try:
        try:
            return datetime.fromtimestamp(float(value), tz=UTC)
        except ValueError:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise ValueError(
            f"created_at {shown(value)}: expected ISO 8601 like 2026-11-16T08:00:00Z or epoch seconds"
        ) from None


def parse_rating(value: str | None) -> int | None:
    """A review's stars, 1 to 5."""
    if value is None:
        return None
    try:
        stars = float(value)
    except ValueError:
        stars = math.nan
    if not 1 <= stars <= 5:
        raise ValueError(f"rating {shown(value)}: expected 1 to 5 stars")
    return int(stars)


def kind_of(value: Any) -> str:
    """What a JSON value is, in words."""
    if value is None:
        return "null"
    return {
        bool: "true or false",
        int: "a number",
        float: "a number",
        str: "text",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def shown(value: str) -> str:
    """A stranger's value as quoted in a reason: escaped, and its first 40 characters only."""
    return repr(value[:40] + ("…" if len(value) > 40 else ""))
