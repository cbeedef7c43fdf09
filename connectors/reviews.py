"""What the review-site connectors share: a time watermark with the ids seen just behind it, the loop that reads
newest-first pages against it, and HTML turned into readable text.

Review sites list newest first and have no "since" parameter, and a review can be indexed a little late, so each
source keeps the newest timestamp seen and the ids seen within a look-back window behind it: an item is new when it
is inside the window and its id has not been seen. The state round-trips through the connector's JSON cursor.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from bot.models import Mention, Quarantined

LOOKBACK_SECONDS = 3600.0

# Elements that end a line or a paragraph when HTML is read as text.
_PARAGRAPH = {"p", "div", "blockquote", "pre", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6"}
_LINE = {"br", "li", "tr"}


class _Text(HTMLParser):
    """HTML as the text a reader sees: paragraphs apart, lines broken, code kept as written, links with their
    address."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[str] = []  # finished paragraphs
        self.line: list[str] = []  # the paragraph being read
        self.pre = 0
        self.links: list[tuple[str, int]] = []  # (href, where its text starts in self.line)

    def _break(self, paragraph: bool) -> None:
        if paragraph:
            text = "".join(self.line)
            text = text if self.pre else "\n".join(_squash(part) for part in text.split("\n"))
            if text.strip():
                self.blocks.append(text.strip("\n") if self.pre else text.strip())
            self.line = []
        else:
            self.line.append("\n")

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _PARAGRAPH:
            self._break(True)
        elif tag in _LINE:
            self._break(False)
        if tag == "pre":
            self.pre += 1
        elif tag == "a":
            self.links.append((dict(attrs).get("href") or "", len(self.line)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.links:
            href, start = self.links.pop()
            label = "".join(self.line[start:]).strip()
            # HN shortens a long address in the link text ("https://example.com/a/lo..."): the address is the text.
            if href and (not label or _same_link(label, href)):
                self.line[start:] = [href]
            elif href and href not in label:
                self.line.append(f" ({href})")
        elif tag == "pre":
            self._break(True)
            self.pre = max(0, self.pre - 1)
        elif tag in _PARAGRAPH:
            self._break(True)

    def handle_data(self, data: str) -> None:
        self.line.append(data)

    def text(self) -> str:
        self._break(True)
        return "\n\n".join(self.blocks)


def _squash(text: str) -> str:
    return re.sub(r"[ \t\r\f\v\xa0]+", " ", text).strip()


def _same_link(label: str, href: str) -> bool:
    bare = label.rstrip(".…").removesuffix("...")
    return href.startswith(bare) and len(bare) >= 8


def strip_html(text: str) -> str:
    """Readable plain text from a snippet of HTML: tags removed, entities decoded, ``<p>`` and block elements as
    paragraphs apart, ``<br>`` as a line break, ``<pre>`` kept as written, a link as its text and address."""
    if not text:
        return ""
    if "<" not in text and "&" not in text:
        return "\n\n".join(p for p in (_squash(b) for b in re.split(r"\n\s*\n", text)) if p)
    parser = _Text()
    parser.feed(text)
    parser.close()
    return parser.text()


class Watermark:
    """The newest timestamp of one source and the ids seen within ``LOOKBACK_SECONDS`` behind it."""

    def __init__(self, state: dict[str, Any] | None, *, start: float):
        state = state or {}
        self.t = float(state.get("t", start))
        self.seen: dict[str, float] = {str(k): float(v) for k, v in state.get("seen", {}).items()}
        self.newest = self.t

    @property
    def floor(self) -> float:
        """Items older than this are covered by an earlier poll; paging can stop at them."""
        return self.t - LOOKBACK_SECONDS

    def is_new(self, ts: float, item_id: str) -> bool:
        """Whether the item at ``ts`` has not been returned before."""
        return ts >= self.floor and item_id not in self.seen

    def add(self, ts: float, item_id: str) -> None:
        """Record the item as returned."""
        self.seen[item_id] = ts
        self.newest = max(self.newest, ts)

    def state(self) -> dict[str, Any]:
        """The JSON-able state to keep in the cursor."""
        keep = {k: v for k, v in self.seen.items() if v >= self.newest - LOOKBACK_SECONDS}
        return {"t": self.newest, "seen": keep}


# What a connector's parser raises on an item it cannot read.
UNREADABLE = (KeyError, TypeError, ValueError, IndexError, AttributeError, StopIteration)


@dataclass
class Batch:
    """What one source's pages gave: the new mentions and the items that could not be read."""

    mentions: list[Mention] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    def __iadd__(self, other: Batch) -> Batch:
        self.mentions += other.mentions
        self.quarantined += other.quarantined
        return self


def read_newest_first(
    platform: str,
    mark: Watermark,
    pages: Iterable[list[Any]],
    parse: Callable[[Any], Mention],
    *,
    stamp: Callable[[Any, Mention], float] | None = None,
    item_id: Callable[[Any], Any] | None = None,
) -> Batch:
    """Read newest-first ``pages`` (lazily: a page is fetched only when the one before it was all newer than the
    watermark's floor) into the mentions ``mark`` has not seen, marking them. An item ``parse`` cannot read is
    quarantined (and marked, so the next poll does not set it aside again) rather than dropped.

    ``stamp`` gives the time the list is ordered by (default: the mention's ``created_at``); ``item_id`` the id of
    an unreadable item (default: its ``id``, ``uri`` or ``name``).
    """
    batch = Batch()
    marks: list[str] = []
    for page in pages:
        oldest = None
        for item in page:
            try:
                mention = parse(item)
                ts = stamp(item, mention) if stamp else mention.created_at.timestamp()
            except UNREADABLE as exc:
                bad = Quarantined.of(platform, item, exc, item_id=_id_of(item, item_id))
                key = "quarantined:" + (bad.item_id or hashlib.sha1(bad.raw.encode()).hexdigest())
                if key not in mark.seen and key not in marks:
                    marks.append(key)
                    batch.quarantined.append(bad)
                continue
            oldest = ts if oldest is None else min(oldest, ts)
            if mark.is_new(ts, mention.id):
                mark.add(ts, mention.id)
                batch.mentions.append(mention)
        if oldest is not None and oldest < mark.floor:
            break
    for key in marks:  # kept in the cursor as long as the items read with it
        mark.seen[key] = mark.newest
    # Oldest first; items of the same time (or none) keep the listing's order, read from its end.
    batch.mentions.reverse()
    batch.mentions.sort(key=lambda m: m.created_at)
    return batch


def _id_of(item: Any, item_id: Callable[[Any], Any] | None) -> Any:
    if item_id is None:
        return None
    try:
        return item_id(item)
    except UNREADABLE:
        return None
