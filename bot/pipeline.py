"""The way one mention travels: poll → store → triage → draft → approval → outbox → case.

``Pipeline`` holds one instance of each enabled connector and runs the stages; the daemon schedules them and the
demo and tests drive them directly. Everything noteworthy is reported through ``on_event(kind, **data)`` so that the
daemon can log it, the demo can print it and Discord can show it, without the pipeline knowing who listens.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from bot import cases, decisions
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.errors import ConnectorError, FatalError, TransientError
from bot.models import Mention, ReplyRules, Triage
from bot.store import Store
from bot.triage import Triager
from connectors import REGISTRY, load
from connectors.base import Connector
from responders import compose
from responders.outbox import Outbox, Sent

log = logging.getLogger(__name__)

EventSink = Callable[..., Any]


def build_connectors(config: Config, *, clock: Clock) -> dict[str, Connector]:
    """One instance of every enabled connector."""
    state_dir = config.resolve(config.store.path).parent
    return {
        name: load(name).from_config(settings, clock=clock, state_dir=state_dir)
        for name, settings in config.enabled_connectors().items()
    }


@dataclass
class PollResult:
    """What one poll of one connector did."""

    connector: str
    fetched: int = 0
    new: int = 0
    errors: int = 0
    status: str = "ok"
    error: str | None = None
    duration_ms: int = 0
    calls: int | None = None
    mentions: list[Mention] = field(default_factory=list)


class Pipeline:
    """Runs the stages for one configuration and one store."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Clock | None = None,
        connectors: dict[str, Connector] | None = None,
        triager: Triager | None = None,
        on_event: EventSink | None = None,
    ):
        self.config = config
        self.store = store
        self.clock = clock or SystemClock()
        self.connectors = connectors if connectors is not None else build_connectors(config, clock=self.clock)
        self.triager = triager or Triager.from_store(store, languages=tuple(config.brand.languages))
        self.on_event = on_event or (lambda kind, **data: None)
        self.outbox = Outbox(
            store, self.connectors, clock=self.clock, dry_run=config.dry_run, on_settled=self._settled
        )
        self.templates = compose.load_templates(
            config.resolve(config.templates.path) if config.templates.path else None
        )
        self.not_before: dict[str, datetime] = {}
        self.failures: dict[str, int] = {}
        # The daemon's thread and the Discord bot's thread (a manager's approval posts at once) both drive this
        # pipeline, whose store is one SQLite connection: its stages run one at a time, so a transaction is never
        # joined by another thread's writes and a second ``post`` waits for the first instead of finding its items
        # claimed and returning nothing.
        self.lock = threading.RLock()

    # -- polling ----------------------------------------------------------------------------------------------

    def poll(self, name: str) -> PollResult:
        """Fetch one connector's new mentions, store them with its cursor, and triage and draft each new one."""
        with self.lock:
            return self._poll(name)

    def _poll(self, name: str) -> PollResult:
        result = PollResult(name)
        now = self.clock.now()
        paused = self.store.get_setting(f"connector:{name}:paused")
        if paused:
            result.status, result.error = "paused", paused
            return result
        if name in self.not_before and now < self.not_before[name]:
            result.status = "backoff"
            return result
        connector = self.connectors[name]
        started = time.perf_counter()
        calls_before = connector.calls
        try:
            fetched = connector.fetch(self.store.get_cursor(name))
            own = {m.key for m in fetched.mentions if connector.is_own(m.author)}
            new = self.store.save_fetch(name, fetched.mentions, fetched.cursor, now=now, own=own)
            result.fetched, result.new, result.mentions = len(fetched.mentions), len(new), new
            self.failures.pop(name, None)
            self.not_before.pop(name, None)
        except TransientError as exc:
            self._failed(result, exc, retry_after=exc.retry_after)
        except FatalError as exc:
            self._failed(result, exc, fatal=True)
        except Exception as exc:  # a connector's bug must not stop the others
            log.exception("%s: poll failed", name)
            self._failed(result, exc)
        # Private channels are read only while someone may answer there: a quiet install costs no extra request.
        if (
            result.status == "ok"
            and "private" in connector.capabilities
            and self.store.awaiting_private_answers(name)
        ):
            self.private_replies(name)
        if calls_before is not None and connector.calls is not None:
            result.calls = connector.calls - calls_before
        result.duration_ms = int((time.perf_counter() - started) * 1000)
        self.store.record_run(
            name,
            started_at=now,
            duration_ms=result.duration_ms,
            fetched=result.fetched,
            new=result.new,
            errors=result.errors,
            status=result.status,
            error=result.error,
            calls=result.calls,
        )
        log.info(
            "poll connector=%s status=%s fetched=%d new=%d errors=%d calls=%s duration_ms=%d",
            name,
            result.status,
            result.fetched,
            result.new,
            result.errors,
            "-" if result.calls is None else result.calls,
            result.duration_ms,
        )
        self.on_event("polled", result=result)
        for mention in result.mentions:
            try:
                self.handle(mention, own=mention.key in own)
            except Exception:
                log.exception("%s: could not handle mention %s", name, mention.id)
        return result

    def _failed(
        self, result: PollResult, exc: Exception, *, retry_after: float | None = None, fatal: bool = False
    ) -> None:
        name = result.connector
        result.errors, result.error = 1, str(exc)
        if fatal:
            result.status = "fatal"
            self.store.set_setting(f"connector:{name}:paused", str(exc))
            log.error("%s: paused until its credentials are fixed: %s", name, exc)
            self.on_event("connector_paused", connector=name, error=str(exc))
            return
        result.status = "error"
        count = self.failures[name] = self.failures.get(name, 0) + 1
        wait = retry_after if retry_after is not None else min(30 * 2 ** (count - 1), 3600)
        self.not_before[name] = self.clock.now() + timedelta(seconds=wait)
        log.warning("%s: poll failed (%s); next try in %ds", name, exc, wait)

    # -- one mention ------------------------------------------------------------------------------------------

    def handle(self, mention: Mention, *, own: bool = False) -> None:
        """Triage a new mention and, where the doctrine says so, draft its reply and open its case."""
        now = self.clock.now()
        if own:
            self.on_event("skipped", mention=mention, reason="written by the brand's own account")
            return
        triage = self.with_history(mention, self.triager.triage(mention))
        if term := self.config.brand.off_topic(mention.text):
            reason = f"off-topic: contains {term!r} (brand.exclude)"
            triage = replace(triage, intent="other", urgency=0, reasons=(reason, *triage.reasons))
        self.store.save_triage(mention, triage, now=now)
        self.on_event("triaged", mention=mention, triage=triage)
        replies = self.config.replies
        if triage.intent not in replies.reply_to and not triage.needs_human:
            return
        age = now - mention.created_at
        if age > timedelta(hours=replies.max_age_hours):
            self.on_event("skipped", mention=mention, reason=f"older than {replies.max_age_hours:g} h")
            return
        connector = self.connectors.get(mention.platform)
        if connector:
            rules = connector.rules
        elif mention.platform in REGISTRY:
            rules = load(mention.platform).rules
        else:  # imported from a platform we cannot post to: a reply by hand
            rules = ReplyRules(can_reply=False)
        case = None
        if triage.intent in replies.open_case_for:
            case = cases.open_case(
                self.store,
                mention,
                intent=triage.intent,
                sla=self.config.sla,
                now=now,
                tz=self.config.brand.timezone,
            )
            self.on_event("case_opened", case=case, mention=mention)
        draft_text = compose.compose(
            mention,
            triage,
            brand=self.config.brand,
            rules=rules,
            can_reply=bool(connector and connector.can_reply(mention)),
            case=case,
            inquiry_hours=self.config.sla.inquiry_hours,
            templates=self.templates,
            used=self.store.template_last_used,
        )
        if draft_text is None:
            return
        if draft_text.advocate:
            self.store.mark_advocate(mention.platform, mention.author.handle)
        problems = list(draft_text.problems)
        if triage.needs_human:
            problems.append(f"language {triage.lang!r} is not one the team answers in: a human should reply")
        draft = self.store.add_draft(
            mention,
            intent=triage.intent,
            text=draft_text.text,
            now=now,
            template=draft_text.template,
            route="manual" if triage.needs_human else draft_text.route,
            findings=draft_text.findings,
            problems=problems,
            case_id=case.id if case else None,
        )
        if draft is None:
            return
        self.on_event("drafted", draft=draft, mention=mention)
        if (
            triage.intent in replies.auto_approve
            and not (draft.findings or draft.problems)
            and draft.route == "reply"
        ):
            self.on_event(
                "approved", draft=decisions.approve(self.store, draft.id, actor="auto-policy", now=now)
            )

    def private_replies(self, name: str) -> int:
        """Attach customers' private answers to their open cases (where the platform lets us read them)."""
        key = f"private-cursor:{name}"
        try:
            fetched = self.connectors[name].fetch_private(self.store.get_setting(key))
        except ConnectorError as exc:
            log.warning("%s: could not read private messages: %s", name, exc)
            return 0
        now = self.clock.now()
        found = [(m, self.store.open_case_of(name, m.author.handle)) for m in fetched.mentions]
        found = [(m, case) for m, case in found if case is not None]
        with self.store.write_transaction():
            if fetched.cursor is not None:
                self.store.set_setting(key, fetched.cursor)
            for message, case in found:
                cases.customer_replied(self.store, case, at=message.created_at, now=now, text=message.text)
        for message, case in found:
            self.on_event("customer_replied", case=case, mention=message)
        return len(found)

    def with_history(self, mention: Mention, triage: Triage) -> Triage:
        """Raise the urgency of a complaint from someone who has complained before (repeated contact)."""
        person = self.store.person(mention.platform, mention.author.handle)
        earlier = person["complaints"] if person else 0
        if triage.intent != "complaint" or not earlier:
            return triage
        reason = f"repeat contact: complaint #{earlier + 1} from this person"
        return replace(triage, urgency=min(3, triage.urgency + 1), reasons=(reason, *triage.reasons))

    # -- posting and clocks -----------------------------------------------------------------------------------

    def post(self) -> list[Sent]:
        """Post what managers have approved (exactly once)."""
        with self.lock:
            self.contact_by_message()
            return self.outbox.run_once()

    def contact_by_message(self) -> int:
        """Queue the private opening of each case whose public answer went to a human (the platform would not
        take our reply, e.g. an X post that did not summon us) where the platform lets us send a private message."""
        queued = 0
        for row in self.store.manual_cases_to_contact():
            connector = self.connectors.get(row["platform"])
            if not (connector and connector.rules.can_message):
                continue
            case = self.store.case(row["case_id"])
            mention = self.store.mention(row["platform"], row["mention_id"])
            queued += bool(
                self.store.enqueue(
                    kind="message",
                    platform=row["platform"],
                    mention_id=row["mention_id"],
                    case_id=case.id,
                    text=compose.private_opening(case, mention, self.config.brand),
                    idempotency_key=f"case-{case.id}-opening",
                    now=self.clock.now(),
                )
            )
        return queued

    def _settled(self, sent: Sent) -> None:
        self.on_event("posted", sent=sent)
        if sent.kind != "reply" or sent.state not in ("sent", "dry_run"):
            return
        case = self.store.case_for(sent.platform, sent.mention_id)
        connector = self.connectors.get(sent.platform)
        if case and connector and connector.rules.can_message and case.contacted_at is None:
            mention = self.store.mention(sent.platform, sent.mention_id)
            self.store.enqueue(
                kind="message",
                platform=sent.platform,
                mention_id=sent.mention_id,
                case_id=case.id,
                text=compose.private_opening(case, mention, self.config.brand),
                idempotency_key=f"case-{case.id}-opening",
                now=self.clock.now(),
            )

    def sweep(self) -> list[cases.Nudge]:
        """Check the SLA clocks of every open case; send the due private follow-ups where the platform allows."""
        with self.lock:
            return cases.sweep(self.store, self.config.sla, now=self.clock.now(), notify=self._nudged)

    def _nudged(self, nudge: cases.Nudge) -> None:
        case = nudge.case
        connector = self.connectors.get(case.platform)
        if nudge.kind == "follow_up" and connector and connector.rules.can_message and case.contacted_at:
            number = case.follow_ups + 1
            self.store.enqueue(
                kind="message",
                platform=case.platform,
                mention_id=case.mention_id,
                case_id=case.id,
                text=compose.private_follow_up(
                    case,
                    self.store.mention(case.platform, case.mention_id),
                    self.config.brand,
                    last=number >= self.config.sla.follow_ups,
                ),
                idempotency_key=f"case-{case.id}-follow-up-{number}",
                now=self.clock.now(),
            )
        self.on_event("nudge", nudge=nudge)

    def run_cycle(self) -> list[PollResult]:
        """Poll every enabled connector once, post what is approved, and sweep the clocks."""
        results = [self.poll(name) for name in self.connectors]
        while self.post():  # a posted reply may queue the case's private message: send it in the same cycle
            pass
        if self.sweep():
            self.post()  # the follow-ups the sweep queued
        return results

    def close(self) -> None:
        """Release what the connectors hold."""
        for connector in self.connectors.values():
            close = getattr(connector, "close", None)
            if callable(close):
                try:
                    close()
                except ConnectorError as exc:
                    log.warning("%s: %s", connector.name, exc)
