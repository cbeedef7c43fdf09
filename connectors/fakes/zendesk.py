"""A loopback Zendesk Support API (``/api/v2``): tickets (created with a first comment, listed by ``external_id``,
shown, updated), a ticket's comments, users shown and searched, with API-token authentication. Its answers have
exactly the fields of the shapes zenpy recorded from a real Zendesk (``tests/fixtures/zendesk/``, see SOURCE.md);
the test helpers play the agents and the customer."""

from __future__ import annotations

import base64
import itertools
from datetime import UTC, datetime
from typing import Any

from connectors.fakes.server import FakePlatform, Request, Response, route

EMAIL = "mentionbot@acme.example"
TOKEN = "fake-zendesk-token"
TOKEN_ENV = "ZENDESK_TOKEN"
VIA = {"channel": "api", "source": {"from": {}, "to": {}, "rel": None}}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeZendesk(FakePlatform):
    """Fake Zendesk: agents known by email; end users made from a ticket's requester."""

    platform = "zendesk"

    def __init__(self, *, agents: tuple[str, ...] = (EMAIL, "alice@acme.example", "bob@acme.example")):
        super().__init__()
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(4001)
        self._user_ids = itertools.count(6130907993001)
        self._event_ids = itertools.count(6164039218001)
        for email in agents:
            self._user(email.split("@")[0].title(), email, role="agent")

    # -- what agents and customers do in Zendesk ----------------------------------------------------------------

    def agent_comment(
        self, ticket_id: int, body: str, *, agent: str = "alice@acme.example", public=True
    ) -> None:
        self._comment(ticket_id, body, author=self.user_id(agent), public=public)

    def customer_comment(self, ticket_id: int, body: str) -> None:
        self._comment(ticket_id, body, author=self.tickets[ticket_id]["requester_id"], public=True)

    def set_status(self, ticket_id: int, status: str) -> None:
        self.tickets[ticket_id].update(status=status, updated_at=_now())

    def assign(self, ticket_id: int, agent: str) -> None:
        self.tickets[ticket_id].update(assignee_id=self.user_id(agent), updated_at=_now())

    def user_id(self, email: str) -> int:
        return next(u["id"] for u in self.users.values() if u["email"] == email)

    def assignee_of(self, ticket_id: int) -> str | None:
        assignee = self.tickets[ticket_id]["assignee_id"]
        return self.users[assignee]["email"] if assignee else None

    # -- the API ------------------------------------------------------------------------------------------------

    def _refused(self, request: Request) -> Response | None:
        expected = "Basic " + base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
        if request.header("authorization") != expected:
            return Response(401, {"error": "Couldn't authenticate you"})
        return None

    @route("GET", r"/api/v2/tickets\.json")
    def list_tickets(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        external = request.arg("external_id")
        found = [t for t in self.tickets.values() if external is None or t["external_id"] == external]
        return Response(
            200, {"tickets": found, "next_page": None, "previous_page": None, "count": len(found)}
        )

    @route("POST", r"/api/v2/tickets\.json")
    def create(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        data = (request.json or {}).get("ticket") or {}
        comment = data.get("comment") or {}
        body = comment.get("body") or data.get("description")
        if not body:
            return Response(422, {"error": "RecordInvalid", "description": "Record validation errors"})
        requester = data.get("requester") or {}
        requester_id = self._requester(requester) if requester else self.user_id(EMAIL)
        assignee_id = self.user_id(data["assignee_email"]) if data.get("assignee_email") else None
        ticket_id = next(self._ids)
        now = _now()
        self.tickets[ticket_id] = {
            "url": f"{self.base_url}/api/v2/tickets/{ticket_id}.json",
            "id": ticket_id,
            "external_id": data.get("external_id"),
            "via": VIA,
            "created_at": now,
            "updated_at": now,
            "type": None,
            "subject": data.get("subject"),
            "raw_subject": data.get("subject"),
            "description": body,
            "priority": None,
            "status": data.get("status", "new"),
            "recipient": None,
            "requester_id": requester_id,
            "submitter_id": self.user_id(EMAIL),
            "assignee_id": assignee_id,
            "organization_id": None,
            "group_id": None,
            "collaborator_ids": [],
            "follower_ids": [],
            "email_cc_ids": [],
            "forum_topic_id": None,
            "problem_id": None,
            "has_incidents": False,
            "is_public": bool(comment.get("public", True)),
            "due_at": None,
            "tags": list(data.get("tags") or []),
            "custom_fields": [],
            "satisfaction_rating": None,
            "sharing_agreement_ids": [],
            "custom_status_id": 6130830355738,
            "fields": [],
            "followup_ids": [],
            "ticket_form_id": 6130830344474,
            "brand_id": 6130830354842,
            "allow_channelback": False,
            "allow_attachments": True,
            "from_messaging_channel": False,
        }
        self.comments[ticket_id] = []
        first = self._comment(
            ticket_id, body, author=self.user_id(EMAIL), public=bool(comment.get("public", True))
        )
        # The audit's Comment event is the comment without its via, metadata and time (as Zendesk records it).
        event = {k: v for k, v in first.items() if k not in ("via", "created_at", "metadata")}
        return Response(201, {"ticket": self.tickets[ticket_id], "audit": self._audit(ticket_id, [event])})

    @route("GET", r"/api/v2/tickets/(?P<ticket>\d+)\.json")
    def show(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        ticket = self.tickets.get(int(request.params["ticket"]))
        if ticket is None:
            return Response(404, {"error": "RecordNotFound", "description": "Not found"})
        return Response(200, {"ticket": ticket})

    @route("PUT", r"/api/v2/tickets/(?P<ticket>\d+)\.json")
    def update(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        ticket_id = int(request.params["ticket"])
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return Response(404, {"error": "RecordNotFound", "description": "Not found"})
        data = (request.json or {}).get("ticket") or {}
        events = []
        if "status" in data and data["status"] != ticket["status"]:
            events.append(self._change("status", data["status"], ticket["status"]))
            ticket["status"] = data["status"]
        if data.get("assignee_email"):
            new = self.user_id(data["assignee_email"])
            events.append(self._change("assignee_id", str(new), str(ticket["assignee_id"])))
            ticket["assignee_id"] = new
        ticket["updated_at"] = _now()
        return Response(200, {"ticket": ticket, "audit": self._audit(ticket_id, events)})

    @route("GET", r"/api/v2/tickets/(?P<ticket>\d+)/comments\.json")
    def comments_of(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        found = self.comments.get(int(request.params["ticket"]))
        if found is None:
            return Response(404, {"error": "RecordNotFound", "description": "Not found"})
        return Response(
            200, {"comments": found, "next_page": None, "previous_page": None, "count": len(found)}
        )

    @route("GET", r"/api/v2/users/(?P<user>\d+)\.json")
    def show_user(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        user = self.users.get(int(request.params["user"]))
        if user is None:
            return Response(404, {"error": "RecordNotFound", "description": "Not found"})
        return Response(200, {"user": user})

    # -- shapes -------------------------------------------------------------------------------------------------

    def _requester(self, requester: dict[str, Any]) -> int:
        email = requester.get("email") or ""
        for user in self.users.values():
            if email and user["email"] == email:
                return user["id"]
        return self._user(requester.get("name") or email, email, role="end-user")

    def _user(self, name: str, email: str, *, role: str) -> int:
        user_id = next(self._user_ids)
        now = _now()
        self.users[user_id] = {
            "id": user_id,
            "url": f"https://acme.zendesk.com/api/v2/users/{user_id}.json",
            "name": name,
            "email": email,
            "created_at": now,
            "updated_at": now,
            "time_zone": "Amsterdam",
            "phone": None,
            "shared_phone_number": None,
            "photo": None,
            "locale_id": 1,
            "locale": "en-US",
            "organization_id": None,
            "role": role,
            "verified": role != "end-user",
            "external_id": None,
            "tags": [],
            "alias": None,
            "active": True,
            "shared": False,
            "shared_agent": False,
            "last_login_at": None,
            "two_factor_auth_enabled": None,
            "signature": None,
            "details": None,
            "notes": None,
            "custom_role_id": None,
            "moderator": role != "end-user",
            "ticket_restriction": None,
            "only_private_comments": False,
            "restricted_agent": False,
            "suspended": False,
            "chat_only": False,
            "user_fields": {},
        }
        return user_id

    def _comment(self, ticket_id: int, body: str, *, author: int, public: bool) -> dict[str, Any]:
        audit_id = next(self._event_ids)
        comment = {
            "id": next(self._event_ids),
            "type": "Comment",
            "author_id": author,
            "body": body,
            "html_body": f'<div class="zd-comment" dir="auto"><p dir="auto">{body}</p></div>',
            "plain_body": body,
            "public": public,
            "attachments": [],
            "audit_id": audit_id,
            "via": VIA,
            "created_at": _now(),
            "metadata": {"system": {}, "custom": {}},
        }
        self.comments[ticket_id].append(comment)
        self.tickets[ticket_id]["updated_at"] = comment["created_at"]
        return comment

    def _change(self, field: str, value: str, previous: str) -> dict[str, Any]:
        return {
            "id": next(self._event_ids),
            "type": "Change",
            "value": value,
            "field_name": field,
            "previous_value": previous,
        }

    def _audit(self, ticket_id: int, events: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": next(self._event_ids),
            "ticket_id": ticket_id,
            "created_at": _now(),
            "author_id": self.user_id(EMAIL),
            "metadata": {"system": {}, "custom": {}},
            "events": events,
            "via": VIA,
        }

    def connector_settings(self) -> dict[str, Any]:
        return {"url": self.base_url, "email": EMAIL, "token": {"env": TOKEN_ENV}}

    def environment(self) -> dict[str, str]:
        return {TOKEN_ENV: TOKEN}
