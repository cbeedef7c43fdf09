"""The world both helpdesk tests start from: one complaint from Dana, triaged, with its case open, and a pipeline
whose ``[cases]`` backend is the helpdesk under test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from bot import cases
from bot.clock import FakeClock
from bot.config import parse_config
from bot.models import Author, Mention, Triage
from bot.pipeline import Pipeline
from bot.store import Store


def helpdesk_world(backend: str, settings: dict[str, Any]) -> tuple[Pipeline, Store, FakeClock, cases.Case]:
    config = parse_config(
        {
            "brand": {"name": "Acme", "contact_email": "care@acme.example"},
            "cases": {
                "backend": backend,
                backend: settings | {"agents": {"Alice": "alice@acme.example", "Bob": "bob@acme.example"}},
            },
        }
    )
    store, clock = Store.memory(), FakeClock(datetime(2026, 11, 16, 9, 0, tzinfo=UTC))
    mention = Mention(
        platform="reddit",
        id="t1_7",
        url="https://reddit.com/r/acme/comments/7",
        author=Author("dana_k", "Dana"),
        text="My kettle arrived broken and nobody answers",
        created_at=clock.now() - timedelta(minutes=3),
    )
    store.save_fetch("reddit", [mention], None, now=clock.now())
    store.save_triage(mention, Triage("complaint", urgency=2, sentiment=-0.6), now=clock.now())
    case = cases.open_case(store, mention, intent="complaint", sla=config.sla, now=clock.now())
    return Pipeline(config, store, clock=clock, connectors={}), store, clock, case
