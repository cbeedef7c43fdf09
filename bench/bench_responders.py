"""Drafting a reply: compose (template rotation over a store of 200,000 drafts) and the tone guard, per draft.

Run: ``python -m bench.bench_responders``. Prints milliseconds per draft for composing (with the store lookups that
choose the least recently used variant) and for checking a manager's edit of typical length.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

from bot.config import BrandSettings
from bot.models import Author, Case, Mention, ReplyRules, Triage
from bot.store import Store
from responders import compose, tone

DRAFTS = int(os.environ.get("BENCH_RESPONDERS_DRAFTS", 200_000))
ROUNDS = 2_000
NOW = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


def main() -> None:
    """Fill a store with drafts, then time composing and tone-checking."""
    store = Store.memory()
    names = [f"{t}#{i}" for t in ("complaint", "inquiry", "praise") for i in range(4)]
    store.db["drafts"].insert_all(
        (
            {
                "platform": "reddit",
                "mention_id": str(n),
                "intent": "complaint",
                "text": "x",
                "state": "posted",
                "template": names[n % len(names)],
                "created_at": "2026-11-16T09:00:00+00:00",
                "updated_at": "2026-11-16T09:00:00+00:00",
            }
            for n in range(DRAFTS)
        ),
        batch_size=10_000,
    )
    brand = BrandSettings(contact_email="care@acme.example")
    rules = ReplyRules(max_length=280, can_reply=True, can_message=True)
    case = Case(1, "C-00001", "reddit", "t1_1", "marta", "Marta", "complaint", "open", "contact", NOW, NOW)
    mentions = [
        Mention("reddit", f"t1_{n}", "", Author(f"user{n}", f"User {n}"), "my parcel is late", NOW)
        for n in range(ROUNDS)
    ]
    started = time.perf_counter()
    for mention in mentions:
        compose.compose(
            mention,
            Triage("complaint"),
            brand=brand,
            rules=rules,
            can_reply=True,
            case=case,
            used=store.template_last_used,
        )
    per_compose = (time.perf_counter() - started) * 1000 / ROUNDS
    edit = (
        "Hi Marta, thank you for telling us about the late parcel. We've checked with the courier and it arrives "
        "tomorrow before noon; we've sent you a private message with the tracking link. What else can we do?"
    )
    started = time.perf_counter()
    for _ in range(ROUNDS):
        tone.check(edit)
    per_check = (time.perf_counter() - started) * 1000 / ROUNDS
    print(
        f"bench_responders: compose {per_compose:.3f} ms per draft over {DRAFTS:,} stored drafts "
        f"(tone guard and length check included); tone guard alone {per_check:.3f} ms per {len(edit)}-character edit"
    )


if __name__ == "__main__":
    main()
