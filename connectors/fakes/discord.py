"""A loopback fake Discord (REST ``/api/v10`` and the gateway websocket) for the real discord.py client.

Not in FAKES: Discord is where managers decide, not a platform we watch. Tests and the demo drive it with
``click``, ``click_together``, ``submit_modal`` and ``slash``, and read what the bot said with ``messages``,
``edits`` and ``responses``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web

APP_ID = "900000000000000001"
BOT_ID = APP_ID
MANAGER_ID = "400000000000000001"  # holds the "Community Manager" role
OUTSIDER_ID = "400000000000000002"  # does not


class FakeDiscord:
    """One guild with one managers' channel, roles and members, served on 127.0.0.1."""

    def __init__(
        self,
        *,
        guild_id: str = "100000000000000001",
        channel_id: str = "200000000000000001",
        roles: dict[str, str] | None = None,
        members: dict[str, list[str]] | None = None,
        names: dict[str, str] | None = None,
        token: str | None = None,
        port: int = 0,
    ):
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.roles = roles or {"300000000000000001": "Community Manager", "300000000000000002": "Member"}
        # user id -> role ids
        self.members = members or {
            MANAGER_ID: ["300000000000000001"],
            OUTSIDER_ID: ["300000000000000002"],
        }
        # user id -> display name (Discord's ``global_name``; None shows the username)
        self.names = names if names is not None else {MANAGER_ID: "Marta Kowalska"}
        self.token = token  # the bot token accepted; None accepts any
        self.logins = 0  # how many times a client asked who it is (discord.py's login)
        self._port = port
        self._ids = itertools.count(500000000000000001)
        self._lock = threading.Lock()
        self._messages: dict[str, dict] = {}
        self._edits: list[dict] = []
        self._responses: list[dict] = []
        self._followups: list[dict] = []
        self._threads: dict[str, dict] = {}
        self._commands: list[dict] = []
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0
        self.identified = threading.Event()
        self._held: threading.Event | None = None

    # -- life cycle -------------------------------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be."""
        return f"ws://127.0.0.1:{self.port}/gw"

    def start(self) -> FakeDiscord:
        """Serve on a free loopback port in a thread of its own."""
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        async def serve() -> None:
            self._runner = web.AppRunner(self._app(), shutdown_timeout=2.0)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", self._port)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            ready.set()

        def run() -> None:
            loop = self._loop
            assert loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
                loop.run_forever()
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="fake-discord", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        """Close the sockets and the server."""
        self.release_messages()
        if not self._loop:
            return

        async def shutdown() -> None:
            for ws in list(self._sockets):
                await ws.close()
            if self._runner:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(
            30
        )  # generous: a loaded machine is slow to close
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)

    # -- what the bot did -------------------------------------------------------------------------------------

    def messages(self, channel_id: str | None = None) -> list[dict]:
        """Messages the bot posted (current state, after edits), oldest first."""
        with self._lock:
            return [
                dict(m)
                for m in self._messages.values()
                if channel_id is None or m["channel_id"] == channel_id
            ]

    def message(self, message_id: str) -> dict:
        """One message in its current state."""
        with self._lock:
            return dict(self._messages[str(message_id)])

    def edits(self) -> list[dict]:
        """Every PATCH of a message, in order."""
        with self._lock:
            return list(self._edits)

    def responses(self) -> list[dict]:
        """Interaction callbacks and follow-ups, in order: ``{"interaction": id, "type": n, "data": {...}}``."""
        with self._lock:
            return list(self._responses)

    def threads(self) -> list[dict]:
        """Threads the bot started."""
        with self._lock:
            return list(self._threads.values())

    def commands(self) -> list[dict]:
        """The guild's application commands as last synced."""
        with self._lock:
            return list(self._commands)

    def hold_messages(self) -> None:
        """Keep the bot waiting for the answer to each new message (stored, and seen here, at once) until
        ``release_messages``: a slow Discord, without time."""
        self._held = threading.Event()

    def release_messages(self) -> None:
        """Answer the held and all further new messages."""
        held, self._held = self._held, None
        if held:
            held.set()

    # -- what people do ---------------------------------------------------------------------------------------

    def click(self, message_id: str, custom_id: str, user_id: str) -> str:
        """A member clicks a button on a message; returns the interaction id."""
        return self.click_together(message_id, custom_id, [user_id])[0]

    def click_together(self, message_id: str, custom_id: str, user_ids: list[str]) -> list[str]:
        """Members click the same button at the same moment: every interaction carries the message as they all saw
        it, buttons included, and they reach the bot back to back. Returns the interaction ids."""
        message = self._clickable(str(message_id), custom_id)
        data = {"custom_id": custom_id, "component_type": 2}
        return self._interact_all([self._interaction(3, data, u, message=message) for u in user_ids])

    def _clickable(self, message_id: str, custom_id: str) -> dict:
        # Discord lets nobody click a button the message no longer has (a decided card loses its buttons).
        with self._lock:
            message = self._messages.get(message_id)
            if message is None:
                raise KeyError(f"no message {message_id} in the fake Discord")
            ids = [c.get("custom_id") for row in message["components"] for c in row.get("components", [])]
            if custom_id not in ids:
                raise LookupError(f"message {message_id} has no button {custom_id!r} (it has {ids})")
            return json.loads(json.dumps(message))  # as it is now, whatever the bot edits next

    def submit_modal(
        self, custom_id: str, values: dict[str, str], user_id: str, message_id: str | None = None
    ) -> str:
        """A member submits a modal; ``values`` maps each text input's custom_id to its value."""
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]} for k, v in values.items()
        ]
        with self._lock:
            message = self._messages.get(str(message_id)) if message_id else None
            message = json.loads(json.dumps(message)) if message else None
        return self._interact(5, {"custom_id": custom_id, "components": rows}, user_id, message=message)

    def slash(self, name: str, options: dict[str, Any] | None = None, user_id: str = "") -> str:
        """A member runs a slash command with string/integer options."""
        command = next((c for c in self._commands if c["name"] == name), None)
        if command is None:
            raise KeyError(f"no command /{name} was synced")
        opts = [
            {"name": k, "type": 4 if isinstance(v, int) else 3, "value": v}
            for k, v in (options or {}).items()
        ]
        data = {"id": command["id"], "name": name, "type": 1, "options": opts, "guild_id": self.guild_id}
        return self._interact(2, data, user_id)

    def _interact(self, kind: int, data: dict, user_id: str, *, message: dict | None = None) -> str:
        return self._interact_all([self._interaction(kind, data, user_id, message=message)])[0]

    def _interact_all(self, interactions: list[dict]) -> list[str]:
        self._dispatch_all([("INTERACTION_CREATE", payload) for payload in interactions])
        return [payload["id"] for payload in interactions]

    def _interaction(self, kind: int, data: dict, user_id: str, *, message: dict | None = None) -> dict:
        interaction_id = str(next(self._ids))
        payload: dict[str, Any] = {
            "id": interaction_id,
            "application_id": APP_ID,
            "type": kind,
            "token": f"tok-{interaction_id}",
            "version": 1,
            "guild_id": self.guild_id,
            "channel_id": self.channel_id,
            "channel": {"id": self.channel_id, "type": 0, "guild_id": self.guild_id, "name": "managers"},
            "member": self._member(user_id),
            "data": data,
            "app_permissions": "0",
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0,
            "attachment_size_limit": 10485760,
        }
        if message is not None:
            payload["message"] = message
        return payload

    def _dispatch_all(self, events: list[tuple[str, dict]]) -> None:
        assert self._loop, "start() the fake first"
        frames = [
            json.dumps({"op": 0, "t": event, "s": next(self._seq), "d": data}) for event, data in events
        ]

        async def send() -> None:
            for ws in list(self._sockets):
                if not ws.closed:
                    for frame in frames:
                        await ws.send_str(frame)

        asyncio.run_coroutine_threadsafe(send(), self._loop).result(10)

    # -- payloads ---------------------------------------------------------------------------------------------

    def _user(self, user_id: str, *, bot: bool = False) -> dict:
        return {
            "id": user_id,
            "username": "mentionbot" if bot else f"user{user_id[-2:]}",
            "global_name": None if bot else self.names.get(user_id),
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
        }

    def _member(self, user_id: str) -> dict:
        return {
            "user": self._user(user_id),
            "roles": list(self.members.get(user_id, [])),
            "joined_at": "2024-01-01T00:00:00+00:00",
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": "0",
        }

    def _guild(self) -> dict:
        roles = [
            {"id": self.guild_id, "name": "@everyone", "permissions": "0", "position": 0, "color": 0},
            *(
                {"id": rid, "name": name, "permissions": "0", "position": i + 1, "color": 0}
                for i, (rid, name) in enumerate(self.roles.items())
            ),
        ]
        for role in roles:
            role.update(hoist=False, managed=False, mentionable=False, flags=0)
        return {
            "id": self.guild_id,
            "name": "Acme",
            "icon": None,
            "owner_id": "400000000000000001",
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "member_count": len(self.members) + 1,
            "members": [self._member(uid) for uid in self.members]
            + [{**self._member(BOT_ID), "user": self._user(BOT_ID, bot=True)}],
            "channels": [
                {
                    "id": self.channel_id,
                    "type": 0,
                    "name": "managers",
                    "position": 0,
                    "guild_id": self.guild_id,
                }
            ],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "large": False,
            "unavailable": False,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "premium_tier": 0,
            "nsfw_level": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
        }

    def _message_payload(self, message_id: str, channel_id: str, body: dict) -> dict:
        return {
            "id": message_id,
            "channel_id": channel_id,
            "guild_id": self.guild_id,
            "type": 0,
            "content": body.get("content") or "",
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            # the files' names as discord.py announces them in payload_json (the bytes are not kept)
            "attachments": [
                {"id": str(a.get("id")), "filename": a.get("filename")} for a in body.get("attachments") or []
            ],
            "allowed_mentions": body.get("allowed_mentions"),
            "author": self._user(BOT_ID, bot=True),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "flags": body.get("flags") or 0,
            "timestamp": datetime.now(UTC).isoformat(),
            "edited_timestamp": None,
        }

    # -- the HTTP app -----------------------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application()
        r = app.router
        r.add_get("/gw", self._gateway)
        r.add_get("/api/v10/gateway", self._get_gateway)
        r.add_get("/api/v10/gateway/bot", self._get_gateway)
        r.add_get("/api/v10/users/@me", self._me)
        r.add_get("/api/v10/oauth2/applications/@me", self._application)
        r.add_put("/api/v10/applications/{app}/guilds/{guild}/commands", self._sync_commands)
        r.add_put("/api/v10/applications/{app}/commands", self._sync_commands)
        r.add_post("/api/v10/channels/{channel}/messages", self._post_message)
        r.add_patch("/api/v10/channels/{channel}/messages/{message}", self._patch_message)
        r.add_post("/api/v10/channels/{channel}/messages/{message}/threads", self._start_thread)
        r.add_post("/api/v10/interactions/{interaction}/{token}/callback", self._callback)
        r.add_post("/api/v10/webhooks/{app}/{token}", self._followup)
        r.add_patch("/api/v10/webhooks/{app}/{token}/messages/{message}", self._followup)
        return app

    @staticmethod
    def _json(data: Any, status: int = 200) -> web.Response:
        # discord.py parses a body only when Content-Type is exactly application/json
        return web.Response(
            status=status, body=json.dumps(data).encode(), headers={"Content-Type": "application/json"}
        )

    @staticmethod
    async def _body(request: web.Request) -> dict:
        if request.content_type.startswith("multipart/"):
            form = await request.post()
            return json.loads(str(form.get("payload_json") or "{}"))
        raw = await request.read()
        return json.loads(raw) if raw else {}

    async def _get_gateway(self, request: web.Request) -> web.Response:
        return self._json(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 1000,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        )

    async def _me(self, request: web.Request) -> web.Response:
        self.logins += 1
        if self.token is not None and request.headers.get("Authorization") != f"Bot {self.token}":
            return self._json({"message": "401: Unauthorized", "code": 0}, 401)
        return self._json(self._user(BOT_ID, bot=True))

    async def _application(self, request: web.Request) -> web.Response:
        return self._json(
            {
                "id": APP_ID,
                "name": "mentionbot",
                "description": "",
                "icon": None,
                "bot_public": False,
                "bot_require_code_grant": False,
                "owner": self._user("400000000000000001"),
                "verify_key": "0" * 64,
                "flags": 0,
            }
        )

    async def _sync_commands(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        commands = [
            {
                **c,
                "id": str(next(self._ids)),
                "application_id": APP_ID,
                "version": "1",
                "guild_id": self.guild_id,
            }
            for c in body
        ]
        with self._lock:
            self._commands = commands
        return self._json(commands)

    async def _post_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        message_id = str(next(self._ids))
        message = self._message_payload(message_id, request.match_info["channel"], body)
        with self._lock:
            self._messages[message_id] = message
        held = self._held
        if held is not None:
            await asyncio.get_running_loop().run_in_executor(None, held.wait)
        return self._json(message)

    async def _patch_message(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        message_id = request.match_info["message"]
        with self._lock:
            message = self._messages.get(message_id)
            if message is None:
                return self._json({"code": 10008, "message": "Unknown Message"}, 404)
            for key in ("content", "embeds", "components", "allowed_mentions", "flags"):
                if key in body:
                    message[key] = body[key] if body[key] is not None else ([] if key != "content" else "")
            message["edited_timestamp"] = datetime.now(UTC).isoformat()
            self._edits.append({"message_id": message_id, **body})
            return self._json(message)

    async def _start_thread(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        thread_id = str(next(self._ids))
        thread = {
            "id": thread_id,
            "type": 11,
            "guild_id": self.guild_id,
            "parent_id": request.match_info["channel"],
            "name": body.get("name", ""),
            "owner_id": BOT_ID,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": body.get("auto_archive_duration", 1440),
                "archive_timestamp": datetime.now(UTC).isoformat(),
                "locked": False,
            },
        }
        with self._lock:
            self._threads[thread_id] = {**thread, "message_id": request.match_info["message"]}
        return self._json(thread, 201)

    async def _callback(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        interaction_id = request.match_info["interaction"]
        with self._lock:
            self._responses.append(
                {"interaction": interaction_id, "type": body.get("type"), "data": body.get("data") or {}}
            )
        return self._json(
            {"interaction": {"id": interaction_id, "type": 3}, "resource": {"type": body.get("type")}}
        )

    async def _followup(self, request: web.Request) -> web.Response:
        body = await self._body(request)
        token = request.match_info["token"]
        interaction_id = token.removeprefix("tok-")
        with self._lock:
            self._responses.append({"interaction": interaction_id, "type": "followup", "data": body})
        return self._json(self._message_payload(str(next(self._ids)), self.channel_id, body))

    # -- the gateway ------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        # A close waits 2 s at most for the client's answer (discord.py may be reconnecting instead of answering).
        ws = web.WebSocketResponse(timeout=2.0)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 45000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            if frame["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif frame["op"] in (2, 6):
                ready = {
                    "v": 10,
                    "user": self._user(BOT_ID, bot=True),
                    "guilds": [{"id": self.guild_id, "unavailable": True}],
                    "session_id": "fake-session",
                    "resume_gateway_url": self.gateway_url,
                    "application": {"id": APP_ID, "flags": 0},
                    "private_channels": [],
                    "relationships": [],
                }
                await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": next(self._seq), "d": ready}))
                await ws.send_str(
                    json.dumps({"op": 0, "t": "GUILD_CREATE", "s": next(self._seq), "d": self._guild()})
                )
                self.identified.set()
        self._sockets.remove(ws)
        return ws
