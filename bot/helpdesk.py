"""The helpdesk backends of the private case: ``[cases] backend = "zammad"`` (zammad_py) and ``"zendesk"`` (zenpy).

Each open case opens one ticket in the team's helpdesk (below for Zammad; Zendesk likewise, with the case reference
as the ticket's ``external_id``): its title carries the case reference, its first article
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

import requests

from bot import cases
from bot.models import Case, excerpt
from bot.store import CaseMirror, Store

log = logging.getLogger(__name__)

BACKEND = "zammad"
DONE_STATES = ("closed", "merged")
_TAGS = re.compile(r"<[^>]*>")


class HelpdeskDown(Exception):
    """The helpdesk did not answer, or answered with an error; the message says which."""


class Helpdesk(cases.CaseBackend):
    """A helpdesk mirror: new cases become tickets, the mirrored tickets are followed back into their cases."""

    def run_once(self) -> int:
        try:
            for case in self.store.cases_without_mirror(self.backend):
                self.mirror(case)
            return sum(self.follow(case, mirror) for case, mirror in self.store.mirrored_cases(self.backend))
        except HelpdeskDown as exc:
            log.warning("%s: %s; the cases wait for it", self.backend, excerpt(exc))
            return 0

    def mirror(self, case: Case) -> str:
        """The ticket of ``case``, found by its reference or else created; recorded here before anything else."""
        raise NotImplementedError

    def follow(self, case: Case, mirror: CaseMirror) -> int:
        """Bring one ticket's changes into its case and the case's into the ticket; returns the changes."""
        raise NotImplementedError


class ZammadDesk(Helpdesk):
    """Mirrors the cases to Zammad tickets and reads the tickets back into the cases."""

    backend = BACKEND

    def __init__(self, *args: Any, **kwargs: Any):
        from zammad_py import ZammadAPI  # the helpdesk's client, imported only when it is the backend

        super().__init__(*args, **kwargs)
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

    def _call(self, what: str, fn: Callable[..., Any], *args: Any) -> Any:
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
                backend=self.backend,
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
        fields = _ticket_text(self.store, case)
        ticket: dict[str, Any] = {
            "title": fields["title"],
            "group": self.settings.group,
            "customer": fields["customer"],
            "article": {
                "subject": f"{case.ref}: {case.platform} post by {case.author_handle}",
                "body": fields["body"],
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

    def follow(self, case: Case, mirror: CaseMirror) -> int:
        """Bring one ticket's changes into its case, and the case's into its ticket; returns the changes."""
        remote = mirror.remote_id
        found = self._call("search", self.api.ticket.search, f'title:"[{case.ref}]"')
        ticket = next((t for t in found if str(t.get("id")) == remote), None)
        if ticket is None:
            return 0
        articles = self._call("articles", self.api.ticket.articles, int(remote))
        now = self.clock.now()
        changes = 0
        last = mirror.last_article
        for article in sorted(articles, key=lambda a: a["id"]):
            if article["id"] <= last or article.get("internal"):
                continue
            changes += _bring_article(self, self.store.case(case.id), article, now)
        state, owner = ticket.get("state") or "", (ticket.get("owner") or "-").lower()
        changes += _bring_owner(self, self.store.case(case.id), owner, mirror, now, "Zammad")
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
            backend=self.backend,
            now=now,
            state=state,
            owner=self._pushed_owner(case, owner, remote),
            last_article=max([last, *(a["id"] for a in articles)]),
        )
        return changes

    def _pushed_owner(self, case: Case, remote_owner: str, remote: str) -> str:
        """Give the ticket to the case's owner where they are a known agent and Zammad has someone else."""
        case = self.store.case(case.id)
        wanted = self.agent_of.get(case.owner or "")
        if wanted and wanted != remote_owner and case.status == "open":
            self._call("owner", self.api.ticket.update, int(remote), {"owner": wanted})
            return wanted
        return remote_owner


