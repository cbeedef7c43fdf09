"""The outbox: every approved reply and private message is posted exactly once, whatever happens.

Write-ahead: an item is marked ``sending`` (committed) before the platform is called, and ``sent`` after. An item
found in ``sending`` at start-up was interrupted between the two; before it is tried again, the platform is asked
whether our reply is already there (``find_reply``), or the post is repeated under the same idempotency key where
the platform honours one. Where neither is possible the item is held for a human instead of risking a second post.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.clock import Clock
from bot.errors import ConnectorError, FatalError, ReplyNotAllowed, TransientError
from bot.store import Store
from connectors.base import Connector

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
PAUSED = "posting_paused"


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
    ):
        self.store = store
        self.connectors = connectors
        self.clock = clock
        self.dry_run = dry_run
        self.on_settled = on_settled or (lambda sent: None)

    def run_once(self) -> list[Sent]:
        """Reconcile interrupted items, then post what is due. Returns what was settled."""
        if self.store.get_setting(PAUSED):
            log.info("outbox: posting is paused (%s)", self.store.get_setting(PAUSED))
            return []
        settled = [s for item in self.store.outbox("sending") if (s := self._reconcile(item))]
        now = self.clock.now()
        for item in self.store.outbox("pending"):
            if item["next_attempt_at"] and item["next_attempt_at"] > now.isoformat(timespec="seconds"):
                continue
            if self.store.claim_outbox(item["id"], now=now):
                sent = self._post(self.store.outbox_item(item["id"]))
                if sent:
                    settled.append(sent)
        return settled

    # -- one item ---------------------------------------------------------------------------------------------

    def _post(self, item: dict[str, Any]) -> Sent | None:
        connector = self.connectors.get(item["platform"])
        if connector is None:
            return self._retry(item, f"connector {item['platform']} is not enabled")
        mention = self.store.mention(item["platform"], item["mention_id"])
        if self.dry_run:
            return self._settle(item, "dry_run", None)
        crash_point("outbox.before_post")
        try:
            if item["kind"] == "reply":
                posted_id = connector.reply(mention, item["text"], idempotency_key=item["idempotency_key"])
            else:
                posted_id = connector.message(mention, item["text"], idempotency_key=item["idempotency_key"])
        except ReplyNotAllowed as exc:
            return self._settle(item, "manual", None, error=str(exc))
        except TransientError as exc:
            # A timeout may hide a post that went through: treat it as uncertain and reconcile before retrying.
            return self._retry(item, str(exc), uncertain=True)
        except FatalError as exc:
            return self._retry(item, str(exc))
        except (ConnectorError, NotImplementedError) as exc:
            return self._settle(item, "failed", None, error=str(exc))
        crash_point("outbox.after_post")
        return self._settle(item, "sent", posted_id)

    def _reconcile(self, item: dict[str, Any]) -> Sent | None:
        """Settle an item interrupted mid-post without posting it twice."""
        connector = self.connectors.get(item["platform"])
        if connector is None:
            return None
        mention = self.store.mention(item["platform"], item["mention_id"])
        if item["kind"] == "reply" and "reconcile" in connector.capabilities:
            try:
                found = connector.find_reply(mention)
            except ConnectorError as exc:
                log.warning("outbox: cannot reconcile item %s yet: %s", item["id"], exc)
                return None
            if found:
                log.info("outbox: item %s was already posted as %s; not posting again", item["id"], found)
                return self._settle(item, "sent", found)
            self.store.settle_outbox(item["id"], state="pending", now=self.clock.now())
            return None
        if getattr(connector, "idempotent_posts", False):
            self.store.settle_outbox(item["id"], state="pending", now=self.clock.now())
            return None
        return self._settle(
            item,
            "uncertain",
            None,
            error="interrupted while posting; the platform cannot tell whether it went through: check by hand",
        )

    def _retry(self, item: dict[str, Any], error: str, *, uncertain: bool = False) -> Sent | None:
        if item["attempts"] >= MAX_ATTEMPTS:
            return self._settle(item, "failed", None, error=error)
        delay = timedelta(minutes=2 ** item["attempts"])
        state = "sending" if uncertain else "pending"
        log.warning("outbox: %s item %s on %s: %s", item["kind"], item["id"], item["platform"], error)
        self.store.settle_outbox(
            item["id"],
            state=state,
            now=self.clock.now(),
            error=error,
            next_attempt_at=self.clock.now() + delay,
        )
        return None

    def _settle(
        self, item: dict[str, Any], state: str, posted_id: str | None, *, error: str | None = None
    ) -> Sent:
        """Record the outcome of an item, its draft and its case in one transaction."""
        now = self.clock.now()
        draft_state = {"sent": "posted", "dry_run": "posted", "manual": "manual"}.get(state, "failed")
        with self.store.transaction():
            self.store.settle_outbox(
                item["id"],
                state=state,
                now=now,
                posted_id=posted_id,
                error=error,
                sent_at=now if state in ("sent", "dry_run") else None,
            )
            if item["draft_id"] and item["kind"] == "reply":
                action = {"dry_run": "dry run: not posted"}.get(state, draft_state)
                self.store.transition(
                    item["draft_id"],
                    from_states=("approved", "posting", "failed"),
                    to_state=draft_state,
                    actor="outbox",
                    now=now,
                    action=action,
                    detail=error or posted_id,
                    posted_id=posted_id,
                    error=error,
                )
            if item["case_id"] and state in ("sent", "dry_run"):
                field = "acknowledged_at" if item["kind"] == "reply" else "contacted_at"
                case = self.store.case(item["case_id"])
                if getattr(case, field) is None:
                    note = f"{item['kind']} {'recorded (dry run)' if state == 'dry_run' else 'posted'}"
                    self.store.update_case(
                        item["case_id"],
                        now=now,
                        actor="outbox",
                        event=field.split("_")[0],
                        note=note,
                        **{field: now},
                    )
        sent = Sent(
            item["id"],
            item["kind"],
            item["platform"],
            item["mention_id"],
            state,
            posted_id,
            item["text"],
            error,
        )
        self.on_settled(sent)
        return sent
