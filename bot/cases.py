"""Cases and their SLA clocks (doctrine §2–3).

A complaint or inquiry opens one case with one owner and a due time. "The same day" is the brand's local day
(``brand.timezone``): a post that arrives before ``sla.same_day_cutoff`` local time is due by the end of that local
day, or sooner when the hours rule (``acknowledge_hours`` / ``inquiry_hours``, or ``sla.targets[intent]``) is
earlier; a post arriving after the cutoff is due within the hours rule, so a post at 23:00 is not due at midnight.

A case moves through the personal moves (doctrine §1): contact → thank you → what happened? → find solution →
resolved. The first private message does the first three (it thanks the person and asks what happened), so
sending it moves the case to "what happened?"; the customer's reply moves it to "find solution". A manager records
who will do what by when (``plan``), and the sweep reminds the managers before that, and every other clock, runs
out. An unanswered inquiry is followed up ``sla.follow_ups`` times, then closed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

from bot.clock import Clock
from bot.config import Config, SlaSettings
from bot.errors import MentionbotError
from bot.models import Case, Mention
from bot.store import Store

log = logging.getLogger(__name__)

STAGES = ("contact", "thank_you", "what_happened", "find_solution", "resolved")
# The moves as the doctrine names them, for people; the stored names stay identifiers.
STAGE_NAMES = {
    "contact": "contact",
    "thank_you": "thank you",
    "what_happened": "what happened?",
    "find_solution": "find solution",
    "resolved": "resolved",
    "closed": "closed",
}


def stage_name(stage: str) -> str:
    """The stage as a person reads it: "what happened?", not ``what_happened``."""
    return STAGE_NAMES.get(stage, stage.replace("_", " "))


class CaseError(MentionbotError):
    """A change to a case was refused; the message says why."""


@dataclass(frozen=True, slots=True)
class Nudge:
    """Something the managers should hear about a case."""

    case: Case
    kind: str  # reminder | overdue | follow_up | closed | action_reminder | action_overdue
    text: str


def target_hours(intent: str, sla: SlaSettings) -> float:
    """The hours rule for a first answer to a case of ``intent`` (a per-type target wins)."""
    if intent in sla.targets:
        return sla.targets[intent]
    return sla.inquiry_hours if intent == "inquiry" else sla.acknowledge_hours


def due_time(intent: str, opened_at: datetime, sla: SlaSettings, *, tz: str = "UTC") -> datetime:
    """When the first answer is due for a case of ``intent`` whose clock started at ``opened_at``."""
    by_hours = opened_at + timedelta(hours=target_hours(intent, sla))
    zone = ZoneInfo(tz)
    local = opened_at.astimezone(zone)
    cutoff = time.fromisoformat(sla.same_day_cutoff)
    if local.time() >= cutoff:
        return by_hours
    end_of_day = datetime.combine(local.date() + timedelta(days=1), time(0), zone)
    return min(by_hours, end_of_day.astimezone(opened_at.tzinfo))


def open_case(
    store: Store, mention: Mention, *, intent: str, sla: SlaSettings, now: datetime, tz: str = "UTC"
) -> Case:
    """Open (or return) the case for ``mention``, its clock starting when the customer posted."""
    start = min(mention.created_at, now)
    return store.open_case(mention, intent=intent, due_at=due_time(intent, start, sla, tz=tz), now=now)


# -- the personal moves ---------------------------------------------------------------------------------------


def _before(stage: str, target: str) -> bool:
    return stage in STAGES and STAGES.index(stage) < STAGES.index(target)


def _owned(store: Store, case: Case, actor: str, now: datetime) -> Case:
    """The case, with ``actor`` as its owner if it had none; refused if it is someone else's (never bounced)."""
    if case.status != "open":
        raise CaseError(f"case {case.ref} is {case.status}")
    if case.owner and case.owner != actor:
        raise CaseError(f"case {case.ref} is owned by {case.owner}; they hand it over, not the customer")
    if not case.owner:
        store.update_case(case.id, now=now, actor=actor, event="owner", note=f"taken by {actor}", owner=actor)
    return store.case(case.id)


