"""Cases and their SLA clocks (doctrine §2–3).

A complaint or inquiry opens one case with one owner and a due time: acknowledge the same day, at most within the
configured hours. The sweep reminds the managers before a clock runs out, marks what is overdue, and follows an
unanswered inquiry up the configured number of times before closing it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import SlaSettings
from bot.models import Case, Mention
from bot.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Nudge:
    """Something the managers should hear about a case."""

    case: Case
    kind: str  # reminder | overdue | follow_up | closed
    text: str


def due_time(intent: str, opened_at: datetime, sla: SlaSettings) -> datetime:
    """When the first answer is due for a case of ``intent``."""
    hours = sla.inquiry_hours if intent == "inquiry" else sla.acknowledge_hours
    return opened_at + timedelta(hours=hours)


def open_case(store: Store, mention: Mention, *, intent: str, sla: SlaSettings, now: datetime) -> Case:
    """Open (or return) the case for ``mention``, its clock starting when the customer posted."""
    start = min(mention.created_at, now)
    return store.open_case(mention, intent=intent, due_at=due_time(intent, start, sla), now=now)


def sweep(store: Store, sla: SlaSettings, *, now: datetime, notify: Callable[[Nudge], None]) -> list[Nudge]:
    """Check every open case's clocks once; each reminder is sent once."""
    nudges: list[Nudge] = []
    for case in store.cases(status="open"):
        done = {e["kind"] for e in store.case_events(case.id)}
        if case.acknowledged_at is None:
            if now >= case.due_at and "overdue" not in done:
                nudges.append(
                    Nudge(case, "overdue", f"{case.ref} is overdue: no answer since {case.opened_at:%H:%M}")
                )
            elif now >= case.due_at - timedelta(hours=sla.remind_before_hours) and "reminder" not in done:
                left = int((case.due_at - now).total_seconds() // 60)
                nudges.append(Nudge(case, "reminder", f"{case.ref} is due in {left} min ({case.intent})"))
        elif case.intent == "inquiry" and case.customer_replied_at is None:
            next_at = case.next_follow_up_at or case.acknowledged_at + timedelta(
                hours=sla.follow_up_every_hours
            )
            if now >= next_at:
                if case.follow_ups >= sla.follow_ups:
                    nudges.append(
                        Nudge(case, "closed", f"{case.ref} closed after {case.follow_ups} follow-ups")
                    )
                else:
                    nudges.append(
                        Nudge(case, "follow_up", f"{case.ref}: follow-up {case.follow_ups + 1} due")
                    )
    for nudge in nudges:
        record(store, nudge, sla=sla, now=now)
        notify(nudge)
    return nudges


def record(store: Store, nudge: Nudge, *, sla: SlaSettings, now: datetime) -> None:
    case = nudge.case
    changes: dict = {}
    if nudge.kind == "follow_up":
        changes = {
            "follow_ups": case.follow_ups + 1,
            "next_follow_up_at": now + timedelta(hours=sla.follow_up_every_hours),
        }
    elif nudge.kind == "closed":
        changes = {"status": "closed", "stage": "closed", "resolved_at": now}
    store.update_case(case.id, now=now, actor="sla", event=nudge.kind, note=nudge.text, **changes)
    log.info("case %s: %s", case.ref, nudge.text)
