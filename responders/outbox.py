"""The outbox: every approved reply and private message is posted exactly once, whatever happens.

Write-ahead: an item is claimed as ``sending`` (committed, with who claimed it and when) before the platform is
called, and ``sent`` after. Two approvals of one draft queue one item (the draft's state change is conditional and
the idempotency key unique), and two workers cannot both claim it. An item left in ``sending`` by a worker that
died, or whose post timed out, was interrupted between the platform's answer and our commit: before it is tried
again the platform is asked whether our reply is already there (``find_reply``), or the post is repeated under the
same idempotency key where the platform honours one; where neither is possible the item is held for a human
instead of risking a second post. A claim held by a live worker is left alone until its lease runs out.

Before a public reply is posted, the connector is asked whether a teammate already answered in the thread from one
of the brand's accounts (``team_replied``); if so the draft is settled as answered by the team and nothing is posted.

Right before posting, every text passes the final check (``responders.guard.check``) once more, whoever wrote or
edited it: an item it refuses is settled as failed with the reason, never posted. With ``dry_run`` an item is settled
as a dry run: its draft says so, and its case is not acknowledged or contacted, since nothing was sent.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot import cases
from bot.clock import Clock
from bot.config import BrandSettings
from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError
from bot.store import OutboxItem, Store
from connectors.base import Connector
from responders import guard

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
# A claim older than this is taken over even if its worker looks alive (another machine, a hung process).
LEASE = timedelta(minutes=10)
# However long a platform's rate-limit header says to wait, an item is tried again within a day.
MAX_WAIT = timedelta(days=1)
HOST = socket.gethostname()


def worker_id() -> str:
    """Who is claiming: host, process and thread."""
    return f"{HOST}:{os.getpid()}:{threading.get_ident()}"


def claim_is_dead(claimed_by: str | None) -> bool:
    """Whether the worker that claimed an item is gone (no claim, or a process on this host that has exited)."""
    if not claimed_by:
        return True
    host, _, rest = claimed_by.partition(":")
    if host != HOST:
        return False
    pid = int(rest.split(":")[0] or 0)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def crash_point(name: str) -> None:
    """Kill this process here when ``MENTIONBOT_CRASH_AT`` names this point (fault-injection tests only)."""
    if os.environ.get("MENTIONBOT_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True, slots=True)
class Sent:
    """One item the outbox settled in a run."""

    item_id: int
    kind: str
    platform: str
    mention_id: str
    state: str
    posted_id: str | None
    text: str
    error: str | None = None


class Outbox:
    """Posts queued items through their connectors."""

    def __init__(
        self,
        store: Store,
        connectors: dict[str, Connector],
        *,
        clock: Clock,
        dry_run: bool,
        on_settled: Callable[[Sent], Any] | None = None,
        brand: BrandSettings | None = None,
    ):
        self.store = store
        self.connectors = connectors
        self.clock = clock
        self.dry_run = dry_run
        # Without the brand's settings no contact route is known, so the final check lets no link or address out.
        self.brand = brand or BrandSettings()
        self.on_settled = on_settled or (lambda sent: None)
        self.resting: dict[str, datetime] = {}  # platform → until when it asked us not to post (a 429)

    def run_once(self) -> list[Sent]:
        """Reconcile interrupted items, then post what is due. Returns what was settled."""
        if paused := self.store.posting_paused():
            log.info("outbox: posting is paused (%s)", paused)
            return []
        me = worker_id()
        now = self.clock.now()
        settled = []
        for item in self.store.outbox("sending"):
            expired = item.claimed_at is None or now - item.claimed_at > LEASE
            if not (expired or claim_is_dead(item.claimed_by)):
                continue  # another worker is posting it right now
            if self.store.take_over_outbox(item.id, claimed_by=item.claimed_by, by=me, now=now) and (
                sent := self._reconcile(self.store.outbox_item(item.id))
            ):
                settled.append(sent)
        while item := self.store.claim_next_outbox(
            now=now, by=me, skip_platforms=[p for p, until in self.resting.items() if until > now]
        ):
            if sent := self._post(item):
                settled.append(sent)
        return settled

    # -- one item ---------------------------------------------------------------------------------------------

    def _post(self, item: OutboxItem) -> Sent | None:
        connector = self.connectors.get(item.platform)
        if connector is None:
            return self._retry(item, f"connector {item.platform} is not enabled")
        mention = self.store.mention(item.platform, item.mention_id)
        # A direct status reaches everyone it @-mentions: a private text may name its recipient alone.
        handles = [mention.author.handle]
        if item.kind == "reply":
            handles += connector.own_accounts()
        if problems := guard.check(item.text, brand=self.brand, handles=handles):
            log.warning("outbox: item %s refused by the final check: %s", item.id, "; ".join(problems))
            error = "refused by the final check, not posted: " + "; ".join(problems)
            return self._settle(item, "failed", None, error=error)
        if self.dry_run:
            return self._settle(item, "dry_run", None)
        if item.kind == "reply":
            try:
                teammate = connector.team_replied(mention)
            except ConnectorError as exc:
                return self._retry(item, f"cannot see the thread yet: {exc}")
            if teammate:
                log.info("outbox: item %s: %s already answered in the thread; not posting", item.id, teammate)
                return self._settle(item, "team_replied", teammate)
        crash_point("outbox.before_post")
        try:
            if item.kind == "reply":
                posted_id = connector.reply(mention, item.text, idempotency_key=item.idempotency_key)
            else:
                posted_id = connector.message(mention, item.text, idempotency_key=item.idempotency_key)
        except ReplyNotAllowed as exc:
            return self._settle(item, "manual", None, error=str(exc))
        except TransientError as exc:
            if exc.retry_after is not None:
                # The platform refused before doing anything (a 429, a spent budget) and said when to come back.
                return self._retry(item, str(exc), wait=exc.retry_after)
            # A timeout may hide a post that went through: treat it as uncertain and reconcile before retrying.
            return self._retry(item, str(exc), uncertain=True)
        except FatalError as exc:
            return self._retry(item, str(exc))
        except (ConnectorError, NotImplementedError) as exc:
            return self._settle(item, "failed", None, error=str(exc))
        crash_point("outbox.after_post")
        crash_point(f"outbox.after_{item.kind}")
        return self._settle(item, "sent", posted_id)

    def _reconcile(self, item: OutboxItem) -> Sent | None:
        """Settle an item interrupted mid-post without posting it twice."""
        connector = self.connectors.get(item.platform)
        if connector is None:
            return None
        mention = self.store.mention(item.platform, item.mention_id)
        capability = "reconcile" if item.kind == "reply" else "reconcile_message"
        if capability in connector.capabilities:
            try:
                if item.kind == "reply":
                    found = connector.find_reply(mention)
                else:
                    found = connector.find_message(mention, item.text)
            except ConnectorError as exc:
                log.warning("outbox: cannot reconcile item %s yet: %s", item.id, exc)
                self.store.settle_outbox(item.id, state="sending", now=self.clock.now(), claimed_by=None)
                return None
            if found:
                log.info("outbox: item %s was already posted as %s; not posting again", item.id, found)
                return self._settle(item, "sent", found)
            self.store.settle_outbox(item.id, state="pending", now=self.clock.now())
            return None
        if getattr(connector, "idempotent_posts", False):
            self.store.settle_outbox(item.id, state="pending", now=self.clock.now())
            return None
        return self._settle(
            item,
            "uncertain",
            None,
            error="interrupted while posting; the platform cannot tell whether it went through: check by hand",
        )

    def _retry(
        self, item: OutboxItem, error: str, *, uncertain: bool = False, wait: float | None = None
    ) -> Sent | None:
        """Leave ``item`` for a later run (``wait``: the seconds the platform asked for); nothing waits here."""
        if wait is not None and wait >= 0:
            # Its other items wait too, without a request each: the platform said it would refuse them.
            until = self.clock.now() + timedelta(seconds=min(wait, MAX_WAIT.total_seconds()))
            self.resting[item.platform] = until
        if item.attempts >= MAX_ATTEMPTS:
            return self._settle(item, "failed", None, error=error)
        delay = timedelta(minutes=2**item.attempts)
        if item.platform in self.resting:
            delay = max(delay, self.resting[item.platform] - self.clock.now())
        # An uncertain item stays "sending" but unclaimed: the next run reconciles it before any new attempt.
        state = "sending" if uncertain else "pending"
        log.warning("outbox: %s item %s on %s: %s", item.kind, item.id, item.platform, error)
        self.store.settle_outbox(
            item.id,
            state=state,
            now=self.clock.now(),
            error=error,
            next_attempt_at=self.clock.now() + delay,
            claimed_by=None,
            claimed_at=None,
        )
        return None

    def _settle(
        self, item: OutboxItem, state: str, posted_id: str | None, *, error: str | None = None
    ) -> Sent:
        """Record the outcome of an item, its draft and its case in one transaction."""
        now = self.clock.now()
        draft_state = {
            "sent": "posted",
            "dry_run": "dry_run",
            "manual": "manual",
            "team_replied": "team_replied",
        }.get(state, "failed")
        with self.store.transaction():
            self.store.settle_outbox(
                item.id,
                state=state,
                now=now,
                posted_id=posted_id,
                error=error,
                sent_at=now if state == "sent" else None,
            )
            if item.draft_id and item.kind == "reply":
                action = {"dry_run": "dry run: not posted", "team_replied": "answered by a teammate"}.get(
                    state, draft_state
                )
                self.store.transition(
                    item.draft_id,
                    from_states=("approved", "posting", "failed"),
                    to_state=draft_state,
                    actor="outbox",
                    now=now,
                    action=action,
                    detail=error or posted_id,
                    posted_id=posted_id,
                    error=error,
                )
            if item.case_id and state == "dry_run":
                # Nothing reached the customer: the case's clocks keep running, its history says what was not sent.
                self.store.update_case(
                    item.case_id,
                    now=now,
                    actor="outbox",
                    event="dry_run",
                    note=f"{item.kind} not sent (dry run)",
                )
            elif item.case_id and state in ("sent", "team_replied"):
                field = "acknowledged_at" if item.kind == "reply" else "contacted_at"
                case = self.store.case(item.case_id)
                if getattr(case, field) is None:
                    note = f"answered by {posted_id}" if state == "team_replied" else "posted"
                    self.store.update_case(
                        item.case_id,
                        now=now,
                        actor="outbox",
                        event=field.split("_")[0],
                        note=f"{item.kind} {note}",
                        **{field: now},
                    )
                    if field == "contacted_at":
                        cases.contacted(self.store, case, now=now)
        sent = Sent(
            item.id,
            item.kind,
            item.platform,
            item.mention_id,
            state,
            posted_id,
            item.text,
            error,
        )
        self.on_settled(sent)
        return sent