def plan(
    store: Store,
    case: Case,
    *,
    actor: str,
    now: datetime,
    action: str,
    due: datetime | None = None,
    kind: str | None = None,
    sla: SlaSettings | None = None,
) -> Case:
    """Record who will do what by when (doctrine §2): the owner does ``action`` by ``due`` (or the ``kind``'s target)."""
    if not action.strip():
        raise CaseError("say what will be done")
    if due is None:
        if not kind or sla is None or kind not in sla.targets:
            known = ", ".join(sorted(sla.targets)) if sla else ""
            raise CaseError(
                f"say by when (--by), or a contact type with a target ({known or 'none configured'})"
            )
        due = now + timedelta(hours=sla.targets[kind])
    if due <= now:
        raise CaseError(f"the due time {due:%Y-%m-%d %H:%M}Z is already past")
    case = _owned(store, case, actor, now)
    stage = "find_solution" if _before(case.stage, "find_solution") else case.stage
    store.update_case(
        case.id,
        now=now,
        actor=actor,
        event="plan",
        note=f"{actor} will {action} by {due:%Y-%m-%d %H:%M}Z",
        action=action,
        action_owner=actor,
        action_due=due,
        stage=stage,
    )
    return store.case(case.id)


def advance(store: Store, case: Case, *, actor: str, now: datetime, note: str = "") -> Case:
    """Move the case to its next personal move."""
    case = _owned(store, case, actor, now)
    if case.stage == "find_solution":
        return resolve(store, case, actor=actor, now=now, note=note)
    stage = STAGES[STAGES.index(case.stage) + 1]
    # Moving past "contact" by hand (a reply-by-hand platform, a phone call) is the acknowledgement and the contact.
    made = {k: now for k in ("acknowledged_at", "contacted_at") if getattr(case, k) is None}
    store.update_case(
        case.id,
        now=now,
        actor=actor,
        event="stage",
        note=note or f"now: {stage_name(stage)}",
        stage=stage,
        **made,
    )
    return store.case(case.id)


def resolve(store: Store, case: Case, *, actor: str, now: datetime, note: str = "") -> Case:
    """Close the case as resolved; on a case already resolved (by its last ``advance``), record how (``note``)."""
    if case.status == "closed" and case.stage == "resolved" and note.strip():
        if case.owner and case.owner != actor:
            raise CaseError(f"case {case.ref} is owned by {case.owner}; they record how it was solved")
        store.update_case(case.id, now=now, actor=actor, event="resolved", note=note)
        return store.case(case.id)
    case = _owned(store, case, actor, now)
    store.update_case(
        case.id,
        now=now,
        actor=actor,
        event="resolved",
        note=note or "resolved",
        status="closed",
        stage="resolved",
        resolved_at=now,
    )
    return store.case(case.id)


def handover(store: Store, case: Case, *, actor: str, to: str, now: datetime, note: str = "") -> Case:
    """Hand the case to ``to``, who becomes its one owner (doctrine §4: the customer is never bounced, the
    colleague takes the whole case); only its owner hands it over (an unowned case is simply given)."""
    to = to.strip()
    if not to:
        raise CaseError("say to whom (--to NAME)")
    if case.status != "open":
        raise CaseError(f"case {case.ref} is {case.status}")
    if case.owner and case.owner != actor:
        raise CaseError(f"case {case.ref} is owned by {case.owner}; they hand it over")
    if case.owner == to:
        raise CaseError(f"case {case.ref} is already owned by {to}")
    said = f"handed over by {actor} to {to}" if case.owner else f"given to {to} by {actor}"
    changes: dict = {"owner": to}
    if case.action and (case.action_owner or case.owner) == case.owner:
        changes["action_owner"] = to  # the plan goes with the case
    store.update_case(
        case.id, now=now, actor=actor, event="handover", note=f"{said}: {note}" if note else said, **changes
    )
    return store.case(case.id)


def contacted(store: Store, case: Case, *, now: datetime) -> None:
    """The first private message went out: it made contact, said thank you and asked what happened."""
    if _before(case.stage, "what_happened"):
        store.update_case(
            case.id,
            now=now,
            actor="mentionbot",
            event="stage",
            note="asked what happened",
            stage="what_happened",
        )


def customer_replied(store: Store, case: Case, *, at: datetime, now: datetime, text: str) -> None:
    """The customer answered in private: attach it to the case; on to finding the solution."""
    changes: dict = {} if case.customer_replied_at else {"customer_replied_at": at}
    if _before(case.stage, "find_solution"):
        changes["stage"] = "find_solution"
    store.update_case(
        case.id, now=now, actor=case.author_handle, event="customer_reply", note=text, **changes
    )