def _ticket_text(store: Store, case: Case) -> dict[str, str]:
    """What a helpdesk ticket says about a case: its title, its first (internal) note, the customer's address."""
    mention = store.mention(case.platform, case.mention_id)
    triage = store.triage_for(case.platform, case.mention_id)
    judged = (
        f"{triage.intent}, sentiment {triage.sentiment:+.2f}, urgency {triage.urgency}"
        if triage
        else case.intent
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
    return {
        "title": f"[{case.ref}] {case.platform}: {excerpt(mention.text, limit=80)}",
        "body": body,
        # A platform's customer has no email address until they write one: a placeholder that never delivers.
        "customer": store.case_address(case.id)
        or f"{_local_part(case.author_handle)}@{case.platform}.invalid",
    }


def _bring_article(desk: Any, case: Case, article: dict[str, Any], now: datetime) -> int:
    """One public article of a ticket into its case: an agent's is the team's contact, the customer's their answer."""
    text = excerpt(_TAGS.sub(" ", article.get("body") or ""), limit=2000)
    at = _zammad_time(article.get("created_at")) or now
    store = desk.store
    if article.get("sender") == "Agent":
        made = {k: at for k in ("acknowledged_at", "contacted_at") if getattr(case, k) is None}
        author = (article.get("from") or "").lower()
        store.update_case(
            case.id,
            now=now,
            actor=desk.owner_of.get(author, author or "helpdesk"),
            event="helpdesk_reply",
            note=f"answered in the helpdesk: {text}",
            **made,
        )
        cases.contacted(store, store.case(case.id), now=now)
        desk.on_event("helpdesk_reply", case=case)
        return 1
    if article.get("sender") == "Customer":
        if case.contacted_at is None:
            store.update_case(
                case.id,
                now=now,
                actor=case.author_handle,
                event="handoff",
                note="wrote in the helpdesk",
                contacted_at=at,
            )
        if case.status == "open":
            cases.customer_replied(store, case, at=at, now=now, text=text)
        desk.on_event("customer_replied", case=case)
        return 1
    return 0


def _bring_owner(desk: Any, case: Case, owner: str, mirror: CaseMirror, now: datetime, where: str) -> int:
    """The ticket's owner, changed in the helpdesk since we last looked, becomes the case's."""
    if owner == (mirror.owner or "-") or owner == "-" or case.status != "open":
        return 0
    name = desk.owner_of.get(owner, owner)
    if case.owner == name:
        return 0
    desk.store.update_case(
        case.id, now=now, actor=name, event="owner", note=f"taken in {where} by {owner}", owner=name
    )
    return 1


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


class ZendeskDesk(Helpdesk):
    """Mirrors the cases to Zendesk tickets (``external_id`` = the case reference) through zenpy, and reads the
    tickets back: solved or closed resolves the case, an agent's public comment is the contact, the requester's
    comment the customer's answer, the assignee the owner (by email); a case resolved here solves its ticket."""

    backend = "zendesk"

    def __init__(self, *args: Any, **kwargs: Any):
        from urllib.parse import urlsplit

        from zenpy import Zenpy  # the helpdesk's client, imported only when it is the backend

        super().__init__(*args, **kwargs)
        parts = urlsplit(self.settings.url)
        # zenpy builds "https://{subdomain}.{domain}": the host split at its first dot is the same address.
        subdomain, _, domain = parts.netloc.partition(".")
        token = self.settings.token.value() if self.settings.token else ""
        self.api = Zenpy(
            subdomain=subdomain,
            domain=domain,
            email=self.settings.email,
            token=token,
            timeout=self.settings.timeout_seconds,
            disable_cache=True,  # a poll must see the ticket as it is now
        )
        for part in vars(self.api).values():
            if hasattr(part, "protocol"):
                part.protocol = parts.scheme
        self.agent_of = {name: email.lower() for name, email in self.settings.agents.items()}
        self.owner_of = {email: name for name, email in self.agent_of.items()}
        self.emails: dict[int, str] = {}

    def link(self, remote_id: str) -> str:
        """The ticket's page in the Zendesk agent workspace."""
        return f"{self.settings.url.rstrip('/')}/agent/tickets/{remote_id}"

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        from zenpy.lib.exception import APIException, ZenpyException

        try:
            result = fn(*args, **kwargs)
            return list(result) if what in ("lookup", "comments") else result
        except (requests.RequestException, APIException, ZenpyException) as exc:
            raise HelpdeskDown(f"{what}: {type(exc).__name__}: {excerpt(exc)}") from None

    def _email(self, user_id: int | None) -> str:
        if not user_id:
            return "-"
        if user_id not in self.emails:
            self.emails[user_id] = (self._call("user", self.api.users, id=user_id).email or "").lower()
        return self.emails[user_id]

    def mirror(self, case: Case) -> str:
        """The ticket of ``case``: found by its ``external_id``, else created; recorded here before anything else."""
        from zenpy.lib.api_objects import Comment, Ticket, User

        now = self.clock.now()
        found = self._call("lookup", self.api.tickets, external_id=case.ref)
        if found:
            ticket, how = found[0], "found by its reference"
            comments = self._call("comments", self.api.tickets.comments, ticket=ticket.id)
            last = max((c.id for c in comments), default=0)
        else:
            fields = _ticket_text(self.store, case)
            ticket = Ticket(
                subject=fields["title"],
                external_id=case.ref,
                comment=Comment(body=fields["body"], public=False),
                requester=User(name=case.author_name, email=fields["customer"]),
                tags=["mentionbot", case.platform, case.intent],
            )
            if case.owner in self.agent_of:
                ticket.assignee_email = self.agent_of[case.owner]
            audit = self._call("create", self.api.tickets.create, ticket)
            ticket, how = audit.ticket, "opened"
            last = max(
                (e["id"] for e in (audit.to_dict().get("events") or []) if e.get("type") == "Comment"),
                default=0,
            )
        remote = str(ticket.id)
        with self.store.write_transaction():
            self.store.set_case_mirror(
                case.id,
                backend=self.backend,
                now=now,
                remote_id=remote,
                link=self.link(remote),
                state=ticket.status or "new",
                owner=self._email(ticket.assignee_id),
                last_article=last,
            )
            self.store.update_case(
                case.id,
                now=now,
                actor="mentionbot",
                event="mirrored",
                note=f"Zendesk ticket {remote} {how}: {self.link(remote)}",
            )
        self.on_event("case_mirrored", case=case, link=self.link(remote))
        return remote

    def follow(self, case: Case, mirror: CaseMirror) -> int:
        """Bring one ticket's changes into its case, and the case's into its ticket; returns the changes."""
        remote = int(mirror.remote_id)
        ticket = self._call("show", self.api.tickets, id=remote)
        comments = self._call("comments", self.api.tickets.comments, ticket=remote)
        now = self.clock.now()
        changes = 0
        last = mirror.last_article
        for comment in sorted(comments, key=lambda c: c.id):
            if comment.id <= last or not comment.public:
                continue
            author = "Customer" if comment.author_id == ticket.requester_id else "Agent"
            article = {
                "sender": author,
                "from": self._email(comment.author_id),
                "body": comment.plain_body or comment.body or "",
                "created_at": comment.created_at,
            }
            changes += _bring_article(self, self.store.case(case.id), article, now)
        owner = self._email(ticket.assignee_id)
        changes += _bring_owner(self, self.store.case(case.id), owner, mirror, now, "Zendesk")
        case = self.store.case(case.id)
        state = ticket.status or ""
        if state in ("solved", "closed") and case.status == "open":
            who = self.owner_of.get(owner) or case.owner or owner
            cases.resolve(self.store, case, actor=who, now=now, note=f"{state} in Zendesk")
            changes += 1
        elif case.status == "closed" and state not in ("solved", "closed"):
            ticket.status = "solved"
            self._call("solve", self.api.tickets.update, ticket)
            state = "solved"
            self.store.update_case(
                case.id, now=now, actor="mentionbot", event="mirror", note="ticket solved in Zendesk"
            )
        wanted = self.agent_of.get(self.store.case(case.id).owner or "")
        if wanted and wanted != owner and case.status == "open":
            fresh = self._call("show", self.api.tickets, id=remote)
            fresh.assignee_email = wanted
            self._call("assign", self.api.tickets.update, fresh)
            owner = wanted
        self.store.set_case_mirror(
            case.id,
            backend=self.backend,
            now=now,
            state=state,
            owner=owner,
            last_article=max([last, *(c.id for c in comments)]),
        )
        return changes
