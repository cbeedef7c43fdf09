"""The daemon's webhook endpoint (``[webhooks] listen``), for Meta's deliveries of Page feed and Instagram changes.

Served by aiohttp in its own thread, behind the operator's TLS proxy. ``GET /meta`` answers Meta's verification
handshake; ``POST /meta`` checks the delivery's signature over the raw body (a forged or unsigned one gets a 403 and
nothing is stored), turns it into mentions with the connector of its ``object`` and stores them through the
pipeline *before* answering 200, so a delivery Meta sees acknowledged is never lost. Meta repeats a delivery it
thinks failed: the mentions table's key stores each item once. The connectors' polls go on as the backfill.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

from aiohttp import web

from bot.config import WebhooksSettings
from bot.errors import ConnectorError
from bot.pipeline import Pipeline
from connectors.meta import SIGNATURE_HEADER, WEBHOOK_OBJECTS, handshake, signature_ok

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # Meta batches deliveries; a megabyte is far above what one carries


class WebhookServer:
    """An aiohttp server on ``listen``, handing verified deliveries to the pipeline."""

    def __init__(self, pipeline: Pipeline, settings: WebhooksSettings):
        self.pipeline = pipeline
        self.settings = settings
        self.received = 0  # deliveries accepted (for the log and the tests)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_get("/meta", self.verify)
        app.router.add_post("/meta", self.deliver)
        return app

    async def verify(self, request: web.Request) -> web.Response:
        secret = self.settings.verify_token.value() if self.settings.verify_token else ""
        challenge = handshake(request.query, secret)
        if challenge is None:
            log.warning("webhooks: verification request with a wrong verify token refused")
            return web.Response(status=403, text="forbidden")
        return web.Response(text=challenge)

    async def deliver(self, request: web.Request) -> web.Response:
        body = await request.read()
        secret = self.settings.app_secret.value() if self.settings.app_secret else ""
        if not signature_ok(body, request.headers.get(SIGNATURE_HEADER), secret):
            log.warning("webhooks: delivery with a missing or wrong signature refused (nothing stored)")
            return web.Response(status=403, text="forbidden")
        try:
            delivery = json.loads(body)
            name = WEBHOOK_OBJECTS[delivery["object"]]
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="not a delivery this endpoint takes")
        connector = self.pipeline.connectors.get(name)
        if connector is None:
            # Signed by Meta but for a connector not enabled here: acknowledged, or Meta retries it for days.
            log.info("webhooks: a %s delivery, but %s is not enabled; ignored", delivery["object"], name)
            return web.Response(text="EVENT_RECEIVED")
        loop = asyncio.get_running_loop()
        try:
            # In a worker thread: an Instagram @mention is read from the Graph API before it can be stored.
            mentions = await loop.run_in_executor(None, connector.webhook_mentions, delivery)  # type: ignore[attr-defined]
        except ConnectorError as exc:
            # Not acknowledged: Meta sends the delivery again (for up to 36 hours); repeats are stored once.
            log.warning(
                "webhooks: a %s delivery could not be read yet (%s); Meta will send it again", name, exc
            )
            return web.Response(status=503, text="try again")
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("webhooks: an unreadable %s delivery (%s); polling will read its items", name, exc)
            return web.Response(text="EVENT_RECEIVED")
        # Stored before the answer: the store is one SQLite connection, used under the pipeline's lock.
        new = await loop.run_in_executor(None, self.pipeline.receive, name, mentions)
        self.received += 1
        log.info("webhooks: %s delivery with %d items, %d new", name, len(mentions), len(new))
        return web.Response(text="EVENT_RECEIVED")

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> WebhookServer:
        """Listen on ``settings.listen`` in a daemon thread; ``url`` is where (port 0 picks a free one)."""
        host, _, port = self.settings.listen.rpartition(":")
        started = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = self._loop = asyncio.new_event_loop()
            try:
                self._runner = web.AppRunner(self.app(), access_log=None)
                loop.run_until_complete(self._runner.setup())
                site = web.TCPSite(self._runner, host, int(port))
                loop.run_until_complete(site.start())
                bound = self._runner.addresses[0]
                self.url = f"http://{bound[0]}:{bound[1]}"
            except BaseException as exc:
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=serve, name="mentionbot-webhooks", daemon=True)
        self._thread.start()
        started.wait(10)
        if failure:
            raise failure[0]
        log.info("webhooks: listening on %s", self.url)
        return self

    def stop(self) -> None:
        loop, runner = self._loop, self._runner
        if loop is None or runner is None:
            return

        async def close() -> None:
            await runner.cleanup()

        asyncio.run_coroutine_threadsafe(close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop = None


def start_if_configured(pipeline: Pipeline, settings: WebhooksSettings) -> Any:
    """The running webhook server when ``[webhooks] listen`` is set, else ``None``."""
    return WebhookServer(pipeline, settings).start() if settings.listen else None