# -- the clocks -----------------------------------------------------------------------------------------------


def sweep(store: Store, sla: SlaSettings, *, now: datetime, notify: Callable[[Nudge], None]) -> list[Nudge]:
    """Check every open case's clocks once; each reminder is sent once."""
    nudges: list[Nudge] = []
    remind = timedelta(hours=sla.remind_before_hours)
    for case in store.cases(status="open"):
        events = store.case_events(case.id)
        done = {e.kind for e in events}
        if case.acknowledged_at is None:
            if now >= case.due_at and "overdue" not in done:
                nudges.append(
                    Nudge(case, "overdue", f"{case.ref} is overdue: no answer since {case.opened_at:%H:%M}Z")
                )
            elif now >= case.due_at - remind and not done & {"reminder", "overdue"}:
                left = int((case.due_at - now).total_seconds() // 60)
                nudges.append(Nudge(case, "reminder", f"{case.ref} is due in {left} min ({case.intent})"))
        elif case.intent == "inquiry" and case.customer_replied_at is None and not case.action:
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
                        Nudge(
                            case,
                            "follow_up",
                            f"{case.ref}: follow-up {case.follow_ups + 1} of {sla.follow_ups}",
                        )
                    )
        if case.action_due:
            # Reminders about the current plan only: a new plan starts its own reminders.
            since = max((i for i, e in enumerate(events) if e.kind == "plan"), default=-1)
            said = {e.kind for e in events[since + 1 :]}
            who = case.action_owner or case.owner
            if now >= case.action_due and "action_overdue" not in said:
                nudges.append(Nudge(case, "action_overdue", f"{case.ref}: {who} was to {case.action} by now"))
            elif now >= case.action_due - remind and not said & {"action_reminder", "action_overdue"}:
                nudges.append(
                    Nudge(
                        case,
                        "action_reminder",
                        f"{case.ref}: {who} will {case.action} by {case.action_due:%H:%M}Z",
                    )
                )
    for nudge in nudges:
        record(store, nudge, sla=sla, now=now)
        notify(nudge)
    return nudges


def record(store: Store, nudge: Nudge, *, sla: SlaSettings, now: datetime) -> None:
    """Write a nudge into the case's history (and count a follow-up, or close the case)."""
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


# -- where the case lives -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mirror:
    """Where a case lives besides our store, for ``mentionbot case``."""

    backend: str  # none | email | zammad | zendesk
    where: str
    link: str | None = None
    customer: str | None = None
    mails: int = 0


def mirror_of(case: Case, store: Store, config: Config) -> Mirror:
    """Where ``case`` is mirrored under the configured backend (``[cases] backend``), and its link there."""
    backend = config.cases.backend
    if backend == "email":
        from responders.email import plus_address

        mailbox = config.cases.email.mailbox(config.brand)
        mails = [m for m in store.case_mails(case.id) if m.direction in ("in", "out", "agent")]
        return Mirror(
            "email",
            f"the shared mailbox {mailbox}",
            link=f"mailto:{plus_address(mailbox, case.ref)}",
            customer=store.case_address(case.id),
            mails=len(mails),
        )
    if backend in ("zammad", "zendesk"):
        desk = backend.title()
        mirror = store.case_mirror(case.id)
        if not mirror:
            return Mirror(backend, f"{desk} (not mirrored yet: it is when {desk} answers)")
        return Mirror(backend, f"{desk} ticket {mirror.remote_id} ({mirror.state})", link=mirror.link)
    return Mirror("none", "mentionbot's store only")


class CaseBackend:
    """Where the private case lives beside the store (``[cases] backend``): the shared mailbox or a helpdesk. The
    case stays ours (clocks, history, report); the backend mirrors it, run once a cycle by the leading daemon."""

    backend: ClassVar[str]  # its name in ``[cases] backend`` and its ``[cases.<name>]`` table

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Clock,
        on_event: Callable[..., object] = lambda kind, **data: None,
    ):
        self.config = config
        self.settings = getattr(config.cases, self.backend)
        self.store = store
        self.clock = clock
        self.on_event = on_event

    def run_once(self) -> int:
        """One cycle: what is new on either side carried to the other; returns the changes brought back."""
        raise NotImplementedError
