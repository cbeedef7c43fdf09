"""What the review-site connectors share: a time watermark with the ids seen just behind it, and HTML clean-up.

Review sites list newest first and have no "since" parameter, and a review can be indexed a little late, so each
source keeps the newest timestamp seen and the ids seen within a look-back window behind it: an item is new when it
is inside the window and its id has not been seen. The state round-trips through the connector's JSON cursor.
"""

from __future__ import annotations

import html
import re
from typing import Any

LOOKBACK_SECONDS = 3600.0
TAG = re.compile(r"<[^>]+>")


def strip_html(text: str) -> str:
    """Plain text from a snippet of HTML: tags removed, entities decoded, whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(TAG.sub("", text or ""))).strip()


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
