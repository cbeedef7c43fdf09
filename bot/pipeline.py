"""The way one mention travels: poll → store → triage → draft → approval → outbox → case.

``Pipeline`` holds one instance of each enabled connector and runs the stages; the daemon schedules them and the
demo and tests drive them directly. Everything noteworthy is reported through ``on_event(kind, **data)`` so that the
daemon can log it, the demo can print it and Discord can show it, without the pipeline knowing who listens.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from bot import cases, decisions
from bot.clock import Clock, SystemClock
from bot.config import Config
from bot.errors import ConnectorError, FatalError, TransientError
from bot.models import HELD, CredentialExpiry, FetchResult, Mention, Quarantined, Triage, excerpt
from bot.store import Store, iso
from bot.triage import Triager, off_topic
from connectors import load, rules_for
from connectors.base import Capability, Connector
from responders import compose
from responders.outbox import Outbox, Sent

log = logging.getLogger(__name__)

EventSink = Callable[..., Any]
# A connector whose poll failed is skipped until its back-off has passed: the platform's own wait (a 429's reset),
# else 30 s doubling to an hour. Nothing waits in the meantime: the other jobs run on.
BACKOFF_SECONDS = 30
MAX_BACKOFF_SECONDS = 3600
MAX_RETRY_AFTER_SECONDS = 86_400


def build_connectors(config: Config, store: Store, *, clock: Clock) -> dict[str, Connector]:
    """One instance of every enabled connector, keeping its state (a quota, private replies) in ``store``."""
    state_dir = config.resolve(config.store.path).parent
    return {
        name: load(name).from_config(settings, clock=clock, state_dir=state_dir, state=store)
        for name, settings in config.enabled_connectors().items()
    }


def case_backend(
    config: Config, store: Store, *, clock: Clock, on_event: EventSink
) -> cases.CaseBackend | None:
    """The configured mirror of the cases (``[cases] backend``), or None for the store alone."""
    if config.cases.backend == "email":
        from bot.mailbox import EmailBackend

        return EmailBackend(config, store, clock=clock, on_event=on_event)
    if config.cases.backend == "zammad":
        from bot.helpdesk import ZammadDesk

        return ZammadDesk(config, store, clock=clock, on_event=on_event)
    if config.cases.backend == "zendesk":
        from bot.helpdesk import ZendeskDesk

        return ZendeskDesk(config, store, clock=clock, on_event=on_event)
    return None


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
    quarantined: int = 0
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
        self.connectors = (
            connectors if connectors is not None else build_connectors(config, store, clock=self.clock)
        )
        self.triager = triager or Triager.from_store(store, languages=tuple(config.brand.languages))
        self.on_event = on_event or (lambda kind, **data: None)
        self.outbox = Outbox(
            store,
            self.connectors,
            clock=self.clock,
            dry_run=config.dry_run,
            on_settled=self._settled,
            brand=config.brand,
        )
        self.templates = compose.load_templates(
            config.resolve(config.templates.path) if config.templates.path else None
        )
        self.mirror = case_backend(config, store, clock=self.clock, on_event=self.on_event)
        self.not_before: dict[str, datetime] = {}
        self.failures: dict[str, int] = {}
        self.expiries: dict[str, tuple[str | None, str, bool] | None] = {}  # as last recorded in the store
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
        paused = self.store.connector_paused(name)
        if paused:
            result.status, result.error = "paused", paused
            return result
        if name in self.not_before and now < self.not_before[name]:
            result.status = "backoff"
            return result
        connector = self.connectors[name]
        # A model trained since (the daemon's retrain, `mentionbot model train`) is used at once.
        self.triager = self.triager.refreshed(self.store)
        started = time.perf_counter()
        calls_before = connector.calls
        new: list[tuple[Mention, Triage | None]] = []
        try:
            fetched = connector.fetch(self.store.get_cursor(name))
            own = {m.key for m in fetched.mentions if connector.is_own(m.author)}
            for item in fetched.quarantined:
                log.warning("%s: quarantined item %s: %s", name, item.item_id or "(no id)", item.reason)
            new = self.ingest(
                name, fetched.mentions, fetched.cursor, own=own, quarantined=fetched.quarantined
            )
            result.fetched, result.new, result.mentions = len(fetched.mentions), len(new), [m for m, _ in new]
            result.quarantined = len(fetched.quarantined)
            self.failures.pop(name, None)
            self.not_before.pop(name, None)
        except TransientError as exc:
            self._failed(result, exc, retry_after=exc.retry_after)
        except FatalError as exc:
            self._failed(result, exc, fatal=True)
        except Exception as exc:  # a connector's bug must not stop the others
            # The traceback only with --verbose: its last line repeats the message unbounded; _failed logs it cut.
            log.debug("%s: poll failed", name, exc_info=True)
            self._failed(result, exc)
        # Private channels are read only while someone may answer there: a quiet install costs no extra request.
        if (
            result.status == "ok"
            and Capability.PRIVATE in connector.capabilities
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
        self.note_credentials(name)
        self.note_budget(name)
        log.info(
            "poll connector=%s status=%s fetched=%d new=%d quarantined=%d errors=%d calls=%s duration_ms=%d",
            name,
            result.status,
            result.fetched,
            result.new,
            result.quarantined,
            result.errors,
            "-" if result.calls is None else result.calls,
            result.duration_ms,
        )
        self.on_event("polled", result=result)
        for mention, triage in new:
            try:
                self.respond(mention, triage)
            except Exception:
                log.exception("%s: could not handle mention %s", name, mention.id)
        return result

    def receive(self, name: str, mentions: list[Mention]) -> list[Mention]:
        """Store and handle mentions a platform pushed (a webhook delivery), as a poll would; the ones stored
        before (a repeated delivery, or one a poll read first) are not handled again. The cursor stays as it is:
        polling goes on behind the webhook as the backfill."""
        with self.lock:
            connector = self.connectors[name]
            own = {m.key for m in mentions if connector.is_own(m.author)}
            new = self.ingest(name, mentions, self.store.get_cursor(name), own=own)
            for mention, triage in new:
                try:
                    self.respond(mention, triage)
                except Exception:
                    log.exception("%s: could not handle mention %s", name, mention.id)
            return [m for m, _ in new]

    def note_budget(self, name: str) -> None:
        """Keep the connector's own budget (YouTube's quota) where ``mentionbot status`` reads it."""
        try:
            budget = self.connectors[name].budget()
        except Exception:  # a connector's bug must not stop the poll
            log.exception("%s: could not tell its budget", name)
            return
        if self.store.connector_budget(name) != budget:
            self.store.set_connector_budget(name, budget, now=self.clock.now())

    def note_credentials(self, name: str) -> CredentialExpiry | None:
        """Record when the connector's credential expires (what its platform said last), when that changed."""
        try:
            expiry = self.connectors[name].credential_expiry()
        except Exception:  # a connector's bug must not stop the poll
            log.exception("%s: could not tell when its credentials expire", name)
            return None
        seen = None if expiry is None else (iso(expiry.at), expiry.what, expiry.renews)
        if name not in self.expiries or self.expiries[name] != seen:
            self.store.set_credential_expiry(name, expiry, now=self.clock.now())
            self.expiries[name] = seen
        return expiry

    def _failed(
        self, result: PollResult, exc: Exception, *, retry_after: float | None = None, fatal: bool = False
    ) -> None:
        name = result.connector
        message = excerpt(str(exc) or type(exc).__name__)  # one line, bounded: it may quote a response body
        result.errors, result.error = 1, message
        if fatal:
            result.status = "fatal"
            self.store.set_connector_paused(name, message, now=self.clock.now())
            log.error("%s: paused until its credentials are fixed: %s", name, message)
            self.on_event("connector_paused", connector=name, error=message)
            return
        result.status = "error"
        count = self.failures[name] = self.failures.get(name, 0) + 1
        wait = min(BACKOFF_SECONDS * 2 ** (count - 1), MAX_BACKOFF_SECONDS)
        if retry_after is not None and retry_after >= 0:  # (NaN is not)
            # What the platform asked for, however short; no more than a day, whatever a header said.
            wait = min(retry_after, MAX_RETRY_AFTER_SECONDS)
        self.not_before[name] = self.clock.now() + timedelta(seconds=wait)
        log.warning("%s: poll failed (%s); next try in %ds", name, message, wait)

    # -- new mentions -----------------------------------------------------------------------------------------

    def ingest(
        self,
        name: str,
        mentions: list[Mention],
        cursor: str | None,
        *,
        own: set[str] = frozenset(),
        quarantined: Iterable[Quarantined] = (),
    ) -> list[tuple[Mention, Triage | None]]:
        """Triage the mentions not seen before and store them, their decisions, the items set aside and the cursor
        in one transaction.

        Returns each new mention with its triage (``None`` for the brand's own posts and for a text triage
        failed on, which is logged and kept untriaged rather than holding back the rest).
        """
        fresh = self.store.unseen(mentions)
        decided = self._decide(name, fresh, [None if m.key in own else self._triage(name, m) for m in fresh])
        new = self.store.save_fetch(
            name, fresh, cursor, now=self.clock.now(), own=own, triages=decided, quarantined=quarantined
        )
        return [(m, decided.get(m.key)) for m in new]

    def ingest_many(
        self, name: str, batches: Iterable[FetchResult]
    ) -> Iterator[list[tuple[Mention, Triage | None]]]:
        """``ingest`` over many batches (a backfill), yielding each batch's new mentions once stored with the
        batch's items set aside (a batch's cursor is not stored: a backfill has none).

        Where the machine has a second core, worker processes (one per core) triage the next batches while this
        one parses and stores batch n: triage is most of the work, and spread over every core with the parsing
        and SQLite, the import keeps close to the rate of triage alone.
        """
        seen: set[str] = set()
        complaints: dict[tuple[str, str], int] = {}

        def fresh_of(batch: FetchResult) -> FetchResult:
            fresh = [m for m in self.store.unseen(batch.mentions) if m.key not in seen]
            seen.update(m.key for m in fresh)
            return FetchResult(fresh, None, batch.quarantined)

        def stored(fresh: FetchResult, triages: list[Triage | None]) -> list[tuple[Mention, Triage | None]]:
            decided = self._decide(name, fresh.mentions, triages, complaints)
            new = self.store.save_fetch(
                name,
                fresh.mentions,
                None,
                now=self.clock.now(),
                triages=decided,
                quarantined=fresh.quarantined,
            )
            return [(m, decided.get(m.key)) for m in new]

        def here(fresh: FetchResult) -> list[Triage | None]:
            return [self._triage(name, m) for m in fresh.mentions]

        batches = iter(batches)
        first, second = next(batches, None), next(batches, None)
        if second is None:  # one batch: not worth a process
            if first is not None:
                yield stored(fresh := fresh_of(first), here(fresh))
            return
        with self.store.bulk_load(), TriageWorker.start(self.triager) as worker:
            if worker is None:
                for batch in itertools.chain((first, second), batches):
                    yield stored(fresh := fresh_of(batch), here(fresh))
                return

            def finished(
                done: FetchResult, future: Future[list[Triage | None]]
            ) -> list[tuple[Mention, Triage | None]]:
                try:
                    triages = future.result()
                except Exception as exc:  # a worker died: carry on here
                    if not isinstance(exc, BrokenProcessPool) or not worker.broken:
                        log.exception("%s: the triage worker failed; triaging in this process", name)
                    worker.broken = True
                    triages = here(done)
                return stored(done, triages)

            # The workers start up on the second batch while the first is triaged here; after that each worker
            # has a batch in hand and one more waits, so none idles while this process parses and stores.
            pending = [(fresh := fresh_of(second), worker.triage(fresh.mentions))]
            yield stored(fresh := fresh_of(first), here(fresh))
            for batch in batches:
                pending.append((fresh := fresh_of(batch), worker.triage(fresh.mentions)))
                if len(pending) > worker.processes:
                    yield finished(*pending.pop(0))
            while pending:
                yield finished(*pending.pop(0))

    def _triage(self, name: str, mention: Mention) -> Triage | None:
        try:
            return self.triager.triage(mention)
        except Exception:
            log.exception("%s: could not triage mention %s", name, mention.id)
            return None

    def _decide(
        self,
        name: str,
        fresh: list[Mention],
        triages: list[Triage | None],
        complaints: dict[tuple[str, str], int] | None = None,
    ) -> dict[str, Triage]:
        """The decisions to store, by mention key: repeat complainers more urgent, excluded topics set aside.

        ``complaints`` carries each author's complaint count from batch to batch within one import.
        """
        complaints = {} if complaints is None else complaints
        authors = [m for m in fresh if (m.platform, m.author.handle) not in complaints]
        complaints.update(dict.fromkeys(((m.platform, m.author.handle) for m in authors), 0))
        complaints.update(self.store.complaints_so_far(authors))
        decided: dict[str, Triage] = {}
        for mention, triage in zip(fresh, triages, strict=True):
            if triage is None:
                continue
            author = (mention.platform, mention.author.handle)
            if triage.intent == "complaint" and (earlier := complaints[author]):
                reason = f"repeat contact: complaint #{earlier + 1} from this person"
                triage = replace(
                    triage, urgency=min(3, triage.urgency + 1), reasons=(reason, *triage.reasons)
                )
            if term := self.config.brand.off_topic(mention.text):
                triage = off_topic(triage, term)
            elif mention.kind == "story_mention" and not mention.text.strip():
                # what the person said is in their story (a picture or a video), not in words: a person looks
                reason = f"{HELD}a story mention without words: look at the story before answering"
                triage = replace(triage, reasons=(reason, *triage.reasons))
            if triage.intent == "complaint":
                complaints[author] += 1
            decided[mention.key] = triage
        return decided

    def respond(self, mention: Mention, triage: Triage | None) -> None:
        """Where the doctrine says so, draft the reply to a new, triaged mention and open its case."""
        now = self.clock.now()
        if triage is None:
            if self.store.mention_is_own(mention.platform, mention.id):
                self.on_event("skipped", mention=mention, reason="written by the brand's own account")
            return
        self.on_event("triaged", mention=mention, triage=triage)
        replies = self.config.replies
        if triage.intent not in replies.reply_to and not triage.needs_human and not triage.held:
            return
        age = now - mention.created_at
        if age > timedelta(hours=replies.max_age_hours):
            self.on_event("skipped", mention=mention, reason=f"older than {replies.max_age_hours:g} h")
            return
        connector = self.connectors.get(mention.platform)
        rules = connector.rules if connector else rules_for(mention.platform)  # an instance may be read-only
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
            can_reply=bool(connector and connector.can_reply(mention)) and not mention.unanswerable,
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
        if mention.unanswerable:
            problems.append(f"{mention.platform} will not take a reply here: {mention.unanswerable}")
        if triage.needs_human:
            problems.append(f"language {triage.lang!r} is not one the team answers in: a human should reply")
        if triage.held:
            # A problem, not a note: it shows on every card and keeps the draft from any automatic approval.
            problems.append(HELD + triage.held)
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
            notes=draft_text.notes,
        )
        if draft is None:
            return
        self.on_event("drafted", draft=draft, mention=mention)
        if (
            triage.intent in replies.auto_approve
            and not triage.held
            and not (draft.findings or draft.problems)
            and draft.route == "reply"
        ):
            self.on_event(
                "approved",
                draft=decisions.approve(
                    self.store, draft.id, actor="auto-policy", now=now, brand=self.config.brand
                ),
            )

    def private_replies(self, name: str) -> int:
        """Attach customers' private answers to their open cases (where the platform lets us read them)."""
        try:
            fetched = self.connectors[name].fetch_private(self.store.private_cursor(name))
        except ConnectorError as exc:
            log.warning("%s: could not read private messages: %s", name, excerpt(exc))
            return 0
        now = self.clock.now()
        found = [(m, self.store.open_case_of(name, m.author.handle)) for m in fetched.mentions]
        found = [(m, case) for m, case in found if case is not None]
        with self.store.write_transaction():
            if fetched.cursor is not None:
                self.store.set_private_cursor(name, fetched.cursor, now=now)
            for message, case in found:
                cases.customer_replied(self.store, case, at=message.created_at, now=now, text=message.text)
        for message, case in found:
            self.on_event("customer_replied", case=case, mention=message)
        return len(found)

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
            connector = self.connectors.get(row.platform)
            if not (connector and connector.rules.can_message):
                continue
            case = self.store.case(row.case_id)
            mention = self.store.mention(row.platform, row.mention_id)
            queued += bool(
                self.store.enqueue(
                    kind="message",
                    platform=row.platform,
                    mention_id=row.mention_id,
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

    def mirror_cycle(self) -> int:
        """Bring the case backend's news into the cases and the cases' news to it (``[cases] backend``): the
        shared mailbox's mails, or the helpdesk's tickets."""
        if self.mirror is None:
            return 0
        with self.lock:
            return self.mirror.run_once()

    def run_cycle(self) -> list[PollResult]:
        """Poll every enabled connector once (and the case backend), post what is approved, and sweep the clocks."""
        results = [self.poll(name) for name in self.connectors]
        self.mirror_cycle()
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


class TriageWorker:
    """Processes, one per core, that triage batches of mentions with a copy of the pipeline's triager."""

    MIN_CORES = 2
    # The one process that parses and stores spends about as long on a row as a worker's triage: more workers
    # than this would only wait for it.
    MAX_PROCESSES = 4

    def __init__(self, executor: Any, processes: int):
        self.executor = executor
        self.processes = processes
        self.broken = False

    @classmethod
    @contextmanager
    def start(cls, triager: Triager) -> Iterator[TriageWorker | None]:
        """The workers, or ``None`` on a single core (where they would only compete with the caller)."""
        cores = len(os.sched_getaffinity(0))
        if cores < cls.MIN_CORES:
            yield None
            return
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        processes = min(cores, cls.MAX_PROCESSES)
        blob = triager.model.to_bytes() if triager.model else None
        # spawn, not fork: the caller may hold threads (the progress bar, the Discord bot) and open SQLite handles
        executor = ProcessPoolExecutor(
            processes,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(triager.languages, blob),
        )
        try:
            yield cls(executor, processes)
        finally:
            executor.shutdown(cancel_futures=True)

    def triage(self, mentions: list[Mention]) -> Future[list[Triage | None]]:
        """The triage of each mention, in order (``None`` where it failed), when the worker has done them."""
        try:
            future = self.executor.submit(_triage_in_worker, [(m.key, m.text, m.rating) for m in mentions])
        except BrokenProcessPool as exc:
            failed: Future[list[Triage | None]] = Future()
            failed.set_exception(exc)
            return failed
        triages: Future[list[Triage | None]] = Future()
        future.add_done_callback(lambda done: _chain(done, triages))
        return triages


_worker_triager: Triager | None = None
_TRIAGE_FIELDS = tuple(f.name for f in fields(Triage))


def _start_worker(languages: tuple[str, ...], model_blob: bytes | None) -> None:
    from bot.complaints import ComplaintModel

    global _worker_triager
    # Below the caller's priority: the one process that parses and stores sets the pace, the workers fill in.
    os.nice(10)
    model = ComplaintModel.from_bytes(model_blob) if model_blob else None
    _worker_triager = Triager(languages=languages, model=model)


def _triage_in_worker(items: list[tuple[str, str, int | None]]) -> list[tuple | None]:
    # Plain tuples cross the process boundary several times faster than pickled dataclasses.
    assert _worker_triager is not None
    out: list[tuple | None] = []
    for key, text, rating in items:
        try:
            triage = _worker_triager.triage_text(text, rating=rating)
            out.append(tuple(getattr(triage, name) for name in _TRIAGE_FIELDS))
        except Exception:
            log.exception("could not triage mention %s", key)
            out.append(None)
    return out


def _chain(done: Future[list[tuple | None]], triages: Future[list[Triage | None]]) -> None:
    if (exc := done.exception()) is not None:
        triages.set_exception(exc)
    else:
        triages.set_result([None if row is None else Triage(*row) for row in done.result()])
