"""The Zammad backend of the private case (``[cases] backend = "zammad"``), through zammad_py.

Each open case opens one ticket in the team's Zammad: its title carries the case reference, its first article
(an internal note) the customer's handle and platform, the post and its link, and the triage. The case stays ours
(clocks, history, report); the ticket is its mirror, followed by polling: the ticket closed (or merged) resolves
the case, an agent's public reply is the team's contact, a customer's article their answer, the ticket's owner
becomes the case's owner (agents and owners are matched by ``[cases.zammad] agents``). A case resolved here closes
its ticket; a case given an owner here gives the ticket to that agent.

A Zammad that is down never stops the pipeline: the case is mirrored when it is back. It is mirrored once: before
a ticket is created, Zammad is searched for one with the case's reference (the create may have gone through when
its answer was lost, or the process was killed before the ticket was recorded here).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from bot import cases
from bot.clock import Clock
from bot.config import Config
from bot.models import Case, excerpt
from bot.store import Store

log = logging.getLogger(__name__)

BACKEND = "zammad"
DONE_STATES = ("closed", "merged")
_TAGS = re.compile(r"<[^>]*>")


class HelpdeskDown(Exception):
    """The helpdesk did not answer, or answered with an error; the message says which."""


class ZammadDesk:
    """Mirrors the cases to Zammad tickets and reads the tickets back into the cases."""

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        clock: Clock,
        on_event: Callable[..., object] = lambda kind, **data: None,
    ):
        from zammad_py import ZammadAPI  # the helpdesk's client, imported only when it is the backend

        self.config = config
        self.settings = config.cases.zammad
        self.store = store
        self.clock = clock
        self.on_event = on_event
        token = self.settings.token.value() if self.settings.token else ""
        self.api = ZammadAPI(url=f"{self.settings.url.rstrip('/')}/api/v1/", http_token=token)
        # zammad_py sets no timeout: a hung helpdesk must not hang the daemon.
        self.api.session.request = functools.partial(
            self.api.session.request, timeout=self.settings.timeout_seconds
        )
        self.agent_of = {name: email.lower() for name, email in self.settings.agents.items()}
        self.owner_of = {email: name for name, email in self.agent_of.items()}

    def link(self, remote_id: str) -> str:
        """The ticket's page in Zammad's web app."""
        return f"{self.settings.url.rstrip('/')}/#ticket/zoom/{remote_id}"

    def run_once(self) -> int:
        """Mirror the new cases and follow the mirrored ones once; returns the changes brought back."""
        try:
            for case in self.store.cases_without_mirror(BACKEND):
                self.mirror(case)
            return sum(self.follow(case, mirror) for case, mirror in self.store.mirrored_cases(BACKEND))
        except HelpdeskDown as exc:
            log.warning("zammad: %s; the cases wait for it", excerpt(exc))
            return 0

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
        import requests

        try:
            return fn(*args)
        except requests.RequestException as exc:
            raise HelpdeskDown(f"{what}: {type(exc).__name__}: {excerpt(exc)}") from None
        except ValueError as exc:  # zammad_py's answer to a body that is not JSON
            raise HelpdeskDown(f"{what}: {excerpt(exc)}") from None

    # -- ours to Zammad -----------------------------------------------------------------------------------------

    def mirror(self, case: Case) -> str:
        """The ticket of ``case``: found by its reference, else created; recorded here before anything else."""
        now = self.clock.now()
        found = self._call("search", self.api.ticket.search, f'title:"[{case.ref}]"')
        ticket = next((t for t in found if f"[{case.ref}]" in (t.get("title") or "")), None)
        how = "found by its reference"
        if ticket is None:
            ticket = self._call("create", self.api.ticket.create, self._ticket(case))
            how = "opened"
        remote = str(ticket["id"])
        with self.store.write_transaction():
            self.store.set_case_mirror(
                case.id,
                backend=BACKEND,
                now=now,
                remote_id=remote,
                link=self.link(remote),
                state=ticket.get("state") or "new",
                owner=(ticket.get("owner") or "-").lower(),
                last_article=max(ticket.get("article_ids") or [0]),
            )
            self.store.update_case(
                case.id,
                now=now,
                actor="mentionbot",
                event="mirrored",
                note=f"Zammad ticket {ticket.get('number') or remote} {how}: {self.link(remote)}",
            )
        self.on_event("case_mirrored", case=case, link=self.link(remote))
        return remote

    def _ticket(self, case: Case) -> dict[str, Any]:
        mention = self.store.mention(case.platform, case.mention_id)
        triage = self.store.triage_for(case.platform, case.mention_id)
        judged = (
            f"{triage.intent}, sentiment {triage.sentiment:+.2f}, urgency {triage.urgency}"
            if triage
            else case.intent
        )
        customer = (
            self.store.case_address(case.id) or f"{_local_part(case.author_handle)}@{case.platform}.invalid"
        )
        body = "\n".join(
            [
                f"Case {case.ref} (mentionbot): {case.intent}, due {case.due_at:%Y-%m-%d %H:%M} UTC",
                f"Customer: {case.author_name} ({case.platform}: {case.author_handle})",
                f"Post: {mention.url}",
                f"Triage: {judged}",
                "",
                mention.text,
            ]
        )
        ticket: dict[str, Any] = {
            "title": f"[{case.ref}] {case.platform}: {excerpt(mention.text, limit=80)}",
            "group": self.settings.group,
            "customer": customer,
            "article": {
                "subject": f"{case.ref}: {case.platform} post by {case.author_handle}",
                "body": body,
                "content_type": "text/plain",
                "type": "note",
                "internal": True,
                "sender": "Agent",
            },
        }
        if case.owner and case.owner in self.agent_of:
            ticket["owner"] = self.agent_of[case.owner]
        return ticket

    # -- Zammad to ours -----------------------------------------------------------------------------------------

    def follow(self, case: Case, mirror: dict[str, Any]) -> int:
        """Bring one ticket's changes into its case, and the case's into its ticket; returns the changes."""
        remote = mirror["remote_id"]
        found = self._call("search", self.api.ticket.search, f'title:"[{case.ref}]"')
        ticket = next((t for t in found if str(t.get("id")) == remote), None)
        if ticket is None:
            return 0
        articles = self._call("articles", self.api.ticket.articles, int(remote))
        now = self.clock.now()
        changes = 0
        last = mirror["last_article"] or 0
        for article in sorted(articles, key=lambda a: a["id"]):
            if article["id"] <= last or article.get("internal"):
                continue
            changes += self._article(self.store.case(case.id), article, now)
        state, owner = ticket.get("state") or "", (ticket.get("owner") or "-").lower()
        changes += self._owner(self.store.case(case.id), owner, mirror, now)
        case = self.store.case(case.id)
        if state in DONE_STATES and case.status == "open":
            who = self.owner_of.get(owner) or case.owner or owner
            cases.resolve(self.store, case, actor=who, now=now, note=f"closed in Zammad ({state})")
            changes += 1
        elif case.status == "closed" and state not in DONE_STATES:
            self._call("close", self.api.ticket.update, int(remote), {"state": "closed"})
            state = "closed"
            self.store.update_case(
                case.id, now=now, actor="mentionbot", event="mirror", note="ticket closed in Zammad"
            )
        self.store.set_case_mirror(
            case.id,
            backend=BACKEND,
            now=now,
            state=state,
            owner=self._pushed_owner(case, owner, remote),
            last_article=max([last, *(a["id"] for a in articles)]),
        )
        return changes

    def _article(self, case: Case, article: dict[str, Any], now: datetime) -> int:
        text = excerpt(_TAGS.sub(" ", article.get("body") or ""), limit=2000)
        at = _zammad_time(article.get("created_at")) or now
        if article.get("sender") == "Agent":
            made = {k: at for k in ("acknowledged_at", "contacted_at") if getattr(case, k) is None}
            self.store.update_case(
                case.id,
                now=now,
                actor=self.owner_of.get((article.get("from") or "").lower(), article.get("from") or "zammad"),
                event="helpdesk_reply",
                note=f"answered in Zammad: {text}",
                **made,
            )
            cases.contacted(self.store, self.store.case(case.id), now=now)
            self.on_event("helpdesk_reply", case=case)
            return 1
        if article.get("sender") == "Customer":
            if case.contacted_at is None:
                self.store.update_case(
                    case.id,
                    now=now,
                    actor=case.author_handle,
                    event="handoff",
                    note="wrote in Zammad",
                    contacted_at=at,
                )
            if case.status == "open":
                cases.customer_replied(self.store, case, at=at, now=now, text=text)
            self.on_event("customer_replied", case=case)
            return 1
        return 0

    def _owner(self, case: Case, owner: str, mirror: dict[str, Any], now: datetime) -> int:
        """The ticket's owner, changed in Zammad since we last looked, becomes the case's."""
        if owner == (mirror.get("owner") or "-") or owner == "-" or case.status != "open":
            return 0
        name = self.owner_of.get(owner, owner)
        if case.owner == name:
            return 0
        self.store.update_case(
            case.id, now=now, actor=name, event="owner", note=f"taken in Zammad by {owner}", owner=name
        )
        return 1

    def _pushed_owner(self, case: Case, remote_owner: str, remote: str) -> str:
        """Give the ticket to the case's owner where they are a known agent and Zammad has someone else."""
        case = self.store.case(case.id)
        wanted = self.agent_of.get(case.owner or "")
        if wanted and wanted != remote_owner and case.status == "open":
            self._call("owner", self.api.ticket.update, int(remote), {"owner": wanted})
            return wanted
        return remote_owner


def _local_part(handle: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", handle).strip("-.")
    return cleaned or "customer"


def _zammad_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
