"""A loopback Zammad REST API (``/api/v1``): tickets with their first article, search, update, and the articles
of a ticket, with token authentication. Its answers have exactly the fields of the shapes recorded from a real
Zammad (``tests/fixtures/zammad/``, see SOURCE.md); the test helpers play the agents (a public reply, closing,
taking a ticket) and the customer."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, datetime
from typing import Any

from connectors.fakes.server import FakePlatform, Request, Response, route

TOKEN = "fake-zammad-token"
TOKEN_ENV = "ZAMMAD_TOKEN"
STATES = {"new": 1, "open": 2, "pending reminder": 3, "closed": 4, "merged": 5, "pending close": 7}
SENDERS = {"Agent": 1, "Customer": 2, "System": 3}
ARTICLE_TYPES = {"email": 1, "phone": 5, "note": 10, "web": 11}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{datetime.now(UTC).microsecond // 1000:03d}Z"


class FakeZammad(FakePlatform):
    """Fake Zammad: one group ("Users"), agents known by their email login, customers made from an email."""

    platform = "zammad"

    def __init__(self, *, agents: tuple[str, ...] = ("alice@acme.example", "bob@acme.example")):
        super().__init__()
        self.tickets: dict[int, dict[str, Any]] = {}
        self.articles: dict[int, list[dict[str, Any]]] = {}
        self.users: dict[str, int] = {"-": 1}
        for login in agents:
            self.users[login] = len(self.users) + 2
        self._ticket_ids = itertools.count(1)
        self._article_ids = itertools.count(1)

    # -- what agents and customers do in Zammad ---------------------------------------------------------------

    def agent_reply(
        self, ticket_id: int, body: str, *, agent: str = "alice@acme.example", internal=False
    ) -> None:
        """An agent answers in the ticket (a public reply, unless ``internal``)."""
        self._article(ticket_id, body=body, sender="Agent", kind="email", internal=internal, by=agent)

    def customer_reply(self, ticket_id: int, body: str) -> None:
        self._article(ticket_id, body=body, sender="Customer", kind="email", internal=False, by="customer")

    def set_state(self, ticket_id: int, state: str) -> None:
        self.tickets[ticket_id].update(state_id=STATES[state], updated_at=_now())

    def set_owner(self, ticket_id: int, login: str) -> None:
        self.tickets[ticket_id].update(owner_id=self.users[login], updated_at=_now())

    def state_of(self, ticket_id: int) -> str:
        return self._name(STATES, self.tickets[ticket_id]["state_id"])

    def owner_of(self, ticket_id: int) -> str:
        return self._name(self.users, self.tickets[ticket_id]["owner_id"])

    # -- the API ------------------------------------------------------------------------------------------------

    def _authorized(self, request: Request) -> Response | None:
        if request.header("authorization") != f"Token token={TOKEN}":
            return Response(401, {"error": "authentication failed"})
        return None

    @route("POST", r"/api/v1/tickets")
    def create(self, request: Request) -> Response:
        if refused := self._authorized(request):
            return refused
        data = request.json or {}
        missing = [k for k in ("title", "group", "customer", "article") if not data.get(k)]
        if missing:
            return Response(422, {"error": f"Missing required attributes: {', '.join(missing)}"})
        customer = data["customer"]
        if customer not in self.users:
            self.users[customer] = len(self.users) + 2
        owner = data.get("owner", "-")
        if owner not in self.users:
            return Response(422, {"error": f"No lookup value found for 'owner': {owner!r}"})
        ticket_id = next(self._ticket_ids)
        now = _now()
        self.tickets[ticket_id] = {
            "id": ticket_id,
            "group_id": 1,
            "priority_id": 2,
            "state_id": STATES[data.get("state", "new")],
            "organization_id": None,
            "number": f"{77000 + ticket_id}",
            "title": data["title"],
            "owner_id": self.users[owner],
            "customer_id": self.users[customer],
            "note": None,
            "first_response_at": None,
            "first_response_escalation_at": None,
            "first_response_in_min": None,
            "first_response_diff_in_min": None,
            "close_at": None,
            "close_escalation_at": None,
            "close_in_min": None,
            "close_diff_in_min": None,
            "update_escalation_at": None,
            "update_in_min": None,
            "update_diff_in_min": None,
            "last_close_at": None,
            "last_contact_at": None,
            "last_contact_agent_at": None,
            "last_contact_customer_at": None,
            "last_owner_update_at": None,
            "create_article_type_id": ARTICLE_TYPES[data["article"].get("type", "note")],
            "create_article_sender_id": SENDERS[data["article"].get("sender", "Agent")],
            "article_count": 0,
            "escalation_at": None,
            "pending_time": None,
            "type": None,
            "time_unit": None,
            "preferences": {},
            "updated_by_id": 3,
            "created_by_id": 3,
            "created_at": now,
            "updated_at": now,
        }
        self.articles[ticket_id] = []
        article = data["article"]
        self._article(
            ticket_id,
            body=article.get("body", ""),
            sender=article.get("sender", "Agent"),
            kind=article.get("type", "note"),
            internal=bool(article.get("internal", False)),
            subject=article.get("subject", ""),
            content_type=article.get("content_type", "text/plain"),
        )
        return Response(
            201,
            self._plain(ticket_id)
            | {"article_ids": self._article_ids_of(ticket_id), "ticket_time_accounting_ids": []},
        )

    @route("GET", r"/api/v1/tickets/search")
    def search(self, request: Request) -> Response:
        if refused := self._authorized(request):
            return refused
        query = request.arg("query", "") or ""
        quoted = re.fullmatch(r'title:"(.*)"', query)
        words = [quoted.group(1)] if quoted else query.split()
        found = [t for t in self.tickets.values() if all(w.lower() in t["title"].lower() for w in words)]
        per_page = int(request.arg("per_page", "10") or 10)
        page = int(request.arg("page", "1") or 1)
        found = found[(page - 1) * per_page : page * per_page]
        return Response(200, [self._expanded(t["id"]) for t in found])

    @route("GET", r"/api/v1/tickets/(?P<ticket>\d+)")
    def find(self, request: Request) -> Response:
        if refused := self._authorized(request):
            return refused
        ticket_id = int(request.params["ticket"])
        if ticket_id not in self.tickets:
            return Response(404, {"error": "Couldn't find Ticket"})
        return Response(200, self._plain(ticket_id))

    @route("PUT", r"/api/v1/tickets/(?P<ticket>\d+)")
    def update(self, request: Request) -> Response:
        if refused := self._authorized(request):
            return refused
        ticket_id = int(request.params["ticket"])
        if ticket_id not in self.tickets:
            return Response(404, {"error": "Couldn't find Ticket"})
        data = request.json or {}
        ticket = self.tickets[ticket_id]
        if "state" in data:
            if data["state"] not in STATES:
                return Response(422, {"error": f"No lookup value found for 'state': {data['state']!r}"})
            ticket["state_id"] = STATES[data["state"]]
        if "owner" in data:
            if data["owner"] not in self.users:
                return Response(422, {"error": f"No lookup value found for 'owner': {data['owner']!r}"})
            ticket["owner_id"] = self.users[data["owner"]]
        ticket["updated_at"] = _now()
        return Response(
            200,
            self._plain(ticket_id)
            | {"article_ids": self._article_ids_of(ticket_id), "ticket_time_accounting_ids": []},
        )

    @route("GET", r"/api/v1/ticket_articles/by_ticket/(?P<ticket>\d+)")
    def articles_of(self, request: Request) -> Response:
        if refused := self._authorized(request):
            return refused
        ticket_id = int(request.params["ticket"])
        if ticket_id not in self.tickets:
            return Response(404, {"error": "Couldn't find Ticket"})
        return Response(200, self.articles[ticket_id])

    # -- shapes -------------------------------------------------------------------------------------------------

    def _plain(self, ticket_id: int) -> dict[str, Any]:
        return dict(self.tickets[ticket_id])

    def _expanded(self, ticket_id: int) -> dict[str, Any]:
        t = self.tickets[ticket_id]
        return t | {
            "article_ids": self._article_ids_of(ticket_id),
            "ticket_time_accounting_ids": [],
            "group": "Users",
            "organization": None,
            "ticket_time_accounting": [],
            "state": self._name(STATES, t["state_id"]),
            "priority": "2 normal",
            "owner": self._name(self.users, t["owner_id"]),
            "customer": self._name(self.users, t["customer_id"]),
            "created_by": "mentionbot@acme.example",
            "updated_by": "mentionbot@acme.example",
            "create_article_type": self._name(ARTICLE_TYPES, t["create_article_type_id"]),
            "create_article_sender": self._name(SENDERS, t["create_article_sender_id"]),
        }

    def _article_ids_of(self, ticket_id: int) -> list[int]:
        return sorted((a["id"] for a in self.articles[ticket_id]), reverse=True)

    def _article(
        self,
        ticket_id: int,
        *,
        body: str,
        sender: str,
        kind: str,
        internal: bool,
        by: str = "mentionbot@acme.example",
        subject: str = "",
        content_type: str = "text/html",
    ) -> None:
        now = _now()
        self.articles[ticket_id].append(
            {
                "id": next(self._article_ids),
                "ticket_id": ticket_id,
                "from": by,
                "to": "",
                "cc": "",
                "subject": subject,
                "body": body,
                "content_type": content_type,
                "type": kind,
                "internal": internal,
                "sender_id": SENDERS[sender],
                "type_id": ARTICLE_TYPES[kind],
                "sender": sender,
                "created_by_id": self.users.get(by, 3),
                "updated_at": now,
                "created_at": now,
            }
        )
        ticket = self.tickets[ticket_id]
        ticket["article_count"] += 1
        ticket["updated_at"] = now
        if sender == "Agent" and not internal:
            ticket["last_contact_agent_at"] = ticket["last_contact_at"] = now
        elif sender == "Customer":
            ticket["last_contact_customer_at"] = ticket["last_contact_at"] = now

    @staticmethod
    def _name(table: dict[str, int], value: int) -> str:
        return next((k for k, v in table.items() if v == value), "")

    def connector_settings(self) -> dict[str, Any]:
        return {"url": self.base_url, "token": {"env": TOKEN_ENV}}

    def environment(self) -> dict[str, str]:
        return {TOKEN_ENV: TOKEN}
